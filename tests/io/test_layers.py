"""The loaders on the real files: sentinels, repairs, agency codes, designations, errors."""
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sitesel.errors import LayerError, ManifestError
from sitesel.io.attributes import classify_designation
from sitesel.io.layers import LayerReport, read_vector
from sitesel.io.manifest import load_manifest
from sitesel.io.raster import raster_info, read_raster


def _manifest(tmp_path, body: str, shared_data):
    p = tmp_path / "m.toml"
    p.write_text(f'root = "{shared_data}"\n' + body)
    return load_manifest(p)


def test_national_manifest_names_existing_files(national):
    for spec in national.layers.values():
        for src in spec.sources:
            assert src.path.exists(), src.path


def test_voltage_sentinel_becomes_missing(tmp_path, shared_data):
    m = _manifest(tmp_path, """
[layers.substations]
path = "grid/substations_hifld.gpkg"
layer = "substations_hifld_19_central_states"
fields = { max_kv = "max_volt", name = "name" }
sentinels = { max_kv = [-999999] }
""", shared_data)
    rep = LayerReport()
    gdf = read_vector(m["substations"], "EPSG:5070", report=rep)
    assert len(gdf) == 35218
    assert rep.sentinels == 8317  # PROVENANCE.md: -999999 = unknown for 8,317 points
    assert gdf["max_kv"].isna().sum() == 8317
    assert (gdf["max_kv"].dropna() > 0).all()


def test_agency_codes_are_normalised_and_invalid_polygons_repaired(national):
    rep = LayerReport()
    fl = read_vector(national["federal_lands"], "EPSG:5070", report=rep)
    assert {"USFS", "USBR", "BLM", "NPS"} <= set(fl["agency"])
    assert not {"FS", "BOR"} & set(fl["agency"])
    assert rep.repaired > 0 and fl.geometry.is_valid.all()
    prot = read_vector(national["protected_areas"], "EPSG:5070", report=(rp := LayerReport()))
    # Only rasterised: invalid units are counted, not repaired.
    assert rp.invalid_rasterised == (~prot.geometry.is_valid).sum() > 0 and rp.repaired == 0
    assert {"wilderness", "wilderness_study_area", "wildlife_refuge", "national_park"} <= set(prot["designation"])


def test_unrepaired_exclusion_polygons_rasterise_as_repaired_ones(national):
    """Protected areas are only rasterised, so they are not repaired: their masks must be those of
    the repaired polygons (even-odd fill, parts burnt one by one)."""
    import shapely
    from rasterio import features

    from sitesel.study.grid import grid_for_bounds

    prot = read_vector(national["protected_areas"], "EPSG:5070")
    bad = prot.geometry.values[~prot.geometry.is_valid.to_numpy()]
    fixed = shapely.make_valid(bad, method="structure", keep_collapsed=False)
    grid = grid_for_bounds(tuple(shapely.total_bounds(bad)), "EPSG:5070", 500)
    masks = {}
    for name, geoms in (("as drawn", bad), ("repaired", fixed)):
        for touched in (False, True):
            masks[name, touched] = features.rasterize(((g, 1) for g in geoms if not g.is_empty), out_shape=grid.shape,
                                                      transform=grid.transform, all_touched=touched).astype(bool)
    assert masks["as drawn", False].sum() > 500_000
    assert np.array_equal(masks["as drawn", False], masks["repaired", False])
    # All-touched: a few boundary cells of collapsed slivers more, never fewer (conservative).
    assert not (masks["repaired", True] & ~masks["as drawn", True]).any()
    assert (masks["as drawn", True] & ~masks["repaired", True]).sum() <= 10


def test_water_stress_sentinel_and_arid_mapping(national):
    ws = read_vector(national["water_stress"], "EPSG:5070")
    vals = set(ws["bws_cat"].dropna().unique())
    assert vals <= {0.0, 1.0, 2.0, 3.0, 4.0}
    assert ws["bws_cat"].isna().sum() == 190  # the -9999 "No Data" basins


