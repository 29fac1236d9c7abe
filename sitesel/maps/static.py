"""``map.png``: a static picture of the top sites over the region, for reports and slides."""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import shapely
from shapely import GeometryType

from sitesel.maps.styles import AGENCY_COLORS, KV_STYLES, SCORE_COLORS, style_classes
from sitesel.output.runs import Run
from sitesel.output.surface import SURFACE_FAILED

__all__ = ["BACKGROUNDS", "BACKGROUND_PX", "Backgrounds", "LABELLED", "line_collection", "render_layers",
           "write_static_map"]

#: Sites labelled with their rank number (the others are drawn, unlabelled).
LABELLED = 10


def _scale_bar(ax, xmin, xmax, ymin, ymax) -> None:
    span = (xmax - xmin) / 5 / 1000
    km = 10 ** math.floor(math.log10(span))
    km = next(k for k in (5 * km, 2 * km, km) if k <= span)
    x0, y0 = xmin + (xmax - xmin) * 0.04, ymin + (ymax - ymin) * 0.04
    ax.plot([x0, x0 + km * 1000], [y0, y0], color="black", lw=3, solid_capstyle="butt", zorder=20)
    ax.text(x0 + km * 500, y0 + (ymax - ymin) * 0.012, f"{km:g} km", ha="center", va="bottom", fontsize=9, zorder=20)


#: Width of a rendered background (pixels): finer than the figure's axes at 150 dpi.
BACKGROUND_PX = 2400


class Backgrounds:
    """Rendered backgrounds, shared by the pictures of several park types over one study.

    Keyed by the layers drawn, the ids of their frames (kept with the entry, so not reused), the
    state borders and the extent.

    Parameters
    ----------
    limit : int
        Images kept; all are dropped past this many.
    """

    def __init__(self, limit: int = 16):
        self.limit = limit
        self._images: dict[tuple, tuple[list, np.ndarray]] = {}

    def get(self, key: tuple, sources: list) -> np.ndarray | None:
        """The image of ``key`` if it was drawn from these very ``sources``."""
        hit = self._images.get(key)
        if hit is not None and all(a is b for a, b in zip(hit[0], sources)):
            return hit[1]
        return None

    def put(self, key: tuple, sources: list, image: np.ndarray) -> None:
        """Keep ``image``, drawn from ``sources``."""
        if len(self._images) > self.limit:
            self._images.clear()
        self._images[key] = (sources, image)

    def clear(self) -> None:
        """Forget every image."""
        self._images.clear()


#: The process's backgrounds (see :func:`render_layers`).
BACKGROUNDS = Backgrounds()


def _background(context: dict, states, extent) -> np.ndarray:
    """Federal land, transmission lines, Interstates and state borders as an RGBA image.

    Two cached layers: lines, roads and borders (the same for every park type over a study), and
    the eligible federal land (one per set of agencies), composited.
    """
    from PIL import Image

    base = render_layers(("transmission_lines", "roads", "states"), context, states, extent)
    if "federal_land" not in context:
        return base
    land = render_layers(("federal_land",), context, states, extent)
    return np.asarray(Image.alpha_composite(Image.fromarray(land), Image.fromarray(base)))


def line_collection(geoms, **kwargs):
    """One matplotlib collection for all the lines (or polygon outlines) in ``geoms``.

    Drawing through geopandas redraws the whole figure after every call; one collection per
    style draws once.

    Parameters
    ----------
    geoms : array-like of shapely geometries
        Lines, polygons and their multi-part forms (others and None are left out).
    **kwargs
        Passed to ``LineCollection``.

    Returns
    -------
    matplotlib.collections.LineCollection
    """
    from matplotlib.collections import LineCollection

    geoms = shapely.get_parts(np.asarray(geoms))  # multi-part geometries into their parts
    types = shapely.get_type_id(geoms)
    lines = np.concatenate([geoms[np.isin(types, (GeometryType.LINESTRING, GeometryType.LINEARRING))],
                            shapely.get_rings(geoms[types == GeometryType.POLYGON])])
    xy, idx = shapely.get_coordinates(lines, return_index=True)
    return LineCollection(np.split(xy, np.flatnonzero(np.diff(idx)) + 1) if len(xy) else [], **kwargs)


def _polygon_path(geoms):
    """All polygons of ``geoms`` as one matplotlib path (holes left open)."""
    from matplotlib.path import Path as MplPath

    # Normalised polygons run their outer rings and holes in opposite directions, so the
    # non-zero fill leaves the holes open and overlapping polygons are filled once.
    polys = shapely.normalize(shapely.get_parts(np.asarray(geoms)))
    rings = shapely.get_rings(polys[shapely.get_type_id(polys) == GeometryType.POLYGON])
    xy, idx = shapely.get_coordinates(rings, return_index=True)
    codes = np.full(len(xy), MplPath.LINETO, dtype=MplPath.code_type)
    if len(xy):
        starts = np.r_[0, np.flatnonzero(np.diff(idx)) + 1]
        codes[starts] = MplPath.MOVETO
        codes[np.r_[starts[1:] - 1, len(xy) - 1]] = MplPath.CLOSEPOLY
    return MplPath(xy, codes)


