"""The ranking result's rasters, laid out from its feasible cells."""
from __future__ import annotations

import numpy as np

from sitesel.analysis.ranking import Result
from sitesel.study.grid import Grid


def test_score_window_lays_out_the_cells_of_any_window():
    g = Grid("EPSG:5070", 500.0, 0.0, 0.0, 37, 23)
    rng = np.random.default_rng(4)
    cells = np.sort(rng.choice(g.size, 300, replace=False))
    scores = rng.random(300, dtype=np.float32)
    res = Result(profile=None, sites=None, cells=cells, cell_score=scores, grid=g, land="federal")
    whole = np.full(g.size, np.nan, np.float32)
    whole[cells] = scores
    whole = whole.reshape(g.shape)
    assert np.array_equal(res.score_window(0, 0, g.height, g.width), whole, equal_nan=True)
    for row, col, h, w in ((3, 5, 10, 20), (0, 30, 23, 7), (22, 36, 1, 1), (5, 0, 0, 4)):
        want = whole[row:row + h, col:col + w] * np.float32(100)
        got = res.score_window(row, col, h, w, scale=100.0)
        assert got.dtype == np.float32 and np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(res.score, whole, equal_nan=True)
