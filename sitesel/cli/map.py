"""``sitesel map``: re-draw ``map.html`` and ``map.png`` from a finished run directory."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("map", help="re-draw the interactive map (map.html) and picture (map.png) of a run")
    p.add_argument("run_dir", metavar="RUN_DIR", help="output folder of `sitesel rank`")
    p.add_argument("--offline", action="store_true",
                   help="inline all JavaScript and CSS so the map opens without a network (map tiles aside)")
    p.add_argument("--out", help="where to write the HTML map (default RUN_DIR/map.html)")
    p.add_argument("--layers", help="layer manifest for the context layers (default: the one run.json names)")
    p.add_argument("--no-context", action="store_true", help="draw the sites without context layers")
    p.add_argument("--no-png", action="store_true", help="do not redraw map.png")
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from sitesel.output.runs import read_run
    from sitesel.pipeline.products import write_products

    r = read_run(a.run_dir)
    if a.layers:
        r.study(a.layers)
    out = Path(a.out) if a.out else r.path / "map.html"
    written = write_products(r, r.path, exports=(), offline=a.offline, context=not a.no_context,
                             png=not a.no_png, map_path=out)
    print(f"{out}  ({out.stat().st_size / 1e6:.1f} MB{', offline' if a.offline else ''})")
    if "png" in written:
        print(written["png"])
    return 0
