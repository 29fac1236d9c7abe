"""Bilinear samples of raster layers at points: the values of gridded inputs at candidate cells."""
from __future__ import annotations

import functools

import numba
import numpy as np
import rasterio
import rasterio.windows

from sitesel.io.raster import raster_info

__all__ = ["compile_kernels", "sample_raster"]


@functools.lru_cache(maxsize=8)
def _transformer(src: str, dst: str):
    # Kept: building a transformer costs more than transforming a tile's cells.
    from pyproj import Transformer

    return Transformer.from_crs(src, dst, always_xy=True)


def sample_raster(spec, crs, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples of a raster layer at points ``x, y`` (in ``crs``); NaN where no data.

    Points are projected exactly and interpolated from the four surrounding source pixels
    (weights renormalised over those with data), so a point's value never depends on which
    other points are sampled with it.

    Parameters
    ----------
    spec : sitesel.io.manifest.LayerSpec
        The raster layer (its first file, band, nodata and scale).
    crs : str or CRS
        The CRS of the points.
    x, y : ndarray
        The points (any shape, the same for both).

    Returns
    -------
    ndarray of float32
        The points' shape; values times the layer's ``scale``.
    """
    out = np.full(np.shape(x), np.nan, dtype=np.float32)
    if not np.size(x):
        return out
    info = raster_info(spec)
    sx, sy = _transformer(str(crs), str(info["crs"])).transform(x, y)
    with rasterio.open(spec.sources[0].path) as ds:
        inv = ~ds.transform
        sx, sy = np.asarray(sx, dtype=np.float64), np.asarray(sy, dtype=np.float64)
        # Relative to pixel centres.
        col = inv.a * sx + inv.b * sy + inv.c - 0.5
        row = inv.d * sx + inv.e * sy + inv.f - 0.5
        ok = np.isfinite(col) & np.isfinite(row)
        if not ok.any():
            return out
        c0 = int(max(np.floor(col[ok].min()), 0))
        r0 = int(max(np.floor(row[ok].min()), 0))
        c1 = int(min(np.floor(col[ok].max()) + 2, ds.width))
        r1 = int(min(np.floor(row[ok].max()) + 2, ds.height))
        if c1 <= c0 or r1 <= r0:
            return out
        data = ds.read(spec.band, window=rasterio.windows.Window(c0, r0, c1 - c0, r1 - r0)).astype(np.float64)
        nodata = spec.nodata if spec.nodata is not None else ds.nodata
    if nodata is not None:
        data[data == nodata] = np.nan
    fx, fy = col - c0, row - r0
    _bilinear(data, fx.ravel(), fy.ravel(), ok.ravel(), float(spec.scale), out.reshape(-1))
    return out


@numba.njit(nogil=True, cache=True)
def _bilinear(data, fx, fy, ok, scale, out):  # pragma: no cover - compiled
    # The four neighbours in a fixed order, each weight and sum taken as in float64 numpy, so a
    # value is the same bit for bit whichever points it is sampled with.
    h, w = data.shape
    for i in range(fx.shape[0]):
        if not ok[i]:
            continue
        x0 = np.int64(np.floor(fx[i]))
        y0 = np.int64(np.floor(fy[i]))
        wx = fx[i] - x0
        wy = fy[i] - y0
        acc = 0.0
        wsum = 0.0
        for k in range(4):
            dy, dx = k // 2, k % 2
            wt = (wy if dy else 1 - wy) * (wx if dx else 1 - wx)
            yy, xx = y0 + dy, x0 + dx
            if wt > 0 and 0 <= yy < h and 0 <= xx < w:
                v = data[yy, xx]
                if np.isfinite(v):
                    acc += v * wt
                    wsum += wt
        if wsum > 0:
            out[i] = np.float32(acc / wsum * scale)


def compile_kernels() -> None:
    """Load (or compile) this module's compiled kernel now rather than in the first task."""
    ok = np.ones(2, bool)
    _bilinear(np.ones((2, 2)), np.array([0.2, 0.5]), np.array([0.5, 0.2]), ok, 1.0, np.empty(2, np.float32))
