"""Candidate sites, not pixels: contiguous footprints grown from the best seeds (cf. ArcGIS
Locate Regions), non-overlapping and a minimum distance apart.

Seeds are visited from the best-scoring feasible cell down. From a seed, cells are added
best-first (score minus a compactness penalty) through rook-adjacent feasible cells until the
footprint is reached; a seed whose reachable patch is too small marks the whole patch as tried.
Cells within the separation distance of an accepted site are blocked. All of this happens in
small windows around each seed, read from the feasible-cell vectors, so its cost depends on the
number of sites and their size, not on the size of the grid.

:func:`delineate` works on the feasible cells only: ``cells``, their sorted flat indices into the
grid, and ``scores``, one per cell. A site is a :class:`RawSite` holding *positions* into those
two vectors, so ``cells[site.positions]`` are its grid cells and :func:`site_polygon` draws them.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import edt
import numpy as np
import shapely
from affine import Affine
from rasterio import features

from sitesel.study.grid import Grid

#: How strongly growth prefers compact shapes over the very best cells (score units per
#: footprint radius). Higher gives rounder sites.
SHAPE_WEIGHT = 0.5
#: Candidates kept before the final ranking, as a multiple of the requested number of sites.
OVERSAMPLE = 3
#: Seeds taken into each sorted batch.
SEED_BATCH = 4096


@dataclass
class RawSite:
    """A delineated site: positions into the feasible-cell vectors, and its seed's score.

    >>> site = RawSite(np.array([3, 4]), 0.9)
    >>> site.positions.tolist(), site.seed_score
    ([3, 4], 0.9)
    """

    positions: np.ndarray
    seed_score: float


def cells_needed(min_acres: float, grid: Grid) -> int:
    """Cells of the grid needed for ``min_acres``: rounded up, and at least one.

    An area that is a whole number of cells (up to floating-point noise) needs exactly that many.

    >>> from sitesel.study.grid import Grid
    >>> grid = Grid("EPSG:5070", res=100.0, xmin=0.0, ymax=0.0, width=1, height=1)
    >>> round(grid.cell_acres, 4)   # a hectare
    2.4711
    >>> cells_needed(10, grid)      # 4.05 cells
    5
    >>> cells_needed(4 * grid.cell_acres, grid)
    4
    >>> cells_needed(0.1, grid)
    1
    """
    return max(1, math.ceil(min_acres / grid.cell_acres - 1e-9))


class _Cells:
    """Sorted flat indices of feasible cells with window look-ups."""

    def __init__(self, cells: np.ndarray, grid: Grid):
        self.cells = cells
        self.grid = grid

    def window(self, r0: int, r1: int, c0: int, c1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions, rows and columns of the feasible cells in rows r0..r1-1, columns c0..c1-1."""
        w = self.grid.width
        rows = np.arange(max(r0, 0), min(r1, self.grid.height), dtype=np.int64)
        lo = np.searchsorted(self.cells, rows * w + max(c0, 0))
        hi = np.searchsorted(self.cells, rows * w + min(c1, w))
        n = hi - lo
        if not n.sum():
            e = np.zeros(0, np.int64)
            return e, e, e
        pos = np.repeat(lo - np.cumsum(n) + n, n) + np.arange(n.sum())
        flat = self.cells[pos]
        return pos, flat // w, flat % w


def _seed_order(scores: np.ndarray, cells: np.ndarray):
    """Positions from the highest score down (ties: grid order), in sorted batches."""
    remaining = np.arange(scores.size)
    while remaining.size:
        k = min(SEED_BATCH, remaining.size)
        if k < remaining.size:
            # The k best by score; equal scores at the cut-off are all taken, so ties stay in
            # grid order across batches.
            cut = np.partition(-scores[remaining], k - 1)[k - 1]
            take = -scores[remaining] <= cut
        else:
            take = np.ones(remaining.size, dtype=bool)
        batch = remaining[take]
        remaining = remaining[~take]
        yield batch[np.lexsort((cells[batch], -scores[batch]))]


