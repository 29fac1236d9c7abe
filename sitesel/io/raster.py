"""Raster layers (elevation, irradiance): checked description, and warping onto the analysis grid.

A raster that cannot be used (missing, unreadable, corrupt, without georeferencing or CRS, with
coordinates contradicting its CRS, without the band the manifest asks for) raises a one-line
:class:`~sitesel.errors.LayerError` naming the layer, the file and the fix.
"""
from __future__ import annotations

import functools
import warnings

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS
from rasterio.warp import Resampling, reproject

from sitesel.errors import LayerError
from sitesel.io.coordinates import check_coordinates
from sitesel.io.files import check_file, gdal_reason
from sitesel.io.manifest import LayerSpec

__all__ = ["forget_raster_infos", "raster_info", "read_raster"]


def raster_info(spec: LayerSpec) -> dict:
    """CRS, resolution (in the file's units), bounds and nodata of a raster layer, checked.

    Memoised on the file's size and modification time.

    Parameters
    ----------
    spec : LayerSpec
        The manifest entry of a raster layer.

    Returns
    -------
    dict
        ``crs`` (CRS), ``res``, ``bounds``, ``nodata``, ``count``, ``dtype`` (of the band read)
        and ``lonlat_bounds`` (or None).

    Raises
    ------
    LayerError
        Missing, unreadable, corrupt or unsupported file; no such band; no CRS (and no ``crs``
        in the manifest); coordinates contradicting the CRS.
    """
    path = spec.sources[0].path
    check_file(path, spec.name, "raster")
    st = path.stat()
    return dict(_raster_info(str(path), (st.st_size, st.st_mtime_ns), spec.name, spec.crs, spec.band))


def forget_raster_infos() -> None:
    """Forget every raster description (files rewritten within one modification-time tick)."""
    _raster_info.cache_clear()


@functools.lru_cache(maxsize=32)
def _raster_info(path: str, stamp: tuple, name: str, fallback_crs: str | None, band: int) -> dict:
    label = f"raster '{name}' ({path})"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = rasterio.open(path)
    except Exception as exc:  # RasterioIOError, CPLE_* errors
        raise LayerError(f"{label}: cannot read the file: {gdal_reason(exc)}") from None
    with ds:
        if band > ds.count:
            raise LayerError(f"{label}: has {ds.count} band(s), but the manifest asks for band = {band}; fix band")
        if ds.transform == Affine.identity() and not ds.gcps[0]:
            raise LayerError(f"{label}: the raster is not georeferenced (no geotransform); "
                             "use a GeoTIFF with its georeferencing")
        crs = None
        if ds.crs is not None:
            try:
                crs = CRS.from_user_input(ds.crs.to_wkt())
            except Exception:
                crs = None
        if crs is None:
            if not fallback_crs:
                raise LayerError(f"{label}: the raster has no CRS; add crs = \"EPSG:...\" to its manifest entry "
                                 "if you know it")
            crs = CRS.from_user_input(fallback_crs)
        b = ds.bounds
        xs, ys = np.meshgrid(np.linspace(b.left, b.right, 9), np.linspace(b.bottom, b.top, 9))
        bounds = (min(b.left, b.right), min(b.bottom, b.top), max(b.left, b.right), max(b.bottom, b.top))
        lonlat = check_coordinates(crs, bounds, np.column_stack([xs.ravel(), ys.ravel()]), label)
        return {"crs": crs, "res": ds.res, "bounds": ds.bounds, "nodata": ds.nodata, "count": ds.count,
                "dtype": ds.dtypes[band - 1], "lonlat_bounds": lonlat}


def read_raster(spec: LayerSpec, dst_crs: CRS | str, dst_transform: Affine, shape: tuple[int, int],
                resampling: Resampling = Resampling.bilinear, use_nodata: bool = True) -> np.ndarray:
    """Warp a raster layer onto a target grid; nodata and cells outside the source become NaN.

    Parameters
    ----------
    spec : LayerSpec
        The manifest entry of a raster layer (its ``band``, ``nodata`` and ``scale`` apply).
    dst_crs : CRS or str
        The target grid's CRS.
    dst_transform : Affine
        The target grid's geotransform.
    shape : tuple of int
        The target grid's (rows, columns).
    resampling : Resampling
        How source cells are combined (default bilinear).
    use_nodata : bool
        False keeps the source's nodata value as data (to look for unmarked holes).

    Returns
    -------
    ndarray of float32, shape ``shape``

    Raises
    ------
    LayerError
        As :func:`raster_info`, or the file turns out corrupt while it is read.
    """
    path = spec.sources[0].path
    info = raster_info(spec)
    out = np.full(shape, np.nan, dtype=np.float32)
    try:
        with rasterio.open(path) as ds:
            src_nodata = (spec.nodata if spec.nodata is not None else ds.nodata) if use_nodata else None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                reproject(
                    source=rasterio.band(ds, spec.band),
                    destination=out,
                    src_crs=info["crs"].to_wkt(),
                    src_nodata=src_nodata,
                    dst_transform=dst_transform,
                    dst_crs=dst_crs,
                    dst_nodata=np.nan,
                    resampling=resampling,
                    num_threads=2,
                )
    except LayerError:
        raise
    except Exception as exc:  # corrupt tiles surface only when read
        raise LayerError(f"raster '{spec.name}' ({path}): cannot read the file: {gdal_reason(exc)}") from None
    if spec.scale != 1.0:
        out *= np.float32(spec.scale)
    return out
