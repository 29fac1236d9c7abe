"""Profiles as data: ``extend``, overrides, weight validation and suggestions for unknown names."""
from __future__ import annotations

import dataclasses
import math

import pytest

from sitesel.analysis.profiles import (
    list_profiles,
    load_profile,
    parse_profile,
    profile_toml,
    resolve_profile,
    set_value,
)
from sitesel.cli import main
from sitesel.errors import ProfileError

BASE = "semiconductor_fab"


def _write(tmp_path, text: str, name: str = "my.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_builtin_profiles_still_load_and_keep_their_weights():
    for name in list_profiles():
        p = load_profile(name)
        assert math.isclose(sum(p.weights.values()), 1.0)
        assert p.document is not None and p.document["name"] == name


def test_a_profile_that_extends_another_differs_only_where_it_says(tmp_path):
    path = _write(tmp_path, f'''
extend = "{BASE}"
remove = ["criteria.airport"]

[footprint]
min_acres = 1200

[constraints.slope]
max = 4

[criteria.water_stress]
weight = 0.4

[criteria.workforce]
function = "linear"
best = 1000000
worst = 100000

[criteria.solar]
measure = "ghi_kwh_m2_day"
weight = 0.02
function = "linear"
best = 6
worst = 4
''')
    base, child = load_profile(BASE), load_profile(path)
    assert child.name == "my" and child.title == base.title and child.description == base.description
    # Said: footprint, slope bound, water weight, workforce function, airport gone, solar added.
    assert child.min_acres == 1200 and base.min_acres == 500
    cons = {c.key: c for c in child.constraints}
    assert cons["slope"].max == 4 and cons["slope"].measure == "slope_pct"
    crit = {c.key: c for c in child.criteria}
    assert (crit["water_stress"].weight == 0.4
            and crit["water_stress"].function == {c.key: c for c in base.criteria}["water_stress"].function)
    assert (crit["workforce"].function.kind == "linear"
            and crit["workforce"].function.params == {"best": 1000000, "worst": 100000})
    assert crit["workforce"].weight == {c.key: c for c in base.criteria}["workforce"].weight
    assert "airport" not in crit and crit["solar"].measure == "ghi_kwh_m2_day"
    # Not said: everything else is exactly the base's.
    assert child.separation_km == base.separation_km
    assert child.eligible_agencies == base.eligible_agencies
    assert [c for c in child.constraints if c.key != "slope"] == [c for c in base.constraints if c.key != "slope"]
    same = {"water_stress", "workforce", "airport", "solar"}
    assert [c for c in child.criteria if c.key not in same] == [c for c in base.criteria if c.key not in same]
    # The raw weights of untouched criteria are unchanged; normalisation spreads the rest.
    assert math.isclose(sum(child.weights.values()), 1.0)
    total = sum(c.weight for c in child.criteria)
    assert child.weights["flat"] == pytest.approx(crit["flat"].weight / total)


def test_extend_chains_and_relative_paths(tmp_path):
    _write(tmp_path, f'extend = "{BASE}"\n[criteria.flat]\nweight = 0.2\n', "mid.toml")
    path = _write(tmp_path, 'extend = "mid.toml"\n[footprint]\nseparation_km = 3\n', "leaf.toml")
    p = load_profile(path)
    assert p.separation_km == 3 and {c.key: c.weight for c in p.criteria}["flat"] == 0.2
    assert "extends" in p.source and p.notes and "footprint.separation_km: 20 -> 3" in p.notes[0]


def test_extend_loop_is_refused(tmp_path):
    _write(tmp_path, 'extend = "b.toml"\n', "a.toml")
    _write(tmp_path, 'extend = "a.toml"\n', "b.toml")
    with pytest.raises(ProfileError, match="loop"):
        load_profile(tmp_path / "a.toml")


@pytest.mark.parametrize("text, hint", [
    ('extend = "semiconductor_fabb"\n', "did you mean 'semiconductor_fab'"),
    (f'extend = "{BASE}"\n[criteria.workfroce]\nweight = 0.3\n', "did you mean 'workforce'"),
    (f'extend = "{BASE}"\n[constraints.slop]\nmax = 3\n', "did you mean 'slope'"),
    (f'extend = "{BASE}"\n[criteria.workforce]\nmidpont = 3\n', "did you mean 'midpoint'"),
    (f'extend = "{BASE}"\n[footprint]\nmin_acre = 3\n', "did you mean 'min_acres'"),
    (f'extend = "{BASE}"\nremove = ["criteria.airprt"]\n', "did you mean 'airport'"),
    (f'extends = "{BASE}"\n', "did you mean 'extend'"),
])
def test_unknown_names_fail_with_the_closest_valid_name(tmp_path, text, hint):
    with pytest.raises(ProfileError, match=hint):
        load_profile(_write(tmp_path, text))


@pytest.mark.parametrize("weights, sets, hint", [
    ({"watr_stress": 0.3}, None, "did you mean 'water_stress'"),
    ({"water": 0.3}, None, "'water_stress' or 'water_source'"),
    (None, ["constraints.slop.max=5"], "did you mean 'slope'"),
    (None, ["max_slope=5"], "did you mean 'slope_pct'"),
    (None, ["criteria.flat.sprad=2"], "did you mean 'spread'"),
    (None, ["footprnt.min_acres=5"], "did you mean 'footprint'"),
])
def test_override_names_are_checked(weights, sets, hint):
    with pytest.raises(ProfileError, match=hint):
        resolve_profile(BASE, weights, sets)


@pytest.mark.parametrize("weights, msg", [
    ({"flat": -0.1}, "non-negative"),
    ({"flat": float("nan")}, "non-negative"),
    ({"flat": float("inf")}, "non-negative"),
    (dict.fromkeys(("voltage_class", "substation_345kv", "generation", "water_stress", "water_source", "workforce",
                    "interstate", "airport", "flat", "vibration_rail"), 0), "positive weight"),
])
def test_weights_are_validated(weights, msg):
    with pytest.raises(ProfileError, match=msg):
        resolve_profile(BASE, weights)
    with pytest.raises(ProfileError, match=msg):
        load_profile(BASE).with_weights(weights)


def test_weights_are_normalised_and_overrides_apply():
    p = resolve_profile(BASE, {"water_stress": 0.3, "airport": 0})
    raw = {c.key: c.weight for c in p.criteria}
    assert raw["water_stress"] == 0.3 and raw["airport"] == 0
    assert p.weights["airport"] == 0
    assert math.isclose(sum(p.weights.values()), 1.0)
    assert p.weights["water_stress"] == pytest.approx(0.3 / sum(raw.values()))


def test_set_paths_and_measure_shorthand():
    p = resolve_profile(BASE, sets=["max_slope_pct=5", "footprint.min_acres=800", "criteria.flat.spread=2",
                                    "min_dist_rail_km=1.5", "land.eligible_agencies=[\"BLM\"]"])
    cons = {c.key: c for c in p.constraints}
    assert cons["slope"].max == 5 and p.min_acres == 800 and p.eligible_agencies == ("BLM",)
    assert cons["dist_rail_km"].min == 1.5  # no constraint on the measure yet: one is added
    assert {c.key: c for c in p.criteria}["flat"].function.params["spread"] == 2
    q = resolve_profile(BASE, sets={"constraints.slope.max": 5})
    assert {c.key: c for c in q.constraints}["slope"].max == 5
    with pytest.raises(ProfileError, match="PATH=VALUE"):
        set_value({}, "slope")


def test_with_weights_keeps_the_document_in_step():
    p = load_profile(BASE).with_weights({"flat": 0.5})
    again = parse_profile(p.document, "again")
    assert again.criteria == p.criteria and again.constraints == p.constraints


def test_effective_profile_as_toml_round_trips(tmp_path, capsys):
    path = _write(tmp_path, f'extend = "{BASE}"\n[criteria.flat]\nweight = 0.25\n')
    assert main(["profiles", "show", "--profile", str(path), "--weight", "airport=0", "--toml"]) == 0
    toml = capsys.readouterr().out
    again = load_profile(_write(tmp_path, toml, "again.toml"))
    expect = resolve_profile(path, {"airport": 0})
    assert again.criteria == expect.criteria and again.constraints == expect.constraints
    assert dataclasses.replace(again, source="", name="x") == dataclasses.replace(expect, source="", name="x")
    assert profile_toml(expect) == toml


def test_profiles_show_prints_the_effective_profile(tmp_path, capsys):
    path = _write(tmp_path, f'extend = "{BASE}"\n[constraints.slope]\nmax = 4\n')
    assert main(["profiles", "show", "--profile", str(path), "--weight", "water_stress=0.3"]) == 0
    out = capsys.readouterr().out
    assert "constraints.slope.max: 7 -> 4" in out and "slope_pct <= 4 %" in out
    line = next(x for x in out.splitlines() if x.strip().startswith("water_stress"))
    assert line.split()[1] == f"{resolve_profile(path, {'water_stress': 0.3}).weights['water_stress']:.3f}"
    assert main(["profiles", "show", BASE, "--weight", "water_stres=1"]) == 2
    assert "did you mean" in capsys.readouterr().err


def test_the_documented_examples_load():
    from pathlib import Path

    examples = Path(__file__).resolve().parents[2] / "docs" / "examples"
    mine = load_profile(examples / "my_fab.toml")
    assert mine.name == "my_fab" and mine.min_acres == 1000 and "airport" not in {c.key for c in mine.criteria}
    from sitesel.analysis.ahp import load_ahp

    ahp = resolve_profile(BASE, ahp=load_ahp(examples / "fab_ahp.toml"))
    assert ahp.weights["water_stress"] == max(ahp.weights.values())
