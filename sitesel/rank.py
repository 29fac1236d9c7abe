"""Ranking one park type over a study: from criterion rasters to described, ranked sites."""
from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .errors import MissingLayerError
from .evidence import FeatureIndex, nearest_features, refined_distances
from .land import LandPolicy, eligible_mask, load_policy
from .measures import MEASURES
from .profiles import Profile
from .scoring import feasible_mask, score_surface, site_breakdown
from .sites import cells_needed, delineate, site_polygon

DEFAULT_TOP = 20


@dataclass
class Result:
    """The outcome of ranking one profile: sites, score surface and what went into them."""

    profile: Profile
    sites: gpd.GeoDataFrame  # in the grid CRS, ranked
    score: np.ndarray  # 0-1, NaN where infeasible
    land: str
    stats: dict = field(default_factory=dict)


def required_layers(profile: Profile, land: str) -> dict[str, list[str]]:
    need = profile.layers()
    need.setdefault("states", []).append("region")
    if land == "federal":
        need.setdefault("federal_lands", []).append("eligible land")
    return need


def check_layers(study, profile: Profile, land: str, allow_missing: bool) -> Profile:
    """Fail naming the missing layers, or (``allow_missing``) drop what needs them."""
    missing = {k: v for k, v in required_layers(profile, land).items() if not study.manifest.has(k)}
    if not missing:
        return profile
    if not allow_missing or {"states", "federal_lands"} & set(missing):
        raise MissingLayerError(missing)
    return profile.without_layers(set(missing))


def rank(study, profile: Profile, *, land: str = "federal", top: int = DEFAULT_TOP,
         policy: LandPolicy | None = None, allow_missing: bool = False) -> Result:
    """Rank candidate sites for ``profile`` over ``study``.

    Parameters
    ----------
    study : Study
        Region, grid, layers and cached criterion rasters.
    profile : Profile
        The park type's requirements.
    land : {'federal', 'all'}
        Eligible federal land only (default), or all land except never-eligible federal land.
    top : int
        Number of sites to return.
    allow_missing : bool
        Rank without criteria whose layers the manifest lacks (their weight is reported).
    """
    policy = policy or load_policy()
    profile = check_layers(study, profile, land, allow_missing)
    prog = study.progress
    with prog.step("criterion rasters"):
        study.prepare(profile.measures(), extra=[lambda: eligible_mask(study, profile.eligible_agencies, policy, land)])
    with prog.step("eligible land and hard constraints"):
        eligible = eligible_mask(study, profile.eligible_agencies, policy, land)
        feasible = feasible_mask(study, profile, eligible)
    with prog.step("scoring"):
        score = score_surface(study, profile, feasible)
    with prog.step("delineating sites"):
        raw, n_areas = delineate(score, feasible, study.grid, profile.min_acres, profile.separation_km, top)
        need = cells_needed(profile.min_acres, study.grid)
    with prog.step("describing sites"):
        sites = describe_sites(study, profile, raw, land)
        sites = sites.head(top).copy()
        sites.insert(0, "rank", np.arange(1, len(sites) + 1))
    cell_acres = study.grid.cell_acres
    stats = {
        "eligible_acres": round(float(eligible.sum()) * cell_acres),
        "feasible_acres": round(float(feasible.sum()) * cell_acres),
        "candidate_areas": n_areas,
        "sites": len(sites),
        "cells_per_site_min": need,
    }
    return Result(profile=profile, sites=sites, score=score, land=land, stats=stats)


def _agg(arr: np.ndarray, rows, cols, how: str) -> float:
    v = np.asarray(arr[rows, cols], dtype="float64")
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan")
    return float({"min": v.min, "max": v.max, "mean": v.mean}[how]())


