"""Context layers made ready for the interactive map: simplified, thinned to fit, as GeoJSON.

A map embeds its context layers as GeoJSON, which for a large region would run to tens of
megabytes. :func:`display_frames` simplifies and thins the layers to fit a byte budget, and the
frames and their JSON text are kept (:data:`DISPLAY`, :data:`JSON_MEMO`) so that the maps of
several park types over one study share them.
"""
from __future__ import annotations

import json

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import GeometryType

from sitesel.maps.context import DISPLAY_DECIMALS, for_display
from sitesel.maps.popups import esc
from sitesel.maps.styles import AGENCY_COLORS, KV_STYLES, MW_STYLES, style_classes

__all__ = ["CONTEXT_BUDGET_BYTES", "DISPLAY", "DisplayCache", "JSON_MEMO", "JsonMemo", "SIMPLIFY_FRACTION",
           "THINNING", "context_frame", "display_frames", "feature_collection", "json_size", "use_json_memo"]

#: Display simplification of context layers, as a fraction of the region's diagonal. 1/5000 of
#: a four-state region is ~400 m: invisible below zoom 10, and it keeps the map a few MB.
SIMPLIFY_FRACTION = 1 / 5000
#: Context layers may take this many bytes of GeoJSON in the page; past it, lines and polygons
#: are simplified harder (a lower-48 map would otherwise carry some 20 MB of roads and lines, and
#: take long to open). Four states fit unthinned.
CONTEXT_BUDGET_BYTES = 6_000_000


class DisplayCache:
    """Display-ready context layers, shared by the maps of several park types over one study.

    Entries are keyed by (layer, id(source), tolerance, thinned) and keep their source frame, so
    an id is not reused while its entry lives; a hit also checks the source is the same object.

    Parameters
    ----------
    limit : int
        Entries kept in each table; a table is emptied past this many.

    Attributes
    ----------
    frames : dict
        Key -> [source, display frame, GeoJSON size, feature collection or None].
    simplified : dict
        Key -> [source, simplified (not yet displayed) frame, estimated GeoJSON size].
    """

    def __init__(self, limit: int = 64):
        self.limit = limit
        self.frames: dict[tuple, list] = {}
        self.simplified: dict[tuple, list] = {}

    def clear(self) -> None:
        """Forget every frame (and the JSON text of their feature collections)."""
        self.frames.clear()
        self.simplified.clear()
        JSON_MEMO.clear()


class JsonMemo:
    """JSON text of the large context feature collections, made once however many maps embed them.

    Folium writes a layer's data with its template's ``tojson`` filter; :meth:`dumps` replaces
    ``json.dumps`` there (see :func:`use_json_memo`) and returns the kept text for a feature
    collection it was told to :meth:`remember` (same object, same arguments).
    """

    def __init__(self):
        self._texts: dict[int, tuple[dict, tuple[str, str] | None]] = {}  # id -> (dict, (kwargs, text))

    def remember(self, fc: dict) -> None:
        """Keep the JSON text of ``fc`` once it is first written."""
        self._texts[id(fc)] = (fc, None)

    def forget(self, fc: dict) -> None:
        """Stop keeping ``fc`` (its id may be reused once it is gone)."""
        self._texts.pop(id(fc), None)

    def clear(self) -> None:
        """Forget every text."""
        self._texts.clear()

    def dumps(self, obj: object, **kwargs) -> str:
        """``json.dumps(obj, **kwargs)``, from the kept text for a remembered feature collection."""
        hit = self._texts.get(id(obj))
        if hit is not None and hit[0] is obj:
            key = repr(sorted(kwargs.items()))
            if hit[1] is None or hit[1][0] != key:
                self._texts[id(obj)] = (obj, (key, json.dumps(obj, **kwargs)))
            return self._texts[id(obj)][1][1]
        return json.dumps(obj, **kwargs)


#: The process's display frames (see :func:`display_frames`).
DISPLAY = DisplayCache()
#: The process's JSON texts (see :func:`use_json_memo`).
JSON_MEMO = JsonMemo()


def use_json_memo() -> None:
    """Make folium write JSON through :meth:`JSON_MEMO.dumps <JsonMemo.dumps>`.

    Folium renders every element with one Jinja environment, whose ``tojson`` filter calls the
    environment's ``json.dumps_function`` policy; setting it there reaches every template. The
    text written is the same as ``json.dumps``'s. Called once, when
    :mod:`sitesel.maps.interactive` is imported; calling it again changes nothing.
    """
    folium.features.GeoJson._template.environment.policies["json.dumps_function"] = JSON_MEMO.dumps


