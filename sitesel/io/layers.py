"""Reading the vector layers named in a manifest.

Every vector layer comes back as a GeoDataFrame in the analysis CRS with the canonical columns
of :data:`sitesel.io.manifest.CANONICAL_LAYERS`; sentinels are missing values, invalid geometries
are repaired, and features of the wrong geometry family are dropped (with a count). Files that
cannot be used at all (see :mod:`sitesel.io.files`), attributes that cannot be (see
:mod:`sitesel.io.attributes`), and a layer of the wrong geometry type raise a one-line
:class:`~sitesel.errors.LayerError` naming the layer, the file and the fix. Rasters are read by
:mod:`sitesel.io.raster`.
"""
from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError, ProjError

from sitesel.errors import EmptyLayerError, LayerError
from sitesel.io.attributes import LayerReport, column_mapping, layer_label, normalise_attributes
from sitesel.io.files import VectorInfo, bbox_in, gdal_reason, vector_info
from sitesel.io.formats import blank_to_missing, csv_point_options, is_geoparquet, parquet_info
from sitesel.io.manifest import CANONICAL_LAYERS, LayerSpec, Source

__all__ = ["MASK_ONLY_LAYERS", "LayerReport", "check_declared_type", "read_features", "read_vector"]

_GEOM_FAMILY = {
    "point": {"Point", "MultiPoint"},
    "line": {"LineString", "MultiLineString"},
    "polygon": {"Polygon", "MultiPolygon"},
}

#: Layers that are only ever rasterised (as exclusion masks), never used in vector operations:
#: their invalid polygons are counted but not repaired (see :func:`_clean_geometry`).
MASK_ONLY_LAYERS = frozenset({"protected_areas"})


def _open_options(spec: LayerSpec) -> dict:
    return csv_point_options(spec.x, spec.y)


_FAMILY_OF = {t: fam for fam, types in _GEOM_FAMILY.items() for t in types}


def check_declared_type(spec: LayerSpec, info: VectorInfo, family: str) -> None:
    """Refuse a source whose declared geometry type belongs to another family than the layer's.

    Parameters
    ----------
    spec : LayerSpec
        The manifest entry.
    info : VectorInfo
        The checked source.
    family : {'point', 'line', 'polygon'}
        The layer's geometry family (:data:`~sitesel.io.manifest.CANONICAL_LAYERS`).

    Raises
    ------
    LayerError
        The source declares points, lines or polygons where the layer needs another family.
    """
    declared = _FAMILY_OF.get(info.geometry_type.replace(" Z", "").replace(" M", "").replace("3D ", ""))
    if declared is not None and declared != family:
        raise LayerError(f"layer '{spec.name}' ({info.path}) holds {info.geometry_type} features, but "
                         f"'{spec.name}' needs {family}s; point the manifest at a {family} layer")


