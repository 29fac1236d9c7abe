"""Speed and memory of sitesel on the real national data, against its peers and the machine's floor.

Run from the repository root (one command, one table):

    python benchmarks/run.py              # everything (about 10-15 minutes on 2 cores)
    python benchmarks/run.py --only 500   # the 500 m rows only (issue 2's targets)

Every row runs in a fresh process with its own empty cache (``cold``) unless it says ``warm``;
peak memory is the largest total resident memory of that process and all its children (worker
processes included), sampled every 0.1 s. Rows:

* ``rank``: ``sitesel rank`` over the lower 48 with every default output, one park type and all;
* ``eligibility``: the same question answered by sitesel and by atlite's ``ExclusionContainer`` /
  ``shape_availability`` (and, on one state, by a plain geopandas vector workflow): federal land of
  the eligible agencies, outside never-eligible land, within 15 km of a >= 230 kV line, slope <= 7 %.
  Both start from the same layers in memory; the eligible area must agree within 1 %;
* ``floor``: one exact Euclidean distance transform over the lower-48 grid, and one pass of
  arithmetic over every criterion raster: what the machine needs at the least.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: The eligibility question shared with atlite and geopandas.
QUESTION = {"park": "semiconductor_fab", "kv": 230.0, "within_km": 15.0, "max_slope_pct": 7.0}


# -- measuring ---------------------------------------------------------------------------------

def _tree_rss(pid: int) -> int:
    import psutil

    try:
        p = psutil.Process(pid)
        procs = [p] + p.children(recursive=True)
    except psutil.Error:
        return 0
    total = 0
    for q in procs:
        try:
            total += q.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_child(args: list[str], env: dict) -> tuple[float, float, dict, str]:
    """Run a child process; returns (wall s, peak GiB of its process tree, its JSON result, stderr)."""
    t = time.perf_counter()
    p = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    peak = 0
    stop = threading.Event()

    def sample():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss(p.pid))
            stop.wait(0.1)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, err = p.communicate()
    wall = time.perf_counter() - t
    stop.set()
    th.join()
    if p.returncode != 0:
        sys.exit(f"{' '.join(args[:6])} ... failed (exit {p.returncode}):\n{err[-3000:]}")
    result = {}
    for line in reversed(out.strip().splitlines()):
        if line.startswith("{"):
            result = json.loads(line)
            break
    return wall, peak / 2**30, result, err


def sitesel_rank(park: str, res: float, out: Path, extra=()) -> list[str]:
    return [sys.executable, "-m", "sitesel", "rank", "--park", park, "--region", "L48", "--resolution", str(res),
            "--quiet", "--out", str(out), *extra]


def case_args(name: str, **kw) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--case", name, "--case-args", json.dumps(kw)]


# -- cases run in a child process --------------------------------------------------------------

def _shared_inputs(region: str, res: float):
    """The layers both tools start from, in memory (EPSG:5070), and sitesel's study."""
    import geopandas as gpd
    import numpy as np
    import shapely

    from sitesel.analysis.profiles import load_profile
    from sitesel.io.manifest import default_manifest_path, load_manifest
    from sitesel.study.core import Study
    from sitesel.study.region import resolve_region

    manifest = load_manifest(default_manifest_path())
    reg = resolve_region(manifest, region, None)
    study = Study.open(manifest, reg, res, use_cache=False, workers=1)
    prof = load_profile(QUESTION["park"])
    fed = study.layer("federal_lands")
    prot = study.layer("protected_areas")
    pol = study.policy
    never = (fed["agency"].isin(pol.never_agencies) | fed["designation"].isin(pol.never_designations)).to_numpy()
    ok = fed["agency"].isin(prof.eligible_agencies).to_numpy() & ~never
    region_geom = reg.geometry
    eligible = gpd.GeoSeries(shapely.intersection(fed.geometry.values[ok], region_geom), crs=study.grid.crs)
    eligible = eligible[~eligible.is_empty]
    bad = prot["agency"].isin(pol.never_agencies) | prot["designation"].isin(pol.never_designations)
    # sitesel rasterises protected areas as drawn; the vector workflow needs them repaired.
    excluded = gpd.GeoSeries(shapely.make_valid(np.concatenate([fed.geometry.values[never],
                                                                prot.geometry.values[bad.to_numpy()]])),
                             crs=study.grid.crs)
    lines = study.layer("transmission_lines")
    lines = lines[lines["voltage_kv"] >= QUESTION["kv"]].geometry
    return study, eligible, excluded, lines


