"""The interactive map of a run (Folium): ranked sites, their evidence and context layers.

Every piece of data text that reaches the page (unit and agency names, feature names, region
labels) goes through :func:`esc`, so a name such as ``<img src=x onerror=alert(1)>`` is shown as
text: in tooltips, popups, the search list, legends and the title panel alike.
"""
from __future__ import annotations

import datetime as dt
import html
import json
import math
import threading
from contextlib import contextmanager
from pathlib import Path

import branca.colormap as cm
import branca.element
import folium
import shapely
import geopandas as gpd
from shapely import GeometryType
import numpy as np
import pandas as pd
from folium import plugins
from folium.template import Template
from folium.utilities import JsCode

from sitesel import __version__
from sitesel.analysis.evidence import NEAREST
from sitesel.maps.context import AGENCY_COLORS, CONTEXTS, DISPLAY_DECIMALS, KV_STYLES, MW_STYLES, for_display, style_classes
from sitesel.measures.catalogue import MEASURES
from sitesel.maps.vendored import external_links, inline_assets

#: Display simplification of context layers, as a fraction of the region's diagonal. 1/5000 of
#: a four-state region is ~400 m: invisible below zoom 10, and it keeps the map a few MB.
SIMPLIFY_FRACTION = 1 / 5000
#: Context layers may take this many bytes of GeoJSON in the page; past it, lines and polygons
#: are simplified harder (a lower-48 map would otherwise carry some 20 MB of roads and lines, and
#: take long to open). Four states fit unthinned.
CONTEXT_BUDGET_BYTES = 6_000_000
#: Longest side (pixels) of the suitability image overlay.
SURFACE_MAX_PX = 1600
#: Score colours (red = low, green = high), shared with the static map.
SCORE_COLORS = ["#d73027", "#fc8d59", "#fee08b", "#d9ef8b", "#91cf60", "#1a9850"]

TILES = (
    ("https://server.arcgisonline.com/ArcGIS/rest/services/Canvas/World_Light_Gray_Base/MapServer/tile/{z}/{y}/{x}",
     "light (Esri Light Gray)", "Tiles &copy; Esri &mdash; Esri, HERE, Garmin, &copy; OpenStreetMap contributors"),
    ("OpenStreetMap", "OpenStreetMap", None),
    ("https://server.arcgisonline.com/ArcGIS/rest/services/World_Imagery/MapServer/tile/{z}/{y}/{x}",
     "satellite (Esri World Imagery)",
     "Tiles &copy; Esri &mdash; Source: Esri, Maxar, Earthstar Geographics, and the GIS User Community"),
)

#: Nearest-feature kinds in popups: prefix -> label.
NEAREST_LABELS = {"substation": "substation", "line": "transmission line", "plant": "power plant",
                  "water": "river or lake", "interstate": "Interstate", "rail": "railroad", "port": "port",
                  "airport": "airport"}

# Binding pre-escaped HTML from feature properties: the strings were escaped in Python.
_BIND_TIP_AND_POPUP = """
    layer.bindTooltip(feature.properties.tip, {sticky: true});
    layer.bindPopup(feature.properties.popup, {maxWidth: 560, minWidth: 320, maxHeight: 380,
                                                autoPanPaddingTopLeft: [50, 120]});
}"""
_BIND_SITE = JsCode("""function(feature, layer) {
    layer.options.className = 'ss-site ss-site-' + feature.properties.rank;""" + _BIND_TIP_AND_POPUP)
_BIND_NUMBER = JsCode("function(feature, layer) {" + _BIND_TIP_AND_POPUP)


