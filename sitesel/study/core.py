"""A study: one region on one analysis grid, with its layers, candidate cells and measures.

Layers are read once per study; measures (which do not depend on weights) are computed once per
grid, at the study's candidate cells, and kept in memory and in an on-disk cache keyed by the
grid, the candidate cells, the input files and the code version, so every park type and every
later run over the same region reuses them. See :mod:`sitesel.measures.engine` for how they are computed.
"""
from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from sitesel import __version__
from sitesel.io.cache import CACHE_VERSION, cache_root, digest, file_fingerprint, load_array, save_array
from sitesel.errors import LayerError, RegionError
from sitesel.study.grid import LOWER48_ALIASES, Grid, crs_for_states, grid_for_bounds
from sitesel.study.inputs import Inputs, StudySpec, inputs_for
from sitesel.study.land import Candidates, LandPolicy, candidate_filter, candidate_superset, excluded_geometries, load_policy
from sitesel.io.layers import read_vector
from sitesel.io.layercache import layer_key
from sitesel.io.manifest import Manifest
from sitesel.progress import SILENT, Progress

#: Cells beyond the region that are still computed, so distances to features just across a
#: border are right.
DEFAULT_PAD_M = 150_000.0
#: Distances are exact up to this and "farther" beyond it (the pad keeps them exact up to it).
DEFAULT_CAP_KM = DEFAULT_PAD_M / 1000.0
#: Cell budget used to pick a default resolution.
DEFAULT_MAX_CELLS = 40_000_000
#: Finest resolution accepted (m).
MIN_RESOLUTION_M = 10.0


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
    """Layers, candidate cells and measures for one region on one grid.

    Use :meth:`open` to build one and :meth:`close` (or ``with``) to release worker processes.
    :meth:`layer`, :meth:`candidates` and :meth:`values` are memoised.
    """

    manifest: Manifest
    region: Region
    grid: Grid
    cap_km: float = DEFAULT_CAP_KM
    use_cache: bool = True
    progress: Progress = SILENT
    workers: int | None = None
    scheduler: str | None = None
    dask_workers: int | None = None
    tile_size: int | None = None
    task_bytes: int | None = None
    policy: LandPolicy = field(default_factory=load_policy)
    _values: dict = field(default_factory=dict)
    _candidates: dict = field(default_factory=dict)
    _supersets: dict = field(default_factory=dict)
    _executor: object = None
    engine_used: dict | None = None  # how the measures were computed (None: all from the cache)
    _feature_index: object = None  # evidence.FeatureIndex, built on first use by rank.feature_index
    _reading: dict = field(default_factory=dict)  # layer -> Future of its read in a worker process
    _region_digest: str | None = None
    cpu_seconds: dict = field(default_factory=dict)
    _guard: threading.RLock = field(default_factory=threading.RLock)

    @classmethod
    def open(cls, manifest: Manifest, region: Region, resolution: float | None = None, use_cache: bool = True,
             progress: Progress = SILENT, pad_m: float = DEFAULT_PAD_M, cap_km: float | None = None,
             workers: int | None = None, scheduler: str | None = None, dask_workers: int | None = None,
             tile_size: int | None = None, task_bytes: int | None = None,
             memory_gib: float | None = None) -> "Study":
        """Open a study of ``region`` at ``resolution`` metres (default: see :func:`default_resolution`).

        Parameters
        ----------
        cap_km : float, optional
            Distances beyond this count as "farther" (default: the pad, 150 km).
        workers : int, optional
            Local worker processes for the measures (default: one per core, when worth it).
        scheduler, dask_workers : optional
            Run the measures on Dask: an existing scheduler's address, or a local cluster of
            ``dask_workers`` processes.
        tile_size : int, optional
            Compute measures in tiles of this many cells a side (default: whole grid when it
            fits the per-task memory budget ``task_bytes``).
        memory_gib : float, optional
            Memory the study may use (default: 80 % of this machine's). Tiles are sized to fit;
            a grid whose per-cell arrays alone would not fit is refused before any work, with
            the resolution that would.
        """
        res = resolution or default_resolution(region)
        if res < MIN_RESOLUTION_M:
            raise RegionError(f"resolution {res:g} m is below the {MIN_RESOLUTION_M:g} m minimum; "
                              "the layers are not precise enough for finer cells")
        grid = grid_for_bounds(region.geometry.bounds, region.crs, res, pad_m=pad_m)
        cap = float(cap_km) if cap_km is not None else min(DEFAULT_CAP_KM, pad_m / 1000.0)
        from sitesel.measures import engine

        budget = int(memory_gib * 2**30) if memory_gib else engine.memory_budget()
        n_workers = dask_workers or workers or (os.cpu_count() or 1)
        task_bytes = task_bytes or engine.task_budget(budget, n_workers)
        need = engine.base_memory(grid, region.geometry)
        if budget and need > budget:
            fit = res * math.sqrt(need / budget) * 1.05
            raise RegionError(
                f"a {grid.width:,} x {grid.height:,} grid of {res:g} m cells for {region.label} needs about "
                f"{need / 2**30:.1f} GiB even when tiled, more than the {budget / 2**30:.1f} GiB available; "
                f"use --resolution {math.ceil(fit / 10) * 10:g} or coarser, a smaller region, or --memory on a "
                "larger machine")
        return cls(manifest=manifest, region=region, grid=grid, cap_km=cap, use_cache=use_cache, progress=progress,
                   workers=workers, scheduler=scheduler, dask_workers=dask_workers, tile_size=tile_size,
                   task_bytes=task_bytes)

    def __getstate__(self) -> dict:
        """Pickled (to write outputs in a worker process) without caches, locks or workers."""
        state = dict(self.__dict__)
        for k in ("_values", "_candidates", "_supersets", "_reading"):
            state[k] = {}
        state["_executor"] = None
        state["_guard"] = None
        state["_feature_index"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._guard = threading.RLock()

    def __enter__(self) -> "Study":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def worker_pool(self):
        """Local worker processes for other CPU-bound work (e.g. writing several parks' maps):
        the measures' own when they ran in processes, else new ones (None with one core or a
        Dask executor, whose workers may be remote)."""
        from sitesel.measures import engine

        if isinstance(self._executor, engine.ProcessExecutor):
            return self._executor.pool
        if self._executor is None and (self.workers or os.cpu_count() or 1) > 1 and not (
                self.scheduler or self.dask_workers):
            self._executor = engine.ProcessExecutor(self.workers or os.cpu_count() or 1)
            return self._executor.pool
        return None

    def start(self, measures, layers, land: str = "federal") -> None:
        """Get ready for computing ``measures``: start the worker processes now, and have them read
        ``layers`` ahead (into the layer cache) while this process checks inputs and finds the
        candidate cells.

        Nothing happens when every measure is cached, when the work is too small for worker
        processes, with Dask (whose workers may not share the cache), or without a disk cache.
        Reading ahead only moves work: a layer that fails to read fails again, with the same
        message, when it is first used here.
        """
        from sitesel.measures import engine
        from sitesel.measures.catalogue import MEASURES, closure

        with self._guard:
            base = [n for n in closure(measures) if not MEASURES[n].derived]
            missing = [n for n in base if (land, n) not in self._values and not self._value_cached(land, n)]
            if not missing or self.scheduler or self.dask_workers:
                return
            if self._executor is None:
                self._executor = engine.make_executor(self.workers, None, None, float(self.grid.size) * len(missing))
            ex = self._executor
            if not isinstance(ex, engine.ProcessExecutor):
                return
            ex.warm_up()
            if not self.use_cache:
                return
            todo = [n for n in layers if self.manifest.has(n) and self.manifest[n].kind != "raster"
                    and n not in self._reading and n not in self.inputs._layers]
            # Federal land first (the candidate cells wait for it), then the largest files.
            todo.sort(key=lambda n: (n != "federal_lands", -_source_bytes(self.manifest[n])))
            for n in todo:
                self._reading[n] = ex.pool.submit(engine.read_layer, self.spec, n)

    @property
    def has_workers(self) -> bool:
        """Whether worker processes are running for this study (see :meth:`start`)."""
        from sitesel.measures import engine

        return isinstance(self._executor, engine.ProcessExecutor)

    def _value_cached(self, land: str, name: str) -> bool:
        """Whether a measure's values are in the disk cache (by name; checked in full when loaded)."""
        if not self.use_cache:
            return False
        try:
            return self._value_path(land, self._superset_path(land), name).exists()
        except OSError:
            return False

    def close(self) -> None:
        """Stop worker processes or disconnect from Dask."""
        if self._executor is not None:
            self._executor.close()
            self._executor = None

    # -- inputs -------------------------------------------------------------------------------
    @property
    def spec(self) -> StudySpec:
        return StudySpec(self.manifest, self.grid, self.cap_km, self.use_cache,
                         str(cache_root()) if self.use_cache else None)

    @property
    def inputs(self) -> Inputs:
        return inputs_for(self.spec)

    @property
    def layers_read_ahead(self) -> frozenset[str]:
        """Layers being (or already) read by worker processes (see :meth:`start`)."""
        return frozenset(self._reading)

    def read_ahead(self, name: str) -> None:
        """Wait for a layer being read by a worker (if it is), and take the descriptions of its
        files that the worker made. A failed read is read again here, which raises what went wrong."""
        from sitesel.io.files import remember_infos

        ahead = self._reading.get(name)
        if ahead is None:
            return
        try:
            if ahead.done():
                remember_infos(ahead.result() or {})
            else:
                with self.progress.step(f"waiting for {name} (read by a worker)"):
                    remember_infos(ahead.result() or {})
        except Exception:  # noqa: BLE001 - see above
            pass

    def layer(self, name: str) -> gpd.GeoDataFrame:
        """The named vector layer, normalised, in the grid CRS (read once per process)."""
        self.read_ahead(name)
        return self.inputs.layer(name, self.progress)

    def layer_reports(self) -> dict[str, dict]:
        return {k: vars(v) for k, v in sorted(self.inputs.reports.items())}

    def input_files(self) -> list[Path]:
        """The files of every layer this study has read or computed from."""
        from sitesel.measures.catalogue import MEASURES

        used = set(self.inputs.reports) | {"states"}
        for (_, m) in self._values:
            used |= set(MEASURES[m].layers)
        files = []
        for name in sorted(used):
            if self.manifest.has(name):
                files.extend(s.path for s in self.manifest[name].sources)
        return sorted(set(files))

    def _fingerprint(self, layers) -> str:
        parts = [self.grid.key(), self.cap_km, __version__, CACHE_VERSION]
        for name in sorted(layers):
            spec = self.manifest[name]
            if spec.kind == "raster":
                parts.append((name, repr(spec), [file_fingerprint(s.path) for s in spec.sources]))
            else:
                parts.append((name, layer_key(spec, self.grid.crs, self.spec.read_bbox())))
        return digest(*parts)

    # -- candidate cells ----------------------------------------------------------------------
    def _superset_path(self, land: str) -> Path:
        if land in self._supersets:
            return self._supersets[land][1]
        layers = ["federal_lands"] if self.manifest.has("federal_lands") else []
        key = digest(self._fingerprint(layers), land, self.policy, self._region_key())
        return cache_root() / "candidates" / self.grid.key() / f"{land}-{key}.npz"

    def _region_key(self) -> str:
        # The lower 48's outline is ~1 MB of WKB: hashed once.
        if self._region_digest is None:
            self._region_digest = digest(shapely.to_wkb(self.region.geometry))
        return self._region_digest

    def _superset(self, land: str) -> Candidates:
        """The cheap superset of candidate cells (see :func:`sitesel.study.land.candidate_superset`)."""
        with self._guard:
            if land not in self._supersets:
                layers = ["federal_lands"] if self.manifest.has("federal_lands") else []
                path = self._superset_path(land)
                cand = self._load_candidates(path)
                if cand is None:
                    with self.progress.step(f"candidate cells ({land})"):
                        federal = self.layer("federal_lands") if layers else None
                        if land == "federal" and federal is None:
                            raise LayerError("the manifest has no federal_lands layer; add it, or pass --land all")
                        cand = candidate_superset(self.grid, self.region.geometry, federal, self.policy, land)
                    if self.use_cache:
                        self._save_candidates(path, cand)
                self._supersets[land] = (cand, path)
            return self._supersets[land][0]

    def candidates(self, land: str = "federal") -> Candidates:
        """Cells some profile may use under ``land`` (see :mod:`sitesel.study.land`)."""
        with self._guard:
            if land not in self._candidates:
                sup = self._superset(land)
                path = self._supersets[land][1]
                layers = [n for n in ("federal_lands", "protected_areas", "lakes") if self.manifest.has(n)]
                kpath = path.with_name(path.stem + f"-keep-{self._fingerprint(layers)}.npy")
                keep = load_array(kpath, len(sup)) if self.use_cache else None
                if keep is None:
                    keep = self._candidate_filter(sup, land)
                    if self.use_cache:
                        save_array(kpath, keep)
                self._candidates[land] = (sup.subset(keep.astype(bool)), keep.astype(bool))
            return self._candidates[land][0]

    def _candidate_filter(self, sup: Candidates, land: str) -> np.ndarray:
        federal = self.layer("federal_lands") if self.manifest.has("federal_lands") else None
        protected = self.layer("protected_areas") if self.manifest.has("protected_areas") else None
        lakes = self.layer("lakes").geometry.values if self.manifest.has("lakes") else None
        with self.progress.step(f"eligible land ({land})"):
            excluded = excluded_geometries(federal, protected, self.policy)
            return candidate_filter(self.grid, sup, self.region.geometry, federal, excluded, lakes, land)

    @staticmethod
    def _load_candidates(path: Path) -> Candidates | None:
        try:
            with np.load(path, allow_pickle=False) as z:
                return Candidates(z["cells"], z["agency"], tuple(str(a) for a in z["agencies"]))
        except (OSError, ValueError, KeyError):
            return None

    @staticmethod
    def _save_candidates(path: Path, cand: Candidates) -> None:
        from sitesel.io.cache import atomic_file

        try:
            with atomic_file(path) as f:
                np.savez(f, cells=cand.cells, agency=cand.agency, agencies=np.array(cand.agencies, dtype=str))
        except OSError:
            pass  # an unwritable cache only costs time

    # -- measures -----------------------------------------------------------------------------
    def prepare(self, names, land: str = "federal") -> None:
        """Compute the named measures (and those they derive from) at the candidate cells.

        Measures start on the cheap superset of candidates while the exact candidate filter is
        computed here, then both are combined.
        """
        from sitesel.measures import engine
        from sitesel.measures.catalogue import MEASURES, closure

        names = closure(names)
        with self._guard:
            todo = [n for n in names if (land, n) not in self._values]
            if not todo:
                return
            sup = self._superset(land)
            sup_path = self._supersets[land][1]
            base = [n for n in todo if not MEASURES[n].derived]
            got: dict[str, np.ndarray] = {}
            missing = []
            for n in base:
                path = self._value_path(land, sup_path, n)
                arr = load_array(path, len(sup)) if self.use_cache else None
                if arr is None:
                    missing.append(n)
                else:
                    got[n] = arr
            if missing:
                for n in missing:
                    for lyr in MEASURES[n].layers:
                        if not self.manifest.has(lyr):
                            raise LayerError(f"measure '{n}' needs layer '{lyr}', which the manifest lacks")
                alias = self._same_features(missing)
                missing_all, missing = missing, [n for n in missing if n not in alias]
                cells_path = self._cells_file(land, sup)
                work = float(self.grid.size) * len(missing)
                if self._executor is None:
                    self._executor = engine.make_executor(self.workers, self.scheduler, self.dask_workers, work)
                ex = self._executor
                # Plain data, so run.json can say how the measures were computed even when it is
                # written by a worker process (which gets the study without its executor).
                self.engine_used = {"executor": {"SerialExecutor": "serial", "ProcessExecutor": "processes",
                                                 "DaskExecutor": "dask"}.get(type(ex).__name__, type(ex).__name__),
                                    "workers": getattr(ex, "workers", None)}
                if hasattr(ex, "warm_up"):
                    ex.warm_up()
                result: dict = {}

                def run() -> None:
                    result.update(engine.compute_values(
                        self.spec, missing, sup.cells, cells_path, ex,
                        task_bytes=self.task_bytes or engine.DEFAULT_TASK_BYTES, tile_size=self.tile_size,
                        progress=self.progress, cpu_seconds=self.cpu_seconds, span=self.engine_used))

                with self.progress.step(f"measures ({len(missing)}: {', '.join(missing)})"):
                    if isinstance(ex, engine.SerialExecutor):
                        self.candidates(land)
                        run()
                    else:
                        # Workers compute while this process works out the exact candidate filter.
                        t = threading.Thread(target=_capture, args=(run, result), daemon=True)
                        t.start()
                        self.candidates(land)
                        t.join()
                        if "__error__" in result:
                            raise result.pop("__error__")
                for n in missing_all:
                    got[n] = result[alias.get(n, n)]
                    if self.use_cache:
                        save_array(self._value_path(land, sup_path, n), got[n])
            self.candidates(land)
            keep = self._candidates[land][1]
            result = None
            for n in base:
                # One superset-sized array at a time: at 250 m over the lower 48 both copies of
                # every measure would be ~4 GB.
                self._values[(land, n)] = np.ascontiguousarray(got.pop(n)[keep])
            for n in todo:
                if MEASURES[n].derived:
                    self._values[(land, n)] = engine.derive(n, {d: self._values[(land, d)] for d in MEASURES[n].depends})

    def _same_features(self, names) -> dict[str, str]:
        """Distance measures whose filters select the same features as another's (e.g. lines of
        >= 115 kV and >= 230 kV when no line lies in between): name -> the one to compute."""
        from sitesel.measures.catalogue import MEASURES

        groups: dict[tuple, list[str]] = {}
        for n in sorted(names):
            m = MEASURES[n]
            feats = m.params.get("features", ()) if m.is_distance else ()
            if len(feats) != 1 or feats[0][1] is None:
                continue
            layer, column, minimum = feats[0]
            col = self.layer(layer)[column].to_numpy(dtype="float64")
            chosen = np.flatnonzero(col >= minimum)
            groups.setdefault((layer, digest(chosen.tobytes())), []).append(n)
        return {other: members[0] for members in groups.values() for other in members[1:]}

    def values(self, name: str, land: str = "federal") -> np.ndarray:
        """A measure's values at :meth:`candidates` (float32, NaN = no data, inf = beyond the cap)."""
        if (land, name) not in self._values:
            self.prepare([name], land)
        return self._values[(land, name)]

    def measure_raster(self, name: str, land: str = "federal") -> np.ndarray:
        """A measure as a grid-sized raster, NaN away from candidate cells (for inspection)."""
        out = np.full(self.grid.shape, np.nan, dtype=np.float32)
        out.ravel()[self.candidates(land).cells] = self.values(name, land)
        return out

    def _value_path(self, land: str, sup_path: Path, name: str) -> Path:
        from sitesel.measures.catalogue import MEASURES

        return sup_path.parent / sup_path.stem / f"{name}-{self._fingerprint(MEASURES[name].layers)}.npy"

    def _cells_file(self, land: str, sup: Candidates) -> Path:
        """The superset's cells as ``.npy``, for worker processes to map."""
        if not self.use_cache:
            import tempfile

            path = Path(tempfile.mkdtemp(prefix="sitesel-")) / "cells.npy"
            save_array(path, sup.cells)
            return path
        path = self._supersets[land][1].with_suffix(".cells.npy")
        if load_array(path, len(sup), mmap=True) is None:  # only its length is checked: map, don't read
            save_array(path, sup.cells)
        return path


def _source_bytes(spec) -> int:
    total = 0
    for src in spec.sources:
        try:
            total += src.path.stat().st_size
        except OSError:
            pass
    return total


def _capture(fn, result: dict) -> None:
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
        result["__error__"] = exc
