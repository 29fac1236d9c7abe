"""Sums over a disc around cells: people within 80 km, megawatts within 50 km.

Values are whole numbers (of a quantum chosen by the caller), so every sum is exact and the same
however the grid is tiled. Three ways to the same sums, each cheapest somewhere:

* :func:`disc_sum_at`: at chosen cells only, one running sum per row and two look-ups per row of
  the disc (``2r + 1`` rows), cheapest when the cells wanted are a small part of the grid;
* :func:`disc_sum`: at every cell, by FFT convolution, cheapest for dense cells or wide discs;
* :func:`point_disc_sum`: of values at points, each disc row added into a difference array.
"""
from __future__ import annotations

import functools
import math
import os

import numba
import numpy as np
import scipy.fft

__all__ = ["disc_half_widths", "disc_kernel", "disc_sum", "disc_sum_at", "point_disc_sum"]


def disc_kernel(radius_cells: float) -> np.ndarray:
    """Cells whose centres lie within ``radius_cells`` of the centre cell.

    Parameters
    ----------
    radius_cells : float
        Radius of the disc in cells.

    Returns
    -------
    ndarray of float64
        ``(2r + 1, 2r + 1)`` ones and zeros, ``r = floor(radius_cells)``.
    """
    r = int(math.floor(radius_cells))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    return ((yy * yy + xx * xx) <= radius_cells * radius_cells).astype(np.float64)


@functools.lru_cache(maxsize=5)
def _kernel_fft(radius_cells: float, shape: tuple[int, int], workers: int) -> np.ndarray:
    # Kept: every tile of a tiling shares one transform shape, and so one kernel transform.
    k = disc_kernel(radius_cells)
    r = k.shape[0] // 2
    full = np.zeros(shape, dtype=np.float64)
    full[: k.shape[0], : k.shape[1]] = k
    # Centre the disc on cell (0, 0) of the circular array.
    full = np.roll(full, (-r, -r), axis=(0, 1))
    return scipy.fft.rfft2(full, workers=workers)


def disc_sum(values: np.ndarray, radius_cells: float, fft_shape: tuple[int, int] | None = None,
             workers: int | None = None) -> np.ndarray:
    """Sum of whole-number ``values`` within a disc around each cell, exactly (float64).

    The convolution is circular over ``fft_shape`` (at least the array's shape), which is exact
    for every cell at least ``radius_cells`` from the array's far edges, and for all cells when
    ``fft_shape`` exceeds the shape by the radius.

    Parameters
    ----------
    values : ndarray, 2-D
        Whole numbers (exact while totals stay below 2**53).
    radius_cells : float
        Radius of the disc; a cell counts when its centre is within it (see :func:`disc_kernel`).
    fft_shape : tuple of int, optional
        Shape of the transform (default: the array's plus the radius, rounded up to a fast size).
    workers : int, optional
        Threads each FFT may use (default: one per core); the sums are the same.

    Returns
    -------
    ndarray of float64
        The array's shape.
    """
    workers = workers or os.cpu_count() or 1
    h, w = values.shape
    if fft_shape is None:
        r = int(math.ceil(radius_cells))
        fft_shape = (scipy.fft.next_fast_len(h + r, real=True), scipy.fft.next_fast_len(w + r, real=True))
    # No copy when the values come already padded to the transform's shape, as float64.
    spec = scipy.fft.rfft2(np.asarray(values, dtype=np.float64), s=fft_shape, workers=workers)
    spec *= _kernel_fft(radius_cells, tuple(fft_shape), workers)
    out = scipy.fft.irfft2(spec, s=fft_shape, workers=workers)[:h, :w]
    # The inputs are whole numbers, so rounding removes the FFT's round-off exactly.
    np.rint(out, out=out)
    np.maximum(out, 0.0, out=out)
    return out


def disc_half_widths(radius_cells: float) -> np.ndarray:
    """Half-width (cells) of each row of :func:`disc_kernel`, from row ``-r`` to ``r``.

    Parameters
    ----------
    radius_cells : float
        Radius of the disc in cells.

    Returns
    -------
    ndarray of int64
    """
    r = math.floor(radius_cells)
    dy = np.arange(-r, r + 1, dtype=np.int64)
    r2 = radius_cells * radius_cells
    half = np.floor(np.sqrt(np.maximum(r2 - dy * dy, 0.0))).astype(np.int64)
    # The same test as the kernel's, in case the square root rounded across a whole number.
    half += (half + 1) ** 2 + dy * dy <= r2
    half -= half * half + dy * dy > r2
    return half