def esc(value) -> str:
    """HTML-escape ``value`` for any place in a Folium page.

    Besides ``& < > " '``, the characters that end or interpolate a JavaScript template literal
    (backtick, ``$``, backslash) become entities too, because Folium writes tooltips and popups
    into such literals.
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    s = html.escape(str(value), quote=True)
    return s.replace("`", "&#96;").replace("$", "&#36;").replace("\\", "&#92;")


def fmt(v, digits: int = 2) -> str:
    """A number for people: thousands separators for big values, ``n/a`` for missing."""
    if v is None:
        return "n/a"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, float, np.integer, np.floating)):
        if not math.isfinite(float(v)):
            return "n/a"
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.{digits}f}"
    return str(v)


def _get(row, key):
    v = row.get(key) if hasattr(row, "get") else None
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return None
    return v


def site_label(row) -> str:
    """Plain-text label of a site (searchable): ``Site 3 - BLM Mojave unit, NV (score 83.5)``."""
    where = " ".join(str(x) for x in (_get(row, "agency"), _get(row, "unit")) if x)
    state = _get(row, "state")
    return f"Site {int(row['rank'])} - {where or 'land'}{', ' + str(state) if state else ''} (score {row['score']:.1f})"


def site_tooltip(row) -> str:
    """Tooltip HTML (escaped): rank, score, acres, agency."""
    return (f"<b>#{int(row['rank'])}</b> score <b>{esc(fmt(row['score'], 1))}</b> &middot; "
            f"{esc(fmt(_get(row, 'acres')))} acres &middot; {esc(_get(row, 'agency') or 'n/a')}"
            + (f" {esc(_get(row, 'unit'))}" if _get(row, "unit") else ""))


def _lonlat(row) -> str:
    lat, lon = _get(row, "lat"), _get(row, "lon")
    return "n/a" if lat is None or lon is None else f"{float(lat):.4f}, {float(lon):.4f} (lat, lon)"


def site_popup(row, run, exports: list[str]) -> str:
    """Popup HTML (escaped) with the site's full breakdown and links to its rows in the exports."""
    rank = int(row["rank"])
    parts = [f'<div class="ss-popup"><h4>Site {rank} &middot; score {esc(fmt(row["score"], 1))} / 100</h4>',
             f'<div>{esc(fmt(_get(row, "acres")))} acres &middot; {esc(_get(row, "state") or "n/a")} &middot; '
             f'{esc(_get(row, "agency") or "n/a")} {esc(_get(row, "unit") or "")}<br>'
             f'centre {esc(_lonlat(row))}</div>']
    parts.append('<table class="ss-t"><tr><th>criterion</th><th>value</th><th>score</th><th>weight</th>'
                 '<th>points</th></tr>')
    for key, c in run.criteria.items():
        unit = MEASURES[c["measure"]].unit if c.get("measure") in MEASURES else ""
        parts.append(f"<tr><td>{esc(key)}</td><td>{esc(fmt(_get(row, c.get('measure'))))} {esc(unit)}</td>"
                     f"<td>{esc(fmt(_get(row, f'score_{key}')))}</td><td>{esc(fmt(_get(row, f'weight_{key}')))}</td>"
                     f"<td>{esc(fmt(_get(row, f'contrib_{key}'), 1))}</td></tr>")
    parts.append("</table>")
    if run.constraints:
        parts.append("<div><b>Hard constraints</b><ul>")
        for key, desc in run.constraints.items():
            ok = _get(row, f"ok_{key}")
            mark = "met" if ok else ("NOT met" if ok is not None else "n/a")
            parts.append(f"<li>{esc(mark)}: {esc(desc)}</li>")
        parts.append("</ul></div>")
    near = []
    for prefix, *_ in NEAREST:
        km = _get(row, f"nearest_{prefix}_km")
        if km is None:
            continue
        name = _get(row, f"nearest_{prefix}_name")
        extra = [f"{fmt(_get(row, f'nearest_{prefix}_kv'))} kV" if _get(row, f"nearest_{prefix}_kv") is not None else "",
                 f"{fmt(_get(row, f'nearest_{prefix}_mw'))} MW" if _get(row, f"nearest_{prefix}_mw") is not None else ""]
        extra = ", ".join(e for e in extra if e)
        near.append(f"<li>{esc(NEAREST_LABELS.get(prefix, prefix))}: {esc(name or 'unnamed')}"
                    f"{' (' + esc(extra) + ')' if extra else ''} &middot; {esc(fmt(km, 1))} km</li>")
    if near:
        parts.append("<div><b>Nearest features</b><ul>" + "".join(near) + "</ul></div>")
    if exports:
        # RFC 7111 names a CSV row by fragment (#row=1 is the header); other formats by rank.
        links = [f'<a href="sites.csv#row={rank + 1}" target="_blank">sites.csv row {rank + 1}</a>'
                 if e == "sites.csv" else f'<a href="{esc(e)}" target="_blank">{esc(e)}</a>' for e in exports]
        parts.append(f"<div class=\"ss-links\">In the exports (rank = {rank}): {' &middot; '.join(links)}</div>")
    parts.append("</div>")
    return "".join(parts)


