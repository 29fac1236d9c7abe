"""Tests for the synthetic demo dataset (sitesel.demo)."""
from __future__ import annotations

import json
import os
import pathlib
import time
import tomllib

import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely

from sitesel.demo import DEMO_BOUNDS, DEMO_LABEL, DEMO_REGION, DEMO_VERSION, STAMP_NAME, make_demo

CANONICAL = {
    "states", "federal_lands", "protected_areas", "transmission_lines", "substations", "power_plants",
    "rivers", "lakes", "water_stress", "interstates", "highways", "railroads", "ports", "airports",
    "counties", "dem", "solar",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """Manifest path of one demo build shared by the read-only tests."""
    return make_demo(tmp_path_factory.mktemp("demo") / "nested" / "dir")


@pytest.fixture(scope="module")
def doc(demo: pathlib.Path) -> dict:
    return tomllib.loads(demo.read_text(encoding="utf-8"))


def _layer_path(demo: pathlib.Path, doc: dict, name: str) -> pathlib.Path:
    return demo.parent / doc["root"] / doc["layers"][name]["path"]


def _read(demo: pathlib.Path, doc: dict, name: str, **kw) -> pd.DataFrame:
    spec = doc["layers"][name]
    return pyogrio.read_dataframe(_layer_path(demo, doc, name), layer=spec.get("layer"), **kw)


def test_manifest_lists_every_canonical_layer(demo: pathlib.Path, doc: dict) -> None:
    assert demo.name == "manifest.toml" and demo.is_file()
    assert doc["root"] == "."
    assert set(doc["layers"]) == CANONICAL


def test_every_layer_exists_and_opens(demo: pathlib.Path, doc: dict) -> None:
    for name, spec in doc["layers"].items():
        path = _layer_path(demo, doc, name)
        assert path.is_file(), name
        if spec.get("kind") == "raster":
            with rasterio.open(path) as ds:
                assert ds.crs is not None and ds.nodata == -9999.0 and ds.dtypes[0] == "float32", name
                data = ds.read(1, masked=True)
                assert data.count() > 0.9 * data.size, name
        else:
            info = pyogrio.read_info(path, layer=spec.get("layer"))
            assert info["features"] > 0, name
            assert info["crs"] == "EPSG:4326", name
            for col in spec.get("fields", {}).values():
                assert col in info["fields"], (name, col)


def test_manifest_is_accepted_by_the_loader(demo: pathlib.Path) -> None:
    from sitesel.io.layers import LayerReport, read_vector
    from sitesel.io.manifest import load_manifest

    manifest = load_manifest(demo)
    fed = LayerReport()
    lands = read_vector(manifest["federal_lands"], "EPSG:5070", report=fed)
    assert fed.repaired == 2  # the two bow-ties
    assert shapely.is_valid(lands.geometry.values).all()
    assert {"USFS", "USBR", "BLM", "DOE"} <= set(lands["agency"]) and not {"FS", "BOR"} & set(lands["agency"])
    tx = LayerReport()
    lines = read_vector(manifest["transmission_lines"], "EPSG:5070", report=tx)
    assert tx.sentinels >= 2 and lines["voltage_kv"].isna().sum() == tx.sentinels
    ws = read_vector(manifest["water_stress"], "EPSG:5070")
    assert set(ws["bws_cat"].dropna()) <= {0, 1, 2, 3, 4} and ws["bws_cat"].isna().any()
    pa = read_vector(manifest["protected_areas"], "EPSG:5070")
    assert {"wilderness", "wilderness_study_area"} <= set(pa["designation"])
    states = read_vector(manifest["states"], "EPSG:4326")
    assert list(states["code"]) == [DEMO_REGION]


def test_everything_is_labelled_synthetic(demo: pathlib.Path, doc: dict) -> None:
    text = demo.read_text(encoding="utf-8")
    assert text.splitlines()[0] == f"# {DEMO_LABEL}"
    assert "SYNTHETIC" in doc["description"]
    for name, spec in doc["layers"].items():
        path = _layer_path(demo, doc, name)
        if spec.get("kind") == "raster":
            with rasterio.open(path) as ds:
                assert ds.tags()["NOTE"] == DEMO_LABEL, name
        else:
            notes = _read(demo, doc, name, columns=["note"], read_geometry=False)["note"]
            assert (notes == DEMO_LABEL).all(), name
            if path.suffix == ".gpkg":
                meta = pyogrio.read_info(path, layer=spec["layer"])["layer_metadata"]
                assert meta["DESCRIPTION"].startswith(DEMO_LABEL), name


def test_real_data_quirks_are_present(demo: pathlib.Path, doc: dict) -> None:
    lands = _read(demo, doc, "federal_lands")
    assert {"FS", "BOR", "BLM", "DOE", "DOD", "NPS", "FWS", "BIA"} <= set(lands["agency"])
    assert (~shapely.is_valid(lands.geometry.values)).sum() == 2
    # A second layer in the file means the manifest must name the polygon layer.
    assert len(pyogrio.list_layers(_layer_path(demo, doc, "federal_lands"))) == 2
    assert (_read(demo, doc, "transmission_lines")["VOLTAGE"] == -999999).any()
    assert (_read(demo, doc, "substations")["MAX_VOLT"] == -999999).any()
    assert {-1, -9999} <= set(_read(demo, doc, "water_stress")["bws_cat"])
    assert _read(demo, doc, "counties")["pop_latest"].isna().sum() >= 1
    raw = json.loads(_layer_path(demo, doc, "protected_areas").read_text(encoding="utf-8"))
    assert "crs" not in raw  # like the PAD-US extracts: GeoJSON's implicit WGS84
    with rasterio.open(_layer_path(demo, doc, "dem")) as ds:
        assert ds.crs.to_epsg() == 5070 and ds.res == (1000.0, 1000.0)
        assert (ds.read(1) == -9999).any()
    with rasterio.open(_layer_path(demo, doc, "solar")) as ds:
        assert ds.crs.to_epsg() == 4269
        ghi = ds.read(1, masked=True)
        assert 17 < ghi.min() and ghi.max() < 27  # MJ/m2/day, before the manifest's scale


def test_interstate_filter_keeps_only_mainline(demo: pathlib.Path, doc: dict) -> None:
    spec = doc["layers"]["interstates"]
    roads = _read(demo, doc, "highways")
    mainline = _read(demo, doc, "interstates", where=spec["where"])
    assert 0 < len(mainline) < roads["is_interstate"].sum()
    assert mainline["is_interstate"].all() and not mainline["business_route"].any()
    assert set(mainline["name"]) == {"I- 99", "I- 97"}
    assert roads["business_route"].sum() == 1


def test_layout_supports_ai_datacenter(demo: pathlib.Path, doc: dict) -> None:
    """Flat eligible land near 230+ kV exists, and wilderness sits inside otherwise good BLM land."""
    lands = _read(demo, doc, "federal_lands").to_crs(5070)
    lines = _read(demo, doc, "transmission_lines").to_crs(5070)
    hv = shapely.union_all(lines.geometry[lines["VOLTAGE"] >= 230].values)
    near = lands[lands["agency"].isin(["BLM", "FS", "DOE"]) & (lands.distance(hv) <= 15_000)]
    assert len(near) >= 5
    wild = _read(demo, doc, "protected_areas").to_crs(5070)
    basin = wild.geometry[wild["NAME"] == "Synthetic Basin Wilderness"].iloc[0]
    host = lands.geometry[lands["unit_name"] == "Synthetic Flats BLM Unit 2"].iloc[0]
    assert host.contains(basin) and basin.area < 0.6 * host.area
    with rasterio.open(_layer_path(demo, doc, "dem")) as ds:
        z = ds.read(1, masked=True).astype(float).filled(np.nan)
    gy, gx = np.gradient(z, 1000.0)
    slope = 100 * np.hypot(gx, gy)
    assert np.nanmean(slope < 3) > 0.6 and np.nanmean(slope > 15) > 0.03


def test_two_builds_are_identical(demo: pathlib.Path, tmp_path: pathlib.Path) -> None:
    other = make_demo(tmp_path / "again").parent
    first = demo.parent
    names = sorted(p.name for p in first.iterdir() if p.is_file())
    assert names == sorted(p.name for p in other.iterdir() if p.is_file())
    for name in names:
        a, b = first / name, other / name
        if a.suffix != ".gpkg":
            assert a.read_bytes() == b.read_bytes(), name
            continue
        # GeoPackages may embed timestamps, so compare their content layer by layer.
        for layer, _ in pyogrio.list_layers(a):
            da, db = pyogrio.read_dataframe(a, layer=layer), pyogrio.read_dataframe(b, layer=layer)
            pd.testing.assert_frame_equal(da.drop(columns="geometry"), db.drop(columns="geometry"))
            assert (shapely.to_wkb(da.geometry.values) == shapely.to_wkb(db.geometry.values)).all(), (name, layer)


def test_make_demo_is_idempotent_and_repairs(tmp_path: pathlib.Path) -> None:
    manifest = make_demo(tmp_path)
    dem = tmp_path / "dem.tif"
    before = dem.stat().st_mtime_ns
    start = time.perf_counter()
    assert make_demo(tmp_path) == manifest
    assert time.perf_counter() - start < 0.5
    assert dem.stat().st_mtime_ns == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".demo-build-")]

    # A missing file or an older DEMO_VERSION triggers a rebuild.
    dem.unlink()
    make_demo(tmp_path)
    assert dem.is_file()
    stamp = tmp_path / STAMP_NAME
    data = json.loads(stamp.read_text(encoding="utf-8"))
    data["demo_version"] = DEMO_VERSION - 1
    stamp.write_text(json.dumps(data), encoding="utf-8")
    os.utime(dem, ns=(before, before))
    make_demo(tmp_path)
    assert json.loads(stamp.read_text(encoding="utf-8"))["demo_version"] == DEMO_VERSION
    assert dem.stat().st_mtime_ns != before


def test_region_is_where_documented(demo: pathlib.Path, doc: dict) -> None:
    states = _read(demo, doc, "states")
    assert list(states["stusps"]) == [DEMO_REGION]
    assert np.allclose(states.total_bounds, DEMO_BOUNDS, atol=1e-5)
    counties = _read(demo, doc, "counties")
    # The counties tile the state: same area, no overlaps.
    union = shapely.union_all(counties.geometry.values)
    assert abs(union.area - states.geometry.iloc[0].area) < 1e-6
    assert abs(shapely.area(counties.geometry.values).sum() - union.area) < 1e-6
