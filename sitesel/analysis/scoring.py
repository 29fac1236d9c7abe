"""Weighted-sum suitability: feasibility from hard constraints, scores from soft criteria.

Everything here works on vectors over a study's candidate cells, so re-scoring with new weights
touches only the cells that can matter.
"""
from __future__ import annotations

import math

import numpy as np

from sitesel.measures.catalogue import MEASURES
from sitesel.analysis.profiles import Constraint, Profile


def distance_margin_km(res: float) -> float:
    """Half a cell diagonal: the most a raster distance can differ from the exact one."""
    return res * math.sqrt(2) / 2 / 1000.0


def constraint_ok(values: np.ndarray, c: Constraint, res: float) -> np.ndarray:
    """Which cells satisfy one hard constraint.

    Distance bounds are tightened by the raster's worst-case error so that every site built from
    passing cells also passes when checked with exact vector geometry.
    """
    margin = distance_margin_km(res) if MEASURES[c.measure].is_distance else 0.0
    ok = np.ones(values.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        if c.max is not None:
            ok &= values <= c.max - margin
        if c.min is not None:
            ok &= values >= c.min + 2 * margin
    return ok


def eligible(study, profile: Profile, land: str) -> np.ndarray:
    """Which candidate cells the profile may use (its agencies, unless ``land='all'``)."""
    cand = study.candidates(land)
    if land == "all":
        return np.ones(len(cand), dtype=bool)
    return np.isin(cand.agency, cand.codes_for(profile.eligible_agencies))


def feasible(study, profile: Profile, land: str, base: np.ndarray | None = None) -> np.ndarray:
    """Eligible candidate cells that pass every hard constraint."""
    ok = eligible(study, profile, land) if base is None else base.copy()
    for c in profile.constraints:
        ok &= constraint_ok(study.values(c.measure, land), c, study.grid.res)
    return ok


def cell_scores(study, profile: Profile, land: str, positions: np.ndarray) -> np.ndarray:
    """Scores 0-1 (weighted sum of criterion scores) at candidate ``positions``."""
    return weighted_sum(profile, positions.size, lambda c: c.function(study.values(c.measure, land)[positions]))


def weighted_sum(profile: Profile, n: int, criterion_scores) -> np.ndarray:
    """Scores 0-1 of ``n`` cells: the float32 weighted sum of ``criterion_scores(criterion)``.

    The one place the sum is taken, so the engine and the re-ranker (which caches criterion
    scores) give bit-identical results.
    """
    acc = np.zeros(n, dtype=np.float32)
    for c in profile.criteria:
        w = np.float32(profile.weights[c.key])
        if w == 0:
            continue
        acc += w * criterion_scores(c)
    return np.minimum(acc, np.float32(1.0), out=acc)  # float32 weights may sum past 1


def site_breakdown(profile: Profile, raw: dict[str, float]) -> tuple[float, dict[str, dict]]:
    """Score one site from its raw values: total 0-100 and each criterion's part.

    Returns
    -------
    score : float
        Sum of contributions, 0-100.
    parts : dict
        ``{criterion: {measure, unit, raw, score, weight, contribution}}``.
    """
    parts = {}
    total = 0.0
    for c in profile.criteria:
        w = profile.weights[c.key]
        s = float(c.function(np.float32(raw.get(c.measure, np.nan))))
        contrib = 100.0 * w * s
        total += contrib
        parts[c.key] = {"measure": c.measure, "unit": MEASURES[c.measure].unit, "raw": raw.get(c.measure),
                        "score": s, "weight": w, "contribution": contrib}
    return float(clamp_total(total)), parts


def clamp_total(total):
    """Scores (0-100) with the rounding of a float sum of weights that add up to 1 removed:
    a perfect site sums to 100.00000000000001 for some weights (found by the property tests)."""
    return np.clip(total, 0.0, 100.0)
