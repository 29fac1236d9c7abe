"""Sensitivity of a real ranking to its weights: Dirichlet samples, the sweep, the CLI outputs."""
from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import sitesel
from sitesel.analysis.sensitivity import COLUMNS, criterion_matrix, ranks_under, sample_weights, sensitivity, sweep
from sitesel.cli import main

REGION, RES, PARK = "NM", 1000.0, "semiconductor_fab"


@pytest.fixture(scope="module")
def ranked(national):
    s = sitesel.open_study(region=REGION, resolution=RES)
    r = s.rank(PARK, top=10)
    yield r
    s.close()


def test_rescoring_the_pool_with_the_chosen_weights_reproduces_the_ranking(ranked):
    s = criterion_matrix(ranked.pool, ranked.profile)
    w = np.array([ranked.weights[c.key] for c in ranked.profile.criteria])
    np.testing.assert_allclose(100 * s @ w, ranked.pool["score"], atol=1e-9)
    assert list(ranks_under((100 * s @ w)[:, None])[:, 0]) == list(ranked.pool["rank"])


def test_sensitivity_with_a_seed_is_reproducible(ranked):
    a = sensitivity(ranked.pool, ranked.profile, top=10, samples=300, seed=7)
    b = sensitivity(ranked.pool, ranked.profile, top=10, samples=300, seed=7)
    c = sensitivity(ranked.pool, ranked.profile, top=10, samples=300, seed=8)
    pd.testing.assert_frame_equal(a.table(), b.table())
    assert a.settings == b.settings
    assert not a.pool["sens_top_k_share"].equals(c.pool["sens_top_k_share"])


def test_tight_samples_keep_the_baseline_and_loose_ones_spread(ranked):
    k = 5
    tight = sensitivity(ranked.pool, ranked.profile, top=10, k=k, samples=200, concentration=1e9)
    assert list(tight.sites["sens_top_k_share"]) == [1.0] * k + [0.0] * 5
    assert (tight.sites["sens_rank_p05"] == tight.sites["rank"]).all()
    assert (tight.sites["sens_rank_p95"] == tight.sites["rank"]).all()
    loose = sensitivity(ranked.pool, ranked.profile, top=10, k=k, samples=500, concentration=5)
    assert (loose.sites["sens_rank_p05"] <= loose.sites["sens_rank_p50"]).all()
    assert (loose.sites["sens_rank_p50"] <= loose.sites["sens_rank_p95"]).all()
    assert (loose.sites["sens_rank_p95"] - loose.sites["sens_rank_p05"]).sum() > 0
    assert 0 < loose.sites["sens_top_k_share"].sum() / k <= 1 + 1e-9


def test_dirichlet_samples_centre_on_the_weights_with_the_documented_spread():
    w = np.array([0.5, 0.3, 0.2, 0.0])
    c = 100.0
    s = sample_weights(w, 40000, c, seed=1)
    assert np.allclose(s.sum(axis=1), 1.0) and (s[:, 3] == 0).all()
    np.testing.assert_allclose(s.mean(axis=0), w, atol=0.002)
    np.testing.assert_allclose(s.std(axis=0)[:3], np.sqrt(w[:3] * (1 - w[:3]) / (c + 1)), rtol=0.03)


def test_sweep_moves_ranks_and_matches_direct_rescoring(ranked):
    t = sweep(ranked.pool, ranked.profile, sites=5, steps=11)
    crits = [c.key for c in ranked.profile.criteria]
    assert list(dict.fromkeys(t["criterion"])) == crits and len(t) == len(crits) * 11 * 5
    # At weight 0 for a criterion, the ranks are those of the pool re-scored without it.
    key = "workforce"
    s = criterion_matrix(ranked.pool, ranked.profile)
    w = np.array([0.0 if c.key == key else ranked.weights[c.key] for c in ranked.profile.criteria])
    expect = ranks_under((s @ (w / w.sum()))[:, None])[:5, 0]
    got = t[(t["criterion"] == key) & (t["weight"] == 0)].sort_values("site")["rank"].to_numpy()
    np.testing.assert_array_equal(got, expect)
    assert t.groupby("criterion")["rank"].nunique().max() > 1  # some weight moves some site
    fig = ranked.session.sensitivity(ranked, samples=50).plot_sweep()
    assert len(fig.axes) >= len(crits)


def test_cli_writes_robustness_columns_map_and_plot(tmp_path, capsys):
    out = tmp_path / "sens"
    argv = ["sensitivity", "--park", PARK, "--region", REGION, "--resolution", str(RES), "--top", "8",
            "--samples", "200", "--seed", "3", "-k", "4", "--quiet", "--out", str(out)]
    assert main(argv) == 0
    assert "in top 4" in capsys.readouterr().out
    names = {p.name for p in out.iterdir()}
    assert {"sites.geojson", "sites.csv", "map.html", "run.json", "sweep.png", "sweep.csv", "sensitivity.json"} <= names
    csv = pd.read_csv(out / "sites.csv")
    gj = gpd.read_file(out / "sites.geojson")
    for col in COLUMNS:
        assert col in csv and col in gj
    assert (csv["sens_top_k"] == 4).all() and csv["sens_top_k_share"].between(0, 1).all()
    run = json.loads((out / "run.json").read_text())
    assert run["sensitivity"]["samples"] == 200 and run["sensitivity"]["seed"] == 3
    assert "robustness to weights" in (out / "map.html").read_text()
    # Same seed, same numbers.
    again = tmp_path / "again"
    assert main(argv[:-1] + [str(again)]) == 0
    pd.testing.assert_frame_equal(csv, pd.read_csv(again / "sites.csv"))
