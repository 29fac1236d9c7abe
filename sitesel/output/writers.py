"""Writing a run: sites.geojson, sites.csv, suitability.tif, map.html and run.json.

Everything is written into a temporary folder beside the output directory and swapped into place
only when complete (:class:`OutputDir`), so an interrupted run never leaves a half-written file
behind and never touches the previous outputs before the new ones are whole.
"""
from __future__ import annotations

import ctypes
import errno
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

from sitesel import __version__
from sitesel.io.cache import sha256_file
from sitesel.defaults import DEFAULT_EXPORTS
from sitesel.output.cog import write_cog
from sitesel.errors import OutputError

#: Decimal places kept for floating-point attributes (stable, byte-identical reruns).
FLOAT_DECIMALS = 4
#: Header of sites.csv when a run finds no candidate sites.
EMPTY_COLUMNS = ("rank", "score", "lon", "lat", "state", "agency", "unit", "acres")


def tidy(sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Round floats so that reruns are byte-identical and files stay readable."""
    out = sites.copy()
    for col in out.columns:
        if col != "geometry" and pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(FLOAT_DECIMALS)
    for col, places in (("score", 2), ("acres", 1)):
        if col in out.columns:
            out[col] = out[col].round(places)
    return out


def write_sites(sites: gpd.GeoDataFrame, folder: Path) -> None:
    """``sites.geojson`` (RFC 7946, WGS84) and ``sites.csv`` (same attributes, no geometry)."""
    from sitesel.output.vector import write_csv, write_geojson

    wgs = tidy(sites).to_crs("EPSG:4326")
    if len(wgs):
        write_geojson(wgs, folder / "sites.geojson")
        write_csv(wgs, folder / "sites.csv")
    else:
        # No candidate sites: valid, empty files (a header line for the CSV).
        (folder / "sites.geojson").write_text('{"type": "FeatureCollection", "features": []}\n')
        (folder / "sites.csv").write_text(",".join(EMPTY_COLUMNS) + "\n")


def write_products(run, folder: Path, exports=DEFAULT_EXPORTS, offline: bool = False,
                   context: bool = True, png: bool = True, map_path: Path | None = None,
                   timings: dict | None = None, pool=None, ctx=None, picture=None) -> dict[str, Path]:
    """Exports, ``map.html`` and ``map.png`` of a run, into ``folder``.

    Context layers are clipped from the run's study once and shared by the GeoPackage, the
    interactive map and the picture.

    Parameters
    ----------
    run : sitesel.output.runs.Run
        The run (``sitesel rank`` attaches its open study; otherwise it is re-opened).
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
    """
    from sitesel.output.vector import FORMATS, write_gpkg, write_kml, write_parquet
    from sitesel.maps.interactive import write_map
    from sitesel.maps.static import write_static_map

    clock = _Clock(timings)
    if picture is None and png and pool is not None:
        picture = start_picture(run, folder, pool, context)
    with clock("context layers"):
        if ctx is None or not context:
            ctx = _run_context(run, context)
        elif hasattr(ctx, "result"):
            ctx = ctx.result()
    # The GeoPackage (sites and clipped context layers) is written by the other worker meanwhile,
    # from the layers clipped here (sent in 0.4 s; clipping them again would take 1.7 s).
    package = (pool.submit(_gpkg_job, run, folder / FORMATS["gpkg"], ctx)
               if ("gpkg" in exports and pool is not None) else None)
    written: dict[str, Path] = {}
    writers = {"gpkg": lambda p: write_gpkg(run.sites, p, crs=run.grid_crs, context=ctx),
               "parquet": lambda p: write_parquet(run.sites, p), "kml": lambda p: write_kml(run.sites, p)}
    for fmt in exports:
        if fmt in writers and not (fmt == "gpkg" and package is not None):
            with clock(fmt):
                written[fmt] = writers[fmt](folder / FORMATS[fmt])
    links = [n for n in ("sites.csv", "sites.geojson", "sites.gpkg", "sites.parquet", "sites.kml")
             if (folder / n).exists() or (run.path / n).exists()]
    with clock("map.html"):
        written["map"] = write_map(run, map_path or folder / "map.html", ctx, offline=offline, exports=links)
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
            written["png"] = write_static_map(run, folder / "map.png", ctx)
    return written


#: Marker left in a run folder when writing its surface failed (a picture waiting for it gives up).
SURFACE_FAILED = ".suitability.tif.failed"


def start_picture(run, folder: Path, pool, context: bool | dict = True, surface_timeout: float = 0.0):
    """Start drawing ``map.png`` in a worker process; returns its Future.

    ``context`` is the run's clipped context layers (a dict from
    :func:`sitesel.maps.context.context_layers`), or whether the worker should clip them itself.
    With ``surface_timeout`` the picture may start before ``suitability.tif`` is written: it is
    drawn last, once the file appears (written under another name and renamed when complete).
    """
    return pool.submit(_static_map_job, run, folder / "map.png", context, surface_timeout)


def _static_map_job(run, path: Path, context: bool | dict, surface_timeout: float = 0.0) -> tuple[Path, float]:
    """``map.png`` in a worker process (its context layers as sent, or clipped from the layer cache)."""
    from sitesel.maps.static import write_static_map

    t = time.perf_counter()
    ctx = context if isinstance(context, dict) else _run_context(run, context)
    return write_static_map(run, path, ctx, surface_timeout=surface_timeout), time.perf_counter() - t


def _gpkg_job(run, path: Path, ctx: dict) -> tuple[Path, float]:
    """``sites.gpkg`` with the given context layers, in a worker process."""
    from sitesel.output.vector import write_gpkg

    t = time.perf_counter()
    return write_gpkg(run.sites, path, crs=run.grid_crs, context=ctx), time.perf_counter() - t


def _run_context(run, context: bool = True) -> dict:
    """The run's context layers clipped to its region (none when ``context`` is false)."""
    from sitesel.maps.context import context_layers

    return context_layers(run.study(), run.eligible_agencies, run.land) if context else {}


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
    data = result.score_window(r0, c0, win.height, win.width, scale=100.0)
    # Written under another name and renamed when complete: a picture being drawn meanwhile in
    # another process waits for the name to appear.
    part = folder / ".suitability.tif.part"
    try:
        write_cog(part, data, grid.crs, rasterio.windows.transform(win, grid.transform),
                  tags={"units": "score 0-100", "description": "sitesel suitability (weighted sum); nodata = infeasible"})
        os.replace(part, folder / "suitability.tif")
    except BaseException:
        (folder / SURFACE_FAILED).touch()  # the picture stops waiting for it
        raise


