"""Computing measures over a study's candidate cells: tiles, worker processes and Dask.

Work is split into tasks of one measure over one tile (see :func:`sitesel.study.grid.tiles`). A task
reads the layers it needs in whichever process runs it (see :mod:`sitesel.study.inputs`), computes
the measure over its padded tile and returns the values at the candidate cells of its core, so
only small vectors travel between processes. Tiles are sized from a memory budget per task; a
grid that fits is computed whole. Tiled and untiled results are identical by construction (each
measure's halo covers everything its core depends on).

Three executors run the tasks: in this process, in local worker processes
(:class:`concurrent.futures.ProcessPoolExecutor`, started with ``forkserver`` so that it is safe
in threaded hosts), or on a Dask cluster (``dask.distributed``), local or remote.
"""
from __future__ import annotations

import math
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from sitesel.study.grid import Grid, Tile, tile_cells, tiles
from sitesel.study.inputs import StudySpec, inputs_for
from sitesel.measures.catalogue import DERIVED, MEASURES, set_threads

#: Default working-memory budget of one task (bytes); tiles are sized to fit it.
DEFAULT_TASK_BYTES = 3 * 2**30
#: Below this many cell-tasks, worker processes cost more to start than they save.
MIN_PARALLEL_WORK = 150_000_000


@dataclass(frozen=True)
class Task:
    """One measure over one tile; ``cells`` is a path to the sorted candidate indices (``.npy``)."""

    spec: StudySpec
    measure: str
    tile: Tile
    cells: object  # path (str) or, on Dask, the array itself
    threads: int = 1


