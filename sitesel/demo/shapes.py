"""The invented demo region, "Synthetica", and the geometry helpers its layers are drawn with.

The layout is designed in kilometres east and north of the region's south-west corner;
:func:`km_to_lonlat` maps it to degrees. Every random choice comes from :func:`layer_rng`, one
stream per layer, so the data are the same on every build.
"""
from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

import numpy as np
import shapely

__all__ = ["COORD_DECIMALS", "DEMO_BOUNDS", "DEMO_LABEL", "DEMO_REGION", "DEMO_VERSION", "HEIGHT_KM",
           "KM_PER_DEG_LAT", "KM_PER_DEG_LON", "SEED", "STATE_NAME", "WIDTH_KM", "blob", "bowtie", "km_to_lonlat",
           "layer_rng", "lonlat_to_km", "multi", "polygonal", "region_km", "to_lonlat", "wiggle"]

#: Bump whenever the generated data change, so cached demo folders are rebuilt.
DEMO_VERSION = 1
#: USPS-style code of the invented demo state.
DEMO_REGION = "XX"
#: Label carried by every file (``note`` column, layer description or raster tag).
DEMO_LABEL = "SYNTHETIC DEMO DATA — not real"
#: Region of the demo state in degrees: (west, south, east, north).
DEMO_BOUNDS = (-114.5, 33.5, -112.3, 34.85)

STATE_NAME = "Synthetica (synthetic demo)"
#: Seed of every random stream (see :func:`layer_rng`).
SEED = 20_251_123
#: Decimals of a degree kept in coordinates (about 0.1 m, like the real GeoJSON files).
COORD_DECIMALS = 6

# The layout is designed in kilometres east and north of the south-west corner. A plain
# equirectangular mapping is plenty for invented data and keeps the design readable.
_LON0, _LAT0, _LON1, _LAT1 = DEMO_BOUNDS
_LAT_MID = 0.5 * (_LAT0 + _LAT1)
KM_PER_DEG_LON = 111.320 * math.cos(math.radians(_LAT_MID))
KM_PER_DEG_LAT = 110.574
WIDTH_KM = (_LON1 - _LON0) * KM_PER_DEG_LON  # ~202 km
HEIGHT_KM = (_LAT1 - _LAT0) * KM_PER_DEG_LAT  # ~149 km


def km_to_lonlat(xy: np.ndarray) -> np.ndarray:
    """Convert design coordinates (km east/north of the south-west corner) to lon/lat degrees.

    Parameters
    ----------
    xy : ndarray, shape (n, 2)
        Kilometres east and north of ``(DEMO_BOUNDS[0], DEMO_BOUNDS[1])``.

    Returns
    -------
    ndarray, shape (n, 2)
        Longitude and latitude, rounded to 1e-6 degrees.
    """
    xy = np.asarray(xy, dtype=float)
    lon = _LON0 + xy[:, 0] / KM_PER_DEG_LON
    lat = _LAT0 + xy[:, 1] / KM_PER_DEG_LAT
    return np.round(np.column_stack([lon, lat]), COORD_DECIMALS)


def lonlat_to_km(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`km_to_lonlat` (no rounding), for sampling the terrain functions."""
    return (np.asarray(lon) - _LON0) * KM_PER_DEG_LON, (np.asarray(lat) - _LAT0) * KM_PER_DEG_LAT


def to_lonlat(geom: shapely.Geometry) -> shapely.Geometry:
    """A design geometry (km) in lon/lat (rounded as :func:`km_to_lonlat` rounds)."""
    return shapely.transform(geom, km_to_lonlat)


def layer_rng(name: str) -> np.random.Generator:
    """The random stream of layer ``name``.

    One stream per layer, so editing one layer's recipe leaves the others unchanged.
    """
    return np.random.default_rng([SEED, zlib.crc32(name.encode())])


def region_km() -> shapely.Polygon:
    """The region in design coordinates (km)."""
    return shapely.box(0.0, 0.0, WIDTH_KM, HEIGHT_KM)


# -- shapes -------------------------------------------------------------------------------------

def blob(rng: np.random.Generator, cx: float, cy: float, rx: float, ry: float, rot_deg: float = 0.0,
         n: int = 36) -> shapely.Polygon:
    """An irregular, always valid, star-shaped polygon around an ellipse.

    The radius is modulated by a few random low harmonics (total amplitude < 40 %), so the
    outline never folds back on itself.
    """
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    wobble = np.ones_like(t)
    for k in range(2, 6):
        wobble += rng.uniform(0.02, 0.08) * np.sin(k * t + rng.uniform(0, 2 * np.pi))
    x, y = rx * wobble * np.cos(t), ry * wobble * np.sin(t)
    a = math.radians(rot_deg)
    xr, yr = x * math.cos(a) - y * math.sin(a), x * math.sin(a) + y * math.cos(a)
    return shapely.Polygon(np.column_stack([cx + xr, cy + yr]))


def bowtie(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    """A self-intersecting ring (two triangles touching in the middle)."""
    return shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1), (x0, y0)])


def wiggle(rng: np.random.Generator, pts: Sequence[tuple[float, float]], step_km: float,
           amp_km: float) -> shapely.LineString:
    """A polyline through ``pts`` with extra vertices jittered sideways, for natural-looking rivers."""
    out = [np.asarray(pts[0], float)]
    for a, b in zip(pts[:-1], pts[1:]):
        a, b = np.asarray(a, float), np.asarray(b, float)
        seg = b - a
        length = float(np.hypot(*seg))
        k = max(1, int(length // step_km))
        normal = np.array([-seg[1], seg[0]]) / length
        for i in range(1, k):
            out.append(a + seg * i / k + normal * rng.normal(0.0, amp_km))
        out.append(b)
    return shapely.LineString(out)


def multi(geom: shapely.Geometry) -> shapely.Geometry:
    """Promote to the Multi type, as the real GeoPackages store polygons and lines."""
    if isinstance(geom, shapely.Polygon):
        return shapely.MultiPolygon([geom])
    if isinstance(geom, shapely.LineString):
        return shapely.MultiLineString([geom])
    return geom


def polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Drop stray points and lines that overlay operations can leave behind."""
    if isinstance(geom, (shapely.Polygon, shapely.MultiPolygon)):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if isinstance(g, (shapely.Polygon, shapely.MultiPolygon))]
    return shapely.union_all(parts) if parts else shapely.Polygon()
