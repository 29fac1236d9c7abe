"""Land policy and the candidate cells it leaves: which land may carry an industrial park.

Candidate cells lie *wholly* inside the region and on land that some profile may use: for
``land='federal'``, inside a federal polygon of an agency that is not never-eligible and touched
by no federal polygon boundary; for ``land='all'``, anywhere in the region. In both modes cells
touched by never-eligible land (national parks, refuges, tribal trust land, wilderness, ...) or
by a lake are removed. Each candidate carries the agency whose polygon holds its centre, so a
profile's eligible cells are a filter on that code.

The work is done in tiles of the grid, so memory stays bounded at any resolution. It comes in
two steps: :func:`candidate_superset` (cheap: federal polygons only) lets the measures start
while :func:`candidate_filter` (protected areas, lakes, exact region edges) runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely

from sitesel.defaults import builtin_data
from sitesel.io.toml import read_toml
from sitesel.study.grid import Grid, Tile, Window, burn, tile_cells, tiles, to_pixel_space

__all__ = ["LAND_MODES", "MASK_TILE", "Candidates", "LandPolicy", "candidate_filter", "candidate_superset",
           "excluded_geometries", "load_policy"]

LAND_MODES = ("federal", "all")
#: Side (cells) of the tiles in which candidate masks are rasterised.
MASK_TILE = 8192


@dataclass(frozen=True)
class LandPolicy:
    """Agencies and designations that are never eligible, whatever a profile says."""

    never_agencies: tuple[str, ...]
    never_designations: tuple[str, ...]


def load_policy(path: str | Path | None = None) -> LandPolicy:
    """The global land policy: agencies and designations whose land is never eligible.

    Parameters
    ----------
    path : str or Path, optional
        A land-policy TOML file (default ``data/land_policy.toml``).

    Returns
    -------
    LandPolicy

    Raises
    ------
    SiteselError
        The file is missing, unreadable or not valid TOML.
    """
    p = Path(path) if path else builtin_data() / "land_policy.toml"
    doc = read_toml(p, "land policy")
    return LandPolicy(tuple(a.upper() for a in doc.get("never_eligible_agencies", [])),
                      tuple(doc.get("never_eligible_designations", [])))


@dataclass
class Candidates:
    """Cells some profile may use, as sorted flat grid indices, with the agency under each.

    ``agency`` holds codes into ``agencies`` (0 = no federal agency).
    """

    cells: np.ndarray
    agency: np.ndarray
    agencies: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.cells.size)

    def codes_for(self, names) -> np.ndarray:
        """The agency codes of ``names`` (unknown names have none)."""
        wanted = {str(n).upper() for n in names}
        return np.array([i + 1 for i, a in enumerate(self.agencies) if a in wanted], dtype=np.uint8)

    def subset(self, keep: np.ndarray) -> Candidates:
        """The candidates where ``keep`` (bool, one per cell) is True."""
        return Candidates(self.cells[keep], self.agency[keep], self.agencies)


def _gather(mask_tile: np.ndarray, win: Window, grid: Grid) -> np.ndarray:
    rows, cols = np.nonzero(mask_tile)
    return (rows + win.row).astype(np.int64) * grid.width + (cols + win.col)


def _mask_tiles(grid: Grid, bounds_px: tuple[float, float, float, float] | None = None):
    """Mask tiles covering the grid (or only those meeting a pixel-space box)."""
    for t in tiles(grid, MASK_TILE, 0):
        w = t.core
        if bounds_px is not None:
            c0, r0, c1, r1 = bounds_px
            if w.col > c1 or w.col + w.width < c0 or w.row > r1 or w.row + w.height < r0:
                continue
        yield w


def _agency_table(federal) -> tuple[str, ...]:
    return tuple(sorted({str(a) for a in federal["agency"].dropna().unique()}))


def candidate_superset(grid: Grid, region_geom, federal, policy: LandPolicy, land: str) -> Candidates:
    """Cells that may be candidates: the cheap first step.

    ``land='federal'``: centres inside a federal polygon of an agency that is not never-eligible,
    within the region's bounding box. ``land='all'``: every cell wholly inside the region.

    Parameters
    ----------
    grid : Grid
        The analysis grid.
    region_geom : shapely geometry
        The region, in the grid CRS.
    federal : GeoDataFrame, optional
        Federal land (``agency`` column), in the grid CRS.
    policy : LandPolicy
        Agencies never eligible.
    land : {'federal', 'all'}
        The land mode.

    Returns
    -------
    Candidates
    """
    if land not in LAND_MODES:
        raise ValueError(f"land must be one of {LAND_MODES}")
    agencies = _agency_table(federal) if federal is not None else ()
    codes = {a: i + 1 for i, a in enumerate(agencies)}
    fed_px = fed_codes = None
    if federal is not None and len(federal):
        ok = (~federal["agency"].isin(policy.never_agencies).to_numpy() if land == "federal"
              else np.ones(len(federal), bool))
        fed_px = to_pixel_space(federal.geometry.values[ok], grid)
        fed_codes = np.array([codes.get(str(a), 0) for a in federal["agency"].to_numpy()[ok]], dtype=np.uint8)
        # Draw the largest polygons first so that a small unit inside a larger one keeps its agency.
        order = np.argsort(-shapely.area(fed_px), kind="stable")
        fed_px, fed_codes = fed_px[order], fed_codes[order]
    region_px = to_pixel_space(np.array([region_geom], dtype=object), grid)[0]
    rb = shapely.bounds(region_px)
    cells, agency = [], []
    for win in _mask_tiles(grid, tuple(rb)):
        if fed_px is not None:
            code = burn(fed_px, win, values=fed_codes, dtype="uint8")
        else:
            code = np.zeros(win.shape, np.uint8)
        if land == "federal":
            r0, r1 = max(int(np.floor(rb[1])) - win.row, 0), min(int(np.ceil(rb[3])) - win.row, win.height)
            c0, c1 = max(int(np.floor(rb[0])) - win.col, 0), min(int(np.ceil(rb[2])) - win.col, win.width)
            mask = np.zeros(win.shape, bool)
            mask[r0:r1, c0:c1] = code[r0:r1, c0:c1] > 0
        else:
            mask = _inside(np.array([region_px], dtype=object), win)
        idx = _gather(mask, win, grid)
        cells.append(idx)
        agency.append(code[mask])
    if not cells:
        return Candidates(np.zeros(0, np.int64), np.zeros(0, np.uint8), agencies)
    cells, agency = np.concatenate(cells), np.concatenate(agency)
    order = np.argsort(cells, kind="stable")  # tiles side by side interleave their rows
    return Candidates(cells[order], agency[order], agencies)


def _inside(px_geoms, win: Window) -> np.ndarray:
    """Cells of ``win`` wholly inside the union of pixel-space polygons.

    A cell whose centre is inside and that no polygon boundary touches lies entirely inside;
    this is what guarantees that a site built from such cells lies wholly on the land it claims.
    """
    inside = burn(px_geoms, win).view(bool)
    if not inside.any():
        return inside
    edges = shapely.boundary(px_geoms)
    return inside & ~burn(edges, win, all_touched=True).view(bool)


def excluded_geometries(federal, protected, policy: LandPolicy) -> list:
    """Polygons that are never eligible: the policy's agencies and designations.

    Parameters
    ----------
    federal, protected : GeoDataFrame, optional
        Federal land and protected areas (``agency`` and ``designation`` columns).
    policy : LandPolicy
        What is never eligible.

    Returns
    -------
    list of shapely geometries
    """
    parts = []
    for gdf in (federal, protected):
        if gdf is None or not len(gdf):
            continue
        bad = gdf["agency"].isin(policy.never_agencies) | gdf["designation"].isin(policy.never_designations)
        parts.extend(gdf.geometry.values[bad.to_numpy()])
    return parts


def candidate_filter(grid: Grid, superset: Candidates, region_geom, federal, excluded, lakes,
                     land: str) -> np.ndarray:
    """Which superset cells are candidates: wholly in the region (and, for federal land, touched
    by no federal boundary), not touched by never-eligible land or a lake.

    Parameters
    ----------
    grid : Grid
        The analysis grid.
    superset : Candidates
        From :func:`candidate_superset`.
    region_geom : shapely geometry
        The region, in the grid CRS.
    federal : GeoDataFrame, optional
        Federal land, in the grid CRS.
    excluded : sequence of shapely geometries
        Never-eligible land (see :func:`excluded_geometries`).
    lakes : sequence of shapely geometries, optional
        Lakes.
    land : {'federal', 'all'}
        The land mode.

    Returns
    -------
    ndarray of bool
        One per superset cell.
    """
    keep = np.ones(len(superset), dtype=bool)
    if not len(superset):
        return keep
    region_px = to_pixel_space(np.array([region_geom], dtype=object), grid)
    fed_edges = None
    if land == "federal" and federal is not None and len(federal):
        fed_edges = shapely.boundary(to_pixel_space(federal.geometry.values, grid))
    bad_px = to_pixel_space(np.asarray(list(excluded) + list(lakes if lakes is not None else []), dtype=object), grid)
    bad_tree = shapely.STRtree(bad_px) if len(bad_px) else None
    edge_tree = shapely.STRtree(fed_edges) if fed_edges is not None else None
    for win in _mask_tiles(grid):
        # The tile's cells found row by row, and the masks combined over the tile before one
        # look-up at them (rather than dividing every cell and indexing three masks in 2-D).
        pos, local = tile_cells(superset.cells, grid, Tile(0, win, win))
        if not pos.size:
            continue
        ok = ~_burn_near(bad_tree, bad_px, win)
        if land == "federal":
            ok &= _inside(region_px, win)
            ok &= ~_burn_near(edge_tree, fed_edges, win)
        keep[pos] = ok.ravel()[local]
    return keep


def _burn_near(tree, geoms, win: Window) -> np.ndarray:
    """All-touched mask of the geometries that meet ``win``."""
    if tree is None:
        return np.zeros(win.shape, dtype=bool)
    box = shapely.box(win.col - 1, win.row - 1, win.col + win.width + 1, win.row + win.height + 1)
    idx = np.sort(tree.query(box))
    if not idx.size:
        return np.zeros(win.shape, dtype=bool)
    return burn(geoms[idx], win, all_touched=True).view(bool)
