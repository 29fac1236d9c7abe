"""``run.json``: the record of a run, everything needed to reproduce and audit it."""
from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np

from sitesel import __version__
from sitesel.io.cache import sha256_file

__all__ = ["engine_record", "json_default", "run_record", "write_json"]


def run_record(study, result, args: dict, timings: dict, checks: dict | None = None,
               outcome: str | None = None) -> dict:
    """Everything needed to reproduce and audit a run.

    Parameters
    ----------
    study : sitesel.study.core.Study
        The study ranked over (region, grid, inputs, layer reports, engine).
    result : sitesel.analysis.ranking.RankResult
        The ranking (profile, land, stats).
    args : dict
        The arguments of the run, recorded as given.
    timings : dict
        Seconds each step took.
    checks : dict, optional
        Warnings and coverage from :mod:`sitesel.study.checks`.
    outcome : str, optional
        Why there are no candidate sites.

    Returns
    -------
    dict
        The contents of ``run.json``.
    """
    # Imported here for their versions alone (folium is otherwise needed only to draw).
    import folium
    import geopandas
    import pyogrio
    import pyproj
    import rasterio as rio
    import scipy
    import shapely

    p = result.profile
    return {
        "sitesel": __version__,
        "park": p.name,
        "profile": {
            "source": p.source,
            "title": p.title,
            "min_acres": p.min_acres,
            "separation_km": p.separation_km,
            "eligible_agencies": list(p.eligible_agencies),
            "land": result.land,
            "constraints": {c.key: c.describe() for c in p.constraints},
            "criteria": {c.key: {"measure": c.measure, "weight": round(p.weights[c.key], 6),
                                 "function": c.function.describe()} for c in p.criteria},
            "dropped_for_missing_layers": p.dropped,
            "dropped_weight": round(sum(v for v in p.dropped.values() if v), 6),
        },
        "region": {"label": study.region.label, "states": study.region.codes, "bbox": study.region.bbox},
        "grid": {"crs": study.grid.crs, "resolution_m": study.grid.res, "width": study.grid.width,
                 "height": study.grid.height, "bounds": study.grid.bounds},
        "stats": result.stats,
        "arguments": args,
        "inputs": [{"path": str(f), "sha256": sha256_file(f), "bytes": f.stat().st_size}
                   for f in study.input_files() if f.is_file()],
        "manifest": str(study.manifest.path),
        "layers": study.layer_reports(),
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
                     "geopandas": geopandas.__version__, "shapely": shapely.__version__,
                     "pyogrio": pyogrio.__version__, "pyproj": pyproj.__version__, "rasterio": rio.__version__,
                     "gdal": rio.__gdal_version__, "folium": folium.__version__},
        "timings_s": timings,
        "measure_cpu_s": {k: round(v, 3) for k, v in sorted(getattr(study, "cpu_seconds", {}).items())},
        "engine": engine_record(study),
    } | ({"input_checks": checks} if checks is not None else {}) | ({"outcome": outcome} if outcome else {})


def engine_record(study) -> dict:
    """How the measures of ``study`` were computed.

    Parameters
    ----------
    study : sitesel.study.core.Study

    Returns
    -------
    dict
        ``executor`` and ``workers`` (None when every measure came from the cache),
        ``tile_size`` and ``task_bytes``.
    """
    return {**(study.engine_used or {"executor": None, "workers": None}),
            "tile_size": study.tile_size, "task_bytes": study.task_bytes}


def write_json(obj: dict, path: Path) -> None:
    """Write ``obj`` as indented JSON (NumPy scalars and paths as plain values).

    Parameters
    ----------
    obj : dict
    path : Path
    """
    path.write_text(json.dumps(obj, indent=2, default=json_default) + "\n")


def json_default(o: object) -> int | float | str:
    """``json.dumps`` ``default``: NumPy integers and floats as numbers, paths as strings.

    Raises
    ------
    TypeError
        For any other type.
    """
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(type(o))
