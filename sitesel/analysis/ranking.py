"""Ranking one park type over a study: from measures to described, ranked sites."""
from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numba
import numpy as np
import pandas as pd
import shapely

from sitesel.errors import MissingLayerError, ProfileError
from sitesel.analysis.evidence import FeatureIndex, nearest_features, refined_distances
from sitesel.measures.catalogue import MEASURES
from sitesel.analysis.profiles import Profile
from sitesel.analysis.scoring import cell_scores, feasible, site_breakdown
from sitesel.analysis.sites import cells_needed, delineate, site_polygon

DEFAULT_TOP = 20


@dataclass
class Result:
    """The outcome of ranking one profile: sites, cell scores and what went into them.

    ``cells`` are the flat grid indices of the feasible cells and ``cell_score`` their scores
    (0-1); :attr:`score` lays them out as a grid-sized raster.
    """

    profile: Profile
    sites: gpd.GeoDataFrame  # in the grid CRS, ranked
    cells: np.ndarray
    cell_score: np.ndarray
    grid: object
    land: str
    stats: dict = field(default_factory=dict)
    _score: np.ndarray | None = None

    def __getstate__(self) -> dict:
        return dict(self.__dict__, _score=None)  # the grid-sized raster is rebuilt on demand

    @property
    def score(self) -> np.ndarray:
        """Cell scores 0-1 on the whole grid, NaN where infeasible (float32)."""
        if self._score is None:
            out = np.full(self.grid.shape, np.nan, dtype=np.float32)
            out.ravel()[self.cells] = self.cell_score
            self._score = out
        return self._score

    def score_window(self, row: int, col: int, height: int, width: int, scale: float = 1.0) -> np.ndarray:
        """Cell scores 0-1 (times ``scale``) over a window of the grid, NaN where infeasible."""
        out = np.full((height, width), np.nan, dtype=np.float32)
        _scatter(self.cells, self.cell_score, self.grid.width, row, col, np.float32(scale), out)
        return out


@numba.njit(nogil=True, cache=True)
def _scatter(cells, values, grid_width, row, col, scale, out):  # pragma: no cover - compiled
    # One pass over the cells, no index arrays: a national surface at 250 m has ~26 M of them.
    height, width = out.shape
    for i in range(cells.shape[0]):
        r = cells[i] // grid_width - row
        c = cells[i] % grid_width - col
        if 0 <= r < height and 0 <= c < width:
            out[r, c] = values[i] * scale


def required_layers(profile: Profile, land: str) -> dict[str, list[str]]:
    """Layer -> the criteria, constraints or steps that need it."""
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


def check_reach(study, profile: Profile) -> None:
    """Refuse profiles that tell distances apart beyond the study's distance cap."""
    for item in (*profile.criteria, *profile.constraints):
        if not MEASURES[item.measure].is_distance:
            continue
        reach = item.function.reach() if hasattr(item, "function") else max(v for v in (item.min, item.max) if v is not None)
        if reach is not None and reach > study.cap_km:
            raise ProfileError(f"profile '{profile.name}': {item.key} distinguishes distances up to {reach:g} km, "
                               f"beyond this study's {study.cap_km:g} km distance cap; lower it or open the "
                               f"study with a larger cap (and pad)")


