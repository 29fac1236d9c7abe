"""The catalogue of measures: raw criterion values, computed tile by tile on the analysis grid.

A measure is computed for one :class:`~sitesel.study.grid.Tile` at a time and read off at the study's
candidate cells in the tile's core. Each kind of measure says how much overlap (``halo``) a tile
needs for its core to come out exactly as in an untiled computation:

* ``distance``: an exact Euclidean distance transform (:mod:`sitesel.measures.distance`) from rasterised
  features, capped at the study's ``cap_km`` (farther is ``inf``); a halo of the cap suffices.
* ``disc``: a sum over a disc (people within 80 km, MW within 50 km). Values are scaled to whole
  numbers so that every sum is exact and independent of tiling. People, spread over every cell,
  are summed by FFT convolution of a tile padded by the radius (the float64 result rounded);
  point values (plants' MW) are added along each row of the disc around each point into a
  difference array, and one running sum along the rows gives the totals: a few thousand points
  cost far less than two full-grid FFTs.
* ``raster``: a raster warped onto the tile; ``slope``: slope from a DEM; ``basin``: the
  category of the polygon under each cell.
* ``derived``: computed from other measures' values, cell by cell.

None of them depends on weights, so a study computes each once (see :mod:`sitesel.measures.engine`).
"""
from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numba
import numpy as np
import rasterio
import scipy.fft
import shapely
from affine import Affine
from rasterio.warp import Resampling, reproject

from sitesel.measures import discs, distance
from sitesel.measures.discs import disc_kernel, disc_sum, disc_sum_at, point_disc_sum
from sitesel.measures.sampling import sample_raster
from sitesel.io.cache import CACHE_VERSION, cache_root, digest, load_array, save_array
from sitesel.study.grid import Tile, Window, burn
from sitesel.io.layercache import layer_key
from sitesel.io.layers import raster_info

#: Voltage classes (kV) of transmission lines and substations that measures distinguish.
KV_CLASSES = (115, 230, 345, 500, 765)
#: Radius within which ``tx_kv_within_15km`` looks for lines.
KV_REACH_KM = 15.0
#: Disc sums are computed on whole numbers of this fraction of a unit (exact in float64 FFTs).
DISC_QUANTUM = 1e-3
#: Relative costs that choose how a tile's disc sums are taken: a step of :func:`disc_sum_at`
#: (one row of one cell's disc) against a cell of the FFT convolution (both transforms), as
#: measured with the real candidate cells of the lower 48 at 500 m (3.9 ns and 66 ns here).
DIRECT_STEP_COST, FFT_CELL_COST = 3.9, 66.0
#: Threads each distance transform may use (worker processes set 1: they already fill the cores).
EDT_THREADS = os.cpu_count() or 1


def set_threads(n: int) -> None:
    """Threads that one distance transform or FFT may use in this process."""
    global EDT_THREADS
    EDT_THREADS = discs.FFT_WORKERS = max(1, int(n))


@dataclass(frozen=True)
class Measure:
    """A raw criterion: its unit, the layers it needs, and how it is computed.

    ``site`` says how a site's value is taken from its cells: ``"min"`` (distances: the nearest
    point of the site), ``"max"`` or ``"mean"``. ``refine`` names the (layer, column, minimum)
    whose features give exact vector distances for a site.
    """

    name: str
    unit: str
    description: str
    layers: tuple[str, ...]
    site: str
    kind: str
    params: dict = field(default_factory=dict, compare=False, hash=False)
    refine: tuple | None = None
    higher_is_better: bool | None = None
    depends: tuple[str, ...] = ()

    @property
    def derived(self) -> bool:
        return self.kind == "derived"

    @property
    def is_distance(self) -> bool:
        return self.kind == "distance"

    @property
    def is_point_disc(self) -> bool:
        """A sum over a disc of values at points (no FFT: see :func:`point_disc_sum`)."""
        return self.kind == "disc" and self.params.get("source") == "points"

    def halo_cells(self, res: float, cap_km: float) -> int:
        """Overlap a tile needs so that its core equals the untiled result."""
        if self.kind == "distance":
            return math.ceil(cap_km * 1000.0 / res) + 1
        if self.kind == "disc":
            return math.ceil(self.params["radius_km"] * 1000.0 / res) + 1
        return 0

    def bytes_per_cell(self) -> int:
        """Working memory per cell of a padded tile (for sizing tiles)."""
        if self.is_point_disc:
            return 24  # a float64 difference array and its running sum
        return {"distance": 14, "disc": 48, "raster": 12, "slope": 16, "basin": 12}.get(self.kind, 8)

    def compute(self, inputs, tile: Tile, cells: np.ndarray) -> np.ndarray:
        """Values at ``cells`` (flat indices into the tile's core window), float32."""
        return _KINDS[self.kind](self, inputs, tile, cells)


