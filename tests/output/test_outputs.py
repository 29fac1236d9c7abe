"""Outputs are written all at once: staged beside the output directory, swapped in when complete.

The unit tests drive :class:`sitesel.output.staging.OutputDir` directly; the last tests kill a real
``sitesel rank`` (SIGKILL, Ctrl-C, SIGTERM) while it is writing and find the previous run intact.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import realcopies as rc

from sitesel.cli import main
from sitesel.errors import OutputError
from sitesel.output.sites import write_sites
from sitesel.output.staging import OutputDir

RUN = ["rank", "--park", "semiconductor_fab", "--bbox", "-107.5,32,-106,33.5", "--resolution", "2000", "--quiet"]


def _previous(folder: Path) -> Path:
    folder.mkdir()
    (folder / "run.json").write_text('{"park": "old"}')
    (folder / "sites.csv").write_text("rank,score\n1,50\n")
    return folder


def test_a_new_directory_appears_only_when_complete(tmp_path):
    out = tmp_path / "a" / "run"
    with OutputDir(out) as tmp:
        (tmp / "sites.csv").write_text("rank\n")
        assert tmp.parent == out.parent and tmp.name.startswith(".run.sitesel-")
        assert not out.exists()
    assert (out / "sites.csv").read_text() == "rank\n"
    assert rc.staging_left(out.parent) == []
    assert (out.stat().st_mode & 0o777) == 0o777 & ~_umask()  # not left private like a temp dir


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def test_a_previous_run_is_replaced_whole(tmp_path):
    out = _previous(tmp_path / "run")
    with OutputDir(out, overwrite=True) as tmp:
        (tmp / "run.json").write_text('{"park": "new"}')
        assert json.loads((out / "run.json").read_text()) == {"park": "old"}  # untouched while writing
    assert sorted(p.name for p in out.iterdir()) == ["run.json"]  # no stale sites.csv from the old run
    assert json.loads((out / "run.json").read_text()) == {"park": "new"}
    assert rc.staging_left(tmp_path) == []


def test_replacing_without_renameat2_also_works(tmp_path, monkeypatch):
    import sitesel.output.staging as o

    monkeypatch.setattr(o, "exchange_directories", lambda a, b: False)
    out = _previous(tmp_path / "run")
    with OutputDir(out, overwrite=True) as tmp:
        (tmp / "run.json").write_text("{}")
    assert sorted(p.name for p in out.iterdir()) == ["run.json"] and rc.staging_left(tmp_path) == []


def test_an_error_while_writing_leaves_the_previous_run(tmp_path):
    out = _previous(tmp_path / "run")
    before = rc.snapshot(out)
    with pytest.raises(RuntimeError):
        with OutputDir(out, overwrite=True) as tmp:
            (tmp / "run.json").write_text("half")
            raise RuntimeError("crash")
    assert rc.snapshot(out) == before and rc.staging_left(tmp_path) == []


def test_a_full_disk_is_a_clear_error(tmp_path):
    out = _previous(tmp_path / "run")
    before = rc.snapshot(out)
    with pytest.raises(OutputError, match=f"could not write the outputs to {out}: No space left on device; "
                                          "previous outputs were left untouched"):
        with OutputDir(out, overwrite=True) as tmp:
            (tmp / "sites.csv").write_text("half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert rc.snapshot(out) == before and rc.staging_left(tmp_path) == []


def test_a_full_disk_during_a_run(tmp_path, capsys, monkeypatch):
    import sitesel.pipeline.write as o  # writes each park's surface

    out = _previous(tmp_path / "run")
    before = rc.snapshot(out)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "suitability.tif")

    monkeypatch.setattr(o, "write_surface", full)
    assert main([*RUN, "--overwrite", "--out", str(out)]) == 2
    line = rc.one_error_line(capsys.readouterr().err)
    assert "No space left on device" in line and "previous outputs were left untouched" in line
    assert rc.snapshot(out) == before and rc.staging_left(tmp_path) == []


@pytest.mark.parametrize("overwrite", [False, True])
def test_refusals_happen_before_any_work(tmp_path, overwrite):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.txt").write_text("keep")
    msg = "holds no sitesel run" if overwrite else "exists and is not empty; pass --overwrite"
    with pytest.raises(OutputError) as caught:
        OutputDir(notes, overwrite=overwrite)
    assert msg in caught.value.render("cli")
    if not overwrite:  # the API names its keyword
        assert "pass overwrite=True to replace it, or choose another out" in str(caught.value)
    assert (notes / "a.txt").read_text() == "keep"


def test_an_empty_existing_directory_is_used(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    with OutputDir(out) as tmp:
        (tmp / "run.json").write_text("{}")
    assert [p.name for p in out.iterdir()] == ["run.json"]


def test_overwriting_the_current_directory_is_refused(tmp_path, monkeypatch):
    out = _previous(tmp_path / "run")
    monkeypatch.chdir(out)
    with pytest.raises(OutputError, match="holds the current directory"):
        OutputDir(".", overwrite=True)


def test_staging_left_by_a_killed_run_is_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that no longer runs
    stale = tmp_path / f".run.sitesel-{dead.pid}-abcd"
    stale.mkdir()
    (stale / "sites.geojson").write_text('{"type": "Feat')
    alive = tmp_path / f".run.sitesel-{os.getppid()}-efgh"  # a live process: not ours to remove
    alive.mkdir()
    with OutputDir(tmp_path / "run") as tmp:
        (tmp / "run.json").write_text("{}")
    assert not stale.exists() and alive.exists()


def test_empty_sites_are_valid_files(tmp_path):
    import geopandas as gpd

    write_sites(gpd.GeoDataFrame({"score": []}, geometry=gpd.GeoSeries([], crs=5070), crs=5070), tmp_path)
    assert json.loads((tmp_path / "sites.geojson").read_text()) == {"type": "FeatureCollection", "features": []}
    assert (tmp_path / "sites.csv").read_text() == "rank,score,lon,lat,state,agency,unit,acres\n"


# ------------------------------------------------------------------------- interrupted runs
SLOW_WRITER = r"""
import pathlib, sys, time
import sitesel.pipeline.write as o  # writes each park's surface
flag = pathlib.Path(sys.argv[1])
write_surface = o.write_surface

