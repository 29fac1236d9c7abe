"""Exact vector evidence for sites: refined distances and the nearest named features."""
from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from sitesel.measures.catalogue import MEASURES

#: Nearest features reported for every site: (prefix, layer, filter column, minimum, attribute).
NEAREST = (
    ("substation", "substations", "max_kv", 115.0, "max_kv"),
    ("line", "transmission_lines", None, None, "voltage_kv"),
    ("plant", "power_plants", None, None, "mw"),
    ("water", "water", None, None, None),
    ("interstate", "interstates", None, None, None),
    ("rail", "railroads", None, None, None),
    ("port", "ports", None, None, None),
    ("airport", "airports", None, None, None),
)


class FeatureIndex:
    """STRtrees over (filtered) layers of a study, built on first use."""

    def __init__(self, study):
        self.study = study
        self._cache: dict = {}

    def _frame(self, layer: str, column: str | None, minimum: float | None) -> pd.DataFrame | None:
        key = (layer, column, minimum)
        if key not in self._cache:
            if layer == "water":
                frames = [self._frame(n, None, None) for n in ("rivers", "lakes")]
                frames = [f for f in frames if f is not None]
                gdf = pd.concat(frames, ignore_index=True) if frames else None
            elif not self.study.manifest.has(layer):
                gdf = None
            else:
                gdf = self.study.layer(layer)
                if column is not None:
                    gdf = gdf[gdf[column] >= minimum].reset_index(drop=True)
            if gdf is not None and len(gdf) == 0:
                gdf = None
            tree = shapely.STRtree(gdf.geometry.values) if gdf is not None else None
            self._cache[key] = (gdf, tree)
        return self._cache[key][0]

    def nearest(self, geoms, layer: str, column: str | None = None, minimum: float | None = None):
        """For each geometry: (index into the filtered frame or -1, distance in km)."""
        gdf = self._frame(layer, column, minimum)
        n = len(geoms)
        if gdf is None or n == 0:
            return gdf, np.full(n, -1), np.full(n, np.nan)
        tree = self._cache[(layer, column, minimum)][1]
        (src, tgt), dist = tree.query_nearest(geoms, return_distance=True, all_matches=False)
        idx = np.full(n, -1)
        d = np.full(n, np.nan)
        idx[src] = tgt
        d[src] = dist / 1000.0
        return gdf, idx, d


def refined_distances(index: FeatureIndex, geoms, measure: str) -> np.ndarray:
    """Exact distance (km) from each site polygon to the features a distance measure counts."""
    refine = MEASURES[measure].refine
    if refine is None:
        raise ValueError(f"{measure} is not refined by exact distances")
    layer, column, minimum = refine
    return index.nearest(geoms, layer, column, minimum)[2]


def nearest_features(index: FeatureIndex, geoms) -> pd.DataFrame:
    """Columns ``nearest_<kind>_name``, ``nearest_<kind>_km`` (and kV/MW) for each site."""
    cols: dict[str, list] = {}
    for prefix, layer, column, minimum, attr in NEAREST:
        gdf, idx, dist = index.nearest(geoms, layer, column, minimum)
        if gdf is None:
            continue
        ok = idx >= 0
        if "name" in gdf.columns:
            names = gdf["name"].to_numpy(dtype=object)
            cols[f"nearest_{prefix}_name"] = [names[i] if o and names[i] is not None else None for i, o in zip(idx, ok)]
        if attr:
            unit = {"max_kv": "kv", "voltage_kv": "kv", "mw": "mw"}[attr]
            vals = gdf[attr].to_numpy(dtype="float64")
            cols[f"nearest_{prefix}_{unit}"] = [float(vals[i]) if o else np.nan for i, o in zip(idx, ok)]
        cols[f"nearest_{prefix}_km"] = list(dist)
    return pd.DataFrame(cols)
