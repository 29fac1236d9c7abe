"""Profile documents: finding and reading profile files, ``extend`` and ``remove``, and diffs.

A profile file is TOML (``data/profiles/<name>.toml``; schema in ``docs/schema.md``). It may
``extend`` another profile and override any part of it (:func:`merge_documents`), and ``remove``
criteria or constraints (:func:`remove_items`); :func:`profile_document` resolves both into the
effective document that :func:`sitesel.analysis.profiles.parse_profile` validates.
"""
from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path

from sitesel.analysis.valuefn import PARAMS
from sitesel.defaults import builtin_data
from sitesel.errors import ProfileError, closest, did_you_mean
from sitesel.io.toml import read_toml

__all__ = [
    "CONSTRAINT_KEYS", "CRITERION_KEYS", "FILE_KEYS", "FOOTPRINT_KEYS", "LAND_KEYS", "TOP_KEYS", "builtin_dir",
    "document_diff", "list_profiles", "merge_documents", "profile_document", "profile_path", "read_profile_file",
    "remove_items", "suggest_names",
]

#: Top-level keys of a profile document.
TOP_KEYS = {"name", "title", "description", "footprint", "land", "constraints", "criteria", "sources", "ahp", "demand"}
#: Keys only a profile file may hold: resolved before validation (see :func:`profile_document`).
FILE_KEYS = {"extend", "remove"}
#: Keys of the ``[footprint]`` table.
FOOTPRINT_KEYS = {"min_acres", "separation_km"}
#: Keys of the ``[land]`` table.
LAND_KEYS = {"eligible_agencies"}
#: Keys of a ``[constraints.KEY]`` table.
CONSTRAINT_KEYS = {"measure", "min", "max", "note"}
#: Keys of a ``[criteria.KEY]`` table.
CRITERION_KEYS = {"measure", "weight", "function", "best", "worst", "thresholds", "scores", "midpoint", "width",
                  "increasing", "ideal", "spread", "missing", "note"}


def suggest_names(word: str, options: Iterable[str]) -> str:
    """:func:`~sitesel.errors.did_you_mean`, or else up to two options that contain ``word``.

    A short word (``water``) is too unlike its longer names for difflib, but naming the options
    that contain it is still the best hint.

    >>> suggest_names("water", ["water_stress", "water_source", "airport"])
    " (did you mean 'water_stress' or 'water_source'?)"
    >>> suggest_names("airprt", ["water_stress", "airport"])
    " (did you mean 'airport'?)"
    """
    options = [str(o) for o in options]
    hint = did_you_mean(word, options)
    if hint:
        return hint
    containing = [o for o in options if word.lower() in o.lower()]
    picks: list[str] = []
    for _ in range(2):
        pick = closest(word, [o for o in containing if o not in picks], cutoff=0.0)
        if pick is not None:
            picks.append(pick)
    return " (did you mean " + " or ".join(f"'{p}'" for p in picks) + "?)" if picks else ""


def builtin_dir() -> Path:
    """The folder of the built-in profiles (``data/profiles``)."""
    return builtin_data() / "profiles"


def list_profiles() -> list[str]:
    """The names of the built-in park types, sorted."""
    return sorted(p.stem for p in builtin_dir().glob("*.toml"))


def profile_path(name_or_path: str | Path, relative_to: Path | None = None) -> Path:
    """The file of a built-in park type or of a profile path.

    Parameters
    ----------
    name_or_path : str or Path
        A park type (``"semiconductor_fab"``) or a ``.toml`` file.
    relative_to : Path, optional
        The folder a relative profile path is relative to (that of the profile extending it).

    Returns
    -------
    Path

    Raises
    ------
    ProfileError
        No such file, or no such park type (naming the closest).
    """
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
        raise ProfileError(f"unknown park type '{name_or_path}'{suggest_names(str(name_or_path), names)}"
                           f" (available: {', '.join(names)})")
    return path


def read_profile_file(path: Path) -> dict:
    """The TOML document of a profile file, as written (``extend`` and ``remove`` unresolved).

    Parameters
    ----------
    path : Path
        The profile file.

    Returns
    -------
    dict

    Raises
    ------
    ProfileError
        The file is missing, unreadable or not valid TOML.
    """
    return read_toml(path, "profile", ProfileError, schema="docs/schema.md")


def profile_document(name_or_path: str | Path, _seen: tuple[Path, ...] = ()) -> tuple[dict, str]:
    """The effective profile document of a park type or profile file, and its source label.

    A file may ``extend`` another profile (a built-in name, or a path relative to the file) and
    override any part of it; see :func:`merge_documents` and ``docs/schema.md``.

    Parameters
    ----------
    name_or_path : str or Path
        A park type or a profile file.
    _seen : tuple of Path
        The files extending this one (to refuse loops); callers leave it out.

    Returns
    -------
    doc : dict
        The document with ``extend`` and ``remove`` resolved (not validated).
    source : str
        The file, and what it extends.

    Raises
    ------
    ProfileError
        A file cannot be read, has an unknown key, or profiles extend each other in a loop.
    """
    path = profile_path(name_or_path, _seen[-1].parent if _seen else None).resolve()
    if path in _seen:
        chain = " -> ".join(str(p) for p in (*_seen, path))
        raise ProfileError(f"profiles extend each other in a loop: {chain}")
    doc = read_profile_file(path)
    for k in doc:
        if k not in TOP_KEYS | FILE_KEYS:
            raise ProfileError(f"{path}: unknown key '{k}'{suggest_names(k, TOP_KEYS | FILE_KEYS)}")
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

    Parameters
    ----------
    base, child : dict
        Profile documents (neither is changed).
    where : str
        The extending file, for messages.

    Returns
    -------
    dict
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
                                           f"{suggest_names(item, section)} (a new one needs a measure)")
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


def remove_items(doc: dict, names: list[str], where: str = "<profile>") -> dict:
    """``doc`` without the listed ``criteria.KEY`` / ``constraints.KEY`` entries (and ``ahp``).

    Parameters
    ----------
    doc : dict
        A profile document (not changed).
    names : list of str
        What to remove: ``"criteria.KEY"``, ``"constraints.KEY"`` or ``"ahp"``.
    where : str
        The file, for messages.

    Returns
    -------
    dict
    """
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
            raise ProfileError(f"{where}: cannot remove '{name}': no such {section[:-1]}{suggest_names(item, table)}")
        del table[item]
    return doc


def document_diff(base: dict, doc: dict, prefix: str = "") -> list[str]:
    """Where two profile documents differ, as ``path: old -> new`` lines.

    >>> document_diff({"footprint": {"min_acres": 500}}, {"footprint": {"min_acres": 800}, "title": "Big"})
    ['footprint.min_acres: 500 -> 800', "title = 'Big' (new)"]
    """
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
