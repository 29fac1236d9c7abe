import numpy as np
import shapely

from sitesel.grid import Grid, rasterize_mask
from sitesel.measures import disc_sum, distance_km


def test_disc_sum_matches_brute_force():
    rng = np.random.default_rng(1)
    a = (rng.random((60, 70)) * (rng.random((60, 70)) < 0.05)).astype(np.float32)
    r = 7.3
    got = disc_sum(a, r)
    yy, xx = np.mgrid[0:60, 0:70]
    for i, j in [(0, 0), (30, 35), (59, 69), (10, 60)]:
        want = a[(yy - i) ** 2 + (xx - j) ** 2 <= r * r].sum()
        assert abs(got[i, j] - want) < 1e-3


def test_raster_distance_is_within_one_cell_of_exact():
    g = Grid("EPSG:5070", 250.0, 0.0, 50_000.0, 200, 200)
    lines = [shapely.LineString([(3000, 3000), (41000, 27000)]), shapely.LineString([(10000, 45000), (12000, 49000)])]
    d = distance_km(rasterize_mask(lines, g, all_touched=True), g.res)
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, 200, 500), rng.integers(0, 200, 500)
    x, y = g.cell_centers(rows, cols)
    exact = shapely.distance(shapely.points(x, y)[:, None], np.array(lines)[None, :]).min(axis=1) / 1000
    assert np.abs(d[rows, cols] - exact).max() <= g.res / 1000


def test_no_features_means_infinite_distance():
    assert np.isinf(distance_km(np.zeros((5, 5), bool), 100.0)).all()
