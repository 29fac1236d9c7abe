"""Defaults shared by the command line and the library, and where the shipped data lives.

Kept free of third-party imports so that building the command-line parser (``sitesel --help``)
does not load geopandas, rasterio or scipy.
"""
from __future__ import annotations

from pathlib import Path

#: Export formats ``sitesel rank`` writes besides the GeoJSON, CSV, COG and maps.
DEFAULT_EXPORTS = ("gpkg", "parquet")
#: Share of the smaller of two sites that must overlap for ``sitesel compare`` to match them.
DEFAULT_MIN_OVERLAP = 0.5
#: Dirichlet concentration c of the weight samples: a weight w varies with sd sqrt(w(1-w)/(c+1)).
DEFAULT_CONCENTRATION = 100.0
#: Weight samples drawn by ``sitesel sensitivity``.
DEFAULT_SAMPLES = 1000
#: Size of the top group whose membership sensitivity reports (and sites in the sweep plot).
DEFAULT_K = 10


def builtin_data() -> Path:
    """The repository's ``data/`` folder (a source checkout), or the installed ``sitesel.builtin``."""
    here = Path(__file__).resolve().parent.parent / "data"
    if (here / "profiles").is_dir():
        return here
    from importlib import resources

    return Path(str(resources.files("sitesel.builtin")))
