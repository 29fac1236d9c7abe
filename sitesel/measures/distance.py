"""Exact Euclidean distance transforms, capped, evaluated only where they are wanted.

The transform is Felzenszwalb and Huttenlocher's: the vertical distance to the nearest feature
in each column (two sweeps), then, along each row, the lower envelope of the parabolas
``(x - q)**2 + g(q)**2``. Squared distances are whole numbers of cells, and the envelope's tests
are exact integer comparisons (no floating-point division).

Three things make it cheaper here than a general transform (OpenCV's precise mode, the ``edt``
package, ``scipy.ndimage.distance_transform_edt``), with the same values:

* the vertical sweeps stop counting at the cap, so they fit in 16-bit integers and a column
  farther than the cap from any feature drops out of the row envelopes;
* only the window of the mask that can matter is transformed: the cells within the cap of the
  features' box, and the features within the cap of those cells;
* a study needs distances only at its candidate cells, so only their rows are enveloped, only
  over the columns within the cap of them, and the envelope is read only at their columns.

For distances at a tenth of the cells of a national grid that is several times less work than a
general transform of the whole grid (see ``benchmarks/README.md``). The kernels release the GIL:
:func:`squared_distances_at` and :func:`squared_distances` split their work over threads.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

__all__ = ["squared_distances", "squared_distances_at", "reach_cells"]


def reach_cells(cap_cells: float) -> int:
    """Vertical distance (cells) beyond which a feature cannot be the nearest within ``cap_cells``."""
    return int(math.floor(cap_cells)) + 1


@numba.njit(nogil=True, cache=True, inline="always")
def _sweep_down(mask, g, reach, R0, C0, c0, c1):  # pragma: no cover - compiled
    # g[r, c]: rows from (r, c) up to the nearest feature cell of column c, at most reach + 1,
    # over the window of mask whose first cell is (R0, C0) and whose shape is g's.
    # Arithmetic stays in g's own integer type (no widening), so the loops vectorise.
    h = g.shape[0]
    T = g.dtype.type
    far, one, zero = T(reach + 1), T(1), T(0)
    m = mask[R0, C0:]
    for c in range(c0, c1):
        g[0, c] = zero if m[c] else far
    for r in range(1, h):
        prev, cur, m = g[r - 1], g[r], mask[R0 + r, C0:]
        for c in range(c0, c1):
            v = min(T(prev[c] + one), far)
            cur[c] = zero if m[c] else v


@numba.njit(nogil=True, cache=True)
def _column_sweeps(mask, g, reach, R0, C0, c0, c1):  # pragma: no cover - compiled
    # g[r, c]: rows from (r, c) to the nearest feature cell of column c, either way, at most
    # reach + 1 (see _sweep_down).
    _sweep_down(mask, g, reach, R0, C0, c0, c1)
    h = g.shape[0]
    T = g.dtype.type
    one = T(1)
    for r in range(h - 2, -1, -1):
        nxt, cur = g[r + 1], g[r]
        for c in range(c0, c1):
            cur[c] = min(cur[c], T(nxt[c] + one))


@numba.njit(nogil=True, cache=True)
def _envelope(gr, reach, v, f, zn, zd, q0, q1):  # pragma: no cover - compiled
    # Lower envelope of the parabolas (x - q)**2 + g(q)**2 of the row's columns q0..q1-1; returns
    # how many it holds: their columns v, v**2 + g**2 in f, and where each begins to be the
    # lowest as the fraction zn / zd (zd > 0). The tests are exact in integers: a product is at
    # most (h**2 + w**2) * 2w, far below 2**63 for any grid that fits in memory, and a
    # multiplication costs less than the floating-point division it replaces.
    k = -1
    for q in range(q0, q1):
        gq = gr[q]
        if gq > reach:
            continue
        fq = np.int64(gq) * gq + np.int64(q) * q
        # Drop parabolas that the new one undercuts from where they begin to be lowest.
        while k > 0 and (fq - f[k]) * zd[k] <= zn[k] * (2 * (q - v[k])):
            k -= 1
        k += 1
        v[k] = q
        f[k] = fq
        if k > 0:
            zn[k] = fq - f[k - 1]
            zd[k] = 2 * (q - v[k - 1])
    return k + 1


@numba.njit(nogil=True, cache=True)
def _read(gr, n, v, f, cols, C0, i0, i1, out):  # pragma: no cover - compiled
    # The envelope of n parabolas (from _envelope) at columns cols[i0:i1] - C0, ascending, into out.
    if n == 0:
        for t in range(i0, i1):
            out[t] = np.inf
        return
    m = 0
    for t in range(i0, i1):
        c = cols[t] - C0
        # On to the next parabola while it is lower here (the squares of c cancel).
        while m + 1 < n and f[m + 1] - 2 * c * v[m + 1] < f[m] - 2 * c * v[m]:
            m += 1
        dc = c - v[m]
        gv = np.int64(gr[v[m]])
        out[t] = dc * dc + gv * gv


@numba.njit(nogil=True, cache=True)
def _row_cells(gr, reach, C0, c0, c1, cols, i, j, v, f, zn, zd, out):  # pragma: no cover - compiled
    # Cells i..j-1 of one row whose vertical distances are gr (from column C0); those outside
    # columns c0..c1-1 have no feature within the cap.
    # A cell's nearest feature within the cap lies fewer than `reach` columns away, so each
    # group of the row's cells (split where they are 2 * reach apart) needs only the parabolas
    # within reach of it: a row's cells rarely span the whole grid (over the lower 48 at 500 m,
    # 40 % of the columns at a 150 km cap, 20 % at 15 km).
    w = gr.shape[0]
    a = i
    while a < j:
        if cols[a] < c0 or cols[a] >= c1:
            out[a] = np.inf
            a += 1
            continue
        b = a + 1
        while b < j and cols[b] < c1 and cols[b] - cols[b - 1] <= 2 * reach:
            b += 1
        n = _envelope(gr, reach, v, f, zn, zd, max(cols[a] - reach - C0, 0), min(cols[b - 1] + reach + 1 - C0, w))
        _read(gr, n, v, f, cols, C0, a, b, out)
        a = b


@numba.njit(nogil=True, cache=True)
def _rows_at(g, reach, R0, C0, c0, c1, rows, cols, i0, i1, out):  # pragma: no cover - compiled
    # Cells i0..i1-1 (row-major), all in rows of g (swept, a window from (R0, C0)).
    w = g.shape[1]
    v = np.empty(w, np.int64)
    f = np.empty(w, np.int64)
    zn = np.empty(w, np.int64)
    zd = np.empty(w, np.int64)
    i = i0
    while i < i1:
        r = rows[i]
        j = i
        while j < i1 and rows[j] == r:
            j += 1
        _row_cells(g[r - R0], reach, C0, c0, c1, cols, i, j, v, f, zn, zd, out)
        i = j


@numba.njit(nogil=True, cache=True)
def _swept_rows_at(mask, g, reach, R0, C0, c0, c1, rows, cols, i0, i1, out):  # pragma: no cover - compiled
    # One thread's whole transform: the downward sweep into g, then the upward one row by row,
    # bottom to top, into a buffer that each row with cells is enveloped from at once. Against
    # the two sweeps and then the rows (:func:`_rows_at`), g is written once instead of twice
    # and its rows are not read back from memory.
    h, w = g.shape
    T = g.dtype.type
    one = T(1)
    _sweep_down(mask, g, reach, R0, C0, 0, w)
    v = np.empty(w, np.int64)
    f = np.empty(w, np.int64)
    zn = np.empty(w, np.int64)
    zd = np.empty(w, np.int64)
    # Two row buffers in turn: updating one buffer in place from itself does not vectorise
    # (6x slower here).
    bufs = np.empty((2, w), g.dtype)
    below, up = bufs[0], bufs[1]
    j = i1
    for r in range(h - 1, -1, -1):
        cur = g[r]
        if r == h - 1:
            for c in range(w):
                up[c] = cur[c]
        else:
            for c in range(w):
                up[c] = min(cur[c], T(below[c] + one))
        a = j
        while a > i0 and rows[a - 1] == R0 + r:
            a -= 1
        if a < j:
            _row_cells(up, reach, C0, c0, c1, cols, a, j, v, f, zn, zd, out)
            j = a
        below, up = up, below


@numba.njit(nogil=True, cache=True)
def _rows_all(g, reach, r0, r1, out):  # pragma: no cover - compiled
    w = g.shape[1]
    v = np.empty(w, np.int64)
    f = np.empty(w, np.int64)
    zn = np.empty(w, np.int64)
    zd = np.empty(w, np.int64)
    every = np.arange(w)
    for r in range(r0, r1):
        n = _envelope(g[r], reach, v, f, zn, zd, 0, w)
        _read(g[r], n, v, f, every, 0, 0, w, out[r])


def _vertical(mask: np.ndarray, reach: int, threads: int,
              window: tuple[int, int, int, int] | None = None) -> np.ndarray:
    # Column sweeps over mask[R0:R1, C0:C1] (all of it by default), read in place.
    mask = np.ascontiguousarray(mask, dtype=bool)
    R0, R1, C0, C1 = window or (0, mask.shape[0], 0, mask.shape[1])
    g = np.empty((R1 - R0, C1 - C0), dtype=np.int16 if reach < 2**15 - 2 else np.int32)
    edges = np.linspace(0, C1 - C0, max(1, threads) + 1).astype(int)
    _run(threads, [(_column_sweeps, (mask, g, reach, R0, C0, int(a), int(b)))
                   for a, b in zip(edges[:-1], edges[1:]) if b > a])
    return g


def _span(any_along: np.ndarray) -> tuple[int, int]:
    hit = np.flatnonzero(any_along)
    return (int(hit[0]), int(hit[-1]) + 1) if hit.size else (0, 0)


def _run(threads: int, calls: list) -> None:
    if threads <= 1 or len(calls) <= 1:
        for fn, args in calls:
            fn(*args)
        return
    with ThreadPoolExecutor(threads) as pool:
        for fut in [pool.submit(fn, *args) for fn, args in calls]:
            fut.result()


def squared_distances_at(mask: np.ndarray, rows: np.ndarray, cols: np.ndarray, cap_cells: float,
                         threads: int = 1) -> np.ndarray:
    """Squared distance (cells**2) from cells ``(rows, cols)`` to the nearest True cell of ``mask``.

    Exact for every cell within ``cap_cells`` of a feature; a cell farther away gets a value
    above ``cap_cells**2`` (often ``inf``).

    Parameters
    ----------
    mask : ndarray of bool, 2-D
        The features' cells.
    rows, cols : ndarray of int
        The cells wanted, in any order.
    cap_cells : float
        Distances beyond this need not be exact.
    threads : int
        Threads to split the work over.

    Returns
    -------
    ndarray of float32
        Whole numbers (below ``2**24`` they are exact in float32), in the order of ``rows``.
    """
    rows = np.asarray(rows)
    cols = np.asarray(cols)
    out = np.full(rows.shape, np.inf, dtype=np.float32)
    if not rows.size:
        return out
    reach = reach_cells(cap_cells)
    mask = np.ascontiguousarray(mask, dtype=bool)
    fr0, fr1 = _span(mask.any(axis=1))
    if fr0 == fr1:
        return out
    fc0, fc1 = _span(mask.any(axis=0))
    # Cells usually come sorted (a study's candidate cells are); else they are sorted here.
    order = None if _row_major(rows, cols) else np.lexsort((cols, rows))
    r = rows if order is None else rows[order]
    c = cols if order is None else cols[order]
    res = out if order is None else np.full_like(out, np.inf)
    # Only cells within reach of the features' box can have one within the cap, and only the
    # features within reach of those cells can be their nearest: the transform runs over that
    # window of the mask alone. Features confined to one region (765 kV lines), a few cells,
    # or the empty margin around a region then cost a fraction of the mask.
    r0, r1 = max(int(r[0]), fr0 - reach), min(int(r[-1]) + 1, fr1 + reach)
    c0, c1 = max(int(c.min()), fc0 - reach), min(int(c.max()) + 1, fc1 + reach)
    # Searched in the cells' own dtype: a list of Python ints would convert all of them to int64.
    i0, i1 = (int(x) for x in np.searchsorted(r, np.array([r0, r1], dtype=r.dtype)))
    if i0 < i1 and c0 < c1:
        R0, R1 = min(r0, max(fr0, r0 - reach)), max(r1, min(fr1, r1 + reach))
        C0, C1 = min(c0, max(fc0, c0 - reach)), max(c1, min(fc1, c1 + reach))
        if threads <= 1:
            g = np.empty((R1 - R0, C1 - C0), dtype=np.int16 if reach < 2**15 - 2 else np.int32)
            _swept_rows_at(mask, g, reach, R0, C0, c0, c1, r, c, i0, i1, res)
            if order is not None:
                out[order] = res
            return out
        g = _vertical(mask, reach, threads, (R0, R1, C0, C1))
        # Split at row boundaries so that no row's envelope is built twice.
        cuts = np.searchsorted(r, r[np.linspace(i0, i1, max(1, threads) + 1).astype(int)[1:-1]])
        edges = [i0, *sorted({int(x) for x in cuts}), i1]
        _run(threads, [(_rows_at, (g, reach, R0, C0, c0, c1, r, c, a, b, res))
                       for a, b in zip(edges[:-1], edges[1:]) if b > a])
    if order is not None:
        out[order] = res
    return out


@numba.njit(nogil=True, cache=True)
def _row_major(rows, cols):  # pragma: no cover - compiled
    for i in range(1, rows.shape[0]):
        if rows[i] < rows[i - 1] or (rows[i] == rows[i - 1] and cols[i] < cols[i - 1]):
            return False
    return True


def squared_distances(mask: np.ndarray, cap_cells: float | None = None, threads: int = 1) -> np.ndarray:
    """Squared distance (cells**2) from every cell to the nearest True cell of ``mask``.

    As :func:`squared_distances_at` over all cells; ``cap_cells=None`` makes every value exact.
    """
    h, w = mask.shape
    cap = float(h + w) if cap_cells is None else cap_cells
    reach = reach_cells(cap)
    out = np.empty((h, w), dtype=np.float32)
    if not out.size:
        return out
    g = _vertical(mask, reach, threads)
    edges = np.linspace(0, h, max(1, threads) + 1).astype(int)
    _run(threads, [(_rows_all, (g, reach, int(a), int(b), out)) for a, b in zip(edges[:-1], edges[1:]) if b > a])
    return out