def _sitesel_question(study, eligible, excluded, lines, slope_tif):
    """The question with sitesel's raster tools (centre-in-polygon semantics, as atlite).

    Eligible and excluded land are burnt once over the grid (excluded burnt last, so it wins),
    and so are the lines. The slope is read only where eligible land is left, and the distance
    transform runs tile by tile, only where eligible flat land is left: a tile's transform needs
    only the 15 km around it. The tiles, and then the exact checks of the cells near the 15 km
    threshold, go to one thread per core (OpenCV and GEOS work outside the GIL); atlite's
    ``shape_availability`` computes one shape in one thread.
    """
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    import rasterio
    import shapely

    from sitesel.measures import proximity
    from sitesel.study.grid import Window, burn, tiles, to_pixel_space

    g = study.grid
    within = QUESTION["within_km"]
    h = g.res * np.sqrt(2) / 2 / 1000  # the most a raster distance can be off
    halo = int(np.ceil((within + 2 * h) * 1000 / g.res)) + 1
    whole = Window(0, 0, g.height, g.width)
    land = np.concatenate([to_pixel_space(eligible.values, g), to_pixel_space(excluded.values, g)])
    ok = burn(land, whole, values=np.r_[np.ones(len(eligible)), np.full(len(excluded), 2)]) == 1
    near_line = burn(to_pixel_space(lines.values, g), whole, all_touched=True).view(bool)
    # The same slope raster atlite is given, on this grid: read strip by strip, each only across
    # the columns that hold eligible land.
    with rasterio.open(slope_tif) as ds:
        step = ds.block_shapes[0][0]
        for r in range(0, g.height, step):
            strip = ok[r:r + step]
            cols = np.flatnonzero(strip.any(axis=0))
            if cols.size:
                c0, c1 = int(cols[0]), int(cols[-1]) + 1
                slope = ds.read(1, window=rasterio.windows.Window(c0, r, c1 - c0, strip.shape[0]))
                strip[:, c0:c1] &= slope <= QUESTION["max_slope_pct"]  # NaN (no data) is not flat

    def near(t):
        core, pad = t.core, t.padded
        rows, cols = np.nonzero(ok[core.row:core.row + core.height, core.col:core.col + core.width])
        if not rows.size:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        # The transform runs only where lines within reach of these cells lie (as in the engine).
        d = proximity.capped_distance_at(near_line[pad.row:pad.row + pad.height, pad.col:pad.col + pad.width],
                                         rows + core.row - pad.row, cols + core.col - pad.col, g.res, within + 2 * h,
                                         threads=1)  # one transform per thread
        keep = d <= within + h
        return (rows[keep] + core.row) * g.width + cols[keep] + core.col, d[keep]

    tree = shapely.STRtree(lines.values)

    def far(part):
        """How many of these cells have no line within 15 km, measured exactly from their centres."""
        x, y = g.cell_centers(*np.divmod(part, g.width))
        # "Is any line within 15 km" stops at the first line that is: cheaper than the nearest.
        hits = tree.query(shapely.points(x, y), predicate="dwithin", distance=within * 1000)
        return part.size - np.unique(hits[0]).size

    threads = os.cpu_count() or 1
    with ThreadPoolExecutor(threads) as pool:
        found = list(pool.map(near, tiles(g, 512, halo)))
        cells = np.concatenate([f[0] for f in found])
        d = np.concatenate([f[1] for f in found])
        # A raster distance is within half a cell diagonal of the exact one: cells in that
        # band around the threshold are settled with exact vector distances (GEOS works
        # outside the GIL too).
        band = cells[d > within - h]
        n = cells.size - sum(pool.map(far, np.array_split(band, threads))) if band.size else cells.size
    return n * g.res * g.res / 1e6


