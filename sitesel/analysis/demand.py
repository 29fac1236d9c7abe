"""What a park draws and costs: the ``[demand]`` table of a profile.

A profile's demand says how much power (and at what voltage), water and access a park needs, how
many people it employs and what the park itself costs to build. The site-cost model
(:mod:`sitesel.analysis.costs`) prices the connections from it.

>>> d = parse_demand({"power_mw": 200, "voltage_kv": 230, "water_mgd": 0.5,
...                   "capex_usd": [1e9, 2e9, 3e9]}, "quantum.toml: demand")
>>> d.voltage_kv, d.capex_usd, d.road
(230.0, (1000000000.0, 2000000000.0, 3000000000.0), 'highway')
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from sitesel.errors import ProfileError, did_you_mean

__all__ = ["Demand", "ROADS", "parse_demand", "parse_range"]

#: Which road layer an access road runs to.
ROADS = {"interstate": "interstates", "highway": "highways"}

_KEYS = ("power_mw", "voltage_kv", "water_mgd", "jobs", "capex_usd", "road", "rail", "port")


@dataclass(frozen=True)
class Demand:
    """A park's needs and its own capital cost (constant dollars of the cost model's year)."""

    power_mw: float
    voltage_kv: float
    water_mgd: float = 0.0
    jobs: int = 0
    capex_usd: tuple[float, float, float] = (0.0, 0.0, 0.0)  # low, central, high
    road: str = "highway"
    rail: bool = False
    port: bool = False


def parse_range(value: object, where: str, error: type[Exception] = ProfileError) -> tuple[float, float, float]:
    """A number or ``[low, central, high]`` as a (low, central, high) tuple of non-negative floats.

    Examples
    --------
    >>> parse_range(5, "x")
    (5.0, 5.0, 5.0)
    >>> parse_range([1, 2, 4], "x")
    (1.0, 2.0, 4.0)
    """
    vals = value if isinstance(value, list) else [value]
    if len(vals) not in (1, 3) or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals):
        raise error(f"{where}: give a number or [low, central, high], not {value!r}")
    nums = [float(v) for v in vals]  # type: ignore[arg-type]  # checked above
    if not all(math.isfinite(v) and v >= 0 for v in nums):
        raise error(f"{where}: values must be finite and not negative, not {value!r}")
    low, central, high = (nums * 3)[:3] if len(nums) == 1 else nums
    if not low <= central <= high:
        raise error(f"{where}: a range is [low, central, high] in that order, not {value!r}")
    return low, central, high


def _number(table: dict, key: str, where: str, default: float | None = None) -> float:
    v = table.get(key, default)
    if v is None:
        raise ProfileError(f"{where}: give {key}")
    if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v) or v < 0:
        raise ProfileError(f"{where}.{key} must be a number >= 0, not {v!r}")
    return float(v)


def parse_demand(table: object, where: str) -> Demand:
    """A validated :class:`Demand` from a profile's ``[demand]`` table.

    Parameters
    ----------
    table : dict
        ``power_mw`` and ``voltage_kv`` (required), ``water_mgd``, ``jobs``, ``capex_usd`` (a
        number or ``[low, central, high]``), ``road`` (``"interstate"`` or ``"highway"``),
        ``rail`` and ``port`` (whether the park needs a rail spur or port access).
    where : str
        Where the table was given, for messages.

    Returns
    -------
    Demand

    Raises
    ------
    ProfileError
        An unknown key (naming the closest), a missing or negative number, or a bad road kind.
    """
    if not isinstance(table, dict):
        raise ProfileError(f"{where} must be a table")
    for k in table:
        if k not in _KEYS:
            raise ProfileError(f"{where}: unknown key '{k}'{did_you_mean(k, _KEYS)} (expected {', '.join(_KEYS)})")
    road = table.get("road", "highway")
    if road not in ROADS:
        raise ProfileError(f"{where}.road must be one of {', '.join(ROADS)}, not {road!r}")
    flags = {}
    for k in ("rail", "port"):
        flags[k] = table.get(k, False)
        if not isinstance(flags[k], bool):
            raise ProfileError(f"{where}.{k} must be true or false")
    jobs = _number(table, "jobs", where, 0)
    return Demand(power_mw=_number(table, "power_mw", where), voltage_kv=_number(table, "voltage_kv", where),
                  water_mgd=_number(table, "water_mgd", where, 0), jobs=int(round(jobs)),
                  capex_usd=parse_range(table.get("capex_usd", 0), f"{where}.capex_usd"), road=road,
                  rail=flags["rail"], port=flags["port"])
