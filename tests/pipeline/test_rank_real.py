"""End-to-end ranking on the real layers: the invariants every reported site must meet.

The checks re-read the published files with geopandas and recompute eligibility and distances
independently of sitesel's own loaders, so a bug there cannot hide itself.
"""
from __future__ import annotations

import json
import math
import re
import tomllib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from sitesel.analysis.profiles import builtin_dir
from sitesel.cli import main

REGION = "AZ,NM"
RES = 500.0
PARKS = ["semiconductor_fab", "ai_datacenter", "critical_minerals"]
NEVER_AGENCIES = {"NPS", "FWS", "BIA"}
NEVER_NAME = re.compile(r"wilderness|wildlife refuge|national park|national preserve", re.I)
AGENCY_MAP = {"FS": "USFS", "BOR": "USBR"}


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    out = {}
    for park in PARKS:
        d = tmp_path_factory.mktemp(park)
        assert main(["rank", "--park", park, "--region", REGION, "--resolution", str(RES), "--quiet",
                     "--out", str(d)]) == 0
        out[park] = d
    return out


def _sites(run_dir: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(run_dir / "sites.geojson").to_crs("EPSG:5070")


def _profile(park: str) -> dict:
    return tomllib.loads((builtin_dir() / f"{park}.toml").read_text())


@pytest.fixture(scope="session")
def raw_land(shared_data):
    fl = gpd.read_file(shared_data / "federal_lands/federal_lands_coarse_usgs_natatlas.gpkg",
                       layer="federal_lands_polygons")
    fl["agency"] = fl["agency"].replace(AGENCY_MAP)
    prot = gpd.GeoDataFrame(
        [r for f in sorted((shared_data / "federal_lands/padus_park_units").glob("*.geojson"))
         for _, r in gpd.read_file(f)[["NAME", "MANNAME", "geometry"]].iterrows()], crs="EPSG:4326")
    states = gpd.read_file(shared_data / "boundaries/us_states_census_cb2016_500k.gpkg")
    region = shapely.union_all(states[states.stusps.isin(REGION.split(","))].to_crs("EPSG:5070").geometry.values)
    fl, prot = fl.to_crs("EPSG:5070"), prot.to_crs("EPSG:5070")
    fl["geometry"], prot["geometry"] = fl.geometry.make_valid(), prot.geometry.make_valid()
    return fl, prot, region


@pytest.mark.parametrize("park", PARKS)
def test_all_outputs_written(runs, park):
    names = {p.name for p in runs[park].iterdir()}
    assert {"sites.geojson", "sites.csv", "suitability.tif", "map.html", "run.json"} <= names
    assert not [n for n in names if n.startswith(".sitesel-")]  # no staging folder left behind
    run = json.loads((runs[park] / "run.json").read_text())
    assert run["park"] == park and run["stats"]["sites"] == len(_sites(runs[park])) > 0
    assert all(len(i["sha256"]) == 64 for i in run["inputs"])


@pytest.mark.parametrize("park", PARKS)
def test_sites_lie_wholly_on_eligible_federal_land_in_the_region(runs, park, raw_land):
    fl, prot, region = raw_land
    agencies = set(_profile(park)["land"]["eligible_agencies"])
    eligible = shapely.union_all(fl[fl.agency.isin(agencies - NEVER_AGENCIES)].geometry.values)
    never = shapely.union_all(np.concatenate([
        fl[fl.agency.isin(NEVER_AGENCIES)].geometry.values,
        prot[prot.NAME.fillna("").str.contains(NEVER_NAME) | prot.MANNAME.isin(NEVER_AGENCIES)].geometry.values]))
    for _, s in _sites(runs[park]).iterrows():
        g = s.geometry
        # 1 m tolerance: GeoJSON coordinates carry 6 decimals (~0.1 m) after the round trip.
        assert g.difference(eligible).area < 1.0 * g.length, f"site {s['rank']} leaves eligible land"
        assert g.intersection(never).area < 1.0 * g.length, f"site {s['rank']} touches never-eligible land"
        assert g.difference(region).area < 1.0 * g.length, f"site {s['rank']} leaves the region"


@pytest.mark.parametrize("park", PARKS)
def test_footprint_separation_and_no_overlap(runs, park):
    prof = _profile(park)
    sites = _sites(runs[park])
    acres = sites.geometry.area / 4046.8564224
    assert (acres >= prof["footprint"]["min_acres"] - 0.5).all()
    assert np.allclose(acres, sites["acres"], rtol=1e-3)
    sep = prof["footprint"]["separation_km"] * 1000
    geoms = sites.geometry.values
    for i in range(len(geoms)):
        for j in range(i + 1, len(geoms)):
            assert not geoms[i].overlaps(geoms[j])
            assert geoms[i].distance(geoms[j]) >= sep - 1.0


def _exact_distance_km(shared_data, measure: str, geoms) -> np.ndarray:
    """Independent exact distance from site polygons to the features a measure counts."""
    m = re.fullmatch(r"dist_(tx|sub)_(\d+)kv_km", measure)
    if m:
        if m.group(1) == "tx":
            f = gpd.read_file(shared_data / "grid/transmission_lines_hifld_230kv_plus.gpkg")
            f = f[f.voltage_kv >= int(m.group(2))]
        else:
            f = gpd.read_file(shared_data / "grid/substations_hifld.gpkg", layer="substations_conus")
            f = f[f.max_volt_kv_best >= int(m.group(2))]
    elif measure == "dist_interstate_km":
        f = gpd.read_file(shared_data / "transport/us_highways_tiger_generalized.gpkg")
        f = f[f.is_interstate & ~f.business_route]
    elif measure == "dist_rail_km":
        f = gpd.read_file(shared_data / "transport/ne_10m_railroads_north_america_us.gpkg")
    elif measure == "dist_water_km":
        f = gpd.GeoDataFrame(geometry=np.concatenate([gpd.read_file(shared_data / p).geometry.values for p in (
            "water/ne_10m_rivers_lake_centerlines_us.gpkg", "water/ne_10m_rivers_north_america_us.gpkg",
            "water/ne_10m_lakes_us.gpkg", "water/ne_10m_lakes_north_america_us.gpkg")]), crs="EPSG:4326")
    else:
        return None
    feats = f.to_crs("EPSG:5070").geometry.values
    tree = shapely.STRtree(feats)
    _, d = tree.query_nearest(geoms, return_distance=True, all_matches=False)
    return d / 1000.0


@pytest.mark.parametrize("park", PARKS)
def test_distances_agree_with_exact_vector_geometry(runs, park, shared_data):
    sites = _sites(runs[park])
    checked = 0
    for col in [c for c in sites.columns if re.fullmatch(r"dist_\w+_km", c)]:
        exact = _exact_distance_km(shared_data, col, sites.geometry.values)
        if exact is None:
            continue
        checked += 1
        cell_km = RES / 1000
        # The reported value is the exact distance (to within the GeoJSON precision) ...
        np.testing.assert_allclose(sites[col], exact, atol=0.01)
        # ... and the raster the surface was scored on agrees with it within one cell diagonal.
        assert np.all(np.abs(sites[f"raster_{col}"] - exact) <= cell_km * math.sqrt(2) + 1e-3), col
    assert checked >= 2


@pytest.mark.parametrize("park", PARKS)
def test_every_hard_constraint_is_met(runs, park, shared_data):
    prof = _profile(park)
    sites = _sites(runs[park])
    assert sites["constraints_passed"].all()
    for key, c in prof.get("constraints", {}).items():
        assert sites[f"ok_{key}"].all()
        exact = _exact_distance_km(shared_data, c["measure"], sites.geometry.values)
        vals = exact if exact is not None else sites[c["measure"]].to_numpy()
        if "max" in c:
            assert (vals <= c["max"] + 1e-9).all(), key
        if "min" in c:
            assert (vals >= c["min"] - 1e-9).all(), key


def test_scores_are_ranked_and_explained(runs):
    sites = _sites(runs["semiconductor_fab"])
    assert list(sites["rank"]) == list(range(1, len(sites) + 1))
    assert (np.diff(sites["score"]) <= 1e-9).all()
    assert ((sites["score"] >= 0) & (sites["score"] <= 100)).all()
    contrib = sites[[c for c in sites.columns if c.startswith("contrib_")]].sum(axis=1)
    np.testing.assert_allclose(contrib, sites["score"], atol=0.05)
    weights = sites[[c for c in sites.columns if c.startswith("weight_")]].iloc[0]
    assert weights.sum() == pytest.approx(1.0, abs=1e-3)


def test_second_run_is_byte_identical(runs, tmp_path):
    again = tmp_path / "again"
    assert main(["rank", "--park", "semiconductor_fab", "--region", REGION, "--resolution", str(RES),
                 "--quiet", "--no-cache", "--out", str(again)]) == 0
    for name in ("sites.geojson", "sites.csv"):
        assert (again / name).read_bytes() == (runs["semiconductor_fab"] / name).read_bytes(), name


def test_geojson_is_rfc7946(runs):
    doc = json.loads((runs["ai_datacenter"] / "sites.geojson").read_text())
    assert "crs" not in doc
    for feat in doc["features"]:
        for poly in (feat["geometry"]["coordinates"] if feat["geometry"]["type"] == "MultiPolygon"
                     else [feat["geometry"]["coordinates"]]):
            for k, ring in enumerate(poly):
                xy = np.asarray(ring)
                assert ((-125 < xy[:, 0]).all() and (xy[:, 0] < -100).all()
                        and (30 < xy[:, 1]).all() and (xy[:, 1] < 38).all())
                area2 = np.sum(xy[:-1, 0] * xy[1:, 1] - xy[1:, 0] * xy[:-1, 1])
                assert (area2 > 0) if k == 0 else (area2 < 0)  # exterior counter-clockwise, holes clockwise


def test_suitability_is_a_cog_with_nodata(runs):
    import rasterio

    with rasterio.open(runs["semiconductor_fab"] / "suitability.tif") as ds:
        assert ds.crs.to_epsg() == 5070 and ds.res == (RES, RES)
        assert math.isnan(ds.nodata) and ds.is_tiled and ds.overviews(1)
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG" and ds.block_shapes[0] == (256, 256)
        data = ds.read(1, masked=True)
        assert 0 <= data.min() and data.max() <= 100