def case_question(region: str, res: float, tool: str) -> dict:
    """Time one tool on the shared question; the inputs are loaded before the clock starts."""
    import numpy as np

    study, eligible, excluded, lines = _shared_inputs(region, res)
    # Every tool gets the same slope of every cell, computed before the clock starts; atlite takes
    # it as a raster file, written beforehand too and read by sitesel as well.
    from sitesel.measures.catalogue import MEASURES
    from sitesel.study.grid import Tile, Window

    g = study.grid
    win = Window(0, 0, g.height, g.width)
    slope = MEASURES["slope_pct"].compute(study.inputs, Tile(0, win, win, win.shape), np.arange(g.size))
    slope_tif = None
    if tool in ("atlite", "sitesel"):
        import rasterio

        slope_tif = Path(tempfile.mkdtemp()) / "slope.tif"
        with rasterio.open(slope_tif, "w", driver="GTiff", width=g.width, height=g.height, count=1, dtype="float32",
                           crs=g.crs, transform=g.transform, nodata=np.nan, tiled=True) as ds:
            ds.write(slope.reshape(g.shape), 1)
    t, cpu = time.perf_counter(), time.process_time()
    if tool == "sitesel":
        km2 = _sitesel_question(study, eligible, excluded, lines, slope_tif)
    elif tool == "atlite":
        from atlite.gis import ExclusionContainer, shape_availability

        ex = ExclusionContainer(crs=study.grid.crs, res=res)
        ex.add_geometry(excluded)
        ex.add_geometry(lines, buffer=QUESTION["within_km"] * 1000, invert=True)
        ex.add_raster(str(slope_tif), codes=lambda s: (s > QUESTION["max_slope_pct"]) | np.isnan(s), nodata=-1,
                      crs=study.grid.crs)
        mask, _ = shape_availability(eligible, ex)
        km2 = float(mask.sum()) * res * res / 1e6
    elif tool == "geopandas":
        km2 = _geopandas_question(study, eligible, excluded, lines, slope)
    else:
        raise ValueError(tool)
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    if slope_tif is not None:
        shutil.rmtree(slope_tif.parent, ignore_errors=True)
    return {"seconds": seconds, "cpu_s": cpu, "km2": km2}


def _geopandas_question(study, eligible, excluded, lines, slope) -> float:
    """A straightforward vector workflow: buffer, overlay, and polygonised slope."""
    import geopandas as gpd
    from rasterio import features


    crs = study.grid.crs
    land = gpd.GeoDataFrame(geometry=eligible, crs=crs)
    land = gpd.overlay(land, gpd.GeoDataFrame(geometry=excluded, crs=crs), how="difference")
    reach = gpd.GeoDataFrame(geometry=[lines.buffer(QUESTION["within_km"] * 1000).union_all()], crs=crs)
    land = gpd.overlay(land, reach, how="intersection")
    g = study.grid
    flat = (slope.reshape(g.shape) <= QUESTION["max_slope_pct"]).astype("uint8")
    polys = [geom for geom, v in features.shapes(flat, mask=flat.astype(bool), transform=g.transform) if v == 1]
    import shapely

    flat_gdf = gpd.GeoDataFrame(geometry=[shapely.geometry.shape(p) for p in polys], crs=crs)
    land = gpd.overlay(land, flat_gdf, how="intersection")
    # sjoin_nearest: the nearest line of each eligible piece, as an analyst would report it.
    gpd.sjoin_nearest(land, gpd.GeoDataFrame(geometry=lines.values, crs=crs), max_distance=QUESTION["within_km"] * 1000)
    return float(land.area.sum()) / 1e6


