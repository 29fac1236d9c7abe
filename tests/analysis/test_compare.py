"""Comparing two real runs: matching by overlap, entries and exits of the top N, Kendall's tau."""
from __future__ import annotations

import itertools
import json

import geopandas as gpd
import numpy as np
import pytest
import shapely

from sitesel.analysis.compare import compare, match_sites
from sitesel.cli import main

REGION, RES, PARK = "NM", 1000.0, "semiconductor_fab"


@pytest.fixture(scope="module")
def runs(tmp_path_factory, national):
    base = tmp_path_factory.mktemp("a")
    other = tmp_path_factory.mktemp("b")
    common = ["--park", PARK, "--region", REGION, "--resolution", str(RES), "--quiet"]
    assert main(["rank", *common, "--out", str(base)]) == 0
    assert main(["rank", *common, "--weight", "water_stress=0.5", "--weight", "interstate=0.02",
                 "--out", str(other)]) == 0
    return base, other


def _read(folder):
    return gpd.read_file(folder / "sites.geojson").to_crs("EPSG:5070")


def test_a_run_compared_with_itself(runs):
    c = compare(runs[0], runs[0], top=10)
    assert c.tau == pytest.approx(1.0) and len(c.matches) == len(_read(runs[0]))
    assert c.entered.empty and c.left.empty and (c.table["change"].dropna() == 0).all()


def test_entries_exits_and_tau_agree_with_a_brute_force_check(runs):
    top = 10
    c = compare(runs[0], runs[1], top=top)
    a, b = _read(runs[0]), _read(runs[1])
    # Independent matching: every pair overlapping by >= half of the smaller polygon.
    pairs = [(i, j) for i, j in itertools.product(range(len(a)), range(len(b)))
             if a.geometry[i].intersection(b.geometry[j]).area
             >= 0.5 * min(a.geometry[i].area, b.geometry[j].area) - 1.0]
    assert sorted(zip(c.matches["ia"], c.matches["ib"])) == sorted(pairs)
    b_of_a = dict(pairs)
    a_of_b = {j: i for i, j in pairs}
    left = sorted(int(a["rank"][i]) for i in range(len(a))
                  if a["rank"][i] <= top and (i not in b_of_a or b["rank"][b_of_a[i]] > top))
    entered = sorted(int(b["rank"][j]) for j in range(len(b))
                     if b["rank"][j] <= top and (j not in a_of_b or a["rank"][a_of_b[j]] > top))
    assert sorted(c.summary()["left"]) == left and sorted(c.summary()["entered"]) == entered
    assert left or entered  # the weights changed enough to move the top 10
    ra = np.array([a["rank"][i] for i, _ in pairs])
    rb = np.array([b["rank"][j] for _, j in pairs])
    conc = sum(np.sign(ra[p] - ra[q]) * np.sign(rb[p] - rb[q]) for p, q in itertools.combinations(range(len(ra)), 2))
    assert c.tau == pytest.approx(conc / (len(ra) * (len(ra) - 1) / 2))  # no ties: tau-b is tau-a
    kept = c.table[c.table["status"] == "kept"]
    assert (kept["change"] == kept["rank_a"] - kept["rank_b"]).all()


def test_matching_needs_real_overlap():
    sq = shapely.box(0, 0, 1000, 1000)
    a = gpd.GeoDataFrame({"rank": [1, 2]}, geometry=[sq, shapely.box(5000, 0, 6000, 1000)], crs="EPSG:5070")
    b = gpd.GeoDataFrame({"rank": [1, 2]}, geometry=[shapely.box(5600, 0, 6600, 1000), shapely.box(200, 0, 1200, 1000)],
                         crs="EPSG:5070")
    m = match_sites(a, b)  # a1~b2 (80 %), a2~b1 only 40 %: not the same place
    assert list(zip(m["ia"], m["ib"])) == [(0, 1)]
    assert list(zip(match_sites(a, b, 0.3)["ia"], match_sites(a, b, 0.3)["ib"])) == [(0, 1), (1, 0)]


def test_cli_compare_prints_and_writes(runs, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", str(runs[0]), str(runs[1]), "--top", "10", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Kendall's tau" in text and "top 10:" in text
    summary = json.loads((out / "compare.json").read_text())
    assert summary["top"] == 10 and -1 <= summary["kendall_tau"] <= 1
    html = (out / "compare_map.html").read_text()
    assert "A #1" in html and "B #1" in html
    assert main(["compare", str(runs[0]), str(tmp_path / "nope")]) == 2
