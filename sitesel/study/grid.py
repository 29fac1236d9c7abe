"""The analysis grid: an equal-area raster frame over a region, and rasterising onto it."""
from __future__ import annotations

import gc
import hashlib
import math
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from rasterio import features

from sitesel.errors import RegionError

__all__ = ["ACRES_PER_M2", "CRS_ALASKA", "CRS_HAWAII", "CRS_LOWER48", "LOWER48_ALIASES", "STRIP_MIN_VERTICES",
           "STRIP_ROWS", "Grid", "Tile", "Window", "burn", "crs_for_states", "gc_paused", "geojson_like",
           "grid_for_bounds", "rasterize_inside", "rasterize_mask", "tile_cells", "tiles", "to_pixel_space"]

ACRES_PER_M2 = 1 / 4046.8564224

LOWER48_ALIASES = {"L48", "CONUS", "LOWER48"}
#: Equal-area CRS per part of the country.
CRS_LOWER48 = "EPSG:5070"  # NAD83 / Conus Albers
CRS_ALASKA = "EPSG:3338"  # NAD83 / Alaska Albers
CRS_HAWAII = "ESRI:102007"  # Hawaii Albers Equal Area Conic


@dataclass(frozen=True)
class Grid:
    """A north-up raster frame: ``width`` x ``height`` square cells of ``res`` metres."""

    crs: str
    res: float
    xmin: float
    ymax: float
    width: int
    height: int

    @property
    def transform(self) -> Affine:
        """From (column, row) to the grid CRS."""
        return Affine(self.res, 0.0, self.xmin, 0.0, -self.res, self.ymax)

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)``."""
        return (self.height, self.width)

    @property
    def size(self) -> int:
        """Number of cells."""
        return self.width * self.height

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)`` in the grid CRS."""
        return (self.xmin, self.ymax - self.height * self.res, self.xmin + self.width * self.res, self.ymax)

    @property
    def cell_acres(self) -> float:
        """Area of one cell in acres."""
        return self.res * self.res * ACRES_PER_M2

    def key(self) -> str:
        """A short stable identifier, used in cache keys."""
        s = f"{CRS.from_user_input(self.crs).to_wkt()}|{self.res}|{self.xmin}|{self.ymax}|{self.width}|{self.height}"
        return hashlib.sha256(s.encode()).hexdigest()[:16]

    def lonlat_bounds(self) -> tuple[float, float, float, float]:
        """``(west, south, east, north)`` in degrees, densified along the edges."""
        t = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        return t.transform_bounds(*self.bounds, densify_pts=51)

    def cell_centers(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Grid-CRS coordinates ``(x, y)`` of the centres of cells ``(rows, cols)``."""
        return self.xmin + (cols + 0.5) * self.res, self.ymax - (rows + 0.5) * self.res


@dataclass(frozen=True)
class Window:
    """A block of grid cells: ``height`` rows from ``row`` and ``width`` columns from ``col``."""

    row: int
    col: int
    height: int
    width: int

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)``."""
        return (self.height, self.width)

    @property
    def size(self) -> int:
        """Number of cells."""
        return self.height * self.width

    @property
    def pixel_transform(self) -> Affine:
        """From the grid's pixel space (see :func:`to_pixel_space`) to this window's pixels."""
        return Affine.translation(self.col, self.row)

    def grow(self, cells: int, grid: Grid) -> Window:
        """This window plus ``cells`` on every side, clipped to the grid."""
        r0, c0 = max(self.row - cells, 0), max(self.col - cells, 0)
        r1 = min(self.row + self.height + cells, grid.height)
        c1 = min(self.col + self.width + cells, grid.width)
        return Window(r0, c0, r1 - r0, c1 - c0)


@dataclass(frozen=True)
class Tile:
    """A ``core`` window whose results are kept, computed inside a larger ``padded`` window."""

    index: int
    core: Window
    padded: Window
    extent: tuple[int, int] | None = None  # the largest padded shape of the tiling it belongs to

    @property
    def core_in_padded(self) -> tuple[slice, slice]:
        """The core's rows and columns within the padded window."""
        r, c = self.core.row - self.padded.row, self.core.col - self.padded.col
        return slice(r, r + self.core.height), slice(c, c + self.core.width)


def tiles(grid: Grid, size: int | None, halo: int) -> list[Tile]:
    """Cover ``grid`` with square tiles of ``size`` cells, each padded by ``halo`` cells.

    ``size=None`` gives one tile, the whole grid, with no padding: a computation whose result at
    a cell depends only on cells within ``halo`` gives the same values either way.

    Parameters
    ----------
    grid : Grid
        The grid.
    size : int, optional
        Side of the tiles' cores (cells); None for one tile, the whole grid.
    halo : int
        Padding (cells) around each core, clipped to the grid.

    Returns
    -------
    list of Tile
        Row by row; each knows the largest padded shape of the tiling (``extent``).
    """
    if size is None or (size >= grid.height and size >= grid.width):
        whole = Window(0, 0, grid.height, grid.width)
        return [Tile(0, whole, whole, whole.shape)]
    extent = (min(size + 2 * halo, grid.height), min(size + 2 * halo, grid.width))
    out = []
    for r in range(0, grid.height, size):
        for c in range(0, grid.width, size):
            core = Window(r, c, min(size, grid.height - r), min(size, grid.width - c))
            out.append(Tile(len(out), core, core.grow(halo, grid), extent))
    return out


def to_pixel_space(geoms, grid: Grid) -> np.ndarray:
    """Geometries in the grid's pixel coordinates (column, row from the top-left corner).

    Rasterising pixel-space geometries into a window only shifts them by whole cells, which is
    exact in floating point, so a cell burns the same way whichever window it is computed in.

    Parameters
    ----------
    geoms : array-like of shapely geometries
        In the grid's CRS.
    grid : Grid
        The grid.

    Returns
    -------
    ndarray of shapely geometries
    """
    x0, y0, res = grid.xmin, grid.ymax, grid.res

    def fwd(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(((xy[:, 0] - x0) / res, (y0 - xy[:, 1]) / res))

    return shapely.transform(np.asarray(geoms, dtype=object), fwd)


#: Rows of the strips in which tall polygons are burnt (see :func:`burn`).
STRIP_ROWS = 256
#: Polygons with fewer vertices are burnt whole (cutting them costs more than it saves).
STRIP_MIN_VERTICES = 2000


def burn(pixel_geoms, window: Window, values=None, all_touched: bool = False, dtype: str = "uint8",
         fill: float = 0) -> np.ndarray:
    """Rasterise pixel-space geometries (and optional values) into ``window``.

    GDAL fills a polygon row by row, testing every edge of the polygon on every row it spans,
    which is slow for outlines such as the lower 48's (~80,000 vertices). When burning a
    mask (no ``values``), valid polygons with many vertices and taller than two strips are
    therefore cut into strips of :data:`STRIP_ROWS` rows (plus a margin of two cells, so nothing
    new is drawn inside a strip) and burnt strip by strip: the same cells, sooner. Invalid
    polygons are burnt whole, as drawn (clipping could regroup their rings), and so is everything
    when values are given (a later polygon must still win where they overlap).

    Parameters
    ----------
    pixel_geoms : array-like of shapely geometries
        In the grid's pixel space (see :func:`to_pixel_space`).
    window : Window
        Where to burn them.
    values : array-like, optional
        One value per geometry (later ones win); default a mask of ones.
    all_touched : bool
        Burn every cell a geometry touches, not only those whose centre it covers.
    dtype : str
        The raster's type.
    fill : float
        Value of cells no geometry burns.

    Returns
    -------
    ndarray
        ``window.shape``.
    """
    geoms = np.asarray(pixel_geoms, dtype=object)
    mask = values is None
    values = np.ones(len(geoms)) if mask else np.asarray(values)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms)) if len(geoms) else np.zeros(0, bool)
    geoms, values = geoms[ok], values[ok]
    tall = np.zeros(len(geoms), bool)
    if mask and len(geoms) and window.height > 2 * STRIP_ROWS:
        bounds = shapely.bounds(geoms)
        polygons = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)
        tall = (np.isin(shapely.get_type_id(geoms), polygons) & (bounds[:, 3] - bounds[:, 1] > 2 * STRIP_ROWS)
                & (shapely.get_num_coordinates(geoms) >= STRIP_MIN_VERTICES))
        if tall.any():
            tall[tall] = shapely.is_valid(geoms[tall])
    out = _rasterize(geoms[~tall], values[~tall], window, all_touched, dtype, fill)
    if not tall.any():
        return out
    big, top, bottom = geoms[tall], bounds[tall, 1], bounds[tall, 3]
    x0, x1 = window.col - 2, window.col + window.width + 2
    for r in range(window.row, window.row + window.height, STRIP_ROWS):
        h = min(STRIP_ROWS, window.row + window.height - r)
        part = big[(top <= r + h + 2) & (bottom >= r - 2)]
        part = shapely.clip_by_rect(part, x0, r - 2, x1, r + h + 2)
        part = part[~shapely.is_empty(part)]
        if len(part):
            rows = slice(r - window.row, r - window.row + h)
            strip = _rasterize(part, np.ones(len(part)), Window(r, window.col, h, window.width), all_touched,
                               dtype, fill)
            out[rows] = np.where(strip != fill, strip, out[rows])
    return out