def describe_sites(study, profile: Profile, raw_sites, land: str) -> gpd.GeoDataFrame:
    """Polygons, raw values (exact vector distances where possible), scores and evidence."""
    grid = study.grid
    crs = grid.crs
    if not raw_sites:
        return gpd.GeoDataFrame({"score": []}, geometry=gpd.GeoSeries([], crs=crs), crs=crs)
    polys = [site_polygon(s.rows, s.cols, grid) for s in raw_sites]
    geoms = np.asarray(polys, dtype=object)
    index = FeatureIndex(study)
    measures = profile.measures()
    raw: dict[str, np.ndarray] = {}
    raster_min: dict[str, np.ndarray] = {}
    for m in measures:
        arr = study.measure(m)
        how = MEASURES[m].site
        raw[m] = np.array([_agg(arr, s.rows, s.cols, how) for s in raw_sites])
        if MEASURES[m].refine is not None:
            raster_min[m] = raw[m]
            raw[m] = refined_distances(index, geoms, m)
    rows = []
    for i, s in enumerate(raw_sites):
        values = {m: raw[m][i] for m in measures}
        total, parts = site_breakdown(profile, values)
        rec = {"score": total, "acres": len(s.rows) * grid.cell_acres}
        for m in measures:
            rec[m] = values[m]
        for key, p in parts.items():
            rec[f"score_{key}"] = p["score"]
            rec[f"weight_{key}"] = p["weight"]
            rec[f"contrib_{key}"] = p["contribution"]
        ok_all = True
        for c in profile.constraints:
            if MEASURES[c.measure].refine is not None:
                lo = hi = values[c.measure]
            else:
                arr = study.measure(c.measure)
                lo, hi = _agg(arr, s.rows, s.cols, "min"), _agg(arr, s.rows, s.cols, "max")
            ok = bool((c.min is None or lo >= c.min) and (c.max is None or hi <= c.max))
            rec[f"ok_{c.key}"] = ok
            ok_all &= ok
        rec["constraints_passed"] = ok_all
        rec["reasons"] = _reasons(parts)
        rec["_seed"] = s.seed_score
        rows.append(rec)
    df = pd.DataFrame(rows)
    for m in raster_min:
        df[f"raster_{m}"] = raster_min[m]
    gdf = gpd.GeoDataFrame(df, geometry=list(geoms), crs=crs)
    gdf = _place(study, gdf, land)
    gdf = pd.concat([gdf.reset_index(drop=True), nearest_features(index, geoms)], axis=1)
    gdf = gpd.GeoDataFrame(gdf, geometry="geometry", crs=crs)
    gdf = gdf.sort_values(["score", "_seed"], ascending=False, kind="mergesort").drop(columns="_seed")
    return gdf.reset_index(drop=True)


def _reasons(parts: dict) -> str:
    top = sorted(parts.items(), key=lambda kv: -kv[1]["contribution"])
    out = []
    for key, p in top[:4]:
        v = p["raw"]
        val = "n/a" if v is None or not np.isfinite(v) else (f"{v:,.0f}" if abs(v) >= 100 else f"{v:.1f}")
        out.append(f"{key} {val} {p['unit']} -> {p['score']:.2f} (+{p['contribution']:.1f})")
    return "; ".join(out)


def _place(study, gdf: gpd.GeoDataFrame, land: str) -> gpd.GeoDataFrame:
    """State, managing agency and unit (largest overlap), and centroid lon/lat."""
    cent = gdf.geometry.centroid
    ll = gpd.GeoSeries(cent, crs=gdf.crs).to_crs("EPSG:4326")
    gdf.insert(1, "lon", ll.x.round(5).to_numpy())
    gdf.insert(2, "lat", ll.y.round(5).to_numpy())
    states = study.region.states
    gdf.insert(3, "state", [_largest(states, g, "code") for g in gdf.geometry])
    if study.manifest.has("federal_lands"):
        fl = study.layer("federal_lands")
        fl = fl[~fl["agency"].isin(("NPS", "FWS", "BIA"))] if land == "all" else fl
        agency = [_largest(fl, g, "agency") for g in gdf.geometry]
        unit = [_largest(fl, g, "unit") for g in gdf.geometry]
    else:
        agency = unit = [None] * len(gdf)
    gdf.insert(4, "agency", [a if a is not None else ("non-federal" if land == "all" else None) for a in agency])
    gdf.insert(5, "unit", unit)
    return gdf


def _largest(frame: gpd.GeoDataFrame, geom, column: str):
    idx = frame.sindex.query(geom, predicate="intersects")
    if len(idx) == 0:
        return None
    cand = frame.iloc[idx]
    areas = shapely.area(shapely.intersection(cand.geometry.values, geom))
    return cand[column].iloc[int(np.argmax(areas))]
