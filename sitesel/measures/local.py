"""Measures of the ground under each candidate cell: a raster's value, the slope, a basin's category.

Each depends only on the cell itself (no halo): ``raster`` samples a raster layer at cell
centres, ``slope`` derives slope from the DEM at the DEM's own spacing, and ``basin`` takes the
category of the polygon under each cell.
"""
from __future__ import annotations

import warnings

import numba
import numpy as np
import rasterio
from affine import Affine
from rasterio.warp import Resampling, reproject

from sitesel.io.raster import raster_info
from sitesel.measures.sampling import sample_raster
from sitesel.study.grid import Grid, Tile, Window, burn

__all__ = ["CELL_CHUNK", "basin_measure", "compile_kernels", "raster_measure", "slope_at", "slope_measure",
           "warp_to_window"]

#: Candidate cells handled at once by the per-cell raster steps: their float64 temporaries cost
#: ~200 bytes a cell, so a tile's memory stays bounded however many of its cells are candidates.
CELL_CHUNK = 1 << 20


def warp_to_window(spec, grid: Grid, window: Window, resampling: Resampling = Resampling.bilinear,
                   transform: Affine | None = None, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Warp a raster layer onto ``window`` of ``grid`` (or any ``transform``/``shape``).

    Every cell is transformed exactly (no approximate transformer), so a cell gets the same
    value whichever window it is computed in.

    Parameters
    ----------
    spec : sitesel.io.manifest.LayerSpec
        The raster layer.
    grid : Grid
        The analysis grid.
    window : Window
        The part of the grid wanted.
    resampling : Resampling
        How source pixels are combined.
    transform, shape : optional
        Another target frame (default: the window's).

    Returns
    -------
    ndarray of float32
        NaN where there is no data; values times the layer's ``scale``.
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


def _chunks(n: int):
    for i in range(0, n, CELL_CHUNK):
        yield slice(i, min(i + CELL_CHUNK, n))


def raster_measure(params: dict, inputs, tile: Tile, cells: np.ndarray, threads: int | None = None) -> np.ndarray:
    """Bilinear samples of the raster layer ``params["layer"]`` at the centres of ``cells``.

    Parameters
    ----------
    params : dict
        ``layer``: the raster layer.
    inputs : sitesel.study.inputs.Inputs
        The study's layers in this process.
    tile : Tile
        The tile.
    cells : ndarray of int
        Sorted flat indices into ``tile.core``.
    threads : int, optional
        Unused (sampling runs on one thread).

    Returns
    -------
    ndarray of float32
        NaN where the raster has no data.
    """
    grid = inputs.spec.grid
    spec = inputs.spec.manifest[params["layer"]]
    out = np.empty(cells.size, dtype=np.float32)
    for part in _chunks(cells.size):  # sorted cells: each chunk reads a narrow band of the source
        rows, cols = np.divmod(cells[part], tile.core.width)
        x, y = grid.cell_centers(rows + tile.core.row, cols + tile.core.col)
        out[part] = sample_raster(spec, grid.crs, x, y)
    return out


def slope_measure(params: dict, inputs, tile: Tile, cells: np.ndarray, threads: int | None = None) -> np.ndarray:
    """Slope (%) of the DEM at ``cells``, taken at the DEM's own spacing.

    A DEM coarser than the grid gives slope on a coarse grid aligned with the analysis grid,
    interpolated bilinearly to cell centres (interpolating elevation first gives the same relief
    more slowly); a finer DEM gives slope at its spacing, averaged over each cell, so fine relief
    is kept rather than smoothed away.

    Parameters
    ----------
    params : dict
        Unused (the DEM is the layer ``dem``).
    inputs : sitesel.study.inputs.Inputs
        The study's layers in this process.
    tile : Tile
        The tile.
    cells : ndarray of int
        Sorted flat indices into ``tile.core``.
    threads : int, optional
        Unused.

    Returns
    -------
    ndarray of float32
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
        slope_at(slope, np.asarray(cells), core.width, core.row, core.col, k, cr0, cc0, out)
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
def slope_at(slope, cells, width, row0, col0, k, cr0, cc0, out):  # pragma: no cover - compiled
    """Bilinear interpolation of a coarse slope raster at the centres of ``cells``, into ``out``.

    ``cells`` are flat indices into a core window ``width`` wide whose first cell is grid cell
    ``(row0, col0)``; ``slope`` is sampled every ``k`` grid cells from coarse cell ``(cr0, cc0)``.
    The arithmetic is that of the numpy expression it replaced, in the same order: the same values.
    """
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


def basin_measure(params: dict, inputs, tile: Tile, cells: np.ndarray, threads: int | None = None) -> np.ndarray:
    """The category of the basin polygon under each of ``cells`` (NaN outside every basin).

    Where basins overlap the highest category wins, so stress is never understated and the
    result does not depend on the order of the features. Cells outside every basin are left
    missing (profiles give them a neutral ``missing`` score) rather than given a guessed value.

    Parameters
    ----------
    params : dict
        ``layer`` and ``column``: the polygons and their category.
    inputs : sitesel.study.inputs.Inputs
        The study's layers in this process.
    tile : Tile
        The tile.
    cells : ndarray of int
        Sorted flat indices into ``tile.core``.
    threads : int, optional
        Unused.

    Returns
    -------
    ndarray of float32
    """
    win = tile.core
    layer, column = params["layer"], params["column"]
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


def compile_kernels() -> None:
    """Load (or compile) this module's compiled kernels now rather than in the first task."""
    slope_at(np.ones((3, 3)), np.array([0]), 1, 0, 0, 1, 0, 0, np.empty(1, np.float32))
