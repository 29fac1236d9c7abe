"""Measures: exact kernels, and identical results however the grid is tiled or computed."""
import numpy as np
import pytest
import shapely

from sitesel.measures.catalogue import MEASURES
from sitesel.measures.discs import disc_sum, point_disc_sum
from sitesel.measures.proximity import capped_distance_km
from sitesel.measures.sampling import sample_raster
from sitesel.study.core import Study
from sitesel.study.grid import Grid, Window, burn, to_pixel_space
from sitesel.study.region import resolve_region


def test_disc_sum_matches_brute_force_exactly():
    rng = np.random.default_rng(1)
    a = np.rint(rng.random((60, 70)) * 1000 * (rng.random((60, 70)) < 0.05))
    r = 7.3
    got = disc_sum(a, r)
    yy, xx = np.mgrid[0:60, 0:70]
    for i, j in [(0, 0), (30, 35), (59, 69), (10, 60)]:
        assert got[i, j] == a[(yy - i) ** 2 + (xx - j) ** 2 <= r * r].sum()


@pytest.mark.parametrize("r", [7.3, 5.0, 100.0 / 6.0])
def test_point_disc_sum_equals_the_convolution_of_burnt_points(r):
    """Points (some outside the array, some sharing a cell) added row by row along each disc give
    the FFT convolution's sums exactly, for radii that fall on and between whole cells."""
    rng = np.random.default_rng(2)
    h, w = 50, 64
    rows, cols = rng.integers(-12, h + 12, 300), rng.integers(-12, w + 12, 300)
    vals = np.rint(rng.random(300) * 10_000)
    pad = 30
    burnt = np.zeros((h + 2 * pad, w + 2 * pad))
    np.add.at(burnt, (rows + pad, cols + pad), vals)
    want = disc_sum(burnt, r)[pad:pad + h, pad:pad + w]
    got = point_disc_sum(rows, cols, vals, (h, w), r)
    assert np.array_equal(got, want)
    assert got.sum() > 0


def test_raster_distance_is_within_half_a_cell_diagonal_of_exact():
    g = Grid("EPSG:5070", 250.0, 0.0, 50_000.0, 200, 200)
    lines = [shapely.LineString([(3000, 3000), (41000, 27000)]), shapely.LineString([(10000, 45000), (12000, 49000)])]
    mask = burn(to_pixel_space(lines, g), Window(0, 0, 200, 200), all_touched=True).astype(bool)
    d = capped_distance_km(mask, g.res, 100.0)
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, 200, 500), rng.integers(0, 200, 500)
    x, y = g.cell_centers(rows, cols)
    exact = shapely.distance(shapely.points(x, y)[:, None], np.array(lines)[None, :]).min(axis=1) / 1000
    assert np.abs(d[rows, cols] - exact).max() <= g.res * np.sqrt(2) / 2 / 1000 + 1e-9


def test_distance_over_the_part_that_matters_equals_the_whole_tile(monkeypatch):
    """The distance measure transforms only the candidates' box (less what is beyond the cap of
    every feature) grown by the cap: the values must be those of the whole padded tile."""
    from types import SimpleNamespace

    from sitesel.measures import proximity
    from sitesel.study.grid import Tile

    rng = np.random.default_rng(3)
    mask = np.zeros((300, 400), bool)
    mask[rng.integers(20, 60, 40), rng.integers(300, 380, 40)] = True  # features in one corner
    monkeypatch.setattr(proximity, "features_mask", lambda inputs, feats, window: mask)
    grid = Grid("EPSG:5070", 1000.0, 0.0, 0.0, 400, 300)
    inputs = SimpleNamespace(spec=SimpleNamespace(grid=grid, cap_km=45.0))
    core = Window(25, 30, 250, 340)
    tile = Tile(0, core, Window(0, 0, 300, 400))
    whole = capped_distance_km(mask, 1000.0, 45.0)[tile.core_in_padded].ravel()
    m = MEASURES["dist_rail_km"]
    for cells in (np.arange(core.height * core.width), np.sort(rng.choice(core.height * core.width, 3000, False)),
                  np.arange(5), np.zeros(0, np.int64)):
        got = proximity.distance_measure(m.params, inputs, tile, cells)
        assert np.array_equal(got, whole[cells])
    assert np.isfinite(whole).any() and np.isinf(whole).any()


def test_distances_beyond_the_cap_are_infinite():
    mask = np.zeros((50, 50), bool)
    mask[0, 0] = True
    d = capped_distance_km(mask, 1000.0, 20.0)
    assert d[0, 20] == 20.0 and np.isinf(d[0, 21]) and np.isinf(d[49, 49])
    assert np.isinf(capped_distance_km(np.zeros((5, 5), bool), 100.0, 100.0)).all()


