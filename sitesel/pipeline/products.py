"""The products drawn from a written run folder: map.html, map.png and the exports.

``sitesel rank`` calls :func:`write_products` once a park's ``sites.geojson``, ``run.json`` and
``suitability.tif`` are written; ``sitesel map`` calls it on a finished run, and ``sitesel export``
calls :func:`export_run`. Context layers are clipped from the run's study once and shared by the
GeoPackage, the interactive map and the picture.
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd

from sitesel.defaults import DEFAULT_EXPORTS
from sitesel.maps.context import context_layers
from sitesel.maps.qgis import gpkg_layers, gpkg_styles
from sitesel.maps.static import write_static_map
from sitesel.output.runs import Run
from sitesel.output.vector import FORMATS, parse_formats, write_csv, write_geojson, write_gpkg, write_kml, write_parquet

__all__ = ["Clock", "export_run", "gpkg_job", "run_context", "start_picture", "static_map_job",
           "write_products", "write_styled_gpkg"]


def write_products(run: Run, folder: Path, exports: Iterable[str] = DEFAULT_EXPORTS, offline: bool = False,
                   context: bool = True, png: bool = True, map_path: Path | None = None,
                   timings: dict | None = None, pool: Executor | None = None,
                   ctx: dict | Future | None = None, picture: Future | None = None) -> dict[str, Path]:
    """Exports, ``map.html`` and ``map.png`` of a run, into ``folder``.

    Parameters
    ----------
    run : sitesel.output.runs.Run
        The run (``sitesel rank`` attaches its open study; otherwise it is re-opened).
    folder : Path
        Where the products go.
    exports : iterable of str
        Export formats besides GeoJSON and CSV (see :data:`sitesel.output.vector.FORMATS`).
    offline : bool
        Inline the map's JavaScript and CSS so it opens without a network.
    context : bool
        Draw and export the context layers (needs the run's layer manifest).
    png : bool
        Draw ``map.png`` too.
    map_path : Path, optional
        Where to write the interactive map (default ``folder / "map.html"``).
    timings : dict, optional
        Receives the seconds each product took.
    pool : executor, optional
        Draws ``map.png`` in another process meanwhile (both pictures are CPU-bound Python).
    ctx : dict or Future, optional
        The context layers, if already clipped (or being clipped) for this run.
    picture : Future, optional
        ``map.png`` being drawn already (see :func:`start_picture`).

    Returns
    -------
    dict
        Product (``gpkg``, ``parquet``, ``kml``, ``map``, ``png``) -> path written.
    """
    # Imported here: the pictures' worker processes import this module and need no folium.
    from sitesel.maps.interactive import write_map

    clock = Clock(timings)
    if picture is None and png and pool is not None:
        picture = start_picture(run, folder, pool, context)
    with clock("context layers"):
        if ctx is None or not context:
            layers = run_context(run, context)
        elif isinstance(ctx, Future):
            layers = ctx.result()
        else:
            layers = ctx
    # The GeoPackage (sites and clipped context layers) is written by the other worker meanwhile,
    # from the layers clipped here (sending them is cheaper than clipping them again).
    package = (pool.submit(gpkg_job, run, folder / FORMATS["gpkg"], layers)
               if ("gpkg" in exports and pool is not None) else None)
    written: dict[str, Path] = {}
    writers = {"gpkg": lambda p: write_styled_gpkg(run.sites, p, run.grid_crs, layers),
               "parquet": lambda p: write_parquet(run.sites, p), "kml": lambda p: write_kml(run.sites, p)}
    for fmt in exports:
        if fmt in writers and not (fmt == "gpkg" and package is not None):
            with clock(fmt):
                written[fmt] = writers[fmt](folder / FORMATS[fmt])
    links = [n for n in ("sites.csv", "sites.geojson", "sites.gpkg", "sites.parquet", "sites.kml")
             if (folder / n).exists() or (run.path / n).exists()]
    with clock("map.html"):
        written["map"] = write_map(run, map_path or folder / "map.html", layers, offline=offline, exports=links)
    if package is not None:
        with clock("gpkg (waited for)"):
            written["gpkg"], seconds = package.result()
        if timings is not None:
            timings["gpkg"] = round(seconds, 3)
    if picture is not None:
        with clock("map.png (waited for)"):
            written["png"], seconds = picture.result()
        if timings is not None:
            timings["map.png"] = round(seconds, 3)
    elif png:
        with clock("map.png"):
            written["png"] = write_static_map(run, folder / "map.png", layers)
    return written


def start_picture(run: Run, folder: Path, pool: Executor, context: bool | dict = True,
                  surface_timeout: float = 0.0) -> Future:
    """Start drawing ``map.png`` in a worker process.

    Parameters
    ----------
    run : sitesel.output.runs.Run
    folder : Path
        The run folder (``map.png`` goes there; ``suitability.tif`` is read from the run's).
    pool : executor
        Runs :func:`static_map_job`.
    context : bool or dict
        The run's clipped context layers (from :func:`sitesel.maps.context.context_layers`), or
        whether the worker should clip them itself.
    surface_timeout : float
        Seconds the picture may wait for ``suitability.tif``: with it the picture can start before
        the surface is written and draws it last, once the file appears (it is written under
        another name and renamed when complete).

    Returns
    -------
    Future
        Of ``(path, seconds)``.
    """
    return pool.submit(static_map_job, run, folder / "map.png", context, surface_timeout)


def static_map_job(run: Run, path: Path, context: bool | dict,
                   surface_timeout: float = 0.0) -> tuple[Path, float]:
    """Draw ``map.png`` (in a worker process) with the context layers sent, or clipped here.

    Parameters
    ----------
    run : sitesel.output.runs.Run
    path : Path
        The picture.
    context : bool or dict
        Context layers, or whether to clip them from the run's study.
    surface_timeout : float
        See :func:`start_picture`.

    Returns
    -------
    path : Path
    seconds : float
        Wall time the picture took.
    """
    t = time.perf_counter()
    ctx = context if isinstance(context, dict) else run_context(run, context)
    return write_static_map(run, path, ctx, surface_timeout=surface_timeout), time.perf_counter() - t


def gpkg_job(run: Run, path: Path, ctx: dict) -> tuple[Path, float]:
    """Write ``sites.gpkg`` with the given context layers (in a worker process).

    Returns
    -------
    path : Path
    seconds : float
        Wall time it took.
    """
    t = time.perf_counter()
    return write_styled_gpkg(run.sites, path, run.grid_crs, ctx), time.perf_counter() - t


def write_styled_gpkg(sites: gpd.GeoDataFrame, path: Path, crs: str | None = None,
                      ctx: dict[str, gpd.GeoDataFrame] | None = None) -> Path:
    """Write sites and context layers as a GeoPackage with the QGIS styles of :mod:`sitesel.maps.qgis`.

    Parameters
    ----------
    sites : GeoDataFrame
        Ranked sites.
    path : Path
        The file (replaced if it exists).
    crs : str, optional
        CRS of every layer (default the sites' own).
    ctx : dict, optional
        Context layers (:func:`sitesel.maps.context.context_layers`); none if empty or None.

    Returns
    -------
    Path
    """
    layers = gpkg_layers(ctx) if ctx else None
    return write_gpkg(sites, path, crs=crs, context=layers, styles=gpkg_styles(layers))


def run_context(run: Run, context: bool = True, layers: str | Path | None = None) -> dict[str, gpd.GeoDataFrame]:
    """The run's context layers clipped to its region.

    Parameters
    ----------
    run : sitesel.output.runs.Run
    context : bool
        False: none (an empty dict).
    layers : path, optional
        A layer manifest to use instead of the one ``run.json`` names.
    """
    return context_layers(run.study(layers), run.eligible_agencies, run.land) if context else {}


def export_run(run: Run, fmt: str, out: Path | None = None, context: bool = True,
               layers: str | Path | None = None) -> Path:
    """Write one export of a finished run.

    Parameters
    ----------
    run : sitesel.output.runs.Run
        The run to export.
    fmt : str
        One of :data:`sitesel.output.vector.FORMATS`.
    out : path, optional
        Output file (default the run directory's ``sites.<ext>``).
    context : bool
        GeoPackage only: also write the context layers (re-reads the run's layer manifest).
    layers : path, optional
        A layer manifest to use instead of the one ``run.json`` names.

    Returns
    -------
    Path
    """
    fmt = parse_formats(fmt)[0]
    out = Path(out) if out else run.path / FORMATS[fmt]
    sites = run.sites
    if fmt == "geojson":
        return write_geojson(sites, out)
    if fmt == "csv":
        return write_csv(sites, out)
    if fmt == "parquet":
        return write_parquet(sites, out)
    if fmt == "kml":
        return write_kml(sites, out)
    return write_styled_gpkg(sites, out, run.grid_crs, run_context(run, context, layers) if context else None)


class Clock:
    """Adds the wall time of each ``with clock(name)`` block to a dict (if one is given).

    Parameters
    ----------
    timings : dict, optional
        Name -> seconds (rounded to ms), summed over blocks of one name.
    """

    def __init__(self, timings: dict | None):
        self.timings = timings

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            if self.timings is not None:
                self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - t, 3)
