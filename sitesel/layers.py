"""Read, validate and normalise the layers named in a manifest.

Every vector layer comes back as a GeoDataFrame in the analysis CRS with the canonical columns
of :data:`sitesel.manifest.CANONICAL_LAYERS`; sentinels are missing values, invalid geometries
are repaired, and features of the wrong geometry family are dropped (with a count).
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
import shapely
from pyproj import CRS, Transformer
from rasterio.warp import Resampling, reproject

from .errors import LayerError
from .manifest import CANONICAL_LAYERS, LayerSpec, Source

NUMERIC_COLUMNS = {"voltage_kv", "max_kv", "mw", "population", "bws_cat"}

_GEOM_FAMILY = {
    "point": {"Point", "MultiPoint"},
    "line": {"LineString", "MultiLineString"},
    "polygon": {"Polygon", "MultiPolygon"},
}

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
    """Map a PAD-US designation code or a unit name to sitesel's canonical designation."""
    if not isinstance(text, str) or not text.strip():
        return None
    for name, pattern in _DESIGNATIONS:
        if pattern.search(text.strip()):
            return name
    return "other"


@dataclass
class LayerReport:
    """What loading a layer found and fixed, for run.json."""

    features: int = 0
    repaired: int = 0
    dropped_empty: int = 0
    dropped_wrong_type: int = 0
    sentinels: int = 0


def _is_geoparquet(path) -> bool:
    """GeoParquet that this GDAL cannot read (most wheels lack the Parquet driver): use geopandas."""
    return str(path).lower().endswith((".parquet", ".geoparquet")) and "Parquet" not in pyogrio.list_drivers()


def csv_point_options(x: str | None, y: str | None) -> dict:
    """GDAL open options that make points of a CSV's x/y columns (none when x is not given)."""
    if x:
        return {"X_POSSIBLE_NAMES": x, "Y_POSSIBLE_NAMES": y, "KEEP_GEOM_COLUMNS": "NO"}
    return {}


def blank_to_missing(df: pd.DataFrame) -> pd.DataFrame:
    """CSV cells are text: an empty cell is a missing value, not an empty name."""
    for col in df.columns.drop("geometry", errors="ignore"):
        if pd.api.types.is_string_dtype(df[col]):
            df[col] = df[col].mask(df[col] == "", None)
    return df


def _open_options(spec: LayerSpec) -> dict:
    return csv_point_options(spec.x, spec.y)


def _parquet_info(path) -> tuple[object, set[str], str]:
    """CRS, attribute columns and geometry column of a GeoParquet file, from its metadata only."""
    import json

    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    meta = (schema.metadata or {}).get(b"geo")
    if not meta:
        raise LayerError(f"{path}: not a GeoParquet file (no 'geo' metadata)")
    geo = json.loads(meta)
    col = geo["primary_column"]
    # GeoParquet: an absent crs means OGC:CRS84 (lon/lat); an explicit null means unknown.
    crs = geo["columns"][col].get("crs", "OGC:CRS84")
    if isinstance(crs, dict):
        crs = CRS.from_json_dict(crs)
    covering = {c.get("covering", {}).get("bbox", {}).get("xmin", [None])[0] for c in geo["columns"].values()}
    fields = set(schema.names) - set(geo["columns"]) - {c for c in covering if c}
    return crs, fields, col


def _source_info(src: Source, spec: LayerSpec) -> tuple[CRS, set[str]]:
    try:
        if _is_geoparquet(src.path):
            crs, fields, _ = _parquet_info(src.path)
        else:
            info = pyogrio.read_info(src.path, layer=src.layer, **_open_options(spec))
            crs, fields = info.get("crs"), set(info["fields"])
    except LayerError:
        raise
    except Exception as exc:  # pyogrio raises DataSourceError, DataLayerError, ...
        raise LayerError(f"cannot read layer '{spec.name}' from {src.path}: {exc}") from None
    # A CSV of lon/lat points carries no CRS: the manifest's crs, else WGS84 lon/lat.
    crs = crs or spec.crs or ("EPSG:4326" if spec.x else None)
    if not crs:
        raise LayerError(
            f"{src.path}: layer '{spec.name}' has no CRS; add crs = \"EPSG:...\" to its manifest entry"
        )
    return CRS.from_user_input(crs), fields


