"""Options shared by subcommands: which profile, with which overrides (``--weight``, ``--set``,
``--profile``, ``--ahp``)."""
from __future__ import annotations

import argparse
import math

from sitesel.errors import SiteselError


def weight_arg(text: str) -> tuple[str, float]:
    """Parse ``CRITERION=WEIGHT``."""
    key, sep, value = text.partition("=")
    try:
        if not sep or not key.strip():
            raise ValueError
        return key.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected CRITERION=WEIGHT (e.g. water_stress=0.3), got {text!r}") from None


def set_arg(text: str) -> str:
    if "=" not in text or not text.partition("=")[0].strip():
        raise argparse.ArgumentTypeError(f"expected PATH=VALUE (e.g. constraints.slope.max=5 or max_slope_pct=5), "
                                         f"got {text!r}")
    return text


def add_profile_options(p: argparse.ArgumentParser, park_required: bool = False) -> None:
    """``--park``, ``--profile``, ``--weight``, ``--set``, ``--ahp`` and ``--force-ahp``."""
    p.add_argument("--park", required=park_required,
                   help="park type (see `sitesel profiles`), a profile .toml file, several comma-separated, or 'all'")
    p.add_argument("--profile", metavar="TOML",
                   help="your own profile file (it may `extend` a park type; see docs/schema.md); instead of --park")
    p.add_argument("--weight", type=weight_arg, action="append", default=[], metavar="CRITERION=W",
                   help="override a criterion's weight (repeatable; weights are normalised to sum 1)")
    p.add_argument("--set", type=set_arg, action="append", default=[], metavar="PATH=VALUE", dest="sets",
                   help="override a requirement (repeatable): a dotted path such as constraints.slope.max=5, "
                        "footprint.min_acres=1000, criteria.workforce.midpoint=300000, or max_MEASURE=V / "
                        "min_MEASURE=V for every hard constraint on a measure (e.g. max_slope_pct=5)")
    p.add_argument("--ahp", metavar="TOML",
                   help="take the weights from an AHP pairwise comparison matrix ([ahp] table)")
    p.add_argument("--force-ahp", action="store_true", help="accept an AHP matrix whose consistency ratio exceeds 0.1")


def park_names(a: argparse.Namespace) -> list[str]:
    """The park types or profile files the options name."""
    from sitesel.analysis.profiles import list_profiles

    if a.profile and a.park:
        raise SiteselError("give --park or --profile, not both")
    if a.profile:
        return [a.profile]
    if not a.park:
        raise SiteselError("give --park PARK (see `sitesel profiles`) or --profile my.toml")
    return list_profiles() if a.park == "all" else [p for p in a.park.split(",") if p]


def profiles_from_args(a: argparse.Namespace) -> list:
    """Every requested profile with the overrides applied (validated)."""
    from sitesel.analysis.ahp import load_ahp
    from sitesel.analysis.profiles import resolve_profile

    ahp = load_ahp(a.ahp) if getattr(a, "ahp", None) else None
    weights = dict(getattr(a, "weight", []) or [])
    return [resolve_profile(p, weights or None, list(getattr(a, "sets", []) or []), ahp, getattr(a, "force_ahp", False))
            for p in park_names(a)]


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


def add_study_options(r: argparse.ArgumentParser) -> None:
    """Region, grid, layers, land and how measures are computed."""
    r.add_argument("--region", help="USPS state codes, comma-separated (AZ,NM), or L48 for the lower 48")
    r.add_argument("--bbox", type=bbox_arg, help="west,south,east,north in degrees")
    r.add_argument("--top", type=int, default=20, help="number of sites (default 20)")
    r.add_argument("--resolution", type=resolution_arg,
                   help="cell size in metres (default 500 nationally, finer for small regions)")
    r.add_argument("--layers", help="layer manifest TOML (default: the national manifest for ../shared/data)")
    r.add_argument("--land", choices=("federal", "all"), default="federal",
                   help="federal: eligible federal land only (default); "
                        "all: any land except never-eligible federal land")
    r.add_argument("--allow-missing", action="store_true", help="rank without criteria whose layers are missing")
    r.add_argument("--demo", action="store_true", help="use the bundled synthetic demo dataset (no downloads)")
    r.add_argument("--no-cache", action="store_true", help="do not read or write the on-disk caches")
    r.add_argument("--quiet", action="store_true", help="no progress output")
    r.add_argument("--workers", type=int, help="local worker processes for the measures (default: one per core)")
    r.add_argument("--scheduler", help="run the measures on this Dask scheduler (address, e.g. tcp://host:8786)")
    r.add_argument("--dask-workers", type=int, help="run the measures on a local Dask cluster of N processes")
    r.add_argument("--tile-size", type=int, help="compute measures in tiles of N x N cells (default: automatic)")
    r.add_argument("--memory", type=float,
                   help="GiB the run may use (default: most of this machine's memory); bigger grids are tiled")


def study_options(a: argparse.Namespace):
    """The :class:`~sitesel.pipeline.study.StudyOptions` the command-line options describe."""
    from sitesel.pipeline.study import StudyOptions

    return StudyOptions(region=a.region, bbox=a.bbox, resolution=a.resolution, layers=a.layers, demo=a.demo,
                        use_cache=not a.no_cache, workers=a.workers, scheduler=a.scheduler,
                        dask_workers=a.dask_workers, tile_size=a.tile_size, memory_gib=getattr(a, "memory", None))


def open_study_from_args(a: argparse.Namespace, prog):
    """The study the options describe (the demo region with ``--demo``)."""
    from sitesel.pipeline.study import open_study

    return open_study(study_options(a), prog)
