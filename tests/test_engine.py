"""Tiling and scale-out change nothing: a real two-state run gives the same suitability raster and
the same sites untiled, in small tiles, and on a Dask LocalCluster."""
from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

from sitesel.cli import main

RUN = ["rank", "--park", "semiconductor_fab", "--region", "AZ,NM", "--resolution", "2000", "--quiet",
       "--no-cache", "--exports", "none"]


def _run(tmp_path, name: str, *extra: str):
    out = tmp_path / name
    assert main([*RUN, *extra, "--out", str(out)]) == 0
    with rasterio.open(out / "suitability.tif") as ds:
        surface = ds.read(1)
    record = json.loads((out / "run.json").read_text())
    return surface, (out / "sites.geojson").read_bytes(), record


@pytest.fixture(scope="module")
def untiled(tmp_path_factory, shared_data):
    return _run(tmp_path_factory.mktemp("untiled"), "run", "--workers", "1")


def _same(a, b) -> None:
    surface_a, sites_a, rec_a = a
    surface_b, sites_b, rec_b = b
    assert np.isfinite(surface_a).sum() > 10_000  # a real surface, not an empty one
    assert np.array_equal(surface_a, surface_b, equal_nan=True)
    assert rec_a["stats"]["sites"] == rec_b["stats"]["sites"] > 0
    assert sites_a == sites_b  # byte-identical GeoJSON: same polygons, ranks, values


def test_small_tiles_give_the_same_raster_and_sites(untiled, tmp_path):
    # 96-cell tiles with a 75-cell halo (150 km at 2 km): every measure is cut into many tiles.
    tiled = _run(tmp_path, "tiled", "--workers", "1", "--tile-size", "96")
    assert untiled[2]["engine"]["tile_size"] is None and tiled[2]["engine"]["tile_size"] == 96
    _same(untiled, tiled)


def test_worker_processes_give_the_same_raster_and_sites(untiled, tmp_path, monkeypatch):
    from sitesel import engine

    monkeypatch.setattr(engine, "MIN_PARALLEL_WORK", 0)  # the region is small: force the pool
    pooled = _run(tmp_path, "workers", "--workers", "2", "--tile-size", "128")
    assert pooled[2]["engine"]["executor"] == "processes" and untiled[2]["engine"]["executor"] == "serial"
    _same(untiled, pooled)


def test_dask_local_cluster_gives_the_same_raster_and_sites(untiled, tmp_path):
    pytest.importorskip("dask.distributed")
    on_dask = _run(tmp_path, "dask", "--dask-workers", "2", "--tile-size", "128")
    assert on_dask[2]["engine"]["executor"] == "dask"
    _same(untiled, on_dask)
