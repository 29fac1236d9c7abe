"""Park-type requirement profiles: footprint, eligible land, hard constraints, weighted criteria.

Profiles are TOML files (``data/profiles/<name>.toml``; schema in ``docs/schema.md``).
:func:`resolve_profile` reads one (:mod:`sitesel.analysis.profile_documents`), applies its AHP
table (:mod:`sitesel.analysis.ahp`) and overrides (:mod:`sitesel.analysis.overrides`), and
:func:`parse_profile` validates the result into a :class:`Profile`.
"""
from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from sitesel.analysis.ahp import apply_ahp
from sitesel.analysis.demand import Demand, parse_demand
from sitesel.analysis.overrides import apply_overrides, check_weights, set_value
from sitesel.analysis.profile_documents import (
    CONSTRAINT_KEYS,
    CRITERION_KEYS,
    FILE_KEYS,
    FOOTPRINT_KEYS,
    LAND_KEYS,
    TOP_KEYS,
    builtin_dir,
    document_diff,
    list_profiles,
    profile_document,
    profile_path,
    read_profile_file,
    suggest_names,
)
from sitesel.analysis.valuefn import ValueFunction, check_value, parse_number, value_function
from sitesel.errors import ProfileError
from sitesel.measures.catalogue import MEASURES

__all__ = [
    "KNOWN_AGENCIES", "MAX_ACRES", "MAX_SEPARATION_KM", "Constraint", "Criterion", "Profile", "load_profile",
    "parse_profile", "profile_toml", "resolve_profile",
    # Re-exported: callers find the profile API here (sitesel.analysis.profiles.list_profiles, ...).
    "apply_overrides", "builtin_dir", "list_profiles", "set_value",
]


@dataclass(frozen=True)
class Constraint:
    """Pass/fail bound on a measure, applied to every cell of a site."""

    key: str
    measure: str
    min: float | None = None
    max: float | None = None

    def describe(self) -> str:
        """The bound in words, e.g. ``slope_pct <= 7 %``."""
        unit = MEASURES[self.measure].unit
        parts = []
        if self.min is not None:
            parts.append(f">= {self.min:g} {unit}")
        if self.max is not None:
            parts.append(f"<= {self.max:g} {unit}")
        return f"{self.measure} " + " and ".join(parts)


@dataclass(frozen=True)
class Criterion:
    """A weighted soft criterion."""

    key: str
    measure: str
    weight: float
    function: ValueFunction


