"""The candidate cells of a study under each land mode, kept in memory and in the disk cache.

They come in two steps (see :mod:`sitesel.study.land`): the cheap superset (federal polygons
only), on which the measures start, and the exact filter of it (protected areas, lakes, exact
region edges). Both are cached on disk under keys made of the grid, the region, the land
policy and the fingerprints of the layers they are made from, so every later run over the same
region reuses them.
"""
from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from sitesel.errors import LayerError
from sitesel.io.cache import atomic_file, cache_root, digest, load_array, save_array
from sitesel.progress import SILENT, Progress
from sitesel.study.inputs import StudySpec
from sitesel.study.land import Candidates, LandPolicy, candidate_filter, candidate_superset, excluded_geometries

__all__ = ["CandidateCells", "load_candidates", "save_candidates"]

#: Reads a layer: ``layer(name)`` -> its features in the grid CRS.
LayerReader = Callable[[str], gpd.GeoDataFrame]


class CandidateCells:
    """Candidate cells of one study, per land mode, worked out once (thread-safe).

    Pickled without what it has worked out: another process loads it from the disk cache.

    Parameters
    ----------
    spec : StudySpec
        The study's manifest and grid.
    region_geometry : shapely geometry
        The region, in the grid CRS.
    policy : LandPolicy
        Land that is never eligible.
    progress : Progress
        Receives a line per step.
    """

    def __init__(self, spec: StudySpec, region_geometry, policy: LandPolicy, progress: Progress = SILENT):
        self.spec = spec
        self.region_geometry = region_geometry
        self.policy = policy
        self.progress = progress
        self._supersets: dict[str, tuple[Candidates, Path]] = {}
        self._filtered: dict[str, tuple[Candidates, np.ndarray]] = {}
        self._region_digest: str | None = None
        self._guard = threading.RLock()

    def __getstate__(self) -> dict:
        return {"spec": self.spec, "region_geometry": self.region_geometry, "policy": self.policy,
                "progress": self.progress}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    def _has(self, layer: str) -> bool:
        return self.spec.manifest.has(layer)

    def superset_path(self, land: str) -> Path:
        """Where the superset of ``land`` is cached (whether or not it is there)."""
        if land in self._supersets:
            return self._supersets[land][1]
        layers = ["federal_lands"] if self._has("federal_lands") else []
        key = digest(self.spec.fingerprint(layers), land, self.policy, self._region_key())
        return cache_root() / "candidates" / self.spec.grid.key() / f"{land}-{key}.npz"

    def _region_key(self) -> str:
        # The lower 48's outline is about a megabyte of WKB: hashed once.
        if self._region_digest is None:
            self._region_digest = digest(shapely.to_wkb(self.region_geometry))
        return self._region_digest

    def superset(self, land: str, layer: LayerReader) -> Candidates:
        """The cheap superset of candidate cells (see :func:`sitesel.study.land.candidate_superset`).

        Parameters
        ----------
        land : {'federal', 'all'}
            The land mode.
        layer : callable
            Reads a layer (``federal_lands``) when the superset is not cached.

        Returns
        -------
        Candidates

        Raises
        ------
        LayerError
            ``land='federal'`` without a federal_lands layer.
        """
        with self._guard:
            if land not in self._supersets:
                path = self.superset_path(land)
                cand = load_candidates(path)
                if cand is None:
                    with self.progress.step(f"candidate cells ({land})"):
                        federal = layer("federal_lands") if self._has("federal_lands") else None
                        if land == "federal" and federal is None:
                            raise LayerError("the manifest has no federal_lands layer; add it, or pass "
                                             "{opt:land='all'}")
                        cand = candidate_superset(self.spec.grid, self.region_geometry, federal, self.policy, land)
                    if self.spec.use_cache:
                        save_candidates(path, cand)
                self._supersets[land] = (cand, path)
            return self._supersets[land][0]

    def candidates(self, land: str, layer: LayerReader) -> Candidates:
        """Cells some profile may use under ``land``: the superset, filtered exactly.

        Parameters
        ----------
        land : {'federal', 'all'}
            The land mode.
        layer : callable
            Reads the layers the filter needs when it is not cached.

        Returns
        -------
        Candidates
        """
        with self._guard:
            if land not in self._filtered:
                sup = self.superset(land, layer)
                path = self._supersets[land][1]
                layers = [n for n in ("federal_lands", "protected_areas", "lakes") if self._has(n)]
                kpath = path.with_name(path.stem + f"-keep-{self.spec.fingerprint(layers)}.npy")
                keep = load_array(kpath, len(sup)) if self.spec.use_cache else None
                if keep is None:
                    keep = self.filter(sup, land, layer)
                    if self.spec.use_cache:
                        save_array(kpath, keep)
                self._filtered[land] = (sup.subset(keep.astype(bool)), keep.astype(bool))
            return self._filtered[land][0]

    def keep(self, land: str, layer: LayerReader) -> np.ndarray:
        """Which cells of the superset are candidates (bool, one per superset cell)."""
        self.candidates(land, layer)
        return self._filtered[land][1]

    def filter(self, sup: Candidates, land: str, layer: LayerReader) -> np.ndarray:
        """Work out which cells of ``sup`` are candidates (see :func:`sitesel.study.land.candidate_filter`).

        Parameters
        ----------
        sup : Candidates
            The superset.
        land : {'federal', 'all'}
            The land mode.
        layer : callable
            Reads federal_lands, protected_areas and lakes (those the manifest has).

        Returns
        -------
        ndarray of bool
        """
        federal = layer("federal_lands") if self._has("federal_lands") else None
        protected = layer("protected_areas") if self._has("protected_areas") else None
        lakes = layer("lakes").geometry.values if self._has("lakes") else None
        with self.progress.step(f"eligible land ({land})"):
            excluded = excluded_geometries(federal, protected, self.policy)
            return candidate_filter(self.spec.grid, sup, self.region_geometry, federal, excluded, lakes, land)

    def cells_file(self, land: str, layer: LayerReader) -> Path:
        """The superset's cells as ``.npy``, for worker processes to map.

        Parameters
        ----------
        land : {'federal', 'all'}
            The land mode.
        layer : callable
            Reads a layer if the superset must be worked out.

        Returns
        -------
        Path
            Beside the cached superset, or in a new temporary folder without a disk cache.
        """
        sup = self.superset(land, layer)
        if not self.spec.use_cache:
            path = Path(tempfile.mkdtemp(prefix="sitesel-")) / "cells.npy"
            save_array(path, sup.cells)
            return path
        path = self._supersets[land][1].with_suffix(".cells.npy")
        if load_array(path, len(sup), mmap=True) is None:  # only its length is checked: map, don't read
            save_array(path, sup.cells)
        return path


def load_candidates(path: Path) -> Candidates | None:
    """Candidates saved by :func:`save_candidates`, or None when the file is missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return Candidates(z["cells"], z["agency"], tuple(str(a) for a in z["agencies"]))
    except (OSError, ValueError, KeyError):
        return None


def save_candidates(path: Path, cand: Candidates) -> None:
    """Save candidates as ``.npz`` (atomically; an unwritable cache is ignored, it only costs time)."""
    try:
        with atomic_file(path) as f:
            np.savez(f, cells=cand.cells, agency=cand.agency, agencies=np.array(cand.agencies, dtype=str))
    except OSError:
        pass
