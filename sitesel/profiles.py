"""Park-type requirement profiles: footprint, eligible land, hard constraints, weighted criteria.

Profiles are TOML files (``data/profiles/<name>.toml``; schema in ``docs/schema.md``).
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path

from .paths import builtin_data
from .errors import ProfileError
from .measures import MEASURES
from .valuefn import ValueFunction, value_function

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
        total = sum(c.weight for c in self.criteria)
        return {c.key: c.weight / total for c in self.criteria}

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
            raise ProfileError(f"profile file not found: {path}")
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
        raise ProfileError(f"{path}: not valid TOML: {exc}") from None
    return parse_profile(doc, str(path))


def _suggest(word: str, options) -> str:
    hint = get_close_matches(word, list(options), n=1)
    return f"; did you mean '{hint[0]}'?" if hint else ""


def parse_profile(doc: dict, source: str = "<profile>") -> Profile:
    """Validate a profile document (already parsed from TOML)."""
    for k in doc:
        if k not in _TOP_KEYS:
            raise ProfileError(f"{source}: unknown key '{k}'{_suggest(k, _TOP_KEYS)}")
    name = doc.get("name") or Path(source).stem
    fp = doc.get("footprint", {})
    min_acres = fp.get("min_acres")
    if not isinstance(min_acres, (int, float)) or isinstance(min_acres, bool) or min_acres <= 0:
        raise ProfileError(f"{source}: footprint.min_acres must be a positive number of acres")
    sep = fp.get("separation_km", 5.0)
    if not isinstance(sep, (int, float)) or sep < 0:
        raise ProfileError(f"{source}: footprint.separation_km must be a non-negative number of km")
    agencies = tuple(str(a).upper() for a in doc.get("land", {}).get("eligible_agencies", []))
    if not agencies:
        raise ProfileError(f"{source}: land.eligible_agencies must list at least one agency")
    constraints = []
    for key, c in (doc.get("constraints") or {}).items():
        where = f"{source}: constraints.{key}"
        m = c.get("measure")
        if m not in MEASURES:
            raise ProfileError(f"{where}: unknown measure '{m}'{_suggest(str(m), MEASURES)}")
        bad = set(c) - {"measure", "min", "max", "note"}
        if bad:
            raise ProfileError(f"{where}: unknown key(s) {sorted(bad)}")
        lo, hi = c.get("min"), c.get("max")
        if lo is None and hi is None:
            raise ProfileError(f"{where}: give min and/or max")
        for v in (lo, hi):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise ProfileError(f"{where}: bounds must be numbers in {MEASURES[m].unit}, got {v!r}")
        constraints.append(Constraint(key, m, None if lo is None else float(lo), None if hi is None else float(hi)))
    criteria = []
    for key, c in (doc.get("criteria") or {}).items():
        where = f"{source}: criteria.{key}"
        bad = set(c) - _CRIT_KEYS
        if bad:
            w = sorted(bad)[0]
            raise ProfileError(f"{where}: unknown key '{w}'{_suggest(w, _CRIT_KEYS)}")
        m = c.get("measure")
        if m not in MEASURES:
            raise ProfileError(f"{where}: unknown measure '{m}'{_suggest(str(m), MEASURES)}")
        w = c.get("weight")
        if isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0:
            raise ProfileError(f"{where}: weight must be a non-negative number")
        criteria.append(Criterion(key, m, float(w), value_function(c, where)))
    if not criteria or sum(c.weight for c in criteria) <= 0:
        raise ProfileError(f"{source}: needs at least one criterion with a positive weight")
    return Profile(name=name, title=doc.get("title", name), description=doc.get("description", ""),
                   min_acres=float(min_acres), separation_km=float(sep), eligible_agencies=agencies,
                   constraints=tuple(constraints), criteria=tuple(criteria), source=source)
