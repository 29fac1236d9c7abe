#!/usr/bin/env python3
"""Compare two run folders of ``sitesel rank ... --out DIR``: are the results identical?

``OLD`` and ``NEW`` are either multi-park folders (``--park all``: one subfolder per park) or
single-park folders (``sites.geojson`` etc. directly inside). For every park:

* ``sites.geojson`` must be byte-identical (if not, the first differing feature is reported);
* ``suitability.tif`` must hold equal arrays (NaN equal to NaN) with the same shape, dtype,
  transform, CRS and nodata;
* ``sites.csv`` must be byte-identical (if not, the first differing line is reported).

``run.json`` and the maps are not compared: they carry times, paths and versions.

``--drop REGEX`` leaves out the attributes whose names match (e.g. ``'^(cost_|capex_)'`` to
compare rankings "costs aside" after new columns were added): both files are then compared with
those attributes removed, value for value as written (the text of every other CSV field, the JSON
of every other property and geometry), rather than byte for byte.

Prints one row per park and a verdict; exits 1 if anything differs (or a park is missing on one
side), 2 on bad arguments.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
from pathlib import Path

FILES = ("sites.geojson", "suitability.tif", "sites.csv")


def single(folder: Path) -> bool:
    """Whether ``folder`` is one park's output (its files directly inside)."""
    return any((folder / f).exists() for f in FILES)


def parks(folder: Path) -> dict[str, Path]:
    """Park name -> its folder; a single-park folder is one park named after the folder."""
    if single(folder):
        return {folder.name: folder}
    return {p.name: p for p in sorted(folder.iterdir())
            if p.is_dir() and any((p / f).exists() for f in (*FILES, "run.json"))}


def _presence(a: Path, b: Path) -> str | None:
    """None when both exist; 'absent' when neither; else what is missing."""
    if a.exists() and b.exists():
        return None
    if not a.exists() and not b.exists():
        return "absent"
    return f"only in {'old' if a.exists() else 'new'}"


def _drop_json(data: bytes, drop: re.Pattern | None) -> bytes:
    if drop is None:
        return data
    doc = json.loads(data)
    for f in doc.get("features", []):
        f["properties"] = {k: v for k, v in (f.get("properties") or {}).items() if not drop.search(k)}
    return json.dumps(doc).encode()


def _drop_csv(data: bytes, drop: re.Pattern | None) -> bytes:
    if drop is None:
        return data
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    if not rows:
        return data
    keep = [i for i, name in enumerate(rows[0]) if not drop.search(name)]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[r[i] for i in keep] for r in rows])
    return out.getvalue().encode()


def compare_geojson(a: Path, b: Path, drop: re.Pattern | None = None) -> tuple[bool, str]:
    missing = _presence(a, b)
    if missing:
        return missing == "absent", missing
    ba, bb = _drop_json(a.read_bytes(), drop), _drop_json(b.read_bytes(), drop)
    if ba == bb:
        n = len(json.loads(ba).get("features", []))
        return True, f"same ({n} features)"
    try:
        fa, fb = json.loads(ba).get("features", []), json.loads(bb).get("features", [])
    except (ValueError, AttributeError) as e:
        return False, f"differs (unreadable: {e})"
    for i, (x, y) in enumerate(zip(fa, fb)):
        if x != y:
            what = []
            if x.get("geometry") != y.get("geometry"):
                what.append("geometry")
            pa, pb = x.get("properties") or {}, y.get("properties") or {}
            keys = [k for k in dict.fromkeys([*pa, *pb]) if pa.get(k) != pb.get(k)]
            what += [f"{k}: {pa.get(k)!r} -> {pb.get(k)!r}" for k in keys[:3]]
            if len(keys) > 3:
                what.append(f"+{len(keys) - 3} properties")
            return False, f"feature {i} differs ({'; '.join(what) or 'members'})"
    if len(fa) != len(fb):
        return False, f"{len(fa)} vs {len(fb)} features"
    return False, "same features, bytes differ (formatting or collection members)"


