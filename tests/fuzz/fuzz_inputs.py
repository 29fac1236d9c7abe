"""Fuzz the layer loaders and the profile and manifest parsers with mutated real inputs.

Targets (each a function of bytes or of a TOML document):

- ``gpkg``: a copy of the published Natural Earth ports GeoPackage, bytes flipped, zeroed,
  inserted, deleted, copied or truncated, read with :func:`sitesel.io.layers.read_vector`;
- ``geojson``: PAD-US Nevada units (real features), mutated likewise;
- ``shapefile``: HIFLD substations around New Mexico as .shp/.shx/.dbf/.prj (one part mutated),
  and zipped;
- ``tiff``: a tiled, compressed window of the gridMET DEM, read with ``raster_info`` and
  ``read_raster``;
- ``profile_doc``: random TOML structures, alone and grafted into the built-in profiles
  (``parse_profile``); ``profile_text``: mutated profile TOML files (``load_profile``);
- ``manifest_text``: mutated copies of the national layer manifest (``load_manifest``).

Every input must either load or raise a :class:`sitesel.errors.SiteselError`; anything else
(another exception, a hang, a crashed process) is recorded with the input that caused it.

Run (not part of the test suite; ``tests/test_fuzz_smoke.py`` runs a few inputs of each)::

    nice -n 10 python tests/fuzz/fuzz_inputs.py --minutes 12 --out /tmp/sitesel-fuzz

A supervisor process runs the fuzzing in a worker process, restarts it after a crash or a hang,
and prints the number of inputs tried per target.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
PROFILES = Path(__file__).resolve().parents[2] / "data" / "profiles"
MANIFEST = Path(__file__).resolve().parents[2] / "data" / "manifests" / "national.toml"
NM_BOX = (-109.5, 31.0, -102.5, 37.5)


# ------------------------------------------------------------------------------ seed files
def make_seeds(folder: Path) -> dict[str, Path]:
    """Real inputs to mutate: copies of published files, or real features cut to a small area."""
    import geopandas as gpd
    import rasterio
    from rasterio.windows import Window

    folder.mkdir(parents=True, exist_ok=True)
    seeds = {"gpkg": folder / "ports.gpkg"}
    shutil.copy(SHARED / "transport/ne_10m_ports_us.gpkg", seeds["gpkg"])
    padus = gpd.read_file(SHARED / "federal_lands/padus_park_units/PADUS3_0Fee_StateNV.geojson", engine="pyogrio")
    seeds["geojson"] = folder / "padus_nv.geojson"
    padus[["NAME", "MANNAME", "geometry"]].head(25).to_file(seeds["geojson"], driver="GeoJSON", engine="pyogrio")
    subs = gpd.read_file(SHARED / "grid/substations_hifld.gpkg", layer="substations_conus", bbox=NM_BOX,
                         engine="pyogrio")[["max_volt_kv_best", "name", "geometry"]].head(300)
    shp_dir = folder / "subs"
    shp_dir.mkdir(exist_ok=True)
    subs.to_file(shp_dir / "subs.shp", engine="pyogrio")
    seeds["shapefile"] = shp_dir
    with rasterio.open(SHARED / "rasters/conus_dem_gridmet_4km_epsg5070.tif") as ds:
        win = Window(300, 350, 96, 96)  # New Mexico
        prof = ds.profile | {"width": 96, "height": 96, "transform": ds.window_transform(win),
                             "blockxsize": 32, "blockysize": 32, "tiled": True}
        seeds["tiff"] = folder / "dem.tif"
        with rasterio.open(seeds["tiff"], "w", **prof) as out:
            out.write(ds.read(1, window=win), 1)
    return seeds


# ------------------------------------------------------------------------------ mutations
# Hypothesis favours 0 and small numbers; scramble them (Knuth's multiplicative hash) so that
# damage lands all over a file, not mostly in its header.
position = st.integers(0, 2**32 - 1).map(lambda k: ((k * 2654435761) % 2**32) / 2**32)
mutation = st.one_of(
    st.tuples(st.just("set"), position, st.integers(0, 255)),
    st.tuples(st.just("flip"), position, st.integers(0, 7)),
    st.tuples(st.just("zero"), position, st.integers(1, 4096)),
    st.tuples(st.just("insert"), position, st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("delete"), position, st.integers(1, 512)),
    st.tuples(st.just("copy"), position, position, st.integers(1, 1024)),
    st.tuples(st.just("truncate"), position),
    st.tuples(st.just("interesting"), position, st.sampled_from(
        [b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x80\x00\x00\x00", b"nan", b"-1e999",
         b"null", b"[]", b"{}", b'"', b"\\", b"EPSG:5070", b"PROJCS[", b"Foot_US", b"-999999"])),
)
mutations = st.lists(mutation, min_size=1, max_size=6)
#: For text files: the same, plus TOML punctuation and values dropped in.
text_mutation = st.one_of(mutation, st.tuples(st.just("insert"), position, st.sampled_from(
    [b"=", b"[", b"]", b"[[", b'"', b"'", b"\n", b"{", b"}", b",", b"#", b".", b"nan", b"inf", b"-inf", b"1e999",
     b"-1", b"0", b"true", b"\"\"", b"[]", b"{}", b"\n[criteria.x]\n", b"\n[footprint]\n", b"weight = ",
     b"measure = \"slope_pct\"", b"function = \"step\"", b"path = \"x.gpkg\"", b"kind = \"raster\""])))
text_mutations = st.lists(text_mutation, min_size=1, max_size=6)


def mutate(data: bytes, ops) -> bytes:
    b = bytearray(data)
    for op in ops:
        if not b and op[0] != "insert":
            continue
        at = min(int(op[1] * len(b)), max(len(b) - 1, 0))
        kind = op[0]
        if kind == "set":
            b[at] = op[2]
        elif kind == "flip":
            b[at] ^= 1 << op[2]
        elif kind == "zero":
            b[at:at + op[2]] = bytes(len(b[at:at + op[2]]))
        elif kind == "insert":
            b[at:at] = op[2]
        elif kind == "delete":
            del b[at:at + op[2]]
        elif kind == "copy":
            src = min(int(op[2] * len(b)), len(b) - 1)
            b[at:at] = b[src:src + op[3]]
        elif kind == "truncate":
            del b[at:]
        elif kind == "interesting":
            b[at:at + len(op[2])] = op[2]
    return bytes(b)


# ------------------------------------------------------------------------------ targets
class Fuzzer:
    """Runs inputs against the loaders; counts them; records anything but a clear error."""

    def __init__(self, seeds: dict[str, Path], work: Path, crashes: Path):
        self.seeds = seeds
        self.work = work
        self.crashes = crashes
        self.counts: dict[str, int] = {}
        self.clear_errors: dict[str, int] = {}
        self.failures: list[dict] = []
        self.kinds: dict[str, dict[str, int]] = {}
        self.n = 0
        self.work.mkdir(parents=True, exist_ok=True)
        self.current = work.parent / f"current-{os.getpid()}.json"
        self.data = {k: Path(v).read_bytes() for k, v in seeds.items() if Path(v).is_file()}
        self.shp_parts = {p.suffix: p.read_bytes() for p in sorted(Path(seeds["shapefile"]).iterdir())}
        self.profile_texts = {p.stem: p.read_text() for p in sorted(PROFILES.glob("*.toml"))}
        self.manifest_src = MANIFEST.read_text().replace('root = "../../../shared/data"', f'root = "{SHARED}"')

    def _fresh(self, name: str) -> Path:
        self.n += 1
        d = self.work / f"in{self.n}"
        d.mkdir()
        return d / name

    def run(self, target: str, fn, payload, save: dict) -> None:
        """Call ``fn()``; a SiteselError is a clear answer, anything else a failure."""
        from sitesel.errors import SiteselError
        from sitesel.io import files as sources
        from sitesel.io.raster import forget_raster_infos

        self.current.write_text(json.dumps({"target": target, **save}))
        sources.forget_infos()
        forget_raster_infos()
        self.counts[target] = self.counts.get(target, 0) + 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fn()
        except SiteselError as exc:
            self.clear_errors[target] = self.clear_errors.get(target, 0) + 1
            kind = _kind_of(str(exc))
            self.kinds.setdefault(target, {})[kind] = self.kinds.setdefault(target, {}).get(kind, 0) + 1
            if "\n" in str(exc):
                self._fail(target, payload, f"multi-line message: {exc!r}")
        except Exception:  # noqa: BLE001 - this is what the fuzzer looks for
            self._fail(target, payload, traceback.format_exc())
        else:
            self.kinds.setdefault(target, {})["(loaded)"] = self.kinds.setdefault(target, {}).get("(loaded)", 0) + 1
        finally:
            shutil.rmtree(self.work, ignore_errors=True)
            self.work.mkdir(parents=True, exist_ok=True)

    def _fail(self, target: str, payload, text: str) -> None:
        k = len(self.failures)
        path = self.crashes / f"{target}-{os.getpid()}-{k}"
        path.mkdir(parents=True, exist_ok=True)
        if isinstance(payload, dict):
            for name, data in payload.items():
                (path / name).write_bytes(data if isinstance(data, bytes) else str(data).encode())
        (path / "error.txt").write_text(text)
        self.failures.append({"target": target, "path": str(path), "error": text.strip().splitlines()[-1]})

    # -- vector and raster files
    def gpkg(self, ops) -> None:
        from sitesel.io.layers import LayerReport, read_vector
        from sitesel.io.manifest import LayerSpec, Source

        f = self._fresh("ports.gpkg")
        f.write_bytes(mutate(self.data["gpkg"], ops))
        spec = LayerSpec("ports", "vector", (Source(f, "ports"),), fields={"name": "name"})
        self.run("gpkg", lambda: read_vector(spec, "EPSG:5070", None, LayerReport()),
                 {"ports.gpkg": f.read_bytes()}, {"ops": repr(ops)})

    def geojson(self, ops) -> None:
        from sitesel.io.layers import LayerReport, read_vector
        from sitesel.io.manifest import LayerSpec, Source

        f = self._fresh("padus.geojson")
        f.write_bytes(mutate(self.data["geojson"], ops))
        spec = LayerSpec("protected_areas", "vector", (Source(f, None),), fields={"unit": "NAME", "agency": "MANNAME"},
                         designation_from="unit")
        self.run("geojson", lambda: read_vector(spec, "EPSG:5070", (-120.5, 34.5, -113.5, 42.5), LayerReport()),
                 {"padus.geojson": f.read_bytes()}, {"ops": repr(ops)})

    def shapefile(self, part: str, zipped: bool, ops) -> None:
        from sitesel.io.layers import LayerReport, read_vector
        from sitesel.io.manifest import LayerSpec, Source

        f = self._fresh("subs.shp")
        files = {}
        for suffix, data in self.shp_parts.items():
            files["subs" + suffix] = mutate(data, ops) if suffix == part else data
        if zipped:
            target = f.with_suffix(".zip")
            with zipfile.ZipFile(target, "w") as z:
                for name, data in files.items():
                    z.writestr(name, data)
            if part == ".zip":
                target.write_bytes(mutate(target.read_bytes(), ops))
        else:
            for name, data in files.items():
                (f.parent / name).write_bytes(data)
            target = f
        spec = LayerSpec("substations", "vector", (Source(target, None),),
                         fields={"max_kv": "max_volt_k", "name": "name"},
                         sentinels={"max_kv": (-999999.0,)})
        self.run("shapefile", lambda: read_vector(spec, "EPSG:5070", NM_BOX, LayerReport()),
                 {**files, "zipped": str(zipped)}, {"part": part, "zipped": zipped, "ops": repr(ops)})

    def tiff(self, ops) -> None:
        from affine import Affine

        from sitesel.io.manifest import LayerSpec, Source
        from sitesel.io.raster import raster_info, read_raster

        f = self._fresh("dem.tif")
        f.write_bytes(mutate(self.data["tiff"], ops))
        spec = LayerSpec("dem", "raster", (Source(f, None),))

        def load():
            raster_info(spec)
            read_raster(spec, "EPSG:5070", Affine(2000, 0, -1_100_000, 0, -2000, 1_700_000), (150, 150))

        self.run("tiff", load, {"dem.tif": f.read_bytes()}, {"ops": repr(ops)})

    # -- TOML
    def profile_doc(self, doc) -> None:
        from sitesel.analysis.profiles import parse_profile

        self.run("profile_doc", lambda: parse_profile(doc, "fuzz.toml"), {"doc.txt": repr(doc)},
                 {"doc": repr(doc)[:2000]})

    def profile_text(self, name: str, ops) -> None:
        from sitesel.analysis.profiles import load_profile

        f = self._fresh(f"{name}.toml")
        f.write_bytes(mutate(self.profile_texts[name].encode(), ops))
        self.run("profile_text", lambda: load_profile(f), {f.name: f.read_bytes()}, {"ops": repr(ops)})

    def manifest_text(self, ops) -> None:
        from sitesel.io.manifest import load_manifest

        f = self._fresh("layers.toml")
        f.write_bytes(mutate(self.manifest_src.encode(), ops))
        self.run("manifest_text", lambda: load_manifest(f), {"layers.toml": f.read_bytes()}, {"ops": repr(ops)})


def _kind_of(message: str) -> str:
    """A message without file names and numbers, to count kinds of clear errors."""
    import re

    text = re.sub(r"\(/[^)]*\)|'[^']*'|\"[^\"]*\"|/\S+", "_", message)
    text = re.sub(r"[-+]?\d[\d,.e+-]*", "N", text)
    return text[:90]


# ------------------------------------------------------------------------------ TOML strategies
KEYS = ["name", "title", "description", "footprint", "land", "constraints", "criteria", "sources", "min_acres",
        "separation_km", "eligible_agencies", "measure", "weight", "function", "best", "worst", "thresholds",
        "scores", "midpoint", "width", "increasing", "ideal", "spread", "missing", "note", "min", "max",
        "slope_pct", "dist_tx_230kv_km", "linear", "step", "logistic", "gaussian"]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20), st.sampled_from(KEYS), st.sampled_from(["BLM", "NPS", "15 km", "7%", "", "linear"]),
)
toml_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=5),
                               st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=10)), children,
                                               max_size=6)),
    max_leaves=30,
)


@st.composite
def profile_docs(draw):
    """A random TOML structure, or a built-in profile with random subtrees replaced or removed."""
    import tomllib

    if draw(st.integers(0, 3)) == 0:
        return draw(toml_values)
    doc = tomllib.loads((PROFILES / f"{draw(st.sampled_from(sorted(p.stem for p in PROFILES.glob('*.toml'))))}.toml")
                        .read_text())
    for _ in range(draw(st.integers(1, 4))):
        node = doc
        while isinstance(node, dict) and node and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(node)))
            if not isinstance(node[key], dict):
                break
            node = node[key]
        if not isinstance(node, dict):
            continue
        key = draw(st.one_of(st.sampled_from(sorted(node) or ["x"]), st.sampled_from(KEYS)))
        if draw(st.integers(0, 4)) == 0:
            node.pop(key, None)
        else:
            node[key] = draw(toml_values)
    return doc


# ------------------------------------------------------------------------------ worker / supervisor
def worker(out: Path, seconds: float, seed: int, stats_every: float = 2.0) -> None:
    seeds = make_seeds(out / "seeds")
    work = Path(tempfile.mkdtemp(prefix="fuzz-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None))
    fz = Fuzzer(seeds, work, out / "failures")
    fz.current = out / f"current-{os.getpid()}.json"  # the supervisor watches it for hangs
    fast = settings(max_examples=50, deadline=None, database=None, derandomize=False,
                    phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    rounds = [fast(r) for r in [
        given(mutations)(fz.gpkg),
        given(mutations)(fz.geojson),
        given(st.sampled_from([".shp", ".shx", ".dbf", ".prj", ".zip"]), st.booleans(), mutations)(
            lambda part, zipped, ops: fz.shapefile(part, zipped or part == ".zip", ops)),
        given(mutations)(fz.tiff),
        given(profile_docs())(fz.profile_doc),
        given(st.sampled_from(sorted(fz.profile_texts)), text_mutations)(fz.profile_text),
        given(text_mutations)(fz.manifest_text),
    ]]
    stats = out / f"stats-{os.getpid()}.json"
    end = time.monotonic() + seconds
    last = 0.0
    i = seed
    while time.monotonic() < end:
        rounds[i % len(rounds)]()
        i += 1
        if time.monotonic() - last > stats_every:
            stats.write_text(json.dumps({"counts": fz.counts, "clear_errors": fz.clear_errors,
                                         "failures": fz.failures, "kinds": fz.kinds}))
            last = time.monotonic()
    stats.write_text(json.dumps({"counts": fz.counts, "clear_errors": fz.clear_errors, "failures": fz.failures,
                                 "kinds": fz.kinds}))
    shutil.rmtree(work, ignore_errors=True)


def supervise(out: Path, seconds: float, hang_s: float = 120.0) -> dict:
    """Run workers until ``seconds`` have passed; restart after a crash or hang (recorded)."""
    out.mkdir(parents=True, exist_ok=True)
    end = time.monotonic() + seconds
    totals: dict[str, int] = {}
    clear: dict[str, int] = {}
    kinds: dict[str, dict[str, int]] = {}
    failures: list[dict] = []
    seed = 0
    while time.monotonic() < end - 5:
        left = end - time.monotonic()
        log = open(out / f"worker-{seed}.log", "w")
        proc = subprocess.Popen([sys.executable, __file__, "--worker", "--out", str(out), "--seconds", str(left),
                                 "--seed", str(seed)], stdout=log, stderr=subprocess.STDOUT)
        stats = out / f"stats-{proc.pid}.json"
        current = out / f"current-{proc.pid}.json"
        last_change, last_seen = time.monotonic(), None
        while proc.poll() is None:
            time.sleep(1.0)
            seen = current.stat().st_mtime_ns if current.exists() else None
            if seen != last_seen:
                last_seen, last_change = seen, time.monotonic()
            elif time.monotonic() - last_change > hang_s:
                proc.kill()
                proc.wait()
                failures.append({"target": "hang", "input": current.read_text() if current.exists() else "?"})
                break
        log.close()
        if proc.returncode and proc.returncode < 0 and not any(f.get("pid") == proc.pid for f in failures):
            failures.append({"target": "crash", "signal": -proc.returncode, "pid": proc.pid,
                             "input": current.read_text() if current.exists() else "?"})
        if stats.exists():
            s = json.loads(stats.read_text())
            for k, v in s["counts"].items():
                totals[k] = totals.get(k, 0) + v
            for k, v in s["clear_errors"].items():
                clear[k] = clear.get(k, 0) + v
            failures.extend(s["failures"])
            for t, ks in s.get("kinds", {}).items():
                for k, v in ks.items():
                    kinds.setdefault(t, {})[k] = kinds.setdefault(t, {}).get(k, 0) + v
        seed += 1
    summary = {"seconds": seconds, "inputs": sum(totals.values()), "per_target": totals,
               "clear_errors": clear, "failures": failures,
               "outcomes": {t: dict(sorted(ks.items(), key=lambda kv: -kv[1])) for t, ks in kinds.items()}}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--out", default="/tmp/sitesel-fuzz")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args()
    seconds = a.seconds if a.seconds is not None else a.minutes * 60
    if a.worker:
        worker(Path(a.out), seconds, a.seed)
        return 0
    s = supervise(Path(a.out), seconds)
    print(f"{s['inputs']:,} inputs in {seconds / 60:.1f} min: "
          + ", ".join(f"{k} {v:,}" for k, v in sorted(s["per_target"].items())))
    print(f"clear errors (SiteselError): {sum(s['clear_errors'].values()):,}; failures: {len(s['failures'])}")
    for f in s["failures"][:20]:
        print("  ", json.dumps(f)[:300])
    return 1 if s["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