def _fill(ax, geoms, **kwargs) -> None:
    from matplotlib.patches import PathPatch

    if len(geoms):
        # Not add_patch: its data-limit update walks every vertex, and the limits are set anyway.
        ax.add_artist(PathPatch(_polygon_path(geoms), **kwargs))


def render_layers(parts: tuple[str, ...], context: dict, states,
                  extent: tuple[float, float, float, float]) -> np.ndarray:
    """Some context layers and the state borders drawn into a transparent RGBA image (kept).

    Parameters
    ----------
    parts : tuple of str
        ``federal_land``, ``transmission_lines``, ``roads`` (Interstates) and ``states``.
    context : dict
        Context layers (grid CRS).
    states : GeoDataFrame or None
        State borders (grid CRS).
    extent : tuple
        ``(xmin, xmax, ymin, ymax)`` of the image; it is :data:`BACKGROUND_PX` wide.

    Returns
    -------
    ndarray of uint8, shape (height, width, 4)
    """
    import matplotlib.pyplot as plt

    sources = [context.get(k) for k in parts if k != "states"]
    # States are re-projected for every picture: they are keyed by what they are, not by object.
    borders = None if states is None or "states" not in parts else (
        tuple(sorted(states["code"])) if "code" in states else len(states))
    key = (parts, tuple(id(x) for x in sources), borders, tuple(round(v, 3) for v in extent))
    hit = BACKGROUNDS.get(key, sources)
    if hit is not None:
        return hit
    xmin, xmax, ymin, ymax = extent
    w = BACKGROUND_PX
    h = max(1, int(round(w * (ymax - ymin) / (xmax - xmin))))
    fig = plt.figure(figsize=(w / 100, h / 100), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    fig.patch.set_alpha(0)
    ax.patch.set_alpha(0)
    if "federal_land" in parts and "federal_land" in context:
        fl = context["federal_land"]
        agency = fl["agency"].where(fl["agency"].isin(list(AGENCY_COLORS)), "OTHER")
        for a in sorted(set(agency)):
            _fill(ax, fl.geometry.values[(agency == a).to_numpy()], facecolor=AGENCY_COLORS[a], alpha=0.35,
                  linewidth=0)
    if "transmission_lines" in parts and "transmission_lines" in context:
        tx = context["transmission_lines"]
        cls = style_classes(tx["voltage_kv"].astype(float), KV_STYLES)
        # Lowest voltages first, so the backbone is drawn on top.
        for i in range(len(KV_STYLES) - 1, -1, -1):
            if (cls == i).any():
                ax.add_collection(line_collection(tx.geometry.values[cls == i], color=KV_STYLES[i][2],
                                                   linewidth=KV_STYLES[i][3] / 3 * w / 1650), autolim=False)
    if "roads" in parts and "roads" in context:
        inter = context["roads"]["interstate"].astype(bool).to_numpy()
        if inter.any():
            ax.add_collection(line_collection(context["roads"].geometry.values[inter], color="#8c2d04",
                                               linewidth=0.6 * w / 1650, alpha=0.6), autolim=False)
    if "states" in parts and states is not None:
        ax.add_collection(line_collection(states.geometry.values, color="#333333", linewidth=0.8 * w / 1650),
                          autolim=False)
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba()).copy()
    plt.close(fig)
    BACKGROUNDS.put(key, sources, img)
    return img


