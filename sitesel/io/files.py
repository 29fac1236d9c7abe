"""Opening the files a manifest names, with one clear error for every way they can be unusable.

A source file can be missing, unreadable, of a format sitesel does not read, corrupt or truncated,
without a CRS, or labelled with a CRS its coordinates contradict (degrees labelled as metres,
feet as metres: see :mod:`sitesel.io.coordinates`). Each case raises
:class:`~sitesel.errors.LayerError` naming the layer and the file
and saying what to do. A CRS in feet (international or US survey) is accepted: pyproj reads the
unit from the CRS and reprojection converts it.
"""
from __future__ import annotations

import math
import os
import struct
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyogrio
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from sitesel.errors import EmptyLayerError, LayerError, did_you_mean
from sitesel.io.coordinates import check_coordinates
from sitesel.io.formats import csv_point_options, is_geoparquet, parquet_info

__all__ = [
    "RASTER_FORMATS", "SAMPLE_FEATURES", "VECTOR_FORMATS", "VectorInfo", "bbox_in",
    "check_file", "forget_infos", "gdal_reason", "known_infos", "remember_infos", "vector_info",
]

#: Vector formats sitesel reads (by file suffix); a ``.gdb`` is a folder.
VECTOR_FORMATS = {
    ".gpkg": "GeoPackage", ".geojson": "GeoJSON", ".json": "GeoJSON", ".shp": "shapefile",
    ".zip": "zipped shapefile", ".gdb": "File Geodatabase", ".fgb": "FlatGeobuf",
    ".csv": "CSV of points (x/y columns)", ".parquet": "GeoParquet", ".geoparquet": "GeoParquet",
}
#: Raster formats sitesel reads.
RASTER_FORMATS = {".tif": "GeoTIFF", ".tiff": "GeoTIFF", ".vrt": "GDAL VRT", ".img": "ERDAS Imagine"}

#: Features sampled (spread over the file) for the area-of-use check.
SAMPLE_FEATURES = 400


@dataclass(frozen=True)
class VectorInfo:
    """What a vector source holds, checked: CRS, columns, geometry type, count and extent."""

    path: Path
    layer: str | None
    crs: CRS
    fields: tuple[str, ...]
    geometry_type: str
    features: int
    bounds: tuple[float, float, float, float]  # in ``crs``
    lonlat_bounds: tuple[float, float, float, float] | None


def _label(name: str, path: Path) -> str:
    return f"layer '{name}' ({path})"


def check_file(path: Path, name: str, kind: str = "vector") -> None:
    """Fail clearly if ``path`` is missing, unreadable, of an unsupported format, or visibly corrupt.

    Parameters
    ----------
    path : Path
        The file (or ``.gdb`` folder).
    name : str
        The canonical layer name, for messages.
    kind : {'vector', 'raster'}
    """
    path = Path(path)
    formats = VECTOR_FORMATS if kind == "vector" else RASTER_FORMATS
    if not path.exists():
        hint = did_you_mean(path.name, [p.name for p in path.parent.iterdir()]) if path.parent.is_dir() else ""
        raise LayerError(f"layer '{name}': file not found: {path}{hint}; fix its path in the layer manifest")
    suffix = path.suffix.lower()
    if suffix not in formats:
        names = sorted(set(formats.values()))
        raise LayerError(f"{_label(name, path)}: unsupported format '{suffix or path.name}' for a {kind} layer; "
                         f"convert it to {', '.join(names)} (e.g. with ogr2ogr or gdal_translate)")
    if path.is_dir():
        if suffix != ".gdb":
            raise LayerError(f"{_label(name, path)}: is a folder, not a file; point the manifest at the file inside it")
        if not os.access(path, os.R_OK | os.X_OK):
            raise LayerError(f"{_label(name, path)}: cannot read the folder (permission denied); make it readable")
        return
    try:
        with open(path, "rb") as f:
            head = f.read(100)
    except OSError as exc:
        raise LayerError(f"{_label(name, path)}: cannot read the file ({exc.strerror}); "
                         "check its permissions (e.g. chmod a+r) or copy it somewhere readable") from None
    if not head:
        raise LayerError(f"{_label(name, path)}: the file is empty (0 bytes); re-download or re-export it")
    if suffix == ".gpkg":
        _check_sqlite(path, name, head)
    elif suffix == ".zip":
        _check_zip(path, name)
    elif suffix == ".shp":
        missing = [ext for ext in (".shx", ".dbf") if not _sibling(path, ext)]
        if missing:
            raise LayerError(f"{_label(name, path)}: the shapefile lacks its {' and '.join(missing)} file(s); "
                             "copy all of its parts (.shp, .shx, .dbf, .prj) into the same folder")
    elif suffix in (".tif", ".tiff") and head[:4] not in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"):
        raise LayerError(f"{_label(name, path)}: not a TIFF file (it starts with {head[:12]!r}); "
                         "re-download it or point the manifest at the GeoTIFF")
    elif suffix in (".geojson", ".json") and head.lstrip()[:1] not in (b"{", b"["):
        raise LayerError(f"{_label(name, path)}: not GeoJSON (it starts with {head.lstrip()[:12]!r}); "
                         "re-download or re-export it as GeoJSON")


