"""Turn downloaded sources into fast-loading files: GeoParquet for vectors, a GeoTIFF window for rasters.

Geometry is never changed: features are kept whole (a region clip keeps every feature that
intersects the clip box, like an OGR spatial filter) and stay in the source CRS, so a rank on the
prepared files equals a rank on the originals. Rasters keep the source grid; only the window that
covers the clip box is read, which for a Cloud-Optimized GeoTIFF or a VRT of COGs over HTTP means
only the bytes of that window are transferred.
"""
from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
from pyproj import CRS, Transformer
from rasterio.enums import Resampling
from rasterio.windows import Window, from_bounds

from sitesel.acquire.catalog import SourceSpec
from sitesel.acquire.http import RetryPolicy
from sitesel.errors import FetchError
from sitesel.io.formats import blank_to_missing, csv_point_options

__all__ = ["CLIP_MARGIN_DEG", "Prepared", "clip_box", "dataset_path", "prepare_raster", "prepare_vector", "read_table"]

#: Degrees of safety added around the box the engine reads for a region (see datadir.Fetcher).
CLIP_MARGIN_DEG = 0.5


@dataclass
class Prepared:
    """One prepared file."""

    path: Path
    features: int | None = None  # vector features, or None for a raster
    shape: tuple[int, int] | None = None


def dataset_path(raw: Path, src: SourceSpec) -> str:
    """The GDAL path of a downloaded source (inside its zip archive where there is one).

    Parameters
    ----------
    raw : Path
        The download.
    src : SourceSpec
        Its catalog entry (``format``, ``member``).

    Returns
    -------
    str
        A path GDAL opens (``/vsizip/...`` for an archive).

    Raises
    ------
    FetchError
        The archive is not a zip, or holds several shapefiles and no ``member`` names one.
    """
    if src.format in ("zip-shapefile", "zip-gdb", "zip-raster"):
        member = src.member
        if member is None:
            try:
                with zipfile.ZipFile(raw) as z:
                    shps = [n for n in z.namelist() if n.lower().endswith(".shp")]
            except zipfile.BadZipFile:
                raise FetchError(f"{src.id}: {raw.name} is not a zip archive") from None
            if len(shps) != 1:
                raise FetchError(f"{src.id}: {raw.name} holds {len(shps)} shapefiles; name one with member = \"...\"")
            member = shps[0]
        return f"/vsizip/{raw}/{member}"
    return str(raw)


def clip_box(bounds_lonlat: tuple[float, float, float, float], margin: float) -> tuple[float, float, float, float]:
    """A region's lon/lat bounds grown by ``margin`` degrees (clamped to the globe).

    >>> clip_box((-110.0, 31.0, -103.0, 37.0), 0.5)
    (-110.5, 30.5, -102.5, 37.5)
    """
    w, s, e, n = bounds_lonlat
    return (max(w - margin, -180.0), max(s - margin, -90.0), min(e + margin, 180.0), min(n + margin, 90.0))


def prepare_vector(src: SourceSpec, raw: Path, out: Path, *, where: str | None = None,
                   clip: tuple[float, float, float, float] | None = None,
                   table: Path | None = None, table_src: SourceSpec | None = None) -> Prepared:
    """Read a downloaded vector source, filter and clip it, join a table, and write GeoParquet.

    Parameters
    ----------
    src : SourceSpec
        The catalog entry.
    raw : Path
        The downloaded file.
    out : Path
        The GeoParquet file to write.
    where : str, optional
        OGR SQL attribute filter (the catalog layer's ``where``).
    clip : tuple, optional
        Keep only features intersecting this lon/lat box.
    table, table_src : Path, SourceSpec, optional
        The downloaded table of ``src.join`` and its catalog entry.
    """
    path = dataset_path(raw, src)
    opts = csv_point_options(src.x, src.y)
    try:
        info = pyogrio.read_info(path, layer=src.layer, **opts)
    except Exception as exc:
        raise FetchError(f"{src.id}: cannot read {raw.name}: {exc}") from None
    missing = [f for f in src.fields if f not in set(info["fields"])]
    if missing:
        raise FetchError(f"{src.id}: {raw.name} lacks the expected field(s) {missing}; the publisher may have "
                         f"changed the schema (fields: {', '.join(info['fields'][:20])})")
    crs = info.get("crs") or src.crs or ("EPSG:4326" if src.x else None)
    bbox = None
    if clip is not None and crs:
        bbox = Transformer.from_crs("EPSG:4326", CRS.from_user_input(crs), always_xy=True).transform_bounds(
            *clip, densify_pts=21)
    try:
        # In file order (a GeoPackage's R-tree would return the clip box's order), as the loader reads.
        gdf = pyogrio.read_dataframe(path, layer=src.layer, where=where, bbox=bbox, fid_as_index=True, **opts)
        gdf = gdf.sort_index().reset_index(drop=True)
    except Exception as exc:
        raise FetchError(f"{src.id}: cannot read {raw.name} (where={where!r}): {exc}") from None
    if gdf.crs is None and crs:
        gdf = gdf.set_crs(crs)
    if src.x:
        gdf = blank_to_missing(gdf)
    if src.join is not None:
        gdf = _join(gdf, src, table, table_src)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    gdf.to_parquet(tmp, index=False, compression="zstd", write_covering_bbox=True)
    tmp.replace(out)
    return Prepared(out, features=len(gdf))


