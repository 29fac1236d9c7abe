"""A study: one region on one analysis grid, with its layers, candidate cells and measures.

Layers are read once per study; measures (which do not depend on weights) are computed once per
grid, at the study's candidate cells, and kept in memory and in an on-disk cache keyed by the
grid, the candidate cells, the input files and the code version, so every park type and every
later run over the same region reuses them. The region is resolved by
:mod:`sitesel.study.region`, the candidate cells are kept by :mod:`sitesel.study.candidates`,
and the measures are computed by :mod:`sitesel.measures.engine` on the study's executor
(:mod:`sitesel.measures.executors`).
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np

from sitesel.errors import LayerError
from sitesel.io.cache import cache_root, load_array, save_array
from sitesel.io.files import remember_infos
from sitesel.io.manifest import Manifest
from sitesel.measures import engine
from sitesel.measures.catalogue import MEASURES, closure
from sitesel.measures.executors import AutoExecutor, Executor
from sitesel.progress import SILENT, Progress
from sitesel.study.candidates import CandidateCells
from sitesel.study.grid import Grid
from sitesel.study.inputs import Inputs, StudySpec, inputs_for
from sitesel.study.land import Candidates, LandPolicy, load_policy
from sitesel.study.memory import DEFAULT_TASK_BYTES, check_fits, memory_budget, task_budget
from sitesel.study.region import DEFAULT_PAD_M, Region, grid_for_region

__all__ = ["DEFAULT_CAP_KM", "Study"]

#: Distances are exact up to this and "farther" beyond it (the pad keeps them exact up to it).
DEFAULT_CAP_KM = DEFAULT_PAD_M / 1000.0


class ProcessLocal:
    """What a study holds in this process only: measure values, layer reads in worker processes
    and a lock. It pickles empty, so a study sent to another process starts afresh there (the
    disk cache has what was computed)."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], np.ndarray] = {}  # (land, measure) -> values at the candidates
        self.reading: dict = {}  # layer -> Future of its read in a worker process
        self.guard = threading.RLock()

    def __reduce__(self):
        return (ProcessLocal, ())


