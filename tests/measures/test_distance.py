"""The capped exact distance transform against scipy's exact transform."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from sitesel.measures.distance import reach_cells, squared_distances, squared_distances_at


def _exact_sq(mask: np.ndarray) -> np.ndarray:
    """scipy's exact Euclidean transform, squared; inf where there is no feature at all."""
    if not mask.any():
        return np.full(mask.shape, np.inf)
    return np.rint(ndimage.distance_transform_edt(~mask) ** 2)


def _agrees(got: np.ndarray, want: np.ndarray, cap: float) -> None:
    """Exact within the cap, and beyond the cap wherever the truth is."""
    within = want <= cap * cap
    assert np.array_equal(got[within], want[within].astype(np.float32))
    assert (got[~within] > cap * cap).all()


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), density=st.sampled_from([0.0, 0.002, 0.02, 0.3]),
       cap=st.floats(0.5, 60.0), threads=st.integers(1, 3), seed=st.integers(0, 2**31 - 1))
def test_every_cell_is_exact_within_the_cap(h, w, density, cap, threads, seed):
    rng = np.random.default_rng(seed)
    mask = rng.random((h, w)) < density
    want = _exact_sq(mask)
    _agrees(squared_distances(mask, cap, threads=threads), want, cap)
    rows, cols = rng.integers(0, h, 50), rng.integers(0, w, 50)  # unsorted, with repeats
    _agrees(squared_distances_at(mask, rows, cols, cap, threads=threads), want[rows, cols], cap)


def test_uncapped_transform_is_exact_everywhere():
    rng = np.random.default_rng(1)
    mask = np.zeros((301, 517), bool)
    mask[rng.integers(0, 301, 12), rng.integers(0, 517, 12)] = True
    assert np.array_equal(squared_distances(mask, threads=2), _exact_sq(mask).astype(np.float32))


def test_features_far_outside_the_cap_do_not_count():
    mask = np.zeros((10, 400), bool)
    mask[5, 0] = True
    d2 = squared_distances(mask, 100.0)
    assert d2[5, 100] == 100 * 100 and d2[0, 100] == 100 * 100 + 25
    assert (d2[:, 102:] > 100 * 100).all()
    assert reach_cells(100.0) == 101 and reach_cells(100.5) == 101


def test_no_cells_and_no_features():
    mask = np.zeros((20, 30), bool)
    assert squared_distances_at(mask, np.zeros(0, int), np.zeros(0, int), 5.0).shape == (0,)
    assert np.isinf(squared_distances_at(mask, np.array([3, 1]), np.array([4, 2]), 5.0)).all()
    assert np.isinf(squared_distances(mask, 5.0)).all()


@pytest.mark.parametrize("cap_km", [15.0, 150.0])
def test_real_lines_over_a_region(national, cap_km):
    """The >= 230 kV lines burnt over four states at 1 km: every candidate-like cell exact."""
    from sitesel.study.core import Study
    from sitesel.study.grid import Window, burn, to_pixel_space
    from sitesel.study.region import resolve_region

    region = resolve_region(national, "AZ,NM,NV,UT", None)
    with Study.open(national, region, 1000, use_cache=True, workers=1) as stdy:
        g = stdy.grid
        lines = stdy.layer("transmission_lines")
        px = to_pixel_space(lines.geometry.values[lines["voltage_kv"].to_numpy() >= 230], g)
    mask = burn(px, Window(0, 0, g.height, g.width), all_touched=True).view(bool)
    assert 0.001 < mask.mean() < 0.2
    want = _exact_sq(mask)
    cap = cap_km * 1000.0 / g.res
    rng = np.random.default_rng(0)
    flat = np.sort(rng.choice(mask.size, mask.size // 7, replace=False))
    rows, cols = np.divmod(flat, g.width)
    for threads in (1, 2):
        _agrees(squared_distances_at(mask, rows, cols, cap, threads=threads), want[rows, cols], cap)
    _agrees(squared_distances(mask, cap, threads=2), want, cap)
    assert (want[rows, cols] <= cap * cap).mean() > 0.3 and (want > cap * cap).any()