def _sibling(path: Path, ext: str) -> bool:
    return path.with_suffix(ext).exists() or path.with_suffix(ext.upper()).exists()


def _check_sqlite(path: Path, name: str, head: bytes) -> None:
    if not head.startswith(b"SQLite format 3\0"):
        raise LayerError(f"{_label(name, path)}: not a GeoPackage (no SQLite header); "
                         "re-download it or re-export it with ogr2ogr -f GPKG")
    if len(head) < 100:
        raise LayerError(f"{_label(name, path)}: the GeoPackage is truncated ({len(head)} bytes); "
                         "re-download or re-export it")
    # The header records the page size and, when valid, the page count: a shorter file was cut off.
    page_size = struct.unpack(">H", head[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    change, pages, valid_for = struct.unpack(">I", head[24:28])[0], struct.unpack(">I", head[28:32])[0], \
        struct.unpack(">I", head[92:96])[0]
    size = path.stat().st_size
    if pages and change == valid_for and size < pages * page_size:
        raise LayerError(f"{_label(name, path)}: the GeoPackage is truncated ({size:,} of {pages * page_size:,} "
                         "bytes); re-download or re-export it")


def _check_zip(path: Path, name: str) -> None:
    try:
        with zipfile.ZipFile(path) as z:
            members = [m for m in z.namelist() if not m.endswith("/")]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise LayerError(f"{_label(name, path)}: not a readable zip archive ({exc}); re-download it") from None
    shps = [m for m in members if m.lower().endswith(".shp")]
    if not shps:
        listed = ", ".join(Path(m).name for m in members[:6]) or "nothing"
        raise LayerError(f"{_label(name, path)}: the zip holds no shapefile (.shp), only {listed}; "
                         "add the .shp to the archive or point the manifest at the unzipped layer")


def _vector_info(path: str, layer: str | None, stamp: tuple, name: str, fallback_crs: str | None,
                 x: str | None = None, y: str | None = None) -> VectorInfo:
    p = Path(path)
    if is_geoparquet(p):
        return _parquet_vector_info(p, name, fallback_crs)
    opts = csv_point_options(x, y)
    try:
        # Formats of one layer need no listing (a GeoJSON is parsed whole at every open).
        single = p.suffix.lower() in (".geojson", ".json", ".csv", ".shp", ".fgb") and layer is None
        layers = ["<single>"] if single else [str(lyr) for lyr, _ in pyogrio.list_layers(p)]
    except Exception as exc:  # pyogrio raises DataSourceError and GDAL errors of several kinds
        raise LayerError(f"{_label(name, p)}: cannot read the file: {gdal_reason(exc)}") from None
    if not layers:
        raise LayerError(f"{_label(name, p)}: the file holds no layers; re-export it")
    if layer is not None and layer not in layers:
        raise LayerError(f"{_label(name, p)}: the file has no layer '{layer}'{did_you_mean(layer, layers)}; "
                         f"its layers are {', '.join(layers[:8])}: fix layer = ... in the manifest")
    if layer is None and len(layers) > 1 and not single:
        raise LayerError(f"{_label(name, p)}: the file holds several layers ({', '.join(layers[:8])}); "
                         f"say which with layer = \"{layers[0]}\" in the manifest")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            info = pyogrio.read_info(p, layer=layer, **opts)
    except Exception as exc:
        raise LayerError(f"{_label(name, p)}: cannot read the file: {gdal_reason(exc)}") from None
    gtype = info.get("geometry_type")
    if gtype is None:
        raise LayerError(f"{_label(name, p)}: the layer is a table without geometry; "
                         "point the manifest at a layer of points, lines or polygons")
    if not info.get("features"):
        raise EmptyLayerError(f"{_label(name, p)}: the layer is empty (0 features); "
                         "point the manifest at a layer that holds features")
    crs = _file_crs(info.get("crs"), fallback_crs, name, p)
    sample, bounds = _sample_points(p, layer, int(info["features"]), name, opts)
    if bounds is None:
        bounds = info.get("total_bounds")
        if bounds is None:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    bounds = pyogrio.read_info(p, layer=layer, force_total_bounds=True, **opts).get("total_bounds")
            except Exception as exc:
                raise LayerError(f"{_label(name, p)}: cannot read the file: {gdal_reason(exc)}") from None
    if bounds is None or not np.all(np.isfinite(bounds)) or not len(sample):
        raise LayerError(f"{_label(name, p)}: all {info['features']:,} features have empty geometry; "
                         "re-export the layer with its geometry")
    bounds = tuple(float(b) for b in bounds)
    lonlat = check_coordinates(crs, bounds, sample, _label(name, p))
    return VectorInfo(path=p, layer=layer, crs=crs, fields=tuple(str(f) for f in info["fields"]),
                      geometry_type=str(gtype), features=int(info["features"]), bounds=bounds, lonlat_bounds=lonlat)


def vector_info(path: Path, layer: str | None, name: str, fallback_crs: str | None = None,
                x: str | None = None, y: str | None = None) -> VectorInfo:
    """Check one vector source and describe it (memoised on the file's size and mtime).

    Parameters
    ----------
    path, layer : the source (``layer`` None when the file holds one layer)
    name : str
        The canonical layer name, for messages.
    fallback_crs : str, optional
        The manifest's ``crs``, used only when the file carries no CRS.
    x, y : str, optional
        Coordinate columns of a CSV of points (its CRS defaults to WGS84 lon/lat).
    """
    check_file(Path(path), name, "vector")
    if str(path).lower().endswith((".csv", ".txt")) and not x:
        raise LayerError(f"{_label(name, Path(path))}: a CSV needs its coordinate columns: add x = \"...\" and "
                         "y = \"...\" to the layer's manifest entry")
    st = Path(path).stat()
    fallback = fallback_crs or ("EPSG:4326" if x else None)
    key = (str(path), layer, (st.st_size, st.st_mtime_ns), name, fallback, x, y)
    if key not in _KNOWN:
        if len(_KNOWN) > 512:
            _KNOWN.clear()
        _KNOWN[key] = _vector_info(*key)
    return _KNOWN[key]


#: Descriptions of sources (by path, layer, size and modification time, name, CRS, x/y) made in
#: this process or handed over by another (see :func:`known_infos`).
_KNOWN: dict[tuple, VectorInfo] = {}


def forget_infos() -> None:
    """Forget every description (files rewritten within one modification-time tick)."""
    _KNOWN.clear()


def known_infos(paths: Iterable[str | os.PathLike]) -> dict[tuple, VectorInfo]:
    """The descriptions this process has made of these files, to hand to another process.

    Parameters
    ----------
    paths : iterable of path-like
        Source files.

    Returns
    -------
    dict
        For :func:`remember_infos` in the other process.
    """
    wanted = {str(p) for p in paths}
    return {k: v for k, v in _KNOWN.items() if k[0] in wanted}


def remember_infos(infos: dict[tuple, VectorInfo]) -> None:
    """Take descriptions made by another process (keyed by file size and modification time, so
    a file changed since is described again).

    Parameters
    ----------
    infos : dict
        As returned by :func:`known_infos`.
    """
    if len(_KNOWN) > 512:
        _KNOWN.clear()
    _KNOWN.update(infos)


def bbox_in(info: VectorInfo, bbox_lonlat: tuple[float, float, float, float] | None) -> tuple | None:
    """A lon/lat box expressed in a source's CRS, to read only the features that meet it.

    Parameters
    ----------
    info : VectorInfo
        The source.
    bbox_lonlat : tuple or None
        ``(west, south, east, north)`` in degrees.

    Returns
    -------
    tuple or None
        ``(xmin, ymin, xmax, ymax)`` in ``info.crs``; None (read everything) when no box is given
        or it cannot be expressed in that CRS.
    """
    if bbox_lonlat is None:
        return None
    try:
        with np.errstate(all="ignore"):
            b = Transformer.from_crs("EPSG:4326", info.crs, always_xy=True).transform_bounds(
                *bbox_lonlat, densify_pts=21, errcheck=False)
    except Exception:  # pyproj cannot express the box in this CRS: read everything, filter later
        return None
    return tuple(b) if all(math.isfinite(v) for v in b) and b[0] < b[2] and b[1] < b[3] else None


def _parquet_vector_info(p: Path, name: str, fallback_crs: str | None) -> VectorInfo:
    """:class:`VectorInfo` of a GeoParquet file from its metadata and geometry column."""
    import geopandas as gpd  # only GeoParquet sources need it here

    crs_text, fields, geom_col = parquet_info(p)
    try:
        geoms = gpd.read_parquet(p, columns=[geom_col]).geometry
    except Exception as exc:  # pyarrow errors of several kinds
        raise LayerError(f"{_label(name, p)}: cannot read the file: {exc}") from None
    if not len(geoms):
        raise EmptyLayerError(f"{_label(name, p)}: the layer is empty (0 features); "
                         "point the manifest at a layer that holds features")
    crs = _file_crs(crs_text.to_wkt() if isinstance(crs_text, CRS) else crs_text, fallback_crs, name, p)
    b = geoms.bounds.to_numpy()
    ok = np.all(np.isfinite(b), axis=1)
    if not ok.any():
        raise LayerError(f"{_label(name, p)}: all {len(geoms):,} features have empty geometry; "
                         "re-export the layer with its geometry")
    b = b[ok]
    sample = np.column_stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2])
    if len(sample) > SAMPLE_FEATURES:
        sample = sample[np.linspace(0, len(sample) - 1, SAMPLE_FEATURES).astype(int)]
    bounds = (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max()))
    lonlat = check_coordinates(crs, bounds, sample, _label(name, p))
    gtypes = set(geoms.geom_type.dropna())
    gtype = gtypes.pop() if len(gtypes) == 1 else "Unknown"
    return VectorInfo(path=p, layer=None, crs=crs, fields=tuple(sorted(fields)), geometry_type=gtype,
                      features=len(geoms), bounds=bounds, lonlat_bounds=lonlat)


