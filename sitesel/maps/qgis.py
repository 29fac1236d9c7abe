"""QGIS layer styles (QML) for the GeoPackage, stored the way QGIS itself stores them.

QGIS looks for a ``layer_styles`` table in a GeoPackage and applies the row marked
``useAsDefault`` when a layer is loaded. The styles mirror the interactive map's colours
(:mod:`sitesel.maps.styles`): sites graduated by score, federal land by agency, lines by voltage.
:func:`gpkg_layers` adds the class columns the styles categorise on; the GeoPackage writer
(:func:`sitesel.output.vector.write_gpkg`) stores the layers and their QML.
"""
from __future__ import annotations

from xml.sax.saxutils import quoteattr

import geopandas as gpd
import pandas as pd

from sitesel.maps.context import CONTEXTS
from sitesel.maps.styles import AGENCY_COLORS, KV_STYLES, MW_STYLES, SCORE_CLASSES, style_classes

__all__ = ["GpkgLayers", "GPKG_LAYERS", "categorized", "gpkg_layers", "gpkg_styles", "graduated", "layer_style",
           "single"]


def _rgba(hex_color: str, alpha: int = 255) -> str:
    h = hex_color.lstrip("#")
    return f"{int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha}"


def _props(kind: str, color: str, width: float = 0.5, size: float = 2.0, alpha: int = 255) -> dict[str, str]:
    if kind == "fill":
        return {"color": _rgba(color, alpha), "outline_color": "35,35,35,255", "outline_width": f"{width:g}",
                "outline_width_unit": "MM", "style": "solid", "outline_style": "solid"}
    if kind == "line":
        return {"line_color": _rgba(color), "line_width": f"{width:g}", "line_width_unit": "MM",
                "line_style": "solid", "capstyle": "round", "joinstyle": "round"}
    return {"name": "circle", "color": _rgba(color, alpha), "outline_color": "60,60,60,255", "size": f"{size:g}",
            "size_unit": "MM", "outline_width": "0.2", "outline_width_unit": "MM"}


_CLASS = {"fill": "SimpleFill", "line": "SimpleLine", "marker": "SimpleMarker"}


def _symbol(name: str, kind: str, props: dict[str, str]) -> str:
    # Both the <Option> map (QGIS >= 3.26) and the older <prop> list, so any QGIS 3 reads it.
    opts = "".join(f'<Option name={quoteattr(k)} value={quoteattr(v)} type="QString"/>' for k, v in props.items())
    old = "".join(f"<prop k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in props.items())
    return (f'<symbol type="{kind}" name={quoteattr(name)} alpha="1" clip_to_extent="1" force_rhr="0">'
            f'<layer class="{_CLASS[kind]}" enabled="1" locked="0" pass="0">'
            f'<Option type="Map">{opts}</Option>{old}</layer></symbol>')


def _qml(renderer: str, labels: str = "") -> str:
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            f'<qgis version="3.28.0" styleCategories="Symbology|Labeling">{renderer}{labels}</qgis>\n')


def single(kind: str, color: str, **kw) -> str:
    """A single-symbol style."""
    return _qml(f'<renderer-v2 type="singleSymbol" symbollevels="0" forceraster="0" enableorderby="0">'
                f"<symbols>{_symbol('0', kind, _props(kind, color, **kw))}</symbols></renderer-v2>")


def categorized(attr: str, kind: str, cats: list[tuple[str, str, str, dict]]) -> str:
    """A categorized style: ``cats`` is a list of (value, label, colour, extra symbol properties)."""
    c = "".join(f'<category value={quoteattr(v)} symbol="{i}" label={quoteattr(lbl)} render="true"/>'
                for i, (v, lbl, _, _) in enumerate(cats))
    s = "".join(_symbol(str(i), kind, _props(kind, col, **kw)) for i, (_, _, col, kw) in enumerate(cats))
    return _qml(f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(attr)} symbollevels="0" forceraster="0" '
                f'enableorderby="0"><categories>{c}</categories><symbols>{s}</symbols></renderer-v2>')


def graduated(attr: str, kind: str, classes, label_field: str | None = None, **kw) -> str:
    """A graduated style over ``classes`` (lower, upper, colour), optionally labelled by a field."""
    r = "".join(f'<range lower="{lo:g}" upper="{hi:g}" symbol="{i}" label="{lo:g} - {min(hi, 100):g}" render="true"/>'
                for i, (lo, hi, _) in enumerate(classes))
    s = "".join(_symbol(str(i), kind, _props(kind, col, **kw)) for i, (_, _, col) in enumerate(classes))
    labels = ""
    if label_field:
        labels = ('<labeling type="simple"><settings calloutType="simple">'
                  f'<text-style fieldName={quoteattr(label_field)} fontSize="10" fontWeight="75" textColor="0,0,0,255">'
                  '<text-buffer bufferDraw="1" bufferSize="1" bufferColor="255,255,255,255"/></text-style>'
                  '<placement placement="1"/></settings></labeling>')
    return _qml(f'<renderer-v2 type="graduatedSymbol" attr={quoteattr(attr)} graduatedMethod="GraduatedColor" '
                f'symbollevels="0" forceraster="0" enableorderby="0"><ranges>{r}</ranges><symbols>{s}</symbols>'
                f'</renderer-v2>', labels)