@dataclass(frozen=True)
class Profile:
    """An industrial-park type's requirements."""

    name: str
    title: str
    description: str
    min_acres: float
    separation_km: float
    eligible_agencies: tuple[str, ...]
    constraints: tuple[Constraint, ...]
    criteria: tuple[Criterion, ...]
    source: str = ""
    dropped: dict = field(default_factory=dict)
    #: The effective profile document (after ``extend``, ``remove``, AHP and overrides).
    document: dict | None = field(default=None, compare=False, repr=False)
    #: Remarks for ``sitesel profiles show`` (e.g. where the weights came from).
    notes: tuple[str, ...] = field(default=(), compare=False)
    #: What the park draws and costs (``[demand]``); sites are priced only when it is given.
    demand: Demand | None = None

    @property
    def weights(self) -> dict[str, float]:
        """Normalised weights (sum 1)."""
        total = sum(c.weight for c in self.criteria)
        return {c.key: c.weight / total for c in self.criteria}

    def measures(self) -> list[str]:
        """The measures the criteria and constraints read, sorted."""
        return sorted({c.measure for c in self.criteria} | {c.measure for c in self.constraints})

    def layers(self) -> dict[str, list[str]]:
        """Layer -> criteria/constraint keys that need it."""
        out: dict[str, list[str]] = {}
        items: list[Criterion | Constraint] = [*self.criteria, *self.constraints]
        for item in items:
            for lyr in MEASURES[item.measure].layers:
                out.setdefault(lyr, []).append(item.key)
        return out

    def without_layers(self, missing: set[str]) -> Profile:
        """The profile minus criteria and constraints that need ``missing`` layers.

        Parameters
        ----------
        missing : set of str
            Layers the manifest lacks.

        Returns
        -------
        Profile
            Its ``dropped`` records each dropped criterion's share of the original weight (and
            each dropped constraint, as ``constraint:KEY``).

        Raises
        ------
        ProfileError
            Every criterion needs a missing layer.
        """
        weights = self.weights
        keep = lambda item: not (set(MEASURES[item.measure].layers) & missing)  # noqa: E731
        crits = tuple(c for c in self.criteria if keep(c))
        if not crits:
            raise ProfileError(f"profile '{self.name}': every criterion needs a missing layer "
                               f"({', '.join(sorted(missing))})")
        dropped: dict[str, float | None] = {c.key: round(weights[c.key], 4) for c in self.criteria if not keep(c)}
        dropped.update({f"constraint:{c.key}": None for c in self.constraints if not keep(c)})
        return replace(self, constraints=tuple(c for c in self.constraints if keep(c)), criteria=crits,
                       dropped=dropped)

    def with_weights(self, weights: dict[str, float]) -> Profile:
        """The same profile with some criteria re-weighted (raw weights; normalised on use).

        Parameters
        ----------
        weights : dict
            Criterion -> raw weight, for some or all criteria.

        Returns
        -------
        Profile

        Raises
        ------
        ProfileError
            An unknown criterion (naming the closest one), or a negative, non-finite or all-zero
            set of weights.
        """
        keys = [c.key for c in self.criteria]
        new = check_weights(weights, keys, f"profile '{self.name}'")
        crits = tuple(replace(c, weight=new.get(c.key, c.weight)) for c in self.criteria)
        if sum(c.weight for c in crits) <= 0:
            raise ProfileError(f"profile '{self.name}': at least one criterion needs a positive weight")
        doc = None
        if self.document is not None:
            doc = copy.deepcopy(self.document)
            for k, v in new.items():
                doc["criteria"][k]["weight"] = v
        return replace(self, criteria=crits, document=doc)


