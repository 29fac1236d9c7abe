"""A small synthetic dataset for offline demos and tests.

:func:`make_demo` writes every layer sitesel needs for an invented region, "Synthetica"
(state code ``XX``), of about 200 km x 150 km in the US south-west, plus a layer manifest that
follows ``docs/schema.md``. Nothing is copied from real data: all geometry and values come from
code and a fixed random seed. The files deliberately reproduce the formats and quirks of the real
national layers (National Atlas agency codes, HIFLD ``-999999`` sentinels, WRI Aqueduct ``-1`` and
``-9999`` codes, TIGER business loops, PAD-US GeoJSON without a CRS member, invalid polygons, a
DEM in EPSG:5070 and an irradiance grid in EPSG:4269 in MJ/m2/day) so that a demo run goes
through the same loader code paths as a run on the national data.

The layout is designed so that the ``ai_datacenter`` park type gives meaningful results: flat
BLM, Forest Service, DOE and DOD land within 15 km of 230-500 kV lines, and land that fails for
clear reasons (mountain ranges, land only near 115 kV or unknown-voltage lines, wilderness inside
otherwise good BLM land, National Park Service and Fish and Wildlife Service land).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import pathlib
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
import shapely
from affine import Affine
from pyproj import Transformer

__all__ = ["DEMO_VERSION", "DEMO_REGION", "DEMO_LABEL", "DEMO_BOUNDS", "make_demo"]

#: Bump whenever the generated data change, so cached demo folders are rebuilt.
DEMO_VERSION = 1
#: USPS-style code of the invented demo state.
DEMO_REGION = "XX"
#: Label carried by every file (``note`` column, layer description or raster tag).
DEMO_LABEL = "SYNTHETIC DEMO DATA — not real"
#: Region of the demo state in degrees: (west, south, east, north).
DEMO_BOUNDS = (-114.5, 33.5, -112.3, 34.85)

STATE_NAME = "Synthetica (synthetic demo)"
MANIFEST_NAME = "manifest.toml"
STAMP_NAME = "demo_stamp.json"

_SEED = 20_251_123
# GeoPackage stores a "last_change" timestamp; pinning GDAL's clock makes the files
# byte-identical from one build to the next.
_FIXED_DATE = "2025-01-01T00:00:00.000Z"
_COORD_DECIMALS = 6  # ~0.1 m, like the real GeoJSON files

# The layout is designed in kilometres east and north of the south-west corner. A plain
# equirectangular mapping is plenty for invented data and keeps the design readable.
_LON0, _LAT0, _LON1, _LAT1 = DEMO_BOUNDS
_LAT_MID = 0.5 * (_LAT0 + _LAT1)
KM_PER_DEG_LON = 111.320 * math.cos(math.radians(_LAT_MID))
KM_PER_DEG_LAT = 110.574
WIDTH_KM = (_LON1 - _LON0) * KM_PER_DEG_LON  # ~202 km
HEIGHT_KM = (_LAT1 - _LAT0) * KM_PER_DEG_LAT  # ~149 km

# -- design tables (kilometres) -----------------------------------------------------------------

# Mountain ranges: crest from (x0, y0) to (x1, y1), relief in metres, half-width sigma in km.
# Relief / sigma puts the flanks at ~20 % slope (more with the crest ripple and crags), well
# above any profile's limit.
_RANGES: tuple[tuple[float, float, float, float, float, float], ...] = (
    (25, 95, 45, 140, 2100, 6.0),  # Synthetic Peak Range (NW), under the Peak National Forest
    (150, 8, 188, 46, 1900, 5.5),  # Synthetic Sierra (SE)
    (95, 110, 130, 120, 1800, 5.5),  # Synthetic Crags (north centre), under BLM Unit 4
    (52, 127, 72, 143, 1500, 5.0),  # Juniper Hills (north)
)

# Transmission lines: (HIFLD VOLTAGE, vertices). Line ends sit on substations, as in HIFLD.
# Some run past the region edge: real lines do not stop at state borders, and distances near
# the border must see them.
_LINES: tuple[tuple[float, tuple[tuple[float, float], ...]], ...] = (
    (500, ((-8, 62), (45, 66), (95, 60))),
    (500, ((95, 60), (140, 64), (210, 58))),
    (345, ((95, 60), (100, 30), (108, -6))),
    (345, ((95, 60), (88, 100), (72, 156))),
    (230, ((-6, 36), (40, 40), (80, 34), (100, 30))),
    (230, ((140, 64), (165, 90), (208, 100))),
    (230, ((88, 100), (130, 140), (150, 156))),
    (138, ((45, 66), (30, 90), (15, 120))),
    (138, ((100, 30), (135, 18), (160, 8))),
    (115, ((165, 90), (175, 130))),
    (115, ((40, 40), (50, 2))),
    (115, ((88, 100), (60, 110), (62, 135))),
    (-999999, ((120, 62.5), (125, 45))),
    (-999999, ((15, 120), (5, 148))),
    (-999999, ((175, 130), (192, 142))),
)

# Federal land: (National Atlas agency code, unit name, centre x, y, radii rx, ry, rotation deg).
# Earlier units win where blobs overlap, so the table order is also a priority order.
_FEDERAL: tuple[tuple[str, str, float, float, float, float, float], ...] = (
    # flat and within 15 km of 230-500 kV: the expected winners
    ("BLM", "Synthetic Mesa BLM Unit 1", 30, 50, 23, 15, 10),
    ("BLM", "Synthetic Flats BLM Unit 2", 68, 84, 18, 13, -15),
    ("DOE", "Synthetic Energy Reservation", 120, 47, 15, 11, 0),
    ("BLM", "Synthetic Playa BLM Unit 3", 162, 74, 20, 13, 20),
    ("FS", "Synthetic Valley National Forest", 108, 90, 13, 9, 0),
    ("DOD", "Synthetic Bombing Range", 60, 40, 15, 10, 0),
    ("BLM", "Synthetic Mesa BLM Unit 7", 196, 72, 11, 18, 0),
    ("DOE", "Synthetic Test Site DOE Annex", 150, 100, 8, 6, 0),
    ("BOR", "Synthetic Reservoir Withdrawal", 86, 9, 8, 6, 0),
    ("BOR", "Synthetic Canal Lands", 136, 100, 6, 4, 30),
    ("BLM", "Synthetic Cholla BLM Unit 10", 183, 101, 13, 8, 10),
    ("BLM", "Synthetic Gila BLM Unit 11", 96, 139, 11, 8, 0),
    # steep: the units follow the mountain ranges
    ("FS", "Synthetic Peak National Forest", 35, 118, 28, 12, 66),
    ("BLM", "Synthetic Crags BLM Unit 4", 112, 115, 21, 8, 16),
    ("FS", "Synthetic Sierra National Forest", 168, 27, 28, 10, 45),
    ("FS", "Synthetic Juniper National Forest", 62, 135, 15, 8, 39),
    # flat but far from any line of 230 kV or more (only 115 kV or unknown-voltage lines)
    ("BLM", "Synthetic Desert BLM Unit 5", 182, 130, 21, 17, 0),
    ("BLM", "Synthetic Wash BLM Unit 6", 62, 12, 20, 11, 0),
    ("BLM", "Synthetic Lava BLM Unit 9", 12, 140, 10, 8, 0),
    # never eligible whatever the terrain
    ("NPS", "Synthetic Canyon National Park", 190, 12, 14, 12, 0),
    ("NPS", "Synthetic Dunes National Monument", 92, 72, 6, 5, 0),
    ("FWS", "Synthetic Marsh National Wildlife Refuge", 143, 42, 10, 8, 0),
    ("FWS", "Synthetic Springs National Wildlife Refuge", 20, 13, 12, 8, 0),
    ("BIA", "Synthetic Mesa Reservation", 126, 14, 15, 10, 0),
    ("BIA", "Synthetic River Reservation", 10, 86, 11, 15, 0),
    ("DOD", "Synthetic Test Range", 152, 124, 14, 12, 0),
    ("NPS", "Synthetic Lava Beds National Monument", 140, 146, 9, 5, 0),
    ("FWS", "Synthetic River National Wildlife Refuge", 110, 72, 8, 5, 0),
)

# Two self-intersecting "bow-tie" rings, written unrepaired: the loader must fix them.
# Both are flat land next to 345-500 kV lines, so a repair that loses them would show.
_BOWTIES: tuple[tuple[str, str, tuple[float, float, float, float]], ...] = (
    ("BLM", "Synthetic Bowtie BLM Unit 8", (78, 43, 92, 54)),
    ("FS", "Synthetic Bowtie National Forest Unit", (122, 68, 136, 80)),
)

# PAD-US style protected units: (NAME, MANNAME, blob(s) (cx, cy, rx, ry, rot), host unit or None).
_PROTECTED: tuple[tuple[str, str, tuple[tuple[float, ...], ...], str | None], ...] = (
    ("Synthetic Basin Wilderness", "BLM", ((63, 86, 10, 8, 0),), "Synthetic Flats BLM Unit 2"),
    ("Synthetic Canyon Wilderness Study Area", "BLM", ((20, 47, 8, 6, 0),), "Synthetic Mesa BLM Unit 1"),
    ("Synthetic Peak Wilderness", "USFS", ((30, 108, 6, 5, 66), (42, 130, 5, 4, 66)),
     "Synthetic Peak National Forest"),
    ("Synthetic Playa National Conservation Area", "BLM", ((170, 71, 7, 5, 0),), "Synthetic Playa BLM Unit 3"),
    ("Synthetic Ridge National Recreation Area", "USFS", ((113, 95, 5, 4, 0),),
     "Synthetic Valley National Forest"),
    ("Synthetic Springs State Park", "SPR", ((48, 100, 4, 3, 0),), None),
)

# Roads, TIGER style: (name, road_class, route_type, route_id, vertices).
_ROADS: tuple[tuple[str, str, str, str, tuple[tuple[float, float], ...]], ...] = (
    ("I- 99", "Interstate", "I", "99", ((-5, 70), (50, 72), (100, 66), (150, 70), (207, 66))),
    ("I- 97", "Interstate", "I", "97", ((100, -5), (102, 66), (96, 155))),
    ("I- 99 Bus Lp", "Interstate", "I", "99B", ((94, 66.5), (98, 63), (104, 63), (106, 66.2))),
    ("US Hwy 95", "US Highway", "US", "95", ((20, -5), (30, 60), (20, 155))),
    ("US Hwy 60", "US Highway", "US", "60", ((-5, 33), (100, 28), (207, 40))),
    ("US Hwy 160", "US Highway", "US", "160", ((-5, 120), (50, 112), (96, 115))),
    ("State Rte 85", "State Route", "SR", "85", ((150, -5), (160, 70), (180, 155))),
    ("State Hwy 72", "State Route", "SR", "72", ((100, 66), (140, 110), (207, 120))),
    ("State Rte 187", "State Route", "SR", "187", ((60, 155), (70, 100), (50, 72))),
)

# Centres of the DEM's nodata holes (km) and their radius: one on a range, one in far-off BLM
# land, one in the margin, none in the land expected to win.
_DEM_HOLES: tuple[tuple[float, float, float], ...] = ((35, 125, 2.5), (188, 135, 2.0), (-12, 5, 4.0))


# -- coordinates --------------------------------------------------------------------------------

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
    return np.round(np.column_stack([lon, lat]), _COORD_DECIMALS)


def lonlat_to_km(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`km_to_lonlat` (no rounding), for sampling the terrain functions."""
    return (np.asarray(lon) - _LON0) * KM_PER_DEG_LON, (np.asarray(lat) - _LAT0) * KM_PER_DEG_LAT