def _file_crs(text, fallback: str | None, name: str, path: Path) -> CRS:
    if text:
        try:
            return CRS.from_user_input(text)
        except CRSError:
            if not fallback:
                raise LayerError(f"{_label(name, path)}: the file's CRS cannot be interpreted; fix its .prj or "
                                 "add crs = \"EPSG:...\" to the layer's manifest entry") from None
    if not fallback:
        raise LayerError(f"{_label(name, path)}: the layer has no CRS (e.g. a shapefile without .prj); "
                         "add crs = \"EPSG:...\" to its manifest entry if you know it")
    return CRS.from_user_input(fallback)


def _sample_points(path: Path, layer: str | None, n: int, name: str,
                   opts: dict | None = None) -> tuple[np.ndarray, tuple | None]:
    """Centres of up to :data:`SAMPLE_FEATURES` feature boxes spread over the file, and the
    layer's extent when the whole file was read.

    Formats without random access (GeoJSON), and small layers, are read whole in one pass;
    others in eight stretches spread over the file.
    """
    whole = n <= 4 * SAMPLE_FEATURES or path.suffix.lower() in (".geojson", ".json", ".csv")
    chunks = [(0, None)] if whole else [((n * k) // 8, SAMPLE_FEATURES // 8) for k in range(8)]
    pts, boxes = [], []
    for skip, count in chunks:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if opts:  # read_bounds takes no open options: a CSV's points come from its x/y columns
                    df = pyogrio.read_dataframe(path, layer=layer, columns=[], skip_features=skip,
                                                max_features=count, **opts)
                    b = df.geometry.bounds.to_numpy().T if len(df) else np.empty((4, 0))
                else:
                    _, b = pyogrio.read_bounds(path, layer=layer, skip_features=skip, max_features=count)
        except Exception as exc:
            raise LayerError(f"{_label(name, path)}: cannot read the file: {gdal_reason(exc)}") from None
        if b.size:
            pts.append(np.column_stack([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2]))
            boxes.append(b)
    out = np.concatenate(pts) if pts else np.empty((0, 2))
    out = out[np.all(np.isfinite(out), axis=1)]
    if len(out) > SAMPLE_FEATURES:
        out = out[np.linspace(0, len(out) - 1, SAMPLE_FEATURES).astype(int)]
    extent = None
    if whole and boxes:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            b = boxes[0]
            extent = (np.nanmin(b[0]), np.nanmin(b[1]), np.nanmax(b[2]), np.nanmax(b[3]))
    return out, extent


def gdal_reason(exc: Exception) -> str:
    """A GDAL/pyogrio/rasterio error as a short phrase with what to do.

    Parameters
    ----------
    exc : Exception
        What GDAL (through pyogrio or rasterio) raised.

    Returns
    -------
    str
        The likely cause, GDAL's words (shortened) and the fix.

    Examples
    --------
    >>> gdal_reason(OSError("Permission denied"))
    'permission denied; make the file readable (e.g. chmod a+r)'
    """
    text = " ".join(str(exc).split())
    low = text.lower()
    if "malformed" in low or "file is not a database" in low or "truncat" in low or "corrupt" in low \
            or "unterminated" in low or "failed to read geojson" in low or "short read" in low \
            or "unexpected end" in low or "invalid featurecollection" in low or "tiffreaddirectory" in low:
        why = "the file is corrupt or truncated"
    elif "not recognized as being in a supported file format" in low or "not recognised" in low:
        why = "GDAL does not recognise the file's format (wrong extension, or a damaged file)"
    elif "permission denied" in low:
        return "permission denied; make the file readable (e.g. chmod a+r)"
    elif "no such file" in low:
        return "file not found; fix its path in the layer manifest"
    else:
        why = "GDAL cannot read it"
    if "failed: " in text:  # GDAL's SQLite errors: the statement, then the reason
        text = text.split("failed: ")[-1].split(";")[0]
    detail = text if len(text) <= 120 else text[:117] + "..."
    return f"{why} ({detail}); re-download or re-export it"