@dataclass
class Study:
    """Layers, candidate cells and measures for one region on one grid.

    Use :meth:`open` to build one and :meth:`close` (or ``with``) to release worker processes.
    :meth:`layer`, :meth:`candidates` and :meth:`values` are memoised.

    Attributes
    ----------
    executor : Executor
        Runs the measures' tasks (see :mod:`sitesel.measures.executors`): ``executor.workers``
        local worker processes, ``executor.pool`` to submit other work to them (None when there
        are none).
    engine_used : dict, optional
        How the measures were computed (None: all from the cache); plain data, so ``run.json``
        can say so even when written by a worker process.
    cpu_seconds : dict
        CPU time per measure, summed over its tasks.
    """

    manifest: Manifest
    region: Region
    grid: Grid
    cap_km: float = DEFAULT_CAP_KM
    use_cache: bool = True
    progress: Progress = SILENT
    executor: Executor = field(default_factory=AutoExecutor)
    tile_size: int | None = None
    task_bytes: int | None = None
    policy: LandPolicy = field(default_factory=load_policy)
    engine_used: dict | None = None
    cpu_seconds: dict = field(default_factory=dict)
    _local: ProcessLocal = field(default_factory=ProcessLocal, repr=False, compare=False)
    _cells: CandidateCells = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._cells = CandidateCells(self.spec, self.region.geometry, self.policy, self.progress)

    @classmethod
    def open(cls, manifest: Manifest, region: Region, resolution: float | None = None, use_cache: bool = True,
             progress: Progress = SILENT, pad_m: float = DEFAULT_PAD_M, cap_km: float | None = None,
             workers: int | None = None, scheduler: str | None = None, dask_workers: int | None = None,
             tile_size: int | None = None, task_bytes: int | None = None,
             memory_gib: float | None = None, executor: Executor | None = None) -> Study:
        """Open a study of ``region``.

        Parameters
        ----------
        manifest : Manifest
            The layers.
        region : Region
            From :func:`sitesel.study.region.resolve_region`.
        resolution : float, optional
            Cell size in metres (default: see :func:`sitesel.study.region.default_resolution`).
        use_cache : bool
            Read and write the on-disk caches.
        progress : Progress
            Receives a line per step.
        pad_m : float
            Margin computed beyond the region (m).
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
        task_bytes : int, optional
            Working memory one task may use (default: a share of ``memory_gib``).
        memory_gib : float, optional
            Memory the study may use (default: 80 % of this machine's). Tiles are sized to fit;
            a grid whose per-cell arrays alone would not fit is refused before any work, with
            the resolution that would.
        executor : Executor, optional
            Runs the measures (default: an :class:`~sitesel.measures.executors.AutoExecutor`
            of ``workers``, ``scheduler`` and ``dask_workers``). The study closes it.

        Returns
        -------
        Study

        Raises
        ------
        RegionError
            The resolution is too fine, or the grid would not fit in memory.
        """
        grid = grid_for_region(region, resolution, pad_m)
        cap = float(cap_km) if cap_km is not None else min(DEFAULT_CAP_KM, pad_m / 1000.0)
        budget = int(memory_gib * 2**30) if memory_gib else memory_budget()
        n_workers = dask_workers or workers or (os.cpu_count() or 1)
        task_bytes = task_bytes or task_budget(budget, n_workers)
        check_fits(grid, region.geometry, region.label, budget)
        if executor is None:
            executor = AutoExecutor(workers, scheduler, dask_workers)
        return cls(manifest=manifest, region=region, grid=grid, cap_km=cap, use_cache=use_cache, progress=progress,
                   executor=executor, tile_size=tile_size, task_bytes=task_bytes)

    def __enter__(self) -> Study:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- workers ------------------------------------------------------------------------------
    @property
    def has_workers(self) -> bool:
        """Whether worker processes are running for this study (see :meth:`start`)."""
        return self.executor.pool is not None

    def worker_pool(self):
        """Local worker processes for other CPU-bound work (e.g. writing several parks' maps).

        Returns
        -------
        pool or None
            The measures' own when they ran in processes, else new ones (None with one core, or
            when the measures ran in this process or on Dask, whose workers may be remote).
        """
        return self.executor.local_pool()

    def start(self, measures: Iterable[str], layers: Iterable[str], land: str = "federal") -> None:
        """Get ready for computing ``measures``: start the worker processes now, and have them read
        ``layers`` ahead (into the layer cache) while this process checks inputs and finds the
        candidate cells.

        Nothing happens when every measure is cached, when the work is too small for worker
        processes, with Dask (whose workers may not share the cache), or without a disk cache.
        Reading ahead only moves work: a layer that fails to read fails again, with the same
        message, when it is first used here.

        Parameters
        ----------
        measures : iterable of str
            Measures the run will need.
        layers : iterable of str
            Layers the run will read.
        land : {'federal', 'all'}
            The land mode.
        """
        local = self._local
        with local.guard:
            base = [n for n in closure(measures) if not MEASURES[n].derived]
            missing = [n for n in base if (land, n) not in local.values and not self._value_cached(land, n)]
            if not missing:
                return
            self.executor.start(float(self.grid.size) * len(missing))
            pool = self.executor.pool
            if pool is None or not self.use_cache:
                return
            todo = [n for n in layers if self.manifest.has(n) and self.manifest[n].kind != "raster"
                    and n not in local.reading and not self.inputs.has_layer(n)]
            # Federal land first (the candidate cells wait for it), then the largest files.
            todo.sort(key=lambda n: (n != "federal_lands", -_source_bytes(self.manifest[n])))
            for n in todo:
                local.reading[n] = pool.submit(engine.read_layer, self.spec, n)

    def close(self) -> None:
        """Stop worker processes or disconnect from Dask (they start again if needed)."""
        self.executor.close()

    # -- inputs -------------------------------------------------------------------------------
    @property
    def spec(self) -> StudySpec:
        """What every process needs to compute this study's measures."""
        return StudySpec(self.manifest, self.grid, self.cap_km, self.use_cache,
                         str(cache_root()) if self.use_cache else None)

    @property
    def inputs(self) -> Inputs:
        """This study's layers in this process."""
        return inputs_for(self.spec)

    @property
    def layers_read_ahead(self) -> frozenset[str]:
        """Layers being (or already) read by worker processes (see :meth:`start`)."""
        return frozenset(self._local.reading)

    def read_ahead(self, name: str) -> None:
        """Wait for a layer being read by a worker (if it is), and take the descriptions of its
        files that the worker made. A failed read is read again here, which raises what went wrong.

        Parameters
        ----------
        name : str
            The layer.
        """
        ahead = self._local.reading.get(name)
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
        """What reading each layer found (repairs, sentinels), by layer."""
        return {k: vars(v) for k, v in sorted(self.inputs.reports.items())}

    def input_files(self) -> list[Path]:
        """The files of every layer this study has read or computed from."""
        used = set(self.inputs.reports) | {"states"}
        for (_, m) in self._local.values:
            used |= set(MEASURES[m].layers)
        files = []
        for name in sorted(used):
            if self.manifest.has(name):
                files.extend(s.path for s in self.manifest[name].sources)
        return sorted(set(files))

    # -- candidate cells ----------------------------------------------------------------------
    def candidates(self, land: str = "federal") -> Candidates:
        """Cells some profile may use under ``land`` (see :mod:`sitesel.study.land`)."""
        return self._cells.candidates(land, self.layer)

    # -- measures -----------------------------------------------------------------------------
    def prepare(self, names: Iterable[str], land: str = "federal") -> None:
        """Compute the named measures (and those they derive from) at the candidate cells.

        Measures start on the cheap superset of candidates while the exact candidate filter is
        computed here, then both are combined.

        Parameters
        ----------
        names : iterable of str
            Measures of :data:`~sitesel.measures.catalogue.MEASURES`.
        land : {'federal', 'all'}
            The land mode.

        Raises
        ------
        LayerError
            A measure needs a layer the manifest lacks.
        """
        names = closure(names)
        local = self._local
        with local.guard:
            todo = [n for n in names if (land, n) not in local.values]
            if not todo:
                return
            sup = self._cells.superset(land, self.layer)
            base = [n for n in todo if not MEASURES[n].derived]
            got: dict[str, np.ndarray] = {}
            missing = []
            for n in base:
                arr = load_array(self._value_path(land, n), len(sup)) if self.use_cache else None
                if arr is None:
                    missing.append(n)
                else:
                    got[n] = arr
            if missing:
                got.update(self._compute(missing, land, sup))
            keep = self._cells.keep(land, self.layer)
            for n in base:
                # One superset-sized array at a time: over the lower 48 at fine resolution both
                # copies of every measure would not fit.
                local.values[(land, n)] = np.ascontiguousarray(got.pop(n)[keep])
            for n in todo:
                if MEASURES[n].derived:
                    local.values[(land, n)] = engine.derive(n, {d: local.values[(land, d)]
                                                                for d in MEASURES[n].depends})

    def _compute(self, missing: list[str], land: str, sup: Candidates) -> dict[str, np.ndarray]:
        """Base measures at the superset's cells, on the executor (and saved to the disk cache)."""
        for n in missing:
            for lyr in MEASURES[n].layers:
                if not self.manifest.has(lyr):
                    raise LayerError(f"measure '{n}' needs layer '{lyr}', which the manifest lacks")
        alias = engine.shared_features(missing, self.layer)
        computed = [n for n in missing if n not in alias]
        cells_path = self._cells.cells_file(land, self.layer)
        ex = self.executor.for_work(float(self.grid.size) * len(computed))
        self.engine_used = {"executor": ex.name, "workers": ex.workers or None}
        ex.warm_up()
        result: dict = {}

        def run() -> None:
            result.update(engine.compute_values(
                self.spec, computed, sup.cells, cells_path, ex,
                task_bytes=self.task_bytes or DEFAULT_TASK_BYTES, tile_size=self.tile_size,
                progress=self.progress, cpu_seconds=self.cpu_seconds, span=self.engine_used))

        with self.progress.step(f"measures ({len(computed)}: {', '.join(computed)})"):
            if ex.in_process:
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
        got = {}
        for n in missing:
            got[n] = result[alias.get(n, n)]
            if self.use_cache:
                save_array(self._value_path(land, n), got[n])
        return got

    def values(self, name: str, land: str = "federal") -> np.ndarray:
        """A measure's values at :meth:`candidates` (float32, NaN = no data, inf = beyond the cap)."""
        if (land, name) not in self._local.values:
            self.prepare([name], land)
        return self._local.values[(land, name)]

    def measure_raster(self, name: str, land: str = "federal") -> np.ndarray:
        """A measure as a grid-sized raster, NaN away from candidate cells (for inspection)."""
        out = np.full(self.grid.shape, np.nan, dtype=np.float32)
        out.ravel()[self.candidates(land).cells] = self.values(name, land)
        return out

    def _value_path(self, land: str, name: str) -> Path:
        sup_path = self._cells.superset_path(land)
        return sup_path.parent / sup_path.stem / f"{name}-{self.spec.fingerprint(MEASURES[name].layers)}.npy"

    def _value_cached(self, land: str, name: str) -> bool:
        """Whether a measure's values are in the disk cache (by name; checked in full when loaded)."""
        if not self.use_cache:
            return False
        try:
            return self._value_path(land, name).exists()
        except OSError:
            return False


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
