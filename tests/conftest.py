"""Shared fixtures: the real national layers in ../shared/data and a per-session cache."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from sitesel.io.manifest import default_manifest_path, load_manifest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _cache(tmp_path_factory):
    # Tests never touch the user's cache; one cache per session keeps real-data runs quick.
    os.environ["SITESEL_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED / "README.md").exists():
        pytest.fail(f"the real layers are missing: expected {SHARED} beside the repository")
    return SHARED


@pytest.fixture(scope="session")
def national(shared_data):
    return load_manifest(default_manifest_path())


@pytest.fixture(scope="session")
def fab_run(national, tmp_path_factory):
    """One real four-state run at coarse resolution, shared by the map, export and browser tests.

    AZ,NM,NV,UT is the region whose map must stay under 15 MB; 2,000 m keeps it quick.
    """
    from sitesel.cli import main

    out = tmp_path_factory.mktemp("fab4") / "run"
    assert main(["rank", "--park", "semiconductor_fab", "--region", "AZ,NM,NV,UT", "--resolution", "2000",
                 "--quiet", "--exports", "gpkg,parquet,kml", "--out", str(out)]) == 0
    return out
