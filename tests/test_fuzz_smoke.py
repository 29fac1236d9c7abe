"""A short run of the fuzz harness (tests/fuzz/fuzz_inputs.py): every target, a few inputs each.

The full campaign (10+ minutes) runs outside the test suite:
``nice -n 10 python tests/fuzz/fuzz_inputs.py --minutes 12``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent / "fuzz"))
import fuzz_inputs as fi  # noqa: E402

SMOKE = settings(max_examples=25, deadline=None, database=None, phases=[Phase.generate],
                 suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def fuzzer(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp("fuzz")
    return fi.Fuzzer(fi.make_seeds(root / "seeds"), root / "work", root / "failures")


def _check(fz):
    assert fz.failures == [], fz.failures


def test_mutate_is_deterministic_and_damages():
    data = bytes(range(256)) * 4
    ops = [("set", 0.5, 0), ("truncate", 0.9)]
    assert fi.mutate(data, ops) == fi.mutate(data, ops) != data
    assert len(fi.mutate(data, [("truncate", 0.25)])) == 256


@pytest.mark.parametrize("target", ["gpkg", "geojson", "tiff", "manifest_text"])
def test_file_targets(fuzzer, target):
    strategy = fi.text_mutations if target == "manifest_text" else fi.mutations
    SMOKE(given(strategy)(getattr(fuzzer, target)))()
    assert fuzzer.counts[target] >= 25
    _check(fuzzer)


def test_shapefile_target(fuzzer):
    SMOKE(given(st.sampled_from([".shp", ".shx", ".dbf", ".prj", ".zip"]), st.booleans(), fi.mutations)(
        lambda part, zipped, ops: fuzzer.shapefile(part, zipped or part == ".zip", ops)))()
    _check(fuzzer)


def test_profile_targets(fuzzer):
    SMOKE(given(fi.profile_docs())(fuzzer.profile_doc))()
    SMOKE(given(st.sampled_from(sorted(fuzzer.profile_texts)), fi.text_mutations)(fuzzer.profile_text))()
    assert fuzzer.counts["profile_doc"] >= 25 and fuzzer.counts["profile_text"] >= 25
    _check(fuzzer)


def test_the_harness_reports_what_is_not_a_clear_error(fuzzer):
    fuzzer.run("selftest", lambda: {}["missing"], {"x": b""}, {})
    assert fuzzer.failures and "KeyError" in fuzzer.failures[-1]["error"]
    fuzzer.failures.clear()
