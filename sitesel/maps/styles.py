"""Colours and classes shared by every picture of a run, so they all look alike.

The interactive map (:mod:`sitesel.maps.interactive`), the static picture
(:mod:`sitesel.maps.static`) and the QGIS styles of the GeoPackage (:mod:`sitesel.maps.qgis`)
draw sites, federal land, transmission lines and power plants from these tables.
"""
from __future__ import annotations

import numpy as np

__all__ = ["AGENCY_COLORS", "KV_STYLES", "MW_STYLES", "SCORE_CLASSES", "SCORE_COLORS", "style_classes"]

#: Score colours (red = low, green = high) of the maps' colour scales.
SCORE_COLORS = ["#d73027", "#fc8d59", "#fee08b", "#d9ef8b", "#91cf60", "#1a9850"]
#: Score classes of the GeoPackage's sites style (lower, upper, colour).
SCORE_CLASSES = ((0, 50, "#d73027"), (50, 60, "#fc8d59"), (60, 70, "#fee08b"), (70, 80, "#d9ef8b"),
                 (80, 90, "#91cf60"), (90, 100.01, "#1a9850"))
#: Colours of the managing agencies (PAD-US manager codes), as on BLM/USFS surface-management maps.
AGENCY_COLORS = {
    "BLM": "#f7d35c", "USFS": "#5aa05a", "DOD": "#d98fd9", "DOE": "#f08a5d", "USBR": "#6fa8dc",
    "TVA": "#9e7bb5", "NPS": "#9b6b43", "FWS": "#7fc8c8", "BIA": "#c9a27e", "OTHER": "#bbbbbb",
}
#: Transmission voltage classes (lower bound kV, label, colour, line width in px).
KV_STYLES = (
    (765.0, "765 kV", "#54278f", 3.5),
    (500.0, "500 kV", "#b30000", 3.0),
    (345.0, "345 kV", "#e34a33", 2.5),
    (230.0, "230 kV", "#fc8d59", 2.0),
    (-np.inf, "under 230 kV or unknown", "#969696", 1.5),
)
#: Power-plant size classes (lower bound MW, label, circle radius in px).
MW_STYLES = (
    (2000.0, "2,000 MW and more", 13),
    (1000.0, "1,000-2,000 MW", 10),
    (300.0, "300-1,000 MW", 7),
    (50.0, "50-300 MW", 5),
    (-np.inf, "under 50 MW", 3),
)


def style_classes(values, styles=KV_STYLES) -> np.ndarray:
    """Index into ``styles`` of each value: the first class whose lower bound it meets.

    Parameters
    ----------
    values : array-like of float
        Voltages or capacities; missing values get the last class.
    styles : tuple
        :data:`KV_STYLES` or :data:`MW_STYLES` (lower bounds first in each entry, descending).

    Returns
    -------
    ndarray of int64
    """
    v = np.asarray(values, dtype=float)
    v = np.where(np.isfinite(v), v, -np.inf)
    out = np.full(v.shape, len(styles) - 1, dtype=np.int64)
    for i in range(len(styles) - 1, -1, -1):  # the first class whose lower bound is met wins
        out[v >= styles[i][0]] = i
    return out