def run_record(study, result, args: dict, timings: dict, checks: dict | None = None,
               outcome: str | None = None) -> dict:
    """Everything needed to reproduce and audit a run.

    ``checks`` (warnings and coverage from :mod:`sitesel.study.checks`) and ``outcome`` (why there
    are no candidate sites) are added when given.
    """
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
        "engine": _engine_record(study),
    } | ({"input_checks": checks} if checks is not None else {}) | ({"outcome": outcome} if outcome else {})


def _engine_record(study) -> dict:
    """How the measures were computed (executor None when every one came from the cache)."""
    return {**(study.engine_used or {"executor": None, "workers": None}),
            "tile_size": study.tile_size, "task_bytes": study.task_bytes}


#: Marker in the names of staging and backup folders, beside the output directory.
STAGING_TAG = ".sitesel-"
#: errno values that mean "the disk or the permissions", i.e. the user's to fix.
_USER_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EFBIG}


class OutputDir:
    """An output directory written all at once: staged beside it, swapped in when complete.

    Files are written into a hidden sibling folder (``.NAME.sitesel-PID-XXXX``) on the same file
    system. :meth:`commit` renames it into place; when ``path`` already holds a previous run (and
    ``overwrite`` is set) the two folders are exchanged in one atomic ``renameat2`` call, so an
    interrupted run (Ctrl-C, kill -9, a full disk) leaves either the previous outputs or the new
    ones, never a mixture. Staging folders of runs that were killed are removed the next time.

    Parameters
    ----------
    path : path-like
        The output directory.
    overwrite : bool
        Replace an existing, non-empty directory (it must hold a previous sitesel run).

    Raises
    ------
    OutputError
        At construction, before any work: ``path`` is a file, cannot be created or written, or
        exists and is not empty without ``overwrite``.
    """

    def __init__(self, path: str | os.PathLike, overwrite: bool = False):
        self.path = Path(path).expanduser().absolute()
        self.overwrite = overwrite
        self.tmp: Path | None = None
        self._check()

    def _check(self) -> None:
        p = self.path
        if p.exists() and not p.is_dir():
            raise OutputError(f"output path {p} exists and is not a directory; choose another --out")
        ancestor = p.parent
        while not ancestor.exists():
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise OutputError(f"cannot create output directory {p}: {ancestor} is a file; choose another --out")
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise OutputError(f"cannot write to {ancestor} (permission denied), so not to output directory {p}; "
                              "choose a writable --out")
        if p.is_dir():
            if not os.access(p, os.W_OK | os.X_OK):
                raise OutputError(f"output directory {p} is not writable (permission denied); choose a writable --out")
            if any(p.iterdir()):
                if not self.overwrite:
                    raise OutputError(f"output directory {p} exists and is not empty; pass --overwrite to replace "
                                      "it, or choose another --out")
                if not _looks_like_run(p):
                    raise OutputError(f"output directory {p} is not empty and holds no sitesel run (no run.json); "
                                      "--overwrite only replaces earlier sitesel outputs: choose another --out")
                cwd = Path.cwd().resolve()
                if cwd == p.resolve() or p.resolve() in cwd.parents:
                    raise OutputError(f"output directory {p} holds the current directory; run from elsewhere "
                                      "or choose another --out")

    def __enter__(self) -> Path:
        parent = self.path.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            _remove_stale(parent, self.path.name)
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}{STAGING_TAG}{os.getpid()}-", dir=parent))
        except OSError as exc:
            raise OutputError(f"cannot create output directory {self.path}: {exc.strerror}; "
                              "choose a writable --out") from None
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.abort()
            if isinstance(exc, OSError) and exc.errno in _USER_ERRNOS:
                raise OutputError(f"could not write the outputs to {self.path}: {exc.strerror}; "
                                  "previous outputs were left untouched") from None
            return False
        try:
            self.commit()
        except OSError as exc:
            self.abort()
            raise OutputError(f"could not move the outputs into {self.path}: {exc.strerror}; "
                              "previous outputs were left untouched") from None
        return False

    def commit(self) -> None:
        """Move the staged folder into place (atomically replacing a previous run)."""
        tmp, dst = self.tmp, self.path
        _fsync_tree(tmp)
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; outputs are ordinary files
        if dst.is_dir() and any(dst.iterdir()):
            if _exchange(tmp, dst):
                shutil.rmtree(tmp, ignore_errors=True)  # now holds the previous run
            else:
                old = Path(tempfile.mkdtemp(prefix=f".{dst.name}{STAGING_TAG}{os.getpid()}-old-", dir=dst.parent))
                os.replace(dst, old / "previous")
                os.replace(tmp, dst)
                shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, dst)  # replaces an empty directory atomically
        _fsync_dir(dst.parent)
        self.tmp = None

    def abort(self) -> None:
        """Remove the staged files; the output directory is left as it was."""
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


def _looks_like_run(p: Path) -> bool:
    return (p / "run.json").is_file() or any((c / "run.json").is_file() for c in p.iterdir() if c.is_dir())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove_stale(parent: Path, name: str) -> None:
    """Remove staging folders left by runs that were killed (their process no longer exists)."""
    prefix = f".{name}{STAGING_TAG}"
    for d in parent.glob(prefix + "*"):
        pid = d.name[len(prefix):].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except PermissionError:
            pass  # someone else's live process


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories atomically (Linux ``renameat2``); False where that is unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _fsync_tree(folder: Path) -> None:
    for f in folder.rglob("*"):
        if f.is_file():
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
