"""A sitesel data folder: fetch the catalog's layers into it, list them, verify them.

Layout of ``DIR`` (default: the platform data folder, or ``$SITESEL_DATA``)::

    DIR/manifest.toml        layer manifest for `sitesel rank --layers DIR/manifest.toml`
    DIR/sitesel-data.json    what was fetched: sources, vintages, checksums, clip, dates
    DIR/raw/                 downloads as published (zip, csv, GeoJSONSeq pages of an ArcGIS layer)
    DIR/<layer>/<source>.parquet|.tif   prepared files the manifest points at
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w
from platformdirs import user_data_dir

from sitesel.acquire.arcgis import download_layer
from sitesel.acquire.catalog import Catalog, LayerEntry, SourceSpec
from sitesel.acquire.convert import CLIP_MARGIN_DEG, clip_box, dataset_path, prepare_raster, prepare_vector
from sitesel.acquire.http import RetryPolicy, download, http_session, sha256_of
from sitesel.errors import FetchError, SiteselError
from sitesel.io.cache import sha256_file
from sitesel.io.manifest import CANONICAL_LAYERS, load_manifest
from sitesel.progress import SILENT, Progress

__all__ = [
    "MANIFEST_NAME", "STATE_NAME", "FetchReport", "Fetcher", "VerifyResult", "default_data_dir", "listing",
    "load_state", "save_state", "verify", "write_manifest",
]

STATE_NAME = "sitesel-data.json"
MANIFEST_NAME = "manifest.toml"


def default_data_dir() -> Path:
    """``$SITESEL_DATA``, else the platform's user data folder for sitesel."""
    env = os.environ.get("SITESEL_DATA")
    return Path(env) if env else Path(user_data_dir("sitesel"))


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


def load_state(data_dir: Path) -> dict:
    """The record of what ``data_dir`` holds (empty when nothing was fetched).

    Parameters
    ----------
    data_dir : Path
        A data folder written by :class:`Fetcher`.

    Returns
    -------
    dict
        ``{"layers": {name: entry}}``.

    Raises
    ------
    SiteselError
        The record is damaged.
    """
    p = Path(data_dir) / STATE_NAME
    if not p.exists():
        return {"layers": {}}
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SiteselError(f"{p}: unreadable ({exc}); delete it and fetch again") from None


def save_state(data_dir: Path, state: dict) -> None:
    """Write the record of what ``data_dir`` holds (through a temporary file, so it is never half-written).

    Parameters
    ----------
    data_dir : Path
        The data folder.
    state : dict
        As returned by :func:`load_state`.
    """
    p = Path(data_dir) / STATE_NAME
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(p)


def write_manifest(data_dir: Path, state: dict) -> Path:
    """Write ``DIR/manifest.toml`` for every layer recorded in ``state``.

    Parameters
    ----------
    data_dir : Path
        The data folder.
    state : dict
        As returned by :func:`load_state`.

    Returns
    -------
    Path
        The manifest written.
    """
    layers = {}
    for name in CANONICAL_LAYERS:  # canonical order keeps the file stable
        entry = state["layers"].get(name)
        if not entry:
            continue
        files = [f["path"] for f in entry["files"]]
        spec: dict = {}
        if CANONICAL_LAYERS[name][0] == "raster":
            spec["kind"] = "raster"
        if len(files) == 1:
            spec["path"] = files[0]
        else:
            spec["sources"] = [{"path": f} for f in files]
        spec |= entry.get("mapping", {})
        layers[name] = spec
    clipped = {e.get("region") or "bbox" for e in state["layers"].values() if e.get("clip")}
    head = ("# Written by `sitesel data fetch`; `sitesel data list` shows sources and vintages.\n"
            "# Use it with: sitesel rank --layers " + str(Path(data_dir) / MANIFEST_NAME) + " ...\n")
    doc = {"title": "sitesel layers fetched from the source catalog", "root": ".",
           "description": ("clipped to " + ", ".join(sorted(clipped)) + " (plus a margin); rank only there")
           if clipped else "national (not clipped)",
           "layers": layers}
    p = Path(data_dir) / MANIFEST_NAME
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(head + tomli_w.dumps(doc), encoding="utf-8")
    tmp.replace(p)
    return p


