"""A disk cache of normalised vector layers (GeoParquet), keyed by their sources and mapping.

Parsing a large GeoJSON, reprojecting it and repairing its geometries can take longer than all
the raster work of a run; the second process to need a layer reads the finished result instead.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import geopandas as gpd
from pyproj import CRS

from sitesel.io.cache import CACHE_VERSION, atomic_file, cache_root, digest, file_fingerprint, load_json, save_json
from sitesel.io.layers import LayerReport, read_vector
from sitesel.io.manifest import LayerSpec

__all__ = ["layer_key", "read_layer_cached"]


def layer_key(spec: LayerSpec, crs: CRS | str, bbox: tuple[float, float, float, float] | None) -> str:
    """Cache key of a layer read: its manifest entry, source files, CRS and box.

    Parameters
    ----------
    spec : LayerSpec
        The manifest entry.
    crs : CRS or str
        The CRS read into.
    bbox : tuple or None
        The lon/lat box read.

    Returns
    -------
    str

    Raises
    ------
    OSError
        A source file cannot be examined.
    """
    entry = {k: v for k, v in dataclasses.asdict(spec).items() if k != "sources"}
    sources = [(str(s.layer), file_fingerprint(s.path)) for s in spec.sources if s.path.exists()]
    return digest(sorted((k, repr(v)) for k, v in entry.items()), sources, str(crs), bbox, CACHE_VERSION)


def read_layer_cached(spec: LayerSpec, crs: CRS | str, bbox: tuple[float, float, float, float] | None,
                      report: LayerReport, use_cache: bool = True, root: str | None = None) -> gpd.GeoDataFrame:
    """:func:`sitesel.io.layers.read_vector`, through the GeoParquet cache when ``use_cache``.

    Parameters
    ----------
    spec, crs, bbox, report
        As for :func:`~sitesel.io.layers.read_vector`; ``report`` is filled from the cache on a hit.
    use_cache : bool
        Read and write the cache (else just read the layer).
    root : str, optional
        The cache folder (default :func:`sitesel.io.cache.cache_root`).

    Returns
    -------
    GeoDataFrame
        The same frame ``read_vector`` returns.
    """
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
        if col != gdf.geometry.name and gdf[col].dtype.kind not in "fiub":
            vals = gdf[col].astype(object)
            gdf[col] = vals.where(vals.notna(), None)
    return gdf