def read_vector(
    spec: LayerSpec,
    crs: CRS | str,
    bbox_lonlat: tuple[float, float, float, float] | None = None,
    report: LayerReport | None = None,
) -> gpd.GeoDataFrame:
    """Read one vector layer, normalised, in ``crs``.

    Parameters
    ----------
    spec : LayerSpec
        The manifest entry.
    crs : CRS or str
        Target CRS (the analysis grid's).
    bbox_lonlat : tuple, optional
        Only read features intersecting this lon/lat box (faster on national files).
    report : LayerReport, optional
        Filled with counts of repaired and dropped features.

    Returns
    -------
    GeoDataFrame
        Canonical columns plus ``geometry``; possibly empty (no features in the box).

    Raises
    ------
    LayerError
        The file is missing, unreadable, corrupt or of an unsupported format; it has no CRS or
        its coordinates contradict it; it is empty or of the wrong geometry type; a required
        column is missing, not numeric, or holds only missing values and sentinels.
    """
    report = report if report is not None else LayerReport()
    family, columns = CANONICAL_LAYERS[spec.name]
    if family == "raster":
        raise LayerError(f"layer '{spec.name}' is a raster; it cannot be read as vector features")
    frames = []
    empty: EmptyLayerError | None = None
    for src in spec.sources:
        try:
            info = vector_info(src.path, src.layer, spec.name, spec.crs, x=spec.x, y=spec.y)
        except EmptyLayerError as exc:
            if len(spec.sources) == 1:
                raise
            empty = exc  # one of several files may hold nothing (e.g. clipped to a region)
            continue
        check_declared_type(spec, info, family)
        wanted = column_mapping(spec, info)
        read_cols = sorted({c for c in wanted.values() if c is not None})
        df = _read_source(spec, src, info, read_cols, bbox_in(info, bbox_lonlat))
        out = gpd.GeoDataFrame(
            {canon: (df[col] if col is not None else pd.Series([None] * len(df), index=df.index, dtype=object))
             for canon, col in wanted.items()},
            geometry=gpd.GeoSeries(df.geometry.values, index=df.index).set_crs(info.crs, allow_override=True),
        )
        if len(out):
            try:
                out = out.to_crs(crs)
            except (CRSError, ProjError) as exc:
                raise LayerError(f"layer '{spec.name}' ({src.path}): cannot reproject from its CRS "
                                 f"({' '.join(str(exc).split())[:100]}); fix the file's CRS (.prj) or set "
                                 "crs = \"EPSG:...\" in the layer's manifest entry") from None
        else:
            out = out.set_crs(crs, allow_override=True)
        frames.append(out)
    if not frames:
        raise empty
    gdf = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
    gdf = gpd.GeoDataFrame(gdf, geometry="geometry", crs=crs)
    gdf = normalise_attributes(gdf, spec, report)
    # Validity is checked after projecting: reprojection can itself make a ring self-touch.
    gdf = _clean_geometry(gdf, spec, family, report)
    report.features = len(gdf)
    return gdf


