"""Value functions: map a criterion's raw value to a 0-1 score (cf. ArcGIS Rescale by Function).

A profile's criterion table names a function and its parameters; :func:`value_function` checks
them and builds the :class:`ValueFunction` that scores raw values:

>>> f = value_function({"function": "linear", "best": 0, "worst": 50}, "criteria.interstate", "km")
>>> f([0, 25, 80]).tolist()
[1.0, 0.5, 0.0]
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from sitesel.errors import ProfileError

__all__ = ["PARAMS", "PLAUSIBLE", "ValueFunction", "check_value", "parse_number", "value_function"]

#: Value-function kinds and the parameters each takes.
PARAMS = {
    "linear": ("best", "worst"),
    "step": ("thresholds", "scores"),
    "logistic": ("midpoint", "width", "increasing"),
    "gaussian": ("ideal", "spread"),
}


@dataclass(frozen=True)
class ValueFunction:
    """A named transform with its parameters; ``missing`` is the score of a missing raw value.

    Calling it scores raw values (computed in float32, clipped to 0-1):

    - ``linear``: 1 at ``best``, 0 at ``worst``, straight between them;
    - ``step``: ``scores[i]`` from the ``i``-th of the ascending ``thresholds`` on;
    - ``logistic``: 0.5 at ``midpoint``, rising (``increasing``) or falling over ``width``;
    - ``gaussian``: 1 at ``ideal``, falling off with ``spread``.

    Examples
    --------
    >>> ValueFunction("step", {"thresholds": [230, 345], "scores": [0, 0.5, 1]})([115, 230, 500]).tolist()
    [0.0, 0.5, 1.0]
    >>> f = ValueFunction("logistic", {"midpoint": 100, "width": 20, "increasing": True}, missing=0.25)
    >>> [round(v, 3) for v in f([60, 100, 140, float("nan")]).tolist()]
    [0.119, 0.5, 0.881, 0.25]
    >>> [round(v, 3) for v in ValueFunction("gaussian", {"ideal": 2, "spread": 1})([2, 3]).tolist()]
    [1.0, 0.607]
    """

    kind: str
    params: dict = field(default_factory=dict)
    missing: float = 0.0

    def __call__(self, x: npt.ArrayLike) -> np.ndarray:
        """Scores (float32, 0-1) of raw values ``x``; NaN scores :attr:`missing`."""
        x = np.asarray(x, dtype=np.float32)
        p = self.params
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            if self.kind == "linear":
                best, worst = np.float32(p["best"]), np.float32(p["worst"])
                s = (x - worst) / (best - worst)
            elif self.kind == "step":
                idx = np.searchsorted(np.asarray(p["thresholds"], dtype=np.float32), x, side="right")
                s = np.asarray(p["scores"], dtype=np.float32)[np.minimum(idx, len(p["scores"]) - 1)]
            elif self.kind == "logistic":
                z = (x - np.float32(p["midpoint"])) / np.float32(p["width"])
                s = 1.0 / (1.0 + np.exp(-z if p["increasing"] else z))
            else:  # gaussian
                z = (x - np.float32(p["ideal"])) / np.float32(p["spread"])
                s = np.exp(-0.5 * z * z)
        s = np.clip(np.asarray(s, dtype=np.float32), 0.0, 1.0)
        return np.where(np.isnan(x), np.float32(self.missing), s).astype(np.float32)

    def reach(self) -> float:
        """The raw value beyond which the score no longer changes (to within 0.3%).

        >>> ValueFunction("linear", {"best": 0, "worst": 50}).reach()
        50.0
        """
        p = self.params
        if self.kind == "linear":
            return float(max(p["best"], p["worst"]))
        if self.kind == "step":
            return float(max(p["thresholds"])) if p["thresholds"] else 0.0
        if self.kind == "logistic":
            return float(p["midpoint"] + 6 * p["width"])
        return float(p["ideal"] + 3.5 * p["spread"])

    def describe(self) -> str:
        """The function as written, e.g. ``linear(best=0, worst=50)``."""
        return f"{self.kind}(" + ", ".join(f"{k}={v}" for k, v in self.params.items()) + ")"


def value_function(spec: dict, where: str, unit: str | None = None) -> ValueFunction:
    """Build a :class:`ValueFunction` from a profile's criterion table, with clear errors.

    Parameters
    ----------
    spec : dict
        The criterion table (``function`` and its parameters, optional ``missing``).
    where : str
        "file: criteria.key", for messages.
    unit : str, optional
        The measure's unit; raw-value parameters outside its plausible range are refused
        (see :func:`check_value`).

    Returns
    -------
    ValueFunction

    Raises
    ------
    ProfileError
        An unknown function, a missing or ill-typed parameter, or a value outside its range.

    Examples
    --------
    >>> f = value_function({"function": "gaussian", "ideal": 3, "spread": 2, "missing": 0.5}, "criteria.flat", "%")
    >>> [round(v, 3) for v in f([3, 5, float("nan")]).tolist()]
    [1.0, 0.607, 0.5]
    >>> value_function({"function": "linear", "best": 5, "worst": 5}, "criteria.x", "km")
    Traceback (most recent call last):
    sitesel.errors.ProfileError: criteria.x: linear best and worst must differ (they are 5 and 5)
    """
    if not isinstance(spec, dict):
        raise ProfileError(f"{where}: must be a table with function = ... and its parameters")
    kind = spec.get("function")
    if not isinstance(kind, str) or kind not in PARAMS:
        raise ProfileError(f"{where}.function must be one of {', '.join(PARAMS)}, not {kind!r}")
    missing_keys = [k for k in PARAMS[kind] if k not in spec]
    if missing_keys:
        raise ProfileError(f"{where}: a {kind} function needs {', '.join(missing_keys)}")
    params = {k: spec[k] for k in PARAMS[kind]}

    def value(k: str, v=None) -> float:  # a raw value of the measure, in its unit
        x = parse_number(params[k] if v is None else v, f"{where}.{k}", unit)
        if unit is not None:
            check_value(x, unit, f"{where}.{k}")
        return x

    if kind == "linear":
        best, worst = value("best"), value("worst")
        if np.float32(best) == np.float32(worst):  # scores are computed in float32
            raise ProfileError(f"{where}: linear best and worst must differ (they are {best:g} and {worst:g})")
    elif kind == "step":
        t, sc = params["thresholds"], params["scores"]
        if not isinstance(t, list) or not isinstance(sc, list) or not t or len(sc) != len(t) + 1:
            raise ProfileError(f"{where}: step needs a non-empty list of thresholds and one more score than "
                               "thresholds, e.g. thresholds = [230, 345], scores = [0, 0.5, 1]")
        ts = [value("thresholds", v) for v in t]
        if ts != sorted(ts):
            raise ProfileError(f"{where}.thresholds must be ascending, not {t}")
        sc = [parse_number(v, f"{where}.scores") for v in sc]
        if any(not 0 <= v <= 1 for v in sc):
            raise ProfileError(f"{where}.scores must lie in 0-1, not {sc}")
        if not _single_peaked(sc):
            raise ProfileError(f"{where}.scores {sc} must rise to one peak and then fall (so that moving towards "
                               "the best value never lowers the score); split the criterion in two")
    elif kind == "logistic":
        value("midpoint")
        width = parse_number(params["width"], f"{where}.width", unit)
        if not np.float32(width) > 0:
            raise ProfileError(f"{where}.width must be positive, not {width:g}")
        if not isinstance(params["increasing"], bool):
            raise ProfileError(f"{where}.increasing must be true or false, not {params['increasing']!r}")
    else:
        value("ideal")
        spread = parse_number(params["spread"], f"{where}.spread", unit)
        if not np.float32(spread) > 0:
            raise ProfileError(f"{where}.spread must be positive, not {spread:g}")
    missing = parse_number(spec.get("missing", 0.0), f"{where}.missing")
    if not 0 <= missing <= 1:
        raise ProfileError(f"{where}.missing must lie in 0-1 (the score of a missing value), not {missing:g}")
    # Parameters are kept as written (3, not 3.0) so that run.json reads like the profile.
    return ValueFunction(kind, params, float(missing))


def _single_peaked(scores: list[float]) -> bool:
    peak = scores.index(max(scores))
    return all(a <= b for a, b in zip(scores[:peak], scores[1:peak + 1])) and \
        all(a >= b for a, b in zip(scores[peak:], scores[peak + 1:]))


#: Plausible raw values per measure unit: (low, high, hint when out of range).
PLAUSIBLE = {
    "km": (0.0, 5000.0, "distances are in km (15000 m is 15 km)"),
    "%": (0.0, 100.0, "slope is in percent: 100 % is 45 degrees, 7 % about 4 degrees"),
    "people": (0.0, 4e8, "a count of residents"),
    "MW": (0.0, 2e6, "generating capacity in MW"),
    "kV": (0.0, 1200.0, "a voltage class in kV (115, 230, 345, 500, 765)"),
    "category 0-4": (0.0, 4.0, "water stress categories run 0 (low) to 4 (extremely high or arid)"),
    "kWh/m2/day": (0.0, 12.0, "irradiance in kWh/m2/day (divide MJ/m2/day by 3.6)"),
}

#: Units a threshold may be written in by mistake, and their factor to the measure's unit.
_CONVERSIONS = {
    "km": {"km": 1.0, "m": 0.001, "mi": 1.609344, "mile": 1.609344, "miles": 1.609344, "ft": 0.0003048},
    "%": {"%": 1.0, "pct": 1.0, "percent": 1.0},
    "kV": {"kv": 1.0, "v": 0.001},
    "MW": {"mw": 1.0, "gw": 1000.0, "kw": 0.001},
    "kWh/m2/day": {"kwh/m2/day": 1.0, "mj/m2/day": 1 / 3.6},
    "acres": {"acres": 1.0, "acre": 1.0, "ac": 1.0, "ha": 2.4710538, "km2": 247.10538},
    "people": {"people": 1.0, "persons": 1.0},
}


def check_value(x: float, unit: str, where: str) -> None:
    """Refuse a raw value outside the plausible range of its unit, saying what the unit is.

    Parameters
    ----------
    x : float
        The value.
    unit : str
        The measure's unit (a key of :data:`PLAUSIBLE`; any value passes for other units).
    where : str
        Where the value was given, for messages.

    Raises
    ------
    ProfileError
        ``x`` lies outside the unit's plausible range.

    Examples
    --------
    >>> check_value(15, "km", "constraints.tx.max")
    >>> check_value(15000, "km", "constraints.tx.max")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    sitesel.errors.ProfileError: constraints.tx.max = 15000 is outside the plausible 0..5000 km; distances are in km ...
    """
    lo, hi, hint = PLAUSIBLE.get(unit, (-math.inf, math.inf, ""))
    if not lo <= x <= hi:
        raise ProfileError(f"{where} = {x:g} is outside the plausible {lo:g}..{hi:g} {unit}; {hint}")


def parse_number(v: object, where: str, unit: str | None = None) -> float:
    """A number given in a profile, as float; text, true/false and non-finite values are refused.

    Parameters
    ----------
    v : object
        The value as parsed from TOML.
    where : str
        Where it was given (``"file: criteria.key.best"``), for messages.
    unit : str, optional
        The measure's unit, to say what a number written as text (``"15 km"``) should be.

    Returns
    -------
    float

    Raises
    ------
    ProfileError
        ``v`` is not a finite number.

    Examples
    --------
    >>> parse_number(3, "footprint.min_acres", "acres")
    3.0
    >>> parse_number("15000 m", "constraints.tx.max", "km")
    Traceback (most recent call last):
    sitesel.errors.ProfileError: constraints.tx.max is the text '15000 m'; write a bare number in km, e.g. 15
    """
    if isinstance(v, str):
        raise ProfileError(f"{where} is the text {v!r}; write a bare number{_as_number(v, unit)}")
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ProfileError(f"{where}: expected a number, got {v!r}")
    if not math.isfinite(v):
        raise ProfileError(f"{where}: expected a finite number, got {v!r}")
    return float(v)


_QUANTITY = re.compile(r"^\s*([-+]?(?:\d[\d,_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\d\s].*?)?\s*$")


def _as_number(text: str, unit: str | None) -> str:
    """A hint for a number written as text (``"15 km"``): the bare number in the measure's unit."""
    m = _QUANTITY.match(text)
    suffix = f" in {unit}" if unit else ""
    if not m:
        return suffix
    try:
        x = float(m.group(1).replace(",", "").replace("_", ""))
    except ValueError:
        return suffix
    given = (m.group(2) or "").strip().lower()
    if not given or unit is None:
        return f"{suffix}, e.g. {x:g}"
    factor = 1.0 if given == unit.lower() else _CONVERSIONS.get(unit, {}).get(given)
    if factor is None:
        return f" in {unit} (not {m.group(2).strip()})"
    return f" in {unit}, e.g. {x * factor:g}"
