"""Coordinates that contradict their CRS: degrees labelled as metres, feet as metres, the wrong zone.

A file's CRS is only a label; :func:`check_coordinates` compares it with a sample of the data
before anything is reprojected, and raises a one-line :class:`~sitesel.errors.LayerError`
saying what the coordinates look like and how to fix the label.
"""
from __future__ import annotations

import math

import numpy as np
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError, ProjError

from sitesel.errors import LayerError

__all__ = ["MIN_SHARE_IN_AREA", "check_coordinates"]

#: Share of sampled features that must lie in (a margin around) the area where the CRS is
#: defined. A mislabelled file (feet as metres, the wrong zone) puts nearly all of its features
#: elsewhere; a regional file stored in one state-plane zone still has a good share inside.
MIN_SHARE_IN_AREA = 0.25


def _area_of_use(crs: CRS):
    aou = crs.area_of_use
    if aou is None:
        try:
            auth = crs.to_authority(min_confidence=70)
            aou = CRS.from_authority(*auth).area_of_use if auth else None
        except (CRSError, TypeError):
            aou = None
    return aou


def _inside(lon: np.ndarray, lat: np.ndarray, aou) -> np.ndarray:
    w, s, e, n = aou.west, aou.south, aou.east, aou.north
    width = (e - w) % 360 or 360.0
    mx, my = max(1.0, 0.25 * width), max(1.0, 0.25 * (n - s))
    in_lat = (lat >= s - my) & (lat <= n + my)
    if width + 2 * mx >= 360:
        return in_lat
    # Longitudes measured eastwards from the west edge, so areas across the antimeridian work.
    d = (lon - (w - mx)) % 360
    return in_lat & (d <= width + 2 * mx)


def check_coordinates(crs: CRS, bounds: tuple[float, float, float, float], sample: np.ndarray,
                      label: str) -> tuple[float, float, float, float] | None:
    """Refuse coordinates that contradict their CRS; return the data's lon/lat box.

    Three checks: degrees must lie within +-180/+-90; a projected CRS (metres or feet) whose
    coordinates all lie within +-180/+-90 holds degrees; and most features must lie in (a margin
    around) the CRS's area of use, which catches feet labelled as metres and the wrong zone.

    Parameters
    ----------
    crs : CRS
    bounds : tuple
        The data's extent in ``crs``.
    sample : ndarray, shape (n, 2)
        Representative points in ``crs``.
    label : str
        "layer 'x' (path)" for messages.

    Returns
    -------
    tuple or None
        ``(west, south, east, north)`` of the data in degrees, None if it cannot be computed.

    Raises
    ------
    LayerError
        The coordinates contradict the CRS, or the CRS cannot be used.
    """
    xmin, ymin, xmax, ymax = bounds
    fix = "fix the file's CRS (.prj) or set crs = \"EPSG:...\" in the layer's manifest entry"
    unit = crs.axis_info[0].unit_name if crs.axis_info else "unknown unit"
    if crs.is_geographic:
        if max(abs(xmin), abs(xmax)) > 360.5 or max(abs(ymin), abs(ymax)) > 90.5:
            raise LayerError(f"{label}: coordinates reach ({_big(xmax if abs(xmax) > abs(xmin) else xmin)}, "
                             f"{_big(ymax if abs(ymax) > abs(ymin) else ymin)}), "
                             "far beyond +-180/+-90 degrees, but its "
                             f"CRS {_crs_name(crs)} is in degrees: the data are projected (metres or feet); {fix}")
        if xmax > 180.5:
            raise LayerError(f"{label}: longitudes run to {xmax:.1f} (0-360 convention); "
                             "convert them to -180..180 (e.g. ogr2ogr -wrapdateline)")
    elif max(abs(xmin), abs(xmax)) <= 180 and max(abs(ymin), abs(ymax)) <= 90:
        raise LayerError(f"{label}: coordinates lie within +-180/+-90 ({xmin:.4g}..{xmax:.4g}, {ymin:.4g}..{ymax:.4g}) "
                         f"but its CRS {_crs_name(crs)} is in {unit}s: "
                         f"they look like longitude/latitude degrees; {fix}")
    try:
        # To WGS84, not to the CRS's own datum: this builds the whole pipeline (units included),
        # so a damaged definition (e.g. a unit of 0 in a .prj) fails here, not during the run.
        to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        bad_unit = any(not a.unit_conversion_factor > 0 for a in crs.axis_info)
    except (CRSError, ProjError) as exc:
        raise LayerError(f"{label}: its CRS {_crs_name(crs)} cannot be used ({' '.join(str(exc).split())[:100]}); "
                         f"{fix}") from None
    if bad_unit:
        raise LayerError(f"{label}: its CRS {_crs_name(crs)} has a unit of length 0; {fix}")
    aou = _area_of_use(crs)
    if aou is not None and len(sample):
        with np.errstate(all="ignore"):
            lon, lat = to_ll.transform(sample[:, 0], sample[:, 1], errcheck=False)
        lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        share = float(np.mean(np.isfinite(lon) & np.isfinite(lat) & _inside(lon, lat, aou)))
        if share < MIN_SHARE_IN_AREA:
            raise LayerError(
                f"{label}: {1 - share:.0%} of its features lie outside the area where its CRS {_crs_name(crs)} "
                f"applies ({_area_name(aou.name)}: lon {aou.west:g}..{aou.east:g}, lat {aou.south:g}..{aou.north:g}): "
                f"if the label is wrong (e.g. feet labelled as metres, or the wrong zone), {fix}; if not, reproject "
                "the data to a CRS that covers them (e.g. EPSG:4269)")
    try:
        with np.errstate(all="ignore"):
            ll = to_ll.transform_bounds(xmin, ymin, xmax, ymax, densify_pts=21, errcheck=False)
    except (CRSError, ProjError):
        return None
    return tuple(float(v) for v in ll) if all(math.isfinite(v) for v in ll) else None


def _area_name(name: str) -> str:
    name = name.split(" - counties")[0].split(" - onshore")[0].rstrip(".")
    return name if len(name) <= 60 else name[:57] + "..."


def _big(v: float) -> str:
    return f"{v:,.0f}"


def _crs_name(crs: CRS) -> str:
    auth = crs.to_authority(min_confidence=70)
    return f"{auth[0]}:{auth[1]} ({crs.name})" if auth else f"'{crs.name}'"
