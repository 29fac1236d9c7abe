"""Re-ranking a study with new weights or requirements, reusing what they leave unchanged.

:func:`sitesel.analysis.ranking.rank` starts from the study's cached measures every time. When an analyst
moves a weight, most of its work is unchanged: which cells pass the hard constraints depends
only on the eligible agencies and the constraints; each criterion's 0-1 score at those cells
only on its measure and value function; and a delineated site's polygon, exact distances and
nearest features only on its cells. A :class:`Ranker` keeps those and recomputes only the
weighted sum, the delineation and the weight-dependent columns of each site. Its output is
identical to :func:`sitesel.analysis.ranking.rank` (the tests compare them).
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from sitesel.measures.catalogue import MEASURES
from sitesel.analysis.profiles import Profile
from sitesel.analysis.ranking import DEFAULT_TOP, Result, _reasons, check_layers, check_reach, describe_sites
from sitesel.analysis.scoring import clamp_total, eligible, feasible, weighted_sum
from sitesel.analysis.sites import OVERSAMPLE, cells_needed, delineate

#: Constraint sets whose feasible cells (and criterion scores there) are kept.
KEEP_FEASIBLE = 2
#: Described sites kept (a site is a few kB).
KEEP_SITES = 4000


@dataclass
class Ranking:
    """A :class:`~sitesel.analysis.ranking.Result` and the pool of described sites it was chosen from.

    ``pool`` holds every delineated candidate (``top`` x :data:`sitesel.analysis.sites.OVERSAMPLE`),
    ranked by exact score; ``result.sites`` are its first ``top``.
    """

    result: Result
    pool: gpd.GeoDataFrame


def _structure(profile: Profile, land: str) -> tuple:
    """What a site's weight-independent description depends on, besides its cells."""
    return (land, profile.constraints, tuple((c.key, c.measure, repr(c.function)) for c in profile.criteria))


