"""sitesel: find where on US federal land new industrial parks could go.

The notebook API (:mod:`sitesel.api`) is available from the package itself::

    import sitesel
    study = sitesel.open_study(region="AZ,NM", resolution=1000)
    fab = study.rank("semiconductor_fab", weights={"water_stress": 0.3})
"""

__version__ = "0.1.0"

#: Names served lazily from submodules, so that ``import sitesel`` (and the CLI) stay light.
_LAZY = {
    "open_study": "api", "StudySession": "api", "RankResult": "api",
    "compare_runs": "analysis.compare", "ahp_weights": "analysis.ahp",
    "resolve_profile": "analysis.profiles", "load_profile": "analysis.profiles", "list_profiles": "analysis.profiles",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        attr = "compare" if name == "compare_runs" else name  # sitesel.analysis.compare is the module
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