def layer_style(layer: str, values: pd.Series | None = None) -> str | None:
    """The QML of a GeoPackage layer written by :mod:`sitesel.output.vector` (None if it has none)."""
    if layer == "sites":
        return graduated("score", "fill", SCORE_CLASSES, label_field="rank", width=0.4)
    if layer == "federal_land":
        ags = sorted(set(values.dropna().astype(str))) if values is not None else sorted(AGENCY_COLORS)
        return categorized("agency", "fill", [(a, a, AGENCY_COLORS.get(a, AGENCY_COLORS["OTHER"]),
                                               {"alpha": 110, "width": 0.1})
                                              for a in ags])
    if layer == "transmission_lines":
        cats = [(lbl, lbl, col, {"width": wd / 3}) for _, lbl, col, wd in KV_STYLES]
        return categorized("kv_class", "line", cats)
    if layer == "power_plants":
        cats = [(lbl, lbl, "#ffb000", {"size": r / 2.5}) for _, lbl, r in MW_STYLES]
        return categorized("mw_class", "marker", cats)
    ctx = {c.name: c for c in CONTEXTS}.get(layer)
    if ctx is None:
        return None
    kind = {"polygon": "fill", "line": "line", "point": "marker"}[ctx.geom]
    return single(kind, ctx.color, **({"width": 0.4} if kind == "line" else {}))


class GpkgLayers:
    """Context layers with their GeoPackage class columns, made once per source layer.

    The GeoPackage writer reuses a template of the layers shared by every park type over a study
    when it is given the very same frames again; keeping the frames made here lets it.

    Parameters
    ----------
    limit : int
        Frames kept; all are dropped past this many.
    """

    def __init__(self, limit: int = 32):
        self.limit = limit
        self._frames: dict[tuple[str, int], tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]] = {}

    def frame(self, name: str, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """``gdf`` as layer ``name`` of the GeoPackage (``kv_class``/``mw_class`` columns added)."""
        if name not in ("transmission_lines", "power_plants"):
            return gdf
        hit = self._frames.get((name, id(gdf)))
        if hit is not None and hit[0] is gdf:  # the source is kept, so its id is not reused
            return hit[1]
        out = gdf.copy()
        if name == "transmission_lines":
            out["kv_class"] = [KV_STYLES[i][1] for i in style_classes(out["voltage_kv"].astype(float), KV_STYLES)]
        else:
            out["mw_class"] = [MW_STYLES[i][1] for i in style_classes(out["mw"].astype(float), MW_STYLES)]
        if len(self._frames) >= self.limit:
            self._frames.clear()
        self._frames[(name, id(gdf))] = (gdf, out)
        return out

    def clear(self) -> None:
        """Forget every frame."""
        self._frames.clear()


#: The process's GeoPackage frames (see :func:`gpkg_layers`).
GPKG_LAYERS = GpkgLayers()


def gpkg_layers(context: dict[str, gpd.GeoDataFrame]) -> dict[str, gpd.GeoDataFrame]:
    """Context layers as the GeoPackage stores them, with the columns their styles categorise on.

    Parameters
    ----------
    context : dict
        Layer name -> GeoDataFrame (:func:`sitesel.maps.context.context_layers`).

    Returns
    -------
    dict
        The same names; transmission lines gain ``kv_class`` and power plants ``mw_class``.
    """
    return {name: GPKG_LAYERS.frame(name, gdf) for name, gdf in context.items()}


def gpkg_styles(context: dict[str, gpd.GeoDataFrame] | None) -> dict[str, str]:
    """The QML of the ``sites`` layer and of every context layer that has a style.

    Parameters
    ----------
    context : dict, optional
        Layer name -> GeoDataFrame; federal land's style lists the agencies it holds.

    Returns
    -------
    dict
        Layer name -> QML, for :func:`sitesel.output.vector.write_gpkg`.
    """
    styles = {}
    for name, gdf in (context or {}).items():
        qml = layer_style(name, gdf["agency"] if name == "federal_land" else None)
        if qml:
            styles[name] = qml
    qml = layer_style("sites", None)
    if qml:
        styles["sites"] = qml
    return styles
