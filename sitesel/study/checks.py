"""Checks of a run's inputs against its region, made before any criterion raster is computed.

A run should fail in seconds, not after minutes of work, when a layer it needs cannot be used:
every file is opened and checked (:mod:`sitesel.io.files`), required columns are looked for,
and each layer's extent is compared with the region. A layer that does not reach the region at
all is an error naming the layer and the region; a layer that covers only part of it (a raster
with nodata holes, a water-stress layer with gaps) is a warning, recorded in ``run.json``,
that says which cells are affected.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyogrio
from pyproj import Transformer
from rasterio.warp import Resampling

from sitesel.errors import EmptyLayerError, LayerError
from sitesel.io.attributes import LayerReport, column_mapping, numeric_values
from sitesel.io.cache import CACHE_VERSION, cache_root, digest, file_fingerprint, load_json, save_json
from sitesel.io.files import bbox_in, gdal_reason, vector_info
from sitesel.io.formats import is_geoparquet
from sitesel.io.layers import check_declared_type, read_features
from sitesel.io.manifest import CANONICAL_LAYERS, NUMERIC_COLUMNS, REQUIRED_COLUMNS, Manifest
from sitesel.io.raster import raster_info, read_raster
from sitesel.study.grid import grid_for_bounds, rasterize_mask

__all__ = ["AREA_MARGIN_DEG", "COVERAGE_LAYERS", "EXCLUSION_LAYERS", "MIN_COVERAGE", "NODATA_MARKERS",
           "RASTER_RANGES", "InputChecks", "check_inputs", "layers_used"]

#: Vector layers are checked over the grid's lon/lat box plus this margin (degrees), as read.
AREA_MARGIN_DEG = 2.0
#: Layers whose absence near a region only means "nothing excluded there" (a warning).
EXCLUSION_LAYERS = {"protected_areas"}
#: Layers that should cover the whole region (share of the region their features reach).
COVERAGE_LAYERS = {"counties": "get no population", "water_stress": "get the criterion's missing score"}
#: A warning is given when a coverage layer or raster reaches less than this share of the region.
MIN_COVERAGE = 0.98
#: Plausible values (after ``scale``) of raster layers, with the unit and a hint.
RASTER_RANGES = {
    "dem": (-500.0, 9000.0, "metres", "a DEM in metres above sea level"),
    "solar": (0.5, 9.0, "kWh/m2/day", "for MJ/m2/day set scale = 0.2778"),
}
#: Values that mark "no data" in rasters that do not declare a nodata value.
NODATA_MARKERS = (-9999.0, -99999.0, -32768.0, -32767.0, 32767.0, 65535.0, -3.4028234663852886e38)


@dataclass
class InputChecks:
    """Warnings about the inputs, and what was measured, for the terminal and run.json."""

    warnings: list[str] = field(default_factory=list)
    coverage: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Plain data for run.json."""
        return {"warnings": list(self.warnings), "coverage": {k: round(v, 4) for k, v in self.coverage.items()}}


def layers_used(manifest: Manifest, layers) -> list[str]:
    """The layers a run reads: those given, plus federal land, lakes and protected areas when the
    manifest has them (the engine reads these whenever they are there).

    Parameters
    ----------
    manifest : Manifest
        The layers.
    layers : iterable of str
        Layers the profiles need.

    Returns
    -------
    list of str
    """
    return sorted(n for n in set(layers) | {"federal_lands", "lakes", "protected_areas"} if manifest.has(n))


def check_inputs(study, layers) -> InputChecks:
    """Check every layer a run will read against the study's region.

    Parameters
    ----------
    study : Study
        Gives the manifest, the region (``label``, ``geometry``, ``crs``) and the grid.
    layers : iterable of str
        Layers the profiles need (e.g. from :func:`sitesel.analysis.ranking.required_layers`).

    Raises
    ------
    LayerError
        A file cannot be used, or a layer does not reach the region at all.
    """
    layers = layers_used(study.manifest, layers)
    memo = _memo_path(study, layers) if study.use_cache else None
    saved = load_json(memo) if memo is not None else None
    if saved is not None:
        # These very files were checked for this region before (the key holds their sizes and
        # modification times): the same result, without parsing every file again.
        return InputChecks(list(saved["warnings"]), dict(saved["coverage"]))
    checks = _check_all(study, layers)
    if memo is not None:
        try:
            save_json(memo, checks.as_dict())
        except OSError:
            pass
    return checks


