"""``sitesel profiles [list|show PARK]``: the park types, and the effective profile with overrides."""
from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    from sitesel.cli.options import set_arg, weight_arg

    pr = sub.add_parser("profiles", help="list park types, or show the effective profile of one")
    pr.add_argument("action", nargs="?", choices=("list", "show"), default="list")
    pr.add_argument("park", nargs="?", help="park type name or profile .toml file (with 'show')")
    pr.add_argument("--profile", metavar="TOML", help="show your own profile file (it may `extend` a park type)")
    pr.add_argument("--weight", type=weight_arg, action="append", default=[], metavar="CRITERION=W",
                    help="override a weight, as in `sitesel rank`")
    pr.add_argument("--set", type=set_arg, action="append", default=[], metavar="PATH=VALUE", dest="sets",
                    help="override a requirement, as in `sitesel rank`")
    pr.add_argument("--ahp", metavar="TOML", help="weights from an AHP comparison matrix")
    pr.add_argument("--force-ahp", action="store_true", help="accept an AHP matrix with consistency ratio > 0.1")
    pr.add_argument("--toml", action="store_true", help="print the effective profile as TOML (reusable as a profile)")
    pr.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from sitesel.analysis.profiles import list_profiles, load_profile, profile_toml
    from sitesel.cli.options import profiles_from_args
    from sitesel.errors import SiteselError

    if a.action == "list" and not a.park and not a.profile:
        for name in list_profiles():
            p = load_profile(name)
            print(f"{name:20s} {p.title}  (>= {p.min_acres:g} acres)")
        return 0
    if a.park and a.profile:
        raise SiteselError("give a park type or --profile, not both")
    if not a.park and not a.profile:
        raise SiteselError("name a park type to show (see `sitesel profiles`) or give --profile my.toml")
    (p,) = profiles_from_args(argparse.Namespace(park=a.park, profile=a.profile, weight=a.weight, sets=a.sets,
                                                 ahp=a.ahp, force_ahp=a.force_ahp))
    if a.toml:
        print(profile_toml(p), end="")
        return 0
    print(f"{p.name}: {p.title}\n{p.description}\n")
    print(f"source: {p.source}")
    for note in p.notes:
        print(note)
    print(f"footprint: >= {p.min_acres:g} acres, sites >= {p.separation_km:g} km apart")
    print(f"eligible agencies: {', '.join(p.eligible_agencies)}")
    print("hard constraints:")
    for c in p.constraints:
        print(f"  {c.key:24s} {c.describe()}")
    print("criteria (normalised weight, raw weight, measure, value function):")
    for c in p.criteria:
        print(f"  {c.key:24s} {p.weights[c.key]:.3f}  {c.weight:<7g} {c.measure:20s} {c.function.describe()}"
              + (f" missing={c.function.missing:g}" if c.function.missing else ""))
    return 0
