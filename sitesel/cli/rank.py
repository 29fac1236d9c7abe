"""``sitesel rank``: rank sites for one or more park types over a region and write the outputs
(:func:`sitesel.pipeline.rank.rank_parks`)."""
from __future__ import annotations

import argparse
from pathlib import Path

from sitesel.defaults import DEFAULT_EXPORTS


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
    r.add_argument("--costs", metavar="FILE",
                   help="site-cost model: unit costs and lead times (default: the shipped data/costs.toml; "
                        "see docs/costs.md)")
    r.add_argument("--out", required=True,
                   help="output directory (written all at once when the run completes; must be new or empty)")
    r.add_argument("--overwrite", action="store_true",
                   help="replace an existing output directory of an earlier run (swapped in only when complete)")
    r.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    r.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from sitesel.cli.options import profiles_from_args, study_options
    from sitesel.output.vector import parse_formats
    from sitesel.pipeline.rank import rank_parks
    from sitesel.pipeline.write import RunSettings
    from sitesel.progress import Progress

    exports = () if a.exports.strip().lower() == "none" else tuple(parse_formats(a.exports))
    arguments = {k: v for k, v in vars(a).items() if k != "func"}
    settings = RunSettings(out=Path(a.out), land=a.land, top=a.top, allow_missing=a.allow_missing, exports=exports,
                           offline_map=a.offline_map, overwrite=a.overwrite, arguments=arguments,
                           costs=Path(a.costs) if a.costs else None)
    for text in rank_parks(study_options(a), profiles_from_args(a), settings, Progress(quiet=a.quiet)):
        print(text, flush=True)
    return 0