@dataclass
class FetchReport:
    """What a fetch did, layer by layer."""

    fetched: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    manifest: Path | None = None


class Fetcher:
    """Fetch catalog layers into a data folder.

    Parameters
    ----------
    catalog : Catalog
    data_dir : Path
    policy : RetryPolicy
        Retries, backoff and timeouts for every request.
    progress : Progress
        Step log (stderr); progress bars are shown unless it is quiet.
    """

    def __init__(self, catalog: Catalog, data_dir: Path, policy: RetryPolicy = RetryPolicy(),
                 progress: Progress = SILENT):
        self.catalog, self.dir, self.policy, self.progress = catalog, Path(data_dir), policy, progress
        self.session = http_session(policy)
        self.bars = not progress.quiet
        self._raw_names = self._assign_raw_names()

    # -- public ---------------------------------------------------------------------------
    def fetch(self, layers: list[str] | None = None, region: str | None = None,
              bbox: tuple[float, float, float, float] | None = None, force: bool = False) -> FetchReport:
        """Fetch ``layers`` (default: every catalog layer), clipped to a region or box if given.

        ``states`` is always fetched (first, never clipped): the engine needs it, and it defines
        the region. Layers already present, verified and covering the clip are skipped unless
        ``force``. Layers that fail are reported and left out of the manifest; the others are kept.

        Parameters
        ----------
        layers : list of str, optional
            Canonical layer names (default: every layer of the catalog).
        region : str, optional
            States (USPS codes) to clip to.
        bbox : tuple, optional
            ``(west, south, east, north)`` in degrees to clip to.
        force : bool
            Fetch and prepare again even what is present and verified.

        Returns
        -------
        FetchReport

        Raises
        ------
        FetchError
            An unknown layer, a catalog without ``states``, or ``states`` could not be fetched.
        """
        names = list(self.catalog.layers) if not layers else list(dict.fromkeys(layers))
        for n in names:
            self.catalog.layer(n)  # unknown names fail before any download
        if "states" not in self.catalog.layers:
            raise FetchError(f"{self.catalog.path}: the catalog has no 'states' layer, which every fetch needs")
        names = ["states"] + [n for n in names if n != "states"]
        self.dir.mkdir(parents=True, exist_ok=True)
        state = load_state(self.dir)
        report = FetchReport()
        clip, label = None, None
        for name in names:
            if name != "states" and clip is None and (region or bbox):
                clip, label = self._clip_for(state, region, bbox)
            try:
                if not force and self._up_to_date(state, name, clip):
                    report.skipped.append(name)
                    self.progress.log(f"{name}: up to date")
                    continue
                with self.progress.step(f"fetching {name}"):
                    state["layers"][name] = self._fetch_layer(name, None if name == "states" else clip, label, force)
                report.fetched.append(name)
            except FetchError as exc:
                report.failed[name] = str(exc)
                print(f"sitesel: {name}: {exc}", file=sys.stderr, flush=True)
                if name == "states":
                    break  # without states no region can be resolved and no manifest is usable
            finally:
                save_state(self.dir, state)
                if state["layers"]:
                    report.manifest = write_manifest(self.dir, state)
        return report

    # -- internals ------------------------------------------------------------------------
    def _assign_raw_names(self) -> dict[str, str]:
        """A file name per download URL; sources sharing a URL share the download."""
        names: dict[str, str] = {}
        taken: dict[str, str] = {}
        for s in self.catalog.sources.values():
            if s.url in names or s.format in ("arcgis", "cog"):
                continue
            name = s.download_name
            if taken.get(name, s.url) != s.url:
                name = f"{s.id}-{name}"
            names[s.url], taken[name] = name, s.url
        return names

    def _raw_path(self, src: SourceSpec, clip) -> Path:
        if src.format == "arcgis":
            tag = "" if clip is None else "-" + "_".join(f"{v:.2f}" for v in clip)
            return self.dir / "raw" / f"{src.id}{tag}.geojsonl"
        return self.dir / "raw" / self._raw_names[src.url]

    def _clip_for(self, state: dict, region: str | None, bbox) -> tuple[tuple, str]:
        """The lon/lat box a rank of this region reads, with room to spare.

        The engine computes on the region plus a pad (study.DEFAULT_PAD_M) and reads vector layers
        over that grid's lon/lat box plus inputs.READ_MARGIN_DEG; the clip covers both (for any
        cell size up to 50 km) plus CLIP_MARGIN_DEG, so a clipped fetch ranks like the full data.
        """
        from sitesel.study.grid import grid_for_bounds
        from sitesel.study.inputs import READ_MARGIN_DEG
        from sitesel.study.region import DEFAULT_PAD_M, resolve_region

        if "states" not in state["layers"]:
            raise FetchError("the states layer is needed to resolve {opt:region} but could not be fetched")
        manifest = load_manifest(write_manifest(self.dir, state))
        reg = resolve_region(manifest, region, bbox)
        grid = grid_for_bounds(reg.geometry.bounds, reg.crs, 1000.0, pad_m=DEFAULT_PAD_M + 50_000.0)
        return clip_box(grid.lonlat_bounds(), READ_MARGIN_DEG + CLIP_MARGIN_DEG), reg.label

    def _up_to_date(self, state: dict, name: str, clip) -> bool:
        entry = state["layers"].get(name)
        if not entry:
            return False
        urls = [s.url for s in self.catalog.sources_of(name)]
        if [s["url"] for s in entry["sources"]] != urls:
            return False
        have = entry.get("clip")
        if name != "states" and have is not None and (clip is None or not _covers(have, clip)):
            return False
        return all(_file_ok(self.dir, f) for f in entry["files"])

    def _download(self, src: SourceSpec, clip) -> tuple[Path, str, str]:
        """Download one source; returns (raw path, sha256, how the checksum is known)."""
        raw = self._raw_path(src, clip)
        if src.format == "arcgis":
            if not raw.exists():
                download_layer(src.url, raw, where=src.where or "1=1", bbox=clip, page_size=src.page_size,
                               session=self.session, policy=self.policy, label=src.id, progress=self.bars)
            return raw, sha256_of(raw), "recorded"
        download(src.url, raw, src.sha256, session=self.session, policy=self.policy, label=src.id,
                 progress=self.bars)
        return raw, src.sha256 or sha256_of(raw), "catalog" if src.sha256 else "recorded"

    def _fetch_layer(self, name: str, clip, label, force: bool) -> dict:
        entry: LayerEntry = self.catalog.layer(name)
        sources, files = [], []
        for src in self.catalog.sources_of(name):
            out_dir = self.dir / name
            record = {"id": src.id, "url": src.url, "title": src.title, "publisher": src.publisher,
                      "licence": src.licence, "vintage": src.vintage, "format": src.format, "fetched": _now()}
            if src.format == "arcgis" and force:
                self._raw_path(src, clip).unlink(missing_ok=True)
            if src.format == "cog":
                prepared = prepare_raster(src.url, out_dir / f"{src.id}.tif", clip=clip, read_res=src.read_res,
                                          policy=self.policy)
                record |= {"raw": None}
            else:
                raw, digest, how = self._download(src, clip)
                record |= {"raw": str(raw.relative_to(self.dir)), "raw_sha256": digest, "checksum": how}
                if src.is_raster:
                    prepared = prepare_raster(dataset_path(raw, src), out_dir / f"{src.id}.tif", clip=clip,
                                              read_res=src.read_res, policy=self.policy)
                else:
                    table = table_src = None
                    if src.join is not None:
                        table_src = self.catalog.sources[src.join.source]
                        table, tdigest, thow = self._download(table_src, None)
                        record["join"] = {"id": table_src.id, "url": table_src.url, "vintage": table_src.vintage,
                                          "raw": str(table.relative_to(self.dir)), "raw_sha256": tdigest,
                                          "checksum": thow}
                    prepared = prepare_vector(src, raw, out_dir / f"{src.id}.parquet", where=entry.where,
                                              clip=clip, table=table, table_src=table_src)
            record["features"] = prepared.features
            sources.append(record)
            files.append({"path": str(prepared.path.relative_to(self.dir)), "sha256": sha256_of(prepared.path),
                          "bytes": prepared.path.stat().st_size})
        return {"sources": sources, "files": files, "mapping": entry.mapping, "where": entry.where,
                "clip": list(clip) if clip else None, "region": label if clip else None, "fetched": _now()}


