"""``sitesel rank``: rank sites for one or more park types over a region and write the outputs."""
from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from sitesel.defaults import DEFAULT_EXPORTS
from sitesel.errors import SiteselError

if TYPE_CHECKING:
    import numpy as np


def add_parser(sub) -> None:
    from sitesel.cli.options import add_profile_options, add_study_options

    r = sub.add_parser("rank", help="rank sites for a park type over a region and write the outputs")
    # Several parks write one subfolder each and share the criterion rasters.
    add_profile_options(r)
    add_study_options(r)
    r.add_argument("--exports", default=",".join(DEFAULT_EXPORTS),
                   help="exports besides sites.geojson and sites.csv: gpkg, parquet, kml, comma-separated, "
                        f"or 'none' (default {','.join(DEFAULT_EXPORTS)})")
    r.add_argument("--offline-map", action="store_true",
                   help="inline the map's JavaScript and CSS so map.html opens without a network (tiles aside)")
    r.add_argument("--out", required=True,
                   help="output directory (written all at once when the run completes; must be new or empty)")
    r.add_argument("--overwrite", action="store_true",
                   help="replace an existing output directory of an earlier run (swapped in only when complete)")
    r.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    r.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from sitesel.output.vector import parse_formats
    from sitesel.output.writers import OutputDir
    from sitesel.study.checks import check_inputs
    from sitesel.progress import Progress
    from sitesel.analysis.ranking import check_layers, required_layers
    from sitesel.cli.options import open_study_from_args, profiles_from_args

    prog = Progress(quiet=a.quiet)
    if a.top < 1:  # noqa: PLR2004
        raise SiteselError(f"--top must be at least 1, not {a.top}")
    a.export_formats = [] if a.exports.strip().lower() == "none" else parse_formats(a.exports)
    outdir = OutputDir(a.out, overwrite=a.overwrite)  # refuse a bad --out before any work
    profiles = profiles_from_args(a)
    if not profiles:
        raise SiteselError("--park names no park type; give one of `sitesel profiles`, a profile .toml, or all")
    names = [p.name for p in profiles]
    if len(set(names)) < len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise SiteselError(f"--park names park type {', '.join(dup)} more than once; give each once")
    study = open_study_from_args(a, prog)
    need: set[str] = set()
    for profile in profiles:
        check_layers(study, profile, a.land, a.allow_missing)  # missing layers fail before the work
        need |= set(required_layers(profile, a.land))
    measures = sorted({m for p in profiles for m in p.measures() if _available(study, m)})
    # Worker processes start, and read every layer the run will use (measures, evidence, map),
    # while this process checks the inputs: on a cold cache that is most of a run's serial part.
    study.start(measures, [n for n in study.manifest.layers if n != "states"], a.land)
    # With worker processes, the measures go to them now, queued behind the layers they read, and
    # a thread here works out the candidate cells while this one checks the inputs (which mostly
    # waits for those same layers). A failed check stops them.
    early = None
    if study.has_workers:
        ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sitesel-measures")
        early = ahead.submit(study.prepare, measures, a.land)
        ahead.shutdown(wait=False)
    try:
        with prog.step("checking inputs"):
            checks = check_inputs(study, need)
    except BaseException:
        study.close()
        raise
    for w in checks.warnings:
        print(f"sitesel: warning: {w}", file=sys.stderr)
    summaries = []
    with study, outdir as tmp:
        if early is not None:
            early.result()
        # Every park's measures in one go: the most parallel work, and each computed once.
        study.prepare(measures, a.land)
        # Outputs of one park are written while the next is ranked: by the worker processes that
        # computed the measures when there are some (maps and pictures are CPU-bound Python),
        # else by a thread.
        pool = study.worker_pool() if len(profiles) > 1 else None
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sitesel-writer") if len(profiles) > 1 else None
        writer = pool or thread or _InPlace()
        ok = False
        try:
            pending = []
            slots = max(1, getattr(study._executor, "workers", 1))
            for profile in profiles:
                # Rank ahead of the writers by at most one park each: results of national runs
                # at fine resolution are large, and waiting writers would hold them all.
                while sum(not f.done() for f in pending) > slots:
                    next(f for f in pending if not f.done()).result()
                folder = tmp / profile.name if len(profiles) > 1 else tmp
                folder.mkdir(exist_ok=True)
                shown = Path(a.out) / profile.name if len(profiles) > 1 else Path(a.out)
                result, timings = rank_park(a, study, profile, prog)
                # One park: its picture is drawn by a worker while this process draws the map.
                extra = (getattr(study._executor, "pool", None),) if isinstance(writer, _InPlace) else ()
                pending.append(writer.submit(write_park, _picklable(a), study, result, timings, folder, shown,
                                             prog, checks.as_dict(), *extra))
            summaries = [f.result() for f in pending]
            ok = True
        finally:
            for f in pending:
                f.cancel()
            if thread is not None:
                # After an error or Ctrl-C the staged folder is dropped: do not wait for the writer.
                thread.shutdown(wait=ok, cancel_futures=True)
    for name, report in study.layer_reports().items():
        if report.get("repaired"):
            prog.log(f"{name}: repaired {report['repaired']} invalid geometries (counted in run.json)")
        if report.get("invalid_rasterised"):
            prog.log(f"{name}: {report['invalid_rasterised']} invalid geometries rasterised as drawn "
                     "(even-odd fill; counted in run.json)")
    for text in summaries:  # only now: the files are in place
        print(text, flush=True)
    return 0


