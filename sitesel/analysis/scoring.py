"""Weighted-sum suitability: feasibility from hard constraints, scores from soft criteria.

Everything here works on vectors over a study's candidate cells, so re-scoring with new weights
touches only the cells that can matter.
"""
from __future__ import annotations

import math

import numpy as np

from sitesel.analysis.profiles import Constraint, Profile
from sitesel.measures.catalogue import MEASURES

__all__ = ["cell_scores", "clamp_total", "constraint_ok", "criterion_points", "distance_margin_km", "eligible",
           "feasible", "site_breakdown", "weighted_sum"]


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


def criterion_points(profile: Profile, scores: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Sites' points per criterion and total score (0-100) from their 0-1 criterion scores.

    The one place a site's score is weighed, for ranked sites and for :func:`site_breakdown`.

    Parameters
    ----------
    profile : Profile
        Its normalised weights.
    scores : dict
        ``{criterion key: 0-1 scores of the sites}`` (float64 arrays of equal length).

    Returns
    -------
    total : numpy.ndarray
        Each site's score, the sum of its points in criterion order, clamped to 0-100.
    points : dict
        ``{criterion key: 100 x weight x score}``.
    """
    n = len(next(iter(scores.values()))) if scores else 0
    total = np.zeros(n)
    points = {}
    for c in profile.criteria:
        points[c.key] = 100.0 * profile.weights[c.key] * scores[c.key]
        total = total + points[c.key]
    return clamp_total(total), points


def site_breakdown(profile: Profile, raw: dict[str, float]) -> tuple[float, dict[str, dict]]:
    """Score one site from its raw values: total 0-100 and each criterion's part.

    Returns
    -------
    score : float
        Sum of contributions, 0-100.
    parts : dict
        ``{criterion: {measure, unit, raw, score, weight, contribution}}``.
    """
    scores = {c.key: np.array([float(c.function(np.float32(raw.get(c.measure, np.nan))))]) for c in profile.criteria}
    total, points = criterion_points(profile, scores)
    parts = {c.key: {"measure": c.measure, "unit": MEASURES[c.measure].unit, "raw": raw.get(c.measure),
                     "score": float(scores[c.key][0]), "weight": profile.weights[c.key],
                     "contribution": float(points[c.key][0])} for c in profile.criteria}
    return float(total[0]) if len(total) else 0.0, parts


def clamp_total(total):
    """Scores (0-100) with the rounding of a float sum of weights that add up to 1 removed:
    a perfect site sums to 100.00000000000001 for some weights (found by the property tests)."""
    return np.clip(total, 0.0, 100.0)