def _covers(have, want) -> bool:
    return have[0] <= want[0] and have[1] <= want[1] and have[2] >= want[2] and have[3] >= want[3]


def _file_ok(data_dir: Path, f: dict) -> bool:
    # Remembered by path, size and modification time, so a fetch that has nothing to do does not
    # re-read gigabytes; `sitesel data verify` re-hashes every byte.
    p = Path(data_dir) / f["path"]
    return p.is_file() and sha256_file(p) == f["sha256"]


@dataclass
class VerifyResult:
    """One checked file."""

    layer: str
    path: str
    ok: bool
    problem: str = ""


def verify(data_dir: Path) -> list[VerifyResult]:
    """Re-check the checksum of every prepared file, and of every download still kept.

    Layers with a file that fails are removed from ``manifest.toml`` (so a corrupted file is never
    used) and from the record, so the next ``sitesel data fetch`` fetches them again.

    Parameters
    ----------
    data_dir : Path
        A data folder written by :class:`Fetcher`.

    Returns
    -------
    list of VerifyResult
        One per file checked.

    Raises
    ------
    SiteselError
        Nothing was fetched into ``data_dir``.
    """
    data_dir = Path(data_dir)
    state = load_state(data_dir)
    if not state["layers"]:
        raise SiteselError(f"{data_dir}: nothing fetched yet (run `sitesel data fetch --dir {data_dir}`)")
    results: list[VerifyResult] = []
    for name, entry in state["layers"].items():
        checks = [(f["path"], f["sha256"]) for f in entry["files"]]
        for s in entry["sources"]:
            for rec in (s, s.get("join")):
                if rec and rec.get("raw") and (data_dir / rec["raw"]).exists():
                    checks.append((rec["raw"], rec["raw_sha256"]))
        for rel, expected in dict.fromkeys(checks):
            p = data_dir / rel
            if not p.is_file():
                results.append(VerifyResult(name, rel, False, "missing"))
                continue
            got = sha256_of(p)
            results.append(VerifyResult(name, rel, got == expected,
                                        "" if got == expected else f"sha256 {got[:12]}... expected {expected[:12]}..."))
    bad = {r.layer for r in results if not r.ok}
    if bad:
        for name in bad:
            del state["layers"][name]
        save_state(data_dir, state)
        write_manifest(data_dir, state)
    return results


