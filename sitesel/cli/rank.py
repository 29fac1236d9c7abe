"""``sitesel rank``: rank sites for one or more park types over a region and write the outputs."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

from ..errors import SiteselError


def bbox_arg(text: str) -> tuple[float, float, float, float]:
    """Parse ``west,south,east,north`` in degrees."""
    try:
        vals = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"bbox must be four numbers west,south,east,north, not {text!r}") from None
    if len(vals) != 4 or not all(math.isfinite(v) for v in vals):
        raise argparse.ArgumentTypeError(f"bbox must be four numbers west,south,east,north, not {text!r}")
    return vals  # type: ignore[return-value]


def resolution_arg(text: str) -> float:
    """Parse a cell size in metres (a positive number)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"resolution must be a number of metres, not {text!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"resolution must be a positive number of metres, not {text!r}")
    return v


def add_parser(sub) -> None:
    r = sub.add_parser("rank", help="rank sites for a park type over a region and write the outputs")
    r.add_argument("--park", required=True,
                   help="park type (see `sitesel profiles`), a profile .toml file, several comma-separated, or 'all' "
                        "(several parks write one subfolder each and share the criterion rasters)")
    r.add_argument("--region", help="USPS state codes, comma-separated (AZ,NM), or L48 for the lower 48")
    r.add_argument("--bbox", type=bbox_arg, help="west,south,east,north in degrees")
    r.add_argument("--top", type=int, default=20, help="number of sites (default 20)")
    r.add_argument("--resolution", type=resolution_arg,
                   help="cell size in metres (default 500 nationally, finer for small regions)")
    r.add_argument("--layers", help="layer manifest TOML (default: the national manifest for ../shared/data)")
    r.add_argument("--land", choices=("federal", "all"), default="federal",
                   help="federal: eligible federal land only (default); all: any land except never-eligible federal land")
    r.add_argument("--allow-missing", action="store_true", help="rank without criteria whose layers are missing")
    r.add_argument("--demo", action="store_true", help="use the bundled synthetic demo dataset (no downloads)")
    r.add_argument("--no-cache", action="store_true", help="do not read or write the criterion-raster cache")
    r.add_argument("--quiet", action="store_true", help="no progress output")
    r.add_argument("--out", required=True,
                   help="output directory (written all at once when the run completes; must be new or empty)")
    r.add_argument("--overwrite", action="store_true",
                   help="replace an existing output directory of an earlier run (swapped in only when complete)")
    r.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    r.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from ..manifest import default_manifest_path, load_manifest
    from ..outputs import OutputDir
    from ..preflight import check_inputs
    from ..profiles import list_profiles, load_profile
    from ..progress import Progress
    from ..rank import check_layers, required_layers
    from ..study import Study, resolve_region

    prog = Progress(quiet=a.quiet)
    if a.top < 1:
        raise SiteselError(f"--top must be at least 1, not {a.top}")
    outdir = OutputDir(a.out, overwrite=a.overwrite)  # refuse a bad --out before any work
    parks = list_profiles() if a.park == "all" else [p.strip() for p in a.park.split(",") if p.strip()]
    if not parks:
        raise SiteselError("--park names no park type; give one of `sitesel profiles`, a profile .toml, or all")
    profiles = [load_profile(p) for p in parks]
    names = [p.name for p in profiles]
    if len(set(names)) < len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise SiteselError(f"--park names park type {', '.join(dup)} more than once; give each once")
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
    study = Study.open(manifest, reg, a.resolution, use_cache=not a.no_cache, progress=prog)
    prog.log(f"grid {study.grid.width} x {study.grid.height} cells of {study.grid.res:g} m in {study.grid.crs} "
             f"for {reg.label}")
    with prog.step("checking inputs"):
        need: set[str] = set()
        for profile in profiles:
            check_layers(study, profile, a.land, a.allow_missing)  # missing layers fail before the work
            need |= set(required_layers(profile, a.land))
        checks = check_inputs(study, need)
    for w in checks.warnings:
        print(f"sitesel: warning: {w}", file=sys.stderr)
    summaries = []
    with outdir as tmp:
        for profile in profiles:
            folder = tmp / profile.name if len(profiles) > 1 else tmp
            folder.mkdir(exist_ok=True)
            shown = Path(a.out) / profile.name if len(profiles) > 1 else Path(a.out)
            summaries.append(rank_one(a, study, profile, folder, shown, prog, checks.as_dict()))
    for report in study.layer_reports().items():
        if report[1].get("repaired"):
            prog.log(f"{report[0]}: repaired {report[1]['repaired']} invalid geometries (counted in run.json)")
    for lines in summaries:  # only now: the files are in place
        print("\n".join(lines))
    study.flush(wait=False)  # a detached helper fills the cache after we return
    return 0


def rank_one(a: argparse.Namespace, study, profile, folder: Path, shown: Path, prog, checks: dict) -> list[str]:
    """Rank one park type and write its outputs into ``folder``; returns the summary lines."""
    from ..mapping import site_map
    from ..outputs import run_record, write_json, write_sites, write_surface
    from ..rank import rank

    t0 = prog.total
    result = rank(study, profile, land=a.land, top=a.top, allow_missing=a.allow_missing)
    if result.profile.dropped:
        w = sum(v for v in result.profile.dropped.values() if v)
        prog.log(f"dropped for missing layers: {', '.join(result.profile.dropped)} ({w:.0%} of the weight)")
    outcome = no_sites_reason(result, study) if not len(result.sites) else None
    with prog.step("writing outputs"):
        write_sites(result.sites, folder)
        write_surface(result.score, study, folder)
        title = f"sitesel: {result.profile.title} - {study.region.label} ({len(result.sites)} sites)"
        site_map(result.sites, result.profile, title).save(str(folder / "map.html"))
        args = {k: v for k, v in vars(a).items() if k != "func"} | {"park": profile.name}
        write_json(run_record(study, result, args, prog.timings | {"total": round(prog.total, 3)},
                              checks=checks, outcome=outcome), folder / "run.json")
    s = result.stats
    if outcome:
        return [f"{result.profile.name}: no candidate sites in {study.region.label}: {outcome} "
                f"(empty outputs in {shown})"]
    lines = [f"{result.profile.name}: {s['sites']} sites (from {s['candidate_areas']} candidate areas, "
             f"{s['feasible_acres']:,} feasible of {s['eligible_acres']:,} eligible acres) -> {shown}  "
             f"[{prog.total - t0:.1f}s]"]
    for _, row in result.sites.head(3).iterrows():
        lines.append(f"  #{row['rank']}: {row['score']:.1f}  {row['acres']:.0f} ac  {row['state']} {row['agency']}  "
                     f"({row['lon']:.3f}, {row['lat']:.3f})  {row['reasons']}")
    return lines


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
    largest = largest_area_acres(np.isfinite(result.score), study.grid.cell_acres)
    if largest < p.min_acres:
        return (f"the footprint of {p.min_acres:,.0f} acres is larger than any contiguous feasible area "
                f"(the largest is {largest:,.0f} acres); lower footprint.min_acres or try another region")
    return "no site could be delineated in the feasible areas; try a smaller separation_km or another region"


def largest_area_acres(mask: np.ndarray, cell_acres: float) -> float:
    """Acres of the largest rook-connected patch of ``mask`` (as sites grow)."""
    labels, n = ndimage.label(mask)
    return float(np.bincount(labels.ravel())[1:].max() * cell_acres) if n else 0.0
