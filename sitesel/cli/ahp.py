"""``sitesel ahp FILE``: weights and consistency ratio of an AHP pairwise comparison matrix."""
from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser("ahp", help="weights from an AHP pairwise comparison matrix, with its consistency ratio",
                       description="Reads an [ahp] table (criteria, matrix) from a TOML file and prints the "
                                   "principal-eigenvector weights and Saaty's consistency ratio. Use the file "
                                   "with `sitesel rank --ahp FILE`.")
    p.add_argument("file", help="TOML file with an [ahp] table")
    p.add_argument("--force", action="store_true", help="print the weights even if the consistency ratio exceeds 0.1")
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from sitesel.analysis.ahp import ahp_from_table, load_ahp

    res = ahp_from_table(load_ahp(a.file), force=a.force)
    print(res.describe() + ("  (above 0.1: forced)" if res.cr > 0.1 else ""))
    for k, w in res.as_dict().items():
        print(f"  {k:24s} {w:.4f}")
    return 0
