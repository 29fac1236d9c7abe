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
    from sitesel.measures import executors

    monkeypatch.setattr(executors, "MIN_PARALLEL_WORK", 0)  # the region is small: force the pool
    pooled = _run(tmp_path, "workers", "--workers", "2", "--tile-size", "128")
    assert pooled[2]["engine"]["executor"] == "processes" and untiled[2]["engine"]["executor"] == "serial"
    _same(untiled, pooled)


def test_dask_local_cluster_gives_the_same_raster_and_sites(untiled, tmp_path):
    pytest.importorskip("dask.distributed")
    on_dask = _run(tmp_path, "dask", "--dask-workers", "2", "--tile-size", "128")
    assert on_dask[2]["engine"]["executor"] == "dask"
    _same(untiled, on_dask)


def test_workers_reading_layers_ahead_give_the_same_raster_and_sites(untiled, tmp_path, monkeypatch):
    """With a disk cache, worker processes read every layer ahead while the main process checks
    inputs; the main process then takes the layers from the cache."""
    from sitesel.measures import executors

    monkeypatch.setattr(executors, "MIN_PARALLEL_WORK", 0)
    monkeypatch.setenv("SITESEL_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "ahead"
    assert main([*[a for a in RUN if a != "--no-cache"], "--workers", "2", "--out", str(out)]) == 0
    with rasterio.open(out / "suitability.tif") as ds:
        surface = ds.read(1)
    record = json.loads((out / "run.json").read_text())
    _same(untiled, (surface, (out / "sites.geojson").read_bytes(), record))
    cached = {p.name.split("-")[0] for p in (tmp_path / "cache" / "layers").glob("*.parquet")}
    assert {"federal_lands", "protected_areas", "airports", "counties", "power_plants"} <= cached
    # The layer reports (repairs, sentinels) survive the trip through the cache.
    # (The serial run also read, itself, the layers that only the workers needed here.)
    assert record["layers"] == {k: v for k, v in untiled[2]["layers"].items() if k in record["layers"]}
    assert (record["layers"]["federal_lands"]["repaired"] > 0
            and record["layers"]["protected_areas"]["invalid_rasterised"] > 0)


def test_tiling_positions_match_tile_by_tile_search(untiled):
    from sitesel.measures.engine import Tiling
    from sitesel.study.grid import Grid, tile_cells, tiles

    grid = Grid(crs="EPSG:5070", res=500.0, xmin=0.0, ymax=0.0, width=1000, height=700)
    cells = np.sort(np.random.default_rng(1).choice(grid.size, 50_000, replace=False))
    for size in (None, 96, 256, 900):
        plan = tiles(grid, size, 10)
        got = Tiling(cells, grid, plan).positions()
        for tile, pos in zip(plan, got):
            want, _ = tile_cells(cells, grid, tile)
            assert np.array_equal(np.arange(cells.size)[pos], want)


def test_tile_cells_of_any_tile_are_its_core_cells_in_order():
    """Positions and in-core indices of a tile's cells, found row by row, are those of dividing
    every cell: tiles at the edges, inside, one cell wide, and without cells."""
    from sitesel.study.grid import Grid, Tile, Window, tile_cells

    grid = Grid(crs="EPSG:5070", res=500.0, xmin=0.0, ymax=0.0, width=1000, height=700)
    cells = np.sort(np.random.default_rng(4).choice(grid.size, 60_000, replace=False))
    cells = cells[(cells % grid.width < 300) | (cells % grid.width > 310)]  # a band with no cells
    rows, cols = np.divmod(cells, grid.width)
    for core in (Window(0, 0, 100, 100), Window(250, 333, 120, 97), Window(600, 900, 100, 100),
                 Window(10, 5, 690, 1), Window(0, 300, 700, 11)):
        pos, local = tile_cells(cells, grid, Tile(0, core, core))
        inside = ((rows >= core.row) & (rows < core.row + core.height)
                  & (cols >= core.col) & (cols < core.col + core.width))
        assert np.array_equal(pos, np.flatnonzero(inside))
        assert np.array_equal(local, (rows[inside] - core.row) * core.width + cols[inside] - core.col)
    assert tile_cells(cells, grid, Tile(0, Window(0, 300, 700, 11), Window(0, 300, 700, 11)))[0].size == 0


def test_large_results_come_back_from_workers_through_files(tmp_path):
    """Values of a megabyte or more travel through a file that is gone once read; smaller ones
    through the pipe; either way the caller gets the same tuple."""
    from sitesel.measures.executors import SPILL_BYTES, spill_values, unspill_values

    big = np.arange(SPILL_BYTES // 4 + 3, dtype=np.float32)
    small = np.arange(10, dtype=np.float32)
    for values in (big, small):
        sent = spill_values(lambda v: ("m", 3, v, 0.5, 1.0), values, str(tmp_path))
        assert isinstance(sent[2], np.ndarray) == (values is small)
        got = unspill_values(sent)
        assert got[:2] == ("m", 3) and got[3:] == (0.5, 1.0)
        assert np.array_equal(got[2], values) and got[2].dtype == np.float32
    assert not list(tmp_path.iterdir())


def test_tile_cells_of_whole_rows_match_the_general_search():
    """Tiles spanning whole rows (the whole grid, or strips) skip the per-cell division: the
    positions and in-core indices must be those of the general search."""
    from sitesel.study.grid import Grid, Tile, Window, tile_cells

    grid = Grid(crs="EPSG:5070", res=500.0, xmin=0.0, ymax=0.0, width=1000, height=700)
    cells = np.sort(np.random.default_rng(3).choice(grid.size, 60_000, replace=False))
    for core in (Window(0, 0, 700, 1000), Window(250, 0, 120, 1000), Window(600, 0, 100, 1000)):
        got_pos, got_local = tile_cells(cells, grid, Tile(0, core, core))
        rows, cols = np.divmod(cells, grid.width)
        inside = (rows >= core.row) & (rows < core.row + core.height)
        assert np.array_equal(got_pos, np.flatnonzero(inside))
        assert np.array_equal(got_local, (rows[inside] - core.row) * core.width + cols[inside])
