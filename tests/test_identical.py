"""tools/check_identical.py: the script the redesign's identity claims rest on."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

TOOL = Path(__file__).resolve().parents[1] / "tools" / "check_identical.py"
spec = importlib.util.spec_from_file_location("check_identical", TOOL)
ident = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ident)


def _run(folder: Path, props: list[dict]) -> Path:
    folder.mkdir(parents=True)
    feats = [{"type": "Feature", "properties": p, "geometry": {"type": "Point", "coordinates": [1.0, 2.0]}}
             for p in props]
    (folder / "sites.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    cols = list(props[0])
    (folder / "sites.csv").write_text("\n".join([",".join(cols), *(",".join(str(p[c]) for c in cols) for p in props)])
                                      + "\n")
    return folder


def test_identical_differs_and_costs_aside(tmp_path, capsys):
    base = [{"rank": 1, "score": 80.5}, {"rank": 2, "score": 70.25}]
    old = _run(tmp_path / "old", base)
    assert ident.main([str(old), str(_run(tmp_path / "same", base))]) == 0
    assert "IDENTICAL" in capsys.readouterr().out
    moved = [dict(base[0], score=80.6), base[1]]
    assert ident.main([str(old), str(_run(tmp_path / "moved", moved))]) == 1
    assert "score: 80.5 -> 80.6" in capsys.readouterr().out
    priced = _run(tmp_path / "priced", [dict(p, cost_site_usd=1e6 * p["rank"]) for p in base])
    assert ident.main([str(old), str(priced)]) == 1
    assert ident.main([str(old), str(priced), "--drop", "^cost_"]) == 0
    # Dropping the costs does not hide a change elsewhere.
    both = _run(tmp_path / "both", [dict(p, cost_site_usd=1.0) for p in moved])
    assert ident.main([str(old), str(both), "--drop", "^cost_"]) == 1
