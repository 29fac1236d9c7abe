"""QGIS layer styles (QML) for the GeoPackage, stored the way QGIS itself stores them.

QGIS looks for a ``layer_styles`` table in a GeoPackage and applies the row marked
``useAsDefault`` when a layer is loaded. The styles mirror the interactive map's colours
(:mod:`sitesel.maps.context`): sites graduated by score, federal land by agency, lines by voltage.
"""
from __future__ import annotations

import datetime as dt
from xml.sax.saxutils import quoteattr

import pandas as pd

from sitesel.maps.context import AGENCY_COLORS, CONTEXTS, KV_STYLES, MW_STYLES

#: Score classes of the sites style (lower, upper, colour).
SCORE_CLASSES = ((0, 50, "#d73027"), (50, 60, "#fc8d59"), (60, 70, "#fee08b"), (70, 80, "#d9ef8b"),
                 (80, 90, "#91cf60"), (90, 100.01, "#1a9850"))


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
        return categorized("agency", "fill", [(a, a, AGENCY_COLORS.get(a, AGENCY_COLORS["OTHER"]), {"alpha": 110, "width": 0.1})
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


def styles_table(layers: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """Rows of QGIS's ``layer_styles`` table for ``layers``: name -> (geometry column, QML)."""
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = [{"f_table_catalog": "", "f_table_schema": "", "f_table_name": name, "f_geometry_column": geom_col,
             "styleName": name, "styleQML": qml, "styleSLD": "", "useAsDefault": True,
             "description": f"sitesel style for {name}", "owner": "", "ui": "", "update_time": now}
            for name, (geom_col, qml) in layers.items()]
    return pd.DataFrame(rows)