def read_table(raw: Path, src: SourceSpec) -> pd.DataFrame:
    """A table source (CSV without geometry), all columns as text so codes keep their zeros.

    Parameters
    ----------
    raw : Path
        The downloaded CSV.
    src : SourceSpec
        Its catalog entry (``encoding``, expected ``fields``).

    Returns
    -------
    DataFrame
        Text columns, None for empty cells.

    Raises
    ------
    FetchError
        The file is not CSV in its encoding, or lacks an expected column.
    """
    try:
        df = pd.read_csv(raw, dtype=str, encoding=src.encoding or "utf-8", keep_default_na=False)
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise FetchError(f"{src.id}: cannot read {raw.name} as CSV: {exc}") from None
    missing = [f for f in src.fields if f not in df.columns]
    if missing:
        raise FetchError(f"{src.id}: {raw.name} lacks the expected column(s) {missing}")
    return df.replace("", None)


def _join(gdf: gpd.GeoDataFrame, src: SourceSpec, table: Path | None, table_src: SourceSpec | None):
    j = src.join
    if table is None or table_src is None:
        raise FetchError(f"{src.id}: the joined table '{j.source}' was not downloaded")
    df = read_table(table, table_src)
    for col, val in j.filter.items():
        df = df[df[col] == val]
    lacking = [c for c in (*j.right_on, *j.columns) if c not in df.columns]
    if lacking or j.left_on not in gdf.columns:
        raise FetchError(f"{src.id}: cannot join '{j.source}': missing column(s) {lacking or [j.left_on]}")
    key = df[list(j.right_on)].astype(str).agg("".join, axis=1)
    right = df[list(j.columns)].set_index(key)
    right = right[~right.index.duplicated()]
    right = right.rename(columns={c: f"{c}_joined" for c in right.columns if c in gdf.columns})
    joined = gdf.join(right, on=j.left_on)  # a left join: every feature stays, in order
    return gpd.GeoDataFrame(joined, geometry="geometry", crs=gdf.crs)


def prepare_raster(location: str, out: Path, *, clip: tuple[float, float, float, float] | None = None,
                   read_res: float | None = None, band: int = 1, policy: RetryPolicy = RetryPolicy()) -> Prepared:
    """Copy the window of a raster that covers ``clip`` (all of it without one) to a tiled GeoTIFF.

    Parameters
    ----------
    location : str
        A local path, a GDAL ``/vsizip/`` path, or an http(s) URL of a (Cloud-Optimized) GeoTIFF or
        VRT, which GDAL reads with range requests: only the window's tiles are transferred.
    out : Path
        The GeoTIFF to write.
    clip : tuple, optional
        Lon/lat box to cover.
    read_res : float, optional
        Read at this cell size (source CRS units) instead of the native one, averaging (GDAL uses
        the COG's overviews). The grid stays aligned with the source grid.
    band : int
        The band to copy.
    """
    env = {"GDAL_HTTP_MAX_RETRY": str(policy.attempts - 1), "GDAL_HTTP_RETRY_DELAY": str(policy.backoff),
           "GDAL_HTTP_TIMEOUT": str(int(policy.timeout)), "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
           "CPL_VSIL_CURL_USE_HEAD": "YES"}
    try:
        with rasterio.Env(**env), rasterio.open(location) as ds:
            full = Window(0, 0, ds.width, ds.height)
            if clip is not None:
                if ds.crs is None:
                    raise FetchError(f"{location}: the raster has no CRS, so it cannot be clipped")
                b = Transformer.from_crs("EPSG:4326", ds.crs, always_xy=True).transform_bounds(*clip, densify_pts=21)
                w = from_bounds(*b, transform=ds.transform)
                c0, r0 = max(math.floor(w.col_off), 0), max(math.floor(w.row_off), 0)
                c1 = min(math.ceil(w.col_off + w.width), ds.width)
                r1 = min(math.ceil(w.row_off + w.height), ds.height)
                if c1 <= c0 or r1 <= r0:
                    raise FetchError(f"{location}: the raster does not cover the region {clip}")
                win = Window(c0, r0, c1 - c0, r1 - r0)
            else:
                win = full
            factor = max(1, round(read_res / abs(ds.res[0]))) if read_res else 1
            out_w, out_h = math.ceil(win.width / factor), math.ceil(win.height / factor)
            transform = ds.window_transform(win) @ rasterio.Affine.scale(factor)
            dtype = ds.dtypes[band - 1]
            profile = dict(driver="GTiff", dtype=dtype, count=1, crs=ds.crs, transform=transform, width=out_w,
                           height=out_h, nodata=ds.nodata, tiled=True, blockxsize=256, blockysize=256,
                           compress="deflate", predictor=3 if np.dtype(dtype).kind == "f" else 2, BIGTIFF="IF_SAFER")
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(out.name + ".tmp")
            rows_per_block = 1024
            with rasterio.open(tmp, "w", **profile) as dst:
                for r in range(0, out_h, rows_per_block):
                    n = min(rows_per_block, out_h - r)
                    src_r0 = win.row_off + r * factor
                    src_rows = min(n * factor, win.row_off + win.height - src_r0)
                    data = ds.read(band, window=Window(win.col_off, src_r0, win.width, src_rows),
                                   out_shape=(n, out_w), masked=False,
                                   resampling=Resampling.average if factor > 1 else Resampling.nearest)
                    dst.write(data, 1, window=Window(0, r, out_w, n))
            tmp.replace(out)
    except rasterio.errors.RasterioIOError as exc:
        raise FetchError(f"cannot read raster {location}: {exc}") from None
    return Prepared(out, shape=(out_h, out_w))
