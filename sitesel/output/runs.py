"""Reading a finished run directory back: its sites, its record, and the study it came from.

``sitesel map`` and ``sitesel export`` work from what ``sitesel rank`` left behind
(``sites.geojson`` and ``run.json``), re-opening the layer manifest and region that ``run.json``
records when they need context layers.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pyogrio

from sitesel.errors import SiteselError

__all__ = ["RUN_FILE", "Run", "SITES_FILE", "read_run", "read_sites"]

SITES_FILE = "sites.geojson"
RUN_FILE = "run.json"


@dataclass
class Run:
    """A finished run: its folder, ``run.json`` and ranked sites (WGS84)."""

    path: Path
    record: dict
    sites: gpd.GeoDataFrame
    _study: object = field(default=None, repr=False)

    # -- what the record says -------------------------------------------------------------
    @property
    def park(self) -> str:
        """The park type's name (``?`` if the record lacks it)."""
        return self.record.get("park", "?")

    @property
    def title(self) -> str:
        """The profile's title, or the park type's name."""
        return self.record.get("profile", {}).get("title") or self.park

    @property
    def region_label(self) -> str:
        """The region as the run named it."""
        return self.record.get("region", {}).get("label", "?")

    @property
    def criteria(self) -> dict[str, dict]:
        """Criterion key -> {measure, weight (normalised), function}."""
        return self.record.get("profile", {}).get("criteria", {})

    @property
    def constraints(self) -> dict[str, str]:
        """Constraint key -> description (``dist_tx_230kv_km <= 15 km``)."""
        return self.record.get("profile", {}).get("constraints", {})

    @property
    def eligible_agencies(self) -> list[str]:
        """Agencies whose land was eligible."""
        return list(self.record.get("profile", {}).get("eligible_agencies", []))

    @property
    def land(self) -> str:
        """``'federal'`` or ``'all'``: which land was eligible."""
        return self.record.get("profile", {}).get("land", "federal")

    @property
    def grid_crs(self) -> str:
        """The CRS of the run's grid (its equal-area CRS)."""
        return self.record.get("grid", {}).get("crs", "EPSG:4326")

    @property
    def sources(self) -> list[str]:
        """File names of the input layers (for the map's title panel)."""
        return sorted({Path(i["path"]).name for i in self.record.get("inputs", [])})

    def file(self, name: str) -> Path:
        """The path of file ``name`` in the run folder."""
        return self.path / name

    # -- the study behind it --------------------------------------------------------------
    def study(self, layers: str | Path | None = None):
        """Re-open the region and layers of this run (vector layers are read lazily).

        Parameters
        ----------
        layers : path, optional
            A layer manifest to use instead of the one ``run.json`` names.
        """
        if self._study is not None and layers is None:
            return self._study
        from sitesel.io.manifest import load_manifest
        from sitesel.study.core import Study
        from sitesel.study.region import resolve_region

        args = self.record.get("arguments", {})
        manifest_path = Path(layers) if layers else Path(self.record.get("manifest", ""))
        if not manifest_path.is_file() and not layers and args.get("demo"):
            from sitesel.demo import make_demo
            from sitesel.io.cache import cache_root

            manifest_path = make_demo(cache_root() / "demo")
        if not manifest_path.is_file():
            raise SiteselError(f"the layer manifest of this run ({manifest_path}) is gone; pass {{opt:layers}} "
                               "to name one, or {opt:no_context} to draw the sites alone")
        manifest = load_manifest(manifest_path)
        reg = self.record.get("region", {})
        bbox = tuple(reg["bbox"]) if reg.get("bbox") else None
        region = args.get("region") or (None if bbox else ",".join(reg.get("states", [])))
        region = resolve_region(manifest, region, bbox)
        res = self.record.get("grid", {}).get("resolution_m")
        self._study = Study.open(manifest, region, res)
        return self._study

    def with_study(self, study) -> Run:
        """Attach an already open study (``sitesel rank`` passes its own)."""
        self._study = study
        return self


def read_run(path: str | Path) -> Run:
    """Read a run directory written by ``sitesel rank``.

    Raises
    ------
    SiteselError
        If the folder lacks ``sites.geojson`` or ``run.json``.
    """
    path = Path(path)
    for name in (SITES_FILE, RUN_FILE):
        if not (path / name).is_file():
            raise SiteselError(f"{path} is not a sitesel run directory: {name} is missing")
    try:
        record = json.loads((path / RUN_FILE).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SiteselError(f"{path / RUN_FILE}: not valid JSON ({exc})") from None
    sites = read_sites(path / SITES_FILE)
    return Run(path=path, record=record, sites=sites)


def read_sites(path: Path) -> gpd.GeoDataFrame:
    """``sites.geojson`` as a GeoDataFrame in EPSG:4326, ranked."""
    info = pyogrio.read_info(path)
    if info["features"] == 0:
        return gpd.GeoDataFrame({"rank": [], "score": []}, geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    sites = gpd.read_file(path, engine="pyogrio")
    sites = sites.set_crs("EPSG:4326", allow_override=True)
    return sites.sort_values("rank", kind="mergesort").reset_index(drop=True)