def write_static_map(run: Run, path: Path, context: dict | None = None, dpi: int = 150,
                     surface_timeout: float = 0.0) -> Path:
    """Draw ``map.png``: region, eligible land, suitability, transmission and the ranked sites.

    Parameters
    ----------
    run : sitesel.output.runs.Run
        Sites and record of the run.
    path : Path
        The picture.
    context : dict, optional
        Context layers (grid CRS) from :func:`sitesel.maps.context.context_layers`.
    surface_timeout : float
        Seconds to wait for ``suitability.tif`` to appear (it may still be being written by
        another process); drawn without the surface after that.

    Returns
    -------
    Path
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.patheffects as pe
    import matplotlib.pyplot as plt
    import rasterio
    from matplotlib.colors import LinearSegmentedColormap, Normalize
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    context = context or {}
    crs = run.grid_crs
    sites = run.sites.to_crs(crs)
    try:
        states = run.study().region.states.to_crs(crs)
        xmin, ymin, xmax, ymax = states.total_bounds
    except Exception:  # no manifest: frame the sites alone
        states = None
        xmin, ymin, xmax, ymax = sites.total_bounds if len(sites) else (0, 0, 1, 1)
    pad = 0.03 * max(xmax - xmin, ymax - ymin)
    xmin, xmax, ymin, ymax = xmin - pad, xmax + pad, ymin - pad, ymax + pad
    fig, ax = plt.subplots(figsize=(11, 8.5), dpi=dpi)
    ax.set_facecolor("#f4f4f2")
    handles = []
    if "federal_land" in context:
        fl = context["federal_land"]
        handles += [Patch(facecolor=AGENCY_COLORS.get(a, AGENCY_COLORS["OTHER"]), alpha=0.5, label=f"{a} land")
                    for a in sorted(set(fl["agency"].dropna()))]
    if "transmission_lines" in context:
        cls = set(style_classes(context["transmission_lines"]["voltage_kv"].astype(float), KV_STYLES))
        handles += [Line2D([], [], color=col, lw=wd / 2.5, label=lbl)
                    for i, (_, lbl, col, wd) in enumerate(KV_STYLES) if i in cls]
    if "roads" in context and context["roads"]["interstate"].astype(bool).any():
        handles.append(Line2D([], [], color="#8c2d04", lw=1, label="Interstate"))
    # Land, lines, roads and borders are the same for every park type over a study: drawn once
    # into an image and laid under each park's sites.
    extent = (xmin, xmax, ymin, ymax)
    ax.imshow(_background(context, states, extent), extent=extent, zorder=1, interpolation="antialiased")
    cmap = LinearSegmentedColormap.from_list("score", SCORE_COLORS)
    scores = sites["score"].astype(float).to_numpy() if len(sites) else np.array([0.0])
    lo, hi = (math.floor(scores.min() / 10) * 10,
              max(math.ceil(scores.max() / 10) * 10, math.floor(scores.min() / 10) * 10 + 10))
    norm = Normalize(lo, hi)
    if len(sites):
        # A 500-acre site is ~1.4 km across, a speck on a state map: mark each with a circle too.
        from matplotlib.collections import PatchCollection
        from matplotlib.patches import PathPatch

        ax.add_collection(PatchCollection([PathPatch(_polygon_path([g])) for g in sites.geometry.values],
                                          facecolors=[cmap(norm(s)) for s in scores], edgecolors="black",
                                          linewidths=0.4, zorder=5))
        c = sites.geometry.representative_point()
        ax.scatter(c.x, c.y, s=60, c=[cmap(norm(s)) for s in scores], edgecolors="black", linewidths=0.8, zorder=6)
        order = np.argsort(sites["rank"].to_numpy())[:LABELLED]
        for i in order:
            ax.annotate(str(int(sites["rank"].iloc[i])), (c.x.iloc[i], c.y.iloc[i]), xytext=(5, 5),
                        textcoords="offset points", fontsize=9, fontweight="bold", zorder=7,
                        path_effects=[pe.withStroke(linewidth=2.5, foreground="white")])
        sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
        fig.colorbar(sm, ax=ax, shrink=0.5, pad=0.01, label="site score (0-100)")
    # The image goes in last: geopandas redraws the figure after each plot call.
    surf = run.file("suitability.tif")
    deadline = time.monotonic() + surface_timeout
    failed = surf.with_name(SURFACE_FAILED)
    while not surf.is_file() and not failed.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    extent = None
    if surf.is_file():
        with rasterio.open(surf) as src:
            step = max(1, int(max(src.width, src.height) / 1000))
            data = src.read(1, out_shape=(src.height // step, src.width // step))
            b = src.bounds
            extent = (b.left, b.right, b.bottom, b.top)
        ax.imshow(np.ma.masked_invalid(data), extent=extent, cmap="Greys", vmin=0, vmax=100, alpha=0.45,
                  zorder=2, interpolation="nearest")
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    _scale_bar(ax, xmin, xmax, ymin, ymax)
    if handles:
        ax.legend(handles=handles, loc="lower right", fontsize=8, framealpha=0.9)
    top = sites.sort_values("rank").head(3) if len(sites) else sites
    sub = "; ".join(f"#{int(r['rank'])} {r['score']:.1f} ({r.get('agency') or 'n/a'}, {r.get('state') or ''})"
                    for _, r in top.iterrows())
    ax.set_title(f"{run.title}: top {len(sites)} sites, {run.region_label}\n{sub}", fontsize=12, loc="left")
    fig.tight_layout(rect=(0, 0.025, 1, 1))
    fig.text(0.01, 0.008, f"sitesel - grey shading: suitability surface (darker = better) - equal-area {crs} - "
             f"eligible: {', '.join(run.eligible_agencies) or 'any land'}", fontsize=7, color="#555")
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return Path(path)