def _read_frame(src: Source, spec: LayerSpec, columns: list[str], bbox) -> gpd.GeoDataFrame:
    """Read the given columns of one source, filtered by the manifest's where and a bbox (source CRS)."""
    if _is_geoparquet(src.path):
        if spec.where:
            raise LayerError(f"layer '{spec.name}': a 'where' filter cannot be applied to GeoParquet "
                             f"({src.path.name}) without GDAL's Parquet driver; filter the data when converting it")
        _, _, geom_col = _parquet_info(src.path)
        df = gpd.read_parquet(src.path, columns=columns + [geom_col])
        if bbox is not None:
            # Same rule as an OGR spatial filter: keep features whose geometry intersects the box.
            hits = np.sort(df.sindex.query(shapely.box(*bbox), predicate="intersects"))
            df = df.iloc[hits]
        return df.rename_geometry("geometry") if geom_col != "geometry" else df
    df = pyogrio.read_dataframe(src.path, layer=src.layer, columns=columns, where=spec.where, bbox=bbox,
                                fid_as_index=True, **_open_options(spec))
    # A spatial filter on a GeoPackage returns features in R-tree order, which depends on the box;
    # file order keeps results independent of the region (rasterising with "replace" is order-
    # sensitive where simplified polygons overlap).
    df = df.sort_index().reset_index(drop=True)
    return blank_to_missing(df) if spec.x else df


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
        Canonical columns plus ``geometry``; possibly empty.
    """
    report = report if report is not None else LayerReport()
    family, columns = CANONICAL_LAYERS[spec.name]
    frames = []
    for src in spec.sources:
        if not src.path.exists():
            raise LayerError(f"layer '{spec.name}': file not found: {src.path}")
        src_crs, available = _source_info(src, spec)
        bbox = None
        if bbox_lonlat is not None:
            bbox = Transformer.from_crs("EPSG:4326", src_crs, always_xy=True).transform_bounds(*bbox_lonlat, densify_pts=21)
        wanted = {canon: spec.fields.get(canon, canon) for canon in columns}
        try:
            for canon, col in spec.fields.items():
                if col not in available:
                    raise LayerError(
                        f"{src.path}: layer '{spec.name}' has no column '{col}' (mapped to '{canon}' in the manifest)"
                    )
            read_cols = sorted({c for c in wanted.values() if c in available})
            df = _read_frame(src, spec, read_cols, bbox)
        except LayerError:
            raise
        except Exception as exc:
            raise LayerError(f"cannot read layer '{spec.name}' from {src.path}: {exc}") from None
        if df.crs is None:
            df = df.set_crs(src_crs)
        out = gpd.GeoDataFrame(
            {canon: (df[col] if col in df.columns else pd.Series([None] * len(df), index=df.index, dtype=object))
             for canon, col in wanted.items()},
            geometry=df.geometry.values,
            crs=df.crs,
        )
        frames.append(out)
    gdf = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
    gdf = gpd.GeoDataFrame(gdf, geometry="geometry", crs=frames[0].crs)
    gdf = _normalise_attributes(gdf, spec, report)
    if len(gdf) and CRS.from_user_input(gdf.crs) != CRS.from_user_input(crs):
        gdf = gdf.to_crs(crs)
    # Validity is checked after projecting: reprojection can itself make a ring self-touch.
    gdf = _clean_geometry(gdf, spec, family, report)
    report.features = len(gdf)
    return gdf


def _normalise_attributes(gdf: gpd.GeoDataFrame, spec: LayerSpec, report: LayerReport) -> gpd.GeoDataFrame:
    for col in gdf.columns:
        if col == "geometry":
            continue
        if col in NUMERIC_COLUMNS:
            raw = gdf[col]
            vals = pd.to_numeric(raw, errors="coerce").astype("float64")
            if raw.notna().any() and vals.isna().all():
                raise LayerError(f"layer '{spec.name}': column for '{col}' holds no numbers")
            sentinels = spec.sentinels.get(col, ())
            if sentinels:
                hit = vals.isin(sentinels)
                report.sentinels += int(hit.sum())
                vals = vals.mask(hit)
            for key, new in spec.value_map.get(col, {}).items():
                vals = vals.mask(vals == float(key), float(new))
            gdf[col] = vals
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


def _clean_geometry(gdf: gpd.GeoDataFrame, spec: LayerSpec, family: str, report: LayerReport) -> gpd.GeoDataFrame:
    geom = gdf.geometry
    empty = (geom.isna() | geom.is_empty).to_numpy()
    report.dropped_empty += int(empty.sum())
    gdf = gdf[~empty]
    invalid = (~gdf.geometry.is_valid).to_numpy()
    if invalid.any():
        report.repaired += int(invalid.sum())
        if family == "polygon":
            # The "structure" method is ~10x faster than "linework" on large polygons, and keeps
            # the areas PAD-US-style rings mean (holes stay holes).
            fixed = gpd.GeoSeries(shapely.make_valid(gdf.geometry[invalid].to_numpy(), method="structure",
                                                     keep_collapsed=False), crs=gdf.crs)
        else:
            fixed = gdf.geometry[invalid].make_valid()
        if family == "polygon":
            # make_valid can return collections with stray lines; keep the areal part.
            fixed = fixed.map(_polygonal_part)
        gdf = gdf.copy()
        gdf.loc[invalid, "geometry"] = fixed.to_numpy()
    types = gdf.geometry.geom_type
    wrong = ~types.isin(_GEOM_FAMILY[family])
    if wrong.all() and len(gdf):
        raise LayerError(
            f"layer '{spec.name}' ({spec.sources[0].path.name}) holds {types.iloc[0]} features, expected {family}s"
        )
    report.dropped_wrong_type += int(wrong.sum())
    return gdf[~wrong].reset_index(drop=True)


def _polygonal_part(g):
    if g is None or g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    parts = [p for p in getattr(g, "geoms", []) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else g


def raster_info(spec: LayerSpec) -> dict:
    """CRS, resolution (in the file's units) and bounds of a raster layer."""
    path = spec.sources[0].path
    if not path.exists():
        raise LayerError(f"layer '{spec.name}': file not found: {path}")
    try:
        with rasterio.open(path) as ds:
            crs = ds.crs or (CRS.from_user_input(spec.crs) if spec.crs else None)
            if crs is None:
                raise LayerError(f"{path}: raster '{spec.name}' has no CRS; add crs = \"EPSG:...\" to the manifest")
            return {"crs": CRS.from_user_input(crs), "res": ds.res, "bounds": ds.bounds, "nodata": ds.nodata}
    except rasterio.errors.RasterioIOError as exc:
        raise LayerError(f"cannot open raster '{spec.name}' {path}: {exc}") from None


def read_raster(spec: LayerSpec, dst_crs, dst_transform, shape: tuple[int, int],
                resampling: Resampling = Resampling.bilinear) -> np.ndarray:
    """Warp a raster layer onto a target grid; nodata and cells outside the source become NaN."""
    path = spec.sources[0].path
    info = raster_info(spec)
    out = np.full(shape, np.nan, dtype=np.float32)
    with rasterio.open(path) as ds:
        src_nodata = spec.nodata if spec.nodata is not None else ds.nodata
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reproject(
                source=rasterio.band(ds, spec.band),
                destination=out,
                src_crs=info["crs"],
                src_nodata=src_nodata,
                dst_transform=dst_transform,
                dst_crs=dst_crs,
                dst_nodata=np.nan,
                resampling=resampling,
                num_threads=2,
            )
    if spec.scale != 1.0:
        out *= np.float32(spec.scale)
    return out
