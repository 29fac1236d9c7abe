"""The demo's vector layers, in the formats and with the quirks of the real national layers.

Each builder returns the layer in lon/lat (EPSG:4326) with a ``note`` column saying the data are
synthetic: National Atlas agency codes, HIFLD ``-999999`` sentinels, WRI Aqueduct ``-1`` and
``-9999`` codes, TIGER business loops, invalid federal polygons and PAD-US features without a
CRS member.
"""
from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from sitesel.demo.shapes import (
    DEMO_BOUNDS,
    DEMO_LABEL,
    DEMO_REGION,
    HEIGHT_KM,
    STATE_NAME,
    WIDTH_KM,
    blob,
    bowtie,
    layer_rng,
    lonlat_to_km,
    multi,
    polygonal,
    region_km,
    to_lonlat,
    wiggle,
)

__all__ = ["airports", "counties", "federal_lands", "federal_units_km", "lakes", "ports", "power_plants",
           "protected", "railroads", "rivers", "roads", "states", "substations", "transmission", "water_stress"]

_LON0, _LAT0, _LON1, _LAT1 = DEMO_BOUNDS

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

def _frame(records: list[dict], geoms: list[shapely.Geometry]) -> gpd.GeoDataFrame:
    """A layer from attribute records and design geometries (km), labelled as synthetic."""
    df = pd.DataFrame.from_records(records)
    df["note"] = DEMO_LABEL
    return gpd.GeoDataFrame(df, geometry=[to_lonlat(g) for g in geoms], crs="EPSG:4326")


def states() -> gpd.GeoDataFrame:
    """The invented state (Census style)."""
    rec = {"statefp": "99", "geoid": "99", "stusps": DEMO_REGION, "name": STATE_NAME, "lsad": "00",
           "aland": int(WIDTH_KM * HEIGHT_KM * 1e6), "awater": 0, "is_state": False}
    return _frame([rec], [multi(region_km())])


_AGENCY_NAMES = {"BLM": "Bureau of Land Management", "FS": "Forest Service", "DOD": "Department of Defense",
                 "DOE": "Department of Energy", "BOR": "Bureau of Reclamation", "NPS": "National Park Service",
                 "FWS": "Fish and Wildlife Service", "BIA": "Bureau of Indian Affairs"}


def federal_units_km() -> tuple[list[dict], list[shapely.Geometry]]:
    """Attributes and design geometries (km) of the federal units, bow-ties last and unrepaired."""
    rng = layer_rng("federal_lands")
    region = region_km()
    taken = shapely.Polygon()
    records, geoms = [], []
    for agency, unit, cx, cy, rx, ry, rot in _FEDERAL:
        unit_shape = blob(rng, cx, cy, rx, ry, rot)
        geoms.append(polygonal(unit_shape.intersection(region).difference(taken)))
        taken = taken.union(unit_shape)
        records.append({"agency": agency, "agency_name": _AGENCY_NAMES[agency], "unit_name": unit,
                        "made_valid": False})
    for agency, unit, box in _BOWTIES:
        # Not repaired on purpose: the real National Atlas file needed make_valid on 196 polygons.
        geoms.append(bowtie(*box))
        records.append({"agency": agency, "agency_name": _AGENCY_NAMES[agency], "unit_name": unit,
                        "made_valid": False})
    return records, geoms