def listing(data_dir: Path, catalog: Catalog | None = None) -> list[dict]:
    """One row per layer: present or missing, vintage, source, clip, size.

    Parameters
    ----------
    data_dir : Path
        A data folder.
    catalog : Catalog, optional
        Also list the catalog's layers not fetched yet.

    Returns
    -------
    list of dict
        Keys ``layer``, ``status``, ``vintage``, ``source``, ``region``, ``features``, ``size``, ``fetched``.
    """
    state = load_state(data_dir)
    names = list(dict.fromkeys([*(catalog.layers if catalog else []), *state["layers"]]))
    rows = []
    for name in names:
        e = state["layers"].get(name)
        if e is None:
            srcs = catalog.sources_of(name) if catalog else []
            rows.append({"layer": name, "status": "missing", "vintage": "; ".join(s.vintage for s in srcs),
                         "source": "; ".join(s.publisher for s in srcs), "region": "", "features": "",
                         "size": "", "fetched": ""})
            continue
        feats = [s["features"] for s in e["sources"] if s.get("features") is not None]
        rows.append({
            "layer": name, "status": "present",
            "vintage": "; ".join(dict.fromkeys(s["vintage"] for s in e["sources"])),
            "source": "; ".join(dict.fromkeys(s["publisher"] for s in e["sources"])),
            "region": e.get("region") or "national", "features": f"{sum(feats):,}" if feats else "raster",
            "size": _size(sum(f.get("bytes", 0) for f in e["files"])), "fetched": e.get("fetched", "")[:10],
        })
    return rows


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"
