"""The catalogue of measures: raw criterion values at the candidate cells, and how each is computed.

A measure is computed for one :class:`~sitesel.study.grid.Tile` at a time and read off at the study's
candidate cells in the tile's core. Each kind of measure says how much overlap (``halo``) a tile
needs for its core to come out exactly as in an untiled computation:

* ``distance``: the capped distance to the nearest feature (:mod:`sitesel.measures.proximity`);
  a halo of the cap suffices.
* ``disc``: a sum over a disc, exact in whole numbers (:mod:`sitesel.measures.focal`); a halo of
  the radius.
* ``raster``, ``slope`` and ``basin``: the ground under each cell (:mod:`sitesel.measures.local`).
* ``derived``: computed from other measures' values, cell by cell.

None of them depends on weights, so a study computes each once (see :mod:`sitesel.measures.engine`).
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from sitesel.measures.focal import disc_measure
from sitesel.measures.local import basin_measure, raster_measure, slope_measure
from sitesel.measures.proximity import distance_measure
from sitesel.study.grid import Tile

__all__ = ["DERIVED", "KINDS", "KV_CLASSES", "KV_REACH_KM", "MEASURES", "Measure", "closure", "kv_reach"]

#: Voltage classes (kV) of transmission lines and substations that measures distinguish.
KV_CLASSES = (115, 230, 345, 500, 765)
#: Radius within which ``tx_kv_within_15km`` looks for lines.
KV_REACH_KM = 15.0
#: How each kind of (base) measure is computed: ``fn(params, inputs, tile, cells, threads)``.
KINDS = {"distance": distance_measure, "disc": disc_measure, "raster": raster_measure, "slope": slope_measure,
         "basin": basin_measure}


@dataclass(frozen=True)
class Measure:
    """A raw criterion: its unit, the layers it needs, and how it is computed.

    ``site`` says how a site's value is taken from its cells: ``"min"`` (distances: the nearest
    point of the site), ``"max"`` or ``"mean"``. ``refine`` names the (layer, column, minimum)
    whose features give exact vector distances for a site.
    """

    name: str
    unit: str
    description: str
    layers: tuple[str, ...]
    site: str
    kind: str
    params: dict = field(default_factory=dict, compare=False, hash=False)
    refine: tuple | None = None
    higher_is_better: bool | None = None
    depends: tuple[str, ...] = ()

    @property
    def derived(self) -> bool:
        """Computed from other measures' values (see :data:`DERIVED`), not from layers."""
        return self.kind == "derived"

    @property
    def is_distance(self) -> bool:
        """A capped distance to the nearest feature (see :mod:`sitesel.measures.proximity`)."""
        return self.kind == "distance"

    @property
    def is_point_disc(self) -> bool:
        """A sum over a disc of values at points (no FFT: see :func:`sitesel.measures.discs.point_disc_sum`)."""
        return self.kind == "disc" and self.params.get("source") == "points"

    def halo_cells(self, res: float, cap_km: float) -> int:
        """Overlap a tile needs so that its core equals the untiled result."""
        if self.kind == "distance":
            return math.ceil(cap_km * 1000.0 / res) + 1
        if self.kind == "disc":
            return math.ceil(self.params["radius_km"] * 1000.0 / res) + 1
        return 0

    def bytes_per_cell(self) -> int:
        """Working memory per cell of a padded tile (for sizing tiles)."""
        if self.is_point_disc:
            return 24  # a float64 difference array and its running sum
        return {"distance": 14, "disc": 48, "raster": 12, "slope": 16, "basin": 12}.get(self.kind, 8)

    def compute(self, inputs, tile: Tile, cells: np.ndarray, threads: int | None = None) -> np.ndarray:
        """Values at ``cells`` over one tile.

        Parameters
        ----------
        inputs : sitesel.study.inputs.Inputs
            The study's layers in this process.
        tile : Tile
            The tile, padded by at least :meth:`halo_cells`.
        cells : ndarray of int
            Sorted flat indices into the tile's core window.
        threads : int, optional
            Threads one transform may use (default: one per core); the values are the same.

        Returns
        -------
        ndarray of float32
        """
        return KINDS[self.kind](self.params, inputs, tile, cells, threads)


# -- derived measures ------------------------------------------------------------------------