def _memo_path(study, layers):
    import shapely

    try:
        files = [(n, [file_fingerprint(s.path) for s in study.manifest[n].sources], repr(study.manifest[n]))
                 for n in layers]
    except OSError:
        return None  # a missing file: let the checks say which
    key = digest(files, shapely.to_wkb(study.region.geometry), study.grid.key(), CACHE_VERSION)
    return cache_root() / "checks" / f"{key}.json"


def _check_all(study, layers) -> InputChecks:
    checks = InputChecks()
    w, s, e, n = study.grid.lonlat_bounds()
    m = AREA_MARGIN_DEG
    area = (max(w - m, -180), max(s - m, -90), min(e + m, 180), min(n + m, 90))
    coarse = _coarse_region(study)
    # Layers being read by worker processes first (their files are then described already),
    # the others meanwhile.
    ahead = getattr(study, "layers_read_ahead", frozenset())
    for name in sorted(layers, key=lambda n: n in ahead):
        spec = study.manifest[name]
        if name in ahead:
            study.read_ahead(name)
        if spec.kind == "raster":
            _check_raster(spec, study, checks, coarse)
        else:
            _check_vector(spec, study, area, checks, coarse)
    return checks


def _overlaps(a, b) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _box(b) -> str:
    return f"lon {b[0]:.1f}..{b[2]:.1f}, lat {b[1]:.1f}..{b[3]:.1f}"


def _check_vector(spec, study, area, checks: InputChecks, coarse) -> None:
    family, _ = CANONICAL_LAYERS[spec.name]
    label = study.region.label
    infos = []
    for src in spec.sources:
        try:
            infos.append(vector_info(src.path, src.layer, spec.name, spec.crs, x=spec.x, y=spec.y))
        except EmptyLayerError:
            if len(spec.sources) == 1:
                raise  # one of several files may hold nothing (e.g. clipped to a region)
    if not infos:
        raise EmptyLayerError(f"layer '{spec.name}': all {len(spec.sources)} files are empty; "
                              "point the manifest at files that hold features")
    for info in infos:
        check_declared_type(spec, info, family)
        column_mapping(spec, info)
    near = [i for i in infos if i.lonlat_bounds is None or _overlaps(i.lonlat_bounds, area)]
    if not near:
        known = [i.lonlat_bounds for i in infos if i.lonlat_bounds]
        cover = _box((min(b[0] for b in known), min(b[1] for b in known), max(b[2] for b in known),
                      max(b[3] for b in known))) if known else "elsewhere"
        files = ", ".join(i.path.name for i in infos) if len(infos) <= 2 else f"{len(infos)} files"
        if spec.name in EXCLUSION_LAYERS:
            checks.warnings.append(f"layer '{spec.name}' ({files}) has no features near region {label} (it covers "
                                   f"{cover}): nothing there is excluded as a protected area")
            checks.coverage[spec.name] = 0.0
            return
        raise LayerError(f"layer '{spec.name}' ({files}) does not reach region {label}: its features cover {cover}; "
                         f"point the manifest at a layer that covers {label}")
    for canon in REQUIRED_COLUMNS.get(spec.name, ()):
        if canon in NUMERIC_COLUMNS:
            _check_numbers(spec, near, canon, area)
    if spec.name in COVERAGE_LAYERS:
        share = _coverage(spec, near, coarse, area)
        checks.coverage[spec.name] = share
        if share == 0:
            raise LayerError(f"layer '{spec.name}' ({near[0].path.name}) has no features over region {label}; "
                             f"point the manifest at a layer that covers {label}")
        if share < MIN_COVERAGE:
            checks.warnings.append(f"layer '{spec.name}' covers only {share:.0%} of region {label}; the cells it "
                                   f"misses {COVERAGE_LAYERS[spec.name]}")


def _check_numbers(spec, infos, canon: str, area) -> None:
    """Read one required numeric column over the area (no geometry) and check its values."""
    col = spec.fields.get(canon, canon)
    parts = []
    for info in infos:
        df = read_features(spec, info, [col], bbox_in(info, area))
        parts.append(df[col])
    raw = pd.concat(parts, ignore_index=True) if parts else pd.Series([], dtype=float)
    numeric_values(raw, spec, canon, LayerReport())


