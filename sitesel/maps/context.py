"""Context layers for maps and GeoPackages: what is drawn around the sites, clipped to the region.

The same table of layers and styles serves the interactive map (:mod:`sitesel.maps.interactive`), the
static picture (:mod:`sitesel.maps.static`) and the QGIS styles of the GeoPackage
(:mod:`sitesel.output.vector`), so all three look alike.
"""
from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

#: Context reaches this far past the region's border, so a feature a site's distance counts
#: (a substation just across a state line) is still drawn.
CLIP_MARGIN_M = 20_000.0
#: Coordinates of display layers are rounded to 5 decimals of a degree (about 1 m).
DISPLAY_DECIMALS = 5

#: Colours of the managing agencies (PAD-US manager codes), as on BLM/USFS surface-management maps.
AGENCY_COLORS = {
    "BLM": "#f7d35c", "USFS": "#5aa05a", "DOD": "#d98fd9", "DOE": "#f08a5d", "USBR": "#6fa8dc",
    "TVA": "#9e7bb5", "NPS": "#9b6b43", "FWS": "#7fc8c8", "BIA": "#c9a27e", "OTHER": "#bbbbbb",
}
#: Transmission voltage classes (lower bound kV, label, colour, line width in px).
KV_STYLES = (
    (765.0, "765 kV", "#54278f", 3.5),
    (500.0, "500 kV", "#b30000", 3.0),
    (345.0, "345 kV", "#e34a33", 2.5),
    (230.0, "230 kV", "#fc8d59", 2.0),
    (-np.inf, "under 230 kV or unknown", "#969696", 1.5),
)
#: Power-plant size classes (lower bound MW, label, circle radius in px).
MW_STYLES = (
    (2000.0, "2,000 MW and more", 13),
    (1000.0, "1,000-2,000 MW", 10),
    (300.0, "300-1,000 MW", 7),
    (50.0, "50-300 MW", 5),
    (-np.inf, "under 50 MW", 3),
)
#: Substations below this maximum voltage are left out (the evidence counts >= 115 kV too).
SUBSTATION_MIN_KV = 115.0


@dataclass(frozen=True)
class Context:
    """One context layer: where it comes from, what it is called and how it looks."""

    name: str  # layer name in the GeoPackage and id in the map
    title: str  # shown in the map's layer control and legends
    sources: tuple[str, ...]  # canonical manifest layers
    geom: str  # "polygon", "line" or "point"
    color: str
    show: bool = False  # visible when the map opens


CONTEXTS: tuple[Context, ...] = (
    Context("federal_land", "Eligible federal land (by agency)", ("federal_lands",), "polygon", "#f7d35c", show=True),
    Context("transmission_lines", "Transmission lines (by voltage)", ("transmission_lines",), "line", "#e34a33", show=True),
    Context("substations", f"Substations (>= {SUBSTATION_MIN_KV:g} kV)", ("substations",), "point", "#6a3d9a"),
    Context("power_plants", "Power plants (sized by MW)", ("power_plants",), "point", "#ffb000"),
    Context("rivers", "Rivers", ("rivers",), "line", "#2b8cbe"),
    Context("lakes", "Lakes", ("lakes",), "polygon", "#9ecae1"),
    Context("railroads", "Railroads", ("railroads",), "line", "#404040"),
    Context("roads", "Interstates and highways", ("highways", "interstates"), "line", "#8c6d31"),
    Context("ports", "Ports", ("ports",), "point", "#08519c"),
    Context("airports", "Airports", ("airports",), "point", "#252525"),
)


def style_classes(values, styles=KV_STYLES) -> np.ndarray:
    """Index into ``styles`` (:data:`KV_STYLES` or :data:`MW_STYLES`) of each value: the first
    class whose lower bound it meets; missing values get the last class."""
    v = np.asarray(values, dtype=float)
    v = np.where(np.isfinite(v), v, -np.inf)
    out = np.full(v.shape, len(styles) - 1, dtype=np.int64)
    for i in range(len(styles) - 1, -1, -1):  # the first class whose lower bound is met wins
        out[v >= styles[i][0]] = i
    return out


def clip_area(study, margin_m: float = CLIP_MARGIN_M):
    """The region (grid CRS), lightly simplified and grown by ``margin_m``."""
    g = study.region.geometry
    area = shapely.buffer(shapely.simplify(g, min(margin_m / 4, 2_000.0)), margin_m)
    shapely.prepare(area)  # many predicate tests follow: a national region has ~10^5 vertices
    return area


def _clip(gdf: gpd.GeoDataFrame, area) -> gpd.GeoDataFrame:
    if gdf.empty:
        return gdf
    idx = gdf.sindex.query(area, predicate="intersects")
    sub = gdf.iloc[np.sort(idx)].copy()
    covered = shapely.contains_properly(area, sub.geometry.values)
    geoms = sub.geometry.values.copy()
    geoms[~covered] = shapely.intersection(geoms[~covered], area)
    sub["geometry"] = geoms
    return sub[~sub.geometry.is_empty & sub.geometry.notna()]


#: Clipped context layers per study (spec key and region) and layer; see :func:`context_layers`.
_CONTEXT: dict = {}


