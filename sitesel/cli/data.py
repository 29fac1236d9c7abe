"""``sitesel data``: fetch, list and verify the public layers (see ``docs/data.md``)."""
from __future__ import annotations

import argparse
from pathlib import Path

from sitesel.cli.options import bbox_arg
from sitesel.errors import FetchError


def add_parser(sub) -> None:
    d = sub.add_parser("data", help="download, verify and prepare the public layers")
    dsub = d.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    def common(p):
        p.add_argument("--dir", help="data folder (default: $SITESEL_DATA, else the platform data folder)")
        p.add_argument("--catalog", help="source catalog TOML (default: the one shipped with sitesel)")

    f = dsub.add_parser("fetch", help="download what is missing, verify it, convert it, write DIR/manifest.toml")
    common(f)
    f.add_argument("--layers", help="comma-separated layers (default: every layer in the catalog)")
    f.add_argument("--region", help="clip to these states (AZ,NM) or L48, plus a margin")
    f.add_argument("--bbox", type=bbox_arg, help="clip to west,south,east,north in degrees, plus a margin")
    f.add_argument("--force", action="store_true", help="fetch and prepare again even if present and verified")
    f.add_argument("--retries", type=int, default=5, help="tries per request (default 5)")
    f.add_argument("--quiet", action="store_true", help="no progress output")
    f.set_defaults(func=run_fetch)

    ls = dsub.add_parser("list", help="show which layers are present, their vintage and source")
    common(ls)
    ls.set_defaults(func=run_list)

    v = dsub.add_parser("verify", help="re-check the checksums of the fetched files")
    common(v)
    v.set_defaults(func=run_verify)

    s = dsub.add_parser("sources", help="show the catalog: publisher, licence and address of each source")
    common(s)
    s.set_defaults(func=run_sources)


def _dir(a) -> Path:
    from sitesel.acquire.datadir import default_data_dir

    return Path(a.dir) if a.dir else default_data_dir()


def run_fetch(a: argparse.Namespace) -> int:
    from sitesel.acquire.catalog import load_catalog
    from sitesel.acquire.datadir import Fetcher
    from sitesel.acquire.http import RetryPolicy
    from sitesel.progress import Progress

    if a.retries < 1:
        raise FetchError("--retries must be at least 1")
    catalog = load_catalog(a.catalog)
    layers = [x.strip() for x in a.layers.split(",") if x.strip()] if a.layers else None
    fetcher = Fetcher(catalog, _dir(a), RetryPolicy(attempts=a.retries), Progress(quiet=a.quiet))
    report = fetcher.fetch(layers, region=a.region, bbox=a.bbox, force=a.force)
    print(f"fetched {len(report.fetched)}, up to date {len(report.skipped)}, failed {len(report.failed)}"
          + (f" -> {report.manifest}" if report.manifest else ""))
    if report.failed:
        if len(report.failed) == 1:
            name, msg = next(iter(report.failed.items()))
            raise FetchError(f"{name}: {msg}")
        raise FetchError(f"{len(report.failed)} layers failed ({', '.join(report.failed)}); "
                         "see the messages above; the others are in the manifest")
    return 0


def run_list(a: argparse.Namespace) -> int:
    from sitesel.acquire.catalog import load_catalog
    from sitesel.acquire.datadir import MANIFEST_NAME, listing

    d = _dir(a)
    rows = listing(d, load_catalog(a.catalog))
    cols = ["layer", "status", "region", "features", "size", "fetched", "vintage", "source"]
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols[:-1]}
    print("  ".join(c.ljust(widths.get(c, 0)) for c in cols))
    for r in rows:
        print("  ".join(str(r[c]).ljust(widths.get(c, 0)) for c in cols))
    if (d / MANIFEST_NAME).exists():
        print(f"manifest: {d / MANIFEST_NAME}")
    return 0


def run_verify(a: argparse.Namespace) -> int:
    from sitesel.acquire.datadir import verify

    results = verify(_dir(a))
    for r in results:
        print(f"{'ok ' if r.ok else 'BAD'}  {r.layer:20s} {r.path}" + (f"  ({r.problem})" if r.problem else ""))
    bad = [r for r in results if not r.ok]
    if bad:
        what = ", ".join(f"{r.path} ({r.problem})" for r in bad)
        raise FetchError(f"{len(bad)} file(s) failed verification: {what}; their layers were removed from "
                         "manifest.toml; run `sitesel data fetch` to fetch them again")
    print(f"{len(results)} files verified")
    return 0


def run_sources(a: argparse.Namespace) -> int:
    from sitesel.acquire.catalog import load_catalog

    cat = load_catalog(a.catalog)
    for name in cat.layers:
        for src in cat.sources_of(name):
            mark = "" if src.confirmed else "  [address not confirmed by the publisher: see note]"
            print(f"{name:18s} {src.id}: {src.title}\n{'':18s} {src.publisher}; {src.licence}\n"
                  f"{'':18s} {src.format}: {src.url}{mark}")
    return 0
