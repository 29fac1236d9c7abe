"""``sitesel rank``: rank sites for one or more park types over a region and write the outputs."""
from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import SiteselError
from ..outputs import DEFAULT_EXPORTS


def bbox_arg(text: str) -> tuple[float, float, float, float]:
    """Parse ``west,south,east,north`` in degrees."""
    try:
        vals = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"bbox must be four numbers west,south,east,north, not {text!r}") from None
    if len(vals) != 4:
        raise argparse.ArgumentTypeError(f"bbox must be four numbers west,south,east,north, not {text!r}")
    return vals  # type: ignore[return-value]


def add_parser(sub) -> None:
    r = sub.add_parser("rank", help="rank sites for a park type over a region and write the outputs")
    r.add_argument("--park", required=True,
                   help="park type (see `sitesel profiles`), a profile .toml file, several comma-separated, or 'all' "
                        "(several parks write one subfolder each and share the criterion rasters)")
    r.add_argument("--region", help="USPS state codes, comma-separated (AZ,NM), or L48 for the lower 48")
    r.add_argument("--bbox", type=bbox_arg, help="west,south,east,north in degrees")
    r.add_argument("--top", type=int, default=20, help="number of sites (default 20)")
    r.add_argument("--resolution", type=float, help="cell size in metres (default 500 nationally, finer for small regions)")
    r.add_argument("--layers", help="layer manifest TOML (default: the national manifest for ../shared/data)")
    r.add_argument("--land", choices=("federal", "all"), default="federal",
                   help="federal: eligible federal land only (default); all: any land except never-eligible federal land")
    r.add_argument("--allow-missing", action="store_true", help="rank without criteria whose layers are missing")
    r.add_argument("--demo", action="store_true", help="use the bundled synthetic demo dataset (no downloads)")
    r.add_argument("--no-cache", action="store_true", help="do not read or write the criterion-raster cache")
    r.add_argument("--exports", default=",".join(DEFAULT_EXPORTS),
                   help="exports besides sites.geojson and sites.csv: gpkg, parquet, kml, comma-separated, "
                        f"or 'none' (default {','.join(DEFAULT_EXPORTS)})")
    r.add_argument("--offline-map", action="store_true",
                   help="inline the map's JavaScript and CSS so map.html opens without a network (tiles aside)")
    r.add_argument("--quiet", action="store_true", help="no progress output")
    r.add_argument("--workers", type=int, help="local worker processes for the measures (default: one per core)")
    r.add_argument("--scheduler", help="run the measures on this Dask scheduler (address, e.g. tcp://host:8786)")
    r.add_argument("--dask-workers", type=int, help="run the measures on a local Dask cluster of N processes")
    r.add_argument("--tile-size", type=int, help="compute measures in tiles of N x N cells (default: automatic)")
    r.add_argument("--out", required=True, help="output directory")
    r.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from ..manifest import default_manifest_path, load_manifest
    from ..profiles import list_profiles, load_profile
    from ..progress import Progress
    from ..study import Study, resolve_region

    prog = Progress(quiet=a.quiet)
    if a.top < 1:
        raise SiteselError("--top must be at least 1")
    from ..export import parse_formats

    a.export_formats = [] if a.exports.strip().lower() == "none" else parse_formats(a.exports)
    parks = list_profiles() if a.park == "all" else [p for p in a.park.split(",") if p]
    profiles = [load_profile(p) for p in parks]
    if a.demo:
        from ..demo import DEMO_REGION, make_demo
        from ..study import cache_root

        manifest_path = make_demo(cache_root() / "demo")
        region = a.region or (None if a.bbox else DEMO_REGION)
    else:
        manifest_path = Path(a.layers) if a.layers else default_manifest_path()
        region = a.region
    manifest = load_manifest(manifest_path)
    with prog.step("resolving region"):
        reg = resolve_region(manifest, region, a.bbox)
    study = Study.open(manifest, reg, a.resolution, use_cache=not a.no_cache, progress=prog,
                       workers=a.workers if a.scheduler is None else None, scheduler=a.scheduler,
                       dask_workers=a.dask_workers, tile_size=a.tile_size)
    prog.log(f"grid {study.grid.width} x {study.grid.height} cells of {study.grid.res:g} m in {study.grid.crs} "
             f"for {reg.label}")
    with study:
        # Every park's measures in one go: the most parallel work, and each computed once.
        study.prepare(sorted({m for p in profiles for m in p.measures() if _available(study, m)}), a.land)
        # Outputs of one park are written while the next is ranked: by the worker processes
        # that computed the measures when there are some (maps and pictures are CPU-bound
        # Python), else by a thread.
        pool = getattr(study._executor, "pool", None) if len(profiles) > 1 else None
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sitesel-writer")
        try:
            pending = []
            for profile in profiles:
                out = Path(a.out) / profile.name if len(profiles) > 1 else Path(a.out)
                result, timings = rank_park(a, study, profile, prog)
                writer = pool if pool is not None else thread
                pending.append(writer.submit(write_park, _picklable(a), study, result, timings, out, prog))
                while pending and pending[0].done():
                    print(pending.pop(0).result(), flush=True)
            for f in pending:
                print(f.result(), flush=True)
        finally:
            thread.shutdown(wait=True, cancel_futures=True)
    return 0


