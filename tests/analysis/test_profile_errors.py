"""Profile validation: every built-in profile loads; every mistake gets one line with the key and a fix."""
from __future__ import annotations

import copy
import re
import tomllib

import pytest

from sitesel.analysis.profiles import builtin_dir, list_profiles, load_profile, parse_profile
from sitesel.errors import ProfileError


def fab() -> dict:
    return tomllib.loads((builtin_dir() / "semiconductor_fab.toml").read_text())


def edited(path: tuple, value) -> dict:
    """The semiconductor_fab document with one key set (``value`` DELETE removes it)."""
    doc = fab()
    node = doc
    for k in path[:-1]:
        node = node[k]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


DELETE = object()


@pytest.mark.parametrize("name", list_profiles())
def test_every_builtin_profile_loads(name):
    p = load_profile(name)
    assert p.name == name and p.criteria and abs(sum(p.weights.values()) - 1) < 1e-12


@pytest.mark.parametrize("path, value, fragments", [
    # unknown keys and criteria, with the closest name
    (("footprint", "min_acre"), 5, ["footprint: unknown key 'min_acre'", "did you mean 'min_acres'"]),
    (("land", "eligible_agency"), ["BLM"], ["land: unknown key 'eligible_agency'", "did you mean 'eligible_agencies'"]),
    (("constraints", "slope", "maximum"), 7, ["constraints.slope: unknown key 'maximum'", "did you mean 'max'"]),
    (("criteria", "flat", "idael"), 0, ["criteria.flat: unknown key 'idael'", "did you mean 'ideal'"]),
    (("criteria", "flat", "measure"), "slope", ["criteria.flat: unknown measure 'slope'", "did you mean 'slope_pct'"]),
    (("constraints", "slope", "measure"), "slope_percent", ["did you mean 'slope_pct'"]),
    (("criteria", "flat", "function"), "gauss",
     ["criteria.flat.function must be one of linear, step, logistic, gaussian"]),
    # weights
    (("criteria", "flat", "weight"), -0.05, ["criteria.flat.weight = -0.05 is negative"]),
    (("criteria", "flat", "weight"), "0.05",
     ["criteria.flat.weight is the text '0.05'; write a bare number, e.g. 0.05"]),
    (("criteria", "flat", "weight"), float("inf"), ["criteria.flat.weight: expected a finite number"]),
    (("criteria", "flat", "weight"), DELETE, ["criteria.flat: weight is missing"]),
    # thresholds of the wrong type or unit
    (("constraints", "tx_230kv", "max"), "15 km", ["constraints.tx_230kv.max is the text '15 km'", "in km, e.g. 15"]),
    (("constraints", "tx_230kv", "max"), "15000 m", ["in km, e.g. 15"]),
    (("constraints", "tx_230kv", "max"), "ten", ["is the text 'ten'; write a bare number in km"]),
    (("constraints", "tx_230kv", "max"), 15000, ["outside the plausible 0..5000 km"]),
    (("constraints", "tx_230kv", "max"), -1, ["outside the plausible 0..5000 km"]),
    (("constraints", "slope", "max"), 700, ["constraints.slope.max = 700 is outside the plausible 0..100 %",
                                            "slope is in percent"]),
    (("constraints", "slope", "max"), "7%", ["constraints.slope.max is the text '7%'", "in %, e.g. 7"]),
    (("constraints", "slope", "max"), True, ["expected a number, got True"]),
    (("constraints", "slope", "min"), 9, ["constraints.slope: min 9 is above max 7"]),
    (("constraints", "slope"), {"measure": "slope_pct"}, ["constraints.slope: give min and/or max (in %)"]),
    (("criteria", "interstate", "worst"), "20 miles", ["criteria.interstate.worst", "in km, e.g. 32.1869"]),
    (("criteria", "interstate", "best"), 32, ["linear best and worst must differ"]),
    (("criteria", "water_stress", "thresholds"), [1, 2, 3, 40], ["thresholds = 40 is outside the plausible 0..4"]),
    (("criteria", "water_stress", "scores"), [1.0, 0.2, 0.8, 0.2, 0.0], ["must rise to one peak and then fall"]),
    (("criteria", "water_stress", "scores"), [1.0, 0.8, 0.5, 0.2, 1.5], ["scores must lie in 0-1"]),
    (("criteria", "water_stress", "missing"), 2, ["criteria.water_stress.missing must lie in 0-1"]),
    (("criteria", "generation", "width"), 0, ["criteria.generation.width must be positive"]),
    (("criteria", "generation", "increasing"), "yes", ["increasing must be true or false"]),
    (("criteria", "generation", "midpoint"), 5e6, ["midpoint = 5e+06 is outside the plausible 0..2e+06 MW"]),
    (("criteria", "flat", "spread"), 1e-300, ["criteria.flat.spread must be positive"]),
    # footprint and land
    (("footprint", "min_acres"), 0, ["footprint.min_acres = 0 must be a positive number of acres"]),
    (("footprint", "min_acres"), "500 acres", ["footprint.min_acres is the text '500 acres'", "e.g. 500"]),
    (("footprint", "min_acres"), DELETE, ["footprint.min_acres is missing"]),
    (("footprint", "separation_km"), 20000, ["footprint.separation_km = 20000 must be 0..5000 km"]),
    (("land", "eligible_agencies"), "BLM", ["land.eligible_agencies must list at least one agency code"]),
    (("land", "eligible_agencies"), [], ["land.eligible_agencies must list at least one agency code"]),
    (("land", "eligible_agencies"), ["BLM", "FWS"], ["lists FWS, whose land is never eligible", "remove it"]),
    (("land", "eligible_agencies"), ["BLM", "USFWS"], ["unknown agency 'USFWS'"]),
    # structure
    (("footprint",), [500], ["'footprint' must be a table"]),
    (("criteria",), ["flat"], ["'criteria' must be a table"]),
    (("criteria", "flat"), 0.05, ["criteria.flat must be a table"]),
    (("constraints", "slope"), "max 7", ["constraints.slope must be a table"]),
    (("criteria", "water_stress", "thresholds"), "1,2,3,4", ["step needs a non-empty list of thresholds"]),
    (("criteria",), {}, ["needs at least one [criteria.NAME] table"]),
    (("name",), "../../etc", ["name must be a short identifier"]),
    (("title",), 7, ["title must be text in quotes"]),
])
def test_profile_mistakes(path, value, fragments):
    with pytest.raises(ProfileError) as err:
        parse_profile(edited(path, value), "fab.toml")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("fab.toml: ")
    for f in fragments:
        assert f in msg, f"{f!r} not in {msg!r}"