class _InPlace:
    """Runs a "submitted" call at once, in this thread (one park: nothing to overlap)."""

    def submit(self, fn, *args):
        from concurrent.futures import Future

        f: Future = Future()
        f.set_result(fn(*args))
        return f


def _available(study, measure: str) -> bool:
    from sitesel.measures.catalogue import MEASURES

    return all(study.manifest.has(lyr) for lyr in MEASURES[measure].layers)


def _picklable(a: argparse.Namespace) -> argparse.Namespace:
    return argparse.Namespace(**{k: v for k, v in vars(a).items() if k != "func"})


def rank_park(a: argparse.Namespace, study, profile, prog):
    """Rank one park type; returns the result and the time each step took."""
    from sitesel.analysis.ranking import rank

    t0 = prog.total
    before = dict(prog.timings)
    result = rank(study, profile, land=a.land, top=a.top, allow_missing=a.allow_missing)
    if result.profile.dropped:
        w = sum(v for v in result.profile.dropped.values() if v)
        prog.log(f"dropped for missing layers: {', '.join(result.profile.dropped)} ({w:.0%} of the weight)")
    timings = {k: round(v - before.get(k, 0.0), 3) for k, v in prog.timings.items() if v != before.get(k)}
    timings["rank"] = round(prog.total - t0, 3)
    return result, timings


def write_park(a: argparse.Namespace, study, result, timings: dict, folder: Path, shown: Path, prog,
               checks: dict, pool=None) -> str:
    """Write one park's outputs into ``folder`` (inside the staged output directory); returns the
    summary to print once everything is in place."""
    from sitesel.maps.context import context_layers
    from sitesel.output.writers import run_record, start_picture, write_json, write_products, write_sites, write_surface
    from sitesel.output.runs import read_run

    t0 = time.perf_counter()
    profile = result.profile
    outcome = no_sites_reason(result, study) if not len(result.sites) else None
    steps: dict[str, float] = {}
    t = time.perf_counter()
    write_sites(result.sites, folder)
    steps["sites.geojson, sites.csv"] = round(time.perf_counter() - t, 3)
    args = {k: v for k, v in vars(a).items() if k not in ("func", "export_formats")} | {"park": profile.name}
    shared = {k: v for k, v in prog.timings.items()
              if k.startswith(("resolving", "checking", "reading", "candidate", "eligible land (", "measures"))}
    record = run_record(study, result, args, shared | timings | {"total": round(prog.total, 3)},
                        checks=checks, outcome=outcome)
    write_json(record, folder / "run.json")
    # Map, picture and exports are drawn from the files just written, as `sitesel map` would.
    run = read_run(folder).with_study(study)
    # The context layers are clipped in a thread while the surface is written here (GEOS and
    # GDAL work outside the GIL); the picture then starts in a worker with those layers (not
    # clipping them again: ~2.5 CPU-s over the lower 48) and takes the surface once written.
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
    write_products(run, folder, a.export_formats, offline=a.offline_map, timings=steps, pool=pool, ctx=ctx,
                   picture=picture)
    record["timings_s"]["writing outputs"] = round(time.perf_counter() - t0, 3)
    record["output_timings_s"] = steps
    write_json(record, folder / "run.json")
    s = result.stats
    if outcome:
        return (f"{profile.name}: no candidate sites in {study.region.label}: {outcome} "
                f"(empty outputs in {shown})")
    lines = [f"{profile.name}: {s['sites']} sites ({s['feasible_acres']:,} feasible of "
             f"{s['eligible_acres']:,} eligible acres) -> {shown}  "
             f"[rank {timings['rank']:.1f}s, outputs {time.perf_counter() - t0:.1f}s]"]
    for _, row in result.sites.head(3).iterrows():
        lines.append(f"  #{row['rank']}: {row['score']:.1f}  {row['acres']:.0f} ac  {row['state']} {row['agency']}  "
                     f"({row['lon']:.3f}, {row['lat']:.3f})  {row['reasons']}")
    return "\n".join(lines)


def no_sites_reason(result, study) -> str:
    """Why a ranking found no candidate site, and what to change."""
    s, p = result.stats, result.profile
    if not s["eligible_acres"]:
        if result.land == "federal":
            return (f"no eligible federal land ({', '.join(p.eligible_agencies)}) in the region; "
                    "try a larger region or --land all")
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
    import numpy as np
    from scipy import ndimage

    if not cells.size:
        return 0.0
    rows, cols = np.divmod(cells, grid.width)
    r0, c0 = rows.min(), cols.min()
    mask = np.zeros((rows.max() - r0 + 1, cols.max() - c0 + 1), dtype=bool)
    mask[rows - r0, cols - c0] = True
    labels, n = ndimage.label(mask)
    return float(np.bincount(labels.ravel())[1:].max() * grid.cell_acres) if n else 0.0
