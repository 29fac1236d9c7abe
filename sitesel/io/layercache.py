"""A disk cache of normalised vector layers (GeoParquet), keyed by their sources and mapping.

Parsing a large GeoJSON, reprojecting it and repairing its geometries can take longer than all
the raster work of a run; the second process to need a layer reads the finished result instead.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import geopandas as gpd

from sitesel.io.cache import CACHE_VERSION, atomic_file, cache_root, digest, file_fingerprint, load_json, save_json
from sitesel.io.layers import LayerReport, read_vector
from sitesel.io.manifest import LayerSpec


def layer_key(spec: LayerSpec, crs, bbox) -> str:
    """Cache key of a layer read: its manifest entry, source files, CRS and box."""
    entry = {k: v for k, v in dataclasses.asdict(spec).items() if k != "sources"}
    sources = [(str(s.layer), file_fingerprint(s.path)) for s in spec.sources if s.path.exists()]
    return digest(sorted((k, repr(v)) for k, v in entry.items()), sources, str(crs), bbox, CACHE_VERSION)


def read_layer_cached(spec: LayerSpec, crs, bbox, report: LayerReport, use_cache: bool = True,
                      root: str | None = None) -> gpd.GeoDataFrame:
    """:func:`sitesel.io.layers.read_vector`, through the GeoParquet cache (in ``root``, default
    :func:`sitesel.io.cache.cache_root`) when ``use_cache``."""
    if not use_cache:
        return read_vector(spec, crs, bbox, report)
    try:
        key = layer_key(spec, crs, bbox)
    except OSError:
        return read_vector(spec, crs, bbox, report)
    folder = (Path(root) if root else cache_root()) / "layers"
    data, meta = folder / f"{spec.name}-{key}.parquet", folder / f"{spec.name}-{key}.json"
    saved = load_json(meta)
    if saved is not None and data.exists():
        try:
            gdf = _as_loaded(gpd.read_parquet(data))
            for k, v in saved.get("report", {}).items():
                setattr(report, k, v)
            return gdf
        except Exception:  # noqa: BLE001 - a damaged cache entry is rebuilt below
            pass
    gdf = read_vector(spec, crs, bbox, report)
    try:
        with atomic_file(data) as f:
            gdf.to_parquet(f)
        save_json(meta, {"report": vars(report)})
    except (OSError, ValueError, TypeError):
        pass  # unwritable cache, or a column parquet cannot hold: only costs time
    return gdf


def _as_loaded(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Give text columns back the form the loader makes (object dtype, None for missing)."""
    for col in gdf.columns:
        if col != gdf.geometry.name and not (gdf[col].dtype.kind in "fiub"):
            vals = gdf[col].astype(object)
            gdf[col] = vals.where(vals.notna(), None)
    return gdf
