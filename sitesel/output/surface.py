"""``suitability.tif``: the score surface of a run as a Cloud-Optimized GeoTIFF."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

from sitesel.output.cog import write_cog

__all__ = ["SURFACE_FAILED", "SURFACE_PART", "region_window", "write_surface"]

#: Marker left in a run folder when writing its surface failed (a picture waiting for it gives up).
SURFACE_FAILED = ".suitability.tif.failed"
#: Name the surface is written under until complete, then renamed to ``suitability.tif``.
SURFACE_PART = ".suitability.tif.part"


def region_window(study) -> Window:
    """The grid window covering the region (the grid itself extends past it).

    Parameters
    ----------
    study : sitesel.study.core.Study

    Returns
    -------
    rasterio.windows.Window
    """
    grid = study.grid
    xmin, ymin, xmax, ymax = study.region.geometry.bounds
    c0 = max(int((xmin - grid.xmin) // grid.res), 0)
    r0 = max(int((grid.ymax - ymax) // grid.res), 0)
    c1 = min(int(np.ceil((xmax - grid.xmin) / grid.res)), grid.width)
    r1 = min(int(np.ceil((grid.ymax - ymin) / grid.res)), grid.height)
    return Window(c0, r0, c1 - c0, r1 - r0)


def write_surface(result, study, folder: Path) -> None:
    """Write the 0-100 score surface as a COG (NaN nodata), cropped to the region.

    Parameters
    ----------
    result : sitesel.analysis.ranking.RankResult
        Provides ``score_window``.
    study : sitesel.study.core.Study
        Its grid and region.
    folder : Path
        The run folder; gets ``suitability.tif``, or :data:`SURFACE_FAILED` if writing fails.
    """
    grid = study.grid
    win = region_window(study)
    r0, c0 = win.row_off, win.col_off
    data = result.score_window(r0, c0, win.height, win.width, scale=100.0)
    # Written under another name and renamed when complete: a picture being drawn meanwhile in
    # another process waits for the name to appear.
    part = folder / SURFACE_PART
    try:
        write_cog(part, data, grid.crs, rasterio.windows.transform(win, grid.transform),
                  tags={"units": "score 0-100",
                        "description": "sitesel suitability (weighted sum); nodata = infeasible"})
        os.replace(part, folder / "suitability.tif")
    except BaseException:
        (folder / SURFACE_FAILED).touch()  # the picture stops waiting for it
        raise