@pytest.mark.parametrize("text, want", [
    ("Black Rock Desert Wilderness", "wilderness"), ("WSA", "wilderness_study_area"),
    ("Sevilleta National Wildlife Refuge", "wildlife_refuge"), ("Carlsbad Caverns National Park", "national_park"),
    ("Some Recreation Area", "other"), (None, None),
])
def test_designations(text, want):
    assert classify_designation(text) == want


def test_missing_column_is_named(tmp_path, shared_data):
    m = _manifest(tmp_path, """
[layers.transmission_lines]
path = "grid/transmission_lines_hifld_230kv_plus.gpkg"
layer = "transmission_lines"
fields = { voltage_kv = "VOLTAGE" }
""", shared_data)
    with pytest.raises(LayerError, match="no column 'VOLTAGE'"):
        read_vector(m["transmission_lines"], "EPSG:5070")


def test_unknown_layer_name_gets_a_suggestion(tmp_path, shared_data):
    with pytest.raises(ManifestError, match="did you mean 'substations'"):
        _manifest(tmp_path, '[layers.substation]\npath = "x.gpkg"\n', shared_data)


def test_csv_points_with_x_y_columns_read_like_the_geopackage(tmp_path, shared_data):
    """The EIA power-plant CSV (X/Y columns, UTF-8 BOM) loads through x/y keys in the manifest."""
    m = _manifest(tmp_path, """
[layers.power_plants]
path = "grid/raw/Power_Plants.csv"
x = "X"
y = "Y"
fields = { mw = "Total_MW", fuel = "PrimSource", name = "Plant_Name" }
""", shared_data)
    bbox = (-109.1, 31.3, -103.0, 37.0)
    csv = read_vector(m["power_plants"], "EPSG:5070", bbox)
    gpkg = read_vector(load_manifest(Path(__file__).resolve().parents[2]
                                     / "data/manifests/national.toml")["power_plants"],
                       "EPSG:5070", bbox)
    assert len(csv) > 50 and csv.crs == gpkg.crs
    assert np.isclose(csv["mw"].sum(), gpkg["mw"].sum(), rtol=1e-6)
    assert csv["mw"].dtype == np.float64 and csv["name"].notna().all()
    assert set(csv["fuel"]) == set(gpkg["fuel"])


def test_manifest_rejects_half_of_x_y(tmp_path, shared_data):
    with pytest.raises(ManifestError, match="give both x and y"):
        _manifest(tmp_path, '[layers.substations]\npath = "a.csv"\nx = "lon"\n', shared_data)
    with pytest.raises(ManifestError, match="x/y columns make points"):
        _manifest(tmp_path, '[layers.rivers]\npath = "a.csv"\nx = "lon"\ny = "lat"\n', shared_data)


def test_zipped_shapefile_and_geoparquet_read_like_the_original(tmp_path, shared_data):
    """A HIFLD-style zipped shapefile, and a GeoParquet copy, give the same substations."""
    import geopandas as gpd

    body = """
[layers.substations]
path = "{path}"
fields = {{ max_kv = "_rval_" }}
"""
    zipped = _manifest(tmp_path, body.format(path="grid/raw/hifld_substations_conus_albers.zip"), shared_data)
    gdf = gpd.read_file(shared_data / "grid/raw/hifld_substations_conus_albers.zip")
    gdf.to_parquet(tmp_path / "subs.parquet")
    parquet = _manifest(tmp_path, body.format(path=str(tmp_path / "subs.parquet")), shared_data)
    bbox = (-106.0, 35.0, -104.0, 36.5)
    a = read_vector(zipped["substations"], "EPSG:5070", bbox)
    b = read_vector(parquet["substations"], "EPSG:5070", bbox)
    assert len(a) == len(b) > 10
    assert a.geometry.geom_equals_exact(b.geometry, 1e-6).all() and (a["max_kv"] == b["max_kv"]).all()
# ------------------------------------------------------------------ checks on copies of real files
import geopandas as gpd  # noqa: E402
import realcopies as rc  # noqa: E402
import shapely  # noqa: E402


