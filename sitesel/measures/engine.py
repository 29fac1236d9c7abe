"""Computing measures over a study's candidate cells: tiles, worker processes and Dask.

Work is split into tasks of one measure over one tile (see :func:`sitesel.study.grid.tiles`). A task
reads the layers it needs in whichever process runs it (see :mod:`sitesel.study.inputs`), computes
the measure over its padded tile and returns the values at the candidate cells of its core, so
only small vectors travel between processes. Tiles are sized from a memory budget per task; a
grid that fits is computed whole. Tiled and untiled results are identical by construction (each
measure's halo covers everything its core depends on).

The engine knows nothing of studies: it takes plain data (a :class:`~sitesel.study.inputs.StudySpec`,
the candidate cells and an executor from :mod:`sitesel.measures.executors`, which runs the tasks
in this process, in local worker processes or on Dask).
"""
from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sitesel.io.cache import digest
from sitesel.io.files import known_infos
from sitesel.measures.catalogue import DERIVED, MEASURES
from sitesel.measures.executors import Executor
from sitesel.measures.focal import after_read
from sitesel.study.grid import Grid, Tile, tile_cells, tiles
from sitesel.study.inputs import StudySpec, inputs_for
from sitesel.study.memory import DEFAULT_TASK_BYTES

__all__ = ["COUNT_BLOCK", "CellIndex", "Task", "Tiling", "cell_rows_cols", "compute_values", "core_cells", "derive",
           "plan_tiles", "read_layer", "run_task", "shared_features"]


@dataclass(frozen=True)
class Task:
    """One measure over one tile; ``cells`` is a path to the sorted candidate indices (``.npy``)."""

    spec: StudySpec
    measure: str
    tile: Tile
    cells: object  # path (str) or, on Dask, the array itself
    threads: int = 1