def compare_tif(a: Path, b: Path, drop: re.Pattern | None = None) -> tuple[bool, str]:
    missing = _presence(a, b)
    if missing:
        return missing == "absent", missing
    import numpy as np
    import rasterio

    with rasterio.open(a) as ra, rasterio.open(b) as rb:
        for what, x, y in (("shape", (ra.count, ra.height, ra.width), (rb.count, rb.height, rb.width)),
                           ("dtype", ra.dtypes, rb.dtypes), ("transform", ra.transform, rb.transform),
                           ("CRS", ra.crs, rb.crs), ("nodata", ra.nodata, rb.nodata)):
            if x != y and not (what == "nodata" and x is not None and y is not None
                               and np.isnan(x) and np.isnan(y)):
                return False, f"{what} differs: {x} vs {y}"
        xa, xb = ra.read(), rb.read()
    if np.issubdtype(xa.dtype, np.floating):
        same = (xa == xb) | (np.isnan(xa) & np.isnan(xb))
    else:
        same = xa == xb
    if same.all():
        return True, f"same {xa.shape[1]}x{xa.shape[2]}"
    bad = ~same
    with np.errstate(invalid="ignore"):
        d = np.abs(xa.astype(np.float64) - xb.astype(np.float64))[bad]
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    dmax = f", max |diff| {np.nanmax(d):.3g}" if np.isfinite(d).any() else ""
    return False, f"{int(bad.sum())} cells differ (first at band,row,col {first}{dmax})"


def compare_csv(a: Path, b: Path, drop: re.Pattern | None = None) -> tuple[bool, str]:
    missing = _presence(a, b)
    if missing:
        return missing == "absent", missing
    ba, bb = _drop_csv(a.read_bytes(), drop), _drop_csv(b.read_bytes(), drop)
    la, lb = ba.splitlines(), bb.splitlines()
    if ba == bb:
        return True, f"same ({max(len(la) - 1, 0)} rows)"
    for i, (x, y) in enumerate(zip(la, lb)):
        if x != y:
            return False, f"line {i + 1} differs: {x[:60]!r} vs {y[:60]!r}"
    return False, f"{len(la)} vs {len(lb)} lines" if len(la) != len(lb) else "line endings differ"


COMPARE = {"sites.geojson": compare_geojson, "suitability.tif": compare_tif, "sites.csv": compare_csv}


def compare(old: Path, new: Path, drop: re.Pattern | None = None) -> list[dict]:
    """One row per park: ``park``, ``ok`` and, per file, ``(ok, detail)``."""
    po, pn = parks(old), parks(new)
    if single(old) or single(new):
        # Single-park folders: compare them whatever their names.
        po, pn = {old.name: old}, {old.name: new}
    rows = []
    for name in sorted(set(po) | set(pn)):
        if name not in po or name not in pn:
            rows.append({"park": name, "ok": False, "missing": "old" if name not in po else "new"})
            continue
        row: dict = {"park": name}
        for f, fn in COMPARE.items():
            row[f] = fn(po[name] / f, pn[name] / f, drop)
        row["ok"] = all(row[f][0] for f in COMPARE)
        rows.append(row)
    return rows


def render(rows: list[dict]) -> str:
    table = [("park", *COMPARE, "verdict")]
    for r in rows:
        if "missing" in r:
            cells = (f"park missing in {r['missing']}" if i == 0 else "" for i in range(len(COMPARE)))
            table.append((r["park"], *cells, "DIFFERS"))
        else:
            table.append((r["park"], *(("" if r[f][0] else "x ") + r[f][1] for f in COMPARE),
                          "same" if r["ok"] else "DIFFERS"))
    w = [max(len(t[i]) for t in table) for i in range(len(table[0]))]
    out = ["  ".join(c.ljust(w[i]) for i, c in enumerate(t)).rstrip() for t in table]
    out.insert(1, "  ".join("-" * x for x in w))
    n_bad = sum(not r["ok"] for r in rows)
    if not rows:
        out.append("\nno parks found")
    elif n_bad:
        out.append(f"\nDIFFERENT: {n_bad} of {len(rows)} parks differ")
    else:
        out.append(f"\nIDENTICAL: {len(rows)} parks")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    ap.add_argument("--drop", metavar="REGEX", type=re.compile,
                    help="leave out attributes whose names match (compared value for value, not byte for byte)")
    args = ap.parse_args(argv)
    for p in (args.old, args.new):
        if not p.is_dir():
            print(f"not a folder: {p}", file=sys.stderr)
            return 2
    rows = compare(args.old, args.new, args.drop)
    print(json.dumps(rows, indent=2) if args.json else render(rows))
    return 0 if rows and all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
