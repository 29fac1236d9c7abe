"""Imported by the worker pool's fork server (see :mod:`sitesel.measures.engine`): every compiled kernel is
loaded from numba's cache (or compiled) here, once, so that each forked worker starts with them
in memory instead of paying ~0.1-0.5 s per kernel on its first task."""
from __future__ import annotations

import numpy as np

from sitesel.output import cog
from sitesel.measures import discs, distance, catalogue as measures, sampling
from sitesel.analysis import ranking as rank


def _load_kernels() -> None:
    mask = np.zeros((3, 3), bool)
    mask[1, 1] = True
    rows, cols = np.array([0, 2]), np.array([0, 2])
    distance.squared_distances_at(mask, rows, cols, 2.0)
    distance.squared_distances_at(mask, rows.astype(np.int32), cols.astype(np.int32), 2.0)
    distance.squared_distances(mask, 2.0)
    discs.disc_sum_at(np.ones((3, 3)), 1.0, rows, cols)
    measures._slope_at(np.ones((3, 3)), np.array([0]), 1, 0, 0, 1, 0, 0, np.empty(1, np.float32))
    measures._gather(np.ones(2), np.zeros((2, 2), np.int16), np.empty((2, 2)))
    cog.overview_levels(np.ones((3, 3), np.float32), blocksize=1)
    out = np.empty((3, 3), np.float32)
    rank._scatter(np.array([0, 4]), np.ones(2, np.float32), 3, 0, 0, np.float32(1.0), out)
    ok = np.ones(2, bool)
    sampling._bilinear(np.ones((2, 2)), np.array([0.2, 0.5]), np.array([0.5, 0.2]), ok, 1.0, np.empty(2, np.float32))


_load_kernels()