def context_frame(name: str, gdf: gpd.GeoDataFrame, tolerance_m: float) -> gpd.GeoDataFrame:
    """A context layer for the page: WGS84, simplified, with an escaped ``tip`` and style columns.

    Parameters
    ----------
    name : str
        Context layer name (:data:`sitesel.maps.context.CONTEXTS`), which picks the style columns.
    gdf : GeoDataFrame
        The layer (metric CRS) with its ``label`` column.
    tolerance_m : float
        Simplification tolerance in metres.
    """
    d = for_display(gdf, tolerance_m)
    keep = ["geometry"]
    # Labels repeat (a road's name along its segments): each distinct one is escaped once.
    labels = pd.Series(d["label"].to_numpy(dtype=object), index=d.index)
    tips = {t: esc(t) for t in labels.unique()}
    d["tip"] = labels.map(tips)
    keep.append("tip")
    if name == "federal_land":
        d["agency"] = d["agency"].where(d["agency"].isin(list(AGENCY_COLORS)), "OTHER")
        keep.append("agency")
    elif name == "transmission_lines":
        d["cls"] = style_classes(d["voltage_kv"].astype(float), KV_STYLES)
        keep.append("cls")
    elif name == "power_plants":
        d["cls"] = style_classes(d["mw"].astype(float), MW_STYLES)
        keep.append("cls")
    elif name == "roads":
        keep.append("interstate")
    return d[keep]


#: How a map over budget is thinned, in order: (layer, filter, layer title afterwards).
THINNING = (
    ("roads", lambda g: g[g["interstate"].astype(bool)], "Interstates (other highways left out: map size)"),
    ("substations", lambda g: g[g["max_kv"].astype(float) >= 230],
     "Substations (>= 230 kV; smaller left out: map size)"),
    ("power_plants", lambda g: g[g["mw"].astype(float) >= 50], "Power plants >= 50 MW (smaller left out: map size)"),
)


def json_size(frames: dict[str, gpd.GeoDataFrame]) -> int:
    """Bytes the layers will take as GeoJSON (geometry exactly, properties estimated)."""
    total = 0
    for f in frames.values():
        if len(f):
            total += int(sum(map(len, shapely.to_geojson(f.geometry.values))))
            props = [c for c in f.columns if c != "geometry"]
            total += len(f) * (40 + 16 * len(props)) + int(sum(f[c].astype(str).str.len().sum() for c in props))
    return total


#: GeoJSON bytes per coordinate at :data:`~sitesel.maps.context.DISPLAY_DECIMALS` ("-104.12345,38.12345],[").
_COORD_BYTES = 2 * (DISPLAY_DECIMALS + 5) + 3
#: GeoJSON bytes of a feature besides its coordinates and label (type, id, style properties).
_FEATURE_BYTES = 110

_POINT_TYPES = (GeometryType.MISSING, GeometryType.POINT, GeometryType.MULTIPOINT)
_POLYGON_TYPES = (GeometryType.POLYGON, GeometryType.MULTIPOLYGON)


def _key(name: str, gdf: gpd.GeoDataFrame, tolerance_m: float, thinned: bool) -> tuple:
    points = bool(np.isin(shapely.get_type_id(gdf.geometry.values), _POINT_TYPES).all())
    return (name, id(gdf), 0.0 if points else tolerance_m, thinned)  # points do not simplify


def _simplified(name: str, gdf: gpd.GeoDataFrame, tolerance_m: float, thinned: bool) -> list:
    """The layer thinned (if asked) and simplified, with a cheap estimate of its GeoJSON size.

    Estimating from the simplified coordinates lets the map decide how to fit its budget without
    writing GeoJSON it would throw away (the highways of the lower 48 alone are ~11 MB).
    """
    key = _key(name, gdf, tolerance_m, thinned)
    entry = DISPLAY.simplified.get(key)
    if entry is None or entry[0] is not gdf:  # the source object is kept, so its id is not reused
        src = next(keep for n, keep, _ in THINNING if n == name)(gdf) if thinned else gdf
        geoms = src.geometry
        if key[2] > 0:
            polygons = bool(np.isin(shapely.get_type_id(geoms.values), _POLYGON_TYPES).any())
            src = src.set_geometry(geoms.simplify(tolerance_m, preserve_topology=polygons))
        labels = src["label"].astype(str).str.len().sum() if "label" in src and len(src) else 0
        size = int(shapely.get_num_coordinates(src.geometry.values).sum()) * _COORD_BYTES \
            + len(src) * _FEATURE_BYTES + int(labels)
        if len(DISPLAY.simplified) > DISPLAY.limit:
            DISPLAY.simplified.clear()
        entry = DISPLAY.simplified[key] = [gdf, src, size]
    return entry


