"""Overrides of a profile document: ``PATH=VALUE`` settings and weights.

What ``sitesel rank --set`` / ``--weight`` (and the API's ``set=`` / ``weights=``) change in a
profile before it is validated; see ``docs/schema.md``.
"""
from __future__ import annotations

import copy
import math
import tomllib
from collections.abc import Sequence

from sitesel.analysis.ahp import apply_ahp
from sitesel.analysis.profile_documents import (
    CONSTRAINT_KEYS,
    CRITERION_KEYS,
    FOOTPRINT_KEYS,
    LAND_KEYS,
    TOP_KEYS,
    suggest_names,
)
from sitesel.errors import ProfileError
from sitesel.measures.catalogue import MEASURES

__all__ = ["apply_overrides", "check_weights", "set_value"]


def check_weights(weights: dict | None, keys: Sequence[str], where: str = "weights") -> dict[str, float]:
    """Validated weight overrides: known criterion keys, finite, non-negative numbers.

    Parameters
    ----------
    weights : dict
        Criterion -> raw weight.
    keys : sequence of str
        The profile's criteria.
    where : str
        What the weights come from, for messages.

    Returns
    -------
    dict
        Criterion -> weight as float.

    Raises
    ------
    ProfileError
        An unknown criterion (naming the closest) or a weight that is not a non-negative number.
    """
    out = {}
    for k, v in (weights or {}).items():
        if k not in keys:
            raise ProfileError(f"{where}: unknown criterion '{k}'{suggest_names(str(k), keys)} "
                               f"(criteria: {', '.join(keys)})")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ProfileError(f"{where}: weight of '{k}' must be a non-negative number, got {v!r}")
        out[k] = float(v)
    return out


def set_value(doc: dict, assignment: str | tuple[str, object], where: str = "{opt:set}") -> dict:
    """Apply one ``PATH=VALUE`` override to a profile document (see ``docs/schema.md``).

    ``PATH`` is a dotted path into the profile (``constraints.slope.max``,
    ``footprint.min_acres``, ``criteria.workforce.midpoint``), or the shorthand
    ``max_MEASURE`` / ``min_MEASURE`` for the bound of every hard constraint on that measure
    (a constraint named after the measure is added if there is none). ``VALUE`` is read as a
    TOML value (``5``, ``true``, ``[1, 2]``, ``"linear"``); a bare word is taken as text.

    Parameters
    ----------
    doc : dict
        A profile document (not changed).
    assignment : str or tuple
        ``"PATH=VALUE"``, or ``(PATH, value)``.
    where : str
        Where the assignment was given, for messages.

    Returns
    -------
    dict

    Raises
    ------
    ProfileError
        A malformed assignment, or a path naming no setting (with the closest name).

    Examples
    --------
    >>> set_value({"constraints": {"slope": {"measure": "slope_pct", "max": 7}}}, "max_slope_pct=5")
    {'constraints': {'slope': {'measure': 'slope_pct', 'max': 5}}}
    """
    if isinstance(assignment, str):
        path, sep, text = assignment.partition("=")
        if not sep or not path.strip():
            raise ProfileError(f"{where}: expected PATH=VALUE (e.g. constraints.slope.max=5), got {assignment!r}")
        path, value = path.strip(), _toml_value(text.strip())
    else:
        path, value = assignment
    doc = copy.deepcopy(doc)
    parts = path.split(".")
    if len(parts) == 1 and (path.startswith("max_") or path.startswith("min_")):
        bound, measure = path[:3], path[4:]
        if measure not in MEASURES:
            raise ProfileError(f"{where}: '{path}': unknown measure '{measure}'{suggest_names(measure, MEASURES)}")
        cons = doc.setdefault("constraints", {})
        hits = [k for k, c in cons.items() if c.get("measure") == measure]
        if not hits:
            cons[measure] = {"measure": measure}
            hits = [measure]
        for k in hits:
            cons[k][bound] = value
        return doc
    top = parts[0]
    if top not in TOP_KEYS - {"ahp", "sources"}:
        options = sorted(TOP_KEYS - {"ahp", "sources"}) + ["max_MEASURE", "min_MEASURE"]
        raise ProfileError(f"{where}: unknown setting '{path}'{suggest_names(top, options)}")
    if top in ("name", "title", "description"):
        if len(parts) != 1:
            raise ProfileError(f"{where}: '{path}': {top} has no parts")
        doc[top] = value
        return doc
    if top in ("footprint", "land"):
        keys = FOOTPRINT_KEYS if top == "footprint" else LAND_KEYS
        if len(parts) != 2 or parts[1] not in keys:
            raise ProfileError(f"{where}: unknown setting '{path}'"
                               f"{suggest_names(parts[-1], keys)} ({top} has {', '.join(sorted(keys))})")
        doc.setdefault(top, {})[parts[1]] = value
        return doc
    section = doc.get(top) or {}
    keys = CRITERION_KEYS if top == "criteria" else CONSTRAINT_KEYS
    if len(parts) != 3:
        raise ProfileError(f"{where}: '{path}': give {top}.KEY.FIELD, e.g. "
                           + ("criteria.workforce.weight" if top == "criteria" else "constraints.slope.max"))
    _, item, fld = parts
    if item not in section:
        raise ProfileError(f"{where}: '{path}': no {top[:-1]} '{item}'{suggest_names(item, section)} "
                           f"({top}: {', '.join(section) or 'none'})")
    if fld not in keys:
        raise ProfileError(f"{where}: '{path}': unknown field '{fld}'{suggest_names(fld, keys)}")
    section[item][fld] = value
    return doc


def _toml_value(text: str) -> object:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(doc: dict, weights: dict | None = None, sets: list[str | tuple[str, object]] | dict | None = None,
                    where: str = "<profile>") -> dict:
    """A document with ``set`` assignments, then ``weights`` overrides, applied.

    Explicit weights win over an ``[ahp]`` table: its weights are filled in first.

    Parameters
    ----------
    doc : dict
        A profile document (not changed).
    weights : dict, optional
        Criterion -> raw weight.
    sets : list or dict, optional
        ``PATH=VALUE`` assignments (see :func:`set_value`), or ``{PATH: VALUE}``.
    where : str
        The profile's source, for messages.

    Returns
    -------
    dict
    """
    sets = list(sets.items()) if isinstance(sets, dict) else list(sets or [])
    touches_weight = bool(weights) or any(
        (s if isinstance(s, str) else s[0]).partition("=")[0].strip().endswith(".weight") for s in sets)
    if touches_weight and "ahp" in doc:
        doc, _ = apply_ahp(doc, where=where)
    for s in sets:
        doc = set_value(doc, s)
    if weights:
        crits = doc.get("criteria") or {}
        new = check_weights(weights, list(crits), "{opt:weights|weight}")
        doc = copy.deepcopy(doc)
        for k, v in new.items():
            doc["criteria"][k]["weight"] = v
    return doc