class SiteSearch(plugins.Search):
    """folium's Search, but listing matches as text (leaflet-search puts them into innerHTML)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            var {{this.layer.get_name()}}searchControl = new L.Control.Search({
                layer: {{this.layer.get_name()}},
                propertyName: {{ this.search_label|tojson }},
                collapsed: {{ this.collapsed|tojson }},
                textPlaceholder: {{ this.placeholder|tojson }},
                position: {{ this.position|tojson }},
                initial: false,
                marker: false,
                buildTip: function(text, val) {
                    var li = L.DomUtil.create('li', '');
                    li.textContent = text;
                    return li;
                },
                moveToLocation: function(latlng, title, map) {
                    map.flyToBounds(latlng.layer.getBounds(), {maxZoom: 12});
                }
            });
            {{this.layer.get_name()}}searchControl.on('search:locationfound', function(e) {
                // Open the popup once the flight ends, or auto-panning fights the flight.
                var opened = false;
                var open = function() { if (!opened && e.layer._popup) { opened = true; e.layer.openPopup(); } };
                {{this._parent.get_name()}}.once('moveend', open);
                setTimeout(open, 2500);
            });
            {{this._parent.get_name()}}.addControl({{this.layer.get_name()}}searchControl);
        {% endmacro %}
    """)


def _score_colormap(scores) -> cm.LinearColormap:
    lo, hi = 0.0, 100.0
    s = np.asarray([v for v in scores if v is not None and np.isfinite(v)], dtype=float)
    if s.size:
        lo = max(0.0, math.floor(s.min() / 10) * 10)
        hi = min(100.0, math.ceil(s.max() / 10) * 10)
        if hi - lo < 10:
            lo, hi = max(0.0, hi - 10), max(hi, 10.0)
    return cm.LinearColormap(SCORE_COLORS, vmin=lo, vmax=hi, caption="site score (0-100)")


def _sites_layer(m, run, cmap, exports: list[str]) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name="Ranked sites", show=True).add_to(m)
    wgs = run.sites
    feats = []
    for _, row in wgs.iterrows():
        color = cmap(float(row["score"]))
        feats.append({
            "type": "Feature",
            "geometry": row.geometry.__geo_interface__,
            "properties": {
                "rank": int(row["rank"]), "score": float(row["score"]),
                "label": site_label(row),  # plain text; the search lists it with textContent
                "tip": site_tooltip(row), "popup": site_popup(row, run, exports),
                "style": {"color": "#222222", "weight": 1.5, "fillColor": color, "fillOpacity": 0.75},
            },
        })
    polys = folium.GeoJson({"type": "FeatureCollection", "features": feats}, name="site polygons",
                           on_each_feature=_BIND_SITE, control=False)
    polys.add_to(group)
    # Numbered markers: one GeoJSON layer whose per-feature "style" is the icon's HTML (one Folium
    # element, not five per site: each element compiles its own template, ~10 ms apiece).
    numbers = []
    for f, (_, row) in zip(feats, wgs.iterrows()):
        p = row.geometry.representative_point()
        color = f["properties"]["style"]["fillColor"]
        rank = int(row["rank"])
        numbers.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [p.x, p.y]},
                        "properties": {"rank": rank, "tip": f["properties"]["tip"], "popup": f["properties"]["popup"],
                                       "icon": f'<div class="ss-num ss-num-{rank}" style="border-color:{color}">'
                                               f'{rank}</div>'}})
    if numbers:
        folium.GeoJson({"type": "FeatureCollection", "features": numbers}, name="site numbers", control=False,
                       marker=folium.Marker(icon=folium.DivIcon(icon_size=(22, 22), icon_anchor=(11, 11),
                                                                class_name="ss-num-icon")),
                       style_function=lambda f: {"html": f["properties"]["icon"]},
                       on_each_feature=_BIND_NUMBER).add_to(group)
    if feats:
        SiteSearch(polys, search_label="label", placeholder="Search sites: rank or name",
                   geom_type="Polygon", collapsed=False, position="topleft").add_to(m)
    return group