def _frame_entry(name: str, gdf: gpd.GeoDataFrame, tolerance_m: float, thinned: bool) -> list:
    key = _key(name, gdf, tolerance_m, thinned)
    entry = DISPLAY.frames.get(key)
    if entry is None or entry[0] is not gdf:
        # Already simplified at this tolerance: for_display only moves it to WGS84 and rounds.
        frame = context_frame(name, _simplified(name, gdf, tolerance_m, thinned)[1], 0.0)
        if len(DISPLAY.frames) > DISPLAY.limit:
            DISPLAY.frames.clear()
            JSON_MEMO.clear()
        entry = DISPLAY.frames[key] = [gdf, frame, json_size({name: frame}), None]
    return entry


def display_frames(context: dict[str, gpd.GeoDataFrame], tolerance_m: float,
                   budget: int | None = None) -> tuple[dict[str, gpd.GeoDataFrame], dict[str, str]]:
    """Context layers ready for the page, fitted into ``budget`` bytes of GeoJSON.

    Four states fit as they are. Larger regions first lose minor features (highways other than
    Interstates, substations under 230 kV, plants under 50 MW, see :data:`THINNING`), then lines
    and polygons are simplified harder. The choice is made on estimated sizes, then checked on
    the GeoJSON itself.

    Parameters
    ----------
    context : dict
        Layer name -> GeoDataFrame (:func:`sitesel.maps.context.context_layers`).
    tolerance_m : float
        Simplification tolerance to start from, in metres.
    budget : int, optional
        Bytes of GeoJSON (default :data:`CONTEXT_BUDGET_BYTES`).

    Returns
    -------
    frames : dict
        Layer name -> GeoDataFrame in WGS84 with escaped ``tip`` and style columns.
    titles : dict
        Layer name -> title, for layers that were thinned.
    """
    budget = CONTEXT_BUDGET_BYTES if budget is None else budget
    titles: dict[str, str] = {}
    thinned: set[str] = set()
    steps = [s for s in THINNING if s[0] in context]
    for estimated in (True, False):
        for _ in range(len(steps) + 5):
            if estimated:
                size = sum(_simplified(n, g, tolerance_m, n in thinned)[2] for n, g in context.items())
            else:
                entries = {n: _frame_entry(n, g, tolerance_m, n in thinned) for n, g in context.items()}
                size = sum(e[2] for e in entries.values())
            if size <= budget:
                break
            if steps:
                name, _, title = steps.pop(0)
                thinned.add(name)
                titles[name] = title
            else:
                tolerance_m *= 2  # points do not shrink; lines and polygons do
    return {n: e[1] for n, e in entries.items()}, titles


def feature_collection(frame: gpd.GeoDataFrame) -> dict:
    """A display frame as a GeoJSON dict with string ids (folium's style map keys on them).

    Frames made by :func:`display_frames` get their collection made once and its JSON text kept
    (:data:`JSON_MEMO`); any other frame gets a fresh one.

    Parameters
    ----------
    frame : GeoDataFrame
        In WGS84.
    """
    for entry in DISPLAY.frames.values():
        if entry[1] is frame:
            if entry[3] is None:
                entry[3] = _as_fc(frame)
            return entry[3]
    fc = _as_fc(frame)
    JSON_MEMO.forget(fc)  # not kept: its id may be reused
    return fc


def _as_fc(frame: gpd.GeoDataFrame) -> dict:
    """The frame as a GeoJSON dict: geometries written by GEOS and the whole collection parsed in
    one go (much faster than building it feature by feature)."""
    geoms = shapely.to_geojson(frame.geometry.values)
    props = frame.drop(columns=frame.geometry.name)
    cols = list(props.columns)
    rows = zip(*(props[c].tolist() for c in cols)) if cols else ((),) * len(frame)
    parts = [f'{{"type":"Feature","id":"{i}","properties":{json.dumps(dict(zip(cols, r)))},"geometry":{g}}}'
             for i, (r, g) in enumerate(zip(rows, geoms))]
    fc = json.loads('{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}")
    JSON_MEMO.remember(fc)
    return fc
