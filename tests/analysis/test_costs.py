"""The site-cost model: the shipped file, its errors, the arithmetic, and costs on the real layers."""
from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point, box

import sitesel
from sitesel.analysis.costmodel import builtin_costs, load_costs, parse_costs
from sitesel.analysis.costs import COST_ITEMS, cost_columns, site_costs
from sitesel.analysis.demand import Demand, parse_demand
from sitesel.analysis.evidence import FeatureIndex
from sitesel.analysis.profiles import builtin_dir, list_profiles, load_profile
from sitesel.cli import main
from sitesel.errors import CostError, ProfileError

REPO = Path(__file__).resolve().parents[2]
COSTS = REPO / "data" / "costs.toml"
MODEL = builtin_costs()
# A line carries its source when its comment names one: a publication, a reference tag or section,
# a URL, or "judgment" with the reason.
SOURCED = re.compile(r"#.*(source|judgment|\[S\d+\]|§|https?://|park_types\.md)", re.IGNORECASE)


def _numeric_lines(text: str, section: str | None = None):
    """(line number, line) of every line that gives a number (in ``[section]``): assignments, and
    the rows of a multi-line array."""
    current = None
    for i, line in enumerate(text.splitlines(), 1):
        head = re.match(r"\s*\[([A-Za-z_][\w.]*)\]\s*(#.*)?$", line)
        if head:
            current = head.group(1)
            continue
        code = line.split("#", 1)[0]
        if re.search(r"\d", code) and (section is None or (current or "").split(".")[0] == section):
            yield i, line


# -- the shipped model ----------------------------------------------------------------------------
def test_every_unit_cost_names_its_source():
    lines = list(_numeric_lines(COSTS.read_text()))
    assert len(lines) > 20
    unsourced = [f"costs.toml:{i}: {line.strip()}" for i, line in lines if not SOURCED.search(line)]
    assert unsourced == []


@pytest.mark.parametrize("name", list_profiles())
def test_every_profile_demand_names_its_source(name):
    path = builtin_dir() / f"{name}.toml"
    assert "demand" in tomllib.loads(path.read_text()), f"{name} has no [demand]"
    lines = list(_numeric_lines(path.read_text(), "demand"))
    assert len(lines) >= 4
    assert [line for _, line in lines if not SOURCED.search(line)] == []


def test_the_source_check_catches_a_bare_number(tmp_path):
    text = COSTS.read_text().replace("dollar_year = ", "dollar_year = 2024\nextra = 5\n#", 1)
    assert any("extra = 5" in line and not SOURCED.search(line) for _, line in _numeric_lines(text))


def test_the_shipped_model_is_consistent():
    m = MODEL
    classes = sorted(m.line_usd_per_km)
    assert classes == sorted(m.substation_usd) == sorted(m.line_permit_months)
    central = [m.line_usd_per_km[c][1] for c in classes]
    assert central == sorted(central), "a higher voltage line must not cost less per km"
    assert [m.substation_usd[c][1] for c in classes] == sorted(m.substation_usd[c][1] for c in classes)
    assert list(m.terrain.values) == sorted(m.terrain.values, key=lambda r: r[1])
    assert m.dollar_year >= 2020


def test_every_profile_has_a_demand():
    for name in list_profiles():
        d = load_profile(name).demand
        assert d is not None and d.power_mw > 0 and d.voltage_kv > 0 and d.capex_usd[1] > 0, name


# -- errors -------------------------------------------------------------------------------------------
def _doc():
    return tomllib.loads(COSTS.read_text())


def test_a_missing_cost_file_is_one_line(tmp_path):
    with pytest.raises(CostError, match=r"^cost model not found: .*nope\.toml$"):
        load_costs(tmp_path / "nope.toml")


