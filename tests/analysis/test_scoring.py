"""Properties of the weighted-sum score (hypothesis), on the built-in profiles and random ones.

- improving any criterion's raw value in its preferred direction never lowers a site's score;
- scaling every weight by the same positive constant changes nothing;
- scores stay within 0-100, whatever the raw values (missing, infinite, absurd).

"Preferred direction" is towards the value function's best point: towards ``best`` (linear),
the ``increasing`` side (logistic), ``ideal`` (gaussian), and the interval of the highest score
(step; step scores must rise to one peak and then fall, which the profile parser enforces).
"""
from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, reject, settings
from hypothesis import strategies as st

from sitesel.analysis.profiles import Criterion, Profile, list_profiles, load_profile
from sitesel.analysis.scoring import site_breakdown
from sitesel.analysis.valuefn import PLAUSIBLE, ValueFunction, value_function
from sitesel.errors import ProfileError
from sitesel.measures.catalogue import MEASURES

BUILTIN = [load_profile(n) for n in list_profiles()]
SETTINGS = settings(max_examples=int(os.environ.get("SITESEL_PROPERTY_EXAMPLES", "300")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def best_point(f: ValueFunction) -> float:
    """Where ``f`` peaks (+-inf for monotone functions that keep rising)."""
    p = f.params
    if f.kind == "linear":
        return float(p["best"])
    if f.kind == "logistic":
        return math.inf if p["increasing"] else -math.inf
    if f.kind == "gaussian":
        return float(p["ideal"])
    t, s = [float(v) for v in p["thresholds"]], [float(v) for v in p["scores"]]
    k = int(np.argmax(s))  # interval k is [t[k-1], t[k])
    lo = t[k - 1] if k > 0 else -math.inf
    hi = t[k] if k < len(t) else math.inf
    if math.isinf(lo):
        return hi - 1.0 if math.isfinite(hi) else 0.0
    if math.isinf(hi):
        return lo + 1.0
    return (lo + hi) / 2


def towards(x: float, target: float, share: float) -> float:
    """A value ``share`` of the way from ``x`` to ``target`` (a step of up to 1e6 for infinite targets)."""
    if math.isinf(target):
        return x + math.copysign(share * 1e6, target)
    return x + share * (target - x)


def _bounds(unit: str) -> tuple[float, float]:
    lo, hi, _ = PLAUSIBLE.get(unit, (0.0, 1e6, ""))
    return lo, hi


@st.composite
def value_functions(draw, unit: str) -> ValueFunction:
    lo, hi = _bounds(unit)
    num = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    kind = draw(st.sampled_from(["linear", "step", "logistic", "gaussian"]))
    spec: dict = {"function": kind, "missing": draw(st.floats(0, 1))}
    span = hi - lo
    if kind == "linear":
        best, worst = draw(num), draw(num)
        assume(best != worst)
        spec |= {"best": best, "worst": worst}
    elif kind == "step":
        t = sorted(draw(st.lists(num, min_size=1, max_size=5)))
        n = len(t) + 1
        peak = draw(st.integers(0, n - 1))
        up = sorted(draw(st.lists(st.floats(0, 1), min_size=peak, max_size=peak)))
        down = sorted(draw(st.lists(st.floats(0, 1), min_size=n - peak - 1, max_size=n - peak - 1)), reverse=True)
        top = max(up + down + [draw(st.floats(0, 1))])
        spec |= {"thresholds": t, "scores": up + [top] + down}
    elif kind == "logistic":
        spec |= {"midpoint": draw(num), "width": draw(st.floats(span * 1e-6 + 1e-6, span + 1)),
                 "increasing": draw(st.booleans())}
    else:
        spec |= {"ideal": draw(num), "spread": draw(st.floats(span * 1e-6 + 1e-6, span + 1))}
    try:
        return value_function(spec, "hypothesis", unit)
    except ProfileError:  # the parser refuses it (e.g. best == worst in float32): not a profile
        reject()


@st.composite
def profiles(draw) -> Profile:
    """A built-in profile, or a random one with 1-8 criteria on distinct measures."""
    if draw(st.booleans()):
        return draw(st.sampled_from(BUILTIN))
    measures = draw(st.lists(st.sampled_from(sorted(MEASURES)), min_size=1, max_size=8, unique=True))
    crits = []
    for i, m in enumerate(measures):
        w = draw(st.one_of(st.just(0.0), st.floats(1e-6, 1e6)))
        crits.append(Criterion(f"c{i}", m, w, draw(value_functions(MEASURES[m].unit))))
    if sum(c.weight for c in crits) == 0:
        crits[0] = Criterion(crits[0].key, crits[0].measure, 1.0, crits[0].function)
    return Profile("random", "random", "", 100.0, 1.0, ("BLM",), (), tuple(crits))


def raw_values(draw, profile: Profile) -> dict[str, float]:
    out = {}
    for c in profile.criteria:
        lo, hi = _bounds(MEASURES[c.measure].unit)
        out[c.measure] = draw(st.one_of(
            st.floats(lo - (hi - lo), hi + (hi - lo), allow_nan=False, allow_infinity=False),
            st.just(float("nan"))))
    return out


@SETTINGS
@given(data=st.data())
def test_improving_a_raw_value_never_lowers_the_score(data):
    profile = data.draw(profiles())
    raw = raw_values(data.draw, profile)
    crit = data.draw(st.sampled_from(profile.criteria))
    x = raw[crit.measure]
    assume(not math.isnan(x))
    better = dict(raw)
    better[crit.measure] = towards(x, best_point(crit.function), data.draw(st.floats(0, 1)))
    before, _ = site_breakdown(profile, raw)
    after, parts = site_breakdown(profile, better)
    assert after >= before, (crit.key, crit.function.describe(), x, better[crit.measure], before, after)
    assert parts[crit.key]["score"] >= float(crit.function(np.float32(x)))


@SETTINGS
@given(data=st.data(), factor=st.one_of(st.floats(1e-6, 1e6), st.sampled_from([0.5, 2.0, 100.0, 1e-3])))
def test_scaling_all_weights_changes_nothing(data, factor):
    profile = data.draw(profiles())
    raw = raw_values(data.draw, profile)
    scaled = Profile(profile.name, profile.title, profile.description, profile.min_acres, profile.separation_km,
                     profile.eligible_agencies, profile.constraints,
                     tuple(Criterion(c.key, c.measure, c.weight * factor, c.function) for c in profile.criteria))
    a, pa = site_breakdown(profile, raw)
    b, pb = site_breakdown(scaled, raw)
    assert b == pytest.approx(a, rel=1e-12, abs=1e-9)
    for k in pa:
        assert pb[k]["weight"] == pytest.approx(pa[k]["weight"], rel=1e-12, abs=1e-15)
        assert pb[k]["contribution"] == pytest.approx(pa[k]["contribution"], rel=1e-12, abs=1e-9)


@SETTINGS
@given(data=st.data())
def test_scores_stay_within_0_and_100(data):
    profile = data.draw(profiles())
    raw = {m: data.draw(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(0.0)))
           for m in {c.measure for c in profile.criteria}}
    total, parts = site_breakdown(profile, raw)
    assert 0.0 <= total <= 100.0, total
    assert all(0.0 <= p["score"] <= 1.0 for p in parts.values())
    assert all(0.0 <= p["contribution"] <= 100.0 * p["weight"] + 1e-12 for p in parts.values())


def test_a_perfect_site_scores_100_and_a_hopeless_one_0():
    for p in BUILTIN:
        best = {c.measure: best_point(c.function) for c in p.criteria}
        best = {m: (v if math.isfinite(v) else math.copysign(1e9, v)) for m, v in best.items()}
        total, _ = site_breakdown(p, best)
        assert total == pytest.approx(100.0, abs=1e-6), p.name
