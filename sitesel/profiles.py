"""Park-type requirement profiles: footprint, eligible land, hard constraints, weighted criteria.

Profiles are TOML files (``data/profiles/<name>.toml``; schema in ``docs/schema.md``).
"""
from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path

from .paths import builtin_data
from .errors import ProfileError
from .measures import MEASURES
from .valuefn import ValueFunction, check_value, value_function

_TOP_KEYS = {"name", "title", "description", "footprint", "land", "constraints", "criteria", "sources"}
_CRIT_KEYS = {"measure", "weight", "function", "best", "worst", "thresholds", "scores", "midpoint", "width",
              "increasing", "ideal", "spread", "missing", "note"}


@dataclass(frozen=True)
class Constraint:
    """Pass/fail bound on a measure, applied to every cell of a site."""

    key: str
    measure: str
    min: float | None = None
    max: float | None = None

    def describe(self) -> str:
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

    @property
    def weights(self) -> dict[str, float]:
        """Normalised weights (sum 1)."""
        total = math.fsum(c.weight for c in self.criteria)
        w = {c.key: c.weight / total for c in self.criteria}
        # Rounding can make a perfect site add up to 100.00000000000001 points: trim the largest
        # weight by a few ulps so that 100 * sum(weights), added in order, is at most 100.
        top = max(w, key=w.get)
        while self._full_marks(w) > 100.0:
            w[top] = math.nextafter(w[top], 0.0)
        return w

    def _full_marks(self, w: dict[str, float]) -> float:
        acc = 0.0
        for c in self.criteria:
            acc += 100.0 * w[c.key]
        return acc

    def measures(self) -> list[str]:
        return sorted({c.measure for c in self.criteria} | {c.measure for c in self.constraints})

    def layers(self) -> dict[str, list[str]]:
        """Layer -> criteria/constraint keys that need it."""
        out: dict[str, list[str]] = {}
        for item in (*self.criteria, *self.constraints):
            for lyr in MEASURES[item.measure].layers:
                out.setdefault(lyr, []).append(item.key)
        return out

    def without_layers(self, missing: set[str]) -> "Profile":
        """The profile minus criteria and constraints that need ``missing`` layers.

        ``dropped`` records each dropped criterion's share of the original weight.
        """
        weights = self.weights
        keep = lambda item: not (set(MEASURES[item.measure].layers) & missing)  # noqa: E731
        crits = tuple(c for c in self.criteria if keep(c))
        if not crits:
            raise ProfileError(f"profile '{self.name}': every criterion needs a missing layer ({', '.join(sorted(missing))})")
        dropped = {c.key: round(weights[c.key], 4) for c in self.criteria if not keep(c)}
        dropped.update({f"constraint:{c.key}": None for c in self.constraints if not keep(c)})
        return Profile(self.name, self.title, self.description, self.min_acres, self.separation_km,
                       self.eligible_agencies, tuple(c for c in self.constraints if keep(c)), crits,
                       self.source, dropped)


def builtin_dir() -> Path:
    return builtin_data() / "profiles"


def list_profiles() -> list[str]:
    return sorted(p.stem for p in builtin_dir().glob("*.toml"))


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a built-in profile by name, or a profile TOML file by path."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        path = p
        if not path.is_file():
            raise ProfileError(f"profile file not found: {path}; give an existing .toml file or a park type "
                               f"({', '.join(list_profiles())})")
    else:
        path = builtin_dir() / f"{name_or_path}.toml"
        if not path.is_file():
            names = list_profiles()
            hint = get_close_matches(str(name_or_path), names, n=1)
            raise ProfileError(f"unknown park type '{name_or_path}'"
                               + (f"; did you mean '{hint[0]}'?" if hint else "")
                               + f" (available: {', '.join(names)})")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML ({exc}); fix the file (schema: docs/schema.md)") from None
    except UnicodeDecodeError:
        raise ProfileError(f"{path}: not a text file; a profile is TOML (docs/schema.md)") from None
    except OSError as exc:
        raise ProfileError(f"cannot read profile {path}: {exc.strerror}; check its permissions") from None
    return parse_profile(doc, str(path))


def _suggest(word: str, options) -> str:
    hint = get_close_matches(str(word), sorted(options), n=1)
    return f"; did you mean '{hint[0]}'?" if hint else f" (expected one of {', '.join(sorted(options))})"


def _unknown(table: dict, allowed, where: str) -> None:
    bad = sorted(str(k) for k in set(table) - set(allowed))
    if bad:
        raise ProfileError(f"{where}: unknown key '{bad[0]}'{_suggest(bad[0], allowed)}")


