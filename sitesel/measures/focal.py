"""Disc measures: sums over a disc around each candidate cell (people within 80 km, MW within 50 km).

Values are scaled to whole numbers of :data:`DISC_QUANTUM` so that every sum is exact and
independent of tiling. People, spread over every cell, are summed either at the candidate cells
(:func:`sitesel.measures.discs.disc_sum_at`) or by FFT convolution of a tile padded by the radius
(the float64 result rounded), whichever costs less; point values (plants' MW) are added along
each row of the disc around each point into a difference array, and one running sum along the
rows gives the totals.
"""
from __future__ import annotations

import math
from pathlib import Path

import numba
import numpy as np
import scipy.fft
import shapely

from sitesel.io.cache import CACHE_VERSION, cache_root, digest, load_array, save_array
from sitesel.io.layercache import layer_key
from sitesel.measures.discs import disc_sum, disc_sum_at, point_disc_sum
from sitesel.study.grid import Tile, Window, burn

__all__ = ["COUNTY_INDEX", "COUNTY_INDEX_MAX_CELLS", "COUNTY_SIMPLIFY", "CountyIndex", "DIRECT_STEP_COST",
           "DISC_QUANTUM", "FFT_CELL_COST", "after_read", "compile_kernels", "disc_measure", "uses_county_index"]

#: Disc sums are computed on whole numbers of this fraction of a unit (exact in float64 FFTs).
DISC_QUANTUM = 1e-3
#: Relative costs that choose how a tile's disc sums are taken: a step of :func:`disc_sum_at`
#: (one row of one cell's disc) against a cell of the FFT convolution (both transforms), as
#: measured with the real candidate cells of the lower 48 at 500 m.
DIRECT_STEP_COST, FFT_CELL_COST = 3.9, 66.0
#: Largest grid (cells) for which a process keeps one raster of county numbers for every tile
#: (2 bytes a cell: 126 MB for the lower 48 at 500 m); larger grids burn counties tile by tile.
COUNTY_INDEX_MAX_CELLS = 80_000_000
#: Tolerance (cells) to which county outlines are simplified before they are burnt.
COUNTY_SIMPLIFY = 0.25


def disc_measure(params: dict, inputs, tile: Tile, cells: np.ndarray, threads: int | None = None) -> np.ndarray:
    """Sums over a disc around ``cells`` (flat indices into the tile's core).

    Parameters
    ----------
    params : dict
        ``radius_km``, and ``source``: ``"points"`` (with ``layer`` and ``column``: the values
        at points) or ``"counties"`` (county populations spread over their areas).
    inputs : sitesel.study.inputs.Inputs
        The study's layers in this process.
    tile : Tile
        The tile; its halo must cover the radius.
    cells : ndarray of int
        Sorted flat indices into ``tile.core``.
    threads : int, optional
        Threads an FFT may use (default: one per core). The values are the same.

    Returns
    -------
    ndarray of float32
    """
    grid = inputs.spec.grid
    win = tile.padded
    radius = params["radius_km"] * 1000.0 / grid.res
    if params["source"] == "points":
        rows, cols, vals = _points_in(inputs, params["layer"], params["column"], win)
        core = tile.core
        s = point_disc_sum(rows - core.row, cols - core.col, np.rint(vals / DISC_QUANTUM), core.shape, radius)
        return (s[np.divmod(cells, core.width)] * DISC_QUANTUM).astype(np.float32)
    r = int(math.ceil(radius))
    h, w = win.shape
    rs, cs = tile.core_in_padded
    eh, ew = tile.extent or win.shape
    if cells.size * (2 * math.floor(radius) + 1) * DIRECT_STEP_COST < eh * ew * FFT_CELL_COST:
        rows, cols = np.divmod(cells, tile.core.width)
        s = disc_sum_at(_quantised_people(inputs, win), radius, rows + rs.start, cols + cs.start)
        return (s * DISC_QUANTUM).astype(np.float32)
    # A circular convolution wraps around the transform's edges: it is exact on the core when all
    # that wraps into a core cell's disc is zero padding, so the transform must outrun the padded
    # tile by as much as a disc reaches past its edges (nothing for inner tiles, whose halo holds
    # the whole disc). Sized from the tiling's largest padded tile, one kernel FFT serves all.
    need = (h + max(0, r - rs.start, r - (h - rs.stop)), w + max(0, r - cs.start, r - (w - cs.stop)))
    shape = (scipy.fft.next_fast_len(max(eh, need[0]), real=True),
             scipy.fft.next_fast_len(max(ew, need[1]), real=True))
    # Whole numbers of the quantum, written straight into the transform's zero-padded input.
    q = np.zeros(shape)
    _quantised_people(inputs, win, out=q[:h, :w])
    s = disc_sum(q, radius, shape, workers=threads)
    return (s[tile.core_in_padded].ravel()[cells] * DISC_QUANTUM).astype(np.float32)


