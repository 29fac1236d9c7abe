import numpy as np
import shapely

from sitesel.grid import Grid, grid_for_bounds, rasterize_inside, rasterize_mask


def test_grid_snaps_outward_to_resolution():
    g = grid_for_bounds((1010.0, 2020.0, 5990.0, 8010.0), "EPSG:5070", 500.0, pad_m=1000.0)
    assert g.xmin % 500 == 0 and g.ymax % 500 == 0
    x0, y0, x1, y1 = g.bounds
    assert x0 <= 10.0 and y0 <= 1020.0 and x1 >= 6990.0 and y1 >= 9010.0


def test_inside_cells_lie_wholly_inside_the_polygon():
    g = Grid("EPSG:5070", 100.0, 0.0, 10_000.0, 100, 100)
    poly = shapely.Polygon([(1234, 1500), (8700, 2100), (7000, 8800), (1800, 7000)])
    inside = rasterize_inside([poly], g)
    touched = rasterize_mask([poly], g, all_touched=True)
    assert inside.sum() > 2000 and inside.sum() < touched.sum()
    rows, cols = np.nonzero(inside)
    x0 = g.xmin + cols * g.res
    y1 = g.ymax - rows * g.res
    cells = shapely.box(x0, y1 - g.res, x0 + g.res, y1)
    assert shapely.within(cells, poly.buffer(1e-6)).all()
