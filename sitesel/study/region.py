"""The region of a study: state codes and/or a lon/lat box, as a polygon in an equal-area CRS,
and the analysis grid over it."""
from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from sitesel.errors import LayerError, RegionError, closest
from sitesel.io.layers import read_vector
from sitesel.io.manifest import Manifest
from sitesel.study.grid import LOWER48_ALIASES, Grid, crs_for_states, grid_for_bounds

__all__ = ["DEFAULT_MAX_CELLS", "DEFAULT_PAD_M", "MIN_RESOLUTION_M", "Region", "default_resolution",
           "grid_for_region", "resolve_region"]

#: Cells beyond the region that are still computed, so distances to features just across a
#: border are right.
DEFAULT_PAD_M = 150_000.0
#: Cell budget used to pick a default resolution.
DEFAULT_MAX_CELLS = 40_000_000
#: Finest resolution accepted (m).
MIN_RESOLUTION_M = 10.0
#: Territories left out of the lower 48.
_NOT_LOWER48 = {"AK", "HI", "PR", "VI", "GU", "AS", "MP"}


@dataclass
class Region:
    """What the user asked for: state codes and/or a lon/lat box, and the resulting polygon.

    Attributes
    ----------
    label : str
        How messages and outputs name it (``AZ,NM``, ``bbox -112,32,-110,34``).
    codes : list of str
        The USPS codes of the states it touches.
    bbox : tuple, optional
        The lon/lat box asked for.
    crs : str
        The equal-area CRS of ``geometry`` and ``states``.
    geometry : shapely geometry
        The region, in ``crs``.
    states : GeoDataFrame
        The states it touches, in ``crs``.
    """

    label: str
    codes: list[str]
    bbox: tuple[float, float, float, float] | None
    crs: str
    geometry: object
    states: gpd.GeoDataFrame


def resolve_region(manifest: Manifest, region: str | None, bbox: tuple[float, float, float, float] | None,
                   crs: str | None = None) -> Region:
    """Turn a region and/or a bounding box into a polygon in an equal-area CRS.

    Parameters
    ----------
    manifest : Manifest
        Gives the ``states`` layer.
    region : str, optional
        Comma-separated USPS codes (``AZ,NM``) or ``L48`` for the lower 48.
    bbox : tuple, optional
        ``(west, south, east, north)`` in degrees; intersected with the states if both are given.
    crs : str, optional
        Override the equal-area CRS.

    Returns
    -------
    Region

    Raises
    ------
    RegionError
        No region given; an unknown state code (with a suggestion); a box that is not four finite
        degrees, is inverted, or lies outside the US.
    LayerError
        The states layer's ``code`` column does not hold USPS codes.
    """
    if not region and not bbox:
        raise RegionError("give {opt:region} (e.g. AZ,NM or L48) or {opt:bbox} west,south,east,north")
    if bbox is not None:
        _check_bbox(bbox)
    states = read_vector(manifest["states"], "EPSG:4326")
    states["code"] = states["code"].astype(str).str.strip().str.upper()
    if len(states) and not states["code"].str.fullmatch(r"[A-Z]{2}").any():
        col = manifest["states"].fields.get("code", "code")
        raise LayerError(f"layer 'states': column '{col}' (mapped to 'code') holds values such as "
                         f"{states['code'].iloc[0]!r}, not USPS codes; map code to the two-letter postal-code "
                         "column (e.g. fields = { code = \"stusps\" }) in the manifest")
    if region:
        wanted = [c.strip().upper() for c in region.split(",") if c.strip()]
        if not wanted:
            raise RegionError(f"{{opt:region}} {region!r} names no state; give USPS codes such as AZ,NM, or L48")
        if any(c in LOWER48_ALIASES for c in wanted):
            wanted = sorted(set(states["code"]) - _NOT_LOWER48)
        unknown = [c for c in wanted if c not in set(states["code"])]
        if unknown:
            raise RegionError(f"unknown state code {unknown[0]!r}{_state_hint(unknown[0], states)}; "
                              "use USPS codes such as AZ,NM, or L48 for the lower 48")
        sel = states[states["code"].isin(wanted)]
    else:
        sel = states[states.intersects(shapely.box(*bbox))]
        if sel.empty:
            raise RegionError(f"bbox {_fmt_box(bbox)} does not overlap any US state; give west,south,east,north "
                              "in degrees over the US (e.g. -112.5,32.5,-110.5,34.0)")
    codes = sorted(sel["code"])
    crs = crs or crs_for_states(codes)
    geom = shapely.union_all(sel.to_crs(crs).geometry.values)
    if bbox is not None:
        # Densify before projecting: a lon/lat box is curved in an equal-area CRS.
        box = gpd.GeoSeries([shapely.segmentize(shapely.box(*bbox), 0.05)], crs="EPSG:4326").to_crs(crs).iloc[0]
        geom = shapely.intersection(geom, box)
        if geom.is_empty:
            raise RegionError(f"bbox {_fmt_box(bbox)} does not overlap region {region}; "
                              "give a box inside the region, or drop {opt:region} or {opt:bbox}")
    label = region.upper() if region else "bbox " + _fmt_box(bbox)
    if bbox is not None and region:
        label += " in bbox " + _fmt_box(bbox)
    return Region(label=label, codes=codes, bbox=bbox, crs=crs, geometry=geom, states=sel.to_crs(crs))


