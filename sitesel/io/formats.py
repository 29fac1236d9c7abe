"""What two source formats need beyond GDAL: GeoParquet without GDAL's driver, and CSVs of points.

Most GDAL wheels lack the Parquet driver, so GeoParquet is read through geopandas and described
from its ``geo`` metadata; a CSV's points are made by GDAL from two coordinate columns.
"""
from __future__ import annotations

import json
import os

import pandas as pd
import pyogrio
from pyproj import CRS

from sitesel.errors import LayerError

__all__ = ["blank_to_missing", "csv_point_options", "is_geoparquet", "parquet_info"]


def is_geoparquet(path: str | os.PathLike) -> bool:
    """Whether ``path`` is GeoParquet that this GDAL cannot read (so geopandas must).

    Parameters
    ----------
    path : path-like
        A source file.

    Returns
    -------
    bool
        True for a ``.parquet`` / ``.geoparquet`` file when GDAL has no Parquet driver.
    """
    return str(path).lower().endswith((".parquet", ".geoparquet")) and "Parquet" not in pyogrio.list_drivers()


def parquet_info(path: str | os.PathLike) -> tuple[CRS | str | None, set[str], str]:
    """CRS, attribute columns and geometry column of a GeoParquet file, from its metadata only.

    Parameters
    ----------
    path : path-like
        A GeoParquet file.

    Returns
    -------
    crs : CRS, str or None
        The primary geometry column's CRS (``"OGC:CRS84"`` when the metadata leave it out,
        None when they say it is unknown).
    fields : set of str
        The attribute columns (neither geometry nor bounding-box covering columns).
    geometry : str
        The primary geometry column.

    Raises
    ------
    LayerError
        The file has no ``geo`` metadata.
    """
    import pyarrow.parquet as pq  # only GeoParquet sources need pyarrow

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


def csv_point_options(x: str | None, y: str | None) -> dict[str, str]:
    """GDAL open options that make points of a CSV's x/y columns.

    Parameters
    ----------
    x, y : str or None
        The longitude (x) and latitude (y) column names; no options when ``x`` is not given.

    Returns
    -------
    dict
        Open options for :func:`pyogrio.read_dataframe` and :func:`pyogrio.read_info`.

    Examples
    --------
    >>> csv_point_options("lon", "lat")["X_POSSIBLE_NAMES"]
    'lon'
    >>> csv_point_options(None, None)
    {}
    """
    if x:
        return {"X_POSSIBLE_NAMES": x, "Y_POSSIBLE_NAMES": y, "KEEP_GEOM_COLUMNS": "NO"}
    return {}


def blank_to_missing(df: pd.DataFrame) -> pd.DataFrame:
    """Turn the empty text cells of a CSV into missing values (an empty cell is no name), in place.

    Parameters
    ----------
    df : DataFrame
        A table read from a CSV.

    Returns
    -------
    DataFrame
        ``df``, with ``""`` in its text columns replaced by None.
    """
    for col in df.columns.drop("geometry", errors="ignore"):
        if pd.api.types.is_string_dtype(df[col]):
            df[col] = df[col].mask(df[col] == "", None)
    return df
