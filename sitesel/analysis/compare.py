"""Comparing two rankings: which sites entered or left the top N, how ranks moved, Kendall's tau.

**Matching.** Sites move when weights or requirements change, so a site of run A and a site of
run B are the *same place* when their polygons overlap by at least ``min_overlap`` (default
0.5) of the smaller polygon's area. The overlap share of the smaller polygon, rather than
intersection over union, keeps a site matched when only its footprint changed (a 500-acre site
inside a 2,000-acre one is the same place). Matching is one-to-one and maximises the total
overlap (Hungarian assignment, :func:`scipy.optimize.linear_sum_assignment`); within one run
sites never overlap, so ambiguity is rare. Polygons are compared in run A's grid CRS
(equal-area), read from ``run.json``.

**Kendall's tau** (tau-b, :func:`scipy.stats.kendalltau`) is computed over every matched pair,
between their ranks in A and in B: 1 means the matched sites come in the same order.
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.optimize import linear_sum_assignment
from scipy.stats import kendalltau

from sitesel.defaults import DEFAULT_MIN_OVERLAP
from sitesel.errors import SiteselError

#: CRS used when a run records none (CONUS Albers, equal-area).
FALLBACK_CRS = "EPSG:5070"


@dataclass
class Run:
    """A ranking to compare: its sites (ranked, equal-area CRS) and a label."""

    sites: gpd.GeoDataFrame
    label: str
    record: dict = field(default_factory=dict)


def load_run(path: str | Path) -> Run:
    """A finished run folder (``sites.geojson`` and ``run.json``, as ``sitesel rank`` writes)."""
    folder = Path(path)
    gj = folder / "sites.geojson"
    if not gj.is_file():
        raise SiteselError(f"{folder}: not a sitesel run folder (no sites.geojson)")
    try:
        record = json.loads((folder / "run.json").read_text())
    except (OSError, ValueError):
        record = {}
    sites = gpd.read_file(gj)
    if sites.crs is None:
        sites = sites.set_crs("EPSG:4326")
    crs = record.get("grid", {}).get("crs") or FALLBACK_CRS
    sites = sites.to_crs(crs)
    if "rank" not in sites:
        raise SiteselError(f"{gj}: sites have no rank column")
    sites = sites.sort_values("rank", kind="mergesort").reset_index(drop=True)
    park = record.get("park", "")
    region = record.get("region", {}).get("label", "")
    return Run(sites, f"{folder.name} ({park} {region})".replace(" ()", "").strip(), record)


def as_run(obj, label: str | None = None) -> Run:
    """A :class:`Run` from a run folder, a :class:`sitesel.api.RankResult` or a sites GeoDataFrame."""
    if isinstance(obj, Run):
        return obj
    if isinstance(obj, (str, Path)):
        return load_run(obj)
    sites = getattr(obj, "sites", obj)
    if not isinstance(sites, gpd.GeoDataFrame) or "rank" not in sites:
        raise SiteselError("compare needs run folders, rankings or ranked site GeoDataFrames")
    name = label or getattr(getattr(obj, "profile", None), "name", "sites")
    return Run(sites.sort_values("rank", kind="mergesort").reset_index(drop=True), str(name))


def match_sites(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, min_overlap: float = DEFAULT_MIN_OVERLAP) -> pd.DataFrame:
    """One-to-one matches between the rows of ``a`` and ``b`` by polygon overlap.

    Returns ``ia``, ``ib`` (row positions) and ``overlap`` (intersection area over the smaller
    polygon's area), for pairs with ``overlap >= min_overlap``.
    """
    if not 0 < min_overlap <= 1:
        raise SiteselError("min_overlap must lie in (0, 1]")
    if b.crs != a.crs:
        b = b.to_crs(a.crs)
    ga, gb = a.geometry.values, b.geometry.values
    share = np.zeros((len(ga), len(gb)))
    if len(ga) and len(gb):
        qa, qb = shapely.STRtree(gb).query(ga, predicate="intersects")
        if qa.size:
            inter = shapely.area(shapely.intersection(ga[qa], gb[qb]))
            smaller = np.minimum(shapely.area(ga[qa]), shapely.area(gb[qb]))
            share[qa, qb] = np.where(smaller > 0, inter / np.where(smaller > 0, smaller, 1), 0.0)
    rows, cols = linear_sum_assignment(-share) if share.size else (np.array([], int), np.array([], int))
    keep = share[rows, cols] >= min_overlap
    out = pd.DataFrame({"ia": rows[keep], "ib": cols[keep], "overlap": share[rows, cols][keep]})
    return out.sort_values("ia").reset_index(drop=True)


@dataclass
class Comparison:
    """The outcome of :func:`compare`."""

    a: Run
    b: Run
    top: int
    table: pd.DataFrame  # one row per site in either top N (and every matched pair)
    matches: pd.DataFrame
    tau: float
    p_value: float
    min_overlap: float

    @property
    def entered(self) -> pd.DataFrame:
        return self.table[self.table["status"] == "entered"]

    @property
    def left(self) -> pd.DataFrame:
        return self.table[self.table["status"] == "left"]

    def summary(self) -> dict:
        return {
            "a": self.a.label, "b": self.b.label, "top": self.top, "min_overlap": self.min_overlap,
            "sites_a": len(self.a.sites), "sites_b": len(self.b.sites), "matched": len(self.matches),
            "kendall_tau": None if np.isnan(self.tau) else round(float(self.tau), 4),
            "kendall_p": None if np.isnan(self.p_value) else float(self.p_value),
            "entered": [int(r) for r in self.entered["rank_b"]],
            "left": [int(r) for r in self.left["rank_a"]],
        }

    def report(self) -> str:
        """Plain-text report, as ``sitesel compare`` prints it."""
        s = self.summary()
        lines = [f"A: {s['a']}, {s['sites_a']} sites", f"B: {s['b']}, {s['sites_b']} sites",
                 f"matched {s['matched']} sites (overlap >= {self.min_overlap:.0%} of the smaller site)"]
        tau = "n/a (fewer than 2 matched sites)" if s["kendall_tau"] is None else \
            f"{s['kendall_tau']:.3f} (p = {s['kendall_p']:.2g})"
        lines.append(f"Kendall's tau over matched sites: {tau}")
        lines.append(f"top {self.top}: {len(s['entered'])} entered "
                     f"({', '.join(f'B#{r}' for r in s['entered']) or 'none'}), {len(s['left'])} left "
                     f"({', '.join(f'A#{r}' for r in s['left']) or 'none'})")
        kept = self.table[self.table["status"] == "kept"].sort_values("rank_b")
        moves = [f"A#{int(r.rank_a)}->B#{int(r.rank_b)}" + (f" ({int(r.change):+d})" if r.change else "")
                 for r in kept.itertuples()]
        if moves:
            lines.append("rank changes in the top: " + ", ".join(moves))
        return "\n".join(lines)

    def map(self):
        """A Folium map with both runs' sites (A outlined blue, B filled orange)."""
        return comparison_map(self)


def compare(a, b, top: int | None = None, min_overlap: float = DEFAULT_MIN_OVERLAP) -> Comparison:
    """Compare two rankings (run folders, rankings or ranked site GeoDataFrames).

    Parameters
    ----------
    top : int, optional
        The "top N" whose entries and exits are reported (default: the shorter run's length).
    """
    ra, rb = as_run(a, "A"), as_run(b, "B")
    sa, sb = ra.sites, rb.sites.to_crs(ra.sites.crs)
    n = top if top is not None else min(len(sa), len(sb))
    if n < 1:
        raise SiteselError("top must be at least 1")
    m = match_sites(sa, sb, min_overlap)
    rank_a, rank_b = sa["rank"].to_numpy(), sb["rank"].to_numpy()
    b_of_a = dict(zip(m["ia"], m["ib"]))
    a_of_b = dict(zip(m["ib"], m["ia"]))
    overlap = {(i, j): o for i, j, o in zip(m["ia"], m["ib"], m["overlap"])}
    recs = []
    ll = sb.geometry.centroid.to_crs("EPSG:4326")
    lla = sa.geometry.centroid.to_crs("EPSG:4326")
    for i in range(len(sa)):
        j = b_of_a.get(i)
        in_a = rank_a[i] <= n
        in_b = j is not None and rank_b[j] <= n
        if not (in_a or in_b or j is not None):
            continue
        status = "kept" if in_a and in_b else ("left" if in_a else ("entered" if in_b else "matched below top"))
        pt = lla.iloc[i] if j is None else ll.iloc[j]
        recs.append({"status": status, "rank_a": int(rank_a[i]), "rank_b": None if j is None else int(rank_b[j]),
                     "score_a": float(sa["score"].iloc[i]),
                     "score_b": None if j is None else float(sb["score"].iloc[j]),
                     "overlap": overlap.get((i, j)), "lon": round(pt.x, 5), "lat": round(pt.y, 5)})
    for j in range(len(sb)):
        if j in a_of_b or rank_b[j] > n:
            continue
        pt = ll.iloc[j]
        recs.append({"status": "entered", "rank_a": None, "rank_b": int(rank_b[j]), "score_a": None,
                     "score_b": float(sb["score"].iloc[j]), "overlap": None,
                     "lon": round(pt.x, 5), "lat": round(pt.y, 5)})
    table = pd.DataFrame.from_records(recs, columns=["status", "rank_a", "rank_b", "score_a", "score_b", "overlap",
                                                     "lon", "lat"])
    table["rank_a"] = table["rank_a"].astype("Int64")
    table["rank_b"] = table["rank_b"].astype("Int64")
    table["change"] = table["rank_a"] - table["rank_b"]  # positive: moved up in B
    table = table.sort_values(["rank_b", "rank_a"], na_position="last", kind="mergesort").reset_index(drop=True)
    if len(m) >= 2:
        res = kendalltau(rank_a[m["ia"]], rank_b[m["ib"]])
        tau, p = float(res.statistic), float(res.pvalue)
    else:
        tau, p = float("nan"), float("nan")
    return Comparison(ra, rb, n, table, m, tau, p, min_overlap)


def comparison_map(c: Comparison):
    """Both runs on one Folium map: A outlined in blue, B filled in orange, matches joined."""
    import folium

    a = c.a.sites.to_crs("EPSG:4326")
    b = c.b.sites.to_crs("EPSG:4326")
    both = pd.concat([a.geometry, b.geometry])
    w, s, e, n = both.total_bounds if len(both) else (-125, 25, -66, 49)
    m = folium.Map(location=[(s + n) / 2, (w + e) / 2], zoom_start=5, tiles="OpenStreetMap", control_scale=True)
    esc = html.escape
    for run, gdf, style, tag in ((c.a, a, {"color": "#2166ac", "weight": 3, "fillOpacity": 0.05}, "A"),
                                 (c.b, b, {"color": "#e66101", "fillColor": "#e66101", "weight": 1,
                                           "fillOpacity": 0.5}, "B")):
        layer = folium.FeatureGroup(name=f"{tag}: {run.label}").add_to(m)
        for _, row in gdf.iterrows():
            tip = esc(f"{tag} #{int(row['rank'])}: score {float(row['score']):.1f}")
            folium.GeoJson(row.geometry.__geo_interface__, style_function=lambda _f, st=style: st,
                           tooltip=tip).add_to(layer)
    links = folium.FeatureGroup(name="matched sites").add_to(m)
    for ia, ib in zip(c.matches["ia"], c.matches["ib"]):
        pa, pb = a.geometry.iloc[ia].representative_point(), b.geometry.iloc[ib].representative_point()
        ra, rb = int(a["rank"].iloc[ia]), int(b["rank"].iloc[ib])
        folium.CircleMarker([pb.y, pb.x], radius=8, color="#333", weight=1, fill=True, fill_color="#fff",
                            fill_opacity=1, tooltip=esc(f"A #{ra} -> B #{rb}")).add_to(links)
        folium.PolyLine([[pa.y, pa.x], [pb.y, pb.x]], color="#333", weight=1).add_to(links)
    if len(both):
        m.fit_bounds([[s, w], [n, e]])
    title = esc(f"sitesel compare: A = {c.a.label} (blue outline), B = {c.b.label} (orange); "
                f"tau = {c.tau:.2f}" if not np.isnan(c.tau) else f"sitesel compare: A = {c.a.label}, B = {c.b.label}")
    m.get_root().html.add_child(folium.Element(  # type: ignore[attr-defined]
        '<div style="position:fixed;top:8px;left:50px;z-index:9999;background:#fff;padding:4px 8px;'
        f'border:1px solid #999;font:14px sans-serif">{title}</div>'))
    folium.LayerControl().add_to(m)
    return m


def write_comparison(c: Comparison, folder: str | Path) -> Path:
    """``compare.csv``, ``compare.json`` and ``compare_map.html`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    c.table.to_csv(folder / "compare.csv", index=False, lineterminator="\n")
    (folder / "compare.json").write_text(json.dumps(c.summary(), indent=2) + "\n")
    c.map().save(str(folder / "compare_map.html"))
    return folder