def slow(score, study, folder):
    write_surface(score, study, folder)
    (folder / "map.html").write_text("<html><body>half a map")  # as a crash mid-write leaves it
    flag.write_text(str(folder))
    time.sleep(600)

o.write_surface = slow
from sitesel.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.fixture(scope="module")
def previous_run(tmp_path_factory, shared_data) -> Path:
    out = tmp_path_factory.mktemp("previous") / "out"
    assert main([*RUN, "--out", str(out)]) == 0
    return out


def _start_and_wait(tmp_path: Path, out: Path) -> tuple[subprocess.Popen, Path]:
    """Start a run that stops mid-write (after suitability.tif, half of map.html) and wait for it."""
    flag = tmp_path / "writing"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(flag), *RUN, "--overwrite", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    while not flag.exists():
        if proc.poll() is not None:
            pytest.fail(f"the run ended before writing: {proc.communicate()}")
        if time.monotonic() - t0 > 600:
            proc.kill()
            pytest.fail("the run did not reach the writing stage in 10 minutes")
        time.sleep(0.2)
    staged = Path(flag.read_text())
    assert staged.parent == out.parent and staged.name.startswith(".out.sitesel-")  # beside, not inside
    assert {"suitability.tif", "map.html"} <= {p.name for p in staged.iterdir()}
    return proc, staged


def test_sigkill_mid_write_leaves_previous_outputs(tmp_path, previous_run):
    out = tmp_path / "out"
    shutil.copytree(previous_run, out)
    before = rc.snapshot(out)
    proc, staged = _start_and_wait(tmp_path, out)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert rc.snapshot(out) == before  # every previous file byte-identical, no half map.html
    assert staged.exists()  # kill -9 cannot clean up; the next run does
    assert main([*RUN, "--overwrite", "--out", str(out)]) == 0
    assert not staged.exists() and rc.staging_left(tmp_path) == []
    assert json.loads((out / "run.json").read_text())["park"] == "semiconductor_fab"
    assert "half a map" not in (out / "map.html").read_text()


@pytest.mark.parametrize("sig, status, word",
                         [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_ctrl_c_or_sigterm_mid_write_cleans_up(tmp_path, previous_run, sig, status, word):
    out = tmp_path / "out"
    shutil.copytree(previous_run, out)
    before = rc.snapshot(out)
    proc, staged = _start_and_wait(tmp_path, out)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert f"sitesel: {word}; existing outputs were left untouched" in err and "Traceback" not in err
    assert rc.snapshot(out) == before
    assert not staged.exists() and rc.staging_left(tmp_path) == []