def _points_in(inputs, layer: str, column: str, win: Window) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid row, column and value of the points of ``layer`` in ``win`` with a known value."""
    gdf = inputs.features(layer)
    if not len(gdf):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    pts = inputs.pixel_points(layer)
    col = np.floor(pts[:, 0]).astype(np.int64)
    row = np.floor(pts[:, 1]).astype(np.int64)
    vals = gdf[column].to_numpy(dtype="float64")
    ok = ((row >= win.row) & (row < win.row + win.height) & (col >= win.col) & (col < win.col + win.width)
          & np.isfinite(vals))
    return row[ok], col[ok], vals[ok]


def _quantised_people(inputs, win: Window, out: np.ndarray | None = None) -> np.ndarray:
    """People per cell of ``win`` (county totals spread evenly over each county's area), in
    whole numbers of :data:`DISC_QUANTUM` (float64), into ``out`` if given."""
    grid = inputs.spec.grid
    counties = inputs.features("counties")
    area = counties.geometry.area.to_numpy()
    pop = counties["population"].to_numpy(dtype="float64")
    density = np.where(area > 0, pop / np.where(area > 0, area, 1.0), 0.0)
    density = np.nan_to_num(density)
    # Each county's value per cell, worked out once per county rather than once per cell.
    per_county = np.rint(density * (grid.res * grid.res) / DISC_QUANTUM)
    if out is None:
        out = np.empty(win.shape, dtype=np.float64)
    if uses_county_index(inputs):
        # One burn of county numbers serves every tile (and both population measures): tiles
        # overlap by the radius, and burning thousands of outlines per tile cost more than the rest.
        index = COUNTY_INDEX.get(inputs)[win.row:win.row + win.height, win.col:win.col + win.width]
        _gather(np.concatenate([[0.0], per_county]), index, out)
    else:
        idx, geoms = _counties_in_burn_order(inputs, win)
        out[...] = burn(geoms, win, values=per_county[idx], dtype="float64", fill=0.0)
    return out


@numba.njit(nogil=True, cache=True)
def _gather(table, index, out):  # pragma: no cover - compiled
    # out = table[index + 1] in one pass, into a possibly strided view (the FFT's padded input).
    for i in range(index.shape[0]):
        for j in range(index.shape[1]):
            out[i, j] = table[index[i, j] + 1]


def _counties_in_burn_order(inputs, win: Window | None) -> tuple[np.ndarray, np.ndarray]:
    """Indices and simplified pixel-space outlines of the counties touching ``win`` (all of them
    if None), in the order they are burnt."""
    idx = inputs.pixel_query("counties", window=win, simplify=COUNTY_SIMPLIFY)
    geoms = inputs.pixel("counties", simplify=COUNTY_SIMPLIFY)[0][idx]
    # Simplified outlines of neighbours can overlap by a sliver; burning in an order fixed by
    # the geometry (not the file) makes the result independent of the file's feature order.
    c = shapely.get_coordinates(shapely.centroid(geoms)) if len(geoms) else np.zeros((0, 2))
    order = np.lexsort((c[:, 1], c[:, 0])) if len(geoms) else np.zeros(0, np.int64)
    return idx[order], geoms[order]


class CountyIndex:
    """Number of the county under each cell of a study's grid (-1: none), for this process.

    Burnt once per study and kept in the disk cache, where the other worker processes map it
    instead of burning it again. Only the last study's raster is kept in memory (it is
    grid-sized).
    """

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._index: np.ndarray | None = None

    def get(self, inputs) -> np.ndarray:
        """The raster of county numbers (int16, the grid's shape) for ``inputs``' study."""
        key = (inputs.spec.grid.key(), id(inputs.features("counties")))
        if self._key != key:
            self.clear()
            self._index = _county_index(inputs)
            self._key = key
        return self._index

    def clear(self) -> None:
        """Forget the raster (the disk cache keeps it)."""
        self._key = self._index = None


#: This process's :class:`CountyIndex`.
COUNTY_INDEX = CountyIndex()


def _county_index(inputs) -> np.ndarray:
    grid = inputs.spec.grid
    path = _county_index_path(inputs)
    index = load_array(path, grid.height, mmap=True) if path is not None else None
    if index is None or index.shape != grid.shape or index.dtype != np.int16:
        idx, geoms = _counties_in_burn_order(inputs, None)
        index = burn(geoms, Window(0, 0, grid.height, grid.width), values=idx, dtype="int16", fill=-1)
        if path is not None:
            try:
                save_array(path, index)
            except OSError:
                pass  # an unwritable cache only costs time
    return index


def _county_index_path(inputs) -> Path | None:
    spec = inputs.spec
    if not spec.use_cache or not spec.manifest.has("counties"):
        return None
    try:
        layer = layer_key(spec.manifest["counties"], spec.grid.crs, spec.read_bbox())
    except OSError:
        return None
    root = Path(spec.cache_dir) if spec.cache_dir else cache_root()
    return root / "rasters" / f"county-index-{digest(layer, spec.grid.key(), COUNTY_SIMPLIFY, CACHE_VERSION)}.npy"


def uses_county_index(inputs) -> bool:
    """Whether people per cell come from one grid-wide raster of county numbers.

    Parameters
    ----------
    inputs : sitesel.study.inputs.Inputs
        The study's layers in this process.

    Returns
    -------
    bool
        The grid has at most :data:`COUNTY_INDEX_MAX_CELLS` cells and the county numbers fit
        in 16 bits.
    """
    return inputs.spec.grid.size <= COUNTY_INDEX_MAX_CELLS and len(inputs.features("counties")) < 2**15 - 1


def after_read(inputs, layer: str) -> None:
    """Work that every process computing measures would otherwise repeat, done once by the
    process that reads ``layer`` ahead (see :func:`sitesel.measures.engine.read_layer`).

    Parameters
    ----------
    inputs : sitesel.study.inputs.Inputs
        The study's layers in this process.
    layer : str
        The layer just read.
    """
    if layer == "counties" and uses_county_index(inputs):
        COUNTY_INDEX.get(inputs)


def compile_kernels() -> None:
    """Load (or compile) this module's compiled kernels now rather than in the first task."""
    _gather(np.ones(2), np.zeros((2, 2), np.int16), np.empty((2, 2)))