def delineate(cells: np.ndarray, scores: np.ndarray, grid: Grid, min_acres: float, separation_km: float,
              top: int) -> tuple[list[RawSite], dict]:
    """Grow up to ``top * OVERSAMPLE`` non-overlapping, separated sites of at least ``min_acres``.

    Seeds are taken from the best score down (ties in grid order); each site has exactly
    :func:`cells_needed` cells, rook-connected. Every feasible cell whose centre is within
    ``separation_km`` (plus a cell diagonal) of an accepted site's cell is blocked for later sites,
    so sites never overlap. A seed whose reachable patch is too small adds no site, and no cell
    of that patch is tried again as a seed.

    Parameters
    ----------
    cells : ndarray of int64
        Sorted flat grid indices of the feasible cells.
    scores : ndarray of float32
        Their scores (0-1).
    grid : Grid
        The grid ``cells`` index (row-major: ``row * grid.width + col``).
    min_acres : float
        A site's footprint; see :func:`cells_needed`.
    separation_km : float
        The least distance between two sites.
    top : int
        The number of sites wanted; up to ``top * OVERSAMPLE`` are delineated.

    Returns
    -------
    sites : list of RawSite
        In the order they were found (best seeds first).
    stats : dict
        ``seeds_tried`` and ``too_small`` (seeds whose patch could not hold a footprint).

    Examples
    --------
    Two blocks of four feasible cells and a lone cell, on a grid of 100 m (2.47-acre) cells:

    >>> from sitesel.study.grid import Grid
    >>> grid = Grid("EPSG:5070", res=100.0, xmin=0.0, ymax=400.0, width=6, height=4)
    >>> feasible = np.array([[1, 1, 0, 0, 1, 1],
    ...                      [1, 1, 0, 0, 1, 1],
    ...                      [0, 0, 0, 0, 1, 0],
    ...                      [1, 0, 0, 0, 0, 0]], dtype=bool)
    >>> score = np.array([[.8, .8, 0, 0, .9, 1.0],
    ...                   [.5, .6, 0, 0, .7, .7],
    ...                   [0., 0., 0, 0, .4, 0.],
    ...                   [.1, 0., 0, 0, 0., 0.]], dtype=np.float32)
    >>> cells = np.flatnonzero(feasible)           # sorted flat indices
    >>> sites, stats = delineate(cells, score.ravel()[cells], grid, 4 * grid.cell_acres, 0.0, top=5)
    >>> [sorted(cells[s.positions].tolist()) for s in sites]
    [[4, 5, 10, 11], [0, 1, 6, 7]]
    >>> [round(s.seed_score, 2) for s in sites]
    [1.0, 0.8]
    >>> stats                                      # the lone cell was tried, and too small
    {'seeds_tried': 3, 'too_small': 1}

    Ten kilometres apart is more than this grid holds: only the best site remains.

    >>> sites, _ = delineate(cells, score.ravel()[cells], grid, 4 * grid.cell_acres, 10.0, top=5)
    >>> [sorted(cells[s.positions].tolist()) for s in sites]
    [[4, 5, 10, 11]]
    """
    need = cells_needed(min_acres, grid)
    index = _Cells(cells, grid)
    blocked = np.zeros(cells.size, dtype=bool)
    tried = np.zeros(cells.size, dtype=bool)
    radius = math.sqrt(need / math.pi)
    sep_cells = separation_km * 1000.0 / grid.res + math.sqrt(2)
    sites: list[RawSite] = []
    stats = {"seeds_tried": 0, "too_small": 0}
    want = top * OVERSAMPLE
    for batch in _seed_order(scores, cells):
        for seed in batch.tolist():
            if len(sites) >= want:
                break
            if blocked[seed] or tried[seed]:
                continue
            stats["seeds_tried"] += 1
            pos, complete = _grow(index, seed, need, radius, scores, blocked)
            if not complete:
                tried[pos] = True
                stats["too_small"] += 1
                continue
            sites.append(RawSite(pos, float(scores[seed])))
            _block(index, blocked, pos, sep_cells)
        if len(sites) >= want:
            break
    return sites, stats