def _context_styles(name: str) -> tuple[str | None, dict, dict]:
    """How a context layer is styled: (property that picks the style, property value -> style,
    default style)."""
    if name == "federal_land":
        table = {a: {"color": c, "weight": 0.6, "fillColor": c, "fillOpacity": 0.35} for a, c in AGENCY_COLORS.items()}
        return "agency", table, table["OTHER"]
    if name == "transmission_lines":
        table = {str(i): {"color": s[2], "weight": s[3], "opacity": 0.9} for i, s in enumerate(KV_STYLES)}
        return "cls", table, table[str(len(KV_STYLES) - 1)]
    if name == "power_plants":
        table = {str(i): {"radius": s[2], "color": "#7a5200", "weight": 1, "fill": True, "fillColor": "#ffb000",
                          "fillOpacity": 0.75} for i, s in enumerate(MW_STYLES)}
        return "cls", table, table[str(len(MW_STYLES) - 1)]
    if name == "roads":
        table = {"true": {"color": "#8c2d04", "weight": 2.5, "opacity": 0.8},
                 "false": {"color": "#8c6d31", "weight": 1.2, "opacity": 0.7}}
        return "interstate", table, table["false"]
    fixed = {"railroads": {"color": "#404040", "weight": 1.5, "dashArray": "6 3"},
             "rivers": {"color": "#2b8cbe", "weight": 1.5},
             "lakes": {"color": "#2b8cbe", "weight": 0.8, "fillColor": "#9ecae1", "fillOpacity": 0.7}}
    if name in fixed:
        return None, {}, fixed[name]
    color = next(c.color for c in CONTEXTS if c.name == name)
    return None, {}, {"radius": 4, "color": "#ffffff", "weight": 1, "fill": True, "fillColor": color, "fillOpacity": 0.9}


def _context_binder(name: str) -> JsCode:
    """Styles each feature from a small table in the page and binds its tooltip.

    Folium's ``style_function`` would write every feature's id into the page once per style
    (megabytes for a national map) and evaluate the function per feature in Python.
    """
    key, table, default = _context_styles(name)
    pick = f"styles[String(feature.properties.{key})] || " if key else ""
    return JsCode(f"""function(feature, layer) {{
    var styles = {json.dumps(table)}, s = {pick}{json.dumps(default)};
    if (s.radius && layer.setRadius) {{ layer.setRadius(s.radius); }}
    layer.setStyle(s);
    if (feature.properties.tip) {{ layer.bindTooltip(feature.properties.tip, {{sticky: true}}); }}
}}""")


def _context_frame(name: str, gdf: gpd.GeoDataFrame, tolerance_m: float) -> gpd.GeoDataFrame:
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
    ("substations", lambda g: g[g["max_kv"].astype(float) >= 230], "Substations (>= 230 kV; smaller left out: map size)"),
    ("power_plants", lambda g: g[g["mw"].astype(float) >= 50], "Power plants >= 50 MW (smaller left out: map size)"),
)


def _json_size(frames: dict) -> int:
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

#: Display-ready context layers, shared by the maps of several park types over one study:
#: (layer, id(source), tolerance, thinned) -> [source, frame, GeoJSON size, feature collection].
_FRAMES: dict = {}
#: Simplified (not yet displayed) layers and their estimated GeoJSON size, keyed likewise:
#: -> [source, simplified frame, estimated size].
_SIMPLIFIED: dict = {}


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
    entry = _SIMPLIFIED.get(key)
    if entry is None or entry[0] is not gdf:  # the source object is kept, so its id is not reused
        src = next(keep for n, keep, _ in THINNING if n == name)(gdf) if thinned else gdf
        geoms = src.geometry
        if key[2] > 0:
            polygons = bool(np.isin(shapely.get_type_id(geoms.values), _POLYGON_TYPES).any())
            src = src.set_geometry(geoms.simplify(tolerance_m, preserve_topology=polygons))
        labels = src["label"].astype(str).str.len().sum() if "label" in src and len(src) else 0
        size = int(shapely.get_num_coordinates(src.geometry.values).sum()) * _COORD_BYTES \
            + len(src) * _FEATURE_BYTES + int(labels)
        if len(_SIMPLIFIED) > 64:
            _SIMPLIFIED.clear()
        entry = _SIMPLIFIED[key] = [gdf, src, size]
    return entry


