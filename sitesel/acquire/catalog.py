"""The source catalog: where each public layer comes from and how the engine reads it.

The catalog is TOML (``data/catalog.toml`` ships with sitesel; ``docs/data.md`` describes it).
``[sources.<id>]`` tables say what to download (address, format, expected fields, checksum) and
``[layers.<name>]`` tables say which sources serve a canonical layer and carry the manifest mapping
(``fields``, ``sentinels``, ...) that ends up in the layer manifest ``sitesel data fetch`` writes.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from sitesel.defaults import builtin_data
from sitesel.errors import CatalogError, did_you_mean
from sitesel.io.manifest import CANONICAL_LAYERS
from sitesel.io.toml import read_toml

__all__ = ["FORMATS", "Catalog", "Join", "LayerEntry", "SourceSpec", "default_catalog_path", "load_catalog"]

#: Source formats, and whether they hold a raster.
FORMATS = {
    "zip-shapefile": False, "zip-gdb": False, "geojson": False, "gpkg": False, "csv": False,
    "table": False, "arcgis": False, "geotiff": True, "zip-raster": True, "cog": True,
}

_SOURCE_KEYS = {
    "title", "publisher", "licence", "homepage", "url", "filename", "format", "member", "layer",
    "vintage", "fields", "sha256", "confirmed", "note", "x", "y", "crs", "encoding", "join",
    "read_res", "where", "page_size",
}
_JOIN_KEYS = {"source", "left_on", "right_on", "columns", "filter"}
#: Manifest keys a catalog layer may carry (copied into the written manifest), besides sources.
_MANIFEST_KEYS = {"fields", "sentinels", "value_map", "agency_map", "designation_from", "scale", "nodata",
                  "band", "crs"}
_LAYER_KEYS = _MANIFEST_KEYS | {"sources", "where", "description"}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Join:
    """Attach columns of a table source to a vector source by key."""

    source: str
    left_on: str
    right_on: tuple[str, ...]
    columns: tuple[str, ...]
    filter: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceSpec:
    """One downloadable dataset."""

    id: str
    url: str
    format: str
    title: str = ""
    publisher: str = ""
    licence: str = ""
    homepage: str = ""
    filename: str | None = None
    member: str | None = None
    layer: str | None = None
    vintage: str = ""
    fields: tuple[str, ...] = ()
    sha256: str | None = None
    confirmed: bool = False
    note: str = ""
    x: str | None = None
    y: str | None = None
    crs: str | None = None
    encoding: str | None = None
    join: Join | None = None
    read_res: float | None = None
    where: str | None = None
    page_size: int | None = None

    @property
    def is_raster(self) -> bool:
        """Whether the source holds a raster (by its format)."""
        return FORMATS[self.format]

    @property
    def download_name(self) -> str:
        """The file name the download is stored under."""
        if self.filename:
            return self.filename
        name = Path(urlparse(self.url).path).name
        return name or f"{self.id}.bin"


@dataclass(frozen=True)
class LayerEntry:
    """Which sources serve one canonical layer, and its manifest mapping."""

    name: str
    sources: tuple[str, ...]
    mapping: dict[str, Any]
    where: str | None = None


@dataclass(frozen=True)
class Catalog:
    """A parsed, validated source catalog."""

    path: Path
    sources: dict[str, SourceSpec]
    layers: dict[str, LayerEntry]

    def layer(self, name: str) -> LayerEntry:
        """The entry of a canonical layer; :class:`CatalogError` (with the closest name) if none."""
        try:
            return self.layers[name]
        except KeyError:
            raise CatalogError(f"{self.path}: no layer '{name}' in the catalog"
                               f"{did_you_mean(name, self.layers)}") from None

    def sources_of(self, name: str) -> list[SourceSpec]:
        """The sources of a layer, in order (:class:`CatalogError` for an unknown layer)."""
        return [self.sources[s] for s in self.layer(name).sources]


def default_catalog_path() -> Path:
    """The catalog shipped with sitesel, or ``$SITESEL_CATALOG``."""
    env = os.environ.get("SITESEL_CATALOG")
    return Path(env) if env else builtin_data() / "catalog.toml"


def load_catalog(path: str | os.PathLike | None = None) -> Catalog:
    """Read and validate a source catalog.

    Parameters
    ----------
    path : path-like, optional
        The catalog TOML; default :func:`default_catalog_path`.

    Returns
    -------
    Catalog

    Raises
    ------
    CatalogError
        With one line naming the file, the entry and the problem.
    """
    path = Path(path) if path else default_catalog_path()
    doc = read_toml(path, "source catalog", CatalogError, schema="docs/data.md")
    unknown = set(doc) - {"version", "sources", "layers", "title"}
    if unknown:
        raise CatalogError(f"{path}: unknown top-level key(s) {sorted(unknown)}")
    sources = {sid: _source(path, sid, raw) for sid, raw in (doc.get("sources") or {}).items()}
    for s in sources.values():
        if s.join and s.join.source not in sources:
            raise CatalogError(f"{path}: source '{s.id}' joins unknown source '{s.join.source}'")
        if s.join and sources[s.join.source].format != "table":
            raise CatalogError(f"{path}: source '{s.id}' joins '{s.join.source}', which is not format = \"table\"")
    layers = {name: _layer(path, name, raw, sources) for name, raw in (doc.get("layers") or {}).items()}
    return Catalog(path=path.resolve(), sources=sources, layers=layers)


def _source(path: Path, sid: str, raw: dict[str, Any]) -> SourceSpec:
    where = f"{path}: source '{sid}'"
    bad = set(raw) - _SOURCE_KEYS
    if bad:
        raise CatalogError(f"{where}: unknown key(s) {sorted(bad)}")
    for key in ("url", "format"):
        if not raw.get(key):
            raise CatalogError(f"{where}: needs '{key}'")
    fmt = raw["format"]
    if fmt not in FORMATS:
        raise CatalogError(f"{where}: unknown format '{fmt}' (one of {', '.join(FORMATS)})")
    scheme = urlparse(raw["url"]).scheme
    if scheme not in ("http", "https", "file"):
        raise CatalogError(f"{where}: url must be http(s):// or file://, not {raw['url']!r}")
    sha = raw.get("sha256")
    if sha is not None and not _SHA256.match(str(sha).lower()):
        raise CatalogError(f"{where}: sha256 must be 64 hexadecimal digits")
    if sha and fmt in ("arcgis", "cog"):
        raise CatalogError(f"{where}: a checksum needs a fixed file; format '{fmt}' is read remotely")
    if fmt == "csv" and not (raw.get("x") and raw.get("y")):
        raise CatalogError(f"{where}: a csv source of points needs x and y (the coordinate columns)")
    if fmt in ("zip-gdb", "zip-raster") and not raw.get("member"):
        raise CatalogError(f"{where}: format '{fmt}' needs 'member' (the path inside the archive)")
    join = None
    if "join" in raw:
        j = raw["join"]
        if set(j) - _JOIN_KEYS or not {"source", "left_on", "right_on", "columns"} <= set(j):
            raise CatalogError(f"{where}: join needs source, left_on, right_on, columns (and optional filter)")
        right = j["right_on"]
        join = Join(source=j["source"], left_on=j["left_on"],
                    right_on=tuple([right] if isinstance(right, str) else right),
                    columns=tuple(j["columns"]), filter={k: str(v) for k, v in j.get("filter", {}).items()})
    return SourceSpec(
        id=sid, url=raw["url"], format=fmt, title=raw.get("title", ""), publisher=raw.get("publisher", ""),
        licence=raw.get("licence", ""), homepage=raw.get("homepage", ""), filename=raw.get("filename"),
        member=raw.get("member"), layer=raw.get("layer"), vintage=str(raw.get("vintage", "")),
        fields=tuple(raw.get("fields", ())), sha256=sha.lower() if sha else None,
        confirmed=bool(raw.get("confirmed", False)), note=" ".join(str(raw.get("note", "")).split()),
        x=raw.get("x"), y=raw.get("y"), crs=raw.get("crs"), encoding=raw.get("encoding"), join=join,
        read_res=float(raw["read_res"]) if "read_res" in raw else None, where=raw.get("where"),
        page_size=int(raw["page_size"]) if "page_size" in raw else None,
    )


def _layer(path: Path, name: str, raw: dict[str, Any], sources: dict[str, SourceSpec]) -> LayerEntry:
    where = f"{path}: layer '{name}'"
    if name not in CANONICAL_LAYERS:
        raise CatalogError(f"{where}: not a canonical layer (one of {', '.join(CANONICAL_LAYERS)})")
    bad = set(raw) - _LAYER_KEYS
    if bad:
        raise CatalogError(f"{where}: unknown key(s) {sorted(bad)}")
    ids = raw.get("sources") or []
    if not ids:
        raise CatalogError(f"{where}: needs sources = [...]")
    missing = [s for s in ids if s not in sources]
    if missing:
        raise CatalogError(f"{where}: unknown source(s) {missing}")
    geom, columns = CANONICAL_LAYERS[name]
    for sid in ids:
        src = sources[sid]
        if src.format == "table":
            raise CatalogError(f"{where}: source '{sid}' is a table without geometry; join it to a vector source")
        if src.is_raster != (geom == "raster"):
            raise CatalogError(f"{where}: source '{sid}' is {'a raster' if src.is_raster else 'vector data'}, "
                               f"the layer needs {'a raster' if geom == 'raster' else 'vector data'}")
    if geom == "raster" and len(ids) != 1:
        raise CatalogError(f"{where}: a raster layer has exactly one source")
    bad_fields = set(raw.get("fields", {})) - set(columns)
    if bad_fields:
        raise CatalogError(f"{where}: fields {sorted(bad_fields)} are not columns of this layer "
                           f"(expected {list(columns)})")
    mapping = {k: raw[k] for k in _MANIFEST_KEYS if k in raw}
    return LayerEntry(name=name, sources=tuple(ids), mapping=mapping, where=raw.get("where"))