def _spec(tmp_path, name, body):
    return load_manifest(rc.manifest(tmp_path, **{name: body}))[name]


AZ_CENTRAL, NM_CENTRAL = (-113.3, 31.4, -110.5, 37.0), (-107.7, 31.8, -104.9, 37.0)


@pytest.mark.parametrize("epsg, unit, box", [(2223, "foot", AZ_CENTRAL), (2868, "foot", AZ_CENTRAL),
                                             (2258, "US survey foot", NM_CENTRAL)])
def test_feet_crs_is_reprojected_exactly(tmp_path, epsg, unit, box):
    from pyproj import CRS

    assert CRS.from_epsg(epsg).axis_info[0].unit_name == unit
    subs = rc.subset(rc.SUBSTATIONS, "substations_conus", box=box)
    f = tmp_path / "subs.gpkg"
    subs.to_crs(epsg).to_file(f, engine="pyogrio")
    gdf = read_vector(_spec(tmp_path, "substations", f'path = "{f}"\nfields = {{ max_kv = "max_volt_kv_best" }}'),
                      "EPSG:5070")
    ref = subs.to_crs(5070)
    assert len(gdf) == len(ref)
    # Feet read as metres would be off by hundreds of km; US vs international feet by ~1 m.
    assert gdf.geometry.distance(ref.geometry.reset_index(drop=True)).max() < 0.01


def test_crs_from_manifest_when_the_file_has_none(tmp_path):
    subs = rc.subset(rc.SUBSTATIONS, "substations_conus")
    shp = rc.without_prj(subs, tmp_path / "subs.shp")
    with pytest.raises(LayerError, match="has no CRS"):
        read_vector(_spec(tmp_path, "substations", f'path = "{shp}"\n'
                                                   'fields = { max_kv = "max_volt_k" }'), "EPSG:5070")
    gdf = read_vector(_spec(tmp_path, "substations", f'path = "{shp}"\ncrs = "EPSG:4326"\n'
                                                     'fields = { max_kv = "max_volt_k" }'), "EPSG:5070")
    assert gdf.geometry.distance(subs.to_crs(5070).geometry.reset_index(drop=True)).max() < 0.01


def test_some_empty_geometries_are_dropped_and_counted(tmp_path):
    subs = rc.subset(rc.SUBSTATIONS, "substations_conus")
    subs.loc[subs.index[::10], "geometry"] = shapely.Point()
    f = tmp_path / "subs.gpkg"
    subs.to_file(f, engine="pyogrio")
    rep = LayerReport()
    gdf = read_vector(_spec(tmp_path, "substations", f'path = "{f}"\nfields = {{ max_kv = "max_volt_kv_best" }}'),
                      "EPSG:5070", report=rep)
    emptied = len(subs.index[::10])
    assert rep.dropped_empty == emptied and len(gdf) == len(subs) - emptied


def test_features_of_the_wrong_type_are_dropped_and_counted(tmp_path):
    subs = rc.subset(rc.SUBSTATIONS, "substations_conus")[["max_volt_kv_best", "geometry"]]
    lines = rc.subset(rc.LINES).rename(columns={"voltage_kv": "max_volt_kv_best"})[["max_volt_kv_best", "geometry"]]
    mixed = gpd.GeoDataFrame(pd.concat([subs, lines.head(40)], ignore_index=True), crs=4326)
    f = tmp_path / "mixed.geojson"
    mixed.to_file(f, driver="GeoJSON", engine="pyogrio")
    rep = LayerReport()
    gdf = read_vector(_spec(tmp_path, "substations", f'path = "{f}"\nfields = {{ max_kv = "max_volt_kv_best" }}'),
                      "EPSG:5070", report=rep)
    assert rep.dropped_wrong_type == 40 and len(gdf) == len(subs) and set(gdf.geom_type) == {"Point"}


