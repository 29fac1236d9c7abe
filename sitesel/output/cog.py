"""Cloud-Optimized GeoTIFFs of float32 surfaces that are mostly nodata (NaN).

GDAL's COG driver writes the file; the overviews are averaged here first, in one compiled pass
per level, and handed to it ready made (read by GDAL straight from the arrays through a VRT over
in-memory datasets, no copy), which is much faster than GDAL's own averaging of a national
surface that is mostly NaN. Each overview cell is the mean of the cells with data among the
2 x 2 beneath it (NaN if none), so small feasible patches stay visible when the map is zoomed out.
"""
from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

import numba
import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine

__all__ = ["overview_levels", "write_cog"]


@numba.njit(nogil=True, cache=True)
def _halve(a):  # pragma: no cover - compiled
    h, w = a.shape
    out = np.empty(((h + 1) // 2, (w + 1) // 2), np.float32)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            s = 0.0
            n = 0
            for r in range(2 * i, min(2 * i + 2, h)):
                for c in range(2 * j, min(2 * j + 2, w)):
                    v = a[r, c]
                    if v == v:  # not NaN
                        s += v
                        n += 1
            out[i, j] = s / n if n else np.nan
    return out


def overview_levels(data: np.ndarray, blocksize: int = 256) -> list[np.ndarray]:
    """Averages of ``data`` over 2 x 2, 4 x 4, ... cells (NaN ignored), down to one block.

    Parameters
    ----------
    data : ndarray of float32, 2-D
    blocksize : int
        Halving stops once the level fits in one block this size.
    """
    levels: list[np.ndarray] = []
    a = np.ascontiguousarray(data, dtype=np.float32)
    while max(a.shape) > blocksize:
        a = _halve(a)
        levels.append(a)
    return levels


def _mem(a: np.ndarray) -> str:
    # GDAL's in-memory dataset over the array's own buffer (kept alive by the caller).
    return (f"MEM:::DATAPOINTER={a.ctypes.data},PIXELS={a.shape[1]},LINES={a.shape[0]},BANDS=1,"
            "DATATYPE=Float32")


def write_cog(path: str | Path, data: np.ndarray, crs, transform: Affine, tags: dict | None = None,
              blocksize: int = 256) -> None:
    """Write a float32 array as a DEFLATE-compressed COG with NaN nodata and averaged overviews.

    Parameters
    ----------
    path : path
    data : ndarray of float32, 2-D
        NaN where there is no data.
    crs, transform
        Georeferencing of ``data``.
    tags : dict, optional
        Dataset metadata (e.g. ``units``).
    blocksize : int
        Tile size; most of a national surface is NaN, and 256-cell tiles leave more of it out
        than 512-cell ones.
    """
    data = np.ascontiguousarray(data, dtype=np.float32)
    levels = overview_levels(data, blocksize)
    h, w = data.shape
    meta = "".join(f'<MDI key="{escape(str(k))}">{escape(str(v))}</MDI>' for k, v in (tags or {}).items())
    overviews = "".join(f'<Overview><SourceFilename relativeToVRT="0">{_mem(a)}</SourceFilename>'
                        '<SourceBand>1</SourceBand></Overview>' for a in levels)
    vrt = (f'<VRTDataset rasterXSize="{w}" rasterYSize="{h}">'
           f'<SRS>{escape(rasterio.crs.CRS.from_user_input(crs).to_wkt())}</SRS>'
           f'<GeoTransform>{", ".join(repr(float(v)) for v in transform.to_gdal())}</GeoTransform>'
           f'<Metadata>{meta}</Metadata><VRTRasterBand dataType="Float32" band="1"><NoDataValue>nan</NoDataValue>'
           f'<SimpleSource><SourceFilename relativeToVRT="0">{_mem(data)}</SourceFilename><SourceBand>1</SourceBand>'
           f'</SimpleSource>{overviews}</VRTRasterBand></VRTDataset>')
    # Fast deflate without a predictor, no empty tiles, one thread (the other core is drawing the
    # picture or another park). Opening MEM datasets by name is off by default in GDAL >= 3.10
    # (a crafted name could read any memory): allowed only for this copy of our own arrays.
    with rasterio.Env(GDAL_MEM_ENABLE_OPEN="YES"):
        rasterio.shutil.copy(vrt, str(path), driver="COG", compress="DEFLATE", level=1, blocksize=blocksize,
                             overviews="FORCE_USE_EXISTING", sparse_ok=True, num_threads=1)
