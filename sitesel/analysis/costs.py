"""What it costs to connect a site, and how long until it can draw power.

Each site is priced from the exact vector distances between its polygon and the features that
serve it, a profile's :class:`~sitesel.analysis.demand.Demand` and a
:class:`~sitesel.analysis.costmodel.CostModel`:

* **power**: a new line at the park's voltage to the nearest substation of at least that voltage
  (plus a line position there), or to the nearest line of at least that voltage (plus a
  switching station to tap it, priced at that line's voltage), whichever costs less; the
  line's cost per km is scaled by a terrain multiplier from the site's mean slope; plus the park's
  own substation;
* **water**: a pipeline sized by the park's demand to the nearest river or lake, plus an intake;
* **road**: an access road to the nearest Interstate or highway (as the demand says);
* **grading**: the site's acres at a cost per acre by its mean slope;
* **rail** and **port**: a spur to the nearest main line, and port or berth works, where the
  demand needs them.

Distances are rounded to the metre before pricing and each item to the dollar, so that
``km x $/km (x multiplier) + fixed items`` reproduces a reported figure exactly from the
reported distances. Time to power is the longer of the substation's lead time and the new line's
permitting plus construction.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from sitesel.analysis.costmodel import CostModel, Range
from sitesel.analysis.demand import ROADS, Demand
from sitesel.analysis.evidence import FeatureIndex

__all__ = ["COST_ITEMS", "cost_columns", "format_usd", "site_costs"]

#: The priced items, in their column order (``cost_<item>_usd``).
COST_ITEMS = ("power_line", "substation", "water", "road", "grading", "rail", "port")

_NAN3: Range = (np.nan, np.nan, np.nan)


def cost_columns() -> list[str]:
    """The columns :func:`site_costs` adds, in order."""
    return [*(f"cost_{i}_usd" for i in COST_ITEMS), "cost_site_low_usd", "cost_site_usd", "cost_site_high_usd",
            "capex_low_usd", "capex_usd", "capex_high_usd", "time_to_power_months", "power_kv", "power_line_km",
            "power_to", "water_pipe_km", "road_km", "rail_km", "cost_summary"]


def _km(d: float) -> float:
    return round(float(d), 3) if np.isfinite(d) else np.nan


def _times(km: float, rate: Range, mult: Range | float = 1.0) -> Range:
    m = mult if isinstance(mult, tuple) else (mult, mult, mult)
    return tuple(float(round(km * r * x)) for r, x in zip(rate, m))  # type: ignore[return-value]


def _plus(*parts: Range) -> Range:
    return tuple(float(sum(p[i] for p in parts)) for i in range(3))  # type: ignore[return-value]


def format_usd(x: float) -> str:
    """``$1.23B``, ``$45.6M`` or ``$789k``.

    >>> format_usd(412_345_678), format_usd(45_600_000), format_usd(789_000)
    ('$0.41B', '$45.6M', '$789k')
    """
    if not np.isfinite(x):
        return "unknown"
    if x >= 1e8:
        return f"${x / 1e9:.2f}B"
    if x >= 1e6:
        return f"${x / 1e6:.1f}M"
    return f"${x / 1e3:.0f}k"


def _power(model: CostModel, demand: Demand, mult: Range, options: Sequence[tuple]) -> tuple:
    """The cheaper way to connect: (line range, stations range, kV class, km, what it reaches).

    ``options`` are ``(km, kV of the feature, fixed cost table, name)``; one with no feature
    (NaN km) is skipped.
    """
    park = model.substation_usd[model.kv_class(demand.voltage_kv)]
    found = []
    for km, kv, fixed, name in options:
        if np.isfinite(km) and np.isfinite(kv):
            cls = model.kv_class(kv)
            found.append((_times(km, model.line_usd_per_km[cls], mult), _plus(fixed[cls], park), cls, km, name))
    if not found:
        return _NAN3, _NAN3, np.nan, np.nan, "no line or substation of that voltage in the layers"
    return min(found, key=lambda o: o[0][1] + o[1][1])


def _months(model: CostModel, cls: float, km: float) -> float:
    if not np.isfinite(km):
        return np.nan
    sub = model.substation_months[1]
    line = model.line_permit_months[cls][1] + km * model.line_build_months_per_km[1] if km > 0 else 0.0
    return round(max(sub, line), 1)


def site_costs(index: FeatureIndex, geoms: ArrayLike, acres: ArrayLike, slope_pct: ArrayLike,
               demand: Demand, model: CostModel) -> pd.DataFrame:
    """The connection costs, park capital cost and time to power of each site.

    Parameters
    ----------
    index : FeatureIndex
        Spatial indexes of the study's layers (the distances are exact vector distances).
    geoms : sequence of shapely geometries
        Site polygons, in the study's grid CRS (metres).
    acres : sequence of float
        Each site's area.
    slope_pct : sequence of float
        Each site's mean slope (terrain multiplier of the line, grading cost).
    demand : Demand
        The park's needs.
    model : CostModel
        Unit costs and lead times.

    Returns
    -------
    pandas.DataFrame
        One row a site with the columns of :func:`cost_columns`: ``cost_<item>_usd`` (central)
        for every item of :data:`COST_ITEMS` (0 where the park does not need it, NaN where the
        layer it needs is missing), the site total as low, central and high, the park's capital
        cost likewise, the indicative ``time_to_power_months``, what was priced (``power_kv``,
        ``power_line_km``, ``power_to``, ``water_pipe_km``, ``road_km``, ``rail_km``) and a
        one-line ``cost_summary``.
    """
    geoms = np.asarray(geoms, dtype=object)
    acres, slope_pct = np.asarray(acres, dtype="float64"), np.asarray(slope_pct, dtype="float64")
    n = len(geoms)
    kv = demand.voltage_kv
    sub_gdf, sub_i, sub_km = index.nearest(geoms, "substations", "max_kv", kv)
    line_gdf, line_i, line_km = index.nearest(geoms, "transmission_lines", "voltage_kv", kv)
    water_km = index.nearest(geoms, "water")[2] if demand.water_mgd > 0 else np.zeros(n)
    road_km = index.nearest(geoms, ROADS[demand.road])[2]
    rail_km = index.nearest(geoms, "railroads")[2] if demand.rail else np.zeros(n)
    pipe_rate = model.water_pipeline_usd_per_km.at(demand.water_mgd)
    rows = []
    for i in range(n):
        sub_name = sub_gdf["name"].iloc[sub_i[i]] if sub_i[i] >= 0 and "name" in sub_gdf.columns else None
        sub_label = f"substation {sub_name}" if isinstance(sub_name, str) and sub_name else "a substation"
        line_kv = float(line_gdf["voltage_kv"].iloc[line_i[i]]) if line_i[i] >= 0 else np.nan
        line, station, cls, km, to = _power(model, demand, model.terrain.at(float(slope_pct[i])), [
            (_km(sub_km[i]), kv, model.bay_usd, sub_label),
            (_km(line_km[i]), line_kv, model.tap_usd,
             f"a {model.kv_class(line_kv):g} kV line" if np.isfinite(line_kv) else ""),
        ])
        wkm, rkm, rlkm = _km(water_km[i]), _km(road_km[i]), _km(rail_km[i])
        water = _plus(_times(wkm, pipe_rate), model.water_intake_usd) if demand.water_mgd > 0 else (0.0,) * 3
        if not np.isfinite(wkm):
            water = _NAN3
        items: dict[str, Range] = {
            "power_line": line, "substation": station, "water": water,
            "road": _times(rkm, model.road_usd_per_km) if np.isfinite(rkm) else _NAN3,
            "grading": _times(float(acres[i]), model.grading_usd_per_acre.at(float(slope_pct[i]))),
            "rail": (_times(rlkm, model.rail_usd_per_km) if np.isfinite(rlkm) else _NAN3) if demand.rail
            else (0.0, 0.0, 0.0),
            "port": model.port_usd if demand.port else (0.0, 0.0, 0.0),
        }
        total = _plus(*items.values())
        rec: dict[str, object] = {f"cost_{k}_usd": v[1] for k, v in items.items()}
        rec.update({"cost_site_low_usd": total[0], "cost_site_usd": total[1], "cost_site_high_usd": total[2],
                    "capex_low_usd": demand.capex_usd[0], "capex_usd": demand.capex_usd[1],
                    "capex_high_usd": demand.capex_usd[2], "time_to_power_months": _months(model, cls, km),
                    "power_kv": cls, "power_line_km": km, "power_to": to,
                    "water_pipe_km": wkm if demand.water_mgd > 0 else 0.0, "road_km": rkm,
                    "rail_km": rlkm if demand.rail else 0.0})
        rec["cost_summary"] = summary(rec, demand)
        rows.append(rec)
    return pd.DataFrame(rows, columns=cost_columns())


def summary(rec: dict, demand: Demand) -> str:
    """``"$0.41B to connect: 12.0 km of 345 kV line to substation X, a substation, 8.0 km of water pipe"``."""
    parts = []
    km, cls = rec["power_line_km"], rec["power_kv"]
    if isinstance(km, float) and np.isfinite(km):
        to = rec["power_to"]
        parts.append(f"{km:.1f} km of {cls:g} kV line to {to}" if km > 0 else f"a connection at {to}")
        parts.append("a substation")
    else:
        parts.append(str(rec["power_to"]))
    if demand.water_mgd > 0:
        parts.append(f"{rec['water_pipe_km']:.1f} km of water pipe")
    parts.append(f"{rec['road_km']:.1f} km of road")
    if demand.rail:
        parts.append(f"{rec['rail_km']:.1f} km of rail spur")
    if demand.port:
        parts.append("port works")
    return f"{format_usd(float(rec['cost_site_usd']))} to connect: " + ", ".join(parts)
