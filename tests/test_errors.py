"""Every kind of bad input gets one clear line, exit status 2, and no partial output.

Each test damages a copy of a real layer in /work/shared/data (or writes a bad profile or
argument), runs ``sitesel rank`` into a folder that already holds a previous run, and checks:
the one ``sitesel: error:`` line names the file, layer or key and says what to do; the exit
status is 2; the previous run's files are byte-identical afterwards; and no staging folder is
left beside them. Cases that are not errors (a CRS in feet, nodata holes, a region without
eligible land) check their outputs instead.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import geopandas as gpd
import pytest
import realcopies as rc
import shapely

from sitesel.cli import main

NM = ["--region", "NM", "--resolution", "2000"]
#: A small part of New Mexico, for the runs that must succeed.
NM_SMALL = ["--bbox", "-107.5,32,-106,33.5", "--resolution", "2000"]
FAB = ["rank", "--park", "semiconductor_fab"]


@pytest.fixture(scope="module")
def previous_run(tmp_path_factory, shared_data) -> Path:
    out = tmp_path_factory.mktemp("previous") / "out"
    assert main([*FAB, *NM, "--quiet", "--out", str(out)]) == 0
    return out


def fails(argv: list[str], tmp_path: Path, capsys, previous_run: Path, *fragments: str) -> str:
    """Run into a copy of a previous run with --overwrite; check the error line and the outputs."""
    out = tmp_path / "out"
    shutil.copytree(previous_run, out)
    before = rc.snapshot(out)
    capsys.readouterr()
    status = run_main([*argv, "--quiet", "--overwrite", "--out", str(out)])
    line = rc.one_error_line(capsys.readouterr().err)
    assert status == 2, line
    for f in fragments:
        assert f in line, f"{f!r} not in {line!r}"
    assert rc.snapshot(out) == before  # previous outputs untouched
    assert rc.staging_left(tmp_path) == []  # and nothing half-written beside them
    if os.environ.get("SITESEL_SHOW_MESSAGES"):  # collect the messages for review
        with open(os.environ["SITESEL_SHOW_MESSAGES"], "a") as f:
            f.write(line.replace(str(tmp_path), "<tmp>") + "\n")
    return line


def run_main(argv: list[str]) -> int:
    """``main`` as the shell sees it: argparse's own errors exit with status 2."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def succeeds(argv: list[str], tmp_path: Path, capsys) -> tuple[dict, str]:
    out = tmp_path / "ok"
    capsys.readouterr()
    assert main([*argv, "--quiet", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and "sitesel: error" not in err
    assert {"sites.geojson", "sites.csv", "suitability.tif", "map.html", "run.json"} <= {p.name for p in out.iterdir()}
    return json.loads((out / "run.json").read_text()), err


# ------------------------------------------------------------------------------------ files
# Manifest entries pointing at real files in a way that cannot work: (layer, entry, message fragments).
BAD_ENTRIES = {
    "missing_file": ("federal_lands", 'path = "federal_lands/federal_lands_coarse_usgs_natatlas.gkpg"\n'
                     'layer = "federal_lands_polygons"\nfields = { agency = "agency" }',
                     ["layer 'federal_lands'", "file not found", "natatlas.gkpg",
                      "did you mean 'federal_lands_coarse_usgs_natatlas.gpkg'", "fix its path in the layer manifest"]),
    "unsupported_format": ("power_plants", 'path = "grid/PROVENANCE.md"\nfields = { mw = "Total_MW" }',
                           ["layer 'power_plants'", "PROVENANCE.md", "unsupported format '.md'", "convert it to"]),
    "csv_without_coordinates": ("power_plants", 'path = "grid/raw/Power_Plants.csv"\nfields = { mw = "Total_MW" }',
                                ["layer 'power_plants'", "Power_Plants.csv", "needs its coordinate columns",
                                 "add x = "]),
    "layer_name_not_in_file": ("substations", 'path = "grid/substations_hifld.gpkg"\nlayer = "substations"\n'
                               'fields = { max_kv = "max_volt_kv_best" }',
                               ["layer 'substations'", "no layer 'substations'", "did you mean 'substations_conus'",
                                "fix layer = ... in the manifest"]),
    "wrong_geometry_type": ("federal_lands", 'path = "federal_lands/federal_lands_coarse_usgs_natatlas.gpkg"\n'
                            'layer = "collapsed_small_units_points"\nfields = { agency = "agency" }',
                            ["layer 'federal_lands'", "holds Point features", "needs polygons",
                             "point the manifest at a polygon layer"]),
    "filter_matching_nothing": ("interstates", 'path = "transport/us_highways_tiger_generalized.gpkg"\n'
                                'layer = "us_highways"\nwhere = "is_interstate = 7"',
                                ["layer 'interstates'", "where = 'is_interstate = 7'", "matches no feature",
                                 "fix it in the manifest"]),
    "mapped_attribute_absent": ("transmission_lines", 'path = "grid/transmission_lines_hifld_230kv_plus.gpkg"\n'
                                'fields = { voltage_kv = "VOLTAGE" }',
                                ["layer 'transmission_lines'", "no column 'VOLTAGE'", "did you mean 'voltage_kv'"]),
    "attribute_of_wrong_type": ("substations", 'path = "grid/substations_hifld.gpkg"\nlayer = "substations_conus"\n'
                                'fields = { max_kv = "max_volt_basis" }',
                                ["layer 'substations'",
                                 "column 'max_volt_basis' (mapped to 'max_kv') holds text such as",
                                 "not numbers", "map max_kv to a numeric column"]),
}


@pytest.mark.parametrize("case", sorted(BAD_ENTRIES))
def test_bad_layer_entry(tmp_path, capsys, previous_run, case):
    layer, entry, fragments = BAD_ENTRIES[case]
    m = rc.manifest(tmp_path, **{layer: entry})
    fails([*FAB, *NM, "--layers", str(m)], tmp_path, capsys, previous_run, *fragments)


def test_unreadable_file(tmp_path, previous_run):
    bad = tmp_path / "plants.gpkg"
    shutil.copy(rc.PLANTS, bad)
    bad.chmod(0o000)
    m = rc.manifest(tmp_path, power_plants=f'path = "{bad}"\nfields = {{ mw = "Total_MW", name = "Plant_Name" }}')
    out = tmp_path / "out"
    shutil.copytree(previous_run, out)
    before = rc.snapshot(out)
    done = rc.run_without_privileges([*FAB, *NM, "--quiet", "--overwrite", "--layers", str(m), "--out", str(out)])
    line = rc.one_error_line(done.stderr)
    assert done.returncode == 2, done.stderr
    assert "layer 'power_plants'" in line and str(bad) in line and "Permission denied" in line
    assert "check its permissions" in line
    assert rc.snapshot(out) == before and rc.staging_left(tmp_path) == []


@pytest.mark.parametrize("share", [0.5, 0.97])
def test_truncated_geopackage(tmp_path, capsys, previous_run, share):
    bad = rc.truncated(rc.PLANTS, tmp_path / "plants.gpkg", share)
    m = rc.manifest(tmp_path, power_plants=f'path = "{bad}"\nfields = {{ mw = "Total_MW", name = "Plant_Name" }}')
    fails([*FAB, *NM, "--layers", str(m)], tmp_path, capsys, previous_run,
          "layer 'power_plants'", str(bad), "truncated", "re-download or re-export it")


def test_corrupt_geopackage(tmp_path, capsys, previous_run):
    data = bytearray(rc.PLANTS.read_bytes())
    data[1024:1024 + 4096] = b"\xff" * 4096  # the schema's page: every read fails
    bad = tmp_path / "plants.gpkg"
    bad.write_bytes(bytes(data))
    m = rc.manifest(tmp_path, power_plants=f'path = "{bad}"\nfields = {{ mw = "Total_MW", name = "Plant_Name" }}')
    fails([*FAB, *NM, "--layers", str(m)], tmp_path, capsys, previous_run,
          "layer 'power_plants'", str(bad), "re-download or re-export it")


def test_invalid_geojson(tmp_path, capsys, previous_run):
    bad = rc.truncated(rc.PADUS_NM, tmp_path / "padus_nm.geojson", 0.5)
    m = rc.manifest(tmp_path, protected_areas=f'path = "{bad}"\nfields = {{ unit = "NAME", agency = "MANNAME" }}\n'
                                             'designation_from = "unit"')
    fails([*FAB, *NM, "--layers", str(m)], tmp_path, capsys, previous_run,
          "layer 'protected_areas'", str(bad), "corrupt or truncated", "re-download or re-export it")


def test_html_saved_as_geojson(tmp_path, capsys, previous_run):
    bad = tmp_path / "padus_nm.geojson"
    bad.write_text("<html><body>404 Not Found</body></html>")
    m = rc.manifest(tmp_path, protected_areas=f'path = "{bad}"\nfields = {{ unit = "NAME", agency = "MANNAME" }}')
    fails([*FAB, *NM, "--layers", str(m)], tmp_path, capsys, previous_run,
          "layer 'protected_areas'", "not GeoJSON", "<html>", "re-download or re-export it as GeoJSON")


def test_zip_without_shapefile(tmp_path, capsys, previous_run):
    bad = rc.zip_without_shp(tmp_path / "substations.zip")
    m = rc.manifest(tmp_path, substations=f'path = "{bad}"\nfields = {{ max_kv = "MAX_VOLT" }}')
    fails([*FAB, *NM, "--layers", str(m)], tmp_path, capsys, previous_run,
          "layer 'substations'", str(bad), "zip holds no shapefile (.shp)", "hifld_substations_conus_albers.dbf",
          "add the .shp")


def test_zipped_shapefile_is_read(tmp_path):
    from sitesel.io.layers import LayerReport, read_vector
    from sitesel.io.manifest import load_manifest

    shutil.copy(rc.SUBSTATIONS_ZIP, tmp_path / "subs.zip")
    # HIFLD points in ESRI:102003 (a .prj without an EPSG code); its only column is _rval_.
    m = load_manifest(rc.manifest(tmp_path, substations='path = "' + str(tmp_path / "subs.zip") + '"\n'
                                  'fields = { max_kv = "_rval_" }'))
    gdf = read_vector(m["substations"], "EPSG:5070", None, LayerReport())
    ref = gpd.read_file(rc.SUBSTATIONS_ZIP).to_crs(5070)
    assert len(gdf) == len(ref) == 51338
    assert gdf.geometry.distance(ref.geometry).max() < 0.01


# ------------------------------------------------------------------------------------ CRS
def test_layer_without_crs_is_refused(tmp_path, capsys, previous_run):
    shp = rc.without_prj(rc.subset(rc.SUBSTATIONS, "substations_conus"), tmp_path / "subs.shp")
    m = rc.manifest(tmp_path, substations=f'path = "{shp}"\nfields = {{ max_kv = "max_volt_k", name = "name" }}')
    fails([*FAB, *NM, "--layers", str(m)], tmp_path, capsys, previous_run,
          "layer 'substations'", str(shp), "has no CRS", 'add crs = "EPSG:..."')


def test_layer_without_crs_is_accepted_with_crs_in_manifest(tmp_path, capsys):
    shp = rc.without_prj(rc.subset(rc.SUBSTATIONS, "substations_conus"), tmp_path / "subs.shp")
    m = rc.manifest(tmp_path, substations=f'path = "{shp}"\ncrs = "EPSG:4326"\n'
                                          'fields = { max_kv = "max_volt_k", name = "name" }\n'
                                          'sentinels = { max_kv = [-999999] }')
    run, _ = succeeds([*FAB, *NM_SMALL, "--layers", str(m)], tmp_path, capsys)
    assert run["stats"]["sites"] > 0


def test_degrees_labelled_as_metres(tmp_path, capsys, previous_run):
    bad = rc.relabelled(rc.subset(rc.SUBSTATIONS, "substations_conus"), "EPSG:5070", tmp_path / "subs.gpkg")
    m = rc.manifest(tmp_path, substations=f'path = "{bad}"\nfields = {{ max_kv = "max_volt_kv_best", name = "name" }}')
    fails([*FAB, *NM, "--layers", str(m)], tmp_path, capsys, previous_run,
          "layer 'substations'", str(bad), "EPSG:5070", "look like longitude/latitude degrees",
          "fix the file's CRS (.prj) or set crs =")


def test_metres_labelled_as_degrees(tmp_path, capsys, previous_run):
    bad = rc.geojson_without_crs(rc.subset(rc.SUBSTATIONS, "substations_conus").to_crs(5070),
                                 tmp_path / "subs.geojson")
    m = rc.manifest(tmp_path, substations=f'path = "{bad}"\nfields = {{ max_kv = "max_volt_kv_best", name = "name" }}')
    fails([*FAB, *NM, "--layers", str(m)], tmp_path, capsys, previous_run,
          "layer 'substations'", str(bad), "far beyond +-180/+-90 degrees", "the data are projected",
          "fix the file's CRS (.prj) or set crs =")


def test_us_feet_labelled_as_metres(tmp_path, capsys, previous_run):
    # New Mexico Central in US survey feet (EPSG:2258), labelled as the same projection in metres.
    nm = rc.subset(rc.SUBSTATIONS, "substations_conus", box=(-107.7, 31.8, -104.9, 37.0)).to_crs(2258)
    bad = rc.relabelled(nm, "EPSG:32113", tmp_path / "subs.gpkg")
    m = rc.manifest(tmp_path, substations=f'path = "{bad}"\nfields = {{ max_kv = "max_volt_kv_best", name = "name" }}')
    fails([*FAB, *NM, "--layers", str(m)], tmp_path, capsys, previous_run,
          "layer 'substations'", "EPSG:32113", "lie outside the area where its CRS", "feet labelled as metres")


@pytest.mark.parametrize("epsg", [2258, 2903])  # NM Central (ftUS), NAD83(HARN) NM Central (ftUS)
def test_us_feet_crs_is_reprojected(tmp_path, capsys, epsg):
    subs = rc.subset(rc.SUBSTATIONS, "substations_conus", box=(-108.5, 31.0, -104.0, 35.5))
    feet = tmp_path / "subs_ft.shp"
    subs.to_crs(epsg).to_file(feet, engine="pyogrio")  # ESRI .prj with Foot_US
    m = rc.manifest(tmp_path, substations=f'path = "{feet}"\nfields = {{ max_kv = "max_volt_k", name = "name" }}\n'
                                          'sentinels = { max_kv = [-999999] }')
    run, _ = succeeds([*FAB, *NM_SMALL, "--layers", str(m)], tmp_path, capsys)
    assert run["stats"]["sites"] > 0
    # The distances the run reports agree with distances computed from the original degrees.
    sites = gpd.read_file(tmp_path / "ok" / "sites.geojson").to_crs(5070)
    pts = subs[subs["max_volt_kv_best"] >= 345].to_crs(5070)
    for _, s in sites.iterrows():
        exact = pts.distance(s.geometry).min() / 1000
        assert s["dist_sub_345kv_km"] == pytest.approx(exact, abs=0.001)


# ------------------------------------------------------------------------------------ geometry
def test_invalid_geometries_are_repaired_and_counted(tmp_path, capsys):
    fl = rc.subset(rc.FEDERAL, "federal_lands_polygons", box=(-109.0, 30.5, -104.5, 35.0))
    polys = fl.geometry.apply(lambda g: max(getattr(g, "geoms", [g]), key=lambda p: p.area))
    # Bowties: swap two neighbouring vertices of the exterior ring of 25 real polygons.
    broken = []
    for i, g in enumerate(polys):
        ring = list(g.exterior.coords)
        if i % 3 == 0 and len(ring) > 8 and len(broken) < 25:
            k = len(ring) // 2
            ring[1], ring[k] = ring[k], ring[1]
            g = shapely.Polygon(ring)
            if not g.is_valid:
                broken.append(i)
        polys.iloc[i] = g
    fl = fl.set_geometry(gpd.GeoSeries(polys.values, index=fl.index, crs=fl.crs))
    f = tmp_path / "federal.gpkg"
    fl.to_file(f, layer="federal_lands_polygons", engine="pyogrio")
    m = rc.manifest(tmp_path, federal_lands=f'path = "{f}"\nlayer = "federal_lands_polygons"\n'
                                            'fields = { agency = "agency", unit = "name" }\n'
                                            'agency_map = { FS = "USFS", BOR = "USBR" }')
    run, err = succeeds([*FAB, *NM_SMALL, "--layers", str(m)], tmp_path, capsys)
    invalid_after_projection = int((~fl.to_crs(5070).geometry.is_valid).sum())
    assert len(broken) >= 10
    assert run["layers"]["federal_lands"]["repaired"] == invalid_after_projection >= len(broken)


def test_all_geometries_empty(tmp_path, capsys, previous_run):
    subs = rc.subset(rc.SUBSTATIONS, "substations_conus")
    subs["geometry"] = shapely.Point()
    f = tmp_path / "subs.gpkg"
    subs.to_file(f, engine="pyogrio")
    m = rc.manifest(tmp_path, substations=f'path = "{f}"\nfields = {{ max_kv = "max_volt_kv_best" }}')
    fails([*FAB, *NM, "--layers", str(m)], tmp_path, capsys, previous_run,
          "layer 'substations'", str(f), f"all {len(subs):,} features have empty geometry", "re-export")


def test_empty_layer(tmp_path, capsys, previous_run):
    f = tmp_path / "plants.gpkg"
    gpd.read_file(rc.PLANTS, engine="pyogrio", max_features=5).iloc[:0].to_file(f, engine="pyogrio")
    m = rc.manifest(tmp_path, power_plants=f'path = "{f}"\nfields = {{ mw = "Total_MW" }}')
    fails([*FAB, *NM, "--layers", str(m)], tmp_path, capsys, previous_run,
          "layer 'power_plants'", str(f), "empty (0 features)")


def test_layer_not_reaching_the_region(tmp_path, capsys, previous_run):
    # The raw HIFLD table covers 19 central states only: none near Nevada.
    m = rc.manifest(tmp_path, substations='path = "grid/substations_hifld.gpkg"\n'
                                          'layer = "substations_hifld_19_central_states"\n'
                                          'fields = { max_kv = "max_volt", name = "name" }\n'
                                          'sentinels = { max_kv = [-999999] }')
    fails([*FAB, "--region", "NV", "--resolution", "4000", "--layers", str(m)], tmp_path, capsys, previous_run,
          "layer 'substations'", "substations_hifld.gpkg", "does not reach region NV", "lon -106.",
          "point the manifest at a layer that covers NV")


# ------------------------------------------------------------------------------------ attributes
def test_required_attribute_missing(tmp_path, capsys, previous_run):
    lines = rc.subset(rc.LINES).rename(columns={"voltage_kv": "kv_text"}).drop(columns=["voltage_band"])
    f = tmp_path / "lines.gpkg"
    lines.to_file(f, engine="pyogrio")
    m = rc.manifest(tmp_path, transmission_lines=f'path = "{f}"')
    fails([*FAB, *NM, "--layers", str(m)], tmp_path, capsys, previous_run,
          "layer 'transmission_lines'", "has no 'voltage_kv' column", 'fields = { voltage_kv = "COLUMN" }',
          "kv_text")


def test_all_values_missing(tmp_path, capsys, previous_run):
    # No nuclear plant in or near Wyoming: the column is empty there.
    m = rc.manifest(tmp_path, power_plants='path = "grid/power_plants_eia_202311.gpkg"\nfields = { mw = "Nuclear_MW" }')
    fails([*FAB, "--region", "WY", "--resolution", "4000", "--layers", str(m)], tmp_path, capsys, previous_run,
          "layer 'power_plants'", "column 'Nuclear_MW' (mapped to 'mw')", "values read is missing",
          "that holds values")


def test_all_values_sentinel(tmp_path, capsys, previous_run):
    subs = rc.subset(rc.SUBSTATIONS, "substations_conus")
    subs["max_volt_kv_best"] = -999999.0
    f = tmp_path / "subs.gpkg"
    subs.to_file(f, engine="pyogrio")
    m = rc.manifest(tmp_path, substations=f'path = "{f}"\nfields = {{ max_kv = "max_volt_kv_best" }}\n'
                                          'sentinels = { max_kv = [-999999] }')
    fails([*FAB, *NM, "--layers", str(m)], tmp_path, capsys, previous_run,
          "layer 'substations'", "is missing or a sentinel (-999999)", "correct sentinels")


# ------------------------------------------------------------------------------------ rasters
def test_raster_with_nodata_holes_warns_and_records(tmp_path, capsys):
    dem = rc.raster_copy(rc.DEM_5070, tmp_path / "dem.tif", hole_lonlat=(-107.5, 32.0, -106.75, 33.5))
    m = rc.manifest(tmp_path, dem=f'kind = "raster"\npath = "{dem}"')
    run, err = succeeds([*FAB, *NM_SMALL, "--layers", str(m)], tmp_path, capsys)
    warn = [ln for ln in err.splitlines() if ln.startswith("sitesel: warning: raster 'dem'")]
    assert len(warn) == 1 and "has no data for" in warn[0] and "slope_pct is missing" in warn[0]
    assert 0.3 < 1 - run["input_checks"]["coverage"]["dem"] < 0.7
    assert any("raster 'dem'" in w for w in run["input_checks"]["warnings"])


def test_raster_without_nodata_value(tmp_path, capsys, previous_run):
    dem = rc.raster_copy(rc.DEM_5070, tmp_path / "dem.tif", nodata=None, hole_lonlat=(-107.5, 32.0, -106.0, 33.5))
    m = rc.manifest(tmp_path, dem=f'kind = "raster"\npath = "{dem}"')
    fails([*FAB, *NM, "--layers", str(m)], tmp_path, capsys, previous_run,
          "raster 'dem'", str(dem), "has no nodata value", "hold -9999", "set nodata = -9999")


def test_raster_degrees_labelled_as_metres(tmp_path, capsys, previous_run):
    dem = rc.raster_copy(rc.DEM_4326, tmp_path / "dem.tif", crs="EPSG:5070")
    m = rc.manifest(tmp_path, dem=f'kind = "raster"\npath = "{dem}"')
    fails([*FAB, *NM, "--layers", str(m)], tmp_path, capsys, previous_run,
          "raster 'dem'", str(dem), "look like longitude/latitude degrees", "set crs =")


def test_raster_metres_labelled_as_degrees(tmp_path, capsys, previous_run):
    dem = rc.raster_copy(rc.DEM_5070, tmp_path / "dem.tif", crs="EPSG:4326")
    m = rc.manifest(tmp_path, dem=f'kind = "raster"\npath = "{dem}"')
    fails([*FAB, *NM, "--layers", str(m)], tmp_path, capsys, previous_run,
          "raster 'dem'", "far beyond +-180/+-90 degrees", "the data are projected")


def test_raster_without_crs(tmp_path, capsys, previous_run):
    dem = rc.raster_copy(rc.DEM_5070, tmp_path / "dem.tif", crs=None)
    m = rc.manifest(tmp_path, dem=f'kind = "raster"\npath = "{dem}"')
    fails([*FAB, *NM, "--layers", str(m)], tmp_path, capsys, previous_run,
          "raster 'dem'", str(dem), "has no CRS", 'add crs = "EPSG:...')
    m = rc.manifest(tmp_path, dem=f'kind = "raster"\npath = "{dem}"\ncrs = "EPSG:5070"')
    run, _ = succeeds([*FAB, *NM_SMALL, "--layers", str(m)], tmp_path, capsys)
    assert run["stats"]["sites"] > 0


def test_raster_not_covering_region(tmp_path, capsys, previous_run):
    dem = rc.raster_copy(rc.DEM_5070, tmp_path / "dem.tif", window_lonlat=(-97.0, 29.0, -94.0, 33.0))
    m = rc.manifest(tmp_path, dem=f'kind = "raster"\npath = "{dem}"')
    fails([*FAB, *NM, "--layers", str(m)], tmp_path, capsys, previous_run,
          "raster 'dem'", "does not cover region NM", "supply a raster that covers NM")


def test_raster_in_wrong_unit(tmp_path, capsys, previous_run):
    m = rc.manifest(tmp_path, solar='kind = "raster"\npath = "rasters/conus_ghi_prism_soltotal_1991_2020_4km.tif"')
    fails(["rank", "--park", "energy_solar", *NM, "--layers", str(m)], tmp_path, capsys, previous_run,
          "raster 'solar'", "outside the plausible 0.5..9 kWh/m2/day", "set scale = 0.2778")


# ------------------------------------------------------------------------------------ region
def test_region_without_eligible_land_is_an_empty_result(tmp_path, capsys):
    out = tmp_path / "iowa"
    assert main([*FAB, "--bbox", "-94.5,41.5,-94,42", "--resolution", "2000", "--quiet", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "semiconductor_fab: no candidate sites in bbox -94.5,41.5,-94,42: no eligible federal land" in said
    run = json.loads((out / "run.json").read_text())
    assert run["stats"]["sites"] == 0 and "no eligible federal land" in run["outcome"]
    assert json.loads((out / "sites.geojson").read_text()) == {"type": "FeatureCollection", "features": []}
    assert (out / "sites.csv").read_text().splitlines() == ["rank,score,lon,lat,state,agency,unit,acres"]
    assert (out / "map.html").stat().st_size > 0 and (out / "suitability.tif").stat().st_size > 0


@pytest.mark.parametrize("args, fragments", [
    (["--region", "ZZ"], ["unknown state code 'ZZ'", "use USPS codes such as AZ,NM"]),
    (["--region", "Arizona"], ["unknown state code 'ARIZONA'", "use AZ for Arizona"]),
    (["--region", ","], ["names no state"]),
    (["--bbox", "-100,40,-110,35"], ["bbox -100,40,-110,35 is inverted", "west < east"]),
    (["--bbox", "-30,40,-20,45"], ["does not overlap any US state", "in degrees over the US"]),
    (["--bbox", "33,-112,34,-111"], ["latitudes -112 and -111", "the order is west,south,east,north"]),
    (["--bbox", "-1200000,1500000,-1100000,1600000"], ["latitudes 1.5e+06 and 1.6e+06", "give degrees, not metres"]),
    (["--bbox", "-1200000,35,-1100000,36"], ["longitudes -1.2e+06 and -1.1e+06", "give degrees, not metres"]),
    (["--region", "AZ", "--bbox", "-100,40,-99,41"], ["does not overlap region AZ"]),
])
def test_bad_region(tmp_path, capsys, previous_run, args, fragments):
    fails([*FAB, *args, "--resolution", "2000"], tmp_path, capsys, previous_run, *fragments)


# ------------------------------------------------------------------------ impossible requests
def test_resolution_below_10_m(tmp_path, capsys, previous_run):
    fails([*FAB, "--region", "NM", "--resolution", "5"], tmp_path, capsys, previous_run,
          "resolution 5 m is below the 10 m minimum")


def test_grid_that_cannot_fit_in_memory_names_what_would(tmp_path, capsys, previous_run):
    # The lower 48 at 20 m is ~24 billion cells: refused before any layer is read, naming the
    # memory it needs and the resolution that fits the budget given.
    line = fails([*FAB, "--region", "L48", "--resolution", "20", "--memory", "8"], tmp_path, capsys, previous_run,
                 "grid of 20 m cells for L48 needs about", "more than the 8.0 GiB available",
                 "or coarser, a smaller region, or --memory on a larger machine")
    suggested = float(line.split("use --resolution ")[1].split()[0])
    assert suggested > 20
    # ... and the suggested resolution is admitted by the same check (without reading layers).
    from sitesel.io.manifest import default_manifest_path, load_manifest
    from sitesel.study.core import Study
    from sitesel.study.region import resolve_region

    manifest = load_manifest(default_manifest_path())
    region = resolve_region(manifest, "L48", None)
    study = Study.open(manifest, region, suggested, memory_gib=8)
    assert study.grid.res == suggested


# ------------------------------------------------------------------------------------ profiles
FAB_TOML = (Path(__file__).resolve().parents[1] / "data/profiles/semiconductor_fab.toml").read_text()


def _profile(tmp_path, old: str, new: str) -> Path:
    assert old in FAB_TOML
    p = tmp_path / "fab.toml"
    p.write_text(FAB_TOML.replace(old, new, 1))
    return p


@pytest.mark.parametrize("old, new, fragments", [
    ('measure = "dist_sub_345kv_km"', 'measure = "dist_sub_354kv_km"',
     ["criteria.substation_345kv: unknown measure 'dist_sub_354kv_km'", "did you mean 'dist_sub_345kv_km'"]),
    ("weight = 0.12", "wieght = 0.12", ["criteria.substation_345kv: unknown key 'wieght'", "did you mean 'weight'"]),
    ("min_acres = 500", "min_acre = 500", ["footprint: unknown key 'min_acre'", "did you mean 'min_acres'"]),
    ("[criteria.airport]", "[criterias.airport]", ["unknown key 'criterias'", "did you mean 'criteria'"]),
    ("weight = 0.12", "weight = -0.12", ["criteria.substation_345kv.weight = -0.12 is negative", "must be >= 0"]),
    ("weight = 0.12", "weight = nan", ["criteria.substation_345kv.weight: expected a finite number"]),
    ("max = 15 ", 'max = "15 km" ', ["constraints.tx_230kv.max is the text '15 km'",
                                     "write a bare number in km, e.g. 15"]),
    ("max = 15 ", 'max = "9 mi" ', ["constraints.tx_230kv.max is the text '9 mi'", "in km, e.g. 14.4841"]),
    ("max = 15 ", "max = 15000 ", ["constraints.tx_230kv.max = 15000 is outside the plausible 0..5000 km",
                                   "distances are in km"]),
    ("max = 7 ", "max = 700 ", ["constraints.slope.max = 700 is outside the plausible 0..100 %",
                                "slope is in percent"]),
    ('eligible_agencies = ["BLM"', 'eligible_agencies = ["BLN"', ["unknown agency 'BLN'", "did you mean 'BLM'"]),
    ('eligible_agencies = ["BLM"', 'eligible_agencies = ["NPS"', ["lists NPS, whose land is never eligible"]),
    ("thresholds = [230, 345, 500]", "thresholds = [345, 230, 500]",
     ["criteria.voltage_class.thresholds must be ascending"]),
    ("min_acres = 500", "min_acres = 5e9", ["footprint.min_acres = 5e+09 must be a positive number of acres"]),
])
def test_bad_profile(tmp_path, capsys, previous_run, old, new, fragments):
    p = _profile(tmp_path, old, new)
    line = fails(["rank", "--park", str(p), *NM], tmp_path, capsys, previous_run, str(p), *fragments)
    assert line.count("sitesel: error:") == 1


def test_all_zero_weights(tmp_path, capsys, previous_run):
    import re

    p = tmp_path / "fab.toml"
    p.write_text(re.sub(r"^weight = [0-9.]+", "weight = 0", FAB_TOML, flags=re.M))
    fails(["rank", "--park", str(p), *NM], tmp_path, capsys, previous_run,
          str(p), "every criterion weight is 0", "give at least one a positive weight")


def test_footprint_larger_than_any_eligible_area(tmp_path, capsys):
    p = _profile(tmp_path, "min_acres = 500", "min_acres = 9000000")
    out = tmp_path / "big"
    assert main(["rank", "--park", str(p), *NM, "--quiet", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert ("no candidate sites in NM: the footprint of 9,000,000 acres is larger than any contiguous "
            "feasible area") in said
    assert "lower footprint.min_acres" in said
    run = json.loads((out / "run.json").read_text())
    assert run["stats"]["sites"] == 0 and run["stats"]["feasible_acres"] > 0 and "footprint" in run["outcome"]


# ------------------------------------------------------------------------------------ manifest
@pytest.mark.parametrize("body, fragments", [
    ('path = "grid/power_plants_eia_202311.gpkg"\nfeilds = { mw = "Total_MW" }',
     ["layer 'power_plants': unknown key 'feilds'", "did you mean 'fields'"]),
    ('path = "grid/power_plants_eia_202311.gpkg"\ncrs = "EPSG:999999"',
     ["crs 'EPSG:999999' is not a coordinate reference system", "give an EPSG code"]),
    ('path = "grid/power_plants_eia_202311.gpkg"\nsentinels = { mw = "-999" }',
     ["sentinels.mw must be a list of numbers"]),
    ('path = 42', ["path must be text in quotes"]),
])
def test_bad_manifest(tmp_path, capsys, previous_run, body, fragments):
    m = rc.manifest(tmp_path, power_plants=body)
    fails([*FAB, *NM, "--layers", str(m)], tmp_path, capsys, previous_run, str(m), *fragments)


def test_manifest_not_toml(tmp_path, capsys, previous_run):
    m = tmp_path / "layers.toml"
    m.write_bytes(rc.PLANTS.read_bytes()[:4096])
    line = fails([*FAB, *NM, "--layers", str(m)], tmp_path, capsys, previous_run, str(m))
    assert "not valid TOML" in line or "not a text file" in line


# ------------------------------------------------------------------------------------ arguments
@pytest.mark.parametrize("argv, fragment", [
    ([*FAB, *NM, "--top", "0"], "--top must be at least 1"),
    ([*FAB, "--region", "NM", "--resolution", "-5"], "resolution must be a positive number of metres"),
    ([*FAB, "--region", "NM", "--resolution", "nan"], "resolution must be a positive number of metres"),
    ([*FAB, "--region", "NM", "--bbox", "a,b"], "bbox must be four numbers"),
    ([*FAB, "--region", "NM", "--bbox", "-107,32,nan,33"], "bbox must be four numbers"),
    (["rank", "--park", "semiconductor_fab,semiconductor_fab", *NM], "more than once"),
    (["rank", "--park", ",", *NM], "--park names no park type"),
])
def test_bad_arguments(tmp_path, capsys, previous_run, argv, fragment):
    fails(argv, tmp_path, capsys, previous_run, fragment)


# ------------------------------------------------------------------------------------ output dir
def test_output_dir_not_empty_without_overwrite(tmp_path, capsys, previous_run):
    out = tmp_path / "out"
    shutil.copytree(previous_run, out)
    before = rc.snapshot(out)
    assert main([*FAB, *NM, "--quiet", "--out", str(out)]) == 2
    line = rc.one_error_line(capsys.readouterr().err)
    assert f"output directory {out} exists and is not empty" in line and "pass --overwrite" in line
    assert rc.snapshot(out) == before and rc.staging_left(tmp_path) == []


def test_overwrite_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "thesis.txt").write_text("irreplaceable")
    assert main([*FAB, *NM, "--quiet", "--overwrite", "--out", str(out)]) == 2
    line = rc.one_error_line(capsys.readouterr().err)
    assert "holds no sitesel run (no run.json)" in line and "choose another --out" in line
    assert (out / "thesis.txt").read_text() == "irreplaceable" and rc.staging_left(tmp_path) == []


def test_output_path_is_a_file(tmp_path, capsys):
    f = tmp_path / "out"
    f.write_text("x")
    assert main([*FAB, *NM, "--quiet", "--out", str(f)]) == 2
    assert "exists and is not a directory" in rc.one_error_line(capsys.readouterr().err)
    assert f.read_text() == "x"


def test_output_dir_not_writable(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    done = rc.run_without_privileges([*FAB, *NM, "--quiet", "--out", str(locked / "out")])
    line = rc.one_error_line(done.stderr)
    assert done.returncode == 2
    assert f"cannot write to {locked} (permission denied)" in line and "choose a writable --out" in line
    assert list(locked.iterdir()) == []


def test_output_dir_itself_not_writable(tmp_path, previous_run):
    out = tmp_path / "out"
    shutil.copytree(previous_run, out)
    out.chmod(0o555)
    before = rc.snapshot(out)
    done = rc.run_without_privileges([*FAB, *NM, "--quiet", "--overwrite", "--out", str(out)])
    line = rc.one_error_line(done.stderr)
    assert done.returncode == 2
    assert f"output directory {out} is not writable" in line and "choose a writable --out" in line
    assert rc.snapshot(out) == before and rc.staging_left(tmp_path) == []


# ------------------------------------------------------------------------------------ internal errors
def test_internal_error_is_one_line_with_status_1(tmp_path, capsys, monkeypatch):
    import sitesel.analysis.ranking

    def broken(*a, **k):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(sitesel.analysis.ranking.Ranker, "rank", broken)
    out = tmp_path / "out"
    assert main([*FAB, *NM_SMALL, "--quiet", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("sitesel: warning")]
    assert lines == ["sitesel: internal error: ZeroDivisionError: a bug (a bug in sitesel: rerun with --debug for a "
                     "traceback and report it)"]
    assert not out.exists() and rc.staging_left(tmp_path) == []
    with pytest.raises(ZeroDivisionError):  # --debug shows the traceback
        main(["--debug", *FAB, *NM_SMALL, "--quiet", "--out", str(out)])
    assert not out.exists() and rc.staging_left(tmp_path) == []
