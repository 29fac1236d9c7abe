"""Distance measures: how far each candidate cell is from the nearest of some features, capped.

An exact Euclidean distance transform (:mod:`sitesel.measures.distance`) from the rasterised
features, capped at the study's ``cap_km`` (farther is ``inf``). Squared distances are whole
numbers of cells, so the values do not depend on how the grid is tiled; a tile's halo of the
cap covers everything its core depends on.
"""
from __future__ import annotations

import os

import numpy as np

from sitesel.measures import distance
from sitesel.study.grid import Tile, Window, burn

__all__ = ["PaddedRowsCols", "capped_distance_at", "capped_distance_km", "distance_measure", "features_mask",
           "rows_cols_in_padded"]


def capped_distance_km(mask: np.ndarray, res: float, cap_km: float,
                       at: tuple[np.ndarray, np.ndarray] | None = None, threads: int | None = None) -> np.ndarray:
    """Distance (km) from each cell centre to the nearest True cell; ``inf`` beyond ``cap_km``.

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
    threads : int, optional
        Threads the transform may use (default: one per core). The values are the same.

    Returns
    -------
    ndarray of float32
        The mask's shape, or one value per cell of ``at``.
    """
    threads = threads or os.cpu_count() or 1
    cap_cells = cap_km * 1000.0 / res
    if at is None:
        if not mask.any():
            return np.full(mask.shape, np.inf, dtype=np.float32)
        d2 = distance.squared_distances(mask, cap_cells, threads=threads)
    else:
        d2 = distance.squared_distances_at(mask, at[0], at[1], cap_cells, threads=threads)
    return _cells_to_km(d2, res, cap_km)


def capped_distance_at(mask: np.ndarray, rows: np.ndarray, cols: np.ndarray, res: float,
                       cap_km: float, threads: int | None = None) -> np.ndarray:
    """Distances (km) from cells ``(rows, cols)`` to the nearest True cell of ``mask``.

    The values of :func:`capped_distance_km` over the whole mask (``inf`` beyond ``cap_km``).
    The transform runs only over the part of ``mask`` that can matter: the cells within the cap
    of the features' box, and the features within the cap of those cells (see
    :func:`sitesel.measures.distance.squared_distances_at`).

    Parameters
    ----------
    mask : ndarray of bool
        The features' cells.
    rows, cols : ndarray of int
        The cells wanted.
    res : float
        Cell size in metres.
    cap_km : float
        Distances beyond this are ``inf``.
    threads : int, optional
        Threads the transform may use (default: one per core).

    Returns
    -------
    ndarray of float32
    """
    return capped_distance_km(mask, res, cap_km, at=(rows, cols), threads=threads)


def _cells_to_km(d2: np.ndarray, res: float, cap_km: float) -> np.ndarray:
    """Squared distances in cells (whole numbers, float32) to km, in place; ``inf`` beyond ``cap_km``."""
    d = np.sqrt(d2, out=d2)
    far = d > np.float32(cap_km * 1000.0 / res)
    d *= np.float32(res / 1000.0)
    d[far] = np.inf
    return d


def features_mask(inputs, feats, window: Window) -> np.ndarray:
    """Cells of ``window`` that the features touch.

    Parameters
    ----------
    inputs : sitesel.study.inputs.Inputs
        The study's layers in this process.
    feats : sequence of (layer, column, minimum)
        The features: those of each layer with ``column >= minimum`` (all when ``column`` is None).
    window : Window
        Where to rasterise them.

    Returns
    -------
    ndarray of bool
    """
    mask = None
    for layer, column, minimum in feats:
        geoms = inputs.pixel_features(layer, column, minimum, window)
        if len(geoms):
            burnt = burn(geoms, window, all_touched=True).view(bool)
            mask = burnt if mask is None else np.logical_or(mask, burnt, out=mask)
    return np.zeros(window.shape, dtype=bool) if mask is None else mask


class PaddedRowsCols:
    """Rows and columns in a padded tile of cells given as flat indices into its core.

    The last answer is kept: a worker's distance measures usually share a tile and its cells
    (the engine hands them the very same array, see :func:`sitesel.measures.engine.core_cells`),
    and dividing millions of indices again for each would cost more than the look-up.
    """

    def __init__(self) -> None:
        self._last: tuple | None = None  # (cells, tile, rows, cols)

    def __call__(self, tile: Tile, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows and columns (int32 when they fit) in ``tile.padded`` of ``cells`` of its core."""
        last = self._last
        if last is not None and last[0] is cells and last[1] == tile:
            return last[2], last[3]
        rs, cs = tile.core_in_padded
        # int32 division is faster, and core windows are far below 2**31 cells.
        small = tile.core.height * tile.core.width < 2**31
        rows, cols = np.divmod(cells.astype(np.int32) if small else cells, tile.core.width)
        rows += rs.start
        cols += cs.start
        self._last = (cells, tile, rows, cols)
        return rows, cols

    def clear(self) -> None:
        """Forget the last answer."""
        self._last = None


#: This process's memo of :class:`PaddedRowsCols` (one answer: the arrays of the current task).
rows_cols_in_padded = PaddedRowsCols()


def distance_measure(params: dict, inputs, tile: Tile, cells: np.ndarray, threads: int | None = None) -> np.ndarray:
    """Capped distances (km) at ``cells`` (flat indices into the tile's core) to the features.

    Parameters
    ----------
    params : dict
        The measure's parameters: ``features``, a sequence of (layer, column, minimum).
    inputs : sitesel.study.inputs.Inputs
        The study's layers in this process.
    tile : Tile
        The tile; its halo must cover the cap.
    cells : ndarray of int
        Sorted flat indices into ``tile.core``.
    threads : int, optional
        Threads the transform may use (default: one per core).

    Returns
    -------
    ndarray of float32
        ``inf`` beyond the study's cap.
    """
    grid, cap = inputs.spec.grid, inputs.spec.cap_km
    mask = features_mask(inputs, params["features"], tile.padded)
    if not cells.size:
        return np.full(0, np.inf, dtype=np.float32)
    rows, cols = rows_cols_in_padded(tile, cells)
    return capped_distance_at(mask, rows, cols, grid.res, cap, threads=threads)