def _geo(geom: shapely.Geometry) -> shapely.Geometry:
    """A design geometry (km) in lon/lat."""
    return shapely.transform(geom, km_to_lonlat)


def _rng(name: str) -> np.random.Generator:
    # One stream per layer, so editing one layer's recipe leaves the others unchanged.
    return np.random.default_rng([_SEED, zlib.crc32(name.encode())])


def _region_km() -> shapely.Polygon:
    return shapely.box(0.0, 0.0, WIDTH_KM, HEIGHT_KM)


# -- shapes -------------------------------------------------------------------------------------

def _blob(rng: np.random.Generator, cx: float, cy: float, rx: float, ry: float, rot_deg: float = 0.0,
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


def _bowtie(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    """A self-intersecting ring (two triangles touching in the middle)."""
    return shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1), (x0, y0)])


def _wiggle(rng: np.random.Generator, pts: Sequence[tuple[float, float]], step_km: float,
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


def _multi(geom: shapely.Geometry) -> shapely.Geometry:
    """Promote to the Multi type, as the real GeoPackages store polygons and lines."""
    if isinstance(geom, shapely.Polygon):
        return shapely.MultiPolygon([geom])
    if isinstance(geom, shapely.LineString):
        return shapely.MultiLineString([geom])
    return geom


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Drop stray points and lines that overlay operations can leave behind."""
    if isinstance(geom, (shapely.Polygon, shapely.MultiPolygon)):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if isinstance(g, (shapely.Polygon, shapely.MultiPolygon))]
    return shapely.union_all(parts) if parts else shapely.Polygon()


# -- terrain ------------------------------------------------------------------------------------

def _segment_frame(x: np.ndarray, y: np.ndarray, x0: float, y0: float, x1: float,
                   y1: float) -> tuple[np.ndarray, np.ndarray]:
    """Distance (km) from each point to the segment, and the along-segment position (km)."""
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    along = ((x - x0) * dx + (y - y0) * dy) / length2
    t = np.clip(along, 0.0, 1.0)
    return np.hypot(x - (x0 + t * dx), y - (y0 + t * dy)), along * math.sqrt(length2)


def _mountain_envelope(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Summed ridge relief (m) and the strongest normalised envelope (0..1) at each point.

    Each range is a Gaussian ridge with peaks and saddles along the crest (a 7 km ripple),
    so the crest line itself is steep too, not a flat strip a large site could sit on.
    """
    relief = np.zeros_like(x, dtype=float)
    env_max = np.zeros_like(x, dtype=float)
    for i, (x0, y0, x1, y1, amp, sigma) in enumerate(_RANGES):
        dist, along = _segment_frame(x, y, x0, y0, x1, y1)
        env = np.exp(-0.5 * (dist / sigma) ** 2)
        ripple = 1.0 + 0.25 * np.sin(2 * np.pi * along / 7.0 + i)
        relief += amp * env * ripple
        env_max = np.maximum(env_max, env)
    return relief, env_max


def elevation_m(x: np.ndarray, y: np.ndarray, roughness: np.ndarray | None = None) -> np.ndarray:
    """Synthetic elevation at design coordinates (km).

    A gently tilted plain (~0.3 %) with long, low swells keeps the basins under 3 % slope;
    Gaussian ridges add the mountain ranges, and ``roughness`` (unit noise per cell) adds
    crags scaled by the ridge envelope so no mountain cell is accidentally flat.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    z = 350.0 + 2.2 * x + 3.0 * y
    # Swells: amplitude 25 m over >= 30 km wavelengths, i.e. under 0.6 % slope each.
    for ax, ay, amp, phase in ((1 / 45, 1 / 70, 25.0, 0.3), (-1 / 60, 1 / 35, 20.0, 1.9), (1 / 33, 0.0, 15.0, 4.1)):
        z += amp * np.sin(2 * np.pi * (ax * x + ay * y) + phase)
    relief, env = _mountain_envelope(x, y)
    z += relief
    if roughness is not None:
        z += 180.0 * env * roughness
    return z


def ghi_mj(x: np.ndarray, y: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Synthetic annual mean GHI in MJ/m2/day: sunnier to the south-west, less on the ranges."""
    _, env = _mountain_envelope(np.asarray(x, float), np.asarray(y, float))
    return 24.6 - 2.2 * (y / HEIGHT_KM) - 1.2 * (x / WIDTH_KM) - 2.6 * env + 0.25 * noise


# -- layer builders -----------------------------------------------------------------------------

def _frame(records: list[dict], geoms: list[shapely.Geometry]) -> gpd.GeoDataFrame:
    df = pd.DataFrame.from_records(records)
    df["note"] = DEMO_LABEL
    return gpd.GeoDataFrame(df, geometry=[_geo(g) for g in geoms], crs="EPSG:4326")


def _states() -> gpd.GeoDataFrame:
    rec = {"statefp": "99", "geoid": "99", "stusps": DEMO_REGION, "name": STATE_NAME, "lsad": "00",
           "aland": int(WIDTH_KM * HEIGHT_KM * 1e6), "awater": 0, "is_state": False}
    return _frame([rec], [_multi(_region_km())])


_AGENCY_NAMES = {"BLM": "Bureau of Land Management", "FS": "Forest Service", "DOD": "Department of Defense",
                 "DOE": "Department of Energy", "BOR": "Bureau of Reclamation", "NPS": "National Park Service",
                 "FWS": "Fish and Wildlife Service", "BIA": "Bureau of Indian Affairs"}


def _federal_units_km() -> tuple[list[dict], list[shapely.Geometry]]:
    """Attributes and design geometries (km) of the federal units, bow-ties last and unrepaired."""
    rng = _rng("federal_lands")
    region = _region_km()
    taken = shapely.Polygon()
    records, geoms = [], []
    for agency, unit, cx, cy, rx, ry, rot in _FEDERAL:
        blob = _blob(rng, cx, cy, rx, ry, rot)
        geoms.append(_polygonal(blob.intersection(region).difference(taken)))
        taken = taken.union(blob)
        records.append({"agency": agency, "agency_name": _AGENCY_NAMES[agency], "unit_name": unit,
                        "made_valid": False})
    for agency, unit, box in _BOWTIES:
        # Not repaired on purpose: the real National Atlas file needed make_valid on 196 polygons.
        geoms.append(_bowtie(*box))
        records.append({"agency": agency, "agency_name": _AGENCY_NAMES[agency], "unit_name": unit,
                        "made_valid": False})
    return records, geoms


def _federal_lands(records: list[dict], geoms: list[shapely.Geometry]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Federal land polygons (National Atlas style) and a layer of collapsed small units."""
    lands = _frame(records, [_multi(g) for g in geoms])
    # Area in km2 like the real file's area_km2 (the bow-ties measured after repair).
    lands.insert(4, "area_km2", [round(shapely.make_valid(g).area, 3) for g in geoms])
    # Small units that the real generalisation collapsed to points: a second layer, so a
    # manifest must name the polygon layer explicitly.
    pts = [("FS", 140.0, 20.0), ("BLM", 45.0, 95.0), ("BOR", 100.0, 140.0)]
    collapsed = _frame([{"agency": a, "agency_name": _AGENCY_NAMES[a], "unit_name": None} for a, _, _ in pts],
                       [shapely.Point(x, y) for _, x, y in pts])
    return lands, collapsed


def _protected(hosts: dict[str, shapely.Geometry]) -> list[dict]:
    """PAD-US style features as GeoJSON dicts (written by hand: the real files carry no CRS member).

    Parameters
    ----------
    hosts : dict
        Federal unit name -> valid design geometry (km), so designations nest in their unit.
    """
    rng = _rng("protected")
    region = _region_km()
    features = []
    for i, (name, manager, blobs, host) in enumerate(_PROTECTED):
        parts = [_blob(rng, *b) for b in blobs]
        geom = shapely.union_all(parts).intersection(region)
        if host is not None:
            # Designations nest inside the unit that manages them, as in PAD-US.
            geom = geom.intersection(hosts[host].buffer(-0.2))
        else:
            geom = geom.difference(shapely.union_all(list(hosts.values())))
        geom = _polygonal(geom)
        fed = manager in ("BLM", "USFS")
        props = {"NAME": name, "OWNTYPE": "FED" if fed else "STAT", "OWNNAME": manager if fed else "SPR",
                 "MANTYPE": "FED" if fed else "STAT", "MANNAME": manager, "note": DEMO_LABEL}
        features.append({"type": "Feature", "geometry": shapely.geometry.mapping(_geo(geom)),
                         "properties": props, "id": str(101 + i)})
    return features


def _transmission() -> gpd.GeoDataFrame:
    bands = {500: "500", 345: "345", 230: "220-287", 138: "100-161", 115: "100-161", -999999: "NOT AVAILABLE"}
    records, geoms = [], []
    for i, (kv, pts) in enumerate(_LINES):
        records.append({"ID": f"SYN{100 + i}", "TYPE": "AC; OVERHEAD", "STATUS": "IN SERVICE",
                        "OWNER": "SYNTHETIC POWER CO", "VOLTAGE": float(kv), "VOLT_CLASS": bands[kv]})
        geoms.append(_multi(shapely.LineString(pts)))
    return _frame(records, geoms)


def _substations() -> gpd.GeoDataFrame:
    """Substations on every line vertex (max voltage of the lines meeting there) plus a few others."""
    rng = _rng("substations")
    at: dict[tuple[float, float], list[float]] = {}
    for kv, pts in _LINES:
        for p in pts:
            at.setdefault((float(p[0]), float(p[1])), []).append(kv)
    words = ["Mesa", "Playa", "Basin", "Juniper", "Canyon", "Flats", "Ridge", "Wash", "Sierra", "Valley",
             "Dunes", "Springs", "Crags", "Peak", "Marsh", "Butte", "Arroyo", "Cholla", "Saguaro", "Ocotillo"]
    records, geoms = [], []
    for i, ((x, y), kvs) in enumerate(sorted(at.items())):
        known = [k for k in kvs if k > 0]
        max_volt = float(max(known)) if known else -999999.0
        if i % 7 == 3:  # HIFLD leaves MAX_VOLT unknown for a good share of substations
            max_volt = -999999.0
        name = f"SYNTHETIC {words[i % len(words)].upper()} {i + 1}" if i % 5 else f"UNKNOWN{900100 + i}"
        records.append({"NAME": name, "STATE": DEMO_REGION, "TYPE": "SUBSTATION", "STATUS": "IN SERVICE",
                        "LINES": len(kvs), "MAX_VOLT": max_volt,
                        "MIN_VOLT": float(min(known)) if known else -999999.0})
        geoms.append(shapely.Point(x, y))
    # Distribution substations away from the grid backbone (69 kV or unknown).
    for j in range(40 - len(records)):
        x, y = rng.uniform(5, WIDTH_KM - 5), rng.uniform(5, HEIGHT_KM - 5)
        kv = 69.0 if j % 3 else -999999.0
        records.append({"NAME": f"SYNTHETIC DISTRIBUTION {j + 1}", "STATE": DEMO_REGION, "TYPE": "SUBSTATION",
                        "STATUS": "IN SERVICE", "LINES": 1, "MAX_VOLT": kv, "MIN_VOLT": kv})
        geoms.append(shapely.Point(round(x, 3), round(y, 3)))
    return _frame(records, geoms)


def _power_plants() -> gpd.GeoDataFrame:
    rng = _rng("power_plants")
    # (name, PrimSource, MW, x, y): big plants near the 345-500 kV hubs, solar in the basins.
    plants = [
        ("Synthetic Junction Gas Plant", "natural gas", 1210.0, 96, 58),
        ("Synthetic Mesa Solar Ranch", "solar", 350.0, 38, 58),
        ("Synthetic Playa Solar One", "solar", 250.0, 150, 60),
        ("Synthetic Playa Solar Two", "solar", 150.0, 175, 66),
        ("Synthetic Flats Wind Farm", "wind", 210.0, 60, 100),
        ("Synthetic Reservoir Dam", "hydroelectric", 120.0, 90, 9),
        ("Synthetic Canal Hydro", "hydroelectric", 12.5, 134, 98),
        ("Synthetic Valley Peaker", "natural gas", 180.0, 87, 98),
        ("Synthetic Basin Battery Storage", "batteries", 100.0, 44, 64),
        ("Synthetic Energy Nuclear Station", "nuclear", 1340.0, 112, 36),
        ("Synthetic Sierra Geothermal", "geothermal", 45.0, 158, 20),
        ("Synthetic Desert Solar", "solar", 80.0, 186, 112),
        ("Synthetic Wash Solar", "solar", 20.0, 52, 6),
        ("Synthetic Peak Wind", "wind", 99.0, 18, 124),
        ("Synthetic Crags Biomass", "biomass", 25.0, 100, 122),
        ("Synthetic Playa Combined Cycle", "natural gas", 640.0, 140, 66),
        ("Synthetic Town Diesel", "petroleum", 4.2, 101, 64),
        ("Synthetic East Solar", "solar", 300.0, 200, 100),
        ("Synthetic Springs Solar", "solar", 60.0, 22, 30),
        ("Synthetic Railyard Battery", "batteries", 40.0, 98, 54),
    ]
    records, geoms = [], []
    for i, (name, fuel, mw, x, y) in enumerate(plants):
        records.append({"Plant_Code": 990001 + i, "Plant_Name": name, "Utility_Name": "Synthetic Power Co",
                        "State": STATE_NAME, "PrimSource": fuel, "Install_MW": round(mw * rng.uniform(1.0, 1.12), 1),
                        "Total_MW": mw})
        geoms.append(shapely.Point(x, y))
    gdf = _frame(records, geoms)
    gdf.insert(len(gdf.columns) - 2, "Longitude", gdf.geometry.x)
    gdf.insert(len(gdf.columns) - 2, "Latitude", gdf.geometry.y)
    return gdf


def _rivers() -> gpd.GeoDataFrame:
    rng = _rng("rivers")
    rivers = [
        ("Synthetic River", "River", 10, ((207, 118), (160, 104), (138, 100), (115, 80), (98, 72), (75, 57),
                                          (40, 30), (-5, 18))),
        ("Synthetic Creek", "River", 11, ((140, 154), (134, 125), (138, 100))),
        ("Dry Wash", "River (Intermittent)", 12, ((100, -5), (92, 20), (75, 57))),
        ("Little Synthetic River", "River", 11, ((10, 154), (15, 110), (22, 75), (40, 30))),
        ("Synthetic Gila River", "River", 10, ((207, 40), (170, 50), (140, 42), (118, 22), (86, 9), (60, 22),
                                               (40, 30))),
        (None, "River (Intermittent)", 12, ((180, 154), (185, 120))),  # NE has unnamed reaches too
    ]
    records, geoms = [], []
    for name, cla, rank, pts in rivers:
        records.append({"name": name, "name_full": f"{name} (synthetic)" if name else None, "featurecla": cla,
                        "scalerank": rank})
        geoms.append(_wiggle(rng, pts, 6.0, 0.8))
    return _frame(records, geoms)


def _lakes() -> gpd.GeoDataFrame:
    rng = _rng("lakes")
    lakes = [("Lake Synthetica", "Reservoir", "Synthetic Canal Dam", 1968, (138, 100, 4, 2.5, 20)),
             ("Synthetic Reservoir", "Reservoir", "Synthetic Reservoir Dam", 1952, (86, 9, 4, 2, -10)),
             ("Synthetic Dry Lake", "Alkaline Lake", None, -99, (118, 140, 3.5, 2, 0))]
    records, geoms = [], []
    for name, cla, dam, year, blob in lakes:
        records.append({"name": name, "featurecla": cla, "scalerank": 9, "dam_name": dam, "year": year})
        geoms.append(_multi(_blob(rng, *blob)))
    return _frame(records, geoms)


def _water_stress() -> gpd.GeoDataFrame:
    """Aqueduct-like cells covering ~70 % of the region, with blocky gaps as in the placeholder."""
    rng = _rng("water_stress")
    labels = {-9999: "No Data", -1: "Arid and Low Water Use", 0: "Low (<10%)", 1: "Low - Medium (10-20%)",
              2: "Medium - High (20-40%)", 3: "High (40-80%)", 4: "Extremely High (>80%)"}
    step = 0.2
    cols, rows = math.ceil((_LON1 - _LON0) / step), math.ceil((_LAT1 - _LAT0) / step)
    gaps = {(c, r) for c in range(8, 11) for r in range(4, 7)}  # NE block
    gaps |= {(c, r) for c in range(0, 2) for r in range(3, 6)}  # west block
    gaps |= {(c, r) for c in range(4, 7) for r in range(0, 2)}  # south-centre block
    gaps |= {(7, 3), (2, 0), (10, 0)}
    records, geoms = [], []
    for r in range(rows):
        for c in range(cols):
            if (c, r) in gaps:
                continue
            w, s = _LON0 + c * step, _LAT0 + r * step
            xk, yk = lonlat_to_km(w + step / 2, s + step / 2)
            # Drier (higher stress) to the south and west, as in the real south-west.
            cat = int(np.clip(np.round(4.4 - 2.2 * yk / HEIGHT_KM - 1.0 * xk / WIDTH_KM + rng.normal(0, 0.4)), 0, 4))
            if c <= 1 and r <= 1:
                cat = -1  # arid corner
            if (c, r) in {(5, 3), (9, 1)}:
                cat = -9999
            records.append({"bws_cat": cat, "bws_label": labels[cat], "valid_input": cat != -9999})
            geoms.append(shapely.box(w, s, w + step, s + step))
    gdf = gpd.GeoDataFrame(pd.DataFrame.from_records(records), geometry=[_multi(g) for g in geoms],
                           crs="EPSG:4326")
    gdf["note"] = DEMO_LABEL
    return gdf


def _roads() -> gpd.GeoDataFrame:
    records, geoms = [], []
    for name, cls, rtype, rid, pts in _ROADS:
        line = shapely.LineString(pts)
        # TIGER digitises divided Interstates once per carriageway; mimic it for I- 99.
        carriageways = [line.offset_curve(0.03), line.offset_curve(-0.03)] if name == "I- 99" else [line]
        for part in carriageways:
            records.append({"road_class": cls, "route_type": rtype, "route_id": rid, "name": name,
                            "state": DEMO_REGION, "is_interstate": rtype == "I",
                            "business_route": " Bus" in name or name.endswith(" Lp"),
                            "length_km": round(part.length, 3)})
            geoms.append(_multi(part))
    return _frame(records, geoms)


def _railroads() -> gpd.GeoDataFrame:
    lines = [((-5, 57), (60, 54), (98, 55), (150, 58), (207, 52)),
             ((98, 55), (98, -5)),
             ((98, 55), (130, 90), (160, 120), (170, 155)),
             ((30, 55), (12, -5))]
    records = [{"sov_a3": "USA", "featurecla": "Railroad", "scalerank": 8, "natrlscale": 0, "add": 0,
                "uident": 880001 + i, "continent": "North America", "in_us": True} for i in range(len(lines))]
    return _frame(records, [shapely.LineString(p) for p in lines])


def _ports() -> gpd.GeoDataFrame:
    pts = [("Port of West Synthetica", 0.0, 20.0, 6), ("East Synthetica Inland Port", WIDTH_KM, 30.0, 7)]
    records = [{"name": n, "featurecla": "Port", "scalerank": r, "state_postal": DEMO_REGION, "in_us": True}
               for n, _, _, r in pts]
    return _frame(records, [shapely.Point(x, y) for _, x, y, _ in pts])


def _airports() -> gpd.GeoDataFrame:
    pts = [("Synthetica City Int'l", "major", "XSC", 100.0, 64.0), ("Mesa Regional", "mid", "XMR", 28.0, 72.0),
           ("Playa Municipal", "small", "XPM", 172.0, 58.0)]
    records = [{"name": n, "type": t, "iata_code": c, "featurecla": "Airport", "state_postal": DEMO_REGION,
                "in_us": True} for n, t, c, _, _ in pts]
    return _frame(records, [shapely.Point(x, y) for *_, x, y in pts])


def _counties() -> gpd.GeoDataFrame:
    """A 4 x 3 tiling with jittered shared corners, so neighbours share edges exactly."""
    rng = _rng("counties")
    nx, ny = 4, 3
    xs = np.linspace(0.0, WIDTH_KM, nx + 1)
    ys = np.linspace(0.0, HEIGHT_KM, ny + 1)
    vx, vy = np.meshgrid(xs, ys, indexing="ij")
    # Interior corners move freely; edge corners slide along the edge; the four corners stay.
    jx, jy = rng.uniform(-8, 8, vx.shape), rng.uniform(-7, 7, vy.shape)
    vx[1:-1, :] += jx[1:-1, :]
    vy[:, 1:-1] += jy[:, 1:-1]
    names = ["Arroyo", "Basin", "Cholla", "Dunes", "Escarpment", "Flats", "Gila", "Hondo", "Ironwood",
             "Juniper", "Kiva", "Lava"]
    # A metro county in the middle (around the airport), small rural ones elsewhere,
    # and two with no estimate (like the real Connecticut / Valdez-Cordova gaps).
    pops = [8200, 41000, 5300, 12700, 96000, 612000, 23800, None, 3100, None, 15400, 2600]
    records, geoms = [], []
    for i in range(nx):
        for j in range(ny):
            k = i * ny + j
            ring = [(vx[i, j], vy[i, j]), (vx[i + 1, j], vy[i + 1, j]), (vx[i + 1, j + 1], vy[i + 1, j + 1]),
                    (vx[i, j + 1], vy[i, j + 1])]
            records.append({"geoid": f"99{k * 2 + 1:03d}", "name": f"{names[k]} County (synthetic)",
                            "stusps": DEMO_REGION, "pop_latest": pops[k],
                            "pop_latest_year": 2024 if pops[k] is not None else None})
            geoms.append(_multi(shapely.Polygon(ring)))
    gdf = _frame(records, geoms)
    gdf["pop_latest"] = gdf["pop_latest"].astype("Int64")
    gdf["pop_latest_year"] = gdf["pop_latest_year"].astype("Int64")
    return gdf


# -- rasters ------------------------------------------------------------------------------------

_RASTER_PROFILE = {"driver": "GTiff", "dtype": "float32", "count": 1, "nodata": -9999.0, "tiled": True,
                   "blockxsize": 256, "blockysize": 256, "compress": "deflate", "predictor": 3, "zlevel": 9}


def _write_raster(path: pathlib.Path, data: np.ndarray, crs: str, transform: Affine,
                  tags: dict[str, str]) -> None:
    profile = dict(_RASTER_PROFILE, height=data.shape[0], width=data.shape[1], crs=crs, transform=transform)
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data.astype(np.float32), 1)
        ds.update_tags(NOTE=DEMO_LABEL, SOURCE="generated by sitesel.demo.make_demo", DEMO_VERSION=str(DEMO_VERSION),
                       **tags)
        ds.set_band_description(1, f"{tags.get('UNITS', '')} ({DEMO_LABEL})")


def _write_dem(path: pathlib.Path, margin_km: float = 25.0, res: float = 1000.0) -> None:
    """The DEM in EPSG:5070 at 1 km, covering the region plus a margin."""
    to_albers = Transformer.from_crs("EPSG:4326", "EPSG:5070", always_xy=True)
    pad = margin_km / KM_PER_DEG_LAT
    x0, y0, x1, y1 = to_albers.transform_bounds(_LON0 - pad, _LAT0 - pad, _LON1 + pad, _LAT1 + pad,
                                                densify_pts=21)
    x0, y0 = math.floor(x0 / res) * res, math.floor(y0 / res) * res
    x1, y1 = math.ceil(x1 / res) * res, math.ceil(y1 / res) * res
    width, height = int(round((x1 - x0) / res)), int(round((y1 - y0) / res))
    cx = x0 + (np.arange(width) + 0.5) * res
    cy = y1 - (np.arange(height) + 0.5) * res
    gx, gy = np.meshgrid(cx, cy)
    lon, lat = Transformer.from_crs("EPSG:5070", "EPSG:4326", always_xy=True).transform(gx, gy)
    xk, yk = lonlat_to_km(lon, lat)
    z = elevation_m(xk, yk, roughness=_rng("dem").standard_normal(gx.shape))
    z = np.round(z, 1)  # decimetres, like the real gridMET DEM
    for hx, hy, r in _DEM_HOLES:
        z[np.hypot(xk - hx, yk - hy) <= r] = -9999.0
    _write_raster(path, z, "EPSG:5070", Affine(res, 0.0, x0, 0.0, -res, y1),
                  {"UNITS": "metres above sea level", "NODATA_MEANING": "synthetic holes to exercise nodata handling"})


def _write_ghi(path: pathlib.Path, margin_deg: float = 0.3, res: float = 0.02) -> None:
    """GHI in EPSG:4269 (NAD83 lon/lat) at 0.02 deg, in MJ/m2/day like PRISM."""
    w = math.floor((_LON0 - margin_deg) / res) * res
    n = math.ceil((_LAT1 + margin_deg) / res) * res
    width = int(round((_LON1 + margin_deg - w) / res)) + 1
    height = int(round((n - (_LAT0 - margin_deg)) / res)) + 1
    lon = w + (np.arange(width) + 0.5) * res
    lat = n - (np.arange(height) + 0.5) * res
    glon, glat = np.meshgrid(lon, lat)
    xk, yk = lonlat_to_km(glon, glat)
    g = np.round(ghi_mj(xk, yk, _rng("ghi").standard_normal(glon.shape)), 2)
    g[:4, -6:] = -9999.0  # a nodata patch in the margin, like PRISM's ocean cells
    _write_raster(path, g, "EPSG:4269", Affine(res, 0.0, round(w, 10), 0.0, -res, round(n, 10)),
                  {"UNITS": "MJ m-2 day-1 (divide by 3.6 for kWh m-2 day-1)"})


# -- writing ------------------------------------------------------------------------------------

@contextlib.contextmanager
def _fixed_gdal_clock() -> Iterator[None]:
    old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": _FIXED_DATE})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})


def _write_gpkg(gdf: gpd.GeoDataFrame, path: pathlib.Path, layer: str, what: str) -> None:
    gdf = gdf.copy()
    gdf.geometry = shapely.transform(gdf.geometry.values, lambda c: np.round(c, _COORD_DECIMALS))
    pyogrio.write_dataframe(gdf, path, layer=layer, driver="GPKG",
                            layer_options={"DESCRIPTION": f"{DEMO_LABEL}: {what}", "IDENTIFIER": layer})


def _write_geojson(features: list[dict], path: pathlib.Path) -> None:
    # One feature per line and no "crs" member, exactly like the PAD-US extracts.
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    text = '{"type":"FeatureCollection", "features": [\n' + ",\n".join(lines) + "\n]}\n"
    path.write_text(text, encoding="utf-8")


_MANIFEST = """\
# {label}
#
# Layer manifest of the sitesel demo dataset (DEMO_VERSION = {version}), written by
# sitesel.demo.make_demo. Every file beside it is invented: the state "{region}" ({state})
# and all its land, lines, roads and terrain are generated from a fixed random seed and only
# overlap real geography by chance. Use it to try sitesel offline, never for real siting.
#
# The files copy the formats and quirks of the real national layers (see docs/schema.md), so
# a demo run goes through the same loader code as a run on PAD-US, HIFLD, TIGER, etc.

title = "sitesel demo: {state}"
description = "{label}. Invented region '{region}' for offline demos and tests."
root = "."

[layers.states]
description = "{label}"
path = "states.gpkg"
layer = "states"
fields = {{ code = "stusps", name = "name" }}

# National Atlas agency codes (FS, BOR) mapped to PAD-US codes; two polygons are invalid bow-ties.
[layers.federal_lands]
description = "{label}"
path = "federal_lands.gpkg"
layer = "federal_lands"
fields = {{ agency = "agency", unit = "unit_name" }}
agency_map = {{ FS = "USFS", BOR = "USBR" }}

# PAD-US style GeoJSON (no CRS member); the designation is inferred from the unit name.
[layers.protected_areas]
description = "{label}"
path = "protected.geojson"
layer = "protected"
fields = {{ unit = "NAME", agency = "MANNAME" }}
designation_from = "unit"

[layers.transmission_lines]
description = "{label}"
path = "transmission.gpkg"
layer = "lines"
fields = {{ voltage_kv = "VOLTAGE" }}
sentinels = {{ voltage_kv = [-999999] }}

[layers.substations]
description = "{label}"
path = "substations.gpkg"
layer = "substations"
fields = {{ max_kv = "MAX_VOLT", name = "NAME" }}
sentinels = {{ max_kv = [-999999] }}

[layers.power_plants]
description = "{label}"
path = "power_plants.gpkg"
layer = "plants"
fields = {{ mw = "Total_MW", fuel = "PrimSource", name = "Plant_Name" }}

[layers.rivers]
description = "{label}"
path = "rivers.gpkg"
layer = "rivers"
fields = {{ name = "name" }}

[layers.lakes]
description = "{label}"
path = "lakes.gpkg"
layer = "lakes"
fields = {{ name = "name" }}

# Aqueduct codes: -1 = arid and low water use (treated as extremely high), -9999 = no data.
[layers.water_stress]
description = "{label}"
path = "water_stress.gpkg"
layer = "bws"
fields = {{ bws_cat = "bws_cat" }}
sentinels = {{ bws_cat = [-9999] }}
value_map = {{ bws_cat = {{ "-1" = 4 }} }}

# Mainline Interstates only: business loops are surface streets.
[layers.interstates]
description = "{label}"
path = "roads.gpkg"
layer = "roads"
fields = {{ name = "name" }}
where = "is_interstate = 1 AND business_route = 0"

[layers.highways]
description = "{label}"
path = "roads.gpkg"
layer = "roads"
fields = {{ name = "name" }}

# Natural Earth railroads carry no name column.
[layers.railroads]
description = "{label}"
path = "railroads.gpkg"
layer = "rail"

[layers.ports]
description = "{label}"
path = "ports.gpkg"
layer = "ports"
fields = {{ name = "name" }}

[layers.airports]
description = "{label}"
path = "airports.gpkg"
layer = "airports"
fields = {{ name = "name" }}

[layers.counties]
description = "{label}"
path = "counties.gpkg"
layer = "counties"
fields = {{ population = "pop_latest", name = "name" }}

# EPSG:5070, 1000 m, metres, nodata -9999 (with a few holes).
[layers.dem]
description = "{label}"
kind = "raster"
path = "dem.tif"

# EPSG:4269, 0.02 deg, MJ/m2/day; the scale converts to kWh/m2/day.
[layers.solar]
description = "{label}"
kind = "raster"
path = "ghi.tif"
scale = 0.2777777777777778
"""


def manifest_text() -> str:
    """The demo's ``manifest.toml`` contents."""
    return _MANIFEST.format(label=DEMO_LABEL, version=DEMO_VERSION, region=DEMO_REGION, state=STATE_NAME)


def _build(out: pathlib.Path) -> list[str]:
    """Write every demo file into ``out``; return their names, manifest last."""
    vectors: list[tuple[str, str, Callable[[], gpd.GeoDataFrame], str]] = [
        ("states.gpkg", "states", _states, "one invented state"),
        ("transmission.gpkg", "lines", _transmission, "HIFLD-style transmission lines, VOLTAGE -999999 = unknown"),
        ("substations.gpkg", "substations", _substations, "HIFLD-style substations, MAX_VOLT -999999 = unknown"),
        ("power_plants.gpkg", "plants", _power_plants, "EIA-style power plants"),
        ("rivers.gpkg", "rivers", _rivers, "Natural Earth-style rivers"),
        ("lakes.gpkg", "lakes", _lakes, "Natural Earth-style lakes"),
        ("water_stress.gpkg", "bws", _water_stress, "Aqueduct-style water stress, -1 arid, -9999 no data"),
        ("roads.gpkg", "roads", _roads, "TIGER-style Interstates, US and state highways"),
        ("railroads.gpkg", "rail", _railroads, "Natural Earth-style main-line railroads"),
        ("ports.gpkg", "ports", _ports, "Natural Earth-style ports"),
        ("airports.gpkg", "airports", _airports, "Natural Earth-style airports"),
        ("counties.gpkg", "counties", _counties, "Census-style counties with population"),
    ]
    names = []
    with _fixed_gdal_clock():
        for fname, layer, build, what in vectors:
            _write_gpkg(build(), out / fname, layer, what)
            names.append(fname)
        records, geoms = _federal_units_km()
        lands, collapsed = _federal_lands(records, geoms)
        _write_gpkg(lands, out / "federal_lands.gpkg", "federal_lands",
                    "National Atlas-style federal land (agency codes FS, BOR, ...), two invalid polygons")
        _write_gpkg(collapsed, out / "federal_lands.gpkg", "collapsed_small_units_points",
                    "small units collapsed to points")
        names.append("federal_lands.gpkg")
    hosts = {r["unit_name"]: shapely.make_valid(g) for r, g in zip(records, geoms)}
    _write_geojson(_protected(hosts), out / "protected.geojson")
    _write_dem(out / "dem.tif")
    _write_ghi(out / "ghi.tif")
    names += ["protected.geojson", "dem.tif", "ghi.tif"]
    (out / MANIFEST_NAME).write_text(manifest_text(), encoding="utf-8")
    names.append(MANIFEST_NAME)
    return names


def _is_complete(directory: pathlib.Path) -> bool:
    """True if ``directory`` holds a finished demo of this DEMO_VERSION with untruncated files."""
    try:
        stamp = json.loads((directory / STAMP_NAME).read_text(encoding="utf-8"))
        return stamp.get("demo_version") == DEMO_VERSION and all(
            (directory / name).stat().st_size == size for name, size in stamp["files"].items()
        )
    except (OSError, ValueError, KeyError, AttributeError, TypeError):
        return False


def make_demo(directory: str | os.PathLike) -> pathlib.Path:
    """Write the synthetic demo dataset into `directory` (created if needed) and return the path of its manifest.toml.

    Idempotent: if the directory already holds a complete demo of the same DEMO_VERSION, return
    quickly without rewriting.

    Parameters
    ----------
    directory : str or path-like
        Output folder. Other files in it are left alone.

    Returns
    -------
    pathlib.Path
        ``directory / "manifest.toml"``; load it with :func:`sitesel.io.manifest.load_manifest` and
        use region ``DEMO_REGION`` (``"XX"``).

    Notes
    -----
    Files are built in a private temporary folder and moved into place one by one, then a
    stamp file is written last, so an interrupted or concurrent build never leaves a folder
    that looks complete but is not.
    """
    directory = pathlib.Path(directory)
    manifest = directory / MANIFEST_NAME
    if _is_complete(directory):
        return manifest
    directory.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=".demo-build-", dir=directory))
    try:
        names = _build(tmp)
        sizes = {name: (tmp / name).stat().st_size for name in names}
        for name in names:
            os.replace(tmp / name, directory / name)
        stamp = {"demo_version": DEMO_VERSION, "label": DEMO_LABEL, "files": sizes}
        (tmp / STAMP_NAME).write_text(json.dumps(stamp, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp / STAMP_NAME, directory / STAMP_NAME)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest
