"""The benchmark's shared eligibility question: sitesel's raster answer must agree with a plain
vector answer on real layers, or the speed ratios in benchmarks/README.md compare different work."""
import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def bench(national):
    spec = importlib.util.spec_from_file_location("sitesel_benchmarks", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_sitesel_and_geopandas_answer_the_eligibility_question_alike(bench):
    """Nevada at 500 m: eligible BLM/DOE/... land, outside exclusions, within 15 km of a
    >= 230 kV line and flat. The raster answer counts cells whose centre qualifies, the vector
    one measures areas, so they agree to a fraction of a percent, not exactly."""
    raster = bench.case_question("NV", 500, "sitesel")
    vector = bench.case_question("NV", 500, "geopandas")
    assert raster["km2"] > 10_000
    assert abs(raster["km2"] - vector["km2"]) / vector["km2"] < 0.01
    assert raster["seconds"] > 0 and raster["cpu_s"] > 0