def rank(study, profile: Profile, *, land: str = "federal", top: int = DEFAULT_TOP,
         allow_missing: bool = False) -> Result:
    """Rank candidate sites for ``profile`` over ``study``.

    Parameters
    ----------
    study : Study
        Region, grid, layers and cached measures.
    profile : Profile
        The park type's requirements.
    land : {'federal', 'all'}
        Eligible federal land only (default), or all land except never-eligible land.
    top : int
        Number of sites to return.
    allow_missing : bool
        Rank without criteria whose layers the manifest lacks (their weight is reported).

    Returns
    -------
    Result
    """
    profile = check_layers(study, profile, land, allow_missing)
    check_reach(study, profile)
    prog = study.progress
    study.prepare(profile.measures(), land)
    with prog.step("eligible land and hard constraints"):
        cand = study.candidates(land)
        from sitesel.analysis.scoring import eligible

        elig = eligible(study, profile, land)
        ok = feasible(study, profile, land, base=elig)
        positions = np.flatnonzero(ok)
    with prog.step("scoring"):
        scores = cell_scores(study, profile, land, positions)
    cells = cand.cells[positions]
    with prog.step("delineating sites"):
        raw, grow_stats = delineate(cells, scores, study.grid, profile.min_acres, profile.separation_km, top)
    with prog.step("describing sites"):
        sites = describe_sites(study, profile, land, [positions[s.positions] for s in raw],
                               [s.seed_score for s in raw])
        sites = sites.head(top).copy()
        sites.insert(0, "rank", np.arange(1, len(sites) + 1))
    cell_acres = study.grid.cell_acres
    stats = {
        "eligible_acres": round(float(elig.sum()) * cell_acres),
        "feasible_acres": round(float(positions.size) * cell_acres),
        "sites": len(sites),
        "sites_considered": len(raw),
        "seeds_tried": grow_stats["seeds_tried"],
        "cells_per_site_min": cells_needed(profile.min_acres, study.grid),
    }
    return Result(profile=profile, sites=sites, cells=cells, cell_score=scores, grid=study.grid, land=land,
                  stats=stats)


def _agg(values: np.ndarray, how: str) -> float:
    v = np.asarray(values, dtype="float64")
    v = v[~np.isnan(v)]
    if v.size == 0:
        return float("nan")
    return float({"min": v.min, "max": v.max, "mean": v.mean}[how]())


def describe_sites(study, profile: Profile, land: str, site_positions: list[np.ndarray],
                   seed_scores: list[float]) -> gpd.GeoDataFrame:
    """Polygons, raw values (exact vector distances where possible), scores and evidence.

    ``site_positions`` are each site's cells as positions into the study's candidate vectors.
    """
    grid = study.grid
    crs = grid.crs
    if not site_positions:
        cols = ["score", "lon", "lat", "state", "agency", "unit", "acres", *profile.measures(),
                *[f"{k}_{c.key}" for c in profile.criteria for k in ("score", "weight", "contrib")],
                *[f"ok_{c.key}" for c in profile.constraints], "constraints_passed", "reasons"]
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=gpd.GeoSeries([], crs=crs), crs=crs)
    cand = study.candidates(land)
    geoms = np.asarray([site_polygon(cand.cells[p], grid) for p in site_positions], dtype=object)
    index = feature_index(study)
    measures = profile.measures()
    raw: dict[str, np.ndarray] = {}
    on_grid: dict[str, np.ndarray] = {}
    for m in measures:
        vals = study.values(m, land)
        raw[m] = np.array([_agg(vals[p], MEASURES[m].site) for p in site_positions])
        if MEASURES[m].refine is not None:
            on_grid[m] = raw[m]
            raw[m] = refined_distances(index, geoms, m)
    rows = []
    for i, p in enumerate(site_positions):
        values = {m: raw[m][i] for m in measures}
        total, parts = site_breakdown(profile, values)
        rec = {"score": total, "acres": len(p) * grid.cell_acres}
        for m in measures:
            rec[m] = values[m]
        for key, part in parts.items():
            rec[f"score_{key}"] = part["score"]
            rec[f"weight_{key}"] = part["weight"]
            rec[f"contrib_{key}"] = part["contribution"]
        ok_all = True
        for c in profile.constraints:
            if MEASURES[c.measure].refine is not None:
                lo = hi = values[c.measure]
            else:
                vals = study.values(c.measure, land)[p]
                lo, hi = _agg(vals, "min"), _agg(vals, "max")
            ok = bool((c.min is None or lo >= c.min) and (c.max is None or hi <= c.max))
            rec[f"ok_{c.key}"] = ok
            ok_all &= ok
        rec["constraints_passed"] = ok_all
        rec["reasons"] = _reasons(parts)
        rec["_seed"] = seed_scores[i]
        rec["_order"] = i
        rows.append(rec)
    df = pd.DataFrame(rows)
    for m in on_grid:
        # Beyond the distance cap the grid only knows "farther": left empty rather than infinite.
        df[f"raster_{m}"] = np.where(np.isinf(on_grid[m]), np.nan, on_grid[m])
    gdf = gpd.GeoDataFrame(df, geometry=list(geoms), crs=crs)
    gdf = _place(study, gdf, land)
    gdf = pd.concat([gdf.reset_index(drop=True), nearest_features(index, geoms)], axis=1)
    gdf = gpd.GeoDataFrame(gdf, geometry="geometry", crs=crs)
    gdf = gdf.sort_values(["score", "_seed", "_order"], ascending=[False, False, True], kind="mergesort")
    return gdf.drop(columns=["_seed", "_order"]).reset_index(drop=True)


