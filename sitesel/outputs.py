"""Writing a run: sites.geojson, sites.csv, suitability.tif, map.html and run.json.

Everything is written into a temporary folder inside the output directory and moved into place
only when complete, so an interrupted run never leaves a half-written file behind.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
from rasterio.windows import Window

from . import __version__
from .cache import sha256_file

#: Decimal places kept for floating-point attributes (stable, byte-identical reruns).
FLOAT_DECIMALS = 4


def tidy(sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Round floats so that reruns are byte-identical and files stay readable."""
    out = sites.copy()
    for col in out.columns:
        if col != "geometry" and pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(FLOAT_DECIMALS)
    out["score"] = out["score"].round(2)
    out["acres"] = out["acres"].round(1)
    return out


def write_sites(sites: gpd.GeoDataFrame, folder: Path) -> None:
    """``sites.geojson`` (RFC 7946, WGS84) and ``sites.csv`` (same attributes, no geometry)."""
    from .export import write_csv, write_geojson

    wgs = tidy(sites).to_crs("EPSG:4326")
    write_geojson(wgs, folder / "sites.geojson")
    write_csv(wgs, folder / "sites.csv")


#: Exports ``sitesel rank`` writes besides sites.geojson and sites.csv.
DEFAULT_EXPORTS = ("gpkg", "parquet")


def write_products(run, folder: Path, exports=DEFAULT_EXPORTS, offline: bool = False,
                   context: bool = True, png: bool = True, map_name: str = "map.html",
                   timings: dict | None = None) -> dict[str, Path]:
    """Exports, ``map.html`` and ``map.png`` of a run, into ``folder``.

    Context layers are clipped from the run's study once and shared by the GeoPackage, the
    interactive map and the picture.

    Parameters
    ----------
    run : sitesel.rundir.Run
        The run (``sitesel rank`` attaches its open study; otherwise it is re-opened).
    exports : iterable of str
        Export formats besides GeoJSON and CSV (see :data:`sitesel.export.FORMATS`).
    offline : bool
        Inline the map's JavaScript and CSS so it opens without a network.
    context : bool
        Draw and export the context layers (needs the run's layer manifest).
    timings : dict, optional
        Receives the seconds each product took.
    """
    from .export import FORMATS, write_gpkg, write_kml, write_parquet
    from .mapping import write_map
    from .maplayers import context_layers
    from .staticmap import write_static_map

    clock = _Clock(timings)
    with clock("context layers"):
        ctx = context_layers(run.study(), run.eligible_agencies, run.land) if context else {}
    written: dict[str, Path] = {}
    writers = {"gpkg": lambda p: write_gpkg(run.sites, p, crs=run.grid_crs, context=ctx),
               "parquet": lambda p: write_parquet(run.sites, p), "kml": lambda p: write_kml(run.sites, p)}
    for fmt in exports:
        if fmt in writers:
            with clock(fmt):
                written[fmt] = writers[fmt](folder / FORMATS[fmt])
    links = [n for n in ("sites.csv", "sites.geojson", "sites.gpkg", "sites.parquet", "sites.kml")
             if (folder / n).exists() or (run.path / n).exists()]
    with clock("map.html"):
        written["map"] = write_map(run, folder / map_name, ctx, offline=offline, exports=links)
    if png:
        with clock("map.png"):
            written["png"] = write_static_map(run, folder / "map.png", ctx)
    return written


class _Clock:
    """Adds the wall time of each ``with clock(name)`` block to a dict (if one is given)."""

    def __init__(self, timings: dict | None):
        self.timings = timings

    @contextmanager
    def __call__(self, name: str):
        t = time.perf_counter()
        try:
            yield
        finally:
            if self.timings is not None:
                self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - t, 3)