def test_invalid_cost_files_are_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("dollar_year = 2024\n[power\n")
    with pytest.raises(CostError, match="not valid TOML"):
        load_costs(bad)
    doc = _doc()
    del doc["road"]
    with pytest.raises(CostError, match=r"\[road\] section is missing"):
        parse_costs(doc, "x.toml")
    doc = _doc()
    doc["power"]["line_usd_per_kms"] = doc["power"].pop("line_usd_per_km")
    with pytest.raises(CostError, match="did you mean 'line_usd_per_km'"):
        parse_costs(doc, "x.toml")
    doc = _doc()
    doc["road"]["usd_per_km"] = [3, 2, 1]
    with pytest.raises(CostError, match=r"road\.usd_per_km: a range is \[low, central, high\]"):
        parse_costs(doc, "x.toml")
    doc = _doc()
    doc["road"]["usd_per_km"] = -1
    with pytest.raises(CostError, match="not negative"):
        parse_costs(doc, "x.toml")
    doc = _doc()
    doc["grading"]["usd_per_acre"] = doc["grading"]["usd_per_acre"][:-1]
    with pytest.raises(CostError, match="one more than the edges"):
        parse_costs(doc, "x.toml")
    doc = _doc()
    doc["power"]["tap_usd"].pop(next(iter(doc["power"]["tap_usd"])))
    with pytest.raises(CostError, match="same voltage classes"):
        parse_costs(doc, "x.toml")