def case_floor(res: float) -> dict:
    """One distance transform over the lower-48 grid and one pass of arithmetic over every
    criterion raster (float32, grid-sized)."""
    import cv2
    import edt
    import numpy as np

    from sitesel.io.manifest import default_manifest_path, load_manifest
    from sitesel.measures import distance
    from sitesel.measures.catalogue import MEASURES
    from sitesel.study.grid import grid_for_bounds
    from sitesel.study.region import DEFAULT_PAD_M, resolve_region

    manifest = load_manifest(default_manifest_path())
    reg = resolve_region(manifest, "L48", None)
    g = grid_for_bounds(reg.geometry.bounds, reg.crs, res, pad_m=DEFAULT_PAD_M)
    rng = np.random.default_rng(0)
    mask = np.ones(g.shape, dtype=bool)
    mask.ravel()[rng.integers(0, g.size, 200_000)] = False
    # The floor is the fastest of three exact transforms of the whole grid, uncapped, each on
    # every core: OpenCV's, the edt package's and sitesel's own (sitesel.measures.distance, which the engine
    # runs capped and at the candidate cells only). Best of two runs each.
    cores = os.cpu_count() or 1
    cv2.setNumThreads(cores)
    background = mask.view(np.uint8)  # OpenCV and edt measure from non-zero cells to the nearest zero one
    features = ~mask
    distance.squared_distances(features[:64, :64], threads=1)  # compiled (or loaded) outside the timing
    times = {}
    for name, fn in (("opencv", lambda: cv2.distanceTransform(background, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)),
                     ("edt", lambda: edt.edtsq(mask, black_border=False, parallel=cores)),
                     ("sitesel", lambda: distance.squared_distances(features, threads=cores))):
        for _ in range(2):
            t = time.perf_counter()
            fn()
            times[name] = min(times.get(name, math.inf), time.perf_counter() - t)
    edt_by = min(times, key=times.get)
    t_edt = times[edt_by]
    n = sum(1 for m in MEASURES.values() if not m.derived)
    acc = np.zeros(g.shape, dtype=np.float32)
    raster = rng.random(g.shape, dtype=np.float32)
    scaled = np.empty_like(raster)
    # A weighted sum, each raster scaled into one reused buffer (no temporary array per raster,
    # which takes half as long again here). Best of two.
    t_pass = math.inf
    for _ in range(2):
        t = time.perf_counter()
        for _ in range(n):
            np.multiply(raster, np.float32(0.05), out=scaled)
            acc += scaled
        t_pass = min(t_pass, time.perf_counter() - t)
    return {"edt_s": t_edt, "edt_by": edt_by, "edt_times": times, "pass_s": t_pass, "rasters": n, "cells": g.size}


CASES = {"question": case_question, "floor": case_floor}


