"""What a delineated site is, independent of the weights: its polygon, place, raw values, criterion
scores, constraint checks and nearest named features.

A site's description depends only on its cells, the land mode, the constraints and the criteria's
value functions, so re-ranking with new weights reuses it (see :class:`sitesel.analysis.ranking.Ranker`);
:func:`sitesel.analysis.ranking.weigh_sites` adds the weight-dependent columns.
"""
from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from sitesel.analysis.costmodel import CostModel
from sitesel.analysis.costs import site_costs
from sitesel.analysis.evidence import FeatureIndex, nearest_features, refined_distances
from sitesel.analysis.profiles import Profile
from sitesel.analysis.sites import site_polygon
from sitesel.measures.catalogue import MEASURES

__all__ = ["describe_sites", "largest_overlap", "site_columns"]


def site_columns(profile: Profile) -> list[str]:
    """The attribute columns of a profile's sites, in their order (before placement and evidence)."""
    return ["score", "lon", "lat", "state", "agency", "unit", "acres", *profile.measures(),
            *[f"{k}_{c.key}" for c in profile.criteria for k in ("score", "weight", "contrib")],
            *[f"ok_{c.key}" for c in profile.constraints], "constraints_passed", "reasons"]


def _agg(values: np.ndarray, how: str) -> float:
    v = np.asarray(values, dtype="float64")
    v = v[~np.isnan(v)]
    if v.size == 0:
        return float("nan")
    return float({"min": v.min, "max": v.max, "mean": v.mean}[how]())


def describe_sites(study, profile: Profile, land: str, site_positions: Sequence[np.ndarray],
                   index: FeatureIndex, costs: CostModel | None = None) -> gpd.GeoDataFrame:
    """Describe sites, in the order given, without weighing them.

    Parameters
    ----------
    study : Study
        The open study the sites were delineated in.
    profile : Profile
        Its criteria and constraints say which values, scores and checks each site carries.
    land : {'federal', 'all'}
        Land mode (for the candidate vectors and the managing agency).
    site_positions : sequence of numpy.ndarray
        Each site's cells, as positions into the study's candidate vectors.
    index : FeatureIndex
        Spatial indexes of the evidence layers (exact distances, nearest features).
    costs : CostModel, optional
        Prices each site (:func:`sitesel.analysis.costs.site_costs`) when the profile gives its
        ``[demand]``.

    Returns
    -------
    geopandas.GeoDataFrame
        One row a site in the grid CRS, with the columns of :func:`site_columns` (``score``,
        ``weight_*``, ``contrib_*`` and ``reasons`` left empty for the weighing), ``raster_*``
        (grid distances where exact ones replace them), ``nearest_*`` and, with a cost model and a
        demand, the cost columns.
    """
    grid = study.grid
    crs = grid.crs
    if not len(site_positions):
        return gpd.GeoDataFrame({c: [] for c in site_columns(profile)}, geometry=gpd.GeoSeries([], crs=crs), crs=crs)
    cand = study.candidates(land)
    geoms = np.asarray([site_polygon(cand.cells[p], grid) for p in site_positions], dtype=object)
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
        rec: dict[str, object] = {"score": np.nan, "acres": len(p) * grid.cell_acres}
        for m in measures:
            rec[m] = raw[m][i]
        for c in profile.criteria:
            rec[f"score_{c.key}"] = float(c.function(np.float32(raw[c.measure][i])))
            rec[f"weight_{c.key}"] = np.nan
            rec[f"contrib_{c.key}"] = np.nan
        ok_all = True
        for con in profile.constraints:
            if MEASURES[con.measure].refine is not None:
                lo = hi = raw[con.measure][i]
            else:
                vals = study.values(con.measure, land)[p]
                lo, hi = _agg(vals, "min"), _agg(vals, "max")
            ok = bool((con.min is None or lo >= con.min) and (con.max is None or hi <= con.max))
            rec[f"ok_{con.key}"] = ok
            ok_all &= ok
        rec["constraints_passed"] = ok_all
        rec["reasons"] = ""
        rows.append(rec)
    df = pd.DataFrame(rows)
    for m in on_grid:
        # Beyond the distance cap the grid only knows "farther": left empty rather than infinite.
        df[f"raster_{m}"] = np.where(np.isinf(on_grid[m]), np.nan, on_grid[m])
    gdf = gpd.GeoDataFrame(df, geometry=list(geoms), crs=crs)
    gdf = _place(study, gdf, land)
    parts = [gdf.reset_index(drop=True), nearest_features(index, geoms)]
    if costs is not None and profile.demand is not None:
        # The site's mean slope, as its slope_pct column reports it, sets the terrain multiplier.
        if "slope_pct" in raw:
            slope = raw["slope_pct"]
        elif all(study.manifest.has(n) for n in MEASURES["slope_pct"].layers):
            slope = np.array([_agg(study.values("slope_pct", land)[p], MEASURES["slope_pct"].site)
                              for p in site_positions])
        else:
            slope = np.full(len(geoms), np.nan)
        parts.append(site_costs(index, geoms, df["acres"].to_numpy(), slope, profile.demand, costs))
    return gpd.GeoDataFrame(pd.concat(parts, axis=1), geometry="geometry", crs=crs)


def _place(study, gdf: gpd.GeoDataFrame, land: str) -> gpd.GeoDataFrame:
    """State, managing agency and unit (largest overlap), and centroid lon/lat."""
    cent = gdf.geometry.centroid
    ll = gpd.GeoSeries(cent, crs=gdf.crs).to_crs("EPSG:4326")
    gdf.insert(1, "lon", ll.x.round(5).to_numpy())
    gdf.insert(2, "lat", ll.y.round(5).to_numpy())
    geoms = gdf.geometry.values
    gdf.insert(3, "state", largest_overlap(study.region.states, geoms, "code")[0])
    if study.manifest.has("federal_lands"):
        fl = study.layer("federal_lands")
        fl = fl[~fl["agency"].isin(study.policy.never_agencies)] if land == "all" else fl
        agency, unit = largest_overlap(fl, geoms, "agency", "unit")
    else:
        agency = unit = [None] * len(gdf)
    gdf.insert(4, "agency", [a if a is not None else ("non-federal" if land == "all" else None) for a in agency])
    gdf.insert(5, "unit", unit)
    return gdf


def largest_overlap(frame: gpd.GeoDataFrame, geoms, *columns: str) -> list[list]:
    """For each geometry, ``columns`` of the ``frame`` feature it overlaps most (None if none).

    Ties go to the feature first in the frame. Returns one list per column.
    """
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
    return out
