"""Ranking one park type over a study: the one pipeline from measures to ranked sites.

Every ranking, from the command line, the API or a re-ranking with new weights, goes through
:meth:`Ranker.rank`. Most of its work does not depend on the weights: which cells pass the hard
constraints depends only on the eligible agencies and the constraints; each criterion's 0-1 score
at those cells only on its measure and value function; and a delineated site's description
(polygon, exact distances, nearest features) only on its cells. A :class:`Ranker` keeps those,
so re-ranking recomputes only the weighted sum, the delineation and the weighing of the sites.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field

import geopandas as gpd
import numba
import numpy as np
import pandas as pd

from sitesel.analysis.costmodel import CostModel, builtin_costs
from sitesel.analysis.describe import describe_sites
from sitesel.analysis.evidence import FeatureIndex
from sitesel.analysis.profiles import Constraint, Criterion, Profile
from sitesel.analysis.scoring import criterion_points, eligible, feasible, weighted_sum
from sitesel.analysis.sites import OVERSAMPLE, cells_needed, delineate
from sitesel.errors import MissingLayerError, ProfileError
from sitesel.measures.catalogue import MEASURES
from sitesel.study.grid import Grid

__all__ = ["DEFAULT_TOP", "Ranker", "Result", "check_layers", "check_reach", "pool_size", "rank", "reasons",
           "required_layers", "weigh_sites"]

DEFAULT_TOP = 20
#: Constraint sets whose feasible cells (and criterion scores there) a ranker keeps.
KEEP_FEASIBLE = 2
#: Described sites a ranker keeps (a site is a few kB).
KEEP_SITES = 4000


@dataclass
class Result:
    """The outcome of ranking one profile: sites, cell scores and what went into them.

    ``cells`` are the flat grid indices of the feasible cells and ``cell_score`` their scores
    (0-1); :attr:`score` lays them out as a grid-sized raster. ``pool`` holds every delineated
    candidate (``top`` x :data:`sitesel.analysis.sites.OVERSAMPLE`), ranked; ``sites`` are its
    first ``top``.
    """

    profile: Profile
    sites: gpd.GeoDataFrame  # in the grid CRS, ranked
    cells: np.ndarray
    cell_score: np.ndarray
    grid: Grid
    land: str
    stats: dict = field(default_factory=dict)
    pool: gpd.GeoDataFrame | None = None
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
    # One pass over the cells, no index arrays: a national surface at fine resolution has tens of millions.
    height, width = out.shape
    for i in range(cells.shape[0]):
        r = cells[i] // grid_width - row
        c = cells[i] % grid_width - col
        if 0 <= r < height and 0 <= c < width:
            out[r, c] = values[i] * scale


def required_layers(profile: Profile, land: str) -> dict[str, list[str]]:
    """Layer -> the criteria, constraints or steps of ``profile`` that need it."""
    need = profile.layers()
    need.setdefault("states", []).append("region")
    if land == "federal":
        need.setdefault("federal_lands", []).append("eligible land")
    return need


def check_layers(study, profile: Profile, land: str, allow_missing: bool) -> Profile:
    """Fail naming the missing layers, or (``allow_missing``) drop what needs them.

    Raises
    ------
    MissingLayerError
        A layer is missing and ``allow_missing`` is false, or the region or land layer is missing.
    """
    missing = {k: v for k, v in required_layers(profile, land).items() if not study.manifest.has(k)}
    if not missing:
        return profile
    if not allow_missing or {"states", "federal_lands"} & set(missing):
        raise MissingLayerError(missing)
    return profile.without_layers(set(missing))


def check_reach(study, profile: Profile) -> None:
    """Refuse profiles that tell distances apart beyond the study's distance cap.

    Raises
    ------
    ProfileError
        A criterion or constraint distinguishes distances beyond ``study.cap_km``.
    """
    items: list[Criterion | Constraint] = [*profile.criteria, *profile.constraints]
    for item in items:
        if not MEASURES[item.measure].is_distance:
            continue
        if isinstance(item, Criterion):
            reach = item.function.reach()
        else:
            reach = max(v for v in (item.min, item.max) if v is not None)
        if reach is not None and reach > study.cap_km:
            raise ProfileError(f"profile '{profile.name}': {item.key} distinguishes distances up to {reach:g} km, "
                               f"beyond this study's {study.cap_km:g} km distance cap; lower it or open the "
                               f"study with a larger cap (and pad)", profile=profile.name, key=item.key)


def reasons(parts: dict[str, dict]) -> str:
    """The four largest contributions of a site, as ``key value unit -> score (+points)``."""
    top = sorted(parts.items(), key=lambda kv: -kv[1]["contribution"])
    out = []
    for key, p in top[:4]:
        v = p["raw"]
        val = "n/a" if v is None or not np.isfinite(v) else (f"{v:,.0f}" if abs(v) >= 100 else f"{v:.1f}")
        out.append(f"{key} {val} {p['unit']} -> {p['score']:.2f} (+{p['contribution']:.1f})")
    return "; ".join(out)


def weigh_sites(profile: Profile, rows: list[dict], seeds: list[float], crs) -> gpd.GeoDataFrame:
    """Described sites with their weights, points, score and reasons, ranked best first.

    Parameters
    ----------
    profile : Profile
        Its weights are applied to the criterion scores the rows carry.
    rows : list of dict
        Site descriptions (records of :func:`sitesel.analysis.describe.describe_sites`).
    seeds : list of float
        Each site's seed score: ties in score go to the better seed, then to delineation order.
    crs
        The grid CRS of the geometries.
    """
    # Columns from lists, so pandas infers a column's dtype from its values (text: str where any is).
    df = pd.DataFrame({col: [r[col] for r in rows] for col in rows[0]})
    scores = {c.key: df[f"score_{c.key}"].to_numpy(dtype="float64") for c in profile.criteria}
    total, points = criterion_points(profile, scores)
    parts: list[dict] = [{} for _ in range(len(df))]
    for c in profile.criteria:
        df[f"weight_{c.key}"] = profile.weights[c.key]
        df[f"contrib_{c.key}"] = points[c.key]
        raw = df[c.measure].to_numpy()
        for i in range(len(df)):
            parts[i][c.key] = {"raw": raw[i], "unit": MEASURES[c.measure].unit, "score": scores[c.key][i],
                               "contribution": points[c.key][i]}
    df["score"] = total
    df["reasons"] = [reasons(p) for p in parts]
    df["_seed"] = seeds
    df["_order"] = np.arange(len(df))
    df = df.sort_values(["score", "_seed", "_order"], ascending=[False, False, True], kind="mergesort")
    df = df.drop(columns=["_seed", "_order"]).reset_index(drop=True)
    return gpd.GeoDataFrame(df, geometry="geometry", crs=crs)


def _structure(profile: Profile, land: str) -> tuple:
    """What a site's weight-independent description depends on, besides its cells."""
    return (land, profile.constraints, tuple((c.key, c.measure, repr(c.function)) for c in profile.criteria),
            profile.demand)


