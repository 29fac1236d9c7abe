"""Opening a study from plain options: the one way the command line and the API open one."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sitesel.demo import DEMO_REGION, make_demo
from sitesel.io.cache import cache_root
from sitesel.io.manifest import default_manifest_path, load_manifest
from sitesel.progress import SILENT, Progress
from sitesel.study.core import Study
from sitesel.study.region import resolve_region

__all__ = ["StudyOptions", "open_study"]


@dataclass(frozen=True)
class StudyOptions:
    """Where and how to study: the region, the grid, the layers and how measures are computed.

    Attributes
    ----------
    region : str, optional
        Comma-separated USPS codes (``"AZ,NM"``) or ``"L48"``; or give ``bbox``.
    bbox : tuple, optional
        ``(west, south, east, north)`` in degrees.
    resolution : float, optional
        Cell size in metres (default: 500 m nationally, finer for small regions).
    layers : path, optional
        Layer manifest (default: the shipped national manifest).
    demo : bool
        Use the synthetic demo dataset that sitesel generates (region ``XX`` unless given).
    use_cache : bool
        Read and write the on-disk caches of layers and measures.
    workers, scheduler, dask_workers, tile_size, memory_gib
        Local worker processes, a Dask scheduler address, a local Dask cluster size, the tile
        size in cells and the memory the run may use (GiB); see :meth:`Study.open`.
    """

    region: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    resolution: float | None = None
    layers: str | Path | None = None
    demo: bool = False
    use_cache: bool = True
    workers: int | None = None
    scheduler: str | None = None
    dask_workers: int | None = None
    tile_size: int | None = None
    memory_gib: float | None = None


def open_study(options: StudyOptions, progress: Progress = SILENT) -> Study:
    """Open the study that ``options`` describe.

    Parameters
    ----------
    options : StudyOptions
        Region, grid, layers and engine settings.
    progress : Progress
        Receives a line per step.

    Returns
    -------
    Study
        Close it (or use it as a context manager) to stop its worker processes.
    """
    region = options.region
    if options.demo:
        manifest_path = make_demo(cache_root() / "demo")
        region = region or (None if options.bbox else DEMO_REGION)
    else:
        manifest_path = Path(options.layers) if options.layers else default_manifest_path()
    manifest = load_manifest(manifest_path)
    with progress.step("resolving region"):
        reg = resolve_region(manifest, region, options.bbox)
    study = Study.open(manifest, reg, options.resolution, use_cache=options.use_cache, progress=progress,
                       workers=options.workers if options.scheduler is None else None, scheduler=options.scheduler,
                       dask_workers=options.dask_workers, tile_size=options.tile_size, memory_gib=options.memory_gib)
    g = study.grid
    progress.log(f"grid {g.width} x {g.height} cells of {g.res:g} m in {g.crs} for {reg.label}")
    return study
