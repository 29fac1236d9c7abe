"""Speed and memory of `sitesel rank` on the real national data, printed as one table.

Run from the repository root:  python benchmarks/run.py  [--resolution 500] [--region L48]

Each case runs in a fresh process (so peak memory is that case's own) with its own empty cache
directory for cold starts; "warm" reuses the cache a cold case filled.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import resource, sys
from sitesel.cli import main
rc = main(sys.argv[1:])
print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(rc)
"""

#: Targets from the issues: (case, seconds, GiB) - None where no target is set.
TARGETS = {"one park, cold": 30.0, "all parks, cold": 60.0}


def run_case(label: str, park: str, region: str, res: float, cache: Path, out: Path) -> dict:
    env = dict(os.environ, SITESEL_CACHE=str(cache))
    argv = [sys.executable, "-c", CHILD, "rank", "--park", park, "--region", region, "--resolution", str(res),
            "--quiet", "--out", str(out)]
    t = time.perf_counter()
    p = subprocess.run(argv, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"{label} failed:\n{p.stderr}")
    rss = next(int(line.split()[1]) for line in p.stderr.splitlines() if line.startswith("MAXRSS_KB"))
    runs = sorted(out.rglob("run.json"))
    sites = sum(json.loads(r.read_text())["stats"]["sites"] for r in runs)
    return {"case": label, "park": park, "wall_s": wall, "peak_gib": rss / 2**20, "sites": sites, "outputs": len(runs)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--region", default="L48")
    ap.add_argument("--resolution", type=float, default=500.0)
    ap.add_argument("--park", default="semiconductor_fab")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="sitesel-bench-") as tmp:
        tmp = Path(tmp)
        rows.append(run_case("one park, cold", a.park, a.region, a.resolution, tmp / "c1", tmp / "o1"))
        rows.append(run_case("one park, warm", a.park, a.region, a.resolution, tmp / "c1", tmp / "o2"))
        rows.append(run_case("all parks, cold", "all", a.region, a.resolution, tmp / "c3", tmp / "o3"))
        rows.append(run_case("all parks, warm", "all", a.region, a.resolution, tmp / "c3", tmp / "o4"))
    print(f"\nsitesel rank, region {a.region}, {a.resolution:g} m, {os.cpu_count()} cores\n")
    print("| case | park | wall (s) | target (s) | peak memory (GiB) | sites written | run dirs |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        tgt = TARGETS.get(r["case"])
        mark = "" if tgt is None else (f"< {tgt:g} ok" if r["wall_s"] < tgt else f"< {tgt:g} MISSED")
        print(f"| {r['case']} | {r['park']} | {r['wall_s']:.1f} | {mark} | {r['peak_gib']:.2f} | {r['sites']} | {r['outputs']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