def federal_lands(records: list[dict], geoms: list[shapely.Geometry]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Federal land polygons (National Atlas style) and a layer of collapsed small units."""
    lands = _frame(records, [multi(g) for g in geoms])
    # Area in km2 like the real file's area_km2 (the bow-ties measured after repair).
    lands.insert(4, "area_km2", [round(shapely.make_valid(g).area, 3) for g in geoms])
    # Small units that the real generalisation collapsed to points: a second layer, so a
    # manifest must name the polygon layer explicitly.
    pts = [("FS", 140.0, 20.0), ("BLM", 45.0, 95.0), ("BOR", 100.0, 140.0)]
    collapsed = _frame([{"agency": a, "agency_name": _AGENCY_NAMES[a], "unit_name": None} for a, _, _ in pts],
                       [shapely.Point(x, y) for _, x, y in pts])
    return lands, collapsed


def protected(hosts: dict[str, shapely.Geometry]) -> list[dict]:
    """PAD-US style features as GeoJSON dicts (written by hand: the real files carry no CRS member).

    Parameters
    ----------
    hosts : dict
        Federal unit name -> valid design geometry (km), so designations nest in their unit.
    """
    rng = layer_rng("protected")
    region = region_km()
    features = []
    for i, (name, manager, blobs, host) in enumerate(_PROTECTED):
        parts = [blob(rng, *b) for b in blobs]
        geom = shapely.union_all(parts).intersection(region)
        if host is not None:
            # Designations nest inside the unit that manages them, as in PAD-US.
            geom = geom.intersection(hosts[host].buffer(-0.2))
        else:
            geom = geom.difference(shapely.union_all(list(hosts.values())))
        geom = polygonal(geom)
        fed = manager in ("BLM", "USFS")
        props = {"NAME": name, "OWNTYPE": "FED" if fed else "STAT", "OWNNAME": manager if fed else "SPR",
                 "MANTYPE": "FED" if fed else "STAT", "MANNAME": manager, "note": DEMO_LABEL}
        features.append({"type": "Feature", "geometry": shapely.geometry.mapping(to_lonlat(geom)),
                         "properties": props, "id": str(101 + i)})
    return features


def transmission() -> gpd.GeoDataFrame:
    """HIFLD-style transmission lines, ``VOLTAGE`` -999999 where unknown."""
    bands = {500: "500", 345: "345", 230: "220-287", 138: "100-161", 115: "100-161", -999999: "NOT AVAILABLE"}
    records, geoms = [], []
    for i, (kv, pts) in enumerate(_LINES):
        records.append({"ID": f"SYN{100 + i}", "TYPE": "AC; OVERHEAD", "STATUS": "IN SERVICE",
                        "OWNER": "SYNTHETIC POWER CO", "VOLTAGE": float(kv), "VOLT_CLASS": bands[kv]})
        geoms.append(multi(shapely.LineString(pts)))
    return _frame(records, geoms)


def substations() -> gpd.GeoDataFrame:
    """Substations on every line vertex (max voltage of the lines meeting there) plus a few others."""
    rng = layer_rng("substations")
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


def power_plants() -> gpd.GeoDataFrame:
    """EIA-style power plants."""
    rng = layer_rng("power_plants")
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


def rivers() -> gpd.GeoDataFrame:
    """Natural Earth-style rivers (one unnamed)."""
    rng = layer_rng("rivers")
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
        geoms.append(wiggle(rng, pts, 6.0, 0.8))
    return _frame(records, geoms)


def lakes() -> gpd.GeoDataFrame:
    """Natural Earth-style lakes and reservoirs."""
    rng = layer_rng("lakes")
    lakes = [("Lake Synthetica", "Reservoir", "Synthetic Canal Dam", 1968, (138, 100, 4, 2.5, 20)),
             ("Synthetic Reservoir", "Reservoir", "Synthetic Reservoir Dam", 1952, (86, 9, 4, 2, -10)),
             ("Synthetic Dry Lake", "Alkaline Lake", None, -99, (118, 140, 3.5, 2, 0))]
    records, geoms = [], []
    for name, cla, dam, year, outline in lakes:
        records.append({"name": name, "featurecla": cla, "scalerank": 9, "dam_name": dam, "year": year})
        geoms.append(multi(blob(rng, *outline)))
    return _frame(records, geoms)


def water_stress() -> gpd.GeoDataFrame:
    """Aqueduct-like cells covering ~70 % of the region, with blocky gaps as in the placeholder."""
    rng = layer_rng("water_stress")
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
    gdf = gpd.GeoDataFrame(pd.DataFrame.from_records(records), geometry=[multi(g) for g in geoms],
                           crs="EPSG:4326")
    gdf["note"] = DEMO_LABEL
    return gdf


def roads() -> gpd.GeoDataFrame:
    """TIGER-style Interstates (divided ones twice), US and state highways."""
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
            geoms.append(multi(part))
    return _frame(records, geoms)


def railroads() -> gpd.GeoDataFrame:
    """Natural Earth-style main-line railroads (no names)."""
    lines = [((-5, 57), (60, 54), (98, 55), (150, 58), (207, 52)),
             ((98, 55), (98, -5)),
             ((98, 55), (130, 90), (160, 120), (170, 155)),
             ((30, 55), (12, -5))]
    records = [{"sov_a3": "USA", "featurecla": "Railroad", "scalerank": 8, "natrlscale": 0, "add": 0,
                "uident": 880001 + i, "continent": "North America", "in_us": True} for i in range(len(lines))]
    return _frame(records, [shapely.LineString(p) for p in lines])


def ports() -> gpd.GeoDataFrame:
    """Natural Earth-style ports."""
    pts = [("Port of West Synthetica", 0.0, 20.0, 6), ("East Synthetica Inland Port", WIDTH_KM, 30.0, 7)]
    records = [{"name": n, "featurecla": "Port", "scalerank": r, "state_postal": DEMO_REGION, "in_us": True}
               for n, _, _, r in pts]
    return _frame(records, [shapely.Point(x, y) for _, x, y, _ in pts])


def airports() -> gpd.GeoDataFrame:
    """Natural Earth-style airports."""
    pts = [("Synthetica City Int'l", "major", "XSC", 100.0, 64.0), ("Mesa Regional", "mid", "XMR", 28.0, 72.0),
           ("Playa Municipal", "small", "XPM", 172.0, 58.0)]
    records = [{"name": n, "type": t, "iata_code": c, "featurecla": "Airport", "state_postal": DEMO_REGION,
                "in_us": True} for n, t, c, _, _ in pts]
    return _frame(records, [shapely.Point(x, y) for *_, x, y in pts])


def counties() -> gpd.GeoDataFrame:
    """A 4 x 3 tiling with jittered shared corners, so neighbours share edges exactly."""
    rng = layer_rng("counties")
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
            geoms.append(multi(shapely.Polygon(ring)))
    gdf = _frame(records, geoms)
    gdf["pop_latest"] = gdf["pop_latest"].astype("Int64")
    gdf["pop_latest_year"] = gdf["pop_latest_year"].astype("Int64")
    return gdf
