"""Site delineation (sitesel.analysis.sites) on small hand-made grids."""
from __future__ import annotations

import math

import numpy as np
import pytest

from sitesel.analysis import sites as sites_mod
from sitesel.analysis.sites import OVERSAMPLE, RawSite, cells_needed, delineate, site_polygon
from sitesel.study.grid import Grid

RES = 100.0  # metres: a cell is 2.47 acres


def grid(height: int, width: int, res: float = RES) -> Grid:
    return Grid("EPSG:5070", res=res, xmin=0.0, ymax=height * res, width=width, height=height)


def run(feasible: np.ndarray, score: np.ndarray, need: int, sep_km: float, top: int = 10):
    """Delineate on a boolean ``feasible`` grid with per-cell ``score``; footprint ``need`` cells.

    Returns (sites as lists of flat grid indices, stats, the raw sites, cells, scores).
    """
    g = grid(*feasible.shape)
    cells = np.flatnonzero(feasible).astype(np.int64)
    scores = np.asarray(score, dtype=np.float32).ravel()[cells]
    raw, stats = delineate(cells, scores, g, need * g.cell_acres, sep_km, top)
    return [sorted(cells[s.positions].tolist()) for s in raw], stats, raw, cells, scores


def rook_connected(flat: list[int], width: int) -> bool:
    todo, seen = [flat[0]], {flat[0]}
    members = set(flat)
    while todo:
        r, c = divmod(todo.pop(), width)
        for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            f = rr * width + cc
            if 0 <= cc < width and f in members and f not in seen:
                seen.add(f)
                todo.append(f)
    return seen == members


def min_distance_cells(a: list[int], b: list[int], width: int) -> float:
    ra, ca = np.divmod(np.array(a), width)
    rb, cb = np.divmod(np.array(b), width)
    return float(np.sqrt((ra[:, None] - rb[None]) ** 2 + (ca[:, None] - cb[None]) ** 2).min())


# -- cells_needed ----------------------------------------------------------------------------------
def test_cells_needed_rounds_up():
    g = grid(1, 1)
    assert g.cell_acres == pytest.approx(2.4710538)
    assert cells_needed(10, g) == 5  # 4.05 cells
    assert cells_needed(2 * g.cell_acres + 1e-6, g) == 3


def test_cells_needed_whole_cells_are_exact():
    for res in (30.0, 100.0, 250.0, 1000.0):
        g = grid(1, 1, res)
        for n in (1, 2, 7, 40, 1234):
            assert cells_needed(n * g.cell_acres, g) == n  # no extra cell from floating-point noise


def test_cells_needed_at_least_one():
    g = grid(1, 1)
    assert cells_needed(0.0, g) == 1
    assert cells_needed(1e-6, g) == 1


# -- one block -----------------------------------------------------------------------------------
def test_single_block_yields_a_site_of_the_footprint():
    feas = np.zeros((12, 12), bool)
    feas[2:9, 3:10] = True  # 49 cells
    score = np.random.default_rng(1).random(feas.shape)
    found, stats, raw, _, _ = run(feas, score, need=20, sep_km=5.0)  # 5 km: one site per block
    assert len(found) == 1
    site = found[0]
    assert len(site) >= 20 and len(site) == 20  # exactly the footprint
    assert all(feas.ravel()[site])
    assert rook_connected(site, 12)
    assert stats == {"seeds_tried": 1, "too_small": 0}
    assert isinstance(raw[0], RawSite)


def test_site_is_compact_on_uniform_scores():
    feas = np.ones((30, 30), bool)
    found, _, _, _, _ = run(feas, np.full(feas.shape, 0.5), need=25, sep_km=10.0)
    rows, cols = np.divmod(np.array(found[0]), 30)
    assert np.ptp(rows) + 1 <= 7 and np.ptp(cols) + 1 <= 7  # a 25-cell blob, not a strip


def test_footprint_larger_than_the_block_gives_no_site():
    feas = np.zeros((10, 10), bool)
    feas[2:5, 2:5] = True  # 9 cells
    found, stats, _, _, _ = run(feas, np.ones(feas.shape), need=10, sep_km=0.0)
    assert found == []
    assert stats == {"seeds_tried": 1, "too_small": 1}  # the whole patch is tried at once


def test_too_small_patches_yield_no_site_but_big_ones_do():
    feas = np.zeros((20, 20), bool)
    score = np.zeros(feas.shape)
    # three small patches (3 cells each, better scores) and one of 16
    for r, c in ((1, 1), (1, 10), (10, 1)):
        feas[r, c:c + 3] = True
        score[r, c:c + 3] = 0.9
    feas[12:16, 12:16] = True
    score[12:16, 12:16] = 0.5
    found, stats, _, _, _ = run(feas, score, need=8, sep_km=0.5)  # the rest of the block is blocked
    assert len(found) == 1 and all(12 <= f // 20 < 16 and 12 <= f % 20 < 16 for f in found[0])
    assert stats["too_small"] == 3
    assert stats["seeds_tried"] == 4


def test_diagonal_contact_does_not_connect():
    # Two 2x2 blocks touching only at a corner: not one patch of 8.
    feas = np.zeros((6, 6), bool)
    feas[0:2, 0:2] = True
    feas[2:4, 2:4] = True
    found, stats, _, _, _ = run(feas, np.ones(feas.shape), need=5, sep_km=0.0)
    assert found == []
    assert stats["too_small"] == 2


# -- two blocks and separation -------------------------------------------------------------------
def two_blocks(gap: int, width: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Two 4-row blocks ``width`` columns wide, ``gap`` empty columns between them."""
    w = 2 * width + gap + 2
    feas = np.zeros((6, w), bool)
    feas[1:5, 1:1 + width] = True
    feas[1:5, 1 + width + gap:1 + 2 * width + gap] = True
    score = np.linspace(0.2, 0.9, feas.size).reshape(feas.shape)
    return feas, score


def test_blocks_farther_apart_than_the_separation_give_two_sites():
    # 1 km at 100 m is 10 cells (+ a diagonal): a gap of 20 cells is well clear.
    feas, score = two_blocks(gap=20)
    found, _, _, _, _ = run(feas, score, need=16, sep_km=1.0)
    assert len(found) == 2
    assert min_distance_cells(found[0], found[1], feas.shape[1]) >= 1.0 * 1000 / RES


def test_blocks_closer_than_the_separation_give_one_site():
    feas, score = two_blocks(gap=5)
    found, stats, _, _, _ = run(feas, score, need=16, sep_km=1.0)
    assert len(found) == 1
    # the better block (scores rise to the right) wins; the other is blocked, never tried
    assert min(f % feas.shape[1] for f in found[0]) > 5
    assert stats["seeds_tried"] == 1


@pytest.mark.parametrize("sep_km", [0.0, 0.3, 0.75])
def test_sites_never_overlap_and_keep_their_distance(sep_km):
    feas = np.ones((40, 40), bool)
    feas[10:12, :] = False
    feas[:, 25] = False
    score = np.random.default_rng(7).random(feas.shape)
    found, _, raw, _, _ = run(feas, score, need=12, sep_km=sep_km, top=100)
    assert len(found) > 5
    flat = [f for s in found for f in s]
    assert len(flat) == len(set(flat))  # no cell in two sites
    positions = np.concatenate([s.positions for s in raw])
    assert np.unique(positions).size == positions.size
    limit = sep_km * 1000 / RES + math.sqrt(2)
    for i in range(len(found)):
        assert len(found[i]) == 12 and rook_connected(found[i], 40)
        for j in range(i):
            assert min_distance_cells(found[i], found[j], 40) >= limit - 1e-6


# -- seeds ---------------------------------------------------------------------------------------
def test_seeds_are_taken_best_score_first():
    feas = np.ones((30, 30), bool)
    score = np.random.default_rng(3).random(feas.shape)
    found, _, raw, cells, scores = run(feas, score, need=9, sep_km=0.2, top=100)
    seeds = [s.seed_score for s in raw]
    assert seeds == sorted(seeds, reverse=True)
    assert seeds[0] == pytest.approx(float(scores.max()))
    assert int(np.argmax(score)) in found[0]  # the best cell seeds the first site
    for s in raw:  # a seed is the best cell of its own site
        assert s.seed_score == pytest.approx(float(scores[s.positions].max()))


def test_best_block_first_even_when_it_is_last_in_grid_order():
    feas, score = two_blocks(gap=20)
    score = score[:, ::-1].copy()  # now the left block is the better
    found, _, raw, _, _ = run(feas, score, need=16, sep_km=1.0)
    assert max(f % feas.shape[1] for f in found[0]) < 6
    assert raw[0].seed_score > raw[1].seed_score


def test_equal_scores_seed_in_grid_order():
    feas = np.zeros((10, 30), bool)
    feas[2:6, 2:6] = True
    feas[2:6, 20:24] = True
    found, _, _, _, _ = run(feas, np.full(feas.shape, 0.5), need=16, sep_km=0.5)
    assert len(found) == 2
    assert min(found[0]) == 2 * 30 + 2  # the first feasible cell in grid order seeded it


def test_top_caps_the_sites_delineated():
    feas = np.ones((60, 60), bool)
    score = np.random.default_rng(5).random(feas.shape)
    found, _, _, _, _ = run(feas, score, need=4, sep_km=0.0, top=2)
    assert len(found) == 2 * OVERSAMPLE


def test_seed_batches_do_not_change_the_result(monkeypatch):
    # Ties across a batch boundary must keep grid order: small batches give the same sites.
    feas = np.ones((25, 25), bool)
    feas[::4, :] = False
    score = np.round(np.random.default_rng(11).random(feas.shape), 1)  # many ties
    ref, ref_stats, _, _, _ = run(feas, score, need=6, sep_km=0.15, top=100)
    monkeypatch.setattr(sites_mod, "SEED_BATCH", 7)
    small, small_stats, _, _, _ = run(feas, score, need=6, sep_km=0.15, top=100)
    assert small == ref and small_stats == ref_stats


def test_deterministic():
    feas = np.random.default_rng(2).random((50, 50)) > 0.3
    score = np.random.default_rng(4).random(feas.shape)
    a = run(feas, score, need=10, sep_km=0.3, top=50)
    b = run(feas.copy(), score.copy(), need=10, sep_km=0.3, top=50)
    assert a[0] == b[0] and a[1] == b[1]
    assert [s.seed_score for s in a[2]] == [s.seed_score for s in b[2]]


def test_large_patch_beyond_the_first_window():
    # A long corridor one cell wide: growth must look past its first window to fill the footprint.
    feas = np.zeros((3, 400), bool)
    feas[1, :] = True
    found, stats, _, _, _ = run(feas, np.ones(feas.shape), need=60, sep_km=0.0)
    assert len(found) >= 1 and all(len(s) == 60 for s in found)
    assert all(rook_connected(s, 400) for s in found)


def test_no_feasible_cells():
    g = grid(5, 5)
    raw, stats = delineate(np.zeros(0, np.int64), np.zeros(0, np.float32), g, 10.0, 1.0, 5)
    assert raw == [] and stats == {"seeds_tried": 0, "too_small": 0}


# -- polygons ------------------------------------------------------------------------------------
def test_site_polygon_covers_its_cells():
    feas = np.zeros((10, 10), bool)
    feas[3:7, 2:8] = True
    found, _, _, _, _ = run(feas, np.random.default_rng(0).random(feas.shape), need=10, sep_km=1.0)
    g = grid(10, 10)
    poly = site_polygon(np.array(found[0]), g)
    assert poly.area == pytest.approx(10 * RES * RES)
    assert poly.geom_type == "Polygon"
    rows, cols = np.divmod(np.array(found[0]), 10)
    xs, ys = g.cell_centers(rows, cols)
    import shapely

    assert all(poly.contains(shapely.Point(x, y)) for x, y in zip(xs, ys))
