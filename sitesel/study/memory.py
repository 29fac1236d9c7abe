"""How much memory a study may use, and whether its grid fits before any work is done.

The measures are computed in tiles sized to a per-task budget (see
:func:`sitesel.measures.engine.plan_tiles`), so only what cannot be tiled is counted here: the
per-candidate vectors and the region-sized rasters of the outputs.
"""
from __future__ import annotations

import math
import os

from sitesel.errors import RegionError
from sitesel.study.grid import Grid

__all__ = ["BYTES_PER_CANDIDATE", "DEFAULT_TASK_BYTES", "base_memory", "check_fits", "memory_budget", "task_budget"]

#: Default working-memory budget of one task (bytes); tiles are sized to fit it.
DEFAULT_TASK_BYTES = 3 * 2**30
#: Bytes per candidate cell held by the main process: cell index, agency, ~20 measures (float32)
#: and the per-park feasible cells and scores.
BYTES_PER_CANDIDATE = 8 + 1 + 20 * 4 + 16


def memory_budget() -> int:
    """Bytes a study may use by default: 80 % of this machine's memory (0 if unknown)."""
    try:
        return int(0.8 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


def task_budget(budget: int, workers: int) -> int:
    """Bytes one task may use: an even share of half the budget, at most the default.

    Parameters
    ----------
    budget : int
        Bytes the study may use (0: unknown, then :data:`DEFAULT_TASK_BYTES`).
    workers : int
        Tasks that run at once.

    Returns
    -------
    int
    """
    if not budget:
        return DEFAULT_TASK_BYTES
    return int(max(2**28, min(DEFAULT_TASK_BYTES, budget / 2 / max(1, workers))))


def base_memory(grid: Grid, region_geom) -> int:
    """Bytes a study needs whatever the tiling.

    Per-candidate vectors (every cell of the region, the worst case, as with ``land='all'``)
    and one region-sized score raster per output writer.

    Parameters
    ----------
    grid : Grid
        The analysis grid.
    region_geom : shapely geometry
        The region, in the grid's CRS.

    Returns
    -------
    int
    """
    xmin, ymin, xmax, ymax = region_geom.bounds
    region_cells = (xmax - xmin) * (ymax - ymin) / (grid.res * grid.res)
    share = min(1.0, region_geom.area / max((xmax - xmin) * (ymax - ymin), 1.0))
    return int(region_cells * share * BYTES_PER_CANDIDATE + region_cells * 4 * 3)


def check_fits(grid: Grid, region_geom, label: str, budget: int) -> None:
    """Refuse a grid whose untileable arrays alone would not fit ``budget``, naming a resolution that would.

    Parameters
    ----------
    grid : Grid
        The analysis grid.
    region_geom : shapely geometry
        The region, in the grid's CRS.
    label : str
        The region's name, for the message.
    budget : int
        Bytes available (0: unknown, nothing is refused).

    Raises
    ------
    RegionError
        The grid does not fit.
    """
    need = base_memory(grid, region_geom)
    if budget and need > budget:
        res = grid.res
        fit = res * math.sqrt(need / budget) * 1.05
        raise RegionError(
            f"a {grid.width:,} x {grid.height:,} grid of {res:g} m cells for {label} needs about "
            f"{need / 2**30:.1f} GiB even when tiled, more than the {budget / 2**30:.1f} GiB available; "
            f"use {{opt:resolution={math.ceil(fit / 10) * 10:g}}} or coarser, a smaller region, or "
            "{opt:memory_gib|memory} on a larger machine")
