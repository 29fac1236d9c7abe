"""The layer manifest: which file, layer and field mapping serves each sitesel layer.

A manifest is a TOML file (see ``docs/schema.md``). Swapping in a full-resolution PAD-US, HIFLD
or TIGER file means editing the manifest, not the code.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyproj import CRS
from pyproj.exceptions import CRSError

from sitesel.defaults import builtin_data
from sitesel.errors import ManifestError, did_you_mean
from sitesel.io.toml import read_toml

__all__ = [
    "CANONICAL_LAYERS", "NUMERIC_COLUMNS", "REQUIRED_COLUMNS", "ROOT_ENV", "LayerSpec", "Manifest", "Source",
    "default_manifest_path", "load_manifest",
]

#: Canonical layers, their geometry family and the normalised columns the engine reads.
CANONICAL_LAYERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "states": ("polygon", ("code", "name")),
    "federal_lands": ("polygon", ("agency", "unit", "designation")),
    "protected_areas": ("polygon", ("agency", "unit", "designation")),
    "transmission_lines": ("line", ("voltage_kv",)),
    "substations": ("point", ("max_kv", "name")),
    "power_plants": ("point", ("mw", "fuel", "name")),
    "rivers": ("line", ("name",)),
    "lakes": ("polygon", ("name",)),
    "water_stress": ("polygon", ("bws_cat",)),
    "interstates": ("line", ("name",)),
    "highways": ("line", ("name",)),
    "railroads": ("line", ("name",)),
    "ports": ("point", ("name",)),
    "airports": ("point", ("name",)),
    "counties": ("polygon", ("population", "name")),
    "dem": ("raster", ()),
    "solar": ("raster", ()),
}

#: Canonical columns read as numbers (sentinels and value maps apply to these).
NUMERIC_COLUMNS = {"voltage_kv", "max_kv", "mw", "population", "bws_cat"}
#: Columns without which a layer is useless: a transmission line without a voltage cannot serve
#: a voltage constraint, a county without population cannot count a workforce.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "states": ("code",),
    "federal_lands": ("agency",),
    "transmission_lines": ("voltage_kv",),
    "substations": ("max_kv",),
    "power_plants": ("mw",),
    "water_stress": ("bws_cat",),
    "counties": ("population",),
}

_LAYER_KEYS = {
    "path", "layer", "sources", "fields", "sentinels", "value_map", "where", "crs", "kind",
    "agency_map", "designation_from", "scale", "nodata", "band", "description", "x", "y",
}

#: Environment variable that overrides a manifest's ``root``.
ROOT_ENV = "SITESEL_DATA_ROOT"


@dataclass(frozen=True)
class Source:
    """One file (and layer inside it) that contributes features to a layer."""

    path: Path
    layer: str | None = None


@dataclass(frozen=True)
class LayerSpec:
    """How to read and normalise one canonical layer."""

    name: str
    kind: str  # "vector" or "raster"
    sources: tuple[Source, ...]
    fields: dict[str, str] = field(default_factory=dict)
    sentinels: dict[str, tuple[float, ...]] = field(default_factory=dict)
    value_map: dict[str, dict[str, Any]] = field(default_factory=dict)
    where: str | None = None
    crs: str | None = None
    agency_map: dict[str, str] = field(default_factory=dict)
    designation_from: str | None = None
    scale: float = 1.0
    nodata: float | None = None
    band: int = 1
    #: Point coordinates in columns of a table (CSV): the x (longitude) and y (latitude) column names.
    x: str | None = None
    y: str | None = None


@dataclass(frozen=True)
class Manifest:
    """A parsed layer manifest."""

    path: Path
    root: Path
    layers: dict[str, LayerSpec]

    def has(self, layer: str) -> bool:
        """Whether the manifest provides ``layer``."""
        return layer in self.layers

    def __getitem__(self, layer: str) -> LayerSpec:
        try:
            return self.layers[layer]
        except KeyError:
            raise ManifestError(f"{self.path}: no layer '{layer}' in the manifest") from None


def default_manifest_path() -> Path:
    """The manifest for the national dataset in ``../shared/data``, or ``$SITESEL_LAYERS``."""
    env = os.environ.get("SITESEL_LAYERS")
    if env:
        return Path(env)
    return builtin_data() / "manifests" / "national.toml"


def load_manifest(path: str | os.PathLike) -> Manifest:
    """Read and validate a layer manifest.

    Parameters
    ----------
    path : path-like
        The manifest TOML file. Relative paths inside it are resolved against ``root``, which is
        itself relative to the manifest's folder (``$SITESEL_DATA_ROOT`` overrides it).

    Returns
    -------
    Manifest

    Raises
    ------
    ManifestError
        With one line naming the file and key at fault and what to write instead.
    """
    path = Path(path)
    doc = read_toml(path, "layer manifest", ManifestError, schema="docs/schema.md",
                    if_missing="give an existing TOML file to {opt:layers}")
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise ManifestError(f"{path}: unknown top-level key '{unknown[0]}'{_suggest(unknown[0], _TOP_KEYS)}")
    root_text = os.environ.get(ROOT_ENV) or doc.get("root", ".")
    if not isinstance(root_text, str):
        raise ManifestError(f"{path}: root must be a folder path in quotes, not {root_text!r}")
    root = Path(root_text)
    if not root.is_absolute():
        root = (path.parent / root).resolve()
    tables = doc.get("layers", {})
    if not isinstance(tables, dict):
        raise ManifestError(f"{path}: 'layers' must be tables such as [layers.states], not {_kind(tables)}")
    layers = {name: _layer_spec(path, root, name, raw) for name, raw in tables.items()}
    return Manifest(path=path.resolve(), root=root, layers=layers)


_TOP_KEYS = {"root", "layers", "description", "title"}


def _suggest(word: str, options) -> str:
    return did_you_mean(word, sorted(options)) or f" (expected one of {', '.join(sorted(options))})"


def _kind(v: Any) -> str:
    return {dict: "a table", list: "a list", str: "text", bool: "true/false"}.get(type(v), repr(v))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _layer_spec(path: Path, root: Path, name: str, raw: Any) -> LayerSpec:
    where = f"{path}: layer '{name}'"
    if name not in CANONICAL_LAYERS:
        raise ManifestError(f"{where}: unknown layer name{_suggest(name, CANONICAL_LAYERS)}")
    if not isinstance(raw, dict):
        raise ManifestError(f"{where}: must be a table ([layers.{name}] with path = ...), not {_kind(raw)}")
    bad = sorted(set(raw) - _LAYER_KEYS)
    if bad:
        raise ManifestError(f"{where}: unknown key '{bad[0]}'{_suggest(bad[0], _LAYER_KEYS)}")
    geom, columns = CANONICAL_LAYERS[name]
    kind = raw.get("kind", "raster" if geom == "raster" else "vector")
    if kind not in ("vector", "raster") or (kind == "raster") != (geom == "raster"):
        raise ManifestError(f"{where}: must be kind = \"{'raster' if geom == 'raster' else 'vector'}\", not {kind!r}")
    if ("x" in raw) != ("y" in raw):
        raise ManifestError(f"{where}: give both x and y (the coordinate columns of a CSV of points)")
    if "x" in raw and geom != "point":
        raise ManifestError(f"{where}: x/y columns make points, but this layer holds {geom}s")

    def text(key: str) -> str | None:
        v = raw.get(key)
        if v is not None and not isinstance(v, str):
            raise ManifestError(f"{where}: {key} must be text in quotes, not {_kind(v)}")
        return v

    if "sources" in raw:
        if not isinstance(raw["sources"], list) or not raw["sources"]:
            raise ManifestError(f"{where}: sources must be a non-empty list of {{ path = \"...\", layer = \"...\" }}")
        sources = []
        for i, s in enumerate(raw["sources"]):
            if not isinstance(s, dict) or not isinstance(s.get("path"), str) or set(s) - {"path", "layer"} \
                    or not isinstance(s.get("layer", ""), str):
                raise ManifestError(f"{where}: sources[{i}] must be "
                                    f"{{ path = \"...\", layer = \"...\" }} (layer optional)")
            sources.append(Source(_resolve(root, s["path"]), s.get("layer")))
        sources = tuple(sources)
    elif "path" in raw:
        sources = (Source(_resolve(root, text("path")), text("layer")),)
    else:
        raise ManifestError(f"{where}: needs path = \"...\" (or sources = [...]) naming the file to read")
    if kind == "raster" and len(sources) != 1:
        raise ManifestError(f"{where}: a raster layer reads one file; give path = \"...\", not several sources")

    fields = raw.get("fields", {})
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        raise ManifestError(f"{where}: fields must map column names, e.g. "
                            f"fields = {{ {columns[0] if columns else 'name'} = \"SOURCE_COLUMN\" }}")
    bad_fields = sorted(set(fields) - set(columns))
    if bad_fields:
        raise ManifestError(f"{where}: fields key '{bad_fields[0]}' is not a column of this layer "
                            f"(expected {', '.join(columns) or 'none'})")

    sentinels = {}
    for k, v in _table(raw, "sentinels", where).items():
        if k not in columns or k not in NUMERIC_COLUMNS:
            numeric = [c for c in columns if c in NUMERIC_COLUMNS]
            raise ManifestError(f"{where}: sentinels key '{k}' is not a numeric column of this layer "
                                f"(numeric columns: {', '.join(numeric) or 'none'})")
        vals = v if isinstance(v, list) else [v]
        if not all(_is_number(x) for x in vals):
            raise ManifestError(f"{where}: sentinels.{k} must be a list of numbers, e.g. [-999999]")
        sentinels[k] = tuple(float(x) for x in vals)
    value_map = {}
    for k, v in _table(raw, "value_map", where).items():
        if k not in columns or not isinstance(v, dict):
            raise ManifestError(f"{where}: value_map.{k} must map values of a column of this layer, e.g. "
                                f"value_map = {{ {k} = {{ \"-1\" = 4 }} }}")
        if k in NUMERIC_COLUMNS:
            for key, new in v.items():
                try:
                    float(key)
                except ValueError:
                    raise ManifestError(f"{where}: value_map.{k} key {key!r} must be a number in quotes") from None
                if not _is_number(new):
                    raise ManifestError(f"{where}: value_map.{k} value for {key!r} must be a number, not {_kind(new)}")
        value_map[k] = dict(v)
    agency_map = _table(raw, "agency_map", where)
    if not all(isinstance(v, str) for v in agency_map.values()):
        raise ManifestError(f"{where}: agency_map must map codes to codes, e.g. {{ FS = \"USFS\" }}")
    designation_from = text("designation_from")
    if designation_from is not None and designation_from not in columns:
        raise ManifestError(f"{where}: designation_from must be one of this layer's columns ({', '.join(columns)}), "
                            f"not {designation_from!r}")
    crs = text("crs")
    if crs is not None:
        try:
            CRS.from_user_input(crs)
        except CRSError:
            raise ManifestError(f"{where}: crs {crs!r} is not a coordinate reference system pyproj knows; "
                                "give an EPSG code such as \"EPSG:4269\"") from None
    scale = raw.get("scale", 1.0)
    if not _is_number(scale) or not math.isfinite(scale) or scale == 0:
        raise ManifestError(f"{where}: scale must be a non-zero number (e.g. 0.2778 for MJ -> kWh), not {scale!r}")
    nodata = raw.get("nodata")
    if nodata is not None and not _is_number(nodata):
        raise ManifestError(f"{where}: nodata must be a number (e.g. -9999), not {_kind(nodata)}")
    band = raw.get("band", 1)
    if not isinstance(band, int) or isinstance(band, bool) or band < 1:
        raise ManifestError(f"{where}: band must be a band number (1, 2, ...), not {band!r}")
    return LayerSpec(
        name=name,
        kind=kind,
        sources=sources,
        fields=dict(fields),
        sentinels=sentinels,
        value_map=value_map,
        where=text("where"),
        crs=crs,
        agency_map=dict(agency_map),
        designation_from=designation_from,
        scale=float(scale),
        nodata=None if nodata is None else float(nodata),
        band=band,
        x=text("x"),
        y=text("y"),
    )


def _table(raw: dict, key: str, where: str) -> dict:
    v = raw.get(key, {})
    if not isinstance(v, dict):
        raise ManifestError(f"{where}: {key} must be a table {{ column = ... }}, not {_kind(v)}")
    return v


def _resolve(root: Path, p: str) -> Path:
    q = Path(os.path.expandvars(os.path.expanduser(p)))
    return q if q.is_absolute() else root / q