# -- the table ---------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("500", "250", "peers", "floor"), help="run only these rows")
    ap.add_argument("--case", help=argparse.SUPPRESS)
    ap.add_argument("--case-args", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.case:
        print(json.dumps(CASES[a.case](**json.loads(a.case_args))))
        return 0
    # Caches and outputs of the lower 48 at 250 m take several GB: removed when done.
    with tempfile.TemporaryDirectory(prefix="sitesel-bench-") as folder:
        return table(a.only, Path(folder))


def table(only: str | None, tmp: Path) -> int:
    """Run the rows (all, or ``only`` one group) in ``tmp`` and print the table."""
    rows = []
    base_env = dict(os.environ)

    def env(cache: str) -> dict:
        return base_env | {"SITESEL_CACHE": str(tmp / cache)}

    engine = {}  # the first rank row's measures step, for the comparison with the floor

    def rank_row(label, park, res, cache, target_s=None, target_gib=None):
        out = tmp / f"out-{len(rows)}"
        wall, peak, _, _ = run_child(sitesel_rank(park, res, out), env(cache))
        rows.append({"row": label, "wall_s": wall, "peak_gib": peak, "target_s": target_s, "target_gib": target_gib})
        print(f"  {label}: {wall:.1f} s, {peak:.2f} GiB", file=sys.stderr, flush=True)
        if not engine and (out / "run.json").exists():
            rec = json.loads((out / "run.json").read_text())
            step = next(k for k in rec["timings_s"] if k.startswith("measures ("))
            # The engine's time: from its first task's start to its last result. The measures step
            # starts earlier: its tasks go out while the workers still read layers ahead.
            engine.update(label=label, step_s=rec["timings_s"][step],
                          seconds=rec.get("engine", {}).get("compute_s") or rec["timings_s"][step],
                          measures=step[step.index(": ") + 2:-1].split(", "))

    floor = None
    if only in (None, "500"):
        rank_row("rank, one park (semiconductor_fab), L48 500 m, cold", "semiconductor_fab", 500, "c500a", 30)
        rank_row("rank, all 10 parks, L48 500 m, cold", "all", 500, "c500b", 60)
        rank_row("rank, all 10 parks, L48 500 m, warm", "all", 500, "c500b")
    if only in (None, "250"):
        rank_row("rank, one park (semiconductor_fab), L48 250 m, cold", "semiconductor_fab", 250, "c250a")
        rank_row("rank, all 10 parks, L48 250 m, cold", "all", 250, "c250b", 180, 12)
    if only in (None, "peers"):
        for region, res, peer in (("L48", 500, "atlite"), ("NV", 250, "geopandas")):
            got = {}
            for tool in ("sitesel", peer):
                wall, peak, r, _ = run_child(case_args("question", region=region, res=res, tool=tool), env("q"))
                got[tool] = r | {"peak_gib": peak}
                print(f"  question {region} {res} m {tool}: {r['seconds']:.1f} s, {r['km2']:,.0f} km2",
                      file=sys.stderr, flush=True)
            s, p = got["sitesel"], got[peer]
            rows.append({"row": f"eligibility question, {region} {res} m: sitesel", "wall_s": s["seconds"],
                         "peak_gib": s["peak_gib"],
                         "note": f"{s['km2']:,.0f} km2 eligible; CPU {s['cpu_s']:.2f} s"})
            rows.append({"row": f"eligibility question, {region} {res} m: {peer}", "wall_s": p["seconds"],
                         "peak_gib": p["peak_gib"],
                         "note": f"{p['km2']:,.0f} km2 ({100 * (s['km2'] - p['km2']) / p['km2']:+.2f} %); "
                                 f"CPU {p['cpu_s']:.2f} s; sitesel {p['seconds'] / s['seconds']:.1f}x faster"})
    if only in (None, "floor", "500"):
        _, _, floor, _ = run_child(case_args("floor", res=500), env("f"))
        rows.append({"row": f"floor, L48 500 m ({floor['cells'] / 1e6:.0f} M cells): one distance transform",
                     "wall_s": floor["edt_s"],
                     "note": "fastest of " + ", ".join(f"{k} {v:.2f} s" for k, v in floor["edt_times"].items())
                             + f" (each on {os.cpu_count()} threads, best of 2)"})
        rows.append({"row": f"floor, L48 500 m: one pass over {floor['rasters']} criterion rasters",
                     "wall_s": floor["pass_s"]})
        if engine:
            # The floor scaled to the work the engine must do: one distance transform per distance
            # measure of the park type, plus the pass (discs, rasters and slope count as free).
            n_edt = sum(m.startswith("dist_") for m in engine["measures"])
            work = n_edt * floor["edt_s"] + floor["pass_s"]
            one = floor["edt_s"] + floor["pass_s"]
            rows.append({"row": f"engine: measures of '{engine['label']}' ({len(engine['measures'])} measures, "
                                f"{n_edt} distance transforms), first task start to last result",
                         "wall_s": engine["seconds"], "target_s": round(3 * one, 2),
                         "note": f"{engine['seconds'] / one:.1f}x one transform + one pass (target 3x); "
                                 f"{engine['seconds'] / work:.1f}x the floor for {n_edt} transforms + one pass "
                                 f"({work:.1f} s); the whole measures step, from sending the tasks while the "
                                 f"workers read layers ahead, {engine['step_s']:.1f} s"})
    print(f"\nsitesel benchmarks: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}\n")
    print("| row | wall (s) | target (s) | peak memory (GiB) | target (GiB) | note |")
    print("|---|---:|---:|---:|---:|---|")
    for r in rows:
        ts, tg = r.get("target_s"), r.get("target_gib")
        mark_s = "" if ts is None else f"< {ts:g} {'ok' if r['wall_s'] < ts else 'MISSED'}"
        mark_g = "" if tg is None else f"< {tg:g} {'ok' if r['peak_gib'] < tg else 'MISSED'}"
        peak = f"{r['peak_gib']:.2f}" if r.get("peak_gib") is not None else ""
        print(f"| {r['row']} | {r['wall_s']:.2f} | {mark_s} | {peak} | {mark_g} | {r.get('note', '')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