def region_window(study) -> Window:
    """The grid window covering the region (the grid itself extends past it)."""
    grid = study.grid
    xmin, ymin, xmax, ymax = study.region.geometry.bounds
    c0 = max(int((xmin - grid.xmin) // grid.res), 0)
    r0 = max(int((grid.ymax - ymax) // grid.res), 0)
    c1 = min(int(np.ceil((xmax - grid.xmin) / grid.res)), grid.width)
    r1 = min(int(np.ceil((grid.ymax - ymin) / grid.res)), grid.height)
    return Window(c0, r0, c1 - c0, r1 - r0)


def write_surface(result, study, folder: Path) -> None:
    """The 0-100 score surface as a Cloud-Optimized GeoTIFF (NaN nodata), cropped to the region."""
    grid = study.grid
    win = region_window(study)
    r0, c0 = win.row_off, win.col_off
    data = result.score_window(r0, c0, win.height, win.width) * np.float32(100)
    profile = dict(driver="COG", width=data.shape[1], height=data.shape[0], count=1, dtype="float32",
                   crs=grid.crs, transform=rasterio.windows.transform(win, grid.transform), nodata=np.nan,
                   compress="DEFLATE", level=1, blocksize=512, overviews="AUTO", overview_resampling="average",
                   sparse_ok=True, num_threads="ALL_CPUS")
    # Fast deflate without a predictor and no empty tiles: most of a national surface is NaN.
    with rasterio.open(folder / "suitability.tif", "w", **profile) as dst:
        dst.write(data, 1)
        dst.update_tags(units="score 0-100", description="sitesel suitability (weighted sum); nodata = infeasible")


def run_record(study, result, args: dict, timings: dict) -> dict:
    """Everything needed to reproduce and audit a run."""
    import geopandas, pyogrio, pyproj, rasterio as rio, scipy, shapely, folium

    p = result.profile
    return {
        "sitesel": __version__,
        "park": p.name,
        "profile": {
            "source": p.source,
            "title": p.title,
            "min_acres": p.min_acres,
            "separation_km": p.separation_km,
            "eligible_agencies": list(p.eligible_agencies),
            "land": result.land,
            "constraints": {c.key: c.describe() for c in p.constraints},
            "criteria": {c.key: {"measure": c.measure, "weight": round(p.weights[c.key], 6),
                                 "function": c.function.describe()} for c in p.criteria},
            "dropped_for_missing_layers": p.dropped,
            "dropped_weight": round(sum(v for v in p.dropped.values() if v), 6),
        },
        "region": {"label": study.region.label, "states": study.region.codes, "bbox": study.region.bbox},
        "grid": {"crs": study.grid.crs, "resolution_m": study.grid.res, "width": study.grid.width,
                 "height": study.grid.height, "bounds": study.grid.bounds},
        "stats": result.stats,
        "arguments": args,
        "inputs": [{"path": str(f), "sha256": sha256_file(f), "bytes": f.stat().st_size}
                   for f in study.input_files() if f.is_file()],
        "manifest": str(study.manifest.path),
        "layers": study.layer_reports(),
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
                     "geopandas": geopandas.__version__, "shapely": shapely.__version__,
                     "pyogrio": pyogrio.__version__, "pyproj": pyproj.__version__, "rasterio": rio.__version__,
                     "gdal": rio.__gdal_version__, "folium": folium.__version__},
        "timings_s": timings,
        "measure_cpu_s": {k: round(v, 3) for k, v in sorted(getattr(study, "cpu_seconds", {}).items())},
    }


class OutputDir:
    """Stage files in a temporary sibling folder; move them into ``path`` on :meth:`commit`."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=".sitesel-", dir=self.path))

    def commit(self) -> None:
        for f in sorted(self.tmp.iterdir()):
            os.replace(f, self.path / f.name)
        self.tmp.rmdir()

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> Path:
        return self.tmp

    def __exit__(self, exc_type, *_):
        if exc_type is None:
            self.commit()
        else:
            self.abort()
        return False


def write_json(obj: dict, path: Path) -> None:
    path.write_text(json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(type(o))
