"""The site-cost model: unit costs and lead times read from a TOML file (``data/costs.toml``).

Every figure is a range ``(low, central, high)`` in constant dollars of the file's
``dollar_year``; a single number in the file is a range of width zero. The file's layout and the
source of each figure are in ``docs/costs.md``; :mod:`sitesel.analysis.costs` applies the model to
sites.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sitesel.analysis.demand import parse_range
from sitesel.defaults import builtin_data
from sitesel.errors import CostError, did_you_mean
from sitesel.io.toml import read_toml

__all__ = ["CostModel", "Range", "Steps", "builtin_costs", "load_costs"]

Range = tuple[float, float, float]

_SECTIONS = {
    "power": ("line_usd_per_km", "substation_usd", "tap_usd", "bay_usd"),
    "terrain": ("slope_pct", "multiplier"),
    "water": ("mgd", "pipeline_usd_per_km", "intake_usd"),
    "road": ("usd_per_km",),
    "grading": ("slope_pct", "usd_per_acre"),
    "rail": ("usd_per_km",),
    "port": ("usd",),
    "time_to_power": ("substation_months", "line_permit_months", "line_build_months_per_km"),
}


@dataclass(frozen=True)
class Steps:
    """A step function: ``values[i]`` applies up to ``edges[i]`` (inclusive); the last beyond."""

    edges: tuple[float, ...]
    values: tuple[Range, ...]

    def at(self, x: float) -> Range:
        """The range for ``x`` (the first step where ``x <= edge``; NaN counts as the first step)."""
        if not math.isfinite(x):
            return self.values[0]
        return self.values[int(np.searchsorted(np.asarray(self.edges), x, side="left"))]


@dataclass(frozen=True)
class CostModel:
    """Unit costs and lead times, in constant dollars of ``dollar_year``.

    ``line_usd_per_km``, ``substation_usd``, ``tap_usd``, ``bay_usd`` and ``line_permit_months``
    map a voltage class (kV) to a range; a connection at a voltage between classes is priced at
    the next class up.
    """

    dollar_year: int
    line_usd_per_km: dict[float, Range]
    substation_usd: dict[float, Range]
    tap_usd: dict[float, Range]
    bay_usd: dict[float, Range]
    terrain: Steps
    water_pipeline_usd_per_km: Steps
    water_intake_usd: Range
    road_usd_per_km: Range
    grading_usd_per_acre: Steps
    rail_usd_per_km: Range
    port_usd: Range
    substation_months: Range
    line_permit_months: dict[float, Range]
    line_build_months_per_km: Range
    source: str = ""

    def kv_class(self, kv: float) -> float:
        """The voltage class a connection at ``kv`` is priced at: the lowest class at or above it
        (the highest class when ``kv`` is above them all)."""
        classes = sorted(self.line_usd_per_km)
        return next((c for c in classes if c >= kv - 1e-9), classes[-1])


def _range(value: object, where: str) -> Range:
    return parse_range(value, where, CostError)


def _by_kv(table: object, where: str) -> dict[float, Range]:
    if not isinstance(table, dict) or not table:
        raise CostError(f"{where}: give a table of voltage class (kV) = cost, e.g. 345 = [low, central, high]")
    out = {}
    for k, v in table.items():
        try:
            kv = float(k)
        except ValueError:
            raise CostError(f"{where}: '{k}' is not a voltage in kV") from None
        out[kv] = _range(v, f"{where}.{k}")
    return dict(sorted(out.items()))


def _steps(edges: object, values: object, where: str, edge_key: str, value_key: str) -> Steps:
    if not isinstance(edges, list) or not all(isinstance(e, int | float) for e in edges):
        raise CostError(f"{where}.{edge_key}: give the class edges as a list of numbers")
    if any(b <= a for a, b in zip(edges, edges[1:])):
        raise CostError(f"{where}.{edge_key}: the edges must increase")
    if not isinstance(values, list) or len(values) != len(edges) + 1:
        raise CostError(f"{where}.{value_key}: give {len(edges) + 1} values, one more than the edges "
                        f"(the last applies beyond {edges[-1] if edges else 'them'})")
    return Steps(tuple(float(e) for e in edges),
                 tuple(_range(v, f"{where}.{value_key}[{i}]") for i, v in enumerate(values)))


def parse_costs(doc: dict, source: str = "<costs>") -> CostModel:
    """A validated :class:`CostModel` from a parsed cost document.

    Raises
    ------
    CostError
        A missing section or key, an unknown one (naming the closest), or a value that is not a
        non-negative number or ``[low, central, high]`` range.
    """
    for k in doc:
        if k != "dollar_year" and k not in _SECTIONS:
            raise CostError(f"{source}: unknown section [{k}]{did_you_mean(k, _SECTIONS)}", path=source)
    year = doc.get("dollar_year")
    if not isinstance(year, int) or isinstance(year, bool) or not 1900 <= year <= 2100:
        raise CostError(f"{source}: give dollar_year, the year of the constant dollars (e.g. 2024)", path=source)
    sec: dict[str, dict] = {}
    for name, keys in _SECTIONS.items():
        table = doc.get(name)
        where = f"{source}: {name}"
        if not isinstance(table, dict):
            raise CostError(f"{where}: the [{name}] section is missing", path=source)
        for k in table:
            if k not in keys:
                raise CostError(f"{where}: unknown key '{k}'{did_you_mean(k, keys)} (expected {', '.join(keys)})",
                                path=source)
        for k in keys:
            if k not in table:
                raise CostError(f"{where}: give {k}", path=source)
        sec[name] = table
    p, t, w, g, ttp = sec["power"], sec["terrain"], sec["water"], sec["grading"], sec["time_to_power"]
    lines = _by_kv(p["line_usd_per_km"], f"{source}: power.line_usd_per_km")
    for key in ("substation_usd", "tap_usd", "bay_usd"):
        if set(_by_kv(p[key], f"{source}: power.{key}")) != set(lines):
            raise CostError(f"{source}: power.{key} must give the same voltage classes as power.line_usd_per_km "
                            f"({', '.join(f'{k:g}' for k in lines)})", path=source)
    permit = _by_kv(ttp["line_permit_months"], f"{source}: time_to_power.line_permit_months")
    if set(permit) != set(lines):
        raise CostError(f"{source}: time_to_power.line_permit_months must give the voltage classes of "
                        "power.line_usd_per_km", path=source)
    return CostModel(
        dollar_year=year, line_usd_per_km=lines,
        substation_usd=_by_kv(p["substation_usd"], f"{source}: power.substation_usd"),
        tap_usd=_by_kv(p["tap_usd"], f"{source}: power.tap_usd"),
        bay_usd=_by_kv(p["bay_usd"], f"{source}: power.bay_usd"),
        terrain=_steps(t["slope_pct"], t["multiplier"], f"{source}: terrain", "slope_pct", "multiplier"),
        water_pipeline_usd_per_km=_steps(w["mgd"], w["pipeline_usd_per_km"], f"{source}: water", "mgd",
                                         "pipeline_usd_per_km"),
        water_intake_usd=_range(w["intake_usd"], f"{source}: water.intake_usd"),
        road_usd_per_km=_range(sec["road"]["usd_per_km"], f"{source}: road.usd_per_km"),
        grading_usd_per_acre=_steps(g["slope_pct"], g["usd_per_acre"], f"{source}: grading", "slope_pct",
                                    "usd_per_acre"),
        rail_usd_per_km=_range(sec["rail"]["usd_per_km"], f"{source}: rail.usd_per_km"),
        port_usd=_range(sec["port"]["usd"], f"{source}: port.usd"),
        substation_months=_range(ttp["substation_months"], f"{source}: time_to_power.substation_months"),
        line_permit_months=permit,
        line_build_months_per_km=_range(ttp["line_build_months_per_km"],
                                        f"{source}: time_to_power.line_build_months_per_km"),
        source=source,
    )


def load_costs(path: str | Path) -> CostModel:
    """The cost model in a TOML file.

    Parameters
    ----------
    path : path-like
        A cost file laid out as ``data/costs.toml`` (see ``docs/costs.md``).

    Returns
    -------
    CostModel

    Raises
    ------
    CostError
        One line: the file is missing, not TOML, or a section, key or value is wrong.
    """
    doc = read_toml(path, "cost model", CostError, schema="docs/costs.md")
    return parse_costs(doc, str(path))


@functools.cache
def builtin_costs() -> CostModel:
    """The cost model shipped with sitesel (``data/costs.toml``), read once per process."""
    return load_costs(builtin_data() / "costs.toml")
