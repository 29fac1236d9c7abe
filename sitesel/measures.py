"""The catalogue of measures: raw criterion values computed as rasters on the analysis grid.

Distances use an exact Euclidean distance transform (the ``edt`` package) from rasterised
features; neighbourhood sums use an FFT convolution with a disc. Neither depends on weights, so
a study computes each once and caches it.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable

import edt
import numpy as np
import scipy.fft
from scipy import ndimage
from affine import Affine
from rasterio.warp import Resampling, reproject

from .grid import grid_for_bounds, point_sum, rasterize_mask, rasterize_values
from .layers import raster_info, read_raster

#: Voltage classes (kV) of transmission lines and substations that measures distinguish.
EDT_THREADS = os.cpu_count() or 1
#: Voltage classes (kV) of transmission lines and substations that measures distinguish.
KV_CLASSES = (115, 230, 345, 500, 765)
#: Radius within which `tx_kv_within_15km` looks for lines.
KV_REACH_KM = 15.0
#: Water-stress gaps are filled from the nearest basin within this distance.
WATER_STRESS_FILL_KM = 50.0


@dataclass(frozen=True)
class Measure:
    """A raw criterion: its unit, the layers it needs, and how a site's value is taken.

    ``site`` is ``"min"`` (nearest point of the site: distances), ``"max"`` or ``"mean"``.
    ``refine`` names a (layer, kV threshold column, threshold) for exact vector distances.
    """

    name: str
    unit: str
    description: str
    layers: tuple[str, ...]
    site: str
    compute: Callable
    refine: tuple | None = None
    higher_is_better: bool | None = None
    depends: tuple[str, ...] = ()  # other measures it is computed from

    @property
    def derived(self) -> bool:
        return bool(self.depends)


def distance_km(mask: np.ndarray, res: float) -> np.ndarray:
    """Distance in km from every cell centre to the nearest True cell (inf if there is none)."""
    if not mask.any():
        return np.full(mask.shape, np.inf, dtype=np.float32)
    d = edt.edt(~mask, black_border=False, parallel=EDT_THREADS)
    d *= np.float32(res / 1000.0)
    return d


def disc_sum(values: np.ndarray, radius_cells: float) -> np.ndarray:
    """Sum of ``values`` within a disc of ``radius_cells`` around each cell (FFT convolution)."""
    r = int(math.floor(radius_cells))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    kernel = ((yy * yy + xx * xx) <= radius_cells * radius_cells).astype(np.float32)
    h, w = values.shape
    fh, fw = scipy.fft.next_fast_len(h + 2 * r, real=True), scipy.fft.next_fast_len(w + 2 * r, real=True)
    fa = scipy.fft.rfft2(values.astype(np.float32), s=(fh, fw), workers=-1)
    fa *= scipy.fft.rfft2(kernel, s=(fh, fw), workers=-1)
    full = scipy.fft.irfft2(fa, s=(fh, fw), workers=-1)
    out = full[r:r + h, r:r + w].astype(np.float32)
    out[out < 0] = 0  # FFT round-off around zero
    return out


def _features_mask(study, layer: str, column: str | None = None, threshold: float | None = None) -> np.ndarray:
    gdf = study.layer(layer)
    if column is not None:
        gdf = gdf[gdf[column] >= threshold]
    return rasterize_mask(gdf.geometry.values, study.grid, all_touched=True)


def _dist(layer: str, column: str | None = None, threshold: float | None = None):
    def compute(study):
        return distance_km(_features_mask(study, layer, column, threshold), study.grid.res)
    return compute


def _dist_water(study):
    m = _features_mask(study, "rivers") | _features_mask(study, "lakes")
    return distance_km(m, study.grid.res)


def _kv_reach(study):
    out = np.zeros(study.grid.shape, dtype=np.float32)
    for kv in KV_CLASSES:  # ascending, so the highest reachable class wins
        out[study.measure(f"dist_tx_{kv}kv_km") <= KV_REACH_KM] = kv
    return out


def _sum_within(layer: str, column: str, radius_km: float):
    def compute(study):
        return disc_sum(point_sum(study.layer(layer), column, study.grid), radius_km * 1000 / study.grid.res)
    return compute


def _population_within(radius_km: float):
    def compute(study):
        counties = study.layer("counties").copy()
        area = counties.geometry.area.to_numpy()
        counties["density"] = counties["population"].to_numpy(dtype="float64") / np.where(area > 0, area, np.nan)
        # Boundaries finer than a quarter cell do not change which cell centres a county covers,
        # and full-resolution TIGER outlines cost most of the rasterising time.
        counties["geometry"] = counties.geometry.simplify(study.grid.res / 4, preserve_topology=False)
        per_cell = rasterize_values(counties, "density", study.grid, fill=0.0)
        np.nan_to_num(per_cell, copy=False)
        per_cell *= np.float32(study.grid.res ** 2)
        return disc_sum(per_cell, radius_km * 1000 / study.grid.res)
    return compute


def _water_stress(study):
    vals = rasterize_values(study.layer("water_stress"), "bws_cat", study.grid)
    gaps = np.isnan(vals)
    if gaps.any() and (~gaps).any():
        # The nearest basin's category fills gaps; done on a coarser copy because the signal is
        # regional and a nearest-index transform at full resolution costs ~10x an EDT.
        f = max(1, math.ceil(math.sqrt(vals.size / 4e6)))
        coarse = vals[::f, ::f]
        dist, (ri, ci) = ndimage.distance_transform_edt(np.isnan(coarse), return_indices=True)
        filled = coarse[ri, ci]
        filled[dist * f * study.grid.res / 1000 > WATER_STRESS_FILL_KM] = np.nan
        up = np.repeat(np.repeat(filled, f, axis=0), f, axis=1)[: vals.shape[0], : vals.shape[1]]
        vals[gaps] = up[gaps]
    return vals


def _slope(study):
    spec = study.manifest["dem"]
    info = raster_info(spec)
    src_res = info["res"][0] * (111_000.0 if info["crs"].is_geographic else 1.0)
    grid = study.grid
    if src_res >= grid.res:
        # A DEM coarser than the grid: take slope on a grid of the DEM's own spacing, then
        # interpolate the slope (interpolating elevation first gives the same relief, slower).
        coarse = grid_for_bounds(grid.bounds, grid.crs, src_res)
        slope = _slope_on(spec, coarse.transform, coarse.shape, coarse.res, grid.crs)
        out = np.full(grid.shape, np.nan, dtype=np.float32)
        reproject(slope, out, src_transform=coarse.transform, src_crs=grid.crs, src_nodata=np.nan,
                  dst_transform=grid.transform, dst_crs=grid.crs, dst_nodata=np.nan,
                  resampling=Resampling.bilinear, num_threads=2)
        return out
    # A finer DEM: slope at the DEM's resolution (up to a cell budget), averaged onto the grid,
    # so fine relief is kept rather than smoothed away by resampling elevation first.
    factor = max(1, min(int(grid.res // max(src_res, 1.0)), int(math.sqrt(2e8 / grid.size)) or 1))
    fine_res = grid.res / factor
    tr = Affine(fine_res, 0, grid.xmin, 0, -fine_res, grid.ymax)
    slope = _slope_on(spec, tr, (grid.height * factor, grid.width * factor), fine_res, grid.crs)
    if factor > 1:
        slope = np.nanmean(slope.reshape(grid.height, factor, grid.width, factor), axis=(1, 3))
    return slope


def _slope_on(spec, transform, shape, res, crs) -> np.ndarray:
    dem = read_raster(spec, crs, transform, shape, Resampling.bilinear)
    gy, gx = np.gradient(dem, res)
    return (np.hypot(gx, gy) * 100.0).astype(np.float32)


def _solar(study):
    return read_raster(study.manifest["solar"], study.grid.crs, study.grid.transform, study.grid.shape,
                       Resampling.bilinear)


def _catalogue() -> dict[str, Measure]:
    ms: list[Measure] = []
    for kv in KV_CLASSES:
        ms.append(Measure(f"dist_tx_{kv}kv_km", "km", f"distance to the nearest transmission line of {kv} kV or more",
                          ("transmission_lines",), "min", _dist("transmission_lines", "voltage_kv", kv),
                          refine=("transmission_lines", "voltage_kv", kv), higher_is_better=False))
    for kv in (115, 230, 345):
        ms.append(Measure(f"dist_sub_{kv}kv_km", "km", f"distance to the nearest substation with a known maximum voltage of {kv} kV or more",
                          ("substations",), "min", _dist("substations", "max_kv", kv),
                          refine=("substations", "max_kv", kv), higher_is_better=False))
    ms += [
        Measure("tx_kv_within_15km", "kV", "highest voltage class (115/230/345/500/765 kV) of a line within 15 km; 0 if none",
                ("transmission_lines",), "max", _kv_reach, higher_is_better=True,
                depends=tuple(f"dist_tx_{kv}kv_km" for kv in KV_CLASSES)),
        Measure("gen_mw_50km", "MW", "total net summer capacity of power plants within 50 km",
                ("power_plants",), "mean", _sum_within("power_plants", "mw", 50.0), higher_is_better=True),
        Measure("dist_interstate_km", "km", "distance to the nearest Interstate", ("interstates",), "min",
                _dist("interstates"), refine=("interstates", None, None), higher_is_better=False),
        Measure("dist_highway_km", "km", "distance to the nearest Interstate, US or state highway", ("highways",), "min",
                _dist("highways"), refine=("highways", None, None), higher_is_better=False),
        Measure("dist_rail_km", "km", "distance to the nearest main-line railroad", ("railroads",), "min",
                _dist("railroads"), refine=("railroads", None, None), higher_is_better=False),
        Measure("dist_port_km", "km", "distance to the nearest major port", ("ports",), "min",
                _dist("ports"), refine=("ports", None, None), higher_is_better=False),
        Measure("dist_airport_km", "km", "distance to the nearest commercial airport", ("airports",), "min",
                _dist("airports"), refine=("airports", None, None), higher_is_better=False),
        Measure("dist_water_km", "km", "distance to the nearest river or lake", ("rivers", "lakes"), "min",
                _dist_water, refine=("water", None, None), higher_is_better=False),
        Measure("water_stress_cat", "category 0-4", "WRI Aqueduct baseline water stress (0 low ... 4 extremely high or arid)",
                ("water_stress",), "mean", _water_stress, higher_is_better=False),
        Measure("pop_45km", "people", "residents within 45 km (about a 45-minute commute)", ("counties",), "mean",
                _population_within(45.0), higher_is_better=True),
        Measure("pop_80km", "people", "residents within 80 km (about a 60-minute commute)", ("counties",), "mean",
                _population_within(80.0), higher_is_better=True),
        Measure("slope_pct", "%", "terrain slope", ("dem",), "mean", _slope, higher_is_better=False),
        Measure("ghi_kwh_m2_day", "kWh/m2/day", "global horizontal irradiance, annual mean", ("solar",), "mean",
                _solar, higher_is_better=True),
    ]
    return {m.name: m for m in ms}


MEASURES: dict[str, Measure] = _catalogue()
