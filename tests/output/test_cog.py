"""Cloud-Optimized GeoTIFFs with ready-made overviews."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine

from sitesel.output.cog import overview_levels, write_cog


def _mean_2x2(a: np.ndarray) -> np.ndarray:
    h, w = a.shape
    p = np.full((h + h % 2, w + w % 2), np.nan, np.float32)
    p[:h, :w] = a
    blocks = (p.reshape(p.shape[0] // 2, 2, p.shape[1] // 2, 2).transpose(0, 2, 1, 3)
              .reshape(p.shape[0] // 2, p.shape[1] // 2, 4))
    n = np.isfinite(blocks).sum(axis=2)
    s = np.where(np.isfinite(blocks), blocks, 0).astype(np.float64).sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), np.nan).astype(np.float32)


def test_overviews_are_means_of_the_cells_with_data():
    rng = np.random.default_rng(0)
    a = (rng.random((1001, 777)) * 100).astype(np.float32)
    a[rng.random(a.shape) < 0.9] = np.nan
    levels = overview_levels(a, 64)
    assert [lv.shape for lv in levels] == [(501, 389), (251, 195), (126, 98), (63, 49)]
    prev = a
    for lv in levels:
        assert np.allclose(lv, _mean_2x2(prev), equal_nan=True, rtol=1e-6)
        prev = lv
    assert np.isnan(levels[0]).any() and np.isfinite(levels[-1]).all()


@pytest.mark.parametrize("shape", [(1500, 2100), (40, 30)])
def test_written_file_is_a_cog_with_the_data_overviews_and_tags(tmp_path, shape):
    rng = np.random.default_rng(1)
    a = (rng.random(shape) * 100).astype(np.float32)
    a[rng.random(shape) < 0.95] = np.nan
    t = Affine(250.0, 0, -2_000_000.0, 0, -250.0, 3_000_000.0)
    write_cog(tmp_path / "s.tif", a, "EPSG:5070", t, tags={"units": "score 0-100", "note": "a < b & c"})
    with rasterio.open(tmp_path / "s.tif") as ds:
        assert ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert ds.tags(ns="IMAGE_STRUCTURE")["COMPRESSION"] == "DEFLATE"
        assert ds.crs.to_epsg() == 5070 and ds.transform == t and np.isnan(ds.nodata)
        assert ds.tags()["units"] == "score 0-100" and ds.tags()["note"] == "a < b & c"
        assert np.array_equal(ds.read(1), a, equal_nan=True)
        levels = overview_levels(a)
        assert len(ds.overviews(1)) == len(levels)
        for lv in levels:
            assert np.array_equal(ds.read(1, out_shape=lv.shape), lv, equal_nan=True)
        if levels:
            assert ds.block_shapes == [(256, 256)]
