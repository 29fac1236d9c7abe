"""The notebook API and re-ranking on the real layers (New Mexico, 1 km cells)."""
from __future__ import annotations

import json

import folium
import geopandas as gpd
import numpy as np
import pytest
from geopandas.testing import assert_geodataframe_equal

import sitesel
from sitesel.analysis.profiles import load_profile, resolve_profile
from sitesel.analysis.ranking import rank
from sitesel.errors import ProfileError, SiteselError

REGION, RES, PARK = "NM", 1000.0, "semiconductor_fab"


@pytest.fixture(scope="module")
def session(national):
    s = sitesel.open_study(region=REGION, resolution=RES)
    yield s
    s.close()


@pytest.fixture(scope="module")
def base(session):
    return session.rank(PARK)


def _same(a, b):
    # Values, not dtypes: pandas infers a text column's dtype from the sites described together
    # (all missing in a batch gives object), so even the engine's dtypes vary with the batch.
    assert_geodataframe_equal(a.sites, b.sites, check_dtype=False)
    np.testing.assert_array_equal(a.cells, b.cells)
    np.testing.assert_array_equal(a.cell_score, b.cell_score)


@pytest.mark.parametrize("weights, sets", [
    (None, None),
    ({"water_stress": 0.4}, None),
    ({"flat": 0.3, "airport": 0}, None),
    ({"water_stress": 0.4}, None),  # again: served from the caches
    (None, ["max_slope_pct=4"]),
    ({"workforce": 0.05}, ["footprint.min_acres=800", "constraints.tx_230kv.max=10"]),
])
def test_reranking_is_identical_to_the_engine(session, weights, sets):
    fast = session.rank(PARK, weights=weights, set=sets)
    _same(fast.result, rank(session.study, resolve_profile(PARK, weights, sets), top=20))
    assert len(fast.pool) >= len(fast.sites) and (fast.pool.head(len(fast.sites))["score"] == fast.sites["score"]).all()


def test_a_zero_weight_removes_that_criterion_entirely(session, base, tmp_path):
    zero = session.rank(PARK, weights={"water_stress": 0})
    assert (zero.sites["contrib_water_stress"] == 0).all() and zero.weights["water_stress"] == 0
    # Ranking with the criterion's weight at zero is ranking without the criterion at all ...
    (tmp_path / "no_water.toml").write_text(f'extend = "{PARK}"\nremove = ["criteria.water_stress"]\n')
    removed = session.rank(tmp_path / "no_water.toml")
    np.testing.assert_array_equal(zero.result.cell_score, removed.result.cell_score)
    keep = [c for c in zero.sites.columns if "water_stress" not in c and c != "reasons"]
    assert_geodataframe_equal(zero.sites[keep], removed.sites[keep], check_dtype=False)
    # ... and whatever its value function says no longer matters.
    flipped = session.rank(PARK, weights={"water_stress": 0},
                           set=["criteria.water_stress.scores=[0.0, 0.2, 0.5, 0.8, 1.0]"])
    np.testing.assert_array_equal(zero.result.cell_score, flipped.result.cell_score)
    assert list(zero.sites["rank"]) == list(flipped.sites["rank"])
    assert zero.sites.geometry.geom_equals(flipped.sites.geometry).all()
    # With its weight, it does matter (the test can fail).
    assert not np.array_equal(zero.result.cell_score, base.result.cell_score)


def test_doubling_every_weight_changes_nothing(session, base):
    prof = load_profile(PARK)
    doubled = session.rank(PARK, weights={c.key: 2 * c.weight for c in prof.criteria})
    _same(doubled.result, base.result)
    tripled = resolve_profile(PARK, {c.key: 3 * c.weight for c in prof.criteria})
    assert tripled.weights == pytest.approx(prof.weights, abs=1e-15)


def test_result_surface_map_explain_and_files(session, base, tmp_path):
    grid = session.study.grid
    assert base.score.shape == grid.shape
    assert np.nanmax(base.score) <= 1 and np.isfinite(base.score).sum() == base.result.cells.size
    m = base.map()
    assert isinstance(m, folium.Map) and "Site 1" in m.get_root().render()
    e = base.explain(1)
    row = base.sites.iloc[0]
    assert e["points"].sum() == pytest.approx(row["score"], abs=1e-9)
    assert e.loc["workforce", "value"] == row["pop_80km"] and e.attrs["rank"] == 1
    assert all(ok for _, ok in e.attrs["constraints"].values())
    with pytest.raises(SiteselError, match="no site ranked"):
        base.explain(999)
    folder = base.to_file(tmp_path / "run")
    assert ({"sites.geojson", "sites.csv", "suitability.tif", "map.html", "run.json"}
            <= {p.name for p in folder.iterdir()})
    run = json.loads((folder / "run.json").read_text())
    assert run["park"] == PARK and run["profile"]["criteria"]["water_stress"]["weight"] == pytest.approx(0.15)
    back = gpd.read_file(base.to_file(tmp_path / "sites.geojson"))
    assert list(back["rank"]) == list(base.sites["rank"])
    assert "semiconductor_fab" in repr(base) and REGION in repr(session)


def test_api_errors_are_clear(session):
    with pytest.raises(ProfileError, match="did you mean 'water_stress'"):
        session.rank(PARK, weights={"watr_stress": 1})
    with pytest.raises(ProfileError, match="positive weight"):
        session.rank(PARK, weights={c.key: 0 for c in load_profile(PARK).criteria})
    with pytest.raises(SiteselError, match="land"):
        sitesel.open_study(region=REGION, land="private")


def test_a_second_process_reuses_the_disk_cache(session, base, tmp_path):
    import subprocess
    import sys

    code = ("import sitesel, sitesel.measures.engine as e, sitesel.io.layercache as ls\n"
            "calls = []\n"
            "e.compute_values = lambda *a, **k: calls.append('measures')\n"
            "real = ls.read_vector\n"
            "ls.read_vector = lambda *a, **k: (calls.append('layer'), real(*a, **k))[1]\n"
            f"s = sitesel.open_study(region='{REGION}', resolution={RES})\n"
            f"r = s.rank('{PARK}')\n"
            "print(calls, round(float(r.sites['score'].iloc[0]), 6))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")[0]
    assert out == f"[] {round(float(base.sites['score'].iloc[0]), 6)}"


def test_to_file_writes_what_rank_out_writes(session, base, tmp_path):
    # One writer behind both: the same files, and the same sites byte for byte.
    from sitesel.cli import main

    cli = tmp_path / "cli"
    assert main(["rank", "--park", PARK, "--region", REGION, "--resolution", str(int(RES)), "--quiet",
                 "--out", str(cli)]) == 0
    api = base.to_file(tmp_path / "api")
    assert sorted(p.name for p in api.iterdir()) == sorted(p.name for p in cli.iterdir())
    for name in ("sites.geojson", "sites.csv"):
        assert (api / name).read_bytes() == (cli / name).read_bytes(), name
    runs = [json.loads((d / "run.json").read_text()) for d in (api, cli)]
    assert runs[0]["profile"] == runs[1]["profile"] and runs[0]["stats"]["sites"] == runs[1]["stats"]["sites"]
