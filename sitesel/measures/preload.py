"""Imported by the worker pool's fork server (see :mod:`sitesel.measures.executors`): every compiled
kernel is loaded from numba's cache (or compiled) here, once, so that each forked worker starts
with them in memory instead of loading each on its first task."""
from __future__ import annotations

import numpy as np

from sitesel.analysis.ranking import Result
from sitesel.measures import discs, distance, focal, local, sampling
from sitesel.output import cog
from sitesel.study.grid import Grid

__all__: list[str] = []


def _load_kernels() -> None:
    mask = np.zeros((3, 3), bool)
    mask[1, 1] = True
    rows, cols = np.array([0, 2]), np.array([0, 2])
    distance.squared_distances_at(mask, rows, cols, 2.0)
    distance.squared_distances_at(mask, rows.astype(np.int32), cols.astype(np.int32), 2.0)
    distance.squared_distances(mask, 2.0)
    discs.disc_sum_at(np.ones((3, 3)), 1.0, rows, cols)
    local.compile_kernels()
    focal.compile_kernels()
    sampling.compile_kernels()
    cog.overview_levels(np.ones((3, 3), np.float32), blocksize=1)
    # The score raster's scatter kernel, through the method the writers call. Loading it here only
    # saves time, and an error here would stop the fork server: a kernel left cold loads on first use.
    try:
        tiny = Result(profile=None, sites=None, cells=np.array([0, 4]), cell_score=np.ones(2, np.float32),
                      grid=Grid("EPSG:5070", 1.0, 0.0, 0.0, 3, 3), land="federal")
        tiny.score_window(0, 0, 3, 3)
    except (TypeError, AttributeError, ValueError):
        pass


_load_kernels()
