"""Context layers for maps and GeoPackages: what is drawn around the sites, clipped to the region.

The same table of layers serves the interactive map (:mod:`sitesel.maps.interactive`), the static
picture (:mod:`sitesel.maps.static`) and the GeoPackage (:mod:`sitesel.pipeline.products`); their
colours are in :mod:`sitesel.maps.styles`.
"""
from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["CLIP_MARGIN_M", "CLIPPED", "CONTEXTS", "ClippedLayers", "Context", "DISPLAY_DECIMALS",
           "SUBSTATION_MIN_KV", "clip_area", "context_layers", "for_display"]

#: Context reaches this far past the region's border, so a feature a site's distance counts
#: (a substation just across a state line) is still drawn.
CLIP_MARGIN_M = 20_000.0
#: Coordinates of display layers are rounded to 5 decimals of a degree (about 1 m).
DISPLAY_DECIMALS = 5

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
    Context("transmission_lines", "Transmission lines (by voltage)", ("transmission_lines",), "line", "#e34a33",
            show=True),
    Context("substations", f"Substations (>= {SUBSTATION_MIN_KV:g} kV)", ("substations",), "point", "#6a3d9a"),
    Context("power_plants", "Power plants (sized by MW)", ("power_plants",), "point", "#ffb000"),
    Context("rivers", "Rivers", ("rivers",), "line", "#2b8cbe"),
    Context("lakes", "Lakes", ("lakes",), "polygon", "#9ecae1"),
    Context("railroads", "Railroads", ("railroads",), "line", "#404040"),
    Context("roads", "Interstates and highways", ("highways", "interstates"), "line", "#8c6d31"),
    Context("ports", "Ports", ("ports",), "point", "#08519c"),
    Context("airports", "Airports", ("airports",), "point", "#252525"),
)


def clip_area(study, margin_m: float = CLIP_MARGIN_M) -> shapely.Geometry:
    """The region (grid CRS), lightly simplified and grown by ``margin_m``, prepared for predicates.

    Parameters
    ----------
    study : sitesel.study.core.Study
    margin_m : float
        Metres the region is grown by.
    """
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


class ClippedLayers:
    """Clipped context layers of the last few studies, shared by the park types ranked over one.

    Only federal land depends on the park (its agencies); every other layer, and the clip area,
    is clipped once per study and region.

    Parameters
    ----------
    studies : int
        Studies kept; the oldest is dropped past this many.
    """

    def __init__(self, studies: int = 4):
        self.studies = studies
        self._by_study: dict = {}

    def of(self, study) -> dict:
        """The cache of ``study`` (spec and region): (layer, agencies, margin) -> GeoDataFrame or None."""
        cache = self._by_study.setdefault((study.spec.key(), shapely.to_wkb(study.region.geometry)), {})
        if len(self._by_study) > self.studies:
            self._by_study.pop(next(iter(self._by_study)))
        return cache

    def clear(self) -> None:
        """Forget every study."""
        self._by_study.clear()


#: The process's clipped context layers (see :func:`context_layers`).
CLIPPED = ClippedLayers()


def context_layers(study, agencies: list[str] | None = None, land: str = "federal",
                   margin_m: float = CLIP_MARGIN_M, names=None) -> dict[str, gpd.GeoDataFrame]:
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
    cache = CLIPPED.of(study)
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
                # The clip area (the region simplified and buffered, costly for a large region) is
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
        g["label"] = [f"{kv:g} kV line" if np.isfinite(kv) else "line, voltage unknown"
                      for kv in g["voltage_kv"].astype(float)]
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
    """Simplify (in the layer's metric CRS), move to WGS84 and round coordinates, for web maps.

    Parameters
    ----------
    gdf : GeoDataFrame
        A context layer in a metric CRS.
    tolerance_m : float
        Simplification tolerance in metres (0: none; points are never simplified).
    decimals : int
        Decimals of a degree kept.

    Returns
    -------
    GeoDataFrame
        In EPSG:4326, without empty or missing geometries.
    """
    out = gdf.copy()
    types = set(out.geom_type.dropna())
    if tolerance_m > 0 and types - {"Point", "MultiPoint"}:
        # Only polygons need their topology kept (a simplified ring must not cross itself); lines
        # simplify much faster without.
        polygons = bool(types & {"Polygon", "MultiPolygon"})
        out["geometry"] = out.geometry.simplify(tolerance_m, preserve_topology=polygons)
    out = out.to_crs("EPSG:4326")
    # Rounding every coordinate: what set_precision's "pointwise" mode does, at a fraction of the cost.
    out["geometry"] = shapely.transform(out.geometry.values, lambda xy: np.round(xy, decimals))
    return out[~out.geometry.is_empty & out.geometry.notna()]