def test_all_zero_weights_are_refused():
    doc = fab()
    for c in doc["criteria"].values():
        c["weight"] = 0
    with pytest.raises(ProfileError, match="every criterion weight is 0; give at least one a positive weight"):
        parse_profile(doc, "fab.toml")


def test_weights_too_large_to_add_up():
    doc = fab()
    doc["criteria"]["flat"]["weight"] = doc["criteria"]["airport"]["weight"] = 1e308
    with pytest.raises(ProfileError, match="too large to add up"):
        parse_profile(doc, "fab.toml")


def test_weights_are_normalised_and_zero_weights_allowed():
    doc = fab()
    doc["criteria"]["flat"]["weight"] = 0
    p = parse_profile(doc, "fab.toml")
    assert p.weights["flat"] == 0 and abs(sum(p.weights.values()) - 1) < 1e-12


def test_profile_document_must_be_a_table():
    with pytest.raises(ProfileError, match="a profile must be a TOML table"):
        parse_profile(["not", "a", "table"], "x.toml")


def test_unknown_park_type_suggests_closest():
    hint = "unknown park type 'semiconducter_fab' (did you mean 'semiconductor_fab'?)"
    with pytest.raises(ProfileError, match=re.escape(hint)):
        load_profile("semiconducter_fab")


@pytest.mark.parametrize("content, fragment", [
    (b"name = \"x\"\n[footprint\nmin_acres = 5", "not valid TOML"),
    (bytes(range(256)) * 4, "not a text file"),
])
def test_unparseable_profile_file(tmp_path, content, fragment):
    p = tmp_path / "bad.toml"
    p.write_bytes(content)
    with pytest.raises(ProfileError, match=fragment) as err:
        load_profile(p)
    assert str(p) in str(err.value)


def test_missing_profile_file(tmp_path):
    with pytest.raises(ProfileError, match="profile file not found"):
        load_profile(tmp_path / "nope.toml")


def test_the_original_document_is_not_changed():
    doc = fab()
    before = copy.deepcopy(doc)
    parse_profile(doc, "fab.toml")
    assert doc == before
