"""Executors: where the engine's tasks run (this process, local worker processes, or Dask).

A study is handed one executor (:attr:`sitesel.study.core.Study.executor`). Each executor says
how many local worker processes it runs (:attr:`Executor.workers`), offers them for other work
(:attr:`Executor.pool`), and pickles as an idle copy of itself (no processes, no connection),
so a study can be sent to a worker process. Executors can be closed and used again.

:class:`AutoExecutor`, the default, chooses once per study: Dask when given a scheduler or a
number of Dask workers, else local worker processes when there is enough work to pay for
starting them (:data:`MIN_PARALLEL_WORK`), else this process.

Local worker processes are started with ``forkserver`` (``spawn`` where there is none), which is
safe in threaded hosts.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from sitesel.errors import SiteselError

__all__ = ["AutoExecutor", "DaskExecutor", "Executor", "MIN_PARALLEL_WORK", "MainSafePool", "ProcessExecutor",
           "SPILL_BYTES", "SerialExecutor", "main_not_reimported", "make_executor", "spill_values", "unspill_values"]

#: Below this many cell-tasks, worker processes cost more to start than they save.
MIN_PARALLEL_WORK = 150_000_000
#: Result vectors at least this large (bytes) travel from worker processes through a file.
SPILL_BYTES = 1 << 20
#: Modules the fork server imports once, so that each worker forks with them loaded
#: (:mod:`sitesel.measures.preload` loads the compiled kernels too).
PRELOAD = ["sitesel.measures.engine", "sitesel.measures.catalogue", "geopandas", "rasterio",
           "sitesel.measures.preload"]


class Executor:
    """Runs the engine's tasks. Subclasses set :attr:`name`, :attr:`threads` and :attr:`workers`.

    Attributes
    ----------
    name : str
        ``"serial"``, ``"processes"`` or ``"dask"`` (as recorded in ``run.json``).
    threads : int
        Threads each task may use.
    workers : int
        Local worker processes it runs tasks in (0: this process, or Dask's workers).
    in_process : bool
        Whether tasks run in this process, one after another.
    """

    name = "serial"
    threads = 1
    workers = 0
    in_process = False

    @property
    def pool(self) -> MainSafePool | None:
        """The running local worker processes, for other work (None when there are none)."""
        return None

    def for_work(self, work: float) -> Executor:
        """The executor that runs ``work`` cell-tasks: this one (see :class:`AutoExecutor`)."""
        return self

    def start(self, work: float) -> None:
        """Get ready to run ``work`` cell-tasks soon: start local worker processes (if any) now.

        Parameters
        ----------
        work : float
            Cells times measures to compute.
        """

    def local_pool(self) -> MainSafePool | None:
        """Local worker processes for other CPU-bound work, started if need be (None: there are none)."""
        return self.pool

    def warm_up(self) -> None:
        """Start the workers now instead of at first use."""

    def map_unordered(self, fn: Callable, items: list, cells: np.ndarray) -> Iterator:
        """``fn(item, cells)`` for every item, as they complete.

        Parameters
        ----------
        fn : callable
            ``fn(item, cells)``; picklable when tasks run in other processes.
        items : list
            The tasks.
        cells : ndarray
            The candidate cells, for executors that ship them (the others pass None).

        Yields
        ------
        object
            What ``fn`` returned, in no particular order.
        """
        raise NotImplementedError

    def close(self) -> None:
        """Stop the workers (the executor may be used again)."""


class SerialExecutor(Executor):
    """Runs tasks one after another in this process (each may use every core)."""

    name = "serial"
    in_process = True

    def __init__(self) -> None:
        self.threads = os.cpu_count() or 1

    def map_unordered(self, fn: Callable, items: list, cells: np.ndarray) -> Iterator:
        for item in items:
            yield fn(item, cells)


class MainSafePool:
    """Submits to a process pool without re-running the caller's script in new workers.

    Parameters
    ----------
    pool : ProcessPoolExecutor
        The pool.
    """

    def __init__(self, pool: ProcessPoolExecutor):
        self._pool = pool

    def submit(self, fn: Callable, *args, **kwargs) -> Future:
        """``pool.submit(fn, *args, **kwargs)``, with ``__main__`` hidden while workers start."""
        with main_not_reimported():
            return self._pool.submit(fn, *args, **kwargs)


@contextmanager
def main_not_reimported() -> Iterator[None]:
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


class ProcessExecutor(Executor):
    """Local worker processes, one task each at a time.

    Parameters
    ----------
    workers : int
        How many processes (started at first use).
    """

    name = "processes"
    threads = 1  # the processes already fill the cores

    def __init__(self, workers: int):
        self.workers = int(workers)
        self._pool: ProcessPoolExecutor | None = None

    def __getstate__(self) -> dict:
        return {"workers": self.workers, "_pool": None}

    def _running(self) -> ProcessPoolExecutor:
        if self._pool is None:
            method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
            ctx = mp.get_context(method)
            if method == "forkserver":
                ctx.set_forkserver_preload(PRELOAD)
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)
        return self._pool

    @property
    def pool(self) -> MainSafePool | None:
        """The worker processes, for other work once the measures are done (None until started)."""
        return MainSafePool(self._pool) if self._pool is not None else None

    def start(self, work: float) -> None:
        self.warm_up()

    def local_pool(self) -> MainSafePool:
        return MainSafePool(self._running())

    def warm_up(self) -> None:
        """Start the worker processes now (they take a second or two) instead of at first use."""
        pool = self._running()
        with main_not_reimported():
            for _ in range(self.workers):
                pool.submit(os.getpid)

    def map_unordered(self, fn: Callable, items: list, cells: np.ndarray) -> Iterator:
        # Large result vectors come back through files rather than the pool's pipe, which copies
        # them twice and has the pool's thread unpickle them while holding this process's GIL.
        # A file deleted as soon as it is read never reaches the disk.
        pool = self._running()
        folder = tempfile.mkdtemp(prefix="sitesel-results-")
        try:
            with main_not_reimported():
                futures = [pool.submit(spill_values, fn, item, folder) for item in items]
            for f in as_completed(futures):
                yield unspill_values(f.result())
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def spill_values(fn: Callable, item, folder: str) -> tuple:
    """``fn(item)``, its values (the third item) written to a file in ``folder`` when large.

    Parameters
    ----------
    fn : callable
        Returns a tuple whose third item is an array.
    item : object
        Its argument.
    folder : str
        Where large values go (see :data:`SPILL_BYTES`).

    Returns
    -------
    tuple
        ``fn(item)``, with the values replaced by the file's path when written.
    """
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


def unspill_values(out: tuple) -> tuple:
    """The tuple :func:`spill_values` was given, its values read back (and their file removed)."""
    if isinstance(out[2], Path):
        values = np.load(out[2], allow_pickle=False)
        out[2].unlink(missing_ok=True)
        return out[:2] + (values,) + out[3:]
    return out


class DaskExecutor(Executor):
    """Tasks on a Dask cluster: an existing scheduler (``address``) or a local one (``workers``).

    The workers must see the data files at the paths the manifest names (a shared file system
    or identical copies); only the candidate cells and the small result vectors are shipped.

    Parameters
    ----------
    address : str, optional
        A scheduler's address (e.g. ``tcp://host:8786``).
    workers : int, optional
        Processes of a local cluster, when no address is given (default: one per core).

    Raises
    ------
    SiteselError
        Dask is not installed.
    """

    name = "dask"

    def __init__(self, address: str | None = None, workers: int | None = None):
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            raise SiteselError("Dask is not installed: pip install 'sitesel[dask]' (or dask[distributed])") from None
        self.address = address
        self.dask_workers = workers
        self.client = None
        self._cluster = None
        self._connect()

    def __getstate__(self) -> dict:
        return dict(self.__dict__, client=None, _cluster=None)

    def _connect(self):
        from dask.distributed import Client, LocalCluster

        if self.client is None:
            if self.address:
                self.client = Client(self.address)
            else:
                with main_not_reimported():
                    self._cluster = LocalCluster(n_workers=self.dask_workers or (os.cpu_count() or 1),
                                                 threads_per_worker=1, processes=True, dashboard_address=None)
                self.client = Client(self._cluster)
        return self.client

    def map_unordered(self, fn: Callable, items: list, cells: np.ndarray) -> Iterator:
        from dask.distributed import as_completed as dask_completed

        client = self._connect()
        shared = client.scatter(np.asarray(cells), broadcast=True)
        futures = client.map(fn, items, cells=shared, pure=False)
        for f in dask_completed(futures):
            yield f.result()

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def make_executor(workers: int | None = None, scheduler: str | None = None, dask_workers: int | None = None,
                  work: float = 0.0) -> Executor:
    """The executor for a computation of ``work`` cell-tasks.

    Parameters
    ----------
    workers : int, optional
        Local worker processes (default: one per core).
    scheduler : str, optional
        A Dask scheduler's address: run on Dask.
    dask_workers : int, optional
        Run on a local Dask cluster of this many processes.
    work : float
        Cells times measures: local worker processes only when there are at least
        :data:`MIN_PARALLEL_WORK`, else this process.

    Returns
    -------
    Executor
    """
    if scheduler or dask_workers:
        return DaskExecutor(scheduler, dask_workers)
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if workers > 1 and work >= MIN_PARALLEL_WORK:
        return ProcessExecutor(workers)
    return SerialExecutor()


class AutoExecutor(Executor):
    """The executor chosen for the study's work (see :func:`make_executor`), once, when first needed.

    Until then it runs nothing: :attr:`workers` is 0 and :attr:`pool` None. Closing it stops
    the chosen executor and forgets the choice.

    Parameters
    ----------
    workers : int, optional
        Local worker processes (default: one per core, when worth it).
    scheduler : str, optional
        A Dask scheduler's address.
    dask_workers : int, optional
        Processes of a local Dask cluster.
    """

    def __init__(self, workers: int | None = None, scheduler: str | None = None, dask_workers: int | None = None):
        self.max_workers = workers
        self.scheduler = scheduler
        self.dask_workers = dask_workers
        self.chosen: Executor | None = None

    def __getstate__(self) -> dict:
        return dict(self.__dict__, chosen=None)

    @property
    def on_dask(self) -> bool:
        """Whether tasks will run on Dask."""
        return bool(self.scheduler or self.dask_workers)

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.chosen.name if self.chosen is not None else "serial"

    @property
    def threads(self) -> int:  # type: ignore[override]
        return self.chosen.threads if self.chosen is not None else 1

    @property
    def workers(self) -> int:  # type: ignore[override]
        return self.chosen.workers if self.chosen is not None else 0

    @property
    def in_process(self) -> bool:  # type: ignore[override]
        return self.chosen.in_process if self.chosen is not None else False

    @property
    def pool(self) -> MainSafePool | None:
        return self.chosen.pool if self.chosen is not None else None

    def for_work(self, work: float) -> Executor:
        if self.chosen is None:
            self.chosen = make_executor(self.max_workers, self.scheduler, self.dask_workers, work)
        return self.chosen

    def start(self, work: float) -> None:
        # Dask is left alone: its workers may not share this machine's cache.
        if self.on_dask:
            return
        chosen = self.chosen if self.chosen is not None else make_executor(self.max_workers, None, None, work)
        self.chosen = chosen
        chosen.start(work)

    def local_pool(self) -> MainSafePool | None:
        if self.chosen is None and (self.max_workers or os.cpu_count() or 1) > 1 and not self.on_dask:
            self.chosen = ProcessExecutor(self.max_workers or os.cpu_count() or 1)
        return self.chosen.local_pool() if isinstance(self.chosen, ProcessExecutor) else None

    def warm_up(self) -> None:
        if self.chosen is not None:
            self.chosen.warm_up()

    def map_unordered(self, fn: Callable, items: list, cells: np.ndarray) -> Iterator:
        return self.for_work(0.0).map_unordered(fn, items, cells)

    def close(self) -> None:
        if self.chosen is not None:
            self.chosen.close()
            self.chosen = None
