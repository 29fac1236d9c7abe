"""Park-type requirement profiles: footprint, eligible land, hard constraints, weighted criteria.

Profiles are TOML files (``data/profiles/<name>.toml``; schema in ``docs/schema.md``).
"""
from __future__ import annotations

import copy
import math
import re
import tomllib
from dataclasses import dataclass, field, replace
from difflib import get_close_matches
from pathlib import Path

from sitesel.defaults import builtin_data
from sitesel.errors import ProfileError
from sitesel.measures.catalogue import MEASURES
from sitesel.analysis.valuefn import PARAMS, ValueFunction, _number, check_value, value_function

_TOP_KEYS = {"name", "title", "description", "footprint", "land", "constraints", "criteria", "sources", "ahp"}
#: Keys only a profile file may hold: resolved before validation (see :func:`profile_document`).
_FILE_KEYS = {"extend", "remove"}
_FOOTPRINT_KEYS = {"min_acres", "separation_km"}
_LAND_KEYS = {"eligible_agencies"}
_CONSTRAINT_KEYS = {"measure", "min", "max", "note"}
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
    #: The effective profile document (after ``extend``, ``remove``, AHP and overrides).
    document: dict | None = field(default=None, compare=False, repr=False)
    #: Remarks for ``sitesel profiles show`` (e.g. where the weights came from).
    notes: tuple[str, ...] = field(default=(), compare=False)

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
                       self.source, dropped, self.document, self.notes)

    def with_weights(self, weights: dict[str, float]) -> "Profile":
        """The same profile with some criteria re-weighted (raw weights; normalised on use).

        Raises :class:`ProfileError` for an unknown criterion (naming the closest one) or a
        negative, non-finite or all-zero set of weights.
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


def builtin_dir() -> Path:
    return builtin_data() / "profiles"


def list_profiles() -> list[str]:
    return sorted(p.stem for p in builtin_dir().glob("*.toml"))


def _profile_path(name_or_path: str | Path, relative_to: Path | None = None) -> Path:
    """The file of a built-in park type or a profile path (relative to ``relative_to``)."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or "/" in str(name_or_path) or p.exists():
        if relative_to is not None and not p.is_absolute():
            p = relative_to / p
        if not p.is_file():
            raise ProfileError(f"profile file not found: {p}; give an existing .toml file or a park type "
                               f"({', '.join(list_profiles())})")
        return p
    path = builtin_dir() / f"{name_or_path}.toml"
    if not path.is_file():
        names = list_profiles()
        raise ProfileError(f"unknown park type '{name_or_path}'{_suggest(str(name_or_path), names)}"
                           f" (available: {', '.join(names)})")
    return path


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML ({exc}); fix the file (schema: docs/schema.md)") from None
    except UnicodeDecodeError:
        raise ProfileError(f"{path}: not a text file; a profile is TOML (docs/schema.md)") from None
    except OSError as exc:
        raise ProfileError(f"cannot read profile {path}: {exc.strerror}; check its permissions") from None


def profile_document(name_or_path: str | Path, _seen: tuple[Path, ...] = ()) -> tuple[dict, str]:
    """The effective profile document of a park type or profile file, and its source label.

    A file may ``extend`` another profile (a built-in name, or a path relative to the file) and
    override any part of it; see :func:`merge_documents` and ``docs/schema.md``.
    """
    path = _profile_path(name_or_path, _seen[-1].parent if _seen else None).resolve()
    if path in _seen:
        chain = " -> ".join(str(p) for p in (*_seen, path))
        raise ProfileError(f"profiles extend each other in a loop: {chain}")
    doc = _read_toml(path)
    for k in doc:
        if k not in _TOP_KEYS | _FILE_KEYS:
            raise ProfileError(f"{path}: unknown key '{k}'{_suggest(k, _TOP_KEYS | _FILE_KEYS)}")
    source = str(path) if path.parent != builtin_dir().resolve() else str(builtin_dir() / path.name)
    base_name = doc.pop("extend", None)
    remove = doc.pop("remove", [])
    if base_name is not None:
        if not isinstance(base_name, str) or not base_name:
            raise ProfileError(f"{path}: extend must name a park type or a profile file")
        base, base_source = profile_document(base_name, (*_seen, path))
        doc.setdefault("name", path.stem)
        doc = merge_documents(base, doc, str(path))
        source = f"{path} (extends {base_source})"
    doc = remove_items(doc, remove, str(path))
    return doc, source


