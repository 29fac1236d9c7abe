"""The interactive map of a run's ranked sites (Folium)."""
from __future__ import annotations

import html
import math

import branca.colormap as cm
import folium
import geopandas as gpd
import numpy as np


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if isinstance(v, (float, np.floating)):
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"
    return str(v)


def _popup(row, profile) -> str:
    e = html.escape
    head = (f"<b>Site {int(row['rank'])}: score {row['score']:.1f}</b><br>"
            f"{e(_fmt(row['acres']))} acres &middot; {e(str(row.get('state')))} &middot; "
            f"{e(str(row.get('agency')))} {e(str(row.get('unit') or ''))}<br>")
    lines = ["<table><tr><th>criterion</th><th>value</th><th>score</th><th>weight</th><th>points</th></tr>"]
    for c in profile.criteria:
        from .measures import MEASURES

        lines.append(
            f"<tr><td>{e(c.key)}</td><td>{e(_fmt(row.get(c.measure)))} {e(MEASURES[c.measure].unit)}</td>"
            f"<td>{row[f'score_{c.key}']:.2f}</td><td>{row[f'weight_{c.key}']:.2f}</td>"
            f"<td>{row[f'contrib_{c.key}']:.1f}</td></tr>")
    lines.append("</table>")
    ok = ", ".join(e(c.describe()) for c in profile.constraints) or "none"
    return head + "".join(lines) + f"<br>Hard constraints met: {ok}"


def site_map(sites: gpd.GeoDataFrame, profile, title: str) -> folium.Map:
    """A Folium map of ranked sites: polygons coloured by score, numbered markers, popups."""
    wgs = sites.to_crs("EPSG:4326")
    if len(wgs):
        w, s, e, n = wgs.total_bounds
        center = [(s + n) / 2, (w + e) / 2]
    else:
        center = [39.5, -98.5]
    m = folium.Map(location=center, zoom_start=5, tiles="OpenStreetMap", control_scale=True)
    cmap = cm.LinearColormap(["#d73027", "#fee08b", "#1a9850"], vmin=0, vmax=100, caption="site score (0-100)")
    cmap.add_to(m)
    layer = folium.FeatureGroup(name="ranked sites").add_to(m)
    for _, row in wgs.iterrows():
        color = cmap(row["score"])
        tip = html.escape(f"#{int(row['rank'])} score {row['score']:.1f}, {row['acres']:.0f} acres, {row.get('agency')}")
        folium.GeoJson(
            row.geometry.__geo_interface__,
            style_function=lambda _f, c=color: {"color": c, "fillColor": c, "weight": 2, "fillOpacity": 0.6},
            tooltip=tip, popup=folium.Popup(_popup(row, profile), max_width=520),
        ).add_to(layer)
        c = row.geometry.representative_point()
        folium.Marker([c.y, c.x], tooltip=tip, popup=folium.Popup(_popup(row, profile), max_width=520),
                      icon=folium.DivIcon(html=f'<div style="font:bold 12px sans-serif;background:#fff;border:1px solid #333;'
                                               f'border-radius:9px;width:18px;text-align:center">{int(row["rank"])}</div>')
                      ).add_to(layer)
    if len(wgs):
        m.fit_bounds([[s, w], [n, e]])
    title_html = f'<div style="position:fixed;top:8px;left:50px;z-index:9999;background:#fff;padding:4px 8px;' \
                 f'border:1px solid #999;font:14px sans-serif">{html.escape(title)}</div>'
    m.get_root().html.add_child(folium.Element(title_html))
    folium.LayerControl().add_to(m)
    return m