def test_the_cli_refuses_a_bad_cost_file_before_any_work(tmp_path, capsys):
    code = main(["rank", "--park", "ai_datacenter", "--demo", "--quiet", "--costs", str(tmp_path / "nope.toml"),
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "cost model not found" in err[0]
    assert not (tmp_path / "out").exists()


def test_demand_errors():
    with pytest.raises(ProfileError, match="give power_mw"):
        parse_demand({"voltage_kv": 345}, "p: demand")
    with pytest.raises(ProfileError, match="did you mean 'water_mgd'"):
        parse_demand({"power_mw": 1, "voltage_kv": 1, "water_mdg": 2}, "p: demand")
    with pytest.raises(ProfileError, match="road must be one of"):
        parse_demand({"power_mw": 1, "voltage_kv": 1, "road": "dirt"}, "p: demand")


# -- the arithmetic, on hand-made layers ---------------------------------------------------------------
class _Manifest:
    def __init__(self, layers):
        self.layers = layers

    def has(self, name):
        return name in self.layers


class _Layers:
    """The two things FeatureIndex reads from a study: which layers exist, and each as a frame."""

    def __init__(self, **layers):
        self.manifest = _Manifest(layers)

    def layer(self, name):
        return self.manifest.layers[name]


def _layers(line_kv=345.0):
    crs = "EPSG:5070"
    return _Layers(
        transmission_lines=gpd.GeoDataFrame({"voltage_kv": [line_kv]}, geometry=[LineString([(0, -1e6), (0, 1e6)])],
                                            crs=crs),
        substations=gpd.GeoDataFrame({"max_kv": [500.0], "name": ["FAR"]}, geometry=[Point(-2e5, 0)], crs=crs),
        rivers=gpd.GeoDataFrame(geometry=[LineString([(-1e6, -3e4), (1e6, -3e4)])], crs=crs),
        lakes=gpd.GeoDataFrame(geometry=[], crs=crs),
        interstates=gpd.GeoDataFrame(geometry=[LineString([(-1e6, 2e4), (1e6, 2e4)])], crs=crs),
        highways=gpd.GeoDataFrame(geometry=[LineString([(-1e6, 1e4), (1e6, 1e4)])], crs=crs),
        railroads=gpd.GeoDataFrame(geometry=[LineString([(-1e6, -5e3), (1e6, -5e3)])], crs=crs),
    )


def _site(x_km, size_m=2000.0):
    x = x_km * 1000.0
    return box(x, -size_m / 2, x + size_m, size_m / 2)


FAB = Demand(power_mw=1000, voltage_kv=345, water_mgd=5, jobs=3000, capex_usd=(1e10, 2e10, 3e10),
             road="interstate", rail=True)


def _costs(sites, demand=FAB, slope=1.0, layers=None):
    index = FeatureIndex(layers or _layers())
    return site_costs(index, sites, [988.4] * len(sites), [slope] * len(sites), demand, MODEL)


def test_the_columns_and_a_hand_check():
    df = _costs([_site(10)])
    assert list(df.columns) == cost_columns()
    r = df.iloc[0]
    cls = MODEL.kv_class(345)
    mult = MODEL.terrain.at(1.0)[1]
    assert r["power_line_km"] == 10.0 and r["power_kv"] == cls and r["power_to"] == f"a {cls:g} kV line"
    assert r["cost_power_line_usd"] == round(10.0 * MODEL.line_usd_per_km[cls][1] * mult)
    assert r["cost_substation_usd"] == MODEL.tap_usd[cls][1] + MODEL.substation_usd[cls][1]
    assert r["water_pipe_km"] == 29.0
    assert r["cost_water_usd"] == round(29.0 * MODEL.water_pipeline_usd_per_km.at(5)[1]) + MODEL.water_intake_usd[1]
    assert r["cost_road_usd"] == round(19.0 * MODEL.road_usd_per_km[1])
    assert r["cost_rail_usd"] == round(4.0 * MODEL.rail_usd_per_km[1])
    assert r["cost_grading_usd"] == round(988.4 * MODEL.grading_usd_per_acre.at(1.0)[1])
    assert r["cost_port_usd"] == 0
    assert r["cost_site_usd"] == sum(r[f"cost_{i}_usd"] for i in COST_ITEMS)
    assert r["cost_site_low_usd"] <= r["cost_site_usd"] <= r["cost_site_high_usd"]
    assert (r["capex_low_usd"], r["capex_usd"], r["capex_high_usd"]) == FAB.capex_usd
    assert r["cost_summary"].startswith("$") and "10.0 km of 345 kV line" in r["cost_summary"]
    assert r["time_to_power_months"] >= MODEL.substation_months[1]


def test_costs_rise_with_distance():
    df = _costs([_site(x) for x in (1, 5, 20, 60)])
    for col in ("cost_power_line_usd", "cost_site_usd", "time_to_power_months"):
        assert df[col].is_monotonic_increasing and df[col].iloc[-1] > df[col].iloc[0], col


def test_costs_rise_with_voltage():
    sites = [_site(10)]
    by_kv = [_costs(sites, replace(FAB, voltage_kv=kv), layers=_layers(line_kv=kv)).iloc[0]
             for kv in (115, 230, 345, 500)]
    for col in ("cost_power_line_usd", "cost_substation_usd", "cost_site_usd"):
        vals = [r[col] for r in by_kv]
        assert vals == sorted(vals) and vals[-1] > vals[0], col


def test_costs_rise_with_slope():
    flat, steep = (_costs([_site(10)], slope=s).iloc[0] for s in (0.5, 30.0))
    assert steep["cost_power_line_usd"] > flat["cost_power_line_usd"]
    assert steep["cost_grading_usd"] > flat["cost_grading_usd"]


def test_the_cheaper_connection_is_chosen():
    # The substation is 200 km away and the line 10 km: the line is tapped. Move the site next to
    # the substation and the line 190 km away, and the substation wins.
    near_line = _costs([_site(10)]).iloc[0]
    near_sub = _costs([_site(-201)]).iloc[0]
    assert near_line["power_to"].endswith("kV line") and near_sub["power_to"] == "substation FAR"
    assert near_sub["cost_substation_usd"] == (MODEL.bay_usd[MODEL.kv_class(345)][1]
                                               + MODEL.substation_usd[MODEL.kv_class(345)][1])


def test_a_missing_layer_leaves_that_item_unknown():
    layers = _layers()
    del layers.manifest.layers["railroads"]
    r = _costs([_site(10)], layers=layers).iloc[0]
    assert np.isnan(r["cost_rail_usd"]) and np.isnan(r["cost_site_usd"])
    assert np.isfinite(r["cost_power_line_usd"])


def test_unneeded_items_cost_nothing():
    dc = Demand(power_mw=300, voltage_kv=230, water_mgd=0, capex_usd=(1e9, 2e9, 3e9))
    r = _costs([_site(10)], demand=dc).iloc[0]
    assert r["cost_water_usd"] == 0 and r["cost_rail_usd"] == 0 and r["cost_port_usd"] == 0
    assert "water pipe" not in r["cost_summary"] and "rail" not in r["cost_summary"]


# -- the real layers ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def nm(national):
    s = sitesel.open_study(region="NM", resolution=1000)
    yield s
    s.close()


def test_real_sites_carry_costs_that_check_by_hand(nm):
    res = nm.rank("semiconductor_fab")
    sites = res.sites
    assert len(sites) >= 3 and set(cost_columns()) <= set(sites.columns)
    assert sites["cost_site_usd"].notna().all() and (sites["cost_site_usd"] > 0).all()
    demand = res.profile.demand
    for _, r in sites.head(3).iterrows():
        cls = r["power_kv"]
        mult = MODEL.terrain.at(r["slope_pct"])[1]
        fixed = MODEL.substation_usd[MODEL.kv_class(demand.voltage_kv)][1]
        fixed += (MODEL.bay_usd if r["power_to"].startswith("substation") or r["power_to"] == "a substation"
                  else MODEL.tap_usd)[cls][1]
        assert r["cost_power_line_usd"] == round(round(r["power_line_km"], 3) * MODEL.line_usd_per_km[cls][1] * mult)
        assert r["cost_substation_usd"] == fixed
        assert r["cost_road_usd"] == round(r["road_km"] * MODEL.road_usd_per_km[1])
        assert r["cost_site_usd"] == sum(r[f"cost_{i}_usd"] for i in COST_ITEMS)
        # The priced distances are the exact ones the site reports.
        assert r["road_km"] == pytest.approx(r["dist_interstate_km"], abs=5e-4)
        assert r["water_pipe_km"] == pytest.approx(r["dist_water_km"], abs=5e-4)
    e = res.explain(1)
    assert e.attrs["costs"]["cost_site_usd"] == sites.iloc[0]["cost_site_usd"]
    assert "Costs" in res.map().get_root().render()


def test_costs_leave_the_ranking_unchanged(nm):
    profile = load_profile("semiconductor_fab")
    priced = nm.rank(profile).sites
    plain = nm.rank(replace(profile, demand=None)).sites
    assert not set(cost_columns()) & set(plain.columns)
    pd.testing.assert_frame_equal(pd.DataFrame(priced[plain.columns]), pd.DataFrame(plain))
    assert shapely.equals_exact(priced.geometry.values, plain.geometry.values, 0).all()


def test_a_cost_model_of_ones_own(nm, tmp_path):
    # Double the road's unit cost: the road items double, nothing else moves.
    road = tuple(2 * x for x in MODEL.road_usd_per_km)
    s = sitesel.open_study(region="NM", resolution=1000, costs=replace(MODEL, road_usd_per_km=road))
    try:
        a, b = nm.rank("semiconductor_fab").sites, s.rank("semiconductor_fab").sites
    finally:
        s.close()
    assert (b["cost_road_usd"] == (a["road_km"] * road[1]).round()).all()
    assert (b["cost_power_line_usd"] == a["cost_power_line_usd"]).all()
    assert (b["rank"] == a["rank"]).all()


def test_the_cli_takes_a_cost_file(tmp_path):
    text = COSTS.read_text()
    start = text.index("[road]")
    line = re.compile(r"(?m)^usd_per_km = .*$").search(text, start)
    mine = tmp_path / "mine.toml"
    mine.write_text(text[:line.start()] + "usd_per_km = 0  # judgment: a test of a free road" + text[line.end():])
    out = tmp_path / "out"
    assert main(["rank", "--park", "ai_datacenter", "--demo", "--quiet", "--costs", str(mine), "--out", str(out)]) == 0
    sites = pd.read_csv(out / "sites.csv")
    assert (sites["cost_road_usd"] == 0).all() and (sites["cost_power_line_usd"] > 0).any()
