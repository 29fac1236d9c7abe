"""The inputs of a study as one process sees them: layers read once, in the grid CRS.

A :class:`StudySpec` is small and picklable (manifest, grid, distance cap); every process that
computes part of a study (the main one, local worker processes, Dask workers) turns it into an
:class:`Inputs` with :func:`inputs_for`, which reads each layer at most once per process and
keeps pixel-space copies and spatial indexes for rasterising tiles.

Normalised layers are also cached on disk as GeoParquet (see :mod:`sitesel.io.layercache`), so a
later process skips parsing, reprojection and geometry repair.
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely

from sitesel import __version__
from sitesel.io.cache import CACHE_VERSION, digest, file_fingerprint
from sitesel.io.layercache import layer_key, read_layer_cached
from sitesel.io.layers import LayerReport
from sitesel.io.manifest import Manifest
from sitesel.study.grid import Grid, Window, to_pixel_space

__all__ = ["READ_MARGIN_DEG", "Inputs", "StudySpec", "inputs_for"]

#: Vector layers are read over the grid's lon/lat box plus this margin (degrees).
READ_MARGIN_DEG = 2.0


@dataclass(frozen=True)
class StudySpec:
    """What every process needs to compute a study's criterion values.

    Attributes
    ----------
    manifest : Manifest
        Which files serve which layer.
    grid : Grid
        The analysis grid.
    cap_km : float
        Distances beyond this are reported as "farther than" (``inf``); it bounds the overlap
        that tiles need and so keeps tiled and untiled results identical.
    use_cache : bool
        Read and write the on-disk caches.
    cache_dir : str, optional
        The cache folder, fixed when the study opens: worker processes (started from a server
        process with its own environment) must use the same one.
    """

    manifest: Manifest
    grid: Grid
    cap_km: float
    use_cache: bool = True
    cache_dir: str | None = None

    def key(self) -> str:
        """A short identifier of the study in a process (see :func:`inputs_for`)."""
        # The cache folder is part of a study's identity in a process: layers read for a study
        # with another folder were written there, not here.
        text = (f"{self.manifest.path}|{self.grid.key()}|{self.cap_km}|{self.use_cache}|{self.cache_dir}|"
                f"{__version__}")
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def read_bbox(self) -> tuple[float, float, float, float]:
        """The lon/lat box vector layers are read over: the grid's plus :data:`READ_MARGIN_DEG`."""
        w, s, e, n = self.grid.lonlat_bounds()
        m = READ_MARGIN_DEG
        return (max(w - m, -180), max(s - m, -90), min(e + m, 180), min(n + m, 90))

    def fingerprint(self, layers) -> str:
        """A cache key for what is computed on this grid from ``layers``.

        Parameters
        ----------
        layers : iterable of str
            Layers of the manifest.

        Returns
        -------
        str
            Changes with the grid, the cap, the code version and the layers' files and settings.
        """
        parts = [self.grid.key(), self.cap_km, __version__, CACHE_VERSION]
        for name in sorted(layers):
            spec = self.manifest[name]
            if spec.kind == "raster":
                parts.append((name, repr(spec), [file_fingerprint(s.path) for s in spec.sources]))
            else:
                parts.append((name, layer_key(spec, self.grid.crs, self.read_bbox())))
        return digest(*parts)


@dataclass
class Inputs:
    """Layers of one study in one process, read on first use (thread-safe)."""

    spec: StudySpec
    reports: dict[str, LayerReport] = field(default_factory=dict)
    _layers: dict = field(default_factory=dict)
    _pixel: dict = field(default_factory=dict)
    _locks: dict = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def _lock(self, key) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def layer(self, name: str, progress=None) -> gpd.GeoDataFrame:
        """The named vector layer, normalised, in the grid CRS."""
        with self._lock(("layer", name)):
            if name not in self._layers:
                report = LayerReport()
                spec = self.spec.manifest[name]
                if progress is not None:
                    with progress.step(f"reading {name}"):
                        gdf = read_layer_cached(spec, self.spec.grid.crs, self.spec.read_bbox(), report,
                                                self.spec.use_cache, self.spec.cache_dir)
                else:
                    gdf = read_layer_cached(spec, self.spec.grid.crs, self.spec.read_bbox(), report,
                                            self.spec.use_cache, self.spec.cache_dir)
                self._layers[name] = gdf
                self.reports[name] = report
            return self._layers[name]

    def has_layer(self, name: str) -> bool:
        """Whether the named layer has been read in this process."""
        return name in self._layers

    def features(self, layer: str, column: str | None = None, minimum: float | None = None) -> gpd.GeoDataFrame:
        """A layer's features, optionally only those with ``column >= minimum``."""
        gdf = self.layer(layer)
        if column is not None:
            gdf = gdf[gdf[column].to_numpy(dtype="float64") >= minimum].reset_index(drop=True)
        return gdf

    def pixel(self, layer: str, column: str | None = None, minimum: float | None = None,
              simplify: float = 0.0) -> tuple[np.ndarray, shapely.STRtree]:
        """Pixel-space geometries of (filtered) features and their spatial index.

        ``simplify`` (in cells) drops detail finer than a cell can show; it is applied to whole
        geometries, so every tile sees the same shapes.
        """
        key = (layer, column, minimum, simplify)
        with self._lock(("pixel", key)):
            if key not in self._pixel:
                geoms = to_pixel_space(self.features(layer, column, minimum).geometry.values, self.spec.grid)
                if simplify:
                    # Normalised first, so the result does not depend on where rings start or
                    # which way they run in the file.
                    geoms = shapely.simplify(shapely.normalize(geoms), simplify, preserve_topology=False)
                self._pixel[key] = (geoms, shapely.STRtree(geoms))
            return self._pixel[key]

    def pixel_query(self, layer: str, column: str | None = None, minimum: float | None = None,
                    window: Window | None = None, simplify: float = 0.0) -> np.ndarray:
        """Indices of the (filtered) features that may touch ``window``, ascending."""
        geoms, tree = self.pixel(layer, column, minimum, simplify)
        if window is None:
            return np.arange(len(geoms))
        box = shapely.box(window.col - 1, window.row - 1, window.col + window.width + 1,
                          window.row + window.height + 1)
        return np.sort(tree.query(box))

    def pixel_features(self, layer: str, column: str | None = None, minimum: float | None = None,
                       window: Window | None = None, simplify: float = 0.0) -> np.ndarray:
        """Pixel-space geometries of the (filtered) features that may touch ``window``."""
        geoms, _ = self.pixel(layer, column, minimum, simplify)
        return geoms[self.pixel_query(layer, column, minimum, window, simplify)]

    def pixel_points(self, layer: str) -> np.ndarray:
        """``(n, 2)`` pixel coordinates of a point layer's features (representative points)."""
        key = ("points", layer)
        with self._lock(("pixel", key)):
            if key not in self._pixel:
                pts = self.layer(layer).geometry.representative_point().values
                self._pixel[key] = shapely.get_coordinates(to_pixel_space(pts, self.spec.grid))
            return self._pixel[key]


_INPUTS: dict[str, Inputs] = {}
_INPUTS_GUARD = threading.Lock()


def inputs_for(spec: StudySpec) -> Inputs:
    """The process-wide :class:`Inputs` for ``spec`` (one per study per process)."""
    key = spec.key()
    with _INPUTS_GUARD:
        if key not in _INPUTS:
            if len(_INPUTS) >= 4:  # a long-lived worker serving many studies keeps only recent ones
                _INPUTS.pop(next(iter(_INPUTS)))
            _INPUTS[key] = Inputs(spec)
        return _INPUTS[key]
