"""The loaders on the real files: sentinels, repairs, agency codes, designations, errors."""
from pathlib import Path

import numpy as np
import pytest

from sitesel.errors import LayerError, ManifestError
from sitesel.layers import LayerReport, classify_designation, read_vector
from sitesel.manifest import load_manifest


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
    prot = read_vector(national["protected_areas"], "EPSG:5070", report=(rp := LayerReport()))
    assert rp.repaired > 0 and prot.geometry.is_valid.all()
    assert {"wilderness", "wilderness_study_area", "wildlife_refuge", "national_park"} <= set(prot["designation"])


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
    gpkg = read_vector(load_manifest(Path(__file__).resolve().parents[1] / "data/manifests/national.toml")["power_plants"],
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
