"""Disc sums at chosen cells against the FFT convolution, on random and on real values."""
from __future__ import annotations

import numpy as np
import pytest

from sitesel.measures.discs import disc_sum, disc_sum_at


@pytest.mark.parametrize("r", [0.4, 1.0, 7.3, 100.0 / 6.0, 40.0])
def test_sums_at_chosen_cells_are_the_convolutions(r):
    """Cells anywhere (edges included, unsorted, repeated) get the FFT's exact sums; the disc may
    reach past the array on every side."""
    rng = np.random.default_rng(int(r * 10))
    a = np.rint(rng.random((70, 55)) * 1e6 * (rng.random((70, 55)) < 0.3))
    want = disc_sum(a, r)
    rows = np.concatenate([rng.integers(0, 70, 400), [0, 69, 0, 69]])
    cols = np.concatenate([rng.integers(0, 55, 400), [0, 54, 54, 0]])
    assert np.array_equal(disc_sum_at(a, r, rows, cols), want[rows, cols])
    order = np.lexsort((cols, rows))
    assert np.array_equal(disc_sum_at(a, r, rows[order], cols[order]), want[rows[order], cols[order]])
    assert disc_sum_at(a, r, np.zeros(0, int), np.zeros(0, int)).shape == (0,)
    # Every cell: each grid row one run of consecutive columns, from edge to edge.
    rows, cols = np.divmod(np.arange(a.size), a.shape[1])
    assert np.array_equal(disc_sum_at(a, r, rows, cols), want.ravel())
    # Runs of many lengths, touching the edges or not.
    keep = (np.arange(a.size) * 7919 % 13) < 9
    assert np.array_equal(disc_sum_at(a, r, rows[keep], cols[keep]), want.ravel()[keep])


def test_population_measure_is_the_same_whichever_way_it_is_summed(national, monkeypatch):
    """On the real county populations over four states, people within 45 km and 80 km of every
    candidate cell are identical by FFT and by sums at the cells, tile by tile."""
    from sitesel.measures import focal
    from sitesel.measures.catalogue import MEASURES
    from sitesel.measures.engine import plan_tiles
    from sitesel.study.core import Study
    from sitesel.study.grid import tile_cells
    from sitesel.study.inputs import inputs_for
    from sitesel.study.region import resolve_region

    region = resolve_region(national, "AZ,NM,NV,UT", None)
    with Study.open(national, region, 2000, use_cache=True, workers=1) as st:
        cells = np.asarray(st.candidates().cells)
        spec = st.spec
        inputs = inputs_for(spec)
        for name in ("pop_45km", "pop_80km"):
            got = {}
            for step_cost in (0.0, 1e9):  # always at the cells, always by FFT
                monkeypatch.setattr(focal, "DIRECT_STEP_COST", step_cost)
                parts = []
                for tile in plan_tiles(spec.grid, name, spec.cap_km, tile_size=256):
                    _, local = tile_cells(cells, spec.grid, tile)
                    parts.append(MEASURES[name].compute(inputs, tile, local))
                got[step_cost] = np.concatenate(parts)
            assert np.array_equal(got[0.0], got[1e9]), name
            assert got[0.0].size > 10_000 and got[0.0].max() > 1e6
