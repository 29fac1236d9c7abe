"""Copies of the real layers in ../shared/data, each damaged in one way, built in a test's tmp dir.

Nothing here is synthetic: every file starts as a published layer (or a regional subset of one)
and is then truncated, mislabelled, stripped of its CRS, reprojected, and so on.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio

from sitesel.io.manifest import default_manifest_path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
#: Lon/lat box around New Mexico (plus margin) for regional subsets.
NM_BOX = (-112.0, 29.0, -100.0, 40.0)

SUBSTATIONS = SHARED / "grid/substations_hifld.gpkg"
LINES = SHARED / "grid/transmission_lines_hifld_230kv_plus.gpkg"
PLANTS = SHARED / "grid/power_plants_eia_202311.gpkg"
FEDERAL = SHARED / "federal_lands/federal_lands_coarse_usgs_natatlas.gpkg"
PADUS_NM = SHARED / "federal_lands/padus_park_units/PADUS3_0Combined_StateNM.geojson"
DEM_5070 = SHARED / "rasters/conus_dem_gridmet_4km_epsg5070.tif"
DEM_4326 = SHARED / "rasters/conus_dem_gridmet_4km_epsg4326.tif"
SOLAR = SHARED / "rasters/conus_ghi_prism_soltotal_1991_2020_4km.tif"
SUBSTATIONS_ZIP = SHARED / "grid/raw/hifld_substations_conus_albers.zip"


def manifest(folder: Path, **tables: str | None) -> Path:
    """The national manifest with ``root`` made absolute and some ``[layers.X]`` tables replaced.

    ``tables`` maps a layer name to its new TOML body (``None`` drops the layer).
    """
    text = default_manifest_path().read_text()
    text = text.replace('root = "../../../shared/data"', f'root = "{SHARED}"')
    head, blocks, current = [], {}, None
    for line in text.splitlines():
        if line.startswith("[layers."):
            current = line.strip()[len("[layers."):-1]
            blocks[current] = [line]
        elif current is None:
            head.append(line)
        else:
            blocks[current].append(line)
    for name, body in tables.items():
        if body is None:
            blocks.pop(name, None)
        else:
            blocks[name] = [f"[layers.{name}]", body.strip()]
    out = Path(folder) / "layers.toml"
    out.write_text("\n".join(head + [ln for b in blocks.values() for ln in b + [""]]) + "\n")
    return out


def subset(path: Path, layer: str | None = None, box=NM_BOX) -> gpd.GeoDataFrame:
    """Features of a real layer within a lon/lat box."""
    return gpd.read_file(path, layer=layer, bbox=box, engine="pyogrio")


def truncated(src: Path, dst: Path, share: float) -> Path:
    """The first ``share`` of a file's bytes."""
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * share)])
    return Path(dst)


def relabelled(gdf: gpd.GeoDataFrame, crs, dst: Path, **kw) -> Path:
    """Write ``gdf``'s coordinates unchanged under another CRS label (a mislabelled file)."""
    gdf.set_crs(crs, allow_override=True).to_file(dst, engine="pyogrio", **kw)
    return Path(dst)


def without_prj(gdf: gpd.GeoDataFrame, dst_shp: Path) -> Path:
    """A shapefile with no .prj (no CRS)."""
    gdf.to_file(dst_shp, engine="pyogrio")
    Path(dst_shp).with_suffix(".prj").unlink()
    return Path(dst_shp)


def geojson_without_crs(gdf: gpd.GeoDataFrame, dst: Path) -> Path:
    """GeoJSON with its ``crs`` member removed (readers then assume WGS84 degrees)."""
    gdf.to_file(dst, driver="GeoJSON", engine="pyogrio")
    doc = json.loads(Path(dst).read_text())
    doc.pop("crs", None)
    Path(dst).write_text(json.dumps(doc))
    return Path(dst)


def zip_without_shp(dst: Path) -> Path:
    """The real HIFLD substations zip with its .shp member left out."""
    with zipfile.ZipFile(SUBSTATIONS_ZIP) as z, zipfile.ZipFile(dst, "w") as out:
        for name in z.namelist():
            if not name.lower().endswith(".shp"):
                out.writestr(name, z.read(name))
    return Path(dst)


def raster_copy(src: Path, dst: Path, *, crs="keep", nodata="keep", hole_lonlat=None,
                window_lonlat=None) -> Path:
    """A copy of a real GeoTIFF, optionally relabelled, without nodata, cropped or with a hole.

    ``hole_lonlat`` (w, s, e, n) is filled with the file's nodata value (-9999).
    """
    from rasterio.warp import transform_bounds
    from rasterio.windows import from_bounds

    with rasterio.open(src) as ds:
        profile = ds.profile.copy()
        data = ds.read(1)
        transform = ds.transform
        marker = ds.nodata if ds.nodata is not None else -9999.0
        if window_lonlat is not None:
            b = transform_bounds("EPSG:4326", ds.crs, *window_lonlat, densify_pts=21)
            win = from_bounds(*b, transform=ds.transform).round_offsets().round_lengths()
            data = ds.read(1, window=win)
            transform = ds.window_transform(win)
            profile.update(width=data.shape[1], height=data.shape[0])
        if hole_lonlat is not None:
            b = transform_bounds("EPSG:4326", ds.crs, *hole_lonlat, densify_pts=21)
            win = from_bounds(*b, transform=transform).round_offsets().round_lengths()
            r0, c0 = max(int(win.row_off), 0), max(int(win.col_off), 0)
            data[r0:r0 + int(win.height), c0:c0 + int(win.width)] = marker
        src_crs = ds.crs
    profile.update(transform=transform)
    if nodata != "keep":
        profile["nodata"] = nodata
    profile["crs"] = src_crs if crs == "keep" else crs
    if crs is None:
        del profile["crs"]
    with rasterio.open(dst, "w", **profile) as out:
        out.write(data, 1)
    return Path(dst)


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (relative paths), to show nothing changed."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def staging_left(parent: Path) -> list[Path]:
    """Staging or backup folders of sitesel runs left beside outputs in ``parent``."""
    return sorted(p for p in Path(parent).iterdir() if ".sitesel-" in p.name)


def run_without_privileges(argv: list[str]) -> subprocess.CompletedProcess:
    """Run ``sitesel ARGV`` in a subprocess that file permissions apply to.

    As root, the process keeps its user but loses the capabilities that bypass permission
    checks (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so a mode-000 file cannot be read and a
    mode-555 folder cannot be written, as for any ordinary user.
    """
    cmd = [sys.executable, "-m", "sitesel", *argv]
    if os.geteuid() == 0:
        cmd = [shutil.which("setpriv"), "--bounding-set=-dac_override,-dac_read_search", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def one_error_line(stderr: str) -> str:
    """The single ``sitesel: error:`` line of a run's stderr (progress and warnings aside)."""
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith("[")
             and not ln.startswith("sitesel: warning:")]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1 and lines[0].startswith("sitesel: error: "), stderr
    return lines[0]


def tif_bounds_lonlat(path: Path) -> tuple:
    from rasterio.warp import transform_bounds

    with rasterio.open(path) as ds:
        return transform_bounds(ds.crs, "EPSG:4326", *ds.bounds)


def finite_fraction(a: np.ndarray) -> float:
    return float(np.isfinite(a).mean())