def cell_rows_cols(cells: np.ndarray, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Row and column (int32) of each of ``cells`` (flat grid indices).

    Parameters
    ----------
    cells : ndarray of int
        Flat grid indices.
    grid : Grid
        The grid.

    Returns
    -------
    rows, cols : ndarray of int32
    """
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



@functools.lru_cache(maxsize=1)
def _core_cells_of_file(path: str, size: int, mtime_ns: int, grid: Grid, tile: Tile) -> np.ndarray:
    # One answer kept, for the next task of the same tile and cells file: the same array object,
    # so that measures can keep what they derive from it (see
    # sitesel.measures.proximity.rows_cols_in_padded).
    return tile_cells(np.load(path, mmap_mode="r"), grid, tile)[1]


def core_cells(task: Task, cells: np.ndarray | None = None) -> np.ndarray:
    """The task's candidate cells as flat indices into its tile's core.

    Parameters
    ----------
    task : Task
        The task; its ``cells`` a path to the sorted candidate cells, or the array.
    cells : ndarray, optional
        The candidate cells, when the executor ships them (Dask).

    Returns
    -------
    ndarray of int
        For a cells file, the same array as for the previous task of the same tile and file.
    """
    if isinstance(task.cells, str) and cells is None:
        st = os.stat(task.cells)
        return _core_cells_of_file(task.cells, st.st_size, st.st_mtime_ns, task.spec.grid, task.tile)
    if cells is None:
        cells = task.cells if isinstance(task.cells, np.ndarray) else np.load(task.cells, mmap_mode="r")
    return tile_cells(cells, task.spec.grid, task.tile)[1]


def run_task(task: Task, cells: np.ndarray | None = None) -> tuple[str, int, np.ndarray, float, float]:
    """Compute one task (in any process).

    Parameters
    ----------
    task : Task
        The measure and tile.
    cells : ndarray, optional
        The candidate cells, when the executor ships them (Dask).

    Returns
    -------
    tuple
        (measure, tile index, values (float32), CPU seconds, when it started as ``time.time()``).
    """
    started = time.time()
    t0 = time.process_time()
    local = core_cells(task, cells)
    inputs = inputs_for(task.spec)
    values = MEASURES[task.measure].compute(inputs, task.tile, local, threads=task.threads)
    return task.measure, task.tile.index, np.asarray(values, dtype=np.float32), time.process_time() - t0, started


def read_layer(spec: StudySpec, name: str) -> dict:
    """Read one layer in this (worker) process.

    It lands in the disk cache for the others and stays in memory here for the measures that
    need it.

    Parameters
    ----------
    spec : StudySpec
        The study.
    name : str
        The layer.

    Returns
    -------
    dict
        The descriptions of its files made on the way (see :func:`sitesel.io.files.known_infos`),
        so the main process's input checks need not parse them again.
    """
    inputs = inputs_for(spec)
    inputs.layer(name)
    after_read(inputs, name)
    return known_infos(src.path for src in spec.manifest[name].sources)


def plan_tiles(grid: Grid, measure: str, cap_km: float, task_bytes: int = DEFAULT_TASK_BYTES,
               tile_size: int | None = None) -> list[Tile]:
    """Tiles for one measure: the whole grid if it fits ``task_bytes``, else the largest
    square tiles that do (or exactly ``tile_size`` cells when given).

    Parameters
    ----------
    grid : Grid
        The analysis grid.
    measure : str
        A base measure of :data:`~sitesel.measures.catalogue.MEASURES`.
    cap_km : float
        The study's distance cap (it sets distance measures' halo).
    task_bytes : int
        Working memory one task may use.
    tile_size : int, optional
        Exactly this many cells a side.

    Returns
    -------
    list of Tile
    """
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


def compute_values(spec: StudySpec, names: Iterable[str], cells: np.ndarray, cells_path: Path, executor: Executor,
                   task_bytes: int = DEFAULT_TASK_BYTES, tile_size: int | None = None,
                   progress=None, cpu_seconds: dict | None = None, span: dict | None = None) -> dict[str, np.ndarray]:
    """Values of base (non-derived) measures at ``cells``, by tiles.

    Parameters
    ----------
    spec : StudySpec
        The study.
    names : iterable of str
        Base measures.
    cells : ndarray of int
        Sorted flat grid indices.
    cells_path : Path
        The same cells as ``.npy``, for worker processes to map.
    executor : Executor
        Runs the tasks.
    task_bytes : int
        Working memory one task may use (sets the tiles).
    tile_size : int, optional
        Tiles of exactly this many cells a side.
    progress : Progress, optional
        Receives a bar of the tasks.
    cpu_seconds : dict, optional
        Receives each measure's CPU time summed over its tasks.
    span : dict, optional
        Receives ``compute_s``, the wall time from the first task's start to the last result
        (tasks may wait in the queue behind layers the workers are still reading).

    Returns
    -------
    dict
        Measure -> float32 values at ``cells`` (NaN: no data; ``inf``: beyond the cap).
    """
    grid = spec.grid
    tasks: list[Task] = []
    # Positions are shared by every measure with the same tiling (one int64 array per task would
    # be ~4 GB over the lower 48 at 250 m), and worked out while the first tasks run.
    tilings: dict[tuple, Tiling] = {}
    of_task: dict[tuple[str, int], Tiling] = {}
    # Rows, columns and block counts of the cells, shared by the tilings: each tiling's counts
    # are then sums of a small table rather than a pass over every cell.
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
    # Result vectors are made as results come in: allocating them all first would keep the
    # workers waiting for their first task.
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
    """A derived measure from the values of the measures it depends on.

    Parameters
    ----------
    name : str
        A derived measure.
    values : dict
        At least the measures it depends on -> their values.

    Returns
    -------
    ndarray
    """
    return DERIVED[name]({d: values[d] for d in MEASURES[name].depends})


def shared_features(names: Iterable[str], layer: Callable) -> dict[str, str]:
    """Distance measures whose filters select the same features as another's.

    For example lines of >= 115 kV and >= 230 kV when no line lies in between: one is computed
    and its values serve both.

    Parameters
    ----------
    names : iterable of str
        Measures to compute.
    layer : callable
        ``layer(name)`` -> the layer's features (a GeoDataFrame).

    Returns
    -------
    dict
        Measure -> the one whose values it takes (only measures that need not be computed).
    """
    groups: dict[tuple, list[str]] = {}
    for n in sorted(names):
        m = MEASURES[n]
        feats = m.params.get("features", ()) if m.is_distance else ()
        if len(feats) != 1 or feats[0][1] is None:
            continue
        lyr, column, minimum = feats[0]
        col = layer(lyr)[column].to_numpy(dtype="float64")
        chosen = np.flatnonzero(col >= minimum)
        groups.setdefault((lyr, digest(chosen.tobytes())), []).append(n)
    return {other: members[0] for members in groups.values() for other in members[1:]}