def _reasons(parts: dict) -> str:
    top = sorted(parts.items(), key=lambda kv: -kv[1]["contribution"])
    out = []
    for key, p in top[:4]:
        v = p["raw"]
        val = "n/a" if v is None or not np.isfinite(v) else (f"{v:,.0f}" if abs(v) >= 100 else f"{v:.1f}")
        out.append(f"{key} {val} {p['unit']} -> {p['score']:.2f} (+{p['contribution']:.1f})")
    return "; ".join(out)


def feature_index(study) -> FeatureIndex:
    """The study's spatial indexes of evidence layers, built once and reused by every ranking."""
    if study._feature_index is None:
        study._feature_index = FeatureIndex(study)
    return study._feature_index


def _place(study, gdf: gpd.GeoDataFrame, land: str) -> gpd.GeoDataFrame:
    """State, managing agency and unit (largest overlap), and centroid lon/lat."""
    cent = gdf.geometry.centroid
    ll = gpd.GeoSeries(cent, crs=gdf.crs).to_crs("EPSG:4326")
    gdf.insert(1, "lon", ll.x.round(5).to_numpy())
    gdf.insert(2, "lat", ll.y.round(5).to_numpy())
    geoms = gdf.geometry.values
    gdf.insert(3, "state", _largest(study.region.states, geoms, "code"))
    if study.manifest.has("federal_lands"):
        fl = study.layer("federal_lands")
        fl = fl[~fl["agency"].isin(study.policy.never_agencies)] if land == "all" else fl
        agency, unit = _largest(fl, geoms, "agency", "unit")
    else:
        agency = unit = [None] * len(gdf)
    gdf.insert(4, "agency", [a if a is not None else ("non-federal" if land == "all" else None) for a in agency])
    gdf.insert(5, "unit", unit)
    return gdf


def _largest(frame: gpd.GeoDataFrame, geoms, *columns: str):
    """For each geometry, ``columns`` of the ``frame`` feature it overlaps most (None if none);
    ties go to the feature first in the frame."""
    n = len(geoms)
    found = np.full(n, -1, dtype=np.int64)
    if n and len(frame):
        gi, fi = frame.sindex.query(geoms, predicate="intersects")
        if gi.size:
            areas = shapely.area(shapely.intersection(np.asarray(geoms)[gi], frame.geometry.values[fi]))
            order = np.lexsort((fi, -areas, gi))
            gi, fi = gi[order], fi[order]
            first = np.r_[True, gi[1:] != gi[:-1]]
            found[gi[first]] = fi[first]
    out = []
    for c in columns:
        vals = frame[c].to_numpy(dtype=object)
        out.append([vals[i] if i >= 0 else None for i in found])
    return out if len(columns) > 1 else out[0]