def _rasterize(geoms, values, window: Window, all_touched: bool, dtype: str, fill: float) -> np.ndarray:
    if not len(geoms):
        return np.full(window.shape, fill, dtype=dtype)
    with gc_paused():
        return features.rasterize(list(zip(*geojson_like(geoms, values))), out_shape=window.shape,
                                  transform=window.pixel_transform, fill=fill, all_touched=all_touched,
                                  dtype=dtype)


@contextmanager
def gc_paused():
    """Hold off Python's cyclic garbage collector for a block that builds many short-lived lists.

    The coordinate lists handed to rasterio hold no cycles, but each allocation counts towards a
    collection, and every full collection walks all live objects (the loaded layers' too), which
    dominates listing the coordinates of many polygons. The collector is restored as it was,
    even on error.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


#: The kinds of geometry given to rasterio as coordinate slices: for each, the shapely types it
#: holds and the levels of offsets :func:`shapely.to_ragged_array` gives for its multi-part form.
_KINDS = {
    "MultiPoint": ((shapely.GeometryType.POINT, shapely.GeometryType.MULTIPOINT), 1),
    "MultiLineString": ((shapely.GeometryType.LINESTRING, shapely.GeometryType.MULTILINESTRING), 2),
    "Polygon": ((shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON), 3),
}


def geojson_like(geoms, values) -> tuple[list, list]:
    """GeoJSON-like mappings of shapely geometries, with their values, in the same order.

    rasterio reads a shapely geometry through ``__geo_interface__``, which walks every coordinate
    in Python: half the time of burning PAD-US polygons over the lower 48. Here the coordinates of
    each kind of geometry come out as one array (:func:`shapely.to_ragged_array`) and each ring or
    line is one slice of it: the same coordinates. A polygon comes out as one mapping per part and
    a collection as its members, each with the geometry's value, as rasterio burns them.
    Consecutive lines (or points) of one value come out as one multi-part mapping, which GDAL
    burns part by part into the same cells (with rasterio's default replacing merge).

    Parameters
    ----------
    geoms : array-like of shapely geometries
        The geometries.
    values : array-like
        One value per geometry.

    Returns
    -------
    geoms, values : list
        Mappings and their values, for :func:`rasterio.features.rasterize`.
    """
    geoms = np.asarray(geoms, dtype=object)
    values = np.asarray(values)
    types = shapely.get_type_id(geoms)
    collections = types == shapely.GeometryType.GEOMETRYCOLLECTION
    if collections.any():
        members = {i: [m for m in shapely.get_parts(geoms[i]) if not m.is_empty]
                   for i in np.flatnonzero(collections).tolist()}
        order = [(members.get(i, [g]), v) for i, (g, v) in enumerate(zip(geoms, values))]
        geoms = np.asarray([g for gs, _ in order for g in gs], dtype=object)
        values = np.asarray([v for gs, v in order for _ in gs])
        types = shapely.get_type_id(geoms)
    values = values.tolist()
    per: list = [[g] for g in geoms]  # the mappings of each geometry, in the input's order
    for kind, (ids, depth) in _KINDS.items():
        sel = np.flatnonzero(np.isin(types, ids))
        if not sel.size:
            continue
        _, coords, offsets = shapely.to_ragged_array(geoms[sel], include_z=False)
        xy = coords.tolist()
        offs = [o.tolist() for o in offsets]
        if len(offs) < depth:  # single-part geometries only: one part each
            offs.append(list(range(sel.size + 1)))
        parts = offs[-1]
        for k, i in enumerate(sel.tolist()):
            if depth == 1:
                per[i] = [{"type": kind, "coordinates": xy[parts[k]:parts[k + 1]]}]
            elif depth == 2:
                lines = offs[0]
                per[i] = [{"type": kind, "coordinates": [xy[lines[j]:lines[j + 1]]
                                                         for j in range(parts[k], parts[k + 1])]}]
            else:
                rings, polys = offs[0], offs[1]
                per[i] = [{"type": kind, "coordinates": [xy[rings[j]:rings[j + 1]]
                                                         for j in range(polys[p], polys[p + 1])]}
                          for p in range(parts[k], parts[k + 1])]
    out_geoms, out_values = [], []
    for maps, v in zip(per, values):
        for m in maps:
            last = out_geoms[-1] if out_geoms else None
            # A line or point joins the one before it when both are of the same kind and value:
            # GDAL burns each part of a multi-line or multi-point on its own, so the cells are
            # the same, and rasterio's per-shape work (in Python) is done once, not per feature.
            if (isinstance(m, dict) and isinstance(last, dict) and m["type"] == last["type"] in _JOINABLE
                    and out_values[-1] == v):
                last["coordinates"] += m["coordinates"]
            else:
                out_geoms.append(m)
                out_values.append(v)
    return out_geoms, out_values


#: Kinds of mapping that :func:`geojson_like` joins when consecutive and of one value.
_JOINABLE = ("MultiPoint", "MultiLineString")


def crs_for_states(codes: list[str]) -> str:
    """The equal-area CRS for a set of state codes (lower 48, Alaska or Hawaii, not mixed)."""
    parts = {"AK" if c == "AK" else "HI" if c == "HI" else "L48" for c in codes}
    if len(parts) > 1:
        raise RegionError("a region cannot mix Alaska, Hawaii and the lower 48; run them separately")
    return {"AK": CRS_ALASKA, "HI": CRS_HAWAII, "L48": CRS_LOWER48}[parts.pop()]


def grid_for_bounds(bounds: tuple[float, float, float, float], crs: str, res: float, pad_m: float = 0.0) -> Grid:
    """A grid covering ``bounds`` (in ``crs``) plus ``pad_m``, snapped to multiples of ``res``.

    Parameters
    ----------
    bounds : tuple
        ``(xmin, ymin, xmax, ymax)`` in ``crs``.
    crs : str
        The grid's CRS (equal-area).
    res : float
        Cell size in metres.
    pad_m : float
        Margin around ``bounds`` (m).

    Returns
    -------
    Grid

    Raises
    ------
    RegionError
        ``res`` is below 10 m.
    """
    if res < 10:
        raise RegionError(f"resolution {res} m is below the 10 m minimum")
    xmin, ymin, xmax, ymax = bounds
    xmin = math.floor((xmin - pad_m) / res) * res
    ymin = math.floor((ymin - pad_m) / res) * res
    xmax = math.ceil((xmax + pad_m) / res) * res
    ymax = math.ceil((ymax + pad_m) / res) * res
    # Floats whatever the type of ``res``: the grid's key (and so every cache entry) must not
    # depend on whether the resolution was given as 500 or 500.0.
    return Grid(crs=crs, res=float(res), xmin=float(xmin), ymax=float(ymax),
                width=int(round((xmax - xmin) / res)), height=int(round((ymax - ymin) / res)))


def rasterize_mask(geoms, grid: Grid, all_touched: bool = False) -> np.ndarray:
    """Boolean mask of cells covered by ``geoms`` (cell centre inside, or any touch).

    Parameters
    ----------
    geoms : array-like of shapely geometries
        In the grid's CRS.
    grid : Grid
        The grid.
    all_touched : bool
        Any touch counts, not only the cell's centre.

    Returns
    -------
    ndarray of bool
        ``grid.shape``.
    """
    geoms = [g for g in np.asarray(geoms, dtype=object) if g is not None and not g.is_empty]
    if not geoms:
        return np.zeros(grid.shape, dtype=bool)
    return features.rasterize(
        ((g, 1) for g in geoms), out_shape=grid.shape, transform=grid.transform,
        fill=0, all_touched=all_touched, dtype="uint8",
    ).astype(bool)


def rasterize_inside(geoms, grid: Grid) -> np.ndarray:
    """Cells lying wholly inside the union of polygons ``geoms``.

    A cell whose centre is inside and that no polygon boundary touches is entirely inside; this
    is what guarantees that a site built from such cells lies wholly on the land it claims.

    Parameters
    ----------
    geoms : array-like of shapely polygons
        In the grid's CRS.
    grid : Grid
        The grid.

    Returns
    -------
    ndarray of bool
        ``grid.shape``.
    """
    inside = rasterize_mask(geoms, grid, all_touched=False)
    boundaries = shapely.boundary(np.asarray([g for g in geoms if g is not None], dtype=object))
    return inside & ~rasterize_mask(boundaries, grid, all_touched=True)


def tile_cells(cells: np.ndarray, grid: Grid, tile: Tile) -> tuple[np.ndarray, np.ndarray]:
    """Positions in ``cells`` (sorted flat grid indices) of the tile core's cells, and their
    flat indices within the core window.

    Parameters
    ----------
    cells : ndarray of int
        Sorted flat grid indices.
    grid : Grid
        The grid.
    tile : Tile
        The tile.

    Returns
    -------
    positions, local : ndarray of int64
    """
    core = tile.core
    lo, hi = np.searchsorted(cells, [core.row * grid.width, (core.row + core.height) * grid.width])
    sub = cells[lo:hi]
    if core.col == 0 and core.width == grid.width:
        # Whole rows (the whole grid, or strips): every cell in range, at a fixed offset, with no
        # per-cell division.
        return np.arange(lo, hi), sub - core.row * grid.width
    # One search per row of the core for where its cells begin and end: the work is in the
    # tile's own cells, not in every cell of its rows (which tiles side by side would each
    # divide again).
    starts_at = np.arange(core.row, core.row + core.height, dtype=np.int64) * grid.width + core.col
    starts = np.searchsorted(sub, starts_at)
    counts = np.searchsorted(sub, starts_at + core.width) - starts
    n = int(counts.sum())
    first = np.cumsum(counts) - counts  # where each row's cells begin in the result
    pos = np.arange(n, dtype=np.int64)
    pos += np.repeat(starts - first, counts)
    local = sub[pos] - np.repeat(starts_at - np.arange(core.height, dtype=np.int64) * core.width, counts)
    pos += lo
    return pos, local
