"""``sitesel compare RUN_A RUN_B``: sites entering and leaving the top N, rank changes, Kendall's tau."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    from sitesel.defaults import DEFAULT_MIN_OVERLAP

    c = sub.add_parser("compare", help="compare two runs: entries and exits of the top N, rank changes, Kendall's tau",
                       description="Sites of the two runs are the same place when their polygons overlap by at "
                                   "least --min-overlap of the smaller one (matched one-to-one). Writes "
                                   "compare.csv, compare.json and compare_map.html (both runs on one map).")
    c.add_argument("run_a", help="first run folder (from sitesel rank)")
    c.add_argument("run_b", help="second run folder")
    c.add_argument("--top", type=int, help="report entries and exits of the top N (default: the shorter run)")
    c.add_argument("--min-overlap", type=float, default=DEFAULT_MIN_OVERLAP,
                   help=f"share of the smaller site that must overlap to match (default {DEFAULT_MIN_OVERLAP})")
    c.add_argument("--out", help="output folder (default: compare-A-vs-B beside RUN_B)")
    c.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from sitesel.analysis.compare import compare, write_comparison

    c = compare(a.run_a, a.run_b, top=a.top, min_overlap=a.min_overlap)
    print(c.report())
    rb = Path(a.run_b)
    out = (Path(a.out) if a.out
           else rb.resolve().parent / f"compare-{Path(a.run_a).resolve().name}-vs-{rb.resolve().name}")
    write_comparison(c, out)
    print(f"wrote compare.csv, compare.json, compare_map.html -> {out}")
    return 0
