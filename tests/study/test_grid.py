import numpy as np
import pytest
import shapely

from sitesel.study.grid import Grid, Window, burn, grid_for_bounds, rasterize_inside, rasterize_mask


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


@pytest.mark.parametrize("all_touched", [False, True])
def test_tall_polygons_burnt_in_strips_give_the_cells_of_one_burn(all_touched):
    """Masks of tall many-vertex polygons are burnt strip by strip (GDAL's fill tests every edge
    on every row): the cells must be those of one rasterisation of the whole polygon."""
    from rasterio import features

    from sitesel.study.grid import STRIP_MIN_VERTICES, STRIP_ROWS

    t = np.linspace(0, 2 * np.pi, 3 * STRIP_MIN_VERTICES, endpoint=False)
    wobbly = 600 + (500 + 37 * np.sin(23 * t))[:, None] * np.column_stack([np.cos(t), np.sin(t)])
    hole = 600 + 150.3 * np.column_stack([np.cos(t[::50]), np.sin(t[::50])])
    donut = shapely.Polygon(wobbly, [hole])
    small = shapely.box(10.2, 20.7, 60.1, 90.3)
    assert donut.is_valid and 1000 > 2 * STRIP_ROWS
    win = Window(3, 5, 1250, 1190)
    geoms = [donut, small]
    got = burn(geoms, win, all_touched=all_touched)
    want = features.rasterize([(g, 1) for g in geoms], out_shape=win.shape, transform=win.pixel_transform,
                              all_touched=all_touched, dtype="uint8")
    assert np.array_equal(got, want) and want.sum() > 0


@pytest.mark.parametrize("layer", ["federal_lands", "transmission_lines", "substations", "rivers", "counties"])
def test_geometries_handed_to_gdal_as_coordinate_slices_burn_the_same_cells(national, layer):
    """``burn`` hands rasterio GeoJSON-like mappings cut from whole coordinate arrays instead of
    shapely objects (whose ``__geo_interface__`` walks every coordinate in Python): on the real
    layers (polygons with holes, multipolygons, lines, multilines, points), with overlapping values
    burnt in order, and with and without all-touched, the cells are those of the shapely objects."""
    from rasterio import features

    from sitesel.study.core import Study
    from sitesel.study.grid import geojson_like, to_pixel_space
    from sitesel.study.region import resolve_region

    region = resolve_region(national, "AZ,NM", None)
    with Study.open(national, region, 2000, use_cache=True, workers=1) as st:
        g = st.grid
        px = to_pixel_space(st.layer(layer).geometry.values, g)
    px = px[~(shapely.is_missing(px) | shapely.is_empty(px))]
    assert len(px) > 50
    win = Window(0, 0, g.height, g.width)
    # Distinct values (later ones win where shapes overlap), runs of one value (consecutive lines
    # and points of one value are joined into one multi-part mapping), and one value (a mask).
    n = len(px)
    for values in (np.arange(1, n + 1, dtype="float64"), np.arange(n) // 40 + 1.0, np.ones(n)):
        for all_touched in (False, True):
            want = features.rasterize(list(zip(px, values)), out_shape=win.shape, transform=win.pixel_transform,
                                      all_touched=all_touched, dtype="float64")
            mappings, vals = geojson_like(px, values)
            got = features.rasterize(list(zip(mappings, vals)), out_shape=win.shape,
                                     transform=win.pixel_transform, all_touched=all_touched, dtype="float64")
            assert np.array_equal(got, want) and (want > 0).sum() > 100
            if layer in ("transmission_lines", "substations", "rivers") and len(set(values)) < n:
                assert len(mappings) < n  # joined
    assert np.array_equal(burn(px, win, all_touched=True).view(bool),
                          features.rasterize([(p, 1) for p in px], out_shape=win.shape, transform=win.pixel_transform,
                                             all_touched=True, dtype="uint8").view(bool))


def test_collections_and_mixed_kinds_keep_their_order_and_values():
    """A geometry collection (as ``make_valid`` gives) is burnt member by member, and mixed kinds
    keep the input's order, so the last geometry still wins where values overlap."""
    from rasterio import features

    from sitesel.study.grid import geojson_like

    bowtie = shapely.Polygon([(2, 2), (30, 30), (30, 2), (2, 30), (2, 2)])
    pieces = shapely.make_valid(shapely.GeometryCollection([bowtie, shapely.LineString([(0, 5), (40, 5)])]))
    geoms = [shapely.box(0, 0, 40, 40), pieces, shapely.MultiPoint([(3.5, 3.5), (20.5, 33.5)]),
             shapely.Point(10.5, 10.5), shapely.MultiLineString([[(0, 39), (39, 0)], [(1, 20), (39, 21)]]),
             shapely.Polygon(shapely.box(5, 25, 15, 35).exterior, [shapely.box(8, 28, 12, 32).exterior])]
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    win = Window(0, 0, 40, 40)
    for all_touched in (False, True):
        want = features.rasterize(list(zip(geoms, values)), out_shape=win.shape, transform=win.pixel_transform,
                                  all_touched=all_touched, dtype="float64")
        got = features.rasterize(list(zip(*geojson_like(geoms, values))), out_shape=win.shape,
                                 transform=win.pixel_transform, all_touched=all_touched, dtype="float64")
        assert np.array_equal(got, want) and set(np.unique(want)) >= {1.0, 2.0, 5.0, 6.0}


def test_burning_leaves_the_garbage_collector_as_it_found_it():
    """Burns pause the cyclic collector (it doubled the time of listing many coordinates) and
    must hand it back in the same state, on success and on error alike."""
    import gc

    poly = shapely.box(1, 1, 5, 5)
    was = gc.isenabled()
    try:
        for enabled in (True, False):
            gc.enable() if enabled else gc.disable()
            assert burn([poly], Window(0, 0, 8, 8)).sum() == 16
            assert gc.isenabled() is enabled
            with pytest.raises(TypeError):
                burn([poly], Window(0, 0, 8, 8), dtype="not-a-dtype")
            assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()
