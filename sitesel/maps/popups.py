"""What the interactive map says about sites: labels, tooltips, popups and its panels.

Every piece of data text that reaches the page (unit and agency names, feature names, region
labels) goes through :func:`esc`, so a name such as ``<img src=x onerror=alert(1)>`` is shown as
text: in tooltips, popups, the search list, legends and the title panel alike.
"""
from __future__ import annotations

import datetime as dt
import html
import math

import numpy as np

from sitesel import __version__
from sitesel.analysis.costs import COST_ITEMS, format_usd
from sitesel.analysis.evidence import NEAREST
from sitesel.maps.context import CONTEXTS
from sitesel.maps.styles import AGENCY_COLORS, KV_STYLES, MW_STYLES
from sitesel.measures.catalogue import MEASURES

__all__ = ["NEAREST_LABELS", "PAGE_CSS", "esc", "fmt", "legend_html", "site_label", "site_popup", "site_tooltip",
           "title_html"]

#: Nearest-feature kinds in popups: prefix -> label.
NEAREST_LABELS = {"substation": "substation", "line": "transmission line", "plant": "power plant",
                  "water": "river or lake", "interstate": "Interstate", "rail": "railroad", "port": "port",
                  "airport": "airport"}


def esc(value: object) -> str:
    """HTML-escape ``value`` for any place in a Folium page.

    Besides ``& < > " '``, the characters that end or interpolate a JavaScript template literal
    (backtick, ``$``, backslash) become entities too, because Folium writes tooltips and popups
    into such literals.
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    s = html.escape(str(value), quote=True)
    return s.replace("`", "&#96;").replace("$", "&#36;").replace("\\", "&#92;")


def fmt(v: object, digits: int = 2) -> str:
    """A number for people: thousands separators for big values, ``n/a`` for missing.

    Parameters
    ----------
    v : object
        A number (booleans as yes/no); anything else is shown with ``str``.
    digits : int
        Decimals of values under 100.
    """
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
    """Plain-text label of a site (searchable): ``Site 3 - BLM Mojave unit, NV (score 83.5)``.

    Parameters
    ----------
    row : pandas.Series
        A row of the run's sites.
    """
    where = " ".join(str(x) for x in (_get(row, "agency"), _get(row, "unit")) if x)
    state = _get(row, "state")
    return f"Site {int(row['rank'])} - {where or 'land'}{', ' + str(state) if state else ''} (score {row['score']:.1f})"


def site_tooltip(row) -> str:
    """Tooltip HTML (escaped): rank, score, acres, agency.

    Parameters
    ----------
    row : pandas.Series
        A row of the run's sites.
    """
    return (f"<b>#{int(row['rank'])}</b> score <b>{esc(fmt(row['score'], 1))}</b> &middot; "
            f"{esc(fmt(_get(row, 'acres')))} acres &middot; {esc(_get(row, 'agency') or 'n/a')}"
            + (f" {esc(_get(row, 'unit'))}" if _get(row, "unit") else ""))


def _lonlat(row) -> str:
    lat, lon = _get(row, "lat"), _get(row, "lon")
    return "n/a" if lat is None or lon is None else f"{float(lat):.4f}, {float(lon):.4f} (lat, lon)"


def site_popup(row, run, exports: list[str]) -> str:
    """Popup HTML (escaped) with the site's full breakdown and links to its rows in the exports.

    Parameters
    ----------
    row : pandas.Series
        A row of the run's sites.
    run : sitesel.output.runs.Run
        Its criteria and constraints.
    exports : list of str
        Export file names to link (relative to the map).
    """
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
    parts.append(cost_html(row))
    near = []
    for prefix, *_ in NEAREST:
        km = _get(row, f"nearest_{prefix}_km")
        if km is None:
            continue
        name = _get(row, f"nearest_{prefix}_name")
        extra = [f"{fmt(_get(row, f'nearest_{prefix}_kv'))} kV"
                 if _get(row, f"nearest_{prefix}_kv") is not None else "",
                 f"{fmt(_get(row, f'nearest_{prefix}_mw'))} MW"
                 if _get(row, f"nearest_{prefix}_mw") is not None else ""]
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


def cost_html(row) -> str:
    """The site's costs (escaped): the connection items, their total with its range, the park's
    capital cost and the time to power; empty when the run priced no sites."""
    total = _get(row, "cost_site_usd")
    if total is None:
        return ""
    items = []
    for item in COST_ITEMS:
        v = _get(row, f"cost_{item}_usd")
        if v is None or v > 0:
            shown = format_usd(v if v is not None else float("nan"))
            items.append(f"<tr><td>{esc(item.replace('_', ' '))}</td><td>{esc(shown)}</td></tr>")
    low, high = _get(row, "cost_site_low_usd"), _get(row, "cost_site_high_usd")
    span = f" ({format_usd(low)}-{format_usd(high)})" if low is not None and high is not None else ""
    months = _get(row, "time_to_power_months")
    capex = _get(row, "capex_usd")
    return ("<div><b>Costs</b> &middot; " + esc(_get(row, "cost_summary") or "") + '<table class="ss-t">'
            + "".join(items) + f"<tr><th>to connect</th><th>{esc(format_usd(total) + span)}</th></tr>"
            + (f"<tr><td>park capital cost</td><td>{esc(format_usd(capex))}</td></tr>" if capex else "")
            + (f"<tr><td>time to power</td><td>~{esc(fmt(months, 0))} months</td></tr>" if months is not None else "")
            + "</table></div>")


def legend_html(run, context: dict, titles: dict | None = None, surface: bool = False) -> str:
    """The legend panel (escaped HTML) of the layers drawn, or ``""`` if there is none.

    Parameters
    ----------
    run : sitesel.output.runs.Run
    context : dict
        The context layers drawn (name -> GeoDataFrame).
    titles : dict, optional
        Layer name -> title, for layers that were thinned.
    surface : bool
        The suitability surface is drawn.
    """
    rows = []
    if "federal_land" in context:
        ags = sorted(set(context["federal_land"]["agency"].dropna().astype(str)))
        rows.append("<b>Eligible federal land</b>")
        rows += [f'<div><i style="background:{AGENCY_COLORS.get(a, AGENCY_COLORS["OTHER"])};opacity:.7"></i>'
                 f'{esc(a)}</div>'
                 for a in ags]
    if "transmission_lines" in context:
        rows.append("<b>Transmission lines</b>")
        rows += [f'<div><i class="ln" style="border-top:{wd}px solid {c}"></i>{esc(lbl)}</div>'
                 for _, lbl, c, wd in KV_STYLES]
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


def title_html(run, n_sites: int) -> str:
    """The title panel (escaped HTML): park, region, eligibility, weights, constraints, sources.

    Parameters
    ----------
    run : sitesel.output.runs.Run
    n_sites : int
        Number of ranked sites.
    """
    rows = "".join(f"<tr><td>{esc(k)}</td><td>{esc(c.get('measure'))}</td>"
                   f"<td>{esc(fmt(100 * float(c.get('weight', 0)), 0))}%</td></tr>"
                   for k, c in sorted(run.criteria.items(), key=lambda kv: -float(kv[1].get("weight", 0))))
    cons = "".join(f"<li>{esc(d)}</li>" for d in run.constraints.values())
    srcs = ", ".join(esc(s) for s in run.sources) or "n/a"
    agencies = (", ".join(esc(a) for a in run.eligible_agencies) if run.land == "federal"
                else "any land except never-eligible federal land")
    stamp = dt.date.today().isoformat()
    return (f'<div class="ss-title"><div class="ss-h">{esc(run.title)} &middot; {esc(run.region_label)}</div>'
            f'<div class="ss-sub">{n_sites} ranked sites &middot; park type <code>{esc(run.park)}</code> &middot; '
            f'eligible: {agencies}</div>'
            f'<details><summary>weights, constraints and data sources</summary>'
            f'<table class="ss-t"><tr><th>criterion</th><th>measure</th><th>weight</th></tr>{rows}</table>'
            f'<div><b>Hard constraints</b><ul>{cons}</ul></div>'
            f'<div><b>Data sources</b>: {srcs}</div>'
            f'<div class="ss-foot">sitesel {esc(__version__)} &middot; drawn {stamp}</div></details></div>')


#: Styles of the panels, popups and site numbers.
PAGE_CSS = """
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
