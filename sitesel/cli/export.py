"""``sitesel export``: write a finished run's sites as GeoJSON, GeoPackage, GeoParquet, CSV or KML."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="export a run's sites (geojson, gpkg, parquet, csv, kml)")
    p.add_argument("run_dir", metavar="RUN_DIR", help="output folder of `sitesel rank`")
    p.add_argument("--format", required=True,
                   help="geojson, gpkg, parquet, csv or kml; several comma-separated")
    p.add_argument("--out", help="output file (one format) or folder (default RUN_DIR/sites.<ext>)")
    p.add_argument("--layers", help="layer manifest for the GeoPackage's context layers (default: run.json's)")
    p.add_argument("--no-context", action="store_true", help="GeoPackage with the sites only")
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from sitesel.errors import SiteselError
    from sitesel.output.runs import read_run
    from sitesel.output.vector import FORMATS, parse_formats
    from sitesel.pipeline.products import export_run

    fmts = parse_formats(a.format)
    r = read_run(a.run_dir)
    out = Path(a.out) if a.out else None
    if out is not None and len(fmts) > 1 and out.suffix:
        raise SiteselError("--out must be a folder when several formats are given")
    for fmt in fmts:
        target = None
        if out is not None:
            target = out / FORMATS[fmt] if (len(fmts) > 1 or out.is_dir() or not out.suffix) else out
            target.parent.mkdir(parents=True, exist_ok=True)
        path = export_run(r, fmt, target, context=not a.no_context, layers=a.layers)
        print(path)
    return 0
