"""A study: one region on one analysis grid, with its layers and criterion rasters.

Layers are read once per study; criterion rasters (which do not depend on weights) are computed
once per grid and kept in memory and in an on-disk cache keyed by grid, inputs and code version,
so every park type and every later run over the same region reuses them.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import multiprocessing as mp
import threading
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from platformdirs import user_cache_dir

from . import __version__
from .errors import LayerError, RegionError
from .grid import LOWER48_ALIASES, Grid, crs_for_states, grid_for_bounds, rasterize_inside, rasterize_mask
from .layers import LayerReport, read_vector
from .manifest import Manifest
from .progress import SILENT, Progress

#: Cells beyond the region that are still computed, so distances to features just across a
#: border are right. Distances up to this pad are exact; beyond it they are upper bounds.
DEFAULT_PAD_M = 100_000.0
#: Vector layers are read over the grid's lon/lat box plus this margin (degrees).
READ_MARGIN_DEG = 2.0
#: Cell budget used to pick a default resolution.
DEFAULT_MAX_CELLS = 40_000_000


def cache_root() -> Path:
    return Path(os.environ.get("SITESEL_CACHE") or user_cache_dir("sitesel"))


def file_fingerprint(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class Region:
    """What the user asked for: state codes and/or a lon/lat box, and the resulting polygon."""

    label: str
    codes: list[str]
    bbox: tuple[float, float, float, float] | None
    crs: str
    geometry: object  # shapely geometry in ``crs``
    states: gpd.GeoDataFrame  # the states it touches, in ``crs``


def resolve_region(manifest: Manifest, region: str | None, bbox: tuple[float, float, float, float] | None,
                   crs: str | None = None) -> Region:
    """Turn ``--region`` / ``--bbox`` into a polygon in an equal-area CRS.

    Parameters
    ----------
    region : str, optional
        Comma-separated USPS codes (``AZ,NM``) or ``L48`` for the lower 48.
    bbox : tuple, optional
        ``(west, south, east, north)`` in degrees; intersected with the states if both are given.
    crs : str, optional
        Override the equal-area CRS.

    Raises
    ------
    RegionError
        No region given; an unknown state code (with a suggestion); a box that is not four finite
        degrees, is inverted, or lies outside the US.
    """
    if not region and not bbox:
        raise RegionError("give --region (e.g. AZ,NM or L48) or --bbox west,south,east,north")
    if bbox is not None:
        _check_bbox(bbox)
    states = read_vector(manifest["states"], "EPSG:4326")
    states["code"] = states["code"].astype(str).str.strip().str.upper()
    if len(states) and not states["code"].str.fullmatch(r"[A-Z]{2}").any():
        col = manifest["states"].fields.get("code", "code")
        raise LayerError(f"layer 'states': column '{col}' (mapped to 'code') holds values such as "
                         f"{states['code'].iloc[0]!r}, not USPS codes; map code to the two-letter postal-code "
                         "column (e.g. fields = { code = \"stusps\" }) in the manifest")
    if region:
        wanted = [c.strip().upper() for c in region.split(",") if c.strip()]
        if not wanted:
            raise RegionError(f"--region {region!r} names no state; give USPS codes such as AZ,NM, or L48")
        if any(c in LOWER48_ALIASES for c in wanted):
            wanted = sorted(set(states["code"]) - {"AK", "HI", "PR", "VI", "GU", "AS", "MP"})
        unknown = [c for c in wanted if c not in set(states["code"])]
        if unknown:
            raise RegionError(f"unknown state code {unknown[0]!r}{_state_hint(unknown[0], states)}; "
                              "use USPS codes such as AZ,NM, or L48 for the lower 48")
        sel = states[states["code"].isin(wanted)]
    else:
        sel = states[states.intersects(shapely.box(*bbox))]
        if sel.empty:
            raise RegionError(f"bbox {_fmt_box(bbox)} does not overlap any US state; give west,south,east,north "
                              "in degrees over the US (e.g. -112.5,32.5,-110.5,34.0)")
    codes = sorted(sel["code"])
    crs = crs or crs_for_states(codes)
    geom = shapely.union_all(sel.to_crs(crs).geometry.values)
    if bbox is not None:
        # Densify before projecting: a lon/lat box is curved in an equal-area CRS.
        box = gpd.GeoSeries([shapely.segmentize(shapely.box(*bbox), 0.05)], crs="EPSG:4326").to_crs(crs).iloc[0]
        geom = shapely.intersection(geom, box)
        if geom.is_empty:
            raise RegionError(f"bbox {_fmt_box(bbox)} does not overlap region {region}; "
                              "give a box inside the region, or drop --region or --bbox")
    label = region.upper() if region else "bbox " + _fmt_box(bbox)
    if bbox is not None and region:
        label += " in bbox " + _fmt_box(bbox)
    return Region(label=label, codes=codes, bbox=bbox, crs=crs, geometry=geom, states=sel.to_crs(crs))


def _fmt_box(bbox) -> str:
    return ",".join(f"{v:g}" for v in bbox)


def _check_bbox(bbox) -> None:
    """A box must be four finite degrees, west < east and south < north, in lon/lat order."""
    if len(bbox) != 4 or not all(isinstance(v, (int, float)) and np.isfinite(v) for v in bbox):
        raise RegionError(f"bbox {bbox} must be four numbers west,south,east,north in degrees")
    w, s, e, n = bbox
    if not (-90 <= s <= 90 and -90 <= n <= 90):
        swapped = -180 <= s <= 180 and -180 <= n <= 180 and -90 <= w <= 90 and -90 <= e <= 90
        raise RegionError(f"bbox {_fmt_box(bbox)}: latitudes {s:g} and {n:g} must lie within -90..90"
                          + ("; the order is west,south,east,north (longitude first)" if swapped else
                             "; give degrees, not metres"))
    if not (-180 <= w <= 180 and -180 <= e <= 180):
        raise RegionError(f"bbox {_fmt_box(bbox)}: longitudes {w:g} and {e:g} must lie within -180..180; "
                          "give degrees, not metres")
    if not (w < e and s < n):
        raise RegionError(f"bbox {_fmt_box(bbox)} is inverted or empty: give west,south,east,north with "
                          "west < east and south < north")


def _state_hint(code: str, states: gpd.GeoDataFrame) -> str:
    from difflib import get_close_matches

    if "name" in states.columns:
        names = {str(nm).upper(): c for nm, c in zip(states["name"], states["code"]) if nm is not None}
        if code in names:
            return f" (use {names[code]} for {code.title()})"
        hit = get_close_matches(code, list(names), n=1, cutoff=0.75)
        if hit:
            return f" (use {names[hit[0]]} for {hit[0].title()})"
    return ""


def default_resolution(region: Region, max_cells: int = DEFAULT_MAX_CELLS) -> float:
    """500 m for large regions; 250 m or 100 m when the region is small enough."""
    xmin, ymin, xmax, ymax = region.geometry.bounds
    for res in (100.0, 250.0, 500.0):
        if ((xmax - xmin) / res + 2 * DEFAULT_PAD_M / res) * ((ymax - ymin) / res + 2 * DEFAULT_PAD_M / res) <= max_cells:
            return res
    return 500.0


@dataclass
class Study:
    """Layers and criterion rasters for one region on one grid.

    Use :meth:`open` to build one; :meth:`layer` and :meth:`measure` are memoised.
    """

    manifest: Manifest
    region: Region
    grid: Grid
    use_cache: bool = True
    progress: Progress = SILENT
    _layers: dict = field(default_factory=dict)
    _reports: dict = field(default_factory=dict)
    _measures: dict = field(default_factory=dict)
    _masks: dict = field(default_factory=dict)
    _locks: dict = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)
    _to_persist: dict = field(default_factory=dict)
    _scratch_dir: Path | None = None

    @classmethod
    def open(cls, manifest: Manifest, region: Region, resolution: float | None = None,
             use_cache: bool = True, progress: Progress = SILENT, pad_m: float = DEFAULT_PAD_M) -> "Study":
        res = resolution or default_resolution(region)
        grid = grid_for_bounds(region.geometry.bounds, region.crs, res, pad_m=pad_m)
        return cls(manifest=manifest, region=region, grid=grid, use_cache=use_cache, progress=progress)

    def _lock(self, key) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    # -- layers ---------------------------------------------------------------------------
    def layer(self, name: str) -> gpd.GeoDataFrame:
        """The named vector layer, normalised, in the grid CRS (read once, thread-safe)."""
        with self._lock(("layer", name)):
            return self._read_layer(name)

    def _read_layer(self, name: str) -> gpd.GeoDataFrame:
        if name not in self._layers:
            spec = self.manifest[name]
            w, s, e, n = self.grid.lonlat_bounds()
            m = READ_MARGIN_DEG
            bbox = (max(w - m, -180), max(s - m, -90), min(e + m, 180), min(n + m, 90))
            report = LayerReport()
            with self.progress.step(f"reading {name}"):
                self._layers[name] = read_vector(spec, self.grid.crs, bbox, report)
            self._reports[name] = report
        return self._layers[name]

    def layer_reports(self) -> dict[str, dict]:
        return {k: vars(v) for k, v in self._reports.items()}

    def input_files(self) -> list[Path]:
        used = set(self._layers) | {m for m in self._measure_layers_used()}
        files = []
        for name in sorted(used):
            if self.manifest.has(name):
                files.extend(s.path for s in self.manifest[name].sources)
        return sorted(set(files))

    def _measure_layers_used(self) -> set[str]:
        from .measures import MEASURES

        out = set()
        for m in self._measures:
            out |= set(MEASURES[m].layers)
        return out

    def inputs_fingerprint(self, layers: tuple[str, ...]) -> str:
        parts = [self.grid.key(), __version__]
        for name in layers:
            spec = self.manifest[name]
            parts.append(repr(sorted((k, repr(v)) for k, v in vars(spec).items() if k != "sources")))
            parts.extend(file_fingerprint(s.path) for s in spec.sources)
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]

    # -- criterion rasters ----------------------------------------------------------------
    def measure(self, name: str) -> np.ndarray:
        """The raw-value raster of a measure (see :mod:`sitesel.measures`), float32 on the grid."""
        with self._lock(("measure", name)):
            return self._measure(name)

    def prepare(self, names, extra=(), workers: int | None = None) -> None:
        """Compute several measures, in parallel worker processes where that pays off.

        Workers are forked (they share the layers already read), write their rasters to the
        cache, and the parent maps them back; meanwhile the parent runs the ``extra`` callables
        (e.g. the eligibility mask). Derived measures, which read other measures, run last.
        """
        from .measures import MEASURES

        workers = workers or 1
        names = set(names) | {d for n in names for d in MEASURES[n].depends}
        todo = [n for n in sorted(names) if n not in self._measures and not self._cached(n)]
        base = [n for n in todo if not MEASURES[n].derived]
        # Forking a process that runs other threads (e.g. under a test runner) can deadlock the
        # child on a lock held by a thread that does not exist there; compute in-process then.
        forkable = "fork" in mp.get_all_start_methods() and threading.active_count() == 1
        if workers > 1 and len(base) > 1 and forkable:
            global _FORKED_STUDY
            _FORKED_STUDY = self
            self._scratch("")  # create the scratch folder before forking, so workers share it
            try:
                with mp.get_context("fork").Pool(workers) as pool:
                    results = pool.imap_unordered(_compute_in_worker, base)
                    for f in extra:
                        f()
                    for name, path in results:
                        self._measures[name] = np.load(path, mmap_mode="r")
                        self._persist(name, path)
            finally:
                _FORKED_STUDY = None
            extra = ()
        for f in extra:
            f()
        for n in sorted(names, key=lambda n: (MEASURES[n].derived, n)):
            self.measure(n)

    def _scratch(self, name: str) -> Path:
        """Where computed rasters wait before going to the disk cache: RAM-backed when possible."""
        if self._scratch_dir is None:
            shm = Path("/dev/shm")
            root = shm if shm.is_dir() and os.access(shm, os.W_OK) else cache_root()
            root.mkdir(parents=True, exist_ok=True)
            self._scratch_dir = Path(tempfile.mkdtemp(prefix="sitesel-scratch-", dir=root))
        return self._scratch_dir / f"{name}.npy"

    def _persist(self, name: str, src) -> None:
        """Remember a computed raster (array or scratch ``.npy`` path) for the disk cache."""
        if self.use_cache:
            self._to_persist[name] = src

    def flush(self, wait: bool = True) -> None:
        """Put every raster computed by this study into the disk cache.

        Disk writes of national rasters take seconds each, so the command line passes
        ``wait=False``: a detached helper process copies them after the command has returned.
        """
        if not self._to_persist:
            return
        pairs = []
        for name, src in sorted(self._to_persist.items()):
            if not isinstance(src, Path):
                path = self._scratch(name)
                np.save(path, src)
                src = path
            pairs.append((str(src), str(self._cache_path(name))))
        self._to_persist.clear()
        scratch = str(self._scratch_dir) if self._scratch_dir else None
        self._scratch_dir = None
        if wait:
            from .cachewriter import copy_all

            copy_all(pairs, scratch)
        else:
            import json
            import subprocess
            import sys

            proc = subprocess.Popen([sys.executable, "-m", "sitesel.cachewriter"], stdin=subprocess.PIPE,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            proc.stdin.write(json.dumps({"pairs": pairs, "scratch": scratch}).encode())
            proc.stdin.close()

    def _cache_path(self, name: str) -> Path:
        from .measures import MEASURES

        fp = self.inputs_fingerprint(MEASURES[name].layers)
        return cache_root() / "measures" / self.grid.key() / f"{name}-{fp}.npy"

    def _cached(self, name: str) -> bool:
        return self.use_cache and self._cache_path(name).exists()

    def _measure(self, name: str) -> np.ndarray:
        from .measures import MEASURES

        if name in self._measures:
            return self._measures[name]
        m = MEASURES[name]
        for lyr in m.layers:
            if not self.manifest.has(lyr):
                raise LayerError(f"measure '{name}' needs layer '{lyr}', which the manifest lacks")
        if self.use_cache:
            path = self._cache_path(name)
            if path.exists():
                try:
                    arr = np.load(path, mmap_mode="r")
                    if arr.shape == self.grid.shape:
                        self.progress.log(f"{name}: from cache")
                        self._measures[name] = arr
                        return arr
                except (OSError, ValueError):
                    pass  # a damaged cache file is recomputed below
        with self.progress.step(f"computing {name}"):
            arr = np.ascontiguousarray(m.compute(self), dtype=np.float32)
        self._measures[name] = arr
        self._persist(name, arr)
        return arr

    # -- masks ----------------------------------------------------------------------------
    def region_mask(self) -> np.ndarray:
        """Cells wholly inside the region."""
        if "region" not in self._masks:
            self._masks["region"] = rasterize_inside([self.region.geometry], self.grid)
        return self._masks["region"]

    def water_mask(self) -> np.ndarray:
        """Cells touching a lake (not buildable land)."""
        if "water" not in self._masks:
            lakes = self.layer("lakes") if self.manifest.has("lakes") else None
            self._masks["water"] = (rasterize_mask(lakes.geometry.values, self.grid, all_touched=True)
                                    if lakes is not None and len(lakes) else np.zeros(self.grid.shape, bool))
        return self._masks["water"]


_FORKED_STUDY: Study | None = None


def _compute_in_worker(name: str) -> tuple[str, np.ndarray]:
    """Run in a forked worker: compute one measure and send it back."""
    from . import measures

    measures.EDT_THREADS = 1  # the workers already use every core
    study = _FORKED_STUDY
    with study.progress.step(f"computing {name}"):
        arr = np.ascontiguousarray(measures.MEASURES[name].compute(study), dtype=np.float32)
    path = study._scratch(name)
    np.save(path, arr)
    return name, path
