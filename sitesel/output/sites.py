"""``sites.geojson`` and ``sites.csv``: the ranked sites, rounded for byte-identical reruns."""
from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from sitesel.output.vector import write_csv, write_geojson

__all__ = ["EMPTY_COLUMNS", "FLOAT_DECIMALS", "tidy", "write_sites"]

#: Decimal places kept for floating-point attributes (stable, byte-identical reruns).
FLOAT_DECIMALS = 4
#: Header of sites.csv when a run finds no candidate sites.
EMPTY_COLUMNS = ("rank", "score", "lon", "lat", "state", "agency", "unit", "acres")


def tidy(sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Round floats so that reruns are byte-identical and files stay readable.

    Parameters
    ----------
    sites : GeoDataFrame
        Ranked sites.

    Returns
    -------
    GeoDataFrame
        A copy: floats to :data:`FLOAT_DECIMALS` places, ``score`` to 2 and ``acres`` to 1.
    """
    out = sites.copy()
    for col in out.columns:
        if col != "geometry" and pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(FLOAT_DECIMALS)
    for col, places in (("score", 2), ("acres", 1)):
        if col in out.columns:
            out[col] = out[col].round(places)
    return out


def write_sites(sites: gpd.GeoDataFrame, folder: Path) -> None:
    """Write ``sites.geojson`` (RFC 7946, WGS84) and ``sites.csv`` (same attributes, no geometry).

    Parameters
    ----------
    sites : GeoDataFrame
        Ranked sites, in any CRS.
    folder : Path
        The run folder.
    """
    wgs = tidy(sites).to_crs("EPSG:4326")
    if len(wgs):
        write_geojson(wgs, folder / "sites.geojson")
        write_csv(wgs, folder / "sites.csv")
    else:
        # No candidate sites: valid, empty files (a header line for the CSV).
        (folder / "sites.geojson").write_text('{"type": "FeatureCollection", "features": []}\n')
        (folder / "sites.csv").write_text(",".join(EMPTY_COLUMNS) + "\n")
