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
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
from rasterio.windows import Window

from . import __version__
from .errors import OutputError
from .study import sha256_file

#: Decimal places kept for floating-point attributes (stable, byte-identical reruns).
FLOAT_DECIMALS = 4
#: GeoJSON coordinate precision: 6 decimals of a degree is about 0.1 m.
COORD_DECIMALS = 6
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
    wgs = tidy(sites).to_crs("EPSG:4326")
    if len(wgs):
        wgs.to_file(folder / "sites.geojson", driver="GeoJSON", engine="pyogrio",
                    layer_options={"RFC7946": "YES", "COORDINATE_PRECISION": str(COORD_DECIMALS), "WRITE_NAME": "NO"})
        pd.DataFrame(wgs.drop(columns="geometry")).to_csv(folder / "sites.csv", index=False, lineterminator="\n")
    else:
        # No candidate sites: valid, empty files (a header line for the CSV).
        (folder / "sites.geojson").write_text('{"type": "FeatureCollection", "features": []}\n')
        (folder / "sites.csv").write_text(",".join(EMPTY_COLUMNS) + "\n")


def write_surface(score: np.ndarray, study, folder: Path) -> None:
    """The 0-100 score surface as a Cloud-Optimized GeoTIFF (NaN nodata), cropped to the region."""
    grid = study.grid
    xmin, ymin, xmax, ymax = study.region.geometry.bounds
    c0 = max(int((xmin - grid.xmin) // grid.res), 0)
    r0 = max(int((grid.ymax - ymax) // grid.res), 0)
    c1 = min(int(np.ceil((xmax - grid.xmin) / grid.res)), grid.width)
    r1 = min(int(np.ceil((grid.ymax - ymin) / grid.res)), grid.height)
    data = (score[r0:r1, c0:c1] * np.float32(100)).astype(np.float32)
    win = Window(c0, r0, c1 - c0, r1 - r0)
    profile = dict(driver="COG", width=data.shape[1], height=data.shape[0], count=1, dtype="float32",
                   crs=grid.crs, transform=rasterio.windows.transform(win, grid.transform), nodata=np.nan,
                   compress="DEFLATE", predictor=3, blocksize=512, overviews="AUTO", num_threads="ALL_CPUS")
    with rasterio.open(folder / "suitability.tif", "w", **profile) as dst:
        dst.write(data, 1)
        dst.update_tags(units="score 0-100", description="sitesel suitability (weighted sum); nodata = infeasible")


def run_record(study, result, args: dict, timings: dict, checks: dict | None = None,
               outcome: str | None = None) -> dict:
    """Everything needed to reproduce and audit a run.

    ``checks`` (warnings and coverage from :mod:`sitesel.preflight`) and ``outcome`` (why there
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
    } | ({"input_checks": checks} if checks is not None else {}) | ({"outcome": outcome} if outcome else {})


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