def context_layers(study, agencies=None, land: str = "federal", margin_m: float = CLIP_MARGIN_M,
                   names=None) -> dict[str, gpd.GeoDataFrame]:
    """Context layers of a study clipped to its region (grid CRS, full detail).

    Parameters
    ----------
    study : Study
        Its manifest says where the layers are; layers it lacks are skipped.
    agencies : list of str, optional
        Agencies whose land is eligible (federal land is filtered to them).
    land : {'federal', 'all'}
        With ``'all'`` the federal land layer is left out (any land was eligible).
    names : iterable of str, optional
        Only these context layers (default all of :data:`CONTEXTS`).

    Returns
    -------
    dict
        Context name -> GeoDataFrame with a ``label`` column (plain text, not escaped) and the
        columns its style needs (``agency``, ``voltage_kv``, ``max_kv``, ``mw``, ``fuel``, ``interstate``).
    """
    # Several park types ranked over one study share their clipped layers (only federal land
    # depends on the park's agencies): kept on the study.
    cache = _CONTEXT.setdefault((study.spec.key(), shapely.to_wkb(study.region.geometry)), {})
    if len(_CONTEXT) > 4:
        _CONTEXT.pop(next(iter(_CONTEXT)))
    wanted = set(names) if names is not None else {c.name for c in CONTEXTS}
    out: dict[str, gpd.GeoDataFrame] = {}
    for ctx in CONTEXTS:
        if ctx.name not in wanted or not all(study.manifest.has(s) for s in ctx.sources):
            continue
        if ctx.name == "federal_land" and land == "all":
            continue
        key = (ctx.name, tuple(sorted(agencies or ())) if ctx.name == "federal_land" else None, margin_m)
        if key not in cache:
            gdf = _prepare(ctx, study, agencies)
            if gdf is not None:
                # The clip area (the region simplified and buffered: ~1.5 s for the lower 48) is
                # the same for every park; federal land is clipped again for each set of agencies.
                if ("area", margin_m) not in cache:
                    cache[("area", margin_m)] = clip_area(study, margin_m)
                gdf = _clip(gdf, cache[("area", margin_m)]).reset_index(drop=True)
            cache[key] = gdf
        if cache[key] is not None and len(cache[key]):
            out[ctx.name] = cache[key]
    return out


def _text(v) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    return str(v)


def _prepare(ctx: Context, study, agencies) -> gpd.GeoDataFrame | None:
    gdf = study.layer(ctx.sources[0])
    crs = gdf.crs
    if ctx.name == "federal_land":
        if agencies:
            gdf = gdf[gdf["agency"].isin([a.upper() for a in agencies])]
        g = gdf[["agency", "unit", "geometry"]].copy()
        g["label"] = [f"{_text(a)} {_text(u)}".strip() or "federal land" for a, u in zip(g["agency"], g["unit"])]
        return g
    if ctx.name == "transmission_lines":
        g = gdf[["voltage_kv", "geometry"]].copy()
        g["label"] = [f"{kv:g} kV line" if np.isfinite(kv) else "line, voltage unknown" for kv in g["voltage_kv"].astype(float)]
        return g
    if ctx.name == "substations":
        g = gdf[gdf["max_kv"].astype(float) >= SUBSTATION_MIN_KV][["name", "max_kv", "geometry"]].copy()
        g["label"] = [f"{_text(n) or 'substation'} ({kv:g} kV)" for n, kv in zip(g["name"], g["max_kv"].astype(float))]
        return g
    if ctx.name == "power_plants":
        g = gdf[["name", "mw", "fuel", "geometry"]].copy()
        g["label"] = [f"{_text(n) or 'power plant'}: {_fmt_mw(mw)}, {_text(f) or 'fuel unknown'}"
                      for n, mw, f in zip(g["name"], g["mw"].astype(float), g["fuel"])]
        return g.sort_values("mw", ascending=False, kind="mergesort")  # small plants drawn on top
    if ctx.name == "roads":
        hw = gdf[["name", "geometry"]].copy()
        hw["interstate"] = False
        inter = study.layer("interstates")[["name", "geometry"]].copy()
        inter["interstate"] = True
        g = gpd.GeoDataFrame(pd.concat([hw, inter], ignore_index=True), geometry="geometry", crs=crs)
        g["label"] = [_text(n) or ("Interstate" if i else "highway") for n, i in zip(g["name"], g["interstate"])]
        return g
    cols = ["name", "geometry"] if "name" in gdf.columns else ["geometry"]
    g = gdf[cols].copy()
    base = ctx.title.rstrip("s").lower()
    g["label"] = [_text(n) or base for n in g["name"]] if "name" in g.columns else base
    return g


def _fmt_mw(mw: float) -> str:
    return "capacity unknown" if not np.isfinite(mw) else f"{mw:,.0f} MW"


def for_display(gdf: gpd.GeoDataFrame, tolerance_m: float, decimals: int = DISPLAY_DECIMALS) -> gpd.GeoDataFrame:
    """Simplify (in the layer's metric CRS), move to WGS84 and round coordinates, for web maps."""
    out = gdf.copy()
    types = set(out.geom_type.dropna())
    if tolerance_m > 0 and types - {"Point", "MultiPoint"}:
        # Only polygons need their topology kept (a simplified ring must not cross itself); lines
        # simplify ~4x faster without.
        polygons = bool(types & {"Polygon", "MultiPolygon"})
        out["geometry"] = out.geometry.simplify(tolerance_m, preserve_topology=polygons)
    out = out.to_crs("EPSG:4326")
    # Rounding every coordinate (what set_precision's "pointwise" mode does, ~5x faster).
    out["geometry"] = shapely.transform(out.geometry.values, lambda xy: np.round(xy, decimals))
    return out[~out.geometry.is_empty & out.geometry.notna()]
