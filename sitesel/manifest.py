"""The layer manifest: which file, layer and field mapping serves each sitesel layer.

A manifest is a TOML file (see ``docs/schema.md``). Swapping in a full-resolution PAD-US, HIFLD
or TIGER file means editing the manifest, not the code.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .paths import builtin_data
from .errors import ManifestError

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
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"layer manifest not found: {path}")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(doc) - {"root", "layers", "description", "title"}
    if unknown:
        raise ManifestError(f"{path}: unknown top-level key(s) {sorted(unknown)}")
    root = Path(os.environ.get(ROOT_ENV) or doc.get("root", "."))
    if not root.is_absolute():
        root = (path.parent / root).resolve()
    layers = {}
    for name, raw in (doc.get("layers") or {}).items():
        layers[name] = _layer_spec(path, root, name, raw)
    return Manifest(path=path.resolve(), root=root, layers=layers)


def _layer_spec(path: Path, root: Path, name: str, raw: dict[str, Any]) -> LayerSpec:
    where = f"{path}: layer '{name}'"
    if name not in CANONICAL_LAYERS:
        from difflib import get_close_matches

        hint = get_close_matches(name, CANONICAL_LAYERS, n=1)
        raise ManifestError(f"{where}: unknown layer name" + (f"; did you mean '{hint[0]}'?" if hint else ""))
    bad = set(raw) - _LAYER_KEYS
    if bad:
        raise ManifestError(f"{where}: unknown key(s) {sorted(bad)}")
    geom, columns = CANONICAL_LAYERS[name]
    kind = raw.get("kind", "raster" if geom == "raster" else "vector")
    if (kind == "raster") != (geom == "raster"):
        raise ManifestError(f"{where}: must be kind = \"{'raster' if geom == 'raster' else 'vector'}\"")
    if ("x" in raw) != ("y" in raw):
        raise ManifestError(f"{where}: give both x and y (the coordinate columns of a CSV of points)")
    if "x" in raw and geom != "point":
        raise ManifestError(f"{where}: x/y columns make points, but this layer holds {geom}s")
    if "sources" in raw:
        sources = tuple(Source(_resolve(root, s["path"]), s.get("layer")) for s in raw["sources"])
    elif "path" in raw:
        sources = (Source(_resolve(root, raw["path"]), raw.get("layer")),)
    else:
        raise ManifestError(f"{where}: needs 'path' or 'sources'")
    fields = dict(raw.get("fields", {}))
    bad_fields = set(fields) - set(columns)
    if bad_fields:
        raise ManifestError(f"{where}: fields {sorted(bad_fields)} are not columns of this layer (expected {list(columns)})")
    return LayerSpec(
        name=name,
        kind=kind,
        sources=sources,
        fields=fields,
        sentinels={k: tuple(v) for k, v in raw.get("sentinels", {}).items()},
        value_map={k: dict(v) for k, v in raw.get("value_map", {}).items()},
        where=raw.get("where"),
        crs=raw.get("crs"),
        agency_map=dict(raw.get("agency_map", {})),
        designation_from=raw.get("designation_from"),
        scale=float(raw.get("scale", 1.0)),
        nodata=raw.get("nodata"),
        band=int(raw.get("band", 1)),
        x=raw.get("x"),
        y=raw.get("y"),
    )


def _resolve(root: Path, p: str) -> Path:
    q = Path(os.path.expandvars(os.path.expanduser(p)))
    return q if q.is_absolute() else root / q
