"""Where the data that ships with sitesel lives (profiles, manifests, land policy)."""
from __future__ import annotations

from pathlib import Path


def builtin_data() -> Path:
    """The repository's ``data/`` folder (a source checkout), or the installed ``sitesel.builtin``."""
    here = Path(__file__).resolve().parent.parent / "data"
    if (here / "profiles").is_dir():
        return here
    from importlib import resources

    return Path(str(resources.files("sitesel.builtin")))