def resolve_profile(name_or_path: str | Path, weights: dict | None = None,
                    sets: list[str | tuple[str, object]] | dict | None = None,
                    ahp: dict | None = None, force_ahp: bool = False) -> Profile:
    """A park type or profile file with overrides, validated: what ``sitesel rank`` ranks.

    Parameters
    ----------
    name_or_path : str or Path
        Built-in park type or profile TOML file (which may ``extend`` another).
    weights : dict, optional
        ``{criterion: weight}`` overrides (raw; weights are normalised to sum 1).
    sets : list of str or dict, optional
        ``PATH=VALUE`` overrides (see :func:`set_value`), or ``{PATH: VALUE}``.
    ahp : dict, optional
        An ``[ahp]`` table whose weights replace the profile's (see :mod:`sitesel.analysis.ahp`).
    force_ahp : bool
        Accept an AHP matrix whose consistency ratio exceeds 0.1.

    Returns
    -------
    Profile
        With :attr:`Profile.notes` saying what it extends and where AHP weights came from.

    Raises
    ------
    ProfileError
        The profile cannot be read or is invalid, or an override or the AHP table is.
    """
    doc, source = profile_document(name_or_path)
    notes = []
    base = read_profile_file(profile_path(name_or_path)).get("extend")
    if isinstance(base, str):
        base_doc, _ = profile_document(base, (profile_path(name_or_path).resolve(),))
        changes = document_diff(base_doc, doc)
        notes.append(f"extends {base}; changes: " + ("; ".join(changes) if changes else "none"))
    if ahp is not None or "ahp" in doc:
        doc, note = apply_ahp(doc, ahp, force_ahp, source)
        assert note is not None  # a matrix was applied
        notes.append(note)
    doc = apply_overrides(doc, weights, sets, source)
    if weights or sets:
        changed = [*(f"{k}={v:g}" for k, v in (weights or {}).items()),
                   *((s if isinstance(s, str) else f"{s[0]}={s[1]}") for s in
                     (sets.items() if isinstance(sets, dict) else (sets or [])))]
        source += " with " + ", ".join(changed)
    prof = parse_profile(doc, source)
    return replace(prof, notes=tuple(notes)) if notes else prof


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a built-in profile by name, or a profile TOML file by path (``extend`` resolved).

    Parameters
    ----------
    name_or_path : str or Path
        A park type (see :func:`list_profiles`) or a profile file.

    Returns
    -------
    Profile

    Raises
    ------
    ProfileError
        No such park type or file, or the profile is invalid.
    """
    return resolve_profile(name_or_path)


def profile_toml(profile: Profile) -> str:
    """The effective profile as a TOML document (raw weights, as given), reusable as a profile file.

    Parameters
    ----------
    profile : Profile
        A profile made from a document (by :func:`resolve_profile` or :func:`parse_profile`).

    Returns
    -------
    str
    """
    import tomli_w

    doc = copy.deepcopy(profile.document or {})
    return tomli_w.dumps(doc)


def _unknown(table: dict, allowed, where: str) -> None:
    bad = sorted(str(k) for k in set(table) - set(allowed))
    if bad:
        raise ProfileError(f"{where}: unknown key '{bad[0]}'{suggest_names(bad[0], allowed)}")


def _table(doc: dict, key: str, where: str, required: bool = False) -> dict:
    v = doc.get(key)
    if v is None:
        if required:
            raise ProfileError(f"{where}: needs a [{key}] table (schema: docs/schema.md)")
        return {}
    if not isinstance(v, dict):
        raise ProfileError(f"{where}: '{key}' must be a table ([{key}]), not {type(v).__name__}")
    return v


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
#: Managing agencies known to PAD-US and the National Atlas (codes after the manifest's agency_map).
KNOWN_AGENCIES = ("ARS", "BIA", "BLM", "BOEM", "DOC", "DOD", "DOE", "DOJ", "DOT", "FAA", "FWS", "GSA", "HHS", "MWAA",
                  "NASA", "NOAA", "NPS", "NRCS", "OTHF", "TVA", "USACE", "USBR", "USDA", "USFS", "USGS", "VA")
#: Footprints above this are refused as a unit mistake (it is most of a large state).
MAX_ACRES = 10_000_000
#: Separations above this are refused as a unit mistake (wider than the lower 48).
MAX_SEPARATION_KM = 5000


def parse_profile(doc: dict, source: str = "<profile>") -> Profile:
    """Validate a profile document (already parsed from TOML).

    Raises
    ------
    ProfileError
        One line naming the file and key at fault, with the closest known name for a typo and
        the unit for a number of the wrong type or size.
    """
    from sitesel.study.land import load_policy

    if not isinstance(doc, dict):
        raise ProfileError(f"{source}: a profile must be a TOML table (schema: docs/schema.md)")
    for k in doc:
        if k in FILE_KEYS:
            raise ProfileError(f"{source}: '{k}' is resolved when the profile file is read "
                               "(use load_profile or profile_document)")
    _unknown(doc, TOP_KEYS, source)
    notes: tuple[str, ...] = ()
    if "ahp" in doc:
        doc, note = apply_ahp(doc, where=source)
        assert note is not None  # a matrix was applied
        notes = (note,)
    name = doc.get("name", Path(source).stem)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ProfileError(f"{source}: name must be a short identifier such as \"semiconductor_fab\" "
                           f"(letters, digits, _ . -), not {name!r}")
    for k in ("title", "description"):
        if k in doc and not isinstance(doc[k], str):
            raise ProfileError(f"{source}: {k} must be text in quotes, not {doc[k]!r}")
    fp = _table(doc, "footprint", source, required=True)
    _unknown(fp, FOOTPRINT_KEYS, f"{source}: footprint")
    if "min_acres" not in fp:
        raise ProfileError(f"{source}: footprint.min_acres is missing; give the site size in acres (e.g. 500)")
    min_acres = parse_number(fp["min_acres"], f"{source}: footprint.min_acres", "acres")
    if not 0 < min_acres <= MAX_ACRES:
        raise ProfileError(f"{source}: footprint.min_acres = {min_acres:g} must be a positive number of acres up to "
                           f"{MAX_ACRES:,} (1 km2 is 247 acres)")
    sep = parse_number(fp.get("separation_km", 5.0), f"{source}: footprint.separation_km", "km")
    if not 0 <= sep <= MAX_SEPARATION_KM:
        raise ProfileError(f"{source}: footprint.separation_km = {sep:g} must be 0..{MAX_SEPARATION_KM} km "
                           "(distances are in km)")
    land = _table(doc, "land", source, required=True)
    _unknown(land, LAND_KEYS, f"{source}: land")
    raw_agencies = land.get("eligible_agencies")
    if not isinstance(raw_agencies, list) or not raw_agencies or not all(isinstance(a, str) for a in raw_agencies):
        raise ProfileError(f"{source}: land.eligible_agencies must list at least one agency code, "
                           "e.g. [\"BLM\", \"DOE\"]")
    agencies = tuple(a.strip().upper() for a in raw_agencies)
    never = set(load_policy().never_agencies)
    for a in agencies:
        if a in never:
            raise ProfileError(f"{source}: land.eligible_agencies lists {a}, whose land is never eligible "
                               f"({', '.join(sorted(never))}: see data/land_policy.toml); remove it")
        if a not in KNOWN_AGENCIES:
            raise ProfileError(f"{source}: land.eligible_agencies: unknown agency '{a}'"
                               f"{suggest_names(a, KNOWN_AGENCIES)}")
    constraints = []
    for key, c in _table(doc, "constraints", source).items():
        where = f"{source}: constraints.{key}"
        if not isinstance(c, dict):
            raise ProfileError(f"{where} must be a table with measure = ... and min and/or max")
        _unknown(c, CONSTRAINT_KEYS, where)
        m = c.get("measure")
        if not isinstance(m, str) or m not in MEASURES:
            raise ProfileError(f"{where}: unknown measure {m!r}{suggest_names(str(m), MEASURES)}")
        unit = MEASURES[m].unit
        lo, hi = c.get("min"), c.get("max")
        if lo is None and hi is None:
            raise ProfileError(f"{where}: give min and/or max (in {unit})")
        bounds: list[float | None] = []
        for k, v in (("min", lo), ("max", hi)):
            if v is None:
                bounds.append(None)
                continue
            x = parse_number(v, f"{where}.{k}", unit)
            check_value(x, unit, f"{where}.{k}")
            bounds.append(x)
        low, high = bounds
        if low is not None and high is not None and low > high:
            raise ProfileError(f"{where}: min {low:g} is above max {high:g}; no site could pass")
        constraints.append(Constraint(key, m, bounds[0], bounds[1]))
    criteria = []
    for key, c in _table(doc, "criteria", source).items():
        where = f"{source}: criteria.{key}"
        if not isinstance(c, dict):
            raise ProfileError(f"{where} must be a table with measure, weight and function")
        _unknown(c, CRITERION_KEYS, where)
        m = c.get("measure")
        if not isinstance(m, str) or m not in MEASURES:
            raise ProfileError(f"{where}: unknown measure {m!r}{suggest_names(str(m), MEASURES)}")
        if "weight" not in c:
            raise ProfileError(f"{where}: weight is missing; give a number >= 0 (weights are normalised to sum 1)")
        w = parse_number(c["weight"], f"{where}.weight", "")
        if w < 0:
            raise ProfileError(f"{where}.weight = {w:g} is negative; weights must be >= 0 "
                               "(they are normalised to sum 1)")
        criteria.append(Criterion(key, m, float(w), value_function(c, where, MEASURES[m].unit)))
    if not criteria:
        raise ProfileError(f"{source}: needs at least one [criteria.NAME] table")
    try:
        total = math.fsum(c.weight for c in criteria)
    except OverflowError:
        total = math.inf
    if total <= 0:
        raise ProfileError(f"{source}: every criterion weight is 0; give at least one a positive weight")
    if not math.isfinite(total):
        raise ProfileError(f"{source}: the criterion weights are too large to add up; use weights such as 0.25")
    return Profile(name=name, title=doc.get("title", name), description=doc.get("description", ""),
                   min_acres=float(min_acres), separation_km=float(sep), eligible_agencies=agencies,
                   constraints=tuple(constraints), criteria=tuple(criteria), source=source,
                   document=copy.deepcopy(doc), notes=notes,
                   demand=parse_demand(doc["demand"], f"{source}: demand") if "demand" in doc else None)
