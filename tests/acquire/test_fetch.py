"""`sitesel data fetch` end to end against local HTTP servers holding copies of the real layers.

The copies are made at test time in a temporary folder, in the formats publishers use: zipped
shapefiles, GeoJSON, a CSV of points, a GeoPackage, a CSV table joined to polygons, GeoTIFFs (one
read remotely as a COG window), and an ArcGIS REST layer paged 1,000 features at a time. The
fetched data must rank exactly like the original files.
"""
from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
from _http_servers import ArcGISServer, StaticServer

from sitesel.acquire.arcgis import download_layer
from sitesel.acquire.http import RetryPolicy, download
from sitesel.cli import main
from sitesel.errors import FetchError
from sitesel.io.layers import read_vector
from sitesel.io.manifest import default_manifest_path, load_manifest

REGION = "NM"
PARKS = "semiconductor_fab,pharma,energy_solar,critical_minerals"   # together they use every measure
FAST = RetryPolicy(attempts=3, backoff=0.01, timeout=10)


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _zip_shapefile(gdf: gpd.GeoDataFrame, dest: Path) -> None:
    tmp = dest.with_suffix("")
    tmp.mkdir()
    pyogrio.write_dataframe(gdf, tmp / (dest.stem + ".shp"))
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(tmp.iterdir()):
            z.write(f, f.name)
    shutil.rmtree(tmp)


def _geojson(gdf: gpd.GeoDataFrame, dest: Path) -> None:
    # Python's float repr round-trips exactly (GDAL's GeoJSON writer keeps 15 digits).
    dest.write_text(gdf.to_json(drop_id=True), encoding="utf-8")


@pytest.fixture(scope="module")
def published(tmp_path_factory, shared_data) -> Path:
    """A publisher's folder: copies of the shared layers in several formats (never committed)."""
    root = tmp_path_factory.mktemp("published")
    sd = shared_data
    rd = lambda rel, layer=None, cols=None: gpd.read_file(sd / rel, layer=layer, columns=cols)  # noqa: E731
    _zip_shapefile(rd("boundaries/us_states_census_cb2016_500k.gpkg", "states", ["stusps", "name"]),
                   root / "states.zip")
    _geojson(rd("federal_lands/federal_lands_coarse_usgs_natatlas.gpkg", "federal_lands_polygons", ["agency", "name"]),
             root / "federal_lands.geojson")
    (root / "padus").mkdir()
    for f in sorted((sd / "federal_lands/padus_park_units").glob("*.geojson")):
        shutil.copy(f, root / "padus" / f.name)
    subs = rd("grid/substations_hifld.gpkg", "substations_conus", ["max_volt_kv_best", "name"])
    pd.DataFrame({"lon": subs.geometry.x, "lat": subs.geometry.y, "max_volt_kv_best": subs["max_volt_kv_best"],
                  "name": subs["name"]}).to_csv(root / "substations.csv", index=False)
    _geojson(rd("grid/power_plants_eia_202311.gpkg", "power_plants", ["Total_MW", "PrimSource", "Plant_Name"]),
             root / "power_plants.geojson")
    _zip_shapefile(rd("water/ne_10m_rivers_lake_centerlines_us.gpkg", cols=["name"]), root / "rivers.zip")
    _geojson(rd("water/ne_10m_rivers_north_america_us.gpkg", cols=["name"]), root / "rivers_na.geojson")
    _zip_shapefile(rd("water/ne_10m_lakes_us.gpkg", cols=["name"]), root / "lakes.zip")
    _zip_shapefile(rd("water/ne_10m_lakes_north_america_us.gpkg", cols=["name"]), root / "lakes_na.zip")
    _geojson(rd("water/wri_aqueduct40_bws_cat_us_COARSE_PLACEHOLDER.gpkg", cols=["bws_cat"]), root / "aqueduct.geojson")
    shutil.copy(sd / "transport/us_highways_tiger_generalized.gpkg", root / "highways.gpkg")
    _zip_shapefile(rd("transport/ne_10m_railroads_north_america_us.gpkg", cols=["name"]), root / "railroads.zip")
    _zip_shapefile(rd("transport/ne_10m_ports_us.gpkg", cols=["name"]), root / "ports.zip")
    _zip_shapefile(rd("transport/ne_10m_airports_us.gpkg", cols=["name", "type"]), root / "airports.zip")
    counties = rd("population/us_counties_census_cb2016_500k_population.gpkg", "counties",
                  ["geoid", "name", "pop_latest"])
    # GeoJSON, not a shapefile: a shapefile writer reorients rings, and the engine simplifies county
    # outlines (Douglas-Peucker depends on vertex order), which would move populations by a few people.
    _geojson(counties[["geoid", "name", "geometry"]].rename(columns={"geoid": "GEOID", "name": "NAME"}),
             root / "counties.geojson")
    # Census PEP layout: SUMLEV, STATE, COUNTY, POPESTIMATE2024; a state row the join must skip.
    pep = pd.DataFrame({"SUMLEV": "050", "STATE": counties["geoid"].str[:2], "COUNTY": counties["geoid"].str[2:],
                        "POPESTIMATE2024": counties["pop_latest"]})
    pep = pd.concat([pd.DataFrame({"SUMLEV": ["040"], "STATE": ["35"], "COUNTY": ["001"],
                                   "POPESTIMATE2024": [1]}), pep])
    pep.to_csv(root / "pep.csv", index=False, encoding="latin-1")
    shutil.copy(sd / "rasters/conus_dem_gridmet_4km_epsg5070.tif", root / "dem.tif")
    shutil.copy(sd / "rasters/conus_ghi_prism_soltotal_1991_2020_4km.tif", root / "ghi.tif")
    return root