def merge_documents(base: dict, child: dict, where: str = "<profile>") -> dict:
    """``child`` laid over ``base``: what ``extend`` does.

    Tables merge key by key, other values replace. A criterion that sets ``function`` replaces
    the base criterion's value-function parameters instead of merging with them. A criterion or
    constraint the base lacks is new and needs a ``measure``; without one it is taken for a
    misspelt name and refused with the closest existing name.
    """
    out = copy.deepcopy(base)
    for key, value in child.items():
        if key in ("constraints", "criteria"):
            if not isinstance(value, dict):
                raise ProfileError(f"{where}: {key} must be a table of tables")
            section = out.setdefault(key, {})
            for item, table in value.items():
                if not isinstance(table, dict):
                    raise ProfileError(f"{where}: {key}.{item} must be a table")
                if item not in section:
                    if "measure" not in table:
                        raise ProfileError(f"{where}: {key}.{item} is not in the extended profile"
                                           f"{_suggest(item, section)} (a new one needs a measure)")
                    section[item] = copy.deepcopy(table)
                    continue
                merged = dict(section[item])
                if key == "criteria" and "function" in table:
                    for params in PARAMS.values():
                        for p in params:
                            merged.pop(p, None)
                merged.update(copy.deepcopy(table))
                section[item] = merged
        elif key in ("footprint", "land") and isinstance(value, dict):
            out.setdefault(key, {}).update(copy.deepcopy(value))
        else:
            out[key] = copy.deepcopy(value)
    return out


def remove_items(doc: dict, names, where: str = "<profile>") -> dict:
    """``doc`` without the listed ``criteria.KEY`` / ``constraints.KEY`` entries (and ``ahp``)."""
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ProfileError(f"{where}: remove must be a list such as [\"criteria.airport\", \"constraints.slope\"]")
    doc = copy.deepcopy(doc)
    for name in names:
        if name == "ahp":
            doc.pop("ahp", None)
            continue
        section, _, item = name.partition(".")
        if section not in ("criteria", "constraints") or not item:
            raise ProfileError(f"{where}: cannot remove '{name}'; name criteria.KEY or constraints.KEY")
        table = doc.get(section, {})
        if item not in table:
            raise ProfileError(f"{where}: cannot remove '{name}': no such {section[:-1]}{_suggest(item, table)}")
        del table[item]
    return doc


def check_weights(weights: dict, keys, where: str = "weights") -> dict[str, float]:
    """Validated weight overrides: known criterion keys, finite, non-negative numbers."""
    out = {}
    for k, v in (weights or {}).items():
        if k not in keys:
            raise ProfileError(f"{where}: unknown criterion '{k}'{_suggest(str(k), keys)} "
                               f"(criteria: {', '.join(keys)})")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ProfileError(f"{where}: weight of '{k}' must be a non-negative number, got {v!r}")
        out[k] = float(v)
    return out


def apply_ahp(doc: dict, table: dict | None = None, force: bool = False, where: str = "<profile>") -> tuple[dict, str | None]:
    """Replace the weights of the criteria by those of an AHP comparison matrix.

    ``table`` (default: the document's ``[ahp]``) must list every criterion of the profile.
    Returns the document without its ``ahp`` table, with weights set, and a one-line note.
    """
    from sitesel.analysis.ahp import ahp_from_table

    table = table if table is not None else doc.get("ahp")
    doc = copy.deepcopy(doc)
    doc.pop("ahp", None)
    if table is None:
        return doc, None
    res = ahp_from_table(table, f"{where}: ahp", force=force)
    crits = doc.get("criteria") or {}
    unknown = [k for k in res.criteria if k not in crits]
    if unknown:
        raise ProfileError(f"{where}: ahp: unknown criterion '{unknown[0]}'{_suggest(unknown[0], crits)}")
    left = [k for k in crits if k not in res.criteria]
    if left:
        raise ProfileError(f"{where}: ahp: the matrix must compare every criterion; missing {', '.join(left)} "
                           "(add them, or drop them with remove = [\"criteria.KEY\"])")
    for k, w in res.as_dict().items():
        crits[k]["weight"] = round(w, 6)
    return doc, f"weights from AHP pairwise comparisons: {res.describe()}"


