import numpy as np
import pytest

from sitesel.analysis.valuefn import value_function
from sitesel.errors import ProfileError


def vf(**kw):
    return value_function(kw, "test")


def test_linear_decreasing_and_increasing_clamped():
    f = vf(function="linear", best=0, worst=30)
    np.testing.assert_allclose(f([-5, 0, 15, 30, 60]), [1, 1, 0.5, 0, 0])
    g = vf(function="linear", best=7, worst=4)
    np.testing.assert_allclose(g([3, 4, 5.5, 7, 9]), [0, 0, 0.5, 1, 1])


def test_step_counts_thresholds_at_or_below():
    f = vf(function="step", thresholds=[230, 345, 500], scores=[0, 0.5, 0.8, 1])
    np.testing.assert_allclose(f([0, 229, 230, 344, 345, 500, 765]), [0, 0, 0.5, 0.5, 0.8, 1, 1])


def test_logistic_midpoint_and_direction():
    up = vf(function="logistic", midpoint=100, width=10, increasing=True)
    down = vf(function="logistic", midpoint=100, width=10, increasing=False)
    assert up([100])[0] == pytest.approx(0.5)
    assert up([200])[0] > 0.99 and down([200])[0] < 0.01


def test_gaussian_peaks_at_ideal():
    f = vf(function="gaussian", ideal=0, spread=4)
    s = f([0, 4, 8])
    assert s[0] == 1 and s[1] == pytest.approx(np.exp(-0.5)) and s[2] < s[1]


def test_missing_values_get_the_missing_score():
    f = vf(function="linear", best=0, worst=10, missing=0.25)
    np.testing.assert_allclose(f([np.nan, 5]), [0.25, 0.5])


@pytest.mark.parametrize("spec, msg", [
    (dict(function="cubic"), "function must be one of"),
    (dict(function="linear", best=1), "needs worst"),
    (dict(function="linear", best=1, worst=1), "must differ"),
    (dict(function="step", thresholds=[2, 1], scores=[0, 1, 1]), "ascending"),
    (dict(function="step", thresholds=[1], scores=[0]), "one more score"),
    (dict(function="logistic", midpoint=0, width=0, increasing=True), "positive"),
    (dict(function="gaussian", ideal=0, spread="4"), "is the text .4.; write a bare number"),
])
def test_invalid_functions_are_refused(spec, msg):
    with pytest.raises(ProfileError, match=msg):
        value_function(spec, "x")
