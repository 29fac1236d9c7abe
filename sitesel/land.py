"""Land policy: which land may carry an industrial park."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .paths import builtin_data
from .grid import rasterize_inside, rasterize_mask

LAND_MODES = ("federal", "all")


@dataclass(frozen=True)
class LandPolicy:
    """Agencies and designations that are never eligible, whatever a profile says."""

    never_agencies: tuple[str, ...]
    never_designations: tuple[str, ...]


def load_policy(path: str | Path | None = None) -> LandPolicy:
    """The global land policy (``data/land_policy.toml`` unless ``path`` is given)."""
    p = Path(path) if path else builtin_data() / "land_policy.toml"
    doc = tomllib.loads(p.read_text(encoding="utf-8"))
    return LandPolicy(tuple(a.upper() for a in doc.get("never_eligible_agencies", [])),
                      tuple(doc.get("never_eligible_designations", [])))


def excluded_land(study, policy: LandPolicy):
    """Polygons that are never eligible: the policy's agencies and designations."""
    parts = []
    for name in ("federal_lands", "protected_areas"):
        if study.manifest.has(name):
            gdf = study.layer(name)
            bad = gdf["agency"].isin(policy.never_agencies) | gdf["designation"].isin(policy.never_designations)
            parts.extend(gdf.geometry.values[bad.to_numpy()])
    return parts


def eligible_mask(study, agencies: tuple[str, ...], policy: LandPolicy, land: str = "federal") -> np.ndarray:
    """Cells wholly on eligible land inside the region, not in a lake and not never-eligible.

    Parameters
    ----------
    agencies : tuple of str
        Agencies whose land the profile accepts (``land='federal'``).
    land : {'federal', 'all'}
        ``'all'`` scores every cell of the region except never-eligible federal land, so federal
        sites can be compared with the best land anywhere.
    """
    key = ("eligible", land, tuple(sorted(agencies)))
    with study._lock(key):
        if key not in study._masks:
            study._masks[key] = _eligible(study, agencies, policy, land)
    return study._masks[key]


def _eligible(study, agencies, policy: LandPolicy, land: str) -> np.ndarray:
    if land not in LAND_MODES:
        raise ValueError(f"land must be one of {LAND_MODES}")
    excluded = rasterize_mask(excluded_land(study, policy), study.grid, all_touched=True)
    if land == "all":
        base = study.region_mask().copy()
    else:
        fl = study.layer("federal_lands")
        ok = fl["agency"].isin(agencies) & ~fl["agency"].isin(policy.never_agencies)
        base = rasterize_inside(fl.geometry.values[ok.to_numpy()], study.grid) & study.region_mask()
    return base & ~excluded & ~study.water_mask()