def point_disc_sum(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int],
                   radius_cells: float) -> np.ndarray:
    """Sum of point ``values`` within a disc around each cell of an array of ``shape``.

    The same sums as :func:`disc_sum` of the points burnt into cells, for whole-number
    ``values`` (exact while totals stay below 2**53). Points may lie outside the array.

    Parameters
    ----------
    rows, cols : numpy.ndarray
        Cell of each point, relative to the array's first cell.
    values : numpy.ndarray
        Whole numbers.
    shape : tuple of int
        ``(height, width)`` of the result.
    radius_cells : float
        Radius of the disc; a cell counts when its centre is within it (see :func:`disc_kernel`).

    Returns
    -------
    ndarray of float64
        ``shape``.
    """
    h, w = shape
    half = disc_half_widths(radius_cells)
    r = len(half) // 2
    dy = np.arange(-r, r + 1, dtype=np.int64)
    rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
    y = rows[:, None] + dy[None, :]
    x0 = np.maximum(cols[:, None] - half[None, :], 0)
    x1 = np.minimum(cols[:, None] + half[None, :] + 1, w)
    ok = (y >= 0) & (y < h) & (x0 < x1)
    v = np.broadcast_to(np.asarray(values, np.float64)[:, None], y.shape)[ok]
    y = y[ok] * (w + 1)
    # Each row of each disc adds the value from x0 and takes it off again at x1.
    diff = np.bincount(np.concatenate([y + x0[ok], y + x1[ok]]), weights=np.concatenate([v, -v]),
                       minlength=h * (w + 1)).reshape(h, w + 1)
    return np.cumsum(diff, axis=1, out=diff)[:, :w]


@numba.njit(nogil=True, cache=True)
def _sums_at(prefix, half, rows, cols, out):  # pragma: no cover - compiled
    # Cells come sorted by row. Within a grid row, cells in consecutive columns form runs: for
    # each row of the disc, a run's look-ups are two contiguous stretches of that row's running
    # sum, read once, in a loop the compiler vectorises.
    h = prefix.shape[0]
    w = prefix.shape[1] - 1
    r = half.shape[0] // 2
    n = rows.shape[0]
    i = 0
    while i < n:
        y = rows[i]
        j = i
        while j < n and rows[j] == y:
            out[j] = 0.0
            j += 1
        a = i
        while a < j:
            b = a + 1
            while b < j and cols[b] == cols[b - 1] + 1:
                b += 1
            m = b - a
            x0 = cols[a]
            for k in range(max(0, r - y), min(2 * r + 1, h - y + r)):
                row = prefix[y - r + k]
                lo = x0 - half[k]
                hi = x0 + half[k] + 1
                # Look-ups inside the row need no clamping: t in [t0, t1).
                t0 = min(max(0, -lo), m)
                t1 = max(min(m, w - hi + 1), t0)
                for t in range(t0):
                    out[a + t] += row[min(hi + t, w)] - row[max(lo + t, 0)]
                for t in range(t0, t1):
                    out[a + t] += row[hi + t] - row[lo + t]
                for t in range(t1, m):
                    out[a + t] += row[min(hi + t, w)] - row[max(lo + t, 0)]
            a = b
        i = j


def disc_sum_at(values: np.ndarray, radius_cells: float, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Sum of whole-number ``values`` within a disc around cells ``(rows, cols)``, exactly.

    The same sums as :func:`disc_sum` at those cells (cells outside ``values`` count as zero),
    in ``(2r + 1)`` steps a cell instead of an FFT of the whole array.

    Parameters
    ----------
    values : ndarray, 2-D
        Whole numbers (exact while totals stay below 2**53).
    radius_cells : float
        Radius of the disc; a cell counts when its centre is within it (see :func:`disc_kernel`).
    rows, cols : ndarray of int
        The cells wanted.

    Returns
    -------
    ndarray of float64
    """
    h, w = values.shape
    prefix = np.zeros((h, w + 1), dtype=np.float64)
    np.cumsum(values, axis=1, out=prefix[:, 1:])
    rows = np.asarray(rows, np.int64)
    cols = np.asarray(cols, np.int64)
    order = None if bool(np.all(rows[1:] >= rows[:-1])) else np.argsort(rows, kind="stable")
    out = np.empty(rows.shape, dtype=np.float64)
    if order is None:
        _sums_at(prefix, disc_half_widths(radius_cells), rows, cols, out)
    else:
        _sums_at(prefix, disc_half_widths(radius_cells), rows[order], cols[order], out)
        out[order] = out.copy()
    return out