def cell_rows_cols(cells: np.ndarray, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Row and column (int32) of each of ``cells`` (flat grid indices)."""
    rows, cols = np.divmod(cells, grid.width)
    return rows.astype(np.int32), cols.astype(np.int32)


#: Side (cells) of the blocks in which cells are counted once for every tiling (tile sides from
#: :func:`plan_tiles` are multiples of it).
COUNT_BLOCK = 256


class CellIndex:
    """Rows, columns and per-block counts of ``cells``, worked out once and shared by every tiling."""

    def __init__(self, cells: np.ndarray, grid: Grid):
        self.rows, self.cols = cell_rows_cols(cells, grid)
        b = np.int32(COUNT_BLOCK)
        self.shape = (-(-grid.height // COUNT_BLOCK), -(-grid.width // COUNT_BLOCK))
        block = self.rows // b
        block *= np.int32(self.shape[1])
        block += self.cols // b
        self.blocks = np.bincount(block, minlength=self.shape[0] * self.shape[1]).reshape(self.shape)

    def counts(self, size: int) -> np.ndarray | None:
        """Cells per tile of a tiling by squares of ``size`` (row by row), if blocks divide it."""
        if size % COUNT_BLOCK:
            return None
        k = size // COUNT_BLOCK
        ny, nx = -(-self.shape[0] // k), -(-self.shape[1] // k)
        padded = np.zeros((ny * k, nx * k), dtype=np.int64)
        padded[: self.shape[0], : self.shape[1]] = self.blocks
        return padded.reshape(ny, k, nx, k).sum(axis=(1, 3)).ravel()


class Tiling:
    """Which tile of a tiling (from :func:`sitesel.study.grid.tiles`) holds each of ``cells`` (sorted flat
    grid indices): counting them is quick, so tasks can be sent out before the (slower) positions
    of each tile's cells are worked out."""

    def __init__(self, cells: np.ndarray, grid: Grid, plan: list[Tile], index: CellIndex | None = None):
        self.plan = plan
        self._cells = cells
        self._grid = grid
        self._index = None
        self._positions: list | None = None
        if len(plan) == 1:
            self.counts = np.array([cells.size])
            return
        self._index = index or CellIndex(cells, grid)
        counts = self._index.counts(self._size)
        self.counts = counts if counts is not None and counts.size == len(plan) else \
            np.bincount(self._tile_ids(), minlength=len(plan))

    @property
    def _size(self) -> int:
        return max(self.plan[0].core.height, self.plan[0].core.width)

    def _tile_ids(self) -> np.ndarray:
        size = self._size
        tid = self._index.rows // np.int32(size)
        tid *= np.int32(-(-self._grid.width // size))
        tid += self._index.cols // np.int32(size)
        return tid

    def positions(self) -> list[np.ndarray | slice]:
        """For each tile, the positions in ``cells`` of its core's cells, ascending (a slice when
        contiguous). One pass over the cells for the whole tiling, not one per tile."""
        if self._positions is None:
            if self._index is None:
                self._positions = [slice(0, self._cells.size)]
            else:
                order = np.argsort(self._tile_ids(), kind="stable")
                if order.size < 2**31:
                    order = order.astype(np.int32)
                ends = np.cumsum(self.counts)
                out = []
                for i in range(len(self.plan)):
                    pos = order[(ends[i - 1] if i else 0):ends[i]]
                    contiguous = pos.size and pos[-1] - pos[0] + 1 == pos.size
                    out.append(slice(int(pos[0]), int(pos[-1]) + 1) if contiguous else pos)
                self._positions = out
                self._index = None
        return self._positions


_LAST_LOCAL: list = []


def _local_cells(task: Task, cells: np.ndarray | None) -> np.ndarray:
    """The task's candidate cells as flat indices into its tile's core. The last answer is kept
    for the next task of the same tile and cells file (the same array object, so that measures
    can keep what they derive from it: see :func:`sitesel.measures.catalogue._rows_cols_in_padded`)."""
    key = None
    if isinstance(task.cells, str) and cells is None:
        st = os.stat(task.cells)
        key = (task.cells, st.st_size, st.st_mtime_ns, task.tile)
    if key is not None and _LAST_LOCAL and _LAST_LOCAL[0] == key:
        return _LAST_LOCAL[1]
    if cells is None:
        cells = task.cells if isinstance(task.cells, np.ndarray) else np.load(task.cells, mmap_mode="r")
    _, local = tile_cells(cells, task.spec.grid, task.tile)
    _LAST_LOCAL[:] = [key, local] if key is not None else []
    return local


def run_task(task: Task, cells: np.ndarray | None = None) -> tuple[str, int, np.ndarray, float, float]:
    """Compute one task (in any process); returns (measure, tile index, values, CPU seconds, and
    when it started as ``time.time()``)."""
    started = time.time()
    t0 = time.process_time()
    set_threads(task.threads)
    local = _local_cells(task, cells)
    inputs = inputs_for(task.spec)
    values = MEASURES[task.measure].compute(inputs, task.tile, local)
    return task.measure, task.tile.index, np.asarray(values, dtype=np.float32), time.process_time() - t0, started


def read_layer(spec: StudySpec, name: str) -> dict:
    """Read one layer in this (worker) process: it lands in the disk cache for the others and
    stays in memory here for the measures that need it. Returns the descriptions of its files
    made on the way (see :func:`sitesel.io.files.known_infos`), so the main process's input checks
    need not parse them again."""
    from sitesel.measures.catalogue import after_read
    from sitesel.io.files import known_infos

    inputs = inputs_for(spec)
    inputs.layer(name)
    after_read(inputs, name)
    return known_infos(src.path for src in spec.manifest[name].sources)


def plan_tiles(grid: Grid, measure: str, cap_km: float, task_bytes: int = DEFAULT_TASK_BYTES,
               tile_size: int | None = None) -> list[Tile]:
    """Tiles for one measure: the whole grid if it fits ``task_bytes``, else the largest
    square tiles that do (or exactly ``tile_size`` cells when given)."""
    m = MEASURES[measure]
    halo = m.halo_cells(grid.res, cap_km)
    if tile_size is None:
        fits = int(math.sqrt(task_bytes / m.bytes_per_cell())) - 2 * halo
        if m.kind == "disc":
            # FFT convolution costs ~N log N over the padded tile: tiles a few halos wide keep
            # the overlap small, make the kernel's transform cheap and let empty tiles be skipped.
            tile_size = max(1024, 12 * halo) // 256 * 256
            tile_size = min(tile_size, max(256, fits // 256 * 256))
        elif grid.size * m.bytes_per_cell() <= task_bytes:
            return tiles(grid, None, halo)
        else:
            tile_size = max(256, fits // 256 * 256)
    return tiles(grid, tile_size, halo)


def memory_budget() -> int:
    """Bytes a study may use by default: 80 % of this machine's memory (0 if unknown)."""
    try:
        return int(0.8 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


def task_budget(budget: int, workers: int) -> int:
    """Bytes one task may use: an even share of half the budget, at most the default."""
    if not budget:
        return DEFAULT_TASK_BYTES
    return int(max(2**28, min(DEFAULT_TASK_BYTES, budget / 2 / max(1, workers))))


#: Bytes per candidate cell held by the main process: cell index, agency, ~20 measures (float32)
#: and the per-park feasible cells and scores.
BYTES_PER_CANDIDATE = 8 + 1 + 20 * 4 + 16


def base_memory(grid: Grid, region_geom) -> int:
    """Bytes a study needs whatever the tiling: per-candidate vectors (every cell of the region, the
    worst case, as with ``--land all``) and one region-sized score raster per output writer."""
    xmin, ymin, xmax, ymax = region_geom.bounds
    region_cells = (xmax - xmin) * (ymax - ymin) / (grid.res * grid.res)
    share = min(1.0, region_geom.area / max((xmax - xmin) * (ymax - ymin), 1.0))
    return int(region_cells * share * BYTES_PER_CANDIDATE + region_cells * 4 * 3)


# -- executors -------------------------------------------------------------------------------

class SerialExecutor:
    """Runs tasks one after another in this process (each may use every core)."""

    threads = os.cpu_count() or 1

    def map_unordered(self, fn: Callable, items: list, cells: np.ndarray) -> Iterator:
        for item in items:
            yield fn(item, cells)

    def close(self) -> None:
        pass


def _init_worker() -> None:
    set_threads(1)  # the pool's processes already fill the cores


class _MainSafePool:
    """Submits to a process pool without re-running the caller's script in new workers."""

    def __init__(self, pool: ProcessPoolExecutor):
        self._pool = pool

    def submit(self, fn, *args, **kwargs):
        with _main_not_reimported():
            return self._pool.submit(fn, *args, **kwargs)


@contextmanager
def _main_not_reimported():
    """Start workers without re-running the caller's script in them.

    ``spawn`` and ``forkserver`` workers import the parent's ``__main__`` from its file, which
    runs a script's top level again unless it sits under ``if __name__ == "__main__"``. The
    tasks need nothing from ``__main__``, so hide its file while workers start.
    """
    main = sys.modules.get("__main__")
    saved = {k: getattr(main, k) for k in ("__file__", "__spec__") if main is not None and hasattr(main, k)}
    try:
        for k in saved:
            setattr(main, k, None)
        if "__file__" in saved:
            delattr(main, "__file__")
        yield
    finally:
        for k, v in saved.items():
            setattr(main, k, v)


class ProcessExecutor:
    """Local worker processes, one task each at a time."""

    threads = 1

    def __init__(self, workers: int):
        method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        ctx = mp.get_context(method)
        if method == "forkserver":
            # Imported once in the server; each worker forks from it with these already loaded
            # (sitesel.measures.preload: the compiled kernels too).
            ctx.set_forkserver_preload(["sitesel.measures.engine", "sitesel.measures.catalogue", "geopandas", "rasterio",
                                        "sitesel.measures.preload"])
        self.workers = workers
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker)

    @property
    def pool(self) -> ProcessPoolExecutor:
        """The worker processes, for other work once the measures are done."""
        return _MainSafePool(self._pool)

    def warm_up(self) -> None:
        """Start the worker processes now (they take a second or two) instead of at first use."""
        with _main_not_reimported():
            for _ in range(self.workers):
                self._pool.submit(os.getpid)

    def map_unordered(self, fn: Callable, items: list, cells: np.ndarray) -> Iterator:
        # Large result vectors come back through files rather than the pool's pipe, which copies
        # them twice and has the pool's thread unpickle them while holding this process's GIL:
        # for the fab's 13 measures over the lower 48 at 500 m (24 MB each), 0.6 CPU-s of this
        # process against 0.1 s. A file deleted as soon as it is read never reaches the disk.
        folder = tempfile.mkdtemp(prefix="sitesel-results-")
        try:
            with _main_not_reimported():
                futures = [self._pool.submit(_spill_values, fn, item, folder) for item in items]
            for f in as_completed(futures):
                yield _unspill_values(f.result())
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


#: Result vectors at least this large (bytes) travel from worker processes through a file.
SPILL_BYTES = 1 << 20


def _spill_values(fn: Callable, item, folder: str) -> tuple:
    """``fn(item)``, its values (the third item) written to a file in ``folder`` when large."""
    out = fn(item)
    values = out[2]
    if isinstance(values, np.ndarray) and values.nbytes >= SPILL_BYTES:
        try:
            with tempfile.NamedTemporaryFile(dir=folder, suffix=".npy", delete=False) as f:
                np.save(f, values, allow_pickle=False)
            return out[:2] + (Path(f.name),) + out[3:]
        except OSError:
            pass  # a full or unwritable temporary folder: through the pipe then
    return out


def _unspill_values(out: tuple) -> tuple:
    if isinstance(out[2], Path):
        values = np.load(out[2], allow_pickle=False)
        out[2].unlink(missing_ok=True)
        return out[:2] + (values,) + out[3:]
    return out


class DaskExecutor:
    """Tasks on a Dask cluster: an existing scheduler (``address``) or a local one (``workers``).

    The workers must see the data files at the paths the manifest names (a shared file system
    or identical copies); only the candidate cells and the small result vectors are shipped.
    """

    threads = 1

    def __init__(self, address: str | None = None, workers: int | None = None):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            from sitesel.errors import SiteselError

            raise SiteselError("Dask is not installed: pip install 'sitesel[dask]' (or dask[distributed])") from None
        if address:
            self.client = Client(address)
            self._cluster = None
        else:
            with _main_not_reimported():
                self._cluster = LocalCluster(n_workers=workers or (os.cpu_count() or 1), threads_per_worker=1,
                                             processes=True, dashboard_address=None)
            self.client = Client(self._cluster)

    def map_unordered(self, fn: Callable, items: list, cells: np.ndarray) -> Iterator:
        from dask.distributed import as_completed as dask_completed

        shared = self.client.scatter(np.asarray(cells), broadcast=True)
        futures = self.client.map(fn, items, cells=shared, pure=False)
        for f in dask_completed(futures):
            yield f.result()

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(workers: int | None = None, scheduler: str | None = None, dask_workers: int | None = None,
                  work: float = 0.0):
    """The executor for a computation of ``work`` cell-tasks.

    ``scheduler`` (a Dask address) or ``dask_workers`` choose Dask; otherwise local worker
    processes when there is enough work to pay for starting them, else this process.
    """
    if scheduler or dask_workers:
        return DaskExecutor(scheduler, dask_workers)
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if workers > 1 and work >= MIN_PARALLEL_WORK:
        return ProcessExecutor(workers)
    return SerialExecutor()


def compute_values(spec: StudySpec, names: Iterable[str], cells: np.ndarray, cells_path: Path, executor,
                   task_bytes: int = DEFAULT_TASK_BYTES, tile_size: int | None = None,
                   progress=None, cpu_seconds: dict | None = None, span: dict | None = None) -> dict[str, np.ndarray]:
    """Values of base (non-derived) measures at ``cells`` (sorted flat indices), by tiles.

    ``cpu_seconds``, if given, receives each measure's CPU time summed over its tasks; ``span``
    receives ``compute_s``, the wall time from the first task's start to the last result (tasks
    may wait in the queue behind layers the workers are still reading).
    """
    grid = spec.grid
    tasks: list[Task] = []
    # Positions are shared by every measure with the same tiling (one int64 array per task would
    # be ~4 GB over the lower 48 at 250 m), and worked out while the first tasks run.
    tilings: dict[tuple, Tiling] = {}
    of_task: dict[tuple[str, int], Tiling] = {}
    # Rows, columns and block counts of the cells, shared by the tilings: each tiling's counts
    # are then sums of a small table (per-cell work for each took ~0.5 s at 250 m).
    index = None
    for name in names:
        if MEASURES[name].derived:
            raise ValueError(f"{name} is derived; compute it from its inputs")
        plan = plan_tiles(grid, name, spec.cap_km, task_bytes, tile_size)
        key = (plan[0].core.height, plan[0].core.width, len(plan))
        if key not in tilings:
            if index is None and len(plan) > 1:
                index = CellIndex(cells, grid)
            tilings[key] = Tiling(cells, grid, plan, index)
        for tile, count in zip(plan, tilings[key].counts):
            if count:
                of_task[(name, tile.index)] = tilings[key]
                tasks.append(Task(spec, name, tile, str(cells_path), executor.threads))
    del index
    # Largest first: keeps both workers busy to the end.
    tasks.sort(key=lambda t: -t.tile.padded.size * MEASURES[t.measure].bytes_per_cell())
    bar = progress.bar(len(tasks), "criterion rasters") if progress is not None else None
    # Result vectors are made as results come in: 13 of them over the lower 48 take a second to
    # allocate, which the workers would spend waiting for their first task.
    out: dict[str, np.ndarray] = {}
    first = None
    for name, index, values, cpu, started in executor.map_unordered(run_task, tasks, cells):
        first = started if first is None else min(first, started)
        if name not in out:
            out[name] = np.full(cells.size, np.nan, dtype=np.float32)
        out[name][of_task[(name, index)].positions()[index]] = values
        if cpu_seconds is not None:
            cpu_seconds[name] = cpu_seconds.get(name, 0.0) + cpu
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    if span is not None and first is not None:
        span["compute_s"] = round(time.time() - first, 3)
    for n in names:  # measures with no candidate cells at all
        out.setdefault(n, np.full(cells.size, np.nan, dtype=np.float32))
    return out


def derive(name: str, values: dict[str, np.ndarray]) -> np.ndarray:
    """A derived measure from the values of the measures it depends on."""
    return DERIVED[name]({d: values[d] for d in MEASURES[name].depends})
