"""Candidate sites, not pixels: contiguous footprints grown from the best seeds (cf. ArcGIS
Locate Regions), non-overlapping and a minimum distance apart, then described with exact
vector geometry.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import edt
import numpy as np
import shapely
from rasterio import features
from scipy import ndimage

from .grid import Grid

#: How strongly growth prefers compact shapes over the very best cells (score units per
#: footprint radius). Higher gives rounder sites.
SHAPE_WEIGHT = 0.5
#: Candidates kept before the final ranking, as a multiple of the requested number of sites.
OVERSAMPLE = 3


@dataclass
class RawSite:
    """A delineated site as grid cells."""

    rows: np.ndarray
    cols: np.ndarray
    seed_score: float


def cells_needed(min_acres: float, grid: Grid) -> int:
    return max(1, math.ceil(min_acres / grid.cell_acres - 1e-9))


def candidate_areas(feasible: np.ndarray, need: int) -> tuple[np.ndarray, int]:
    """Connected feasible areas (rook contiguity) big enough for one footprint."""
    labels, n = ndimage.label(feasible)
    if n == 0:
        return np.zeros_like(feasible), 0
    sizes = np.bincount(labels.ravel())
    big = sizes >= need
    big[0] = False
    return big[labels], int(big.sum())


def delineate(score: np.ndarray, feasible: np.ndarray, grid: Grid, min_acres: float,
              separation_km: float, top: int) -> tuple[list[RawSite], int]:
    """Grow up to ``top`` non-overlapping, separated sites of at least ``min_acres``.

    Returns the sites (best seeds first) and the number of feasible areas that could hold one.

    Seeds are visited in order of the mean score of a footprint-sized window around them. From a
    seed, cells are added best-first (score minus a compactness penalty) through rook-adjacent
    feasible cells until the footprint is reached. Cells within ``separation_km`` of an accepted
    site are blocked.
    """
    need = cells_needed(min_acres, grid)
    usable, n_areas = candidate_areas(feasible, need)
    if not usable.any():
        return [], 0
    filled = np.where(usable, np.nan_to_num(score, nan=0.0), 0.0).astype(np.float32)
    k = max(1, int(math.ceil(math.sqrt(need))))
    focal = ndimage.uniform_filter(filled, size=k, mode="constant")
    idx = np.flatnonzero(usable)
    # Highest focal score first; ties broken by cell index so runs are reproducible.
    order = idx[np.lexsort((idx, -focal.ravel()[idx]))]
    blocked = np.zeros(grid.shape, dtype=bool)
    tried = np.zeros(grid.shape, dtype=bool)
    radius = math.sqrt(need / math.pi)
    sep_cells = separation_km * 1000.0 / grid.res + math.sqrt(2)
    sites: list[RawSite] = []
    h, w = grid.shape
    for flat in order:
        if len(sites) >= top * OVERSAMPLE:
            break
        r0, c0 = divmod(int(flat), w)
        if blocked[r0, c0] or tried[r0, c0]:
            continue
        cells = _grow(r0, c0, need, radius, filled, usable, blocked)
        if cells is None:
            continue
        rows, cols = cells
        if len(rows) < need:
            tried[rows, cols] = True  # everything reachable from here is too small
            continue
        sites.append(RawSite(rows, cols, float(focal[r0, c0])))
        _block(blocked, rows, cols, sep_cells)
    return sites, n_areas


def _grow(r0, c0, need, radius, score, usable, blocked):
    h, w = score.shape
    taken = {(r0, c0)}
    heap: list = []
    out_r, out_c = [], []

    def push(r, c):
        for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if 0 <= rr < h and 0 <= cc < w and (rr, cc) not in taken and usable[rr, cc] and not blocked[rr, cc]:
                taken.add((rr, cc))
                d = math.hypot(rr - r0, cc - c0) / max(radius, 1.0)
                heapq.heappush(heap, (-(float(score[rr, cc]) - SHAPE_WEIGHT * d), rr, cc))

    out_r.append(r0), out_c.append(c0)
    push(r0, c0)
    while len(out_r) < need and heap:
        _, r, c = heapq.heappop(heap)
        out_r.append(r), out_c.append(c)
        push(r, c)
    if len(out_r) < need:
        # Too small: mark the whole reachable patch so no seed in it is tried again.
        rr = np.fromiter((p[0] for p in taken), dtype=np.int64)
        cc = np.fromiter((p[1] for p in taken), dtype=np.int64)
        return rr, cc
    return np.asarray(out_r, dtype=np.int64), np.asarray(out_c, dtype=np.int64)


def _block(blocked: np.ndarray, rows, cols, sep_cells: float) -> None:
    """Block cells whose centre lies within ``sep_cells`` of a site cell (plus the site)."""
    pad = int(math.ceil(sep_cells)) + 1
    r0, r1 = max(rows.min() - pad, 0), min(rows.max() + pad + 1, blocked.shape[0])
    c0, c1 = max(cols.min() - pad, 0), min(cols.max() + pad + 1, blocked.shape[1])
    local = np.ones((r1 - r0, c1 - c0), dtype=bool)
    local[rows - r0, cols - c0] = False
    d = edt.edt(local, black_border=False)
    blocked[r0:r1, c0:c1] |= d < sep_cells


def site_polygon(rows: np.ndarray, cols: np.ndarray, grid: Grid):
    """The union of a site's cells as a polygon in the grid CRS (exact cell edges)."""
    r0, c0 = rows.min(), cols.min()
    local = np.zeros((rows.max() - r0 + 1, cols.max() - c0 + 1), dtype=np.uint8)
    local[rows - r0, cols - c0] = 1
    from affine import Affine

    tr = grid.transform @ Affine.translation(c0, r0)
    polys = [shapely.geometry.shape(g) for g, v in features.shapes(local, mask=local.astype(bool), transform=tr) if v == 1]
    return shapely.union_all(polys)
