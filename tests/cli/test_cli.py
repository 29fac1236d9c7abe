"""The command line on the synthetic demo and its error handling."""
import json

import pytest

from sitesel.analysis.profiles import list_profiles
from sitesel.cli import main

PARKS = ["semiconductor_fab", "ai_datacenter", "ai_hardware", "pharma", "critical_minerals",
         "battery_plant", "energy_smr", "energy_solar", "shipyard", "quantum"]


def test_all_required_park_types_are_built_in():
    assert set(PARKS) <= set(list_profiles())


def test_demo_quickstart_writes_every_output(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["rank", "--park", "ai_datacenter", "--demo", "--quiet", "--out", str(out)]) == 0
    assert {"sites.geojson", "sites.csv", "suitability.tif", "map.html", "run.json"} <= {p.name for p in out.iterdir()}
    run = json.loads((out / "run.json").read_text())
    assert run["region"]["states"] == ["XX"] and run["stats"]["sites"] > 0
    assert "SYNTHETIC" in (out / "map.html").read_text() or "XX" in (out / "map.html").read_text()
    assert "ai_datacenter:" in capsys.readouterr().out


def test_profiles_list_and_show(capsys):
    assert main(["profiles"]) == 0
    listed = capsys.readouterr().out
    assert all(p in listed for p in PARKS)
    assert main(["profiles", "show", "semiconductor_fab"]) == 0
    shown = capsys.readouterr().out
    assert "hard constraints" in shown and "criteria" in shown


@pytest.mark.parametrize("argv, msg", [
    (["rank", "--park", "semiconductor_fabb", "--demo", "--out", "X"], "did you mean 'semiconductor_fab'"),
    (["rank", "--park", "pharma", "--region", "ZZ", "--out", "X"], "unknown state code"),
    (["rank", "--park", "pharma", "--bbox", "-100,40,-110,35", "--out", "X"], "inverted"),
    (["rank", "--park", "pharma", "--layers", "nope.toml", "--region", "AZ", "--out", "X"], "manifest not found"),
])
def test_errors_are_one_line_with_status_2(argv, msg, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("[")]  # drop progress
    assert len(err) == 1 and err[0].startswith("sitesel: error:") and msg in err[0]
    assert not (tmp_path / "X").exists()


def test_missing_layer_is_named_and_allow_missing_reports_dropped_weight(tmp_path, capsys, national):
    # Drop the counties table (an unknown layer name would itself be an error).
    lines, skip = [], False
    for line in (national.path.read_text()
                 .replace('root = "../../../shared/data"', f'root = "{national.root}"').splitlines()):
        if line.startswith("[layers."):
            skip = line.strip() == "[layers.counties]"
        if not skip:
            lines.append(line)
    m = tmp_path / "m.toml"
    m.write_text("\n".join(lines))
    argv = ["rank", "--park", "semiconductor_fab", "--region", "NM", "--resolution", "1000", "--quiet",
            "--layers", str(m), "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    assert "lacks counties" in capsys.readouterr().err
    assert main(argv + ["--allow-missing"]) == 0
    run = json.loads((tmp_path / "o" / "run.json").read_text())
    assert run["profile"]["dropped_weight"] > 0
    assert all(c["measure"] not in ("pop_45km", "pop_80km") for c in run["profile"]["criteria"].values())