# -- distances ------------------------------------------------------------------------------

def capped_distance_km(mask: np.ndarray, res: float, cap_km: float,
                       at: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Distance (km) from each cell centre to the nearest True cell; ``inf`` beyond ``cap_km``.

    An exact Euclidean distance transform (:mod:`sitesel.measures.distance`), capped: exact squared
    distances in whole cells, so the values do not depend on how the work is split.

    Parameters
    ----------
    mask : ndarray of bool
        The features' cells.
    res : float
        Cell size in metres.
    cap_km : float
        Distances beyond this are ``inf``.
    at : (rows, cols), optional
        Only the distances at these cells, in this order (only their rows are transformed).
    """
    cap_cells = cap_km * 1000.0 / res
    if at is None:
        if not mask.any():
            return np.full(mask.shape, np.inf, dtype=np.float32)
        d2 = distance.squared_distances(mask, cap_cells, threads=EDT_THREADS)
    else:
        d2 = distance.squared_distances_at(mask, at[0], at[1], cap_cells, threads=EDT_THREADS)
    return _cells_to_km(d2, res, cap_km)


def _cells_to_km(d2: np.ndarray, res: float, cap_km: float) -> np.ndarray:
    """Squared distances in cells (whole numbers, float32) to km, in place; ``inf`` beyond ``cap_km``."""
    d = np.sqrt(d2, out=d2)
    far = d > np.float32(cap_km * 1000.0 / res)
    d *= np.float32(res / 1000.0)
    d[far] = np.inf
    return d


def _features_mask(inputs, feats, window: Window) -> np.ndarray:
    mask = None
    for layer, column, minimum in feats:
        geoms = inputs.pixel_features(layer, column, minimum, window)
        if len(geoms):
            burnt = burn(geoms, window, all_touched=True).view(bool)
            mask = burnt if mask is None else np.logical_or(mask, burnt, out=mask)
    return np.zeros(window.shape, dtype=bool) if mask is None else mask


_TILE_ROWS_COLS: list = []


def _rows_cols_in_padded(tile: Tile, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns in the padded tile of ``cells`` (flat indices into the core), int32 when
    they fit. The last answer is kept: a worker's distance measures usually share a tile and its
    cells (see :func:`sitesel.measures.engine.run_task`), and dividing 6 M indices took 0.05 s each time."""
    if _TILE_ROWS_COLS and _TILE_ROWS_COLS[0] is cells and _TILE_ROWS_COLS[1] == tile:
        return _TILE_ROWS_COLS[2], _TILE_ROWS_COLS[3]
    rs, cs = tile.core_in_padded
    # int32 division is twice as fast, and core windows are far below 2**31 cells.
    small = tile.core.height * tile.core.width < 2**31
    rows, cols = np.divmod(cells.astype(np.int32) if small else cells, tile.core.width)
    rows += rs.start
    cols += cs.start
    _TILE_ROWS_COLS[:] = [cells, tile, rows, cols]
    return rows, cols


def _distance(m: Measure, inputs, tile: Tile, cells: np.ndarray) -> np.ndarray:
    """Capped distances at ``cells`` of the tile's core (see :func:`capped_distance_at`)."""
    grid, cap = inputs.spec.grid, inputs.spec.cap_km
    mask = _features_mask(inputs, m.params["features"], tile.padded)
    if not cells.size:
        return np.full(0, np.inf, dtype=np.float32)
    rows, cols = _rows_cols_in_padded(tile, cells)
    return capped_distance_at(mask, rows, cols, grid.res, cap)


def capped_distance_at(mask: np.ndarray, rows: np.ndarray, cols: np.ndarray, res: float,
                       cap_km: float) -> np.ndarray:
    """Distances (km) from cells ``(rows, cols)`` to the nearest True cell of ``mask``; ``inf``
    beyond ``cap_km``: the values of :func:`capped_distance_km` over the whole mask.

    The transform runs only over the part of ``mask`` that can matter: the cells within the cap
    of the features' box, and the features within the cap of those cells (see
    :func:`sitesel.measures.distance.squared_distances_at`).
    """
    return capped_distance_km(mask, res, cap_km, at=(rows, cols))


def _disc(m: Measure, inputs, tile: Tile, cells: np.ndarray) -> np.ndarray:
    grid = inputs.spec.grid
    win = tile.padded
    radius = m.params["radius_km"] * 1000.0 / grid.res
    if m.params["source"] == "points":
        rows, cols, vals = _points_in(inputs, m.params["layer"], m.params["column"], win)
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
    s = disc_sum(q, radius, shape)
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


#: Largest grid (cells) for which a process keeps one raster of county numbers for every tile
#: (2 bytes a cell: 126 MB for the lower 48 at 500 m); larger grids burn counties tile by tile.
COUNTY_INDEX_MAX_CELLS = 80_000_000
#: Tolerance (cells) to which county outlines are simplified before they are burnt.
COUNTY_SIMPLIFY = 0.25


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
    if _uses_county_index(inputs):
        # One burn of county numbers serves every tile (and both population measures): tiles
        # overlap by the radius, and burning ~3,000 outlines per tile cost more than the rest.
        index = _county_index(inputs)[win.row:win.row + win.height, win.col:win.col + win.width]
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


_COUNTY_INDEX: dict = {}


def _county_index(inputs) -> np.ndarray:
    """Number of the county under each cell of the grid (-1: none): burnt once per study and
    kept in the disk cache, where the other worker processes map it instead of burning it again
    (0.7 CPU-s each over the lower 48 at 500 m)."""
    key = (inputs.spec.grid.key(), id(inputs.features("counties")))
    if key not in _COUNTY_INDEX:
        _COUNTY_INDEX.clear()
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
        _COUNTY_INDEX[key] = index
    return _COUNTY_INDEX[key]


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


def _uses_county_index(inputs) -> bool:
    """Whether people per cell come from one grid-wide raster of county numbers (see
    :data:`COUNTY_INDEX_MAX_CELLS`; the numbers must fit in 16 bits)."""
    return inputs.spec.grid.size <= COUNTY_INDEX_MAX_CELLS and len(inputs.features("counties")) < 2**15 - 1


def after_read(inputs, layer: str) -> None:
    """Work that every process computing measures would otherwise repeat, done once by the process
    that reads ``layer`` ahead (see :func:`sitesel.measures.engine.read_layer`)."""
    if layer == "counties" and _uses_county_index(inputs):
        _county_index(inputs)


# -- rasters ---------------------------------------------------------------------------------

def warp_to_window(spec, grid, window: Window, resampling=Resampling.bilinear, transform: Affine | None = None,
                   shape: tuple[int, int] | None = None) -> np.ndarray:
    """Warp a raster layer onto ``window`` of ``grid`` (or any ``transform``/``shape``); NaN = no data.

    Every cell is transformed exactly (no approximate transformer), so a cell gets the same
    value whichever window it is computed in.
    """
    transform = transform or grid.transform @ Affine.translation(window.col, window.row)
    shape = shape or window.shape
    out = np.full(shape, np.nan, dtype=np.float32)
    info = raster_info(spec)
    with rasterio.open(spec.sources[0].path) as ds:
        src_nodata = spec.nodata if spec.nodata is not None else ds.nodata
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reproject(source=rasterio.band(ds, spec.band), destination=out, src_crs=info["crs"],
                      src_nodata=src_nodata, dst_transform=transform, dst_crs=grid.crs, dst_nodata=np.nan,
                      resampling=resampling, num_threads=1, tolerance=0)
    if spec.scale != 1.0:
        out *= np.float32(spec.scale)
    return out


#: Candidate cells handled at once by the per-cell raster steps: their float64 temporaries cost
#: ~200 bytes a cell, so a tile's memory stays bounded however many of its cells are candidates.
CELL_CHUNK = 1 << 20


def _chunks(n: int):
    for i in range(0, n, CELL_CHUNK):
        yield slice(i, min(i + CELL_CHUNK, n))


def _raster(m: Measure, inputs, tile: Tile, cells: np.ndarray) -> np.ndarray:
    grid = inputs.spec.grid
    spec = inputs.spec.manifest[m.params["layer"]]
    out = np.empty(cells.size, dtype=np.float32)
    for part in _chunks(cells.size):  # sorted cells: each chunk reads a narrow band of the source
        rows, cols = np.divmod(cells[part], tile.core.width)
        x, y = grid.cell_centers(rows + tile.core.row, cols + tile.core.col)
        out[part] = sample_raster(spec, grid.crs, x, y)
    return out


def _slope(m: Measure, inputs, tile: Tile, cells: np.ndarray) -> np.ndarray:
    """Slope (%) of the DEM, taken at the DEM's own spacing.

    A DEM coarser than the grid gives slope on a coarse grid aligned with the analysis grid,
    interpolated bilinearly to cell centres (interpolating elevation first gives the same relief
    more slowly); a finer DEM gives slope at its spacing, averaged over each cell, so fine relief
    is kept rather than smoothed away.
    """
    grid = inputs.spec.grid
    spec = inputs.spec.manifest["dem"]
    info = raster_info(spec)
    src_res = info["res"][0] * (111_000.0 if info["crs"].is_geographic else 1.0)
    core = tile.core
    if src_res >= grid.res:
        k = max(1, int(round(src_res / grid.res)))
        cres = grid.res * k
        # The coarse window covers the core plus two coarse cells, so every coarse value used
        # comes from central differences, as it would in any other window.
        cr0, cc0 = core.row // k - 2, core.col // k - 2
        cr1, cc1 = (core.row + core.height) // k + 3, (core.col + core.width) // k + 3
        yy, xx = np.mgrid[cr0:cr1, cc0:cc1]
        dem = sample_raster(spec, grid.crs, grid.xmin + (xx + 0.5) * cres, grid.ymax - (yy + 0.5) * cres)
        gy, gx = np.gradient(dem.astype(np.float64), cres)
        slope = np.hypot(gx, gy) * 100.0
        out = np.empty(cells.size, dtype=np.float32)
        _slope_at(slope, np.asarray(cells), core.width, core.row, core.col, k, cr0, cc0, out)
        return out
    factor = max(1, min(int(grid.res // max(src_res, 1.0)), 16))
    fres = grid.res / factor
    # One fine cell of margin on each side keeps the gradient central at the core's edge.
    tr = Affine(fres, 0, grid.xmin + core.col * grid.res - fres, 0, -fres, grid.ymax - core.row * grid.res + fres)
    dem = warp_to_window(spec, grid, core, Resampling.bilinear, tr,
                         (core.height * factor + 2, core.width * factor + 2))
    gy, gx = np.gradient(dem.astype(np.float64), fres)
    slope = (np.hypot(gx, gy) * 100.0)[1:-1, 1:-1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks stay NaN
        block = np.nanmean(slope.reshape(core.height, factor, core.width, factor), axis=(1, 3))
    return block.ravel()[cells].astype(np.float32)


@numba.njit(nogil=True, cache=True)
def _slope_at(slope, cells, width, row0, col0, k, cr0, cc0, out):  # pragma: no cover - compiled
    # Bilinear interpolation of the coarse slope at each cell's centre, in one pass (the
    # arithmetic of the numpy expression it replaced, in the same order: the same values).
    for i in range(cells.shape[0]):
        r = cells[i] // width
        c = cells[i] - r * width
        # Cell centre in coarse pixel units, relative to coarse cell centres.
        fy = (row0 + r + 0.5) / k - 0.5 - cr0
        fx = (col0 + c + 0.5) / k - 0.5 - cc0
        y0 = np.int64(np.floor(fy))
        x0 = np.int64(np.floor(fx))
        wy = fy - y0
        wx = fx - x0
        out[i] = (slope[y0, x0] * (1 - wy) * (1 - wx) + slope[y0, x0 + 1] * (1 - wy) * wx
                  + slope[y0 + 1, x0] * wy * (1 - wx) + slope[y0 + 1, x0 + 1] * wy * wx)


def _basin(m: Measure, inputs, tile: Tile, cells: np.ndarray) -> np.ndarray:
    """The category of the basin polygon under each cell centre (NaN outside every basin).

    Where basins overlap the highest category wins, so stress is never understated and the
    result does not depend on the order of the features. Cells outside every basin are left
    missing (profiles give them a neutral ``missing`` score) rather than given a guessed value.
    """
    win = tile.core
    layer, column = m.params["layer"], m.params["column"]
    gdf = inputs.layer(layer)
    has = gdf[column].notna().to_numpy()
    vals = gdf[column].to_numpy(dtype="float64")
    idx = inputs.pixel_query(layer, window=win)
    idx = idx[has[idx]]
    idx = idx[np.argsort(vals[idx], kind="stable")]  # drawn last, the highest category wins
    # Burnt as positions in that order (half the bytes of the values: most of the time over a
    # whole grid goes on touching the raster's memory), then looked up at the cells.
    dtype = "int16" if len(idx) < 2**15 - 1 else "int32"
    pos = burn(inputs.pixel(layer)[0][idx], win, values=np.arange(len(idx)), dtype=dtype, fill=-1)
    return np.concatenate([[np.nan], vals[idx]]).astype(np.float32)[pos.ravel()[cells] + 1]


_KINDS = {"distance": _distance, "disc": _disc, "raster": _raster, "slope": _slope, "basin": _basin}


# -- derived measures ------------------------------------------------------------------------

def kv_reach(values: dict[str, np.ndarray]) -> np.ndarray:
    """Highest voltage class with a line within :data:`KV_REACH_KM` (0 if none)."""
    first = values[f"dist_tx_{KV_CLASSES[0]}kv_km"]
    out = np.zeros(first.shape, dtype=np.float32)
    for kv in KV_CLASSES:  # ascending, so the highest reachable class wins
        out[values[f"dist_tx_{kv}kv_km"] <= KV_REACH_KM] = kv
    return out


DERIVED = {"tx_kv_within_15km": kv_reach}


def _catalogue() -> dict[str, Measure]:
    ms: list[Measure] = []

    def dist(name, desc, feats, refine, layers=None):
        ms.append(Measure(name, "km", desc, layers or tuple(dict.fromkeys(f[0] for f in feats)), "min", "distance",
                          {"features": feats}, refine=refine, higher_is_better=False))

    for kv in KV_CLASSES:
        dist(f"dist_tx_{kv}kv_km", f"distance to the nearest transmission line of {kv} kV or more",
             (("transmission_lines", "voltage_kv", float(kv)),), ("transmission_lines", "voltage_kv", float(kv)))
    for kv in (115, 230, 345):
        dist(f"dist_sub_{kv}kv_km", f"distance to the nearest substation with a known maximum voltage of {kv} kV or more",
             (("substations", "max_kv", float(kv)),), ("substations", "max_kv", float(kv)))
    dist("dist_interstate_km", "distance to the nearest Interstate", (("interstates", None, None),),
         ("interstates", None, None))
    dist("dist_highway_km", "distance to the nearest Interstate, US or state highway", (("highways", None, None),),
         ("highways", None, None))
    dist("dist_rail_km", "distance to the nearest main-line railroad", (("railroads", None, None),),
         ("railroads", None, None))
    dist("dist_port_km", "distance to the nearest major port", (("ports", None, None),), ("ports", None, None))
    dist("dist_airport_km", "distance to the nearest commercial airport", (("airports", None, None),),
         ("airports", None, None))
    dist("dist_water_km", "distance to the nearest river or lake", (("rivers", None, None), ("lakes", None, None)),
         ("water", None, None))
    ms += [
        Measure("tx_kv_within_15km", "kV", "highest voltage class (115/230/345/500/765 kV) of a line within 15 km; 0 if none",
                ("transmission_lines",), "max", "derived", higher_is_better=True,
                depends=tuple(f"dist_tx_{kv}kv_km" for kv in KV_CLASSES)),
        Measure("gen_mw_50km", "MW", "total nameplate capacity of power plants within 50 km", ("power_plants",), "mean",
                "disc", {"source": "points", "layer": "power_plants", "column": "mw", "radius_km": 50.0},
                higher_is_better=True),
        Measure("water_stress_cat", "category 0-4", "WRI Aqueduct baseline water stress (0 low ... 4 extremely high or arid)",
                ("water_stress",), "mean", "basin", {"layer": "water_stress", "column": "bws_cat"},
                higher_is_better=False),
        Measure("pop_45km", "people", "residents within 45 km (about a 45-minute commute)", ("counties",), "mean",
                "disc", {"source": "counties", "radius_km": 45.0}, higher_is_better=True),
        Measure("pop_80km", "people", "residents within 80 km (about a 60-minute commute)", ("counties",), "mean",
                "disc", {"source": "counties", "radius_km": 80.0}, higher_is_better=True),
        Measure("slope_pct", "%", "terrain slope", ("dem",), "mean", "slope", higher_is_better=False),
        Measure("ghi_kwh_m2_day", "kWh/m2/day", "global horizontal irradiance, annual mean", ("solar",), "mean",
                "raster", {"layer": "solar"}, higher_is_better=True),
    ]
    return {m.name: m for m in ms}


MEASURES: dict[str, Measure] = _catalogue()


def closure(names) -> list[str]:
    """``names`` plus the measures they are derived from, base measures first."""
    out = set(names)
    for n in list(out):
        out |= set(MEASURES[n].depends)
    return sorted(out, key=lambda n: (MEASURES[n].derived, n))
