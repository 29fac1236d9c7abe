"""``sitesel profiles [list|show PARK]``: the built-in park types."""
from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    pr = sub.add_parser("profiles", help="list park types, or show one")
    pr.add_argument("action", nargs="?", choices=("list", "show"), default="list")
    pr.add_argument("park", nargs="?", help="park type name or profile .toml file (with 'show')")
    pr.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from ..profiles import list_profiles, load_profile

    if a.action == "list" and not a.park:
        for name in list_profiles():
            p = load_profile(name)
            print(f"{name:20s} {p.title}  (>= {p.min_acres:g} acres)")
        return 0
    p = load_profile(a.park or "")
    print(f"{p.name}: {p.title}\n{p.description}\n")
    print(f"footprint: >= {p.min_acres:g} acres, sites >= {p.separation_km:g} km apart")
    print(f"eligible agencies: {', '.join(p.eligible_agencies)}")
    print("hard constraints:")
    for c in p.constraints:
        print(f"  {c.key:24s} {c.describe()}")
    print("criteria (normalised weight, value function):")
    for c in p.criteria:
        print(f"  {c.key:24s} {p.weights[c.key]:.3f}  {c.measure:20s} {c.function.describe()}")
    return 0