def kv_reach(values: dict[str, np.ndarray]) -> np.ndarray:
    """Highest voltage class with a line within :data:`KV_REACH_KM` (0 if none).

    Parameters
    ----------
    values : dict
        ``dist_tx_<kv>kv_km`` for every class of :data:`KV_CLASSES` -> its values.

    Returns
    -------
    ndarray of float32
    """
    first = values[f"dist_tx_{KV_CLASSES[0]}kv_km"]
    out = np.zeros(first.shape, dtype=np.float32)
    for kv in KV_CLASSES:  # ascending, so the highest reachable class wins
        out[values[f"dist_tx_{kv}kv_km"] <= KV_REACH_KM] = kv
    return out


#: How each derived measure is computed from the values of those it depends on.
DERIVED = {"tx_kv_within_15km": kv_reach}


def _catalogue() -> dict[str, Measure]:
    ms: list[Measure] = []

    def dist(name, desc, feats, refine, layers=None):
        ms.append(Measure(name, "km", desc, layers or tuple(dict.fromkeys(f[0] for f in feats)), "min", "distance",
                          {"features": feats}, refine=refine, higher_is_better=False))

    for kv in KV_CLASSES:
        dist(f"dist_tx_{kv}kv_km", f"distance to the nearest transmission line of {kv} kV or more",
             (("transmission_lines", "voltage_kv", float(kv)),), ("transmission_lines", "voltage_kv", float(kv)))
    for kv in (115, 230, 345):
        dist(f"dist_sub_{kv}kv_km",
             f"distance to the nearest substation with a known maximum voltage of {kv} kV or more",
             (("substations", "max_kv", float(kv)),), ("substations", "max_kv", float(kv)))
    dist("dist_interstate_km", "distance to the nearest Interstate", (("interstates", None, None),),
         ("interstates", None, None))
    dist("dist_highway_km", "distance to the nearest Interstate, US or state highway", (("highways", None, None),),
         ("highways", None, None))
    dist("dist_rail_km", "distance to the nearest main-line railroad", (("railroads", None, None),),
         ("railroads", None, None))
    dist("dist_port_km", "distance to the nearest major port", (("ports", None, None),), ("ports", None, None))
    dist("dist_airport_km", "distance to the nearest commercial airport", (("airports", None, None),),
         ("airports", None, None))
    dist("dist_water_km", "distance to the nearest river or lake", (("rivers", None, None), ("lakes", None, None)),
         ("water", None, None))
    ms += [
        Measure("tx_kv_within_15km", "kV",
                "highest voltage class (115/230/345/500/765 kV) of a line within 15 km; 0 if none",
                ("transmission_lines",), "max", "derived", higher_is_better=True,
                depends=tuple(f"dist_tx_{kv}kv_km" for kv in KV_CLASSES)),
        Measure("gen_mw_50km", "MW", "total nameplate capacity of power plants within 50 km", ("power_plants",), "mean",
                "disc", {"source": "points", "layer": "power_plants", "column": "mw", "radius_km": 50.0},
                higher_is_better=True),
        Measure("water_stress_cat", "category 0-4",
                "WRI Aqueduct baseline water stress (0 low ... 4 extremely high or arid)",
                ("water_stress",), "mean", "basin", {"layer": "water_stress", "column": "bws_cat"},
                higher_is_better=False),
        Measure("pop_45km", "people", "residents within 45 km (about a 45-minute commute)", ("counties",), "mean",
                "disc", {"source": "counties", "radius_km": 45.0}, higher_is_better=True),
        Measure("pop_80km", "people", "residents within 80 km (about a 60-minute commute)", ("counties",), "mean",
                "disc", {"source": "counties", "radius_km": 80.0}, higher_is_better=True),
        Measure("slope_pct", "%", "terrain slope", ("dem",), "mean", "slope", higher_is_better=False),
        Measure("ghi_kwh_m2_day", "kWh/m2/day", "global horizontal irradiance, annual mean", ("solar",), "mean",
                "raster", {"layer": "solar"}, higher_is_better=True),
    ]
    return {m.name: m for m in ms}


MEASURES: dict[str, Measure] = _catalogue()


def closure(names: Iterable[str]) -> list[str]:
    """``names`` plus the measures they are derived from, base measures first.

    Parameters
    ----------
    names : iterable of str
        Names in :data:`MEASURES`.

    Returns
    -------
    list of str
    """
    out = set(names)
    for n in list(out):
        out |= set(MEASURES[n].depends)
    return sorted(out, key=lambda n: (MEASURES[n].derived, n))