class Ranker:
    """Ranks profiles over one study and land mode, keeping weight-independent work.

    Parameters
    ----------
    study : Study
        An open study (measures are prepared on first use).
    land : {'federal', 'all'}
        Eligible land mode.
    costs : CostModel, optional
        Prices the sites of profiles that give a ``[demand]``; the built-in model
        (``data/costs.toml``) when not given.
    keep_scores : bool
        Keep feasible cells and criterion scores between rankings, for re-ranking with new weights
        (the API). A run that ranks each park once (the CLI) passes False, so that no
        cell-sized array outlives its ranking.
    """

    def __init__(self, study, land: str = "federal", costs: CostModel | None = None, keep_scores: bool = True):
        self.study = study
        self.land = land
        self.keep_scores = keep_scores
        self.costs = costs if costs is not None else builtin_costs()
        self._index: FeatureIndex | None = None
        self._eligible: dict = {}
        self._feasible: OrderedDict = OrderedDict()
        self._parts: dict = {}
        self._sites: OrderedDict = OrderedDict()

    @property
    def feature_index(self) -> FeatureIndex:
        """Spatial indexes of the study's evidence layers, built once and used by every ranking."""
        if self._index is None:
            self._index = FeatureIndex(self.study)
        return self._index

    # -- cells ----------------------------------------------------------------------------
    def feasible_positions(self, profile: Profile) -> tuple[tuple, np.ndarray, int]:
        """(key, positions of the feasible candidate cells, number of eligible cells)."""
        agencies = frozenset(profile.eligible_agencies) if self.land != "all" else "all"
        key = (agencies, tuple((c.measure, c.min, c.max) for c in profile.constraints))
        if key in self._feasible:
            self._feasible.move_to_end(key)
            return key, *self._feasible[key]
        if agencies not in self._eligible:
            self._eligible[agencies] = eligible(self.study, profile, self.land)
        elig = self._eligible[agencies]
        ok = feasible(self.study, profile, self.land, base=elig)
        entry = (np.flatnonzero(ok), int(elig.sum()))
        if not self.keep_scores:
            return key, *entry
        self._feasible[key] = entry
        while len(self._feasible) > KEEP_FEASIBLE:
            old, _ = self._feasible.popitem(last=False)
            self._parts = {k: v for k, v in self._parts.items() if k[0] != old}
        return key, *entry

    def criterion_score(self, fkey: tuple, positions: np.ndarray, criterion) -> np.ndarray:
        """A criterion's 0-1 score at the feasible cells (independent of its weight)."""
        key = (fkey, criterion.measure, repr(criterion.function))
        if not self.keep_scores:  # one at a time: a batch run holds no more than the sum
            return criterion.function(self.study.values(criterion.measure, self.land)[positions])
        if key not in self._parts:
            self._parts[key] = criterion.function(self.study.values(criterion.measure, self.land)[positions])
        return self._parts[key]

    def cell_scores(self, profile: Profile, fkey: tuple, positions: np.ndarray) -> np.ndarray:
        """Weighted sum at the feasible cells, from the cached criterion scores."""
        return weighted_sum(profile, positions.size, lambda c: self.criterion_score(fkey, positions, c))

    # -- sites ----------------------------------------------------------------------------
    def describe(self, profile: Profile, site_positions: list[np.ndarray]) -> list[dict]:
        """Weight-independent description of each site, in order (from the cache where possible)."""
        struct = _structure(profile, self.land)
        keys = [(struct, hashlib.blake2b(p.tobytes(), digest_size=16).digest()) for p in site_positions]
        todo = [i for i, k in enumerate(keys) if k not in self._sites]
        if todo:
            gdf = describe_sites(self.study, profile, self.land, [site_positions[i] for i in todo],
                                 self.feature_index, self.costs)
            for i, row in zip(todo, gdf.to_dict("records")):
                self._sites[keys[i]] = row
            while len(self._sites) > KEEP_SITES:
                self._sites.popitem(last=False)
        for k in keys:
            self._sites.move_to_end(k)
        return [self._sites[k] for k in keys]

    # -- ranking --------------------------------------------------------------------------
    def rank(self, profile: Profile, top: int = DEFAULT_TOP, allow_missing: bool = False) -> Result:
        """Rank ``profile``: see :func:`rank`."""
        study, land = self.study, self.land
        profile = check_layers(study, profile, land, allow_missing)
        check_reach(study, profile)
        study.prepare(profile.measures(), land)
        prog = study.progress
        with prog.step("eligible land and hard constraints"):
            fkey, positions, n_eligible = self.feasible_positions(profile)
        with prog.step("scoring"):
            scores = self.cell_scores(profile, fkey, positions)
        cells = study.candidates(land).cells[positions]
        with prog.step("delineating sites"):
            raw, grow_stats = delineate(cells, scores, study.grid, profile.min_acres, profile.separation_km, top)
        with prog.step("describing sites"):
            site_pos = [positions[s.positions] for s in raw]
            if site_pos:
                pool = weigh_sites(profile, self.describe(profile, site_pos), [s.seed_score for s in raw],
                                   study.grid.crs)
            else:
                pool = describe_sites(study, profile, land, [], self.feature_index, self.costs)
            pool.insert(0, "rank", np.arange(1, len(pool) + 1))
            sites = pool.head(top).copy()
        cell_acres = study.grid.cell_acres
        stats = {
            "eligible_acres": round(float(n_eligible) * cell_acres),
            "feasible_acres": round(float(positions.size) * cell_acres),
            "sites": len(sites),
            "sites_considered": len(raw),
            "seeds_tried": grow_stats["seeds_tried"],
            "cells_per_site_min": cells_needed(profile.min_acres, study.grid),
        }
        if profile.demand is not None:
            stats["costs"] = {"model": self.costs.source, "dollar_year": self.costs.dollar_year}
        return Result(profile=profile, sites=sites, cells=cells, cell_score=scores, grid=study.grid, land=land,
                      stats=stats, pool=pool)


def rank(study, profile: Profile, *, land: str = "federal", top: int = DEFAULT_TOP, allow_missing: bool = False,
         ranker: Ranker | None = None) -> Result:
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
    ranker : Ranker, optional
        Keeps weight-independent work between rankings of the same study and land mode (a new
        one is made when not given).

    Returns
    -------
    Result
    """
    if ranker is None:
        ranker = Ranker(study, land)
    elif ranker.study is not study or ranker.land != land:
        raise ValueError("the ranker belongs to another study or land mode")
    return ranker.rank(profile, top=top, allow_missing=allow_missing)


def pool_size(top: int) -> int:
    """How many candidate sites a ranking of ``top`` delineates and describes."""
    return top * OVERSAMPLE
