"""Progress reporting for long steps, written to stderr so stdout stays clean for data."""
from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["SILENT", "Progress"]


class Progress:
    """Print one line per step with its elapsed time, and remember the timings for run.json.

    Parameters
    ----------
    quiet : bool
        Record timings without printing.
    """

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.timings: dict[str, float] = {}
        self._t0 = time.perf_counter()

    def log(self, message: str) -> None:
        """Print ``message`` with the time since the start (unless quiet)."""
        if not self.quiet:
            print(f"[{time.perf_counter() - self._t0:6.1f}s] {message}", file=sys.stderr, flush=True)

    def warn(self, message: str) -> None:
        """Print a warning, quiet or not: something the user should know about the results."""
        print(f"sitesel: warning: {message}", file=sys.stderr, flush=True)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the block as step ``name`` (printed when it starts, added to :attr:`timings`)."""
        self.log(f"{name} ...")
        t = time.perf_counter()
        yield
        dt = time.perf_counter() - t
        self.timings[name] = self.timings.get(name, 0.0) + round(dt, 3)

    def bar(self, total: int, desc: str):
        """A progress bar over ``total`` items on an interactive terminal; otherwise silent."""
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit="task", leave=False, file=sys.stderr,
                    disable=self.quiet or not sys.stderr.isatty())

    @property
    def total(self) -> float:
        """Seconds since this progress was made."""
        return time.perf_counter() - self._t0


SILENT = Progress(quiet=True)