def read_features(spec: LayerSpec, info: VectorInfo, columns: list[str],
                  bbox: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame:
    """Columns and geometry of one checked source (any supported format), as stored.

    Parameters
    ----------
    spec : LayerSpec
        The manifest entry (its ``where`` filter applies).
    info : VectorInfo
        The checked source (:func:`~sitesel.io.files.vector_info`).
    columns : list of str
        Source columns to read.
    bbox : tuple, optional
        Only features meeting this box, in the source's CRS (see :func:`~sitesel.io.files.bbox_in`).

    Returns
    -------
    GeoDataFrame
        In file order, in the source's CRS, not normalised.

    Raises
    ------
    LayerError
        The file cannot be read, or the ``where`` filter is invalid or matches nothing.
    """
    return _read_source(spec, Source(info.path, info.layer), info, columns, bbox)


def _read_source(spec: LayerSpec, src: Source, info: VectorInfo, columns: list[str], bbox) -> gpd.GeoDataFrame:
    label = f"layer '{spec.name}' ({src.path})"
    if is_geoparquet(src.path):
        return _read_geoparquet(spec, src, columns, bbox)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            df = pyogrio.read_dataframe(src.path, layer=src.layer, columns=columns, where=spec.where, bbox=bbox,
                                        fid_as_index=True, **_open_options(spec))
        # A spatial filter on a GeoPackage returns features in R-tree order, which depends on the
        # box; file order keeps results independent of the region.
        df = df.sort_index().reset_index(drop=True)
        if spec.x:
            df = blank_to_missing(df)
    except Exception as exc:
        text = str(exc).lower()
        if spec.where and ("sql" in text or "where" in text or "filter" in text or "no such column" in text):
            raise LayerError(f"{label}: the filter where = {spec.where!r} is not valid for this file "
                             f"({' '.join(str(exc).split())[:120]}); fix it in the manifest") from None
        raise LayerError(f"{label}: cannot read the file: {gdal_reason(exc)}") from None
    if spec.where and not len(df):
        try:
            _, b = pyogrio.read_bounds(src.path, layer=src.layer, where=spec.where, max_features=1)
        except Exception:
            b = np.empty((4, 1))
        if not b.shape[1]:
            raise LayerError(f"{label}: the filter where = {spec.where!r} matches no feature of the file; "
                             "fix it in the manifest")
    return df


def _read_geoparquet(spec: LayerSpec, src: Source, columns: list[str], bbox) -> gpd.GeoDataFrame:
    """GeoParquet through geopandas, for GDAL builds without the Parquet driver."""
    if spec.where:
        raise LayerError(f"layer '{spec.name}': a 'where' filter cannot be applied to GeoParquet "
                         f"({src.path.name}) without GDAL's Parquet driver; filter the data when converting it")
    try:
        _, _, geom_col = parquet_info(src.path)
        df = gpd.read_parquet(src.path, columns=columns + [geom_col])
    except LayerError:
        raise
    except Exception as exc:
        raise LayerError(f"layer '{spec.name}' ({src.path}): cannot read the file: {exc}") from None
    if bbox is not None:
        # Same rule as an OGR spatial filter: keep features whose geometry intersects the box.
        hits = np.sort(df.sindex.query(shapely.box(*bbox), predicate="intersects"))
        df = df.iloc[hits]
    df = df.rename_geometry("geometry") if geom_col != "geometry" else df
    return df.reset_index(drop=True)


def _clean_geometry(gdf: gpd.GeoDataFrame, spec: LayerSpec, family: str, report: LayerReport) -> gpd.GeoDataFrame:
    geom = gdf.geometry
    empty = (geom.isna() | geom.is_empty).to_numpy()
    if len(gdf) and empty.all():
        raise LayerError(f"{layer_label(spec)}: all {len(gdf):,} features read have empty geometry; "
                         "re-export the layer with its geometry")
    report.dropped_empty += int(empty.sum())
    gdf = gdf[~empty]
    # Features beyond the reach of the target projection come back with infinite coordinates.
    finite = np.isfinite(shapely.bounds(gdf.geometry.values)).all(axis=1)
    report.dropped_unprojectable += int((~finite).sum())
    gdf = gdf[finite]
    try:
        invalid = (~gdf.geometry.is_valid).to_numpy()
        if invalid.any() and spec.name in MASK_ONLY_LAYERS:
            # Only ever rasterised: GDAL fills rings by the even-odd rule and burns the parts of a
            # multipolygon one by one, which is what the costly repair would make of them.
            report.invalid_rasterised += int(invalid.sum())
        elif invalid.any():
            report.repaired += int(invalid.sum())
            if family == "polygon":
                # The "structure" method keeps the areas PAD-US-style rings mean (holes stay holes)
                # and is much faster than "linework" on large polygons.
                fixed = gpd.GeoSeries(shapely.make_valid(gdf.geometry[invalid].to_numpy(), method="structure",
                                                         keep_collapsed=False), crs=gdf.crs)
                # make_valid can return collections with stray lines; keep the areal part.
                fixed = fixed.map(_polygonal_part)
            else:
                fixed = gdf.geometry[invalid].make_valid()
            gdf = gdf.copy()
            gdf.loc[invalid, "geometry"] = fixed.to_numpy()
    except shapely.errors.GEOSException as exc:
        raise LayerError(f"{layer_label(spec)}: a geometry cannot be repaired ({exc}); the file is corrupt: "
                         "re-export it") from None
    types = gdf.geometry.geom_type
    wrong = ~types.isin(_GEOM_FAMILY[family])
    if wrong.all() and len(gdf):
        raise LayerError(f"{layer_label(spec)} holds {types.iloc[0]} features, but '{spec.name}' needs {family}s; "
                         f"point the manifest at a {family} layer")
    report.dropped_wrong_type += int(wrong.sum())
    return gdf[~wrong].reset_index(drop=True)


def _polygonal_part(g):
    if g is None or g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    parts = [p for p in getattr(g, "geoms", []) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else g
