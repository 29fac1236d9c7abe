"""sitesel: find where on US federal land new industrial parks could go.

Open a study once, then rank and re-rank park types over it::

    import sitesel
    study = sitesel.open_study(region="AZ,NM", resolution=1000)
    fab = study.rank("semiconductor_fab", weights={"water_stress": 0.3})
    fab.to_file("out/fab")        # what `sitesel rank --out out/fab` writes

The names below are the public API; everything else is internal and may change. They are served
lazily, so that ``import sitesel`` (and the command line's ``--help``) stay light.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: Public name -> (module, attribute).
_PUBLIC = {
    # studies and rankings
    "open_study": ("sitesel.api", "open_study"),
    "StudySession": ("sitesel.api", "StudySession"),
    "RankResult": ("sitesel.api", "RankResult"),
    "Study": ("sitesel.study.core", "Study"),
    "StudyOptions": ("sitesel.pipeline.study", "StudyOptions"),
    "rank": ("sitesel.analysis.ranking", "rank"),
    "Ranker": ("sitesel.analysis.ranking", "Ranker"),
    "Result": ("sitesel.analysis.ranking", "Result"),
    # profiles and weights
    "Profile": ("sitesel.analysis.profiles", "Profile"),
    "list_profiles": ("sitesel.analysis.profiles", "list_profiles"),
    "load_profile": ("sitesel.analysis.profiles", "load_profile"),
    "resolve_profile": ("sitesel.analysis.profiles", "resolve_profile"),
    "ahp_weights": ("sitesel.analysis.ahp", "ahp_weights"),
    # runs, comparison and robustness
    "read_run": ("sitesel.output.runs", "read_run"),
    "compare_runs": ("sitesel.analysis.compare", "compare"),
    "sensitivity": ("sitesel.analysis.sensitivity", "sensitivity"),
    # the synthetic demo dataset
    "make_demo": ("sitesel.demo", "make_demo"),
    # errors
    "SiteselError": ("sitesel.errors", "SiteselError"),
    "ManifestError": ("sitesel.errors", "ManifestError"),
    "LayerError": ("sitesel.errors", "LayerError"),
    "MissingLayerError": ("sitesel.errors", "MissingLayerError"),
    "ProfileError": ("sitesel.errors", "ProfileError"),
    "RegionError": ("sitesel.errors", "RegionError"),
    "OutputError": ("sitesel.errors", "OutputError"),
    "FetchError": ("sitesel.errors", "FetchError"),
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    if name in _PUBLIC:
        module, attr = _PUBLIC[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
