"""The interactive map of a run (Folium): ranked sites, their evidence and context layers.

Every piece of data text that reaches the page (unit and agency names, feature names, region
labels) is escaped by :func:`sitesel.maps.popups.esc`, so a name such as
``<img src=x onerror=alert(1)>`` is shown as text: in tooltips, popups, the search list, legends
and the title panel alike. Finished text is put into the page as it is (:class:`StaticHtml`),
never compiled as a template.
"""
from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import branca.colormap as cm
import branca.element
import folium
import numpy as np
from folium import plugins
from folium.template import Template
from folium.utilities import JsCode

from sitesel.maps.context import CONTEXTS, context_layers
from sitesel.maps.display import SIMPLIFY_FRACTION, display_frames, feature_collection, use_json_memo
from sitesel.maps.popups import PAGE_CSS, legend_html, site_label, site_popup, site_tooltip, title_html
from sitesel.maps.styles import AGENCY_COLORS, KV_STYLES, MW_STYLES, SCORE_COLORS
from sitesel.maps.vendored import external_links, inline_assets
from sitesel.output.record import run_record
from sitesel.output.runs import Run
from sitesel.output.sites import tidy

__all__ = ["SURFACE_MAX_PX", "SiteSearch", "StaticHtml", "TILES", "render_map", "result_map", "site_map",
           "surface_overlay", "write_map"]

# The large context layers' JSON is written once however many maps embed them: folium's
# templates take their JSON from sitesel.maps.display.JSON_MEMO from here on.
use_json_memo()

#: Longest side (pixels) of the suitability image overlay.
SURFACE_MAX_PX = 1600

#: Base layers: (tiles, name in the layer control, attribution); the first is shown.
TILES = (
    ("https://server.arcgisonline.com/ArcGIS/rest/services/Canvas/World_Light_Gray_Base/MapServer/tile/{z}/{y}/{x}",
     "light (Esri Light Gray)", "Tiles &copy; Esri &mdash; Esri, HERE, Garmin, &copy; OpenStreetMap contributors"),
    ("OpenStreetMap", "OpenStreetMap", None),
    ("https://server.arcgisonline.com/ArcGIS/rest/services/World_Imagery/MapServer/tile/{z}/{y}/{x}",
     "satellite (Esri World Imagery)",
     "Tiles &copy; Esri &mdash; Source: Esri, Maxar, Earthstar Geographics, and the GIS User Community"),
)

# Binding pre-escaped HTML from feature properties: the strings were escaped in Python.
_BIND_TIP_AND_POPUP = """
    layer.bindTooltip(feature.properties.tip, {sticky: true});
    layer.bindPopup(feature.properties.popup, {maxWidth: 560, minWidth: 320, maxHeight: 380,
                                                autoPanPaddingTopLeft: [50, 120]});
}"""
_BIND_SITE = JsCode("""function(feature, layer) {
    layer.options.className = 'ss-site ss-site-' + feature.properties.rank;""" + _BIND_TIP_AND_POPUP)
_BIND_NUMBER = JsCode("function(feature, layer) {" + _BIND_TIP_AND_POPUP)


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
    # element, not five per site: each element compiles its own template).
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
    return None, {}, {"radius": 4, "color": "#ffffff", "weight": 1, "fill": True, "fillColor": color,
                      "fillOpacity": 0.9}


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


def _context_layers(m, context: dict, tolerance_m: float) -> dict[str, str]:
    """Add the context layers to ``m``; returns the titles of thinned layers."""
    frames, titles = display_frames(context, tolerance_m)
    for ctx in CONTEXTS:
        d = frames.get(ctx.name)
        if d is None or d.empty:
            continue
        marker = folium.CircleMarker(radius=4) if ctx.geom == "point" else None
        fc = feature_collection(d)
        folium.GeoJson(fc, name=titles.get(ctx.name, ctx.title), show=ctx.show,
                       on_each_feature=_context_binder(ctx.name), marker=marker,
                       smooth_factor=1.0).add_to(m)
    return titles


def surface_overlay(path: Path, max_px: int = SURFACE_MAX_PX) -> tuple[np.ndarray, list[list[float]]] | None:
    """The suitability surface as RGBA pixels in Web Mercator and its lat/lon bounds.

    Parameters
    ----------
    path : Path
        ``suitability.tif``.
    max_px : int
        Longest side of the image.

    Returns
    -------
    tuple or None
        ``(rgba, [[south, west], [north, east]])``; None if the file is missing or all nodata.
    """
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


def site_map(run: Run, context: dict | None = None, surface: Path | None = None,
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
    root.header.add_child(StaticHtml(PAGE_CSS))
    root.html.add_child(StaticHtml(title_html(run, len(sites))))
    legend = legend_html(run, context, titles, surface=has_surface)
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
    ``49``; Jinja expressions can reach Python objects) and lexes megabytes of GeoJSON. Built with
    no text it is a container that renders its children, as ``Element()``.

    Parameters
    ----------
    template : str, optional
        The finished text.
    template_name : str, optional
        As for ``branca.element.Element`` (used only without ``template``).
    """

    def __init__(self, template: str | None = None, template_name: str | None = None):
        if template is None:
            super().__init__(template, template_name)
            self._text = None
        else:
            super().__init__()
            self._text = template

    def render(self, **kwargs) -> str:
        """The text as it is (or, for a container, its children rendered)."""
        return self._text if self._text is not None else super().render(**kwargs)


_RENDERING = threading.Lock()
_ELEMENT = branca.element.Element


@contextmanager
def _finished_text_as_is() -> Iterator[None]:
    """Folium and branca build :class:`StaticHtml` instead of ``Element`` meanwhile (one render at a time)."""
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
    """The map's HTML page.

    Parameters
    ----------
    m : folium.Map
    offline : bool
        Inline every script and stylesheet (tiles still need a network).

    Raises
    ------
    SiteselError
        Offline, if the page links a script or stylesheet that is not vendored.
    """
    with _finished_text_as_is():
        page = m.get_root().render()
    if offline:
        page = inline_assets(page)
        left = external_links(page)
        if left:  # inline_assets raises on unknown links; this guards the regular expressions
            raise RuntimeError(f"offline map still links {left}")
    return page


def write_map(run: Run, path: Path, context: dict | None = None, offline: bool = False,
              exports: list[str] | None = None) -> Path:
    """Write ``map.html`` for ``run`` (with its ``suitability.tif`` if there is one).

    Parameters
    ----------
    run : sitesel.output.runs.Run
    path : Path
        The page.
    context, exports
        As for :func:`site_map`.
    offline : bool
        As for :func:`render_map`.

    Returns
    -------
    Path
    """
    surface = run.file("suitability.tif")
    m = site_map(run, context, surface if surface.is_file() else None, exports)
    Path(path).write_text(render_map(m, offline), encoding="utf-8")
    return Path(path)


def result_map(study, result, context: bool = True) -> folium.Map:
    """The map of a ranking made in Python (``sitesel.api``), as ``sitesel rank`` would draw it,
    without writing a run directory first.

    Parameters
    ----------
    study : sitesel.study.core.Study
    result : sitesel.analysis.ranking.RankResult
    context : bool
        Draw the context layers.
    """
    record = run_record(study, result, {"park": result.profile.name}, {})
    sites = tidy(result.sites).to_crs("EPSG:4326") if len(result.sites) else result.sites.to_crs("EPSG:4326")
    run = Run(path=Path("."), record=record, sites=sites).with_study(study)
    ctx = context_layers(study, run.eligible_agencies, run.land) if context else {}
    return site_map(run, ctx, None, [])