def _table(doc: dict, key: str, where: str, required: bool = False) -> dict:
    v = doc.get(key)
    if v is None:
        if required:
            raise ProfileError(f"{where}: needs a [{key}] table (schema: docs/schema.md)")
        return {}
    if not isinstance(v, dict):
        raise ProfileError(f"{where}: '{key}' must be a table ([{key}]), not {type(v).__name__}")
    return v


def _number(v, where: str, unit: str) -> float:
    from .valuefn import _number as num

    return num(v, where, unit)


_FOOTPRINT_KEYS = {"min_acres", "separation_km"}
_LAND_KEYS = {"eligible_agencies"}
_CONSTRAINT_KEYS = {"measure", "min", "max", "note"}
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
    from .land import load_policy

    if not isinstance(doc, dict):
        raise ProfileError(f"{source}: a profile must be a TOML table (schema: docs/schema.md)")
    _unknown(doc, _TOP_KEYS, source)
    name = doc.get("name", Path(source).stem)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ProfileError(f"{source}: name must be a short identifier such as \"semiconductor_fab\" "
                           f"(letters, digits, _ . -), not {name!r}")
    for k in ("title", "description"):
        if k in doc and not isinstance(doc[k], str):
            raise ProfileError(f"{source}: {k} must be text in quotes, not {doc[k]!r}")
    fp = _table(doc, "footprint", source, required=True)
    _unknown(fp, _FOOTPRINT_KEYS, f"{source}: footprint")
    if "min_acres" not in fp:
        raise ProfileError(f"{source}: footprint.min_acres is missing; give the site size in acres (e.g. 500)")
    min_acres = _number(fp["min_acres"], f"{source}: footprint.min_acres", "acres")
    if not 0 < min_acres <= MAX_ACRES:
        raise ProfileError(f"{source}: footprint.min_acres = {min_acres:g} must be a positive number of acres up to "
                           f"{MAX_ACRES:,} (1 km2 is 247 acres)")
    sep = _number(fp.get("separation_km", 5.0), f"{source}: footprint.separation_km", "km")
    if not 0 <= sep <= MAX_SEPARATION_KM:
        raise ProfileError(f"{source}: footprint.separation_km = {sep:g} must be 0..{MAX_SEPARATION_KM} km "
                           "(distances are in km)")
    land = _table(doc, "land", source, required=True)
    _unknown(land, _LAND_KEYS, f"{source}: land")
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
            raise ProfileError(f"{source}: land.eligible_agencies: unknown agency '{a}'{_suggest(a, KNOWN_AGENCIES)}")
    constraints = []
    for key, c in _table(doc, "constraints", source).items():
        where = f"{source}: constraints.{key}"
        if not isinstance(c, dict):
            raise ProfileError(f"{where} must be a table with measure = ... and min and/or max")
        _unknown(c, _CONSTRAINT_KEYS, where)
        m = c.get("measure")
        if not isinstance(m, str) or m not in MEASURES:
            raise ProfileError(f"{where}: unknown measure {m!r}{_suggest(str(m), MEASURES)}")
        unit = MEASURES[m].unit
        lo, hi = c.get("min"), c.get("max")
        if lo is None and hi is None:
            raise ProfileError(f"{where}: give min and/or max (in {unit})")
        bounds = []
        for k, v in (("min", lo), ("max", hi)):
            if v is None:
                bounds.append(None)
                continue
            x = _number(v, f"{where}.{k}", unit)
            check_value(x, unit, f"{where}.{k}")
            bounds.append(x)
        if None not in bounds and bounds[0] > bounds[1]:
            raise ProfileError(f"{where}: min {bounds[0]:g} is above max {bounds[1]:g}; no site could pass")
        constraints.append(Constraint(key, m, bounds[0], bounds[1]))
    criteria = []
    for key, c in _table(doc, "criteria", source).items():
        where = f"{source}: criteria.{key}"
        if not isinstance(c, dict):
            raise ProfileError(f"{where} must be a table with measure, weight and function")
        _unknown(c, _CRIT_KEYS, where)
        m = c.get("measure")
        if not isinstance(m, str) or m not in MEASURES:
            raise ProfileError(f"{where}: unknown measure {m!r}{_suggest(str(m), MEASURES)}")
        if "weight" not in c:
            raise ProfileError(f"{where}: weight is missing; give a number >= 0 (weights are normalised to sum 1)")
        w = _number(c["weight"], f"{where}.weight", "")
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
                   constraints=tuple(constraints), criteria=tuple(criteria), source=source)
