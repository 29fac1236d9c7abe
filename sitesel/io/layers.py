"""Read, validate and normalise the layers named in a manifest.

Every vector layer comes back as a GeoDataFrame in the analysis CRS with the canonical columns
of :data:`sitesel.io.manifest.CANONICAL_LAYERS`; sentinels are missing values, invalid geometries
are repaired, and features of the wrong geometry family are dropped (with a count). Files that
cannot be used at all (see :mod:`sitesel.io.files`), a missing required column, a column that holds
no numbers or only missing values, and a layer of the wrong geometry type raise a one-line
:class:`~sitesel.errors.LayerError` naming the layer, the file and the fix.
"""
from __future__ import annotations

import functools
import math
import re
import warnings
from dataclasses import dataclass
from difflib import get_close_matches

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError, ProjError
from rasterio.warp import Resampling, reproject

from sitesel.errors import EmptyLayerError, LayerError
from sitesel.io.manifest import CANONICAL_LAYERS, NUMERIC_COLUMNS, REQUIRED_COLUMNS, LayerSpec, Source
from sitesel.io.files import VectorInfo, check_coordinates, check_file, gdal_reason, vector_info

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


#: Layers that are only ever rasterised (as exclusion masks), never used in vector operations:
#: their invalid polygons are counted but not repaired (see :func:`_clean_geometry`).
MASK_ONLY_LAYERS = frozenset({"protected_areas"})


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


def _files(spec: LayerSpec) -> str:
    names = [str(s.path) for s in spec.sources]
    return names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more"


def _label(spec: LayerSpec) -> str:
    return f"layer '{spec.name}' ({_files(spec)})"


def column_mapping(spec: LayerSpec, info: VectorInfo) -> dict[str, str | None]:
    """Canonical column -> source column (None if the file has none), failing on required ones.

    Raises
    ------
    LayerError
        A mapped column is absent, or a required column (:data:`REQUIRED_COLUMNS`) has no source.
    """
    _, columns = CANONICAL_LAYERS[spec.name]
    available = list(info.fields)
    lower = {c.lower(): c for c in available}
    out: dict[str, str | None] = {}
    for canon in columns:
        col = spec.fields.get(canon, canon)
        if col in available:
            out[canon] = col
            continue
        if canon in spec.fields:
            raise LayerError(f"layer '{spec.name}' ({info.path}) has no column '{col}' (mapped to '{canon}' in the "
                             f"manifest){_close(col, available)}; fix fields = {{ {canon} = \"...\" }} "
                             f"(columns: {_some(available)})")
        if canon in REQUIRED_COLUMNS.get(spec.name, ()):
            guess = get_close_matches(canon.lower(), list(lower), n=1, cutoff=0.5)
            hint = f" (did you mean '{lower[guess[0]]}'?)" if guess else ""
            raise LayerError(f"layer '{spec.name}' ({info.path}) has no '{canon}' column{hint}; map one with "
                             f"fields = {{ {canon} = \"COLUMN\" }} in the manifest (columns: {_some(available)})")
        out[canon] = None
    return out


def _close(word: str, options: list[str]) -> str:
    hint = get_close_matches(word.lower(), [o.lower() for o in options], n=1, cutoff=0.5)
    if not hint:
        return ""
    orig = next(o for o in options if o.lower() == hint[0])
    return f" (did you mean '{orig}'?)"


def _some(cols: list[str], n: int = 12) -> str:
    return ", ".join(cols[:n]) + (", ..." if len(cols) > n else "") if cols else "none"


_FAMILY_OF = {t: fam for fam, types in _GEOM_FAMILY.items() for t in types}


def check_declared_type(spec: LayerSpec, info: VectorInfo, family: str) -> None:
    """Refuse a source whose declared geometry type belongs to another family than the layer's."""
    declared = _FAMILY_OF.get(info.geometry_type.replace(" Z", "").replace(" M", "").replace("3D ", ""))
    if declared is not None and declared != family:
        raise LayerError(f"layer '{spec.name}' ({info.path}) holds {info.geometry_type} features, but "
                         f"'{spec.name}' needs {family}s; point the manifest at a {family} layer")