def test_distances_at_chosen_cells_are_those_of_the_whole_transform():
    rng = np.random.default_rng(5)
    mask = np.zeros((120, 90), bool)
    mask[rng.integers(0, 120, 15), rng.integers(0, 90, 15)] = True
    whole = capped_distance_km(mask, 500.0, 12.0)
    rows, cols = rng.integers(0, 120, 700), rng.integers(0, 90, 700)
    at = capped_distance_km(mask, 500.0, 12.0, at=(rows, cols))
    assert at.shape == (700,) and np.array_equal(at, whole[rows, cols])
    assert np.isfinite(at).any() and np.isinf(at).any()
    none = capped_distance_km(np.zeros_like(mask), 500.0, 12.0, at=(rows[:9], cols[:9]))
    assert none.shape == (9,) and np.isinf(none).all()


def test_bilinear_sampling_hits_pixel_centres_exactly(shared_data, national):
    import rasterio

    spec = national["dem"]
    with rasterio.open(spec.sources[0].path) as ds:
        data = ds.read(1)
        r, c = np.argwhere(data > 1000)[len(np.argwhere(data > 1000)) // 2]
        x, y = ds.xy(r, c)
        want = data[r, c]
        crs = ds.crs
    got = sample_raster(spec, crs, np.array([x]), np.array([y]))
    assert got[0] == pytest.approx(want)


@pytest.fixture(scope="module")
def nm_values(national):
    """All base measures over New Mexico at 2 km, untiled in this process."""
    region = resolve_region(national, "NM", None)
    names = [n for n, m in MEASURES.items() if not m.derived]
    with Study.open(national, region, 2000, use_cache=False, workers=1) as st:
        st.prepare(names)
        return names, {n: st.values(n) for n in names}, st.candidates().cells


def test_tiled_computation_is_identical_to_untiled(national, nm_values):
    names, whole, cells = nm_values
    region = resolve_region(national, "NM", None)
    with Study.open(national, region, 2000, use_cache=False, workers=1, tile_size=96) as st:
        st.prepare(names)
        assert np.array_equal(st.candidates().cells, cells)
        for n in names:
            assert np.array_equal(st.values(n), whole[n], equal_nan=True), n
    empty = sorted(n for n in names if not np.isfinite(whole[n]).any())
    assert empty == ["dist_port_km", "dist_tx_765kv_km"]  # none within the 150 km cap of New Mexico


def test_worker_processes_give_identical_values(national, nm_values, monkeypatch):
    import pickle

    from sitesel.measures import executors

    monkeypatch.setattr(executors, "MIN_PARALLEL_WORK", 0)
    names, whole, _ = nm_values
    region = resolve_region(national, "NM", None)
    with Study.open(national, region, 2000, use_cache=False, workers=2, tile_size=128) as st:
        assert st.executor.workers == 0 and st.executor.pool is None and not st.has_workers
        st.prepare(names)
        assert isinstance(st.executor.chosen, executors.ProcessExecutor)
        assert st.executor.workers == 2 and st.has_workers and st.worker_pool() is not None
        assert st.engine_used["executor"] == "processes" and st.engine_used["workers"] == 2
        # Sent to a worker, a study keeps its plain fields and leaves its processes and values behind.
        copy = pickle.loads(pickle.dumps(st))
        assert not copy.has_workers and copy.executor.workers == 0 and copy.engine_used == st.engine_used
        assert copy.grid == st.grid and copy.layers_read_ahead == frozenset()
        for n in names:
            assert np.array_equal(st.values(n), whole[n], equal_nan=True), n


def test_dask_local_cluster_gives_identical_values(national, nm_values):
    pytest.importorskip("dask.distributed")
    from sitesel.measures import executors

    names, whole, _ = nm_values
    region = resolve_region(national, "NM", None)
    with Study.open(national, region, 2000, use_cache=False, dask_workers=2, tile_size=128) as st:
        st.prepare(names)
        assert isinstance(st.executor.chosen, executors.DaskExecutor) and st.worker_pool() is None
        for n in names:
            assert np.array_equal(st.values(n), whole[n], equal_nan=True), n


def test_disk_cache_is_reused_by_a_new_study(national, tmp_path, monkeypatch):
    monkeypatch.setenv("SITESEL_CACHE", str(tmp_path))
    region = resolve_region(national, "NM", None)
    with Study.open(national, region, 4000) as st:
        first = st.values("dist_rail_km").copy()
    files = sorted(p.name for p in tmp_path.rglob("dist_rail_km-*.npy"))
    assert files
    from sitesel.measures import engine

    def refuse(*a, **k):
        raise AssertionError("recomputed a cached measure")

    monkeypatch.setattr(engine, "compute_values", refuse)
    with Study.open(national, region, 4000) as st:
        assert np.array_equal(st.values("dist_rail_km"), first, equal_nan=True)


def test_candidate_cells_do_not_depend_on_the_mask_tiling(national, monkeypatch):
    from sitesel.study import land

    region = resolve_region(national, "AZ,NM", None)
    got = {}
    for size in (8192, 300):
        monkeypatch.setattr(land, "MASK_TILE", size)
        with Study.open(national, region, 2000, use_cache=False, workers=1) as st:
            c = st.candidates("federal")
            got[size] = (c.cells.copy(), c.agency.copy())
    cells, agency = got[300]
    assert np.all(np.diff(cells) > 0)  # sorted and unique: every look-up relies on it
    assert np.array_equal(cells, got[8192][0]) and np.array_equal(agency, got[8192][1])


def test_distance_transform_window_gives_the_values_of_the_whole_tile(national):
    """Each distance runs its transform over a window cut to the candidate cells near features and
    the features near them: on real layers and tiles, every value equals that of one transform of
    the whole padded tile."""
    from sitesel.measures.engine import plan_tiles
    from sitesel.measures.proximity import features_mask
    from sitesel.study.grid import tile_cells
    from sitesel.study.inputs import inputs_for

    region = resolve_region(national, "AZ,NM", None)
    with Study.open(national, region, 1000, use_cache=True, workers=1, tile_size=256) as st:
        cells = np.asarray(st.candidates().cells)
        spec = st.spec
        inputs = inputs_for(spec)
        checked = 0
        for name in [n for n, m in MEASURES.items() if m.is_distance]:
            for tile in plan_tiles(spec.grid, name, spec.cap_km, tile_size=256):
                _, local = tile_cells(cells, spec.grid, tile)
                got = MEASURES[name].compute(inputs, tile, local)
                mask = features_mask(inputs, MEASURES[name].params["features"], tile.padded)
                whole = capped_distance_km(mask, spec.grid.res, spec.cap_km)[tile.core_in_padded].ravel()[local]
                assert np.array_equal(got, whole), name
                checked += np.isfinite(got).sum()
        assert checked > 100_000


def test_slope_at_cells_is_the_bilinear_expression():
    """The compiled interpolation of coarse slope gives the very values of the numpy expression."""
    from sitesel.measures.local import slope_at

    rng = np.random.default_rng(5)
    slope = rng.random((40, 50)) * 30
    width, row0, col0, k, cr0, cc0 = 300, 17, 41, 8, 0, 3
    cells = np.sort(rng.choice(250 * width, 5000, replace=False))
    got = np.empty(cells.size, np.float32)
    slope_at(slope, cells, width, row0, col0, k, cr0, cc0, got)
    rows, cols = np.divmod(cells, width)
    fy = (row0 + rows + 0.5) / k - 0.5 - cr0
    fx = (col0 + cols + 0.5) / k - 0.5 - cc0
    y0, x0 = np.floor(fy).astype(np.int64), np.floor(fx).astype(np.int64)
    wy, wx = fy - y0, fx - x0
    want = (slope[y0, x0] * (1 - wy) * (1 - wx) + slope[y0, x0 + 1] * (1 - wy) * wx
            + slope[y0 + 1, x0] * wy * (1 - wx) + slope[y0 + 1, x0 + 1] * wy * wx).astype(np.float32)
    assert np.array_equal(got, want)


def test_county_index_is_burnt_once_and_shared_through_the_cache(national, tmp_path, monkeypatch):
    """The process that reads counties ahead burns the county numbers and saves them; another
    process (here: the memo cleared) maps the file instead of burning, and gets the same raster."""
    from sitesel.measures import focal
    from sitesel.study.inputs import inputs_for

    monkeypatch.setenv("SITESEL_CACHE", str(tmp_path))
    region = resolve_region(national, "AZ,NM", None)
    with Study.open(national, region, 2000, use_cache=True, workers=1) as st:
        inputs = inputs_for(st.spec)
        focal.COUNTY_INDEX.clear()
        focal.after_read(inputs, "counties")
        burnt = np.array(focal.COUNTY_INDEX.get(inputs))
        saved = list((tmp_path / "rasters").glob("county-index-*.npy"))
        assert len(saved) == 1 and burnt.shape == st.grid.shape and (burnt >= 0).mean() > 0.3
        focal.COUNTY_INDEX.clear()
        monkeypatch.setattr(focal, "burn", lambda *a, **k: pytest.fail("burnt again"))
        again = focal.COUNTY_INDEX.get(inputs)
        assert isinstance(again, np.memmap) and np.array_equal(again, burnt)