def set_value(doc: dict, assignment: str | tuple[str, object], where: str = "--set") -> dict:
    """Apply one ``PATH=VALUE`` override to a profile document (see ``docs/schema.md``).

    ``PATH`` is a dotted path into the profile (``constraints.slope.max``,
    ``footprint.min_acres``, ``criteria.workforce.midpoint``), or the shorthand
    ``max_MEASURE`` / ``min_MEASURE`` for the bound of every hard constraint on that measure
    (a constraint named after the measure is added if there is none). ``VALUE`` is read as a
    TOML value (``5``, ``true``, ``[1, 2]``, ``"linear"``); a bare word is taken as text.
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
            raise ProfileError(f"{where}: '{path}': unknown measure '{measure}'{_suggest(measure, MEASURES)}")
        cons = doc.setdefault("constraints", {})
        hits = [k for k, c in cons.items() if c.get("measure") == measure]
        if not hits:
            cons[measure] = {"measure": measure}
            hits = [measure]
        for k in hits:
            cons[k][bound] = value
        return doc
    top = parts[0]
    if top not in _TOP_KEYS - {"ahp", "sources"}:
        options = sorted(_TOP_KEYS - {"ahp", "sources"}) + ["max_MEASURE", "min_MEASURE"]
        raise ProfileError(f"{where}: unknown setting '{path}'{_suggest(top, options)}")
    if top in ("name", "title", "description"):
        if len(parts) != 1:
            raise ProfileError(f"{where}: '{path}': {top} has no parts")
        doc[top] = value
        return doc
    if top in ("footprint", "land"):
        keys = _FOOTPRINT_KEYS if top == "footprint" else _LAND_KEYS
        if len(parts) != 2 or parts[1] not in keys:
            raise ProfileError(f"{where}: unknown setting '{path}'"
                               f"{_suggest(parts[-1], keys)} ({top} has {', '.join(sorted(keys))})")
        doc.setdefault(top, {})[parts[1]] = value
        return doc
    section = doc.get(top) or {}
    keys = _CRIT_KEYS if top == "criteria" else _CONSTRAINT_KEYS
    if len(parts) != 3:
        raise ProfileError(f"{where}: '{path}': give {top}.KEY.FIELD, e.g. "
                           + ("criteria.workforce.weight" if top == "criteria" else "constraints.slope.max"))
    _, item, fld = parts
    if item not in section:
        raise ProfileError(f"{where}: '{path}': no {top[:-1]} '{item}'{_suggest(item, section)} "
                           f"({top}: {', '.join(section) or 'none'})")
    if fld not in keys:
        raise ProfileError(f"{where}: '{path}': unknown field '{fld}'{_suggest(fld, keys)}")
    section[item][fld] = value
    return doc


def _toml_value(text: str):
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(doc: dict, weights: dict | None = None, sets=None, where: str = "<profile>") -> dict:
    """A document with ``--set`` assignments, then ``--weight`` overrides, applied.

    Explicit weights win over an ``[ahp]`` table: its weights are filled in first.
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
        new = check_weights(weights, list(crits), "--weight")
        doc = copy.deepcopy(doc)
        for k, v in new.items():
            doc["criteria"][k]["weight"] = v
    return doc


def resolve_profile(name_or_path: str | Path, weights: dict | None = None, sets=None,
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
    """
    doc, source = profile_document(name_or_path)
    notes = []
    base = _read_toml(_profile_path(name_or_path)).get("extend")
    if isinstance(base, str):
        base_doc, _ = profile_document(base, (_profile_path(name_or_path).resolve(),))
        changes = document_diff(base_doc, doc)
        notes.append(f"extends {base}; changes: " + ("; ".join(changes) if changes else "none"))
    if ahp is not None or "ahp" in doc:
        doc, note = apply_ahp(doc, ahp, force_ahp, source)
        notes.append(note)
    doc = apply_overrides(doc, weights, sets, source)
    if weights or sets:
        changed = [*(f"{k}={v:g}" for k, v in (weights or {}).items()),
                   *((s if isinstance(s, str) else f"{s[0]}={s[1]}") for s in
                     (sets.items() if isinstance(sets, dict) else (sets or [])))]
        source += " with " + ", ".join(changed)
    prof = parse_profile(doc, source)
    return replace(prof, notes=tuple(notes)) if notes else prof


def document_diff(base: dict, doc: dict, prefix: str = "") -> list[str]:
    """Where two profile documents differ, as ``path: old -> new`` lines."""
    out = []
    for k in sorted(set(base) | set(doc), key=str):
        path = f"{prefix}{k}"
        if k not in doc:
            out.append(f"{path} removed")
        elif k not in base:
            out.append(f"{path} added" if isinstance(doc[k], dict) else f"{path} = {doc[k]!r} (new)")
        elif isinstance(base[k], dict) and isinstance(doc[k], dict):
            out.extend(document_diff(base[k], doc[k], path + "."))
        elif base[k] != doc[k]:
            out.append(f"{path}: {base[k]!r} -> {doc[k]!r}")
    return out


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a built-in profile by name, or a profile TOML file by path (``extend`` resolved)."""
    return resolve_profile(name_or_path)


def profile_toml(profile: Profile) -> str:
    """The effective profile as a TOML document (raw weights, as given)."""
    import tomli_w

    doc = copy.deepcopy(profile.document or {})
    return tomli_w.dumps(doc)


def _suggest(word: str, options) -> str:
    """"; did you mean 'x'?" for the closest option (or the options containing ``word``)."""
    options = [str(o) for o in options]
    hint = get_close_matches(word, options, n=1)
    if not hint:
        hint = get_close_matches(word, [o for o in options if word.lower() in o.lower()], n=2, cutoff=0.0)
    if not hint:
        return ""
    return "; did you mean " + " or ".join(f"'{h}'" for h in hint) + "?"


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
        if k in _FILE_KEYS:
            raise ProfileError(f"{source}: '{k}' is resolved when the profile file is read "
                               "(use load_profile or profile_document)")
    _unknown(doc, _TOP_KEYS, source)
    notes: tuple[str, ...] = ()
    if "ahp" in doc:
        doc, note = apply_ahp(doc, where=source)
        notes = (note,)
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
                   constraints=tuple(constraints), criteria=tuple(criteria), source=source,
                   document=copy.deepcopy(doc), notes=notes)
