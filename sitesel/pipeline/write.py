"""Writing one park's run folder: the one writer behind ``sitesel rank --out`` and
``RankResult.to_file(folder)``.

A run folder holds ``sites.geojson``, ``sites.csv``, ``suitability.tif``, ``run.json``,
``map.html``, ``map.png`` and the exports asked for (GeoPackage and GeoParquet by default).
The map, picture and exports are drawn from the files just written, as ``sitesel map`` would.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from sitesel.analysis.ranking import DEFAULT_TOP, Result
from sitesel.defaults import DEFAULT_EXPORTS
from sitesel.errors import render_options
from sitesel.maps.context import context_layers
from sitesel.output.record import run_record, write_json
from sitesel.output.runs import read_run
from sitesel.output.sites import write_sites
from sitesel.output.surface import write_surface
from sitesel.pipeline.products import start_picture, write_products
from sitesel.progress import SILENT, Progress

__all__ = ["RunSettings", "largest_area_acres", "no_sites_reason", "summary", "write_park"]


@dataclass(frozen=True)
class RunSettings:
    """How a rank run ranks and what it writes (plain data, sent to writer processes).

    Attributes
    ----------
    out : Path
        The output folder (one subfolder a park when several are ranked).
    land : {'federal', 'all'}
        Eligible land mode.
    top : int
        Sites a park.
    allow_missing : bool
        Rank without criteria whose layers are missing.
    exports : tuple of str
        Export formats besides GeoJSON and CSV (``gpkg``, ``parquet``, ``kml``).
    offline_map : bool
        Inline the map's JavaScript and CSS.
    overwrite : bool
        Replace an earlier run's folder (swapped in only when complete).
    arguments : dict
        The options recorded in each ``run.json`` (``sitesel map`` reopens the study from them).
    costs : Path, optional
        The site-cost model file (default: the shipped ``data/costs.toml``).
    """

    out: Path
    land: str = "federal"
    top: int = DEFAULT_TOP
    allow_missing: bool = False
    exports: tuple[str, ...] = DEFAULT_EXPORTS
    offline_map: bool = False
    overwrite: bool = False
    arguments: dict = field(default_factory=dict)
    costs: Path | None = None


def write_park(settings: RunSettings, study, result: Result, timings: dict, folder: Path, shown: Path,
               progress: Progress = SILENT, checks: dict | None = None, pool=None,
               extra: dict | None = None) -> str:
    """Write one park's outputs into ``folder`` (inside a staged output folder).

    Parameters
    ----------
    settings : RunSettings
        Exports, map options and the arguments to record.
    study : Study
        The study ranked.
    result : Result
        The ranking.
    timings : dict
        Seconds of the park's own steps (recorded in ``run.json``).
    folder : Path
        Where to write (staged: the output folder appears only when every file is written).
    shown : Path
        The folder's final path, for the summary.
    progress : Progress
        The run's progress (its shared steps' timings are recorded).
    checks : dict, optional
        Input checks (warnings and coverage) to record.
    pool : executor, optional
        Worker processes that draw the picture and the GeoPackage meanwhile.
    extra : dict, optional
        More entries for ``run.json`` (e.g. sensitivity settings).

    Returns
    -------
    str
        The summary to print once the folder is in place (see :func:`summary`).
    """
    t0 = time.perf_counter()
    profile = result.profile
    outcome = no_sites_reason(result, study) if not len(result.sites) else None
    steps: dict[str, float] = {}
    t = time.perf_counter()
    write_sites(result.sites, folder)
    steps["sites.geojson, sites.csv"] = round(time.perf_counter() - t, 3)
    args = dict(settings.arguments) | {"park": profile.name}
    shared = {k: v for k, v in progress.timings.items()
              if k.startswith(("resolving", "checking", "reading", "candidate", "eligible land (", "measures"))}
    record = run_record(study, result, args, shared | timings | {"total": round(progress.total, 3)},
                        checks=checks, outcome=outcome)
    record.update(extra or {})
    write_json(record, folder / "run.json")
    run = read_run(folder).with_study(study)

    # The context layers are clipped in a thread while the surface is written here (GEOS and
    # GDAL work outside the GIL); the picture then starts in a worker with those layers rather
    # than clipping them again, and takes the surface once it is written.
    def clip_then_draw():
        layers = context_layers(study, list(profile.eligible_agencies), result.land)
        return layers, (start_picture(run, folder, pool, context=layers, surface_timeout=300.0)
                        if pool is not None else None)

    clipper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sitesel-context")
    clipped = clipper.submit(clip_then_draw)
    clipper.shutdown(wait=False)
    t = time.perf_counter()
    write_surface(result, study, folder)
    steps["suitability.tif"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    ctx, picture = clipped.result()
    steps["context layers (waited for)"] = round(time.perf_counter() - t, 3)
    write_products(run, folder, list(settings.exports), offline=settings.offline_map, timings=steps, pool=pool,
                   ctx=ctx, picture=picture)
    record["timings_s"]["writing outputs"] = round(time.perf_counter() - t0, 3)
    record["output_timings_s"] = steps
    write_json(record, folder / "run.json")
    return summary(result, study, shown, outcome, timings.get("rank", 0.0), time.perf_counter() - t0)


def summary(result: Result, study, shown: Path, outcome: str | None, rank_s: float, outputs_s: float) -> str:
    """A park's result in a few lines: counts, where it went, and its three best sites."""
    profile, s = result.profile, result.stats
    if outcome:
        return f"{profile.name}: no candidate sites in {study.region.label}: {outcome} (empty outputs in {shown})"
    lines = [f"{profile.name}: {s['sites']} sites ({s['feasible_acres']:,} feasible of "
             f"{s['eligible_acres']:,} eligible acres) -> {shown}  [rank {rank_s:.1f}s, outputs {outputs_s:.1f}s]"]
    for _, row in result.sites.head(3).iterrows():
        lines.append(f"  #{row['rank']}: {row['score']:.1f}  {row['acres']:.0f} ac  {row['state']} {row['agency']}  "
                     f"({row['lon']:.3f}, {row['lat']:.3f})  {row['reasons']}")
        if isinstance(row.get("cost_summary"), str):
            months = row.get("time_to_power_months")
            power = f"; power in ~{months:.0f} months" if isinstance(months, float) and months == months else ""
            lines.append(f"       {row['cost_summary']}{power}")
    return "\n".join(lines)


