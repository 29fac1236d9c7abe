"""Weighted-sum suitability: feasibility from hard constraints, scores from soft criteria."""
from __future__ import annotations

import math

import numpy as np

from .measures import MEASURES
from .profiles import Constraint, Profile


def distance_margin_km(res: float) -> float:
    """Half a cell diagonal: the most a raster distance can differ from the exact one."""
    return res * math.sqrt(2) / 2 / 1000.0


def constraint_mask(study, c: Constraint) -> np.ndarray:
    """Cells that satisfy one hard constraint.

    Distance bounds are tightened by the raster's worst-case error so that every site built from
    passing cells also passes when checked with exact vector geometry.
    """
    raw = study.measure(c.measure)
    is_dist = MEASURES[c.measure].site == "min" and MEASURES[c.measure].unit == "km"
    m = np.ones(study.grid.shape, dtype=bool)
    margin = distance_margin_km(study.grid.res) if is_dist else 0.0
    with np.errstate(invalid="ignore"):
        if c.max is not None:
            m &= raw <= c.max - margin
        if c.min is not None:
            m &= raw >= c.min + 2 * margin
    return m


def feasible_mask(study, profile: Profile, eligible: np.ndarray) -> np.ndarray:
    """Eligible cells that pass every hard constraint."""
    m = eligible.copy()
    for c in profile.constraints:
        m &= constraint_mask(study, c)
    return m


def score_surface(study, profile: Profile, feasible: np.ndarray) -> np.ndarray:
    """Cell scores 0-1 (weighted sum of criterion scores); NaN where infeasible.

    Only feasible cells are scored: usually a small share of the grid, and the part that matters.
    """
    idx = np.flatnonzero(feasible)
    acc = np.zeros(idx.size, dtype=np.float32)
    for c in profile.criteria:
        w = np.float32(profile.weights[c.key])
        if w == 0:
            continue
        acc += w * c.function(study.measure(c.measure).ravel()[idx])
    out = np.full(study.grid.shape, np.nan, dtype=np.float32)
    out.ravel()[idx] = acc
    return out


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
    return total, parts