def _coverage(spec, infos, coarse, area) -> float:
    """Share of the region's cells (on a coarse grid) inside some feature's bounding box."""
    grid, region = coarse
    if not region.any():
        return 1.0
    covered = np.zeros(grid.shape, dtype=bool)
    for info in infos:
        if is_geoparquet(info.path) or spec.x:
            b = read_features(spec, info, [], bbox_in(info, area)).geometry.bounds.to_numpy().T
        else:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    _, b = pyogrio.read_bounds(info.path, layer=info.layer, where=spec.where,
                                               bbox=bbox_in(info, area))
            except Exception as exc:
                raise LayerError(f"layer '{spec.name}' ({info.path}): cannot read the file: "
                                 f"{gdal_reason(exc)}") from None
        b = b[:, np.all(np.isfinite(b), axis=0)]
        if not b.size:
            continue
        t = Transformer.from_crs(info.crs, grid.crs, always_xy=True)
        with np.errstate(all="ignore"):
            xs, ys = [], []
            for cx, cy in ((0, 1), (0, 3), (2, 1), (2, 3)):
                x, y = t.transform(b[cx], b[cy], errcheck=False)
                xs.append(x)
                ys.append(y)
            xs, ys = np.array(xs), np.array(ys)
        x0, x1, y0, y1 = np.nanmin(xs, 0), np.nanmax(xs, 0), np.nanmin(ys, 0), np.nanmax(ys, 0)
        ok = np.isfinite(x0) & np.isfinite(x1) & np.isfinite(y0) & np.isfinite(y1)
        c0 = np.clip(((x0[ok] - grid.xmin) // grid.res).astype(np.int64), 0, grid.width)
        c1 = np.clip(np.ceil((x1[ok] - grid.xmin) / grid.res).astype(np.int64), 0, grid.width)
        r0 = np.clip(((grid.ymax - y1[ok]) // grid.res).astype(np.int64), 0, grid.height)
        r1 = np.clip(np.ceil((grid.ymax - y0[ok]) / grid.res).astype(np.int64), 0, grid.height)
        for a, b_, c, d in zip(r0, r1, c0, c1):
            covered[a:b_, c:d] = True
    return float((covered & region).sum() / region.sum())


def _coarse_region(study):
    """A grid over the region with at most ~300 cells a side (and no finer than the study's), and
    the region's mask on it."""
    xmin, ymin, xmax, ymax = study.region.geometry.bounds
    res = max(study.grid.res, max(xmax - xmin, ymax - ymin) / 300.0, 10.0)
    grid = grid_for_bounds((xmin, ymin, xmax, ymax), study.region.crs, res)
    return grid, rasterize_mask([study.region.geometry], grid)


def _check_raster(spec, study, checks: InputChecks, coarse) -> None:
    info = raster_info(spec)
    label = study.region.label
    where = f"raster '{spec.name}' ({spec.sources[0].path})"
    ll = info.get("lonlat_bounds")
    rw, rs, re_, rn = Transformer.from_crs(study.region.crs, "EPSG:4326", always_xy=True).transform_bounds(
        *study.region.geometry.bounds, densify_pts=21)
    if ll is not None and not _overlaps(ll, (rw, rs, re_, rn)):
        raise LayerError(f"{where} does not cover region {label}: it covers {_box(ll)}; "
                         f"supply a raster that covers {label}")
    grid, region = coarse
    if not region.any():
        return
    declared = spec.nodata if spec.nodata is not None else info["nodata"]
    vals = read_raster(spec, grid.crs, grid.transform, grid.shape, Resampling.nearest)[region]
    if declared is None:
        raw = vals / np.float32(spec.scale) if spec.scale != 1.0 else vals
        for marker in NODATA_MARKERS:
            hit = np.isclose(raw, marker, rtol=1e-6)
            if hit.any():
                raise LayerError(f"{where} has no nodata value, yet {hit.mean():.0%} of its cells over region {label} "
                                 f"hold {marker:g}, a usual 'no data' marker; set nodata = {marker:g} in its manifest "
                                 "entry")
    valid = np.isfinite(vals)
    share = float(valid.mean())
    checks.coverage[spec.name] = share
    if share == 0:
        raise LayerError(f"{where} has no data over region {label} (all nodata); supply a raster that covers {label}")
    if spec.name in RASTER_RANGES:
        lo, hi, unit, hint = RASTER_RANGES[spec.name]
        vmin, vmax = float(vals[valid].min()), float(vals[valid].max())
        if vmin < lo or vmax > hi:
            raise LayerError(f"{where}: values over region {label} run {vmin:.3g}..{vmax:.3g}, outside the plausible "
                             f"{lo:g}..{hi:g} {unit} (after scale = {spec.scale:g}); check its unit ({hint}) "
                             "and nodata")
    if share < MIN_COVERAGE:
        from sitesel.measures.catalogue import MEASURES

        uses = sorted(m for m, ms in MEASURES.items() if spec.name in ms.layers)
        checks.warnings.append(f"{where} has no data for {1 - share:.0%} of region {label}; there "
                               f"{', '.join(uses)} is missing: cells fail its hard constraints and get its "
                               "criteria's missing score")