def no_sites_reason(result: Result, study, style: str = "cli") -> str:
    """Why a ranking found no candidate site, and what to change (options spelt for ``style``)."""
    s, p = result.stats, result.profile
    if not s["eligible_acres"]:
        if result.land == "federal":
            return render_options(f"no eligible federal land ({', '.join(p.eligible_agencies)}) in the region; "
                                  "try a larger region or {opt:land='all'}", style)
        return "no eligible land in the region; try a larger region"
    if not s["feasible_acres"]:
        cons = "; ".join(c.describe() for c in p.constraints)
        return (f"none of the {s['eligible_acres']:,} eligible acres meets the hard constraints ({cons}); "
                "relax them in the profile or try another region")
    largest = largest_area_acres(result.cells, study.grid)
    if largest < p.min_acres:
        return (f"the footprint of {p.min_acres:,.0f} acres is larger than any contiguous feasible area "
                f"(the largest is {largest:,.0f} acres); lower footprint.min_acres or try another region")
    return "no site could be delineated in the feasible areas; try a smaller separation_km or another region"


def largest_area_acres(cells: np.ndarray, grid) -> float:
    """Acres of the largest rook-connected patch of the feasible ``cells`` (as sites grow)."""
    if not cells.size:
        return 0.0
    rows, cols = np.divmod(cells, grid.width)
    r0, c0 = rows.min(), cols.min()
    mask = np.zeros((rows.max() - r0 + 1, cols.max() - c0 + 1), dtype=bool)
    mask[rows - r0, cols - c0] = True
    labels, n = ndimage.label(mask)
    return float(np.bincount(labels.ravel())[1:].max() * grid.cell_acres) if n else 0.0