def _picklable(a: argparse.Namespace) -> argparse.Namespace:
    return argparse.Namespace(**{k: v for k, v in vars(a).items() if k != "func"})


def _available(study, measure: str) -> bool:
    from ..measures import MEASURES

    return all(study.manifest.has(lyr) for lyr in MEASURES[measure].layers)


def rank_park(a: argparse.Namespace, study, profile, prog):
    """Rank one park type; returns the result and the time each step took."""
    from ..rank import rank

    t0 = prog.total
    before = dict(prog.timings)
    result = rank(study, profile, land=a.land, top=a.top, allow_missing=a.allow_missing)
    if result.profile.dropped:
        w = sum(v for v in result.profile.dropped.values() if v)
        prog.log(f"dropped for missing layers: {', '.join(result.profile.dropped)} ({w:.0%} of the weight)")
    timings = {k: round(v - before.get(k, 0.0), 3) for k, v in prog.timings.items() if v != before.get(k)}
    timings["rank"] = round(prog.total - t0, 3)
    return result, timings


def write_park(a: argparse.Namespace, study, result, timings: dict, out: Path, prog) -> str:
    """Write one park's outputs into ``out`` (staged, moved into place when complete); returns
    the summary lines to print."""
    from ..outputs import OutputDir, run_record, write_json, write_products, write_sites, write_surface
    from ..rundir import read_run

    t0 = time.perf_counter()
    profile = result.profile
    steps: dict[str, float] = {}
    with OutputDir(out) as tmp:
        t = time.perf_counter()
        write_sites(result.sites, tmp)
        steps["sites.geojson, sites.csv"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        write_surface(result, study, tmp)
        steps["suitability.tif"] = round(time.perf_counter() - t, 3)
        args = {k: v for k, v in vars(a).items() if k not in ("func", "export_formats")} | {"park": profile.name}
        shared = {k: v for k, v in prog.timings.items() if k.startswith(("resolving", "reading", "candidate",
                                                                          "eligible land (", "measures"))}
        record = run_record(study, result, args, shared | timings | {"total": round(prog.total, 3)})
        write_json(record, tmp / "run.json")
        # Map, picture and exports are drawn from the files just written, as `sitesel map` would.
        run = read_run(tmp).with_study(study)
        write_products(run, tmp, a.export_formats, offline=a.offline_map, timings=steps)
        record["timings_s"]["writing outputs"] = round(time.perf_counter() - t0, 3)
        record["output_timings_s"] = steps
        write_json(record, tmp / "run.json")
    s = result.stats
    lines = [f"{profile.name}: {s['sites']} sites ({s['feasible_acres']:,} feasible of "
             f"{s['eligible_acres']:,} eligible acres) -> {out}  "
             f"[rank {timings['rank']:.1f}s, outputs {time.perf_counter() - t0:.1f}s]"]
    for _, row in result.sites.head(3).iterrows():
        lines.append(f"  #{row['rank']}: {row['score']:.1f}  {row['acres']:.0f} ac  {row['state']} {row['agency']}  "
                     f"({row['lon']:.3f}, {row['lat']:.3f})  {row['reasons']}")
    if not len(result.sites):
        lines.append("  no candidate sites: no eligible land in the region passes every hard constraint "
                     "with room for the footprint")
    return "\n".join(lines)
