"""``sitesel rank``: rank sites for one or more park types over a region and write the outputs."""
from __future__ import annotations

import argparse
from pathlib import Path

from .options import bbox_arg  # noqa: F401  (imported from here by cli.data)


def add_parser(sub) -> None:
    from .options import add_profile_options, add_study_options

    r = sub.add_parser("rank", help="rank sites for a park type over a region and write the outputs")
    # Several parks write one subfolder each and share the criterion rasters.
    add_profile_options(r)
    add_study_options(r)
    r.add_argument("--out", required=True, help="output directory")
    r.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from ..progress import Progress
    from .options import open_study_from_args, profiles_from_args

    prog = Progress(quiet=a.quiet)
    profiles = profiles_from_args(a)
    study = open_study_from_args(a, prog)
    with study:
        # Every park's measures in one go: the most parallel work, and each computed once.
        study.prepare(sorted({m for p in profiles for m in p.measures() if _available(study, m)}), a.land)
        for profile in profiles:
            out = Path(a.out) / profile.name if len(profiles) > 1 else Path(a.out)
            rank_one(a, study, profile, out, prog)
    return 0


def _available(study, measure: str) -> bool:
    from ..measures import MEASURES

    return all(study.manifest.has(lyr) for lyr in MEASURES[measure].layers)


def rank_one(a: argparse.Namespace, study, profile, out: Path, prog) -> None:
    from ..mapping import site_map
    from ..outputs import OutputDir, run_record, write_json, write_sites, write_surface
    from ..rank import rank

    t0 = prog.total
    result = rank(study, profile, land=a.land, top=a.top, allow_missing=a.allow_missing)
    if result.profile.dropped:
        w = sum(v for v in result.profile.dropped.values() if v)
        prog.log(f"dropped for missing layers: {', '.join(result.profile.dropped)} ({w:.0%} of the weight)")
    with prog.step("writing outputs"), OutputDir(out) as tmp:
        write_sites(result.sites, tmp)
        write_surface(result, study, tmp)
        title = f"sitesel: {result.profile.title} - {study.region.label} ({len(result.sites)} sites)"
        site_map(result.sites, result.profile, title).save(str(tmp / "map.html"))
        args = {k: v for k, v in vars(a).items() if k != "func"} | {"park": profile.name}
        write_json(run_record(study, result, args, prog.timings | {"total": round(prog.total, 3)}), tmp / "run.json")
    s = result.stats
    print(f"{result.profile.name}: {s['sites']} sites ({s['feasible_acres']:,} feasible of "
          f"{s['eligible_acres']:,} eligible acres) -> {out}  "
          f"[{prog.total - t0:.1f}s]")
    for _, row in result.sites.head(3).iterrows():
        print(f"  #{row['rank']}: {row['score']:.1f}  {row['acres']:.0f} ac  {row['state']} {row['agency']}  "
              f"({row['lon']:.3f}, {row['lat']:.3f})  {row['reasons']}")