@pytest.fixture(scope="module")
def servers(published, shared_data):
    lines = gpd.read_file(shared_data / "grid/transmission_lines_hifld_230kv_plus.gpkg", columns=["voltage_kv"])
    with StaticServer(published) as static, ArcGISServer(lines, "Transmission_Lines", max_record_count=1000) as arc:
        yield static, arc


def _source(sid: str, url: str, fmt: str, **extra) -> str:
    lines = [f"[sources.{sid}]", f'url = "{url}"', f'format = "{fmt}"', 'publisher = "test copy"',
             'licence = "public domain"', 'vintage = "test"']
    for k, v in extra.items():
        lines.append(f"{k} = {v}" if v[:1] in "{[" else f'{k} = "{v}"')
    return "\n".join(lines) + "\n"


def write_catalog(path: Path, published: Path, base: str, arcgis_url: str) -> Path:
    """A catalog for the local servers, with the national manifest's mapping for each layer."""
    padus = sorted(p.name for p in (published / "padus").iterdir())
    s = [
        _source("states", f"{base}/states.zip", "zip-shapefile", fields='["stusps", "name"]',
                sha256=_sha(published / "states.zip")),
        _source("fed", f"{base}/federal_lands.geojson", "geojson", fields='["agency"]'),
        *[_source(f"padus{i}", f"{base}/padus/{n}", "geojson", fields='["NAME", "MANNAME"]')
          for i, n in enumerate(padus)],
        _source("lines", arcgis_url, "arcgis", fields='["voltage_kv"]', page_size="250"),
        _source("subs", f"{base}/substations.csv", "csv", x="lon", y="lat", crs="EPSG:4326",
                fields='["max_volt_kv_best", "name"]'),
        _source("plants", f"{base}/power_plants.geojson", "geojson", fields='["Total_MW", "PrimSource", "Plant_Name"]'),
        _source("rivers", f"{base}/rivers.zip", "zip-shapefile"),
        _source("rivers_na", f"{base}/rivers_na.geojson", "geojson"),
        _source("lakes", f"{base}/lakes.zip", "zip-shapefile"),
        _source("lakes_na", f"{base}/lakes_na.zip", "zip-shapefile"),
        _source("aqueduct", f"{base}/aqueduct.geojson", "geojson", fields='["bws_cat"]'),
        _source("roads", f"{base}/highways.gpkg", "gpkg", layer="us_highways",
                sha256=_sha(published / "highways.gpkg")),
        _source("rail", f"{base}/railroads.zip", "zip-shapefile"),
        _source("ports", f"{base}/ports.zip", "zip-shapefile", sha256=_sha(published / "ports.zip")),
        _source("airports", f"{base}/airports.zip", "zip-shapefile", fields='["type"]'),
        _source("counties", f"{base}/counties.geojson", "geojson", fields='["GEOID", "NAME"]',
                join='{ source = "pep", left_on = "GEOID", right_on = ["STATE", "COUNTY"], '
                     'columns = ["POPESTIMATE2024"], filter = { SUMLEV = "050" } }'),
        _source("pep", f"{base}/pep.csv", "table", encoding="latin-1", fields='["STATE", "COUNTY", "POPESTIMATE2024"]'),
        _source("dem", f"{base}/dem.tif", "cog"),
        _source("ghi", f"{base}/ghi.tif", "geotiff", sha256=_sha(published / "ghi.tif")),
    ]
    layers = f"""
[layers.states]
sources = ["states"]
fields = {{ code = "stusps", name = "name" }}
[layers.federal_lands]
sources = ["fed"]
fields = {{ agency = "agency", unit = "name" }}
agency_map = {{ FS = "USFS", BOR = "USBR" }}
[layers.protected_areas]
sources = [{", ".join(f'"padus{i}"' for i in range(len(padus)))}]
fields = {{ unit = "NAME", agency = "MANNAME" }}
designation_from = "unit"
[layers.transmission_lines]
sources = ["lines"]
fields = {{ voltage_kv = "voltage_kv" }}
sentinels = {{ voltage_kv = [-999999] }}
[layers.substations]
sources = ["subs"]
fields = {{ max_kv = "max_volt_kv_best", name = "name" }}
sentinels = {{ max_kv = [-999999] }}
[layers.power_plants]
sources = ["plants"]
fields = {{ mw = "Total_MW", fuel = "PrimSource", name = "Plant_Name" }}
[layers.rivers]
sources = ["rivers", "rivers_na"]
fields = {{ name = "name" }}
[layers.lakes]
sources = ["lakes", "lakes_na"]
fields = {{ name = "name" }}
[layers.water_stress]
sources = ["aqueduct"]
fields = {{ bws_cat = "bws_cat" }}
sentinels = {{ bws_cat = [-9999] }}
value_map = {{ bws_cat = {{ "-1" = 4 }} }}
[layers.interstates]
sources = ["roads"]
fields = {{ name = "name" }}
where = "is_interstate = 1 AND business_route = 0"
[layers.highways]
sources = ["roads"]
fields = {{ name = "name" }}
[layers.railroads]
sources = ["rail"]
[layers.ports]
sources = ["ports"]
fields = {{ name = "name" }}
[layers.airports]
sources = ["airports"]
fields = {{ name = "name" }}
where = "type IN ('major', 'mid', 'small', 'mid and military', 'major and military')"
[layers.counties]
sources = ["counties"]
fields = {{ population = "POPESTIMATE2024", name = "NAME" }}
[layers.dem]
sources = ["dem"]
[layers.solar]
sources = ["ghi"]
scale = 0.2777777777777778
"""
    path.write_text("version = 1\n" + "\n".join(s) + layers, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def catalog(tmp_path_factory, published, servers) -> Path:
    static, arc = servers
    return write_catalog(tmp_path_factory.mktemp("cat") / "catalog.toml", published, static.url, arc.layer_url)


@pytest.fixture(scope="module")
def fetched(tmp_path_factory, catalog, servers) -> Path:
    d = tmp_path_factory.mktemp("data")
    assert main(["data", "fetch", "--catalog", str(catalog), "--dir", str(d), "--region", REGION, "--quiet"]) == 0
    return d


def test_fetch_writes_a_manifest_of_geoparquet_and_geotiff(fetched):
    m = load_manifest(fetched / "manifest.toml")
    assert set(m.layers) == set(load_manifest(default_manifest_path()).layers)
    for name, spec in m.layers.items():
        for src in spec.sources:
            assert src.path.is_file() and fetched in src.path.parents
            assert src.path.suffix == (".tif" if spec.kind == "raster" else ".parquet"), name
    assert m["interstates"].where is None  # applied while converting: GeoParquet needs no SQL


def test_fetch_pages_the_arcgis_layer_within_the_region_box(fetched, servers):
    _, arc = servers
    pages = [q for q in arc.query_log() if "resultOffset" in q]
    offsets = [int(q["resultOffset"]) for q in pages]
    assert len(pages) > 1 and offsets == list(range(0, 250 * len(pages), 250))  # the catalog's page_size
    assert all("geometry" in q for q in pages)  # the region box is sent, so only nearby lines travel
    n = len(gpd.read_parquet(fetched / "transmission_lines" / "lines.parquet"))
    assert 250 * (len(pages) - 1) < n <= 250 * len(pages)


def test_arcgis_paging_asks_no_more_than_max_record_count(tmp_path, servers, shared_data):
    _, arc = servers
    before = len(arc.log)
    log = download_layer(arc.layer_url, tmp_path / "lines.geojsonl", page_size=5000, policy=FAST, progress=False)
    assert log.max_record_count == 1000 and log.total == 10483
    assert [n for _, n in log.pages] == [1000] * 10 + [483]
    assert all(int(e["query"]["resultRecordCount"]) == 1000 for e in arc.log[before:] if "resultOffset" in e["query"])
    got = gpd.read_file(tmp_path / "lines.geojsonl")
    want = gpd.read_file(shared_data / "grid/transmission_lines_hifld_230kv_plus.gpkg", columns=["voltage_kv"])
    assert len(got) == len(want) and got.geometry.geom_equals_exact(want.geometry, 0).all()
    assert (got["voltage_kv"].to_numpy() == want["voltage_kv"].to_numpy()).all()


def _engine_bbox(manifest, region: str, resolution: float):
    """The lon/lat box the engine reads vector layers over for a rank of ``region``."""
    from sitesel.study.core import Study
    from sitesel.study.inputs import READ_MARGIN_DEG
    from sitesel.study.region import resolve_region

    study = Study.open(manifest, resolve_region(manifest, region, None), resolution, use_cache=False)
    w, s, e, n = study.grid.lonlat_bounds()
    return (w - READ_MARGIN_DEG, s - READ_MARGIN_DEG, e + READ_MARGIN_DEG, n + READ_MARGIN_DEG)


def _sorted(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    # A GeoPackage read through its R-tree comes back in index order: compare as sets.
    cols = [c for c in gdf.columns if c != "geometry"]
    c = gdf.geometry.centroid
    key = pd.DataFrame({"_x": c.x.round(3), "_y": c.y.round(3), "_l": gdf.geometry.length.round(3),
                        "_a": gdf.geometry.area.round(1)} | {k: gdf[k].astype(str) for k in cols})
    return gdf.loc[key.sort_values(list(key.columns)).index].reset_index(drop=True)


def test_fetched_layers_equal_the_originals(fetched, national):
    """Every vector layer, read the way the engine reads it for the region, has the same features."""
    mine = load_manifest(fetched / "manifest.toml")
    bbox = _engine_bbox(national, REGION, 2000)
    nonempty = 0
    for name, spec in national.layers.items():
        if spec.kind == "raster":
            continue
        a = _sorted(read_vector(spec, "EPSG:5070", bbox))
        b = _sorted(read_vector(mine[name], "EPSG:5070", bbox))
        assert len(a) == len(b), name
        nonempty += len(a) > 0
        # Shapefiles may reorient rings or drop Multi; protected areas are kept unrepaired (only
        # rasterised), and GEOS equality needs valid polygons.
        assert a.geometry.make_valid().geom_equals(b.geometry.make_valid()).all(), name
        cols = [c for c in a.columns if c != "geometry"]
        pd.testing.assert_frame_equal(pd.DataFrame(a[cols]), pd.DataFrame(b[cols]), check_dtype=False, obj=name)
    assert nonempty == 15  # every vector layer has features near New Mexico (ports on the Texas coast)


def test_fetched_rasters_are_windows_of_the_originals(fetched, national):
    mine = load_manifest(fetched / "manifest.toml")
    for name in ("dem", "solar"):
        with rasterio.open(national[name].sources[0].path) as full, rasterio.open(mine[name].sources[0].path) as win:
            assert win.crs == full.crs and win.res == full.res and win.width < full.width / 2
            col, row = ~full.transform * (win.transform.c, win.transform.f)
            assert abs(col - round(col)) < 1e-6 and abs(row - round(row)) < 1e-6  # on the source grid
            w = rasterio.windows.Window(round(col), round(row), win.width, win.height)
            assert np.array_equal(full.read(1, window=w), win.read(1), equal_nan=True), name


def test_cog_source_reads_only_the_window_over_http(fetched, servers, published):
    static, _ = servers
    ranged = [e for e in static.requests_for("dem.tif") if e["range"]]
    assert ranged and not [e for e in static.requests_for("dem.tif") if not e["range"]]
    fetched_bytes = 0
    for e in ranged:
        a, b = e["range"].split("=")[1].split("-")
        fetched_bytes += int(b) - int(a) + 1
    # New Mexico plus the 150 km pad and the read margin is well under the lower 48.
    assert fetched_bytes < 0.75 * (published / "dem.tif").stat().st_size


def test_fetched_data_ranks_identically(fetched, tmp_path):
    """The acceptance test: same sites, ranks, scores and geometry as a rank on the original files."""
    common = ["rank", "--park", PARKS, "--region", REGION, "--resolution", "2000", "--quiet", "--no-cache"]
    assert main(common + ["--out", str(tmp_path / "orig")]) == 0
    assert main(common + ["--layers", str(fetched / "manifest.toml"), "--out", str(tmp_path / "fetched")]) == 0
    for park in PARKS.split(","):
        a = (tmp_path / "orig" / park / "sites.geojson").read_bytes()
        b = (tmp_path / "fetched" / park / "sites.geojson").read_bytes()
        assert a == b, park
        assert len(gpd.read_file(tmp_path / "orig" / park / "sites.geojson")) > 0


def test_second_fetch_downloads_nothing(fetched, catalog, servers, capsys):
    static, arc = servers
    n_static, n_arc = len(static.log), len(arc.log)
    assert main(["data", "fetch", "--catalog", str(catalog), "--dir", str(fetched), "--region", REGION, "--quiet"]) == 0
    assert "fetched 0, up to date 17" in capsys.readouterr().out
    assert len(static.log) == n_static and len(arc.log) == n_arc


def test_data_list_shows_vintage_region_and_source(fetched, catalog, capsys):
    assert main(["data", "list", "--catalog", str(catalog), "--dir", str(fetched)]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("transmission_lines"))
    assert "present" in row and REGION in row and "test copy" in row and "test" in row
    assert "manifest:" in out


def test_interrupted_download_resumes_from_the_byte_offset(tmp_path, servers, published):
    static, _ = servers
    static.faults["counties.geojson"] = "drop"
    try:
        dest = download(f"{static.url}/counties.geojson", tmp_path / "counties.geojson", policy=FAST, progress=False)
    finally:
        del static.faults["counties.geojson"]
    gets = static.requests_for("counties.geojson")[-2:]
    sent = static.dropped["counties.geojson"]  # bytes the server sent before hanging up
    assert gets[0]["range"] is None and gets[1]["range"].startswith("bytes=")
    kept = int(gets[1]["range"][6:-1])  # what reached the part file (a last partial read is lost)
    assert 0.5 * sent < kept <= sent
    assert _sha(dest) == _sha(published / "counties.geojson")
    assert not (tmp_path / "counties.geojson.part").exists()


def test_corrupted_download_fails_with_one_line_and_is_not_used(tmp_path, catalog, servers, capsys):
    static, _ = servers
    static.faults["ports.zip"] = "corrupt"
    try:
        rc = main(["data", "fetch", "--catalog", str(catalog), "--dir", str(tmp_path), "--layers", "ports", "--quiet"])
    finally:
        del static.faults["ports.zip"]
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert err[-1].startswith("sitesel: error: ports: checksum mismatch for ports.zip") and "discarded" in err[-1]
    assert not (tmp_path / "raw" / "ports.zip").exists() and not list((tmp_path / "raw").glob("ports.zip*"))
    assert "ports" not in load_manifest(tmp_path / "manifest.toml").layers  # states made it; ports did not


def test_server_error_is_retried_then_reported(tmp_path, servers):
    static, _ = servers
    before = len(static.requests_for("pep.csv"))
    static.faults["pep.csv"] = "500"
    try:
        with pytest.raises(FetchError, match=r"pep.csv: gave up after 3 attempts .*500"):
            download(f"{static.url}/pep.csv", tmp_path / "pep.csv", policy=FAST, progress=False)
    finally:
        del static.faults["pep.csv"]
    assert len(static.requests_for("pep.csv")) - before == 3
    assert not (tmp_path / "pep.csv").exists()


def test_verify_catches_a_corrupted_file_and_drops_its_layer(tmp_path, catalog, capsys):
    d = tmp_path / "d"
    assert main(["data", "fetch", "--catalog", str(catalog), "--dir", str(d), "--layers", "ports,airports",
                 "--quiet"]) == 0
    assert main(["data", "verify", "--dir", str(d)]) == 0
    assert "files verified" in capsys.readouterr().out
    victim = d / "ports" / "ports.parquet"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    assert main(["data", "verify", "--dir", str(d)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "1 file(s) failed verification: ports/ports.parquet" in err[0]
    assert set(load_manifest(d / "manifest.toml").layers) == {"states", "airports"}
    # The next fetch repairs it.
    assert main(["data", "fetch", "--catalog", str(catalog), "--dir", str(d), "--layers", "ports", "--quiet"]) == 0
    assert "ports" in load_manifest(d / "manifest.toml").layers
    assert main(["data", "verify", "--dir", str(d)]) == 0


def test_data_dir_defaults_to_platformdirs_and_env(monkeypatch, tmp_path):
    from sitesel.acquire.datadir import default_data_dir

    monkeypatch.delenv("SITESEL_DATA", raising=False)
    assert "sitesel" in str(default_data_dir())
    monkeypatch.setenv("SITESEL_DATA", str(tmp_path))
    assert default_data_dir() == tmp_path


def test_unknown_layer_is_a_user_error(tmp_path, catalog, capsys):
    assert main(["data", "fetch", "--catalog", str(catalog), "--dir", str(tmp_path),
                 "--layers", "transmision_lines"]) == 2
    assert "did you mean 'transmission_lines'" in capsys.readouterr().err