def _frame_entry(name: str, gdf: gpd.GeoDataFrame, tolerance_m: float, thinned: bool) -> list:
    key = _key(name, gdf, tolerance_m, thinned)
    entry = _FRAMES.get(key)
    if entry is None or entry[0] is not gdf:
        # Already simplified at this tolerance: for_display only moves it to WGS84 and rounds.
        frame = _context_frame(name, _simplified(name, gdf, tolerance_m, thinned)[1], 0.0)
        if len(_FRAMES) > 64:
            _FRAMES.clear()
            _JSON_MEMO.clear()
        entry = _FRAMES[key] = [gdf, frame, _json_size({name: frame}), None]
    return entry


def display_frames(context: dict, tolerance_m: float, budget: int | None = None):
    """Context layers ready for the page, fitted into ``budget`` bytes of GeoJSON.

    Four states fit as they are. Larger regions first lose minor features (highways other than
    Interstates, substations under 230 kV, plants under 50 MW, see :data:`THINNING`), then lines
    and polygons are simplified harder. The choice is made on estimated sizes, then checked on
    the GeoJSON itself.

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


def _feature_collection(frame: gpd.GeoDataFrame) -> dict:
    """The frame as a GeoJSON dict with string ids (folium's style map keys on them), memoised."""
    for entry in _FRAMES.values():
        if entry[1] is frame:
            if entry[3] is None:
                entry[3] = _as_fc(frame)
            return entry[3]
    fc = _as_fc(frame)
    _JSON_MEMO.pop(id(fc), None)  # not kept: its id may be reused
    return fc


def _as_fc(frame: gpd.GeoDataFrame) -> dict:
    """The frame as a GeoJSON dict: geometries written by GEOS and the whole collection parsed in
    one go (~3x faster than building it feature by feature)."""
    geoms = shapely.to_geojson(frame.geometry.values)
    props = frame.drop(columns=frame.geometry.name)
    cols = list(props.columns)
    rows = zip(*(props[c].tolist() for c in cols)) if cols else ((),) * len(frame)
    parts = [f'{{"type":"Feature","id":"{i}","properties":{json.dumps(dict(zip(cols, r)))},"geometry":{g}}}'
             for i, (r, g) in enumerate(zip(rows, geoms))]
    fc = json.loads('{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}")
    _JSON_MEMO[id(fc)] = (fc, None)
    return fc


#: JSON text of the large context feature collections, made once however many maps embed them:
#: id(dict) -> (dict, text or None).
_JSON_MEMO: dict = {}


def _memo_dumps(obj, **kwargs) -> str:
    """``json.dumps`` for folium's templates, reusing the text of memoised feature collections."""
    hit = _JSON_MEMO.get(id(obj))
    if hit is not None and hit[0] is obj:
        key = repr(sorted(kwargs.items()))
        if hit[1] is None or hit[1][0] != key:
            _JSON_MEMO[id(obj)] = (obj, (key, json.dumps(obj, **kwargs)))
        return _JSON_MEMO[id(obj)][1][1]
    return json.dumps(obj, **kwargs)


# folium renders every element with one Jinja environment; its ``tojson`` filter calls this.
folium.features.GeoJson._template.environment.policies["json.dumps_function"] = _memo_dumps


def _context_layers(m, context: dict, tolerance_m: float) -> dict[str, str]:
    """Add the context layers to ``m``; returns the titles of thinned layers."""
    frames, titles = display_frames(context, tolerance_m)
    for ctx in CONTEXTS:
        d = frames.get(ctx.name)
        if d is None or d.empty:
            continue
        marker = folium.CircleMarker(radius=4) if ctx.geom == "point" else None
        fc = _feature_collection(d)
        folium.GeoJson(fc, name=titles.get(ctx.name, ctx.title), show=ctx.show,
                       on_each_feature=_context_binder(ctx.name), marker=marker,
                       smooth_factor=1.0).add_to(m)
    return titles


def surface_overlay(path: Path, max_px: int = SURFACE_MAX_PX):
    """The suitability surface as RGBA pixels in Web Mercator and its lat/lon bounds (or None)."""
    import rasterio
    from matplotlib import colormaps
    from rasterio.warp import Resampling, calculate_default_transform, reproject, transform_bounds

    if not path.is_file():
        return None
    with rasterio.open(path) as src:
        tr, w, h = calculate_default_transform(src.crs, "EPSG:3857", src.width, src.height, *src.bounds)
        f = max(w / max_px, h / max_px, 1.0)
        w2, h2 = max(1, int(w / f)), max(1, int(h / f))
        tr = tr @ tr.scale(w / w2, h / h2)
        out = np.full((h2, w2), np.nan, dtype=np.float32)
        # Read at about twice the picture's size: the COG's (averaged) overviews serve that
        # directly, instead of warping every cell of a national surface.
        k = max(1.0, min(src.width / (2 * w2), src.height / (2 * h2)))
        shape = (max(1, int(src.height / k)), max(1, int(src.width / k)))
        data = src.read(1, out_shape=shape, resampling=Resampling.average)
        src_tr = src.transform @ src.transform.scale(src.width / shape[1], src.height / shape[0])
        reproject(data, out, src_transform=src_tr, src_crs=src.crs, src_nodata=np.nan, dst_transform=tr,
                  dst_crs="EPSG:3857", dst_nodata=np.nan, resampling=Resampling.average)
    if not np.isfinite(out).any():
        return None
    rgba = (colormaps["viridis"](np.clip(np.nan_to_num(out) / 100.0, 0, 1)) * 255).astype(np.uint8)
    rgba[..., 3] = np.where(np.isfinite(out), 255, 0).astype(np.uint8)
    left, top = tr @ (0, 0)
    right, bottom = tr @ (w2, h2)
    w_, s_, e_, n_ = transform_bounds("EPSG:3857", "EPSG:4326", left, bottom, right, top)
    return rgba, [[s_, w_], [n_, e_]]


def _legend_html(run, context: dict, titles: dict | None = None, surface: bool = False) -> str:
    rows = []
    if "federal_land" in context:
        ags = sorted(set(context["federal_land"]["agency"].dropna().astype(str)))
        rows.append("<b>Eligible federal land</b>")
        rows += [f'<div><i style="background:{AGENCY_COLORS.get(a, AGENCY_COLORS["OTHER"])};opacity:.7"></i>{esc(a)}</div>'
                 for a in ags]
    if "transmission_lines" in context:
        rows.append("<b>Transmission lines</b>")
        rows += [f'<div><i class="ln" style="border-top:{wd}px solid {c}"></i>{esc(lbl)}</div>' for _, lbl, c, wd in KV_STYLES]
    if "power_plants" in context:
        rows.append("<b>Power plants</b>")
        rows += [f'<div><i class="pt" style="width:{2 * r}px;height:{2 * r}px"></i>{esc(lbl)}</div>'
                 for _, lbl, r in MW_STYLES[::2]]
    other = [c for c in CONTEXTS if c.name in context and c.name in ("substations", "ports", "airports")]
    if other:
        rows.append("<b>Points</b>")
        rows += [f'<div><i class="pt" style="width:9px;height:9px;background:{c.color};border-color:#fff"></i>'
                 f'{esc((titles or {}).get(c.name, c.title))}</div>'
                 for c in other]
    if surface:
        rows.append("<b>Suitability surface</b>")
        rows.append('<div><i style="width:90px;background:linear-gradient(to right,#440154,#3b528b,#21918c,'
                    '#5ec962,#fde725)"></i>0 &rarr; 100</div>')
    if not rows:
        return ""
    return ('<details class="ss-legend" open><summary>Legend</summary>' + "".join(rows) + "</details>")


def _title_html(run, n_sites: int) -> str:
    rows = "".join(f"<tr><td>{esc(k)}</td><td>{esc(c.get('measure'))}</td><td>{esc(fmt(100 * float(c.get('weight', 0)), 0))}%</td></tr>"
                   for k, c in sorted(run.criteria.items(), key=lambda kv: -float(kv[1].get("weight", 0))))
    cons = "".join(f"<li>{esc(d)}</li>" for d in run.constraints.values())
    srcs = ", ".join(esc(s) for s in run.sources) or "n/a"
    agencies = ", ".join(esc(a) for a in run.eligible_agencies) if run.land == "federal" else "any land except never-eligible federal land"
    stamp = dt.date.today().isoformat()
    return (f'<div class="ss-title"><div class="ss-h">{esc(run.title)} &middot; {esc(run.region_label)}</div>'
            f'<div class="ss-sub">{n_sites} ranked sites &middot; park type <code>{esc(run.park)}</code> &middot; '
            f'eligible: {agencies}</div>'
            f'<details><summary>weights, constraints and data sources</summary>'
            f'<table class="ss-t"><tr><th>criterion</th><th>measure</th><th>weight</th></tr>{rows}</table>'
            f'<div><b>Hard constraints</b><ul>{cons}</ul></div>'
            f'<div><b>Data sources</b>: {srcs}</div>'
            f'<div class="ss-foot">sitesel {esc(__version__)} &middot; drawn {stamp}</div></details></div>')


_CSS = """
<style>
.ss-title{position:fixed;top:10px;left:330px;z-index:1000;max-width:calc(100% - 800px);min-width:260px;
  background:rgba(255,255,255,.94);border:1px solid #888;border-radius:6px;padding:6px 10px;
  font:13px/1.35 "Helvetica Neue",Arial,sans-serif;box-shadow:0 1px 5px rgba(0,0,0,.3)}
.ss-title .ss-h{font-weight:bold;font-size:15px}
.ss-title .ss-sub{color:#333}
.ss-title details{margin-top:3px;max-height:55vh;overflow:auto}
.ss-title .ss-foot{color:#666;font-size:11px}
.ss-legend{position:fixed;bottom:64px;left:10px;z-index:1000;background:rgba(255,255,255,.94);
  border:1px solid #888;border-radius:6px;padding:6px 9px;font:12px/1.45 "Helvetica Neue",Arial,sans-serif;
  max-height:60vh;overflow:auto;box-shadow:0 1px 5px rgba(0,0,0,.3)}
.ss-legend i{display:inline-block;width:14px;height:11px;margin-right:6px;vertical-align:middle;border:1px solid #777}
.ss-legend i.ln{height:0;border:0;width:18px}
.ss-legend i.pt{border-radius:50%;background:#ffb000;border:1px solid #7a5200}
.ss-legend b{display:block;margin-top:4px}
.ss-t{border-collapse:collapse;font-size:12px;margin:4px 0}
.ss-t th,.ss-t td{border-bottom:1px solid #ddd;padding:1px 5px;text-align:left}
.ss-popup{font:12px/1.4 "Helvetica Neue",Arial,sans-serif}
.ss-popup h4{margin:0 0 3px;font-size:14px}
.ss-popup ul{margin:2px 0 4px;padding-left:18px}
.ss-links{margin-top:4px;color:#333}
.leaflet-control-layers{font:13px/1.3 "Helvetica Neue",Arial,sans-serif}
.legend.leaflet-control{background:rgba(255,255,255,.9);border-radius:5px;padding:2px 8px 0;
  box-shadow:0 1px 5px rgba(0,0,0,.3)}
.legend text{font:11px Arial,sans-serif}
.ss-num-icon{background:none;border:none}
.ss-num{width:20px;height:20px;border-radius:11px;background:#fff;border:2px solid #333;
  font:bold 11px/20px Arial,sans-serif;text-align:center;color:#111;box-shadow:0 0 3px rgba(0,0,0,.5)}
</style>
"""


def site_map(run, context: dict | None = None, surface: Path | None = None,
             exports: list[str] | None = None) -> folium.Map:
    """Build the Folium map of a run.

    Parameters
    ----------
    run : sitesel.output.runs.Run
        Sites (WGS84) and the run record (criteria, constraints, region, sources).
    context : dict, optional
        Context layers from :func:`sitesel.maps.context.context_layers` (grid CRS).
    surface : path, optional
        ``suitability.tif``, drawn as a semi-transparent image overlay.
    exports : list of str, optional
        Export file names the popups link to (relative to the map).
    """
    context = context or {}
    titles: dict[str, str] = {}
    sites = run.sites
    if len(sites):
        w, s, e, n = sites.total_bounds
    elif context:
        w, s, e, n = next(iter(context.values())).to_crs("EPSG:4326").total_bounds
    else:
        w, s, e, n = -125.0, 24.0, -66.0, 50.0
    m = folium.Map(location=[(s + n) / 2, (w + e) / 2], zoom_start=6, tiles=None, control_scale=True,
                   prefer_canvas=False)
    # Only Leaflet and jQuery (folium's popups use $); no Bootstrap or icon fonts are used.
    m.default_js = [js for js in folium.Map.default_js if js[0] in ("leaflet", "jquery")]
    m.default_css = [css for css in folium.Map.default_css if css[0] == "leaflet_css"]
    for tiles, name, attr in TILES:
        folium.TileLayer(tiles, name=name, attr=attr, show=name.startswith("light")).add_to(m)
    has_surface = False
    if surface is not None:
        ov = surface_overlay(Path(surface))
        has_surface = ov is not None
        if ov is not None:
            folium.raster_layers.ImageOverlay(ov[0], bounds=ov[1], name="Suitability surface (score 0-100)",
                                              opacity=0.55, show=False, pixelated=False).add_to(m)
    if context:
        all_b = np.array([g.total_bounds for g in context.values()])
        diag = math.hypot(all_b[:, 2].max() - all_b[:, 0].min(), all_b[:, 3].max() - all_b[:, 1].min())
        titles = _context_layers(m, context, diag * SIMPLIFY_FRACTION)
    cmap = _score_colormap(sites["score"] if len(sites) else [])
    _sites_layer(m, run, cmap, exports or [])
    cmap.add_to(m)
    plugins.Fullscreen(position="topleft").add_to(m)
    plugins.MeasureControl(position="topleft", primary_length_unit="kilometers", secondary_length_unit="miles",
                           primary_area_unit="hectares", secondary_area_unit="acres").add_to(m)
    plugins.MiniMap(toggle_display=True, position="bottomright").add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    root = m.get_root()
    root.header.add_child(StaticHtml(_CSS))
    root.html.add_child(StaticHtml(_title_html(run, len(sites))))
    legend = _legend_html(run, context, titles, surface=has_surface)
    if legend:
        root.html.add_child(StaticHtml(legend))
    if len(sites):
        m.fit_bounds([[s, w], [n, e]], padding=(30, 30))
    return m


class StaticHtml(branca.element.Element):
    """Finished text put into a page as it is.

    Folium and branca wrap every finished piece of a page (a layer's script with its data, the
    title panel) in ``Element(text)``, which compiles the text as a Jinja template and renders it
    again. That evaluates any ``{{ ... }}`` in the data (a unit named ``{{ 7*7 }}`` showed as
    ``49``; Jinja expressions can reach Python objects) and lexes megabytes of GeoJSON (~1 s for a
    national map). Built with no text it is a container that renders its children, as ``Element()``.
    """

    def __init__(self, template: str | None = None, template_name: str | None = None):
        if template is None:
            super().__init__(template, template_name)
            self._text = None
        else:
            super().__init__()
            self._text = template

    def render(self, **kwargs) -> str:
        return self._text if self._text is not None else super().render(**kwargs)


_RENDERING = threading.Lock()
_ELEMENT = branca.element.Element


@contextmanager
def _finished_text_as_is():
    import folium.elements
    import folium.features
    import folium.folium
    import folium.map

    with _RENDERING:
        modules = [mod for mod in (branca.element, folium.elements, folium.features, folium.folium, folium.map)
                   if getattr(mod, "Element", None) is _ELEMENT]
        for mod in modules:
            mod.Element = StaticHtml
        try:
            yield
        finally:
            for mod in modules:
                mod.Element = _ELEMENT


def render_map(m: folium.Map, offline: bool = False) -> str:
    """The map's HTML; ``offline`` inlines every script and stylesheet (tiles still need a network)."""
    with _finished_text_as_is():
        page = m.get_root().render()
    if offline:
        page = inline_assets(page)
        left = external_links(page)
        if left:  # inline_assets raises on unknown links; this guards the regular expressions
            raise RuntimeError(f"offline map still links {left}")
    return page


def write_map(run, path: Path, context: dict | None = None, offline: bool = False,
              exports: list[str] | None = None) -> Path:
    """Write ``map.html`` for ``run``; returns its path."""
    surface = run.file("suitability.tif")
    m = site_map(run, context, surface if surface.is_file() else None, exports)
    Path(path).write_text(render_map(m, offline), encoding="utf-8")
    return Path(path)


def result_map(study, result, context: bool = True) -> folium.Map:
    """The map of a ranking made in Python (``sitesel.api``), as ``sitesel rank`` would draw it,
    without writing a run directory first."""
    from sitesel.maps.context import context_layers
    from sitesel.output.writers import run_record, tidy
    from sitesel.output.runs import Run

    record = run_record(study, result, {"park": result.profile.name}, {})
    sites = tidy(result.sites).to_crs("EPSG:4326") if len(result.sites) else result.sites.to_crs("EPSG:4326")
    run = Run(path=Path("."), record=record, sites=sites).with_study(study)
    ctx = context_layers(study, run.eligible_agencies, run.land) if context else {}
    return site_map(run, ctx, None, [])