def _bbox_in(info: VectorInfo, bbox_lonlat) -> tuple | None:
    if bbox_lonlat is None:
        return None
    try:
        with np.errstate(all="ignore"):
            b = Transformer.from_crs("EPSG:4326", info.crs, always_xy=True).transform_bounds(
                *bbox_lonlat, densify_pts=21, errcheck=False)
    except Exception:  # pyproj cannot express the box in this CRS: read everything, filter later
        return None
    return tuple(b) if all(math.isfinite(v) for v in b) and b[0] < b[2] and b[1] < b[3] else None


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
        df = _read_source(spec, src, info, read_cols, _bbox_in(info, bbox_lonlat))
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
    gdf = _normalise_attributes(gdf, spec, report)
    # Validity is checked after projecting: reprojection can itself make a ring self-touch.
    gdf = _clean_geometry(gdf, spec, family, report)
    report.features = len(gdf)
    return gdf


def read_features(spec: LayerSpec, info: VectorInfo, columns: list[str], bbox=None) -> gpd.GeoDataFrame:
    """Columns and geometry of one checked source (any supported format), within ``bbox``
    (in the source's CRS)."""
    return _read_source(spec, Source(info.path, info.layer), info, columns, bbox)


def _read_source(spec: LayerSpec, src: Source, info: VectorInfo, columns: list[str], bbox) -> gpd.GeoDataFrame:
    label = f"layer '{spec.name}' ({src.path})"
    if _is_geoparquet(src.path):
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
        _, _, geom_col = _parquet_info(src.path)
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


def _normalise_attributes(gdf: gpd.GeoDataFrame, spec: LayerSpec, report: LayerReport) -> gpd.GeoDataFrame:
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

    Raises
    ------
    LayerError
        The column holds dates, true/false or text rather than numbers, or (for a required
        column) every value is missing or a sentinel.
    """
    col = spec.fields.get(canon, canon)
    where = f"{_label(spec)}: column '{col}' (mapped to '{canon}')"
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


def _clean_geometry(gdf: gpd.GeoDataFrame, spec: LayerSpec, family: str, report: LayerReport) -> gpd.GeoDataFrame:
    geom = gdf.geometry
    empty = (geom.isna() | geom.is_empty).to_numpy()
    if len(gdf) and empty.all():
        raise LayerError(f"{_label(spec)}: all {len(gdf):,} features read have empty geometry; "
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
            # multipolygon one by one, which is what the repair would make of them (on PAD-US: the
            # same cell-centre masks, and 2 more all-touched cells of 628,658, at 500 m and 100 m)
            # at none of its cost (make_valid took 5 s on 127 PAD-US units).
            report.invalid_rasterised += int(invalid.sum())
        elif invalid.any():
            report.repaired += int(invalid.sum())
            if family == "polygon":
                # The "structure" method is ~10x faster than "linework" on large polygons, and keeps
                # the areas PAD-US-style rings mean (holes stay holes).
                fixed = gpd.GeoSeries(shapely.make_valid(gdf.geometry[invalid].to_numpy(), method="structure",
                                                         keep_collapsed=False), crs=gdf.crs)
                # make_valid can return collections with stray lines; keep the areal part.
                fixed = fixed.map(_polygonal_part)
            else:
                fixed = gdf.geometry[invalid].make_valid()
            gdf = gdf.copy()
            gdf.loc[invalid, "geometry"] = fixed.to_numpy()
    except shapely.errors.GEOSException as exc:
        raise LayerError(f"{_label(spec)}: a geometry cannot be repaired ({exc}); the file is corrupt: "
                         "re-export it") from None
    types = gdf.geometry.geom_type
    wrong = ~types.isin(_GEOM_FAMILY[family])
    if wrong.all() and len(gdf):
        raise LayerError(f"{_label(spec)} holds {types.iloc[0]} features, but '{spec.name}' needs {family}s; "
                         f"point the manifest at a {family} layer")
    report.dropped_wrong_type += int(wrong.sum())
    return gdf[~wrong].reset_index(drop=True)


def _polygonal_part(g):
    if g is None or g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    parts = [p for p in getattr(g, "geoms", []) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else g


def raster_info(spec: LayerSpec) -> dict:
    """CRS, resolution (in the file's units), bounds and nodata of a raster layer, checked.

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


def read_raster(spec: LayerSpec, dst_crs, dst_transform, shape: tuple[int, int],
                resampling: Resampling = Resampling.bilinear, use_nodata: bool = True) -> np.ndarray:
    """Warp a raster layer onto a target grid; nodata and cells outside the source become NaN.

    ``use_nodata=False`` keeps the source's nodata value as data (to look for unmarked holes).
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