def test_invalid_polygons_are_repaired_and_counted(tmp_path):
    fl = rc.subset(rc.FEDERAL, "federal_lands_polygons", box=(-109.0, 30.5, -104.5, 35.0))
    geoms = list(fl.geometry)
    for i in range(0, len(geoms), 4):  # a bowtie in every fourth polygon
        g = max(getattr(geoms[i], "geoms", [geoms[i]]), key=lambda p: p.area)
        ring = list(g.exterior.coords)
        k = len(ring) // 2
        ring[1], ring[k] = ring[k], ring[1]
        geoms[i] = shapely.Polygon(ring)
    fl = fl.set_geometry(gpd.GeoSeries(geoms, index=fl.index, crs=fl.crs))
    f = tmp_path / "fl.gpkg"
    fl.to_file(f, engine="pyogrio")
    rep = LayerReport()
    gdf = read_vector(_spec(tmp_path, "federal_lands", f'path = "{f}"\nfields = {{ agency = "agency" }}'),
                      "EPSG:5070", report=rep)
    expected = int((~fl.to_crs(5070).geometry.is_valid).sum())
    assert expected >= 10 and rep.repaired == expected
    assert gdf.geometry.is_valid.all() and set(gdf.geom_type) <= {"Polygon", "MultiPolygon"}


def test_some_non_numbers_are_counted(tmp_path):
    subs = rc.subset(rc.SUBSTATIONS, "substations_conus")
    subs["kv_text"] = subs["max_volt_kv_best"].astype(object)
    subs.loc[subs.index[:7], "kv_text"] = "unknown"
    f = tmp_path / "subs.gpkg"
    subs.to_file(f, engine="pyogrio")
    rep = LayerReport()
    gdf = read_vector(_spec(tmp_path, "substations", f'path = "{f}"\nfields = {{ max_kv = "kv_text" }}'),
                      "EPSG:5070", report=rep)
    gone = subs["max_volt_kv_best"].isna().to_numpy().copy()
    gone[:7] = True
    assert rep.non_numeric == 7 and gdf["max_kv"].isna().sum() == gone.sum()


@pytest.mark.parametrize("share", [0.3, 0.9])
def test_truncated_tiff(tmp_path, share):
    dem = rc.truncated(rc.DEM_5070, tmp_path / "dem.tif", share)
    spec = _spec(tmp_path, "dem", f'kind = "raster"\npath = "{dem}"')
    with pytest.raises(LayerError, match=r"raster 'dem' .*cannot read the file: the file is corrupt or truncated"):
        from affine import Affine

        raster_info(spec)
        read_raster(spec, "EPSG:5070", Affine(4000, 0, -2896000, 0, -4000, 3260000), (760, 1454))


def test_raster_band_that_does_not_exist(tmp_path):
    spec = _spec(tmp_path, "dem", f'kind = "raster"\npath = "{rc.DEM_5070}"\nband = 2')
    with pytest.raises(LayerError, match=r"has 1 band\(s\), but the manifest asks for band = 2"):
        raster_info(spec)


def test_points_saved_as_a_gpkg_extension_are_not_a_geopackage(tmp_path):
    f = tmp_path / "subs.gpkg"
    shutil.copy(rc.PADUS_NM, f)
    with pytest.raises(LayerError, match="not a GeoPackage"):
        read_vector(_spec(tmp_path, "substations", f'path = "{f}"'), "EPSG:5070")


def test_damaged_prj_is_a_clear_error(tmp_path):
    # Found by the fuzzer: a .prj whose degree unit lost its value ("0[]174532925199433").
    shp = tmp_path / "subs.shp"
    rc.subset(rc.SUBSTATIONS, "substations_conus").to_file(shp, engine="pyogrio")
    prj = shp.with_suffix(".prj")
    prj.write_text(prj.read_text().replace("0.0174532925199433", "0[]174532925199433"))
    with pytest.raises(LayerError, match=r"its CRS .* cannot be used .*fix the file's CRS \(\.prj\)"):
        read_vector(_spec(tmp_path, "substations", f'path = "{shp}"\nfields = {{ max_kv = "max_volt_k" }}'),
                    "EPSG:5070", rc.NM_BOX)