def _fmt_box(bbox) -> str:
    return ",".join(f"{v:g}" for v in bbox)


def _check_bbox(bbox) -> None:
    """A box must be four finite degrees, west < east and south < north, in lon/lat order."""
    if len(bbox) != 4 or not all(isinstance(v, (int, float)) and np.isfinite(v) for v in bbox):
        raise RegionError(f"bbox {bbox} must be four numbers west,south,east,north in degrees")
    w, s, e, n = bbox
    if not (-90 <= s <= 90 and -90 <= n <= 90):
        swapped = -180 <= s <= 180 and -180 <= n <= 180 and -90 <= w <= 90 and -90 <= e <= 90
        raise RegionError(f"bbox {_fmt_box(bbox)}: latitudes {s:g} and {n:g} must lie within -90..90"
                          + ("; the order is west,south,east,north (longitude first)" if swapped else
                             "; give degrees, not metres"))
    if not (-180 <= w <= 180 and -180 <= e <= 180):
        raise RegionError(f"bbox {_fmt_box(bbox)}: longitudes {w:g} and {e:g} must lie within -180..180; "
                          "give degrees, not metres")
    if not (w < e and s < n):
        raise RegionError(f"bbox {_fmt_box(bbox)} is inverted or empty: give west,south,east,north with "
                          "west < east and south < north")


def _state_hint(code: str, states: gpd.GeoDataFrame) -> str:
    """`` (use NM for New Mexico)`` when ``code`` is (nearly) a state's name, else ``""``."""
    if "name" in states.columns:
        names = {str(nm).upper(): c for nm, c in zip(states["name"], states["code"]) if nm is not None}
        hit = code if code in names else closest(code, names, cutoff=0.75)
        if hit:
            return f" (use {names[hit]} for {hit.title()})"
    return ""


def default_resolution(region: Region, max_cells: int = DEFAULT_MAX_CELLS) -> float:
    """500 m for large regions; 250 m or 100 m when the region is small enough.

    Parameters
    ----------
    region : Region
        The region.
    max_cells : int
        The most cells the padded grid may have.

    Returns
    -------
    float
        Metres.
    """
    xmin, ymin, xmax, ymax = region.geometry.bounds
    for res in (100.0, 250.0, 500.0):
        if (((xmax - xmin) / res + 2 * DEFAULT_PAD_M / res)
                * ((ymax - ymin) / res + 2 * DEFAULT_PAD_M / res) <= max_cells):
            return res
    return 500.0


def grid_for_region(region: Region, resolution: float | None = None, pad_m: float = DEFAULT_PAD_M) -> Grid:
    """The analysis grid over ``region`` plus ``pad_m``.

    Parameters
    ----------
    region : Region
        The region.
    resolution : float, optional
        Cell size in metres (default: :func:`default_resolution`).
    pad_m : float
        Margin computed beyond the region (m).

    Returns
    -------
    Grid

    Raises
    ------
    RegionError
        The resolution is below :data:`MIN_RESOLUTION_M`.
    """
    res = resolution or default_resolution(region)
    if res < MIN_RESOLUTION_M:
        raise RegionError(f"resolution {res:g} m is below the {MIN_RESOLUTION_M:g} m minimum; "
                          "the layers are not precise enough for finer cells")
    return grid_for_bounds(region.geometry.bounds, region.crs, res, pad_m=pad_m)