class Ranker:
    """Ranks profiles over one study and land mode, keeping weight-independent work.

    Parameters
    ----------
    study : Study
        An open study (measures are prepared on first use).
    land : {'federal', 'all'}
        Eligible land mode.
    """

    def __init__(self, study, land: str = "federal"):
        self.study = study
        self.land = land
        self._eligible: dict = {}
        self._feasible: OrderedDict = OrderedDict()
        self._parts: dict = {}
        self._sites: OrderedDict = OrderedDict()

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
        self._feasible[key] = entry
        while len(self._feasible) > KEEP_FEASIBLE:
            old, _ = self._feasible.popitem(last=False)
            self._parts = {k: v for k, v in self._parts.items() if k[0] != old}
        return key, *entry

    def criterion_score(self, fkey: tuple, positions: np.ndarray, criterion) -> np.ndarray:
        """A criterion's 0-1 score at the feasible cells (independent of its weight)."""
        key = (fkey, criterion.measure, repr(criterion.function))
        if key not in self._parts:
            self._parts[key] = criterion.function(self.study.values(criterion.measure, self.land)[positions])
        return self._parts[key]

    def cell_scores(self, profile: Profile, fkey: tuple, positions: np.ndarray) -> np.ndarray:
        """Weighted sum at the feasible cells, from the cached criterion scores."""
        return weighted_sum(profile, positions.size, lambda c: self.criterion_score(fkey, positions, c))

    # -- sites ----------------------------------------------------------------------------
    def _describe(self, profile: Profile, site_positions: list[np.ndarray]) -> list[dict]:
        """Weight-independent description of each site (from the cache where possible)."""
        struct = _structure(profile, self.land)
        keys = [(struct, hashlib.blake2b(p.tobytes(), digest_size=16).digest()) for p in site_positions]
        todo = [i for i, k in enumerate(keys) if k not in self._sites]
        if todo:
            gdf = describe_sites(self.study, profile, self.land, [site_positions[i] for i in todo], [0.0] * len(todo))
            for i, row in zip(self._match(gdf, [site_positions[i] for i in todo]), gdf.to_dict("records")):
                self._sites[keys[todo[i]]] = row
            while len(self._sites) > KEEP_SITES:
                self._sites.popitem(last=False)
        for k in keys:
            self._sites.move_to_end(k)
        return [self._sites[k] for k in keys]

    def _match(self, gdf: gpd.GeoDataFrame, site_positions: list[np.ndarray]) -> list[int]:
        """Which input site each described row is (a point inside its polygon lies in its cells)."""
        grid = self.study.grid
        cells = self.study.candidates(self.land).cells
        owner = {}
        for i, p in enumerate(site_positions):
            for flat in cells[p].tolist():
                owner[flat] = i
        pts = gdf.geometry.representative_point()
        cols = np.floor((pts.x.to_numpy() - grid.xmin) / grid.res).astype(np.int64)
        rows = np.floor((grid.ymax - pts.y.to_numpy()) / grid.res).astype(np.int64)
        out = [owner[int(r * grid.width + c)] for r, c in zip(rows, cols)]
        if sorted(out) != list(range(len(site_positions))):
            raise RuntimeError("could not match described sites to their cells")
        return out

    def _weigh(self, profile: Profile, rows: list[dict], seeds: list[float]) -> gpd.GeoDataFrame:
        """Sites with the weight-dependent columns recomputed, ranked as :func:`describe_sites` ranks."""
        # Columns from lists, as describe_sites builds them, so pandas infers the same dtypes
        # (text columns: str where any value is text).
        df = pd.DataFrame({col: [r[col] for r in rows] for col in rows[0]})
        weights = profile.weights
        total = np.zeros(len(df))
        parts = [dict() for _ in range(len(df))]
        for c in profile.criteria:
            w = weights[c.key]
            s = df[f"score_{c.key}"].to_numpy(dtype="float64")
            contrib = 100.0 * w * s
            total = total + contrib
            df[f"weight_{c.key}"] = w
            df[f"contrib_{c.key}"] = contrib
            raw = df[c.measure].to_numpy()
            for i in range(len(df)):
                parts[i][c.key] = {"raw": raw[i], "unit": MEASURES[c.measure].unit, "score": s[i],
                                   "contribution": contrib[i]}
        df["score"] = clamp_total(total)
        df["reasons"] = [_reasons(p) for p in parts]
        df["_seed"] = seeds
        df["_order"] = np.arange(len(df))
        df = df.sort_values(["score", "_seed", "_order"], ascending=[False, False, True], kind="mergesort")
        df = df.drop(columns=["_seed", "_order"]).reset_index(drop=True)
        return gpd.GeoDataFrame(df, geometry="geometry", crs=self.study.grid.crs)

    # -- ranking --------------------------------------------------------------------------
    def rank(self, profile: Profile, top: int = DEFAULT_TOP, allow_missing: bool = False) -> Ranking:
        """Rank ``profile``; same arguments and result as :func:`sitesel.analysis.ranking.rank`, plus the pool."""
        study, land = self.study, self.land
        profile = check_layers(study, profile, land, allow_missing)
        check_reach(study, profile)
        study.prepare(profile.measures(), land)
        fkey, positions, n_eligible = self.feasible_positions(profile)
        scores = self.cell_scores(profile, fkey, positions)
        cells = study.candidates(land).cells[positions]
        raw, grow_stats = delineate(cells, scores, study.grid, profile.min_acres, profile.separation_km, top)
        site_pos = [positions[s.positions] for s in raw]
        if site_pos:
            rows = self._describe(profile, site_pos)
            pool = self._weigh(profile, rows, [s.seed_score for s in raw])
        else:
            pool = describe_sites(study, profile, land, [], [])
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
        result = Result(profile=profile, sites=sites, cells=cells, cell_score=scores, grid=study.grid, land=land,
                        stats=stats)
        return Ranking(result, pool)


def pool_size(top: int) -> int:
    """How many candidate sites a ranking of ``top`` delineates and describes."""
    return top * OVERSAMPLE


__all__ = ["Ranker", "Ranking", "pool_size"]
