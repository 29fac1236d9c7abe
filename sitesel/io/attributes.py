"""A layer's attributes in canonical form: which source column serves which canonical column, and
their values normalised (numbers as float64 with sentinels missing, codes mapped, designations
classified).

A required column that is absent, or that holds no numbers or only missing values, raises a
one-line :class:`~sitesel.errors.LayerError` naming the layer, the file and the fix.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from sitesel.errors import LayerError, did_you_mean
from sitesel.io.files import VectorInfo
from sitesel.io.manifest import CANONICAL_LAYERS, NUMERIC_COLUMNS, REQUIRED_COLUMNS, LayerSpec

__all__ = ["LayerReport", "classify_designation", "column_mapping", "layer_label", "normalise_attributes",
           "numeric_values"]


@dataclass
class LayerReport:
    """What loading a layer found and fixed, for run.json."""

    features: int = 0
    repaired: int = 0
    invalid_rasterised: int = 0
    dropped_empty: int = 0
    dropped_wrong_type: int = 0
    dropped_unprojectable: int = 0
    sentinels: int = 0
    non_numeric: int = 0


# Patterns for PAD-US designation codes (Des_Tp) and for unit names when no code exists.
_DESIGNATIONS = [
    ("wilderness_study_area", re.compile(r"\bwilderness study area\b|^wsa$", re.I)),
    ("wilderness", re.compile(r"\bwilderness\b|^wa$", re.I)),
    ("wildlife_refuge", re.compile(r"\bwildlife refuge\b|^nwr$", re.I)),
    ("national_park", re.compile(r"\bnational park\b|\bnational preserve\b|^np$|^npre$", re.I)),
    ("national_monument", re.compile(r"\bnational monument\b|^nm$", re.I)),
    ("conservation_area", re.compile(r"\bnational conservation area\b|^nca$", re.I)),
]


def classify_designation(text: object) -> str | None:
    """Map a PAD-US designation code or a unit name to sitesel's canonical designation.

    Parameters
    ----------
    text : object
        A designation code (``"WA"``, ``"NWR"``) or unit name; anything but text is no designation.

    Returns
    -------
    str or None
        ``"wilderness"``, ``"wildlife_refuge"``, ..., ``"other"`` for a designation sitesel does
        not single out, None for none.

    Examples
    --------
    >>> classify_designation("Cabeza Prieta National Wildlife Refuge")
    'wildlife_refuge'
    >>> classify_designation("WSA"), classify_designation("Recreation Area"), classify_designation(None)
    ('wilderness_study_area', 'other', None)
    """
    if not isinstance(text, str) or not text.strip():
        return None
    for name, pattern in _DESIGNATIONS:
        if pattern.search(text.strip()):
            return name
    return "other"


def layer_label(spec: LayerSpec) -> str:
    """How messages name a layer and its files: ``layer 'NAME' (FILE)`` or ``(FILE and N more)``.

    Parameters
    ----------
    spec : LayerSpec
        The manifest entry.

    Returns
    -------
    str
    """
    names = [str(s.path) for s in spec.sources]
    files = names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more"
    return f"layer '{spec.name}' ({files})"


def column_mapping(spec: LayerSpec, info: VectorInfo) -> dict[str, str | None]:
    """Which source column serves each canonical column of a layer.

    Parameters
    ----------
    spec : LayerSpec
        The manifest entry (its ``fields`` map canonical columns to source columns).
    info : VectorInfo
        The checked source.

    Returns
    -------
    dict
        Canonical column -> source column, or None if the file has none.

    Raises
    ------
    LayerError
        A mapped column is absent, or a required column (:data:`REQUIRED_COLUMNS`) has no source.
    """
    _, columns = CANONICAL_LAYERS[spec.name]
    available = list(info.fields)
    out: dict[str, str | None] = {}
    for canon in columns:
        col = spec.fields.get(canon, canon)
        if col in available:
            out[canon] = col
            continue
        if canon in spec.fields:
            raise LayerError(f"layer '{spec.name}' ({info.path}) has no column '{col}' (mapped to '{canon}' in the "
                             f"manifest){did_you_mean(col, available, 0.5, fold_case=True)}; fix fields = "
                             f"{{ {canon} = \"...\" }} (columns: {_some(available)})")
        if canon in REQUIRED_COLUMNS.get(spec.name, ()):
            raise LayerError(f"layer '{spec.name}' ({info.path}) has no '{canon}' column"
                             f"{did_you_mean(canon, available, 0.5, fold_case=True)}; map one with "
                             f"fields = {{ {canon} = \"COLUMN\" }} in the manifest (columns: {_some(available)})")
        out[canon] = None
    return out


def _some(cols: list[str], n: int = 12) -> str:
    return ", ".join(cols[:n]) + (", ..." if len(cols) > n else "") if cols else "none"


def normalise_attributes(gdf: gpd.GeoDataFrame, spec: LayerSpec, report: LayerReport) -> gpd.GeoDataFrame:
    """Canonical columns in canonical form, in place: numbers (see :func:`numeric_values`), text
    with None for missing values and the manifest's ``value_map`` applied, agency codes mapped
    and upper-case, designations classified (:func:`classify_designation`).

    Parameters
    ----------
    gdf : GeoDataFrame
        Canonical columns as read from the source.
    spec : LayerSpec
        The manifest entry.
    report : LayerReport
        Counts sentinels and values that are not numbers.

    Returns
    -------
    GeoDataFrame
        ``gdf``.
    """
    for col in gdf.columns:
        if col == "geometry":
            continue
        if col in NUMERIC_COLUMNS:
            gdf[col] = numeric_values(gdf[col], spec, col, report)
        else:
            gdf[col] = gdf[col].astype(object).where(gdf[col].notna(), None)
            for key, new in spec.value_map.get(col, {}).items():
                gdf[col] = gdf[col].replace(key, new)
    if "agency" in gdf.columns:
        gdf["agency"] = gdf["agency"].map(
            lambda a: spec.agency_map.get(str(a).strip(), str(a).strip()).upper() if a is not None else None
        )
    if "designation" in gdf.columns:
        basis = gdf[spec.designation_from] if spec.designation_from else gdf["designation"]
        gdf["designation"] = basis.map(classify_designation)
    return gdf


def _to_float(v) -> float:
    if isinstance(v, (bool, np.bool_)):
        return np.nan
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):
        return np.nan
    return f


def numeric_values(raw: pd.Series, spec: LayerSpec, canon: str, report: LayerReport) -> pd.Series:
    """A numeric canonical column as float64: sentinels and non-numbers become NaN (counted).

    Parameters
    ----------
    raw : Series
        The column as read.
    spec : LayerSpec
        The manifest entry (its ``sentinels`` and ``value_map`` apply).
    canon : str
        The canonical column.
    report : LayerReport
        Counts sentinels and values that are not numbers.

    Returns
    -------
    Series of float64

    Raises
    ------
    LayerError
        The column holds dates, true/false or text rather than numbers, or (for a required
        column) every value is missing or a sentinel.
    """
    col = spec.fields.get(canon, canon)
    where = f"{layer_label(spec)}: column '{col}' (mapped to '{canon}')"
    fix = f"map {canon} to a numeric column with fields = {{ {canon} = \"COLUMN\" }} in the manifest"
    if pd.api.types.is_datetime64_any_dtype(raw) or pd.api.types.is_bool_dtype(raw):
        kind = "dates" if pd.api.types.is_datetime64_any_dtype(raw) else "true/false values"
        raise LayerError(f"{where} holds {kind}, not numbers; {fix}")
    try:
        vals = pd.to_numeric(raw, errors="coerce").astype("float64")
    except (TypeError, ValueError):  # lists or other objects in the column: convert one by one
        vals = raw.map(_to_float).astype("float64")
    vals = vals.where(np.isfinite(vals))
    present = raw.notna().to_numpy()
    bad = present & vals.isna().to_numpy()
    if bad.any():
        if bad.sum() == present.sum():
            example = raw[bad].iloc[0]
            raise LayerError(f"{where} holds text such as {str(example)[:40]!r}, not numbers; {fix}")
        report.non_numeric += int(bad.sum())
    sentinels = spec.sentinels.get(canon, ())
    if sentinels:
        hit = vals.isin(sentinels)
        report.sentinels += int(hit.sum())
        vals = vals.mask(hit)
    for key, new in spec.value_map.get(canon, {}).items():
        vals = vals.mask(vals == float(key), float(new))
    if canon in REQUIRED_COLUMNS.get(spec.name, ()) and len(vals) and vals.isna().all():
        sent = f" or a sentinel ({', '.join(f'{s:g}' for s in sentinels)})" if sentinels else ""
        raise LayerError(f"{where}: every one of the {len(vals):,} values read is missing{sent}; {fix} "
                         "that holds values, or correct sentinels")
    return vals