def _grow(index: _Cells, seed: int, need: int, radius: float, scores: np.ndarray, blocked: np.ndarray):
    """Grow from ``seed``; returns (positions, complete)."""
    w = index.grid.width
    r0, c0 = divmod(int(index.cells[seed]), w)
    half = int(math.ceil(2.5 * math.sqrt(need))) + 2
    while True:
        pos, rows, cols = index.window(r0 - half, r0 + half + 1, c0 - half, c0 + half + 1)
        ok = ~blocked[pos]
        pos, rows, cols = pos[ok], rows[ok], cols[ok]
        lr, lc = rows - (r0 - half), cols - (c0 - half)
        size = 2 * half + 1
        local = np.full((size, size), -1, dtype=np.int64)
        local[lr, lc] = pos
        result = _grow_local(local, half, half, need, radius, scores)
        out, touched_edge = result
        if len(out) >= need or not touched_edge or half > 64 * math.sqrt(need) + 64:
            return np.asarray(out, dtype=np.int64), len(out) >= need
        half *= 2  # the patch runs past the window: look wider


def _grow_local(local: np.ndarray, r0: int, c0: int, need: int, radius: float, scores: np.ndarray):
    h, w = local.shape
    taken = {(r0, c0)}
    heap: list = []
    out = [int(local[r0, c0])]
    edge = False

    def push(r, c):
        nonlocal edge
        for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if not (0 <= rr < h and 0 <= cc < w):
                edge = True
                continue
            if (rr, cc) in taken or local[rr, cc] < 0:
                continue
            taken.add((rr, cc))
            d = math.hypot(rr - r0, cc - c0) / max(radius, 1.0)
            heapq.heappush(heap, (-(float(scores[local[rr, cc]]) - SHAPE_WEIGHT * d), rr, cc))

    push(r0, c0)
    while len(out) < need and heap:
        _, r, c = heapq.heappop(heap)
        out.append(int(local[r, c]))
        push(r, c)
    if len(out) < need:
        # Too small (unless cut by the window): report the whole reachable patch.
        return [int(local[r, c]) for r, c in taken], edge
    return out, edge


def _block(index: _Cells, blocked: np.ndarray, pos: np.ndarray, sep_cells: float) -> None:
    """Block feasible cells whose centre lies within ``sep_cells`` of a site cell (and the site)."""
    flat = index.cells[pos]
    rows, cols = np.divmod(flat, index.grid.width)
    pad = int(math.ceil(sep_cells)) + 1
    r0, r1, c0, c1 = rows.min() - pad, rows.max() + pad + 1, cols.min() - pad, cols.max() + pad + 1
    local = np.ones((r1 - r0, c1 - c0), dtype=bool)
    local[rows - r0, cols - c0] = False
    d = edt.edt(local, black_border=False)
    wpos, wr, wc = index.window(r0, r1, c0, c1)
    near = d[wr - r0, wc - c0] < sep_cells
    blocked[wpos[near]] = True


def site_polygon(flat: np.ndarray, grid: Grid):
    """The union of a site's cells (flat grid indices) as a polygon in the grid CRS.

    >>> from sitesel.study.grid import Grid
    >>> grid = Grid("EPSG:5070", res=100.0, xmin=0.0, ymax=400.0, width=6, height=4)
    >>> poly = site_polygon(np.array([4, 5, 10, 11, 16]), grid)
    >>> poly.area, poly.bounds
    (50000.0, (400.0, 100.0, 600.0, 400.0))
    """
    rows, cols = np.divmod(np.asarray(flat, dtype=np.int64), grid.width)
    r0, c0 = rows.min(), cols.min()
    local = np.zeros((rows.max() - r0 + 1, cols.max() - c0 + 1), dtype=np.uint8)
    local[rows - r0, cols - c0] = 1
    tr = grid.transform @ Affine.translation(c0, r0)
    polys = [shapely.geometry.shape(g) for g, v in features.shapes(local, mask=local.astype(bool), transform=tr)
             if v == 1]
    return shapely.union_all(polys)
