"""Reading the TOML files sitesel takes (layer manifests, profiles, catalogs, AHP tables, policies).

Every way such a file can be unusable gets one line naming the file and what it is for:

>>> read_toml("no/such/layers.toml", "layer manifest")
Traceback (most recent call last):
sitesel.errors.SiteselError: layer manifest not found: no/such/layers.toml
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path

from sitesel.errors import SiteselError

__all__ = ["read_toml"]


def read_toml(path: str | os.PathLike, what: str, error: type[SiteselError] = SiteselError,
              schema: str | None = None, if_missing: str | None = None) -> dict:
    """The document in a TOML file, or one clear error.

    Parameters
    ----------
    path : path-like
        The file.
    what : str
        What the file is, for messages: ``"layer manifest"``, ``"profile"``, ``"AHP file"``, ...
    error : type of SiteselError
        The exception raised (e.g. :class:`~sitesel.errors.ManifestError`).
    schema : str, optional
        Where the format is described (``"docs/schema.md"``), named when the contents are wrong.
    if_missing : str, optional
        What to do when the file does not exist, appended to that message.

    Returns
    -------
    dict
        The parsed document.

    Raises
    ------
    SiteselError
        Of type ``error``, on one line: the file is missing, a folder, unreadable, not UTF-8
        text, or not valid TOML (with the line and column of the mistake).
    """
    path = Path(path)
    see = f" (schema: {schema})" if schema else ""
    if not path.exists():
        raise error(f"{what} not found: {path}" + (f"; {if_missing}" if if_missing else ""), path=str(path))
    if path.is_dir():
        raise error(f"{what} {path} is a folder, not a file; give the path of the TOML file", path=str(path))
    try:
        # read_text, not tomllib.load: it turns Windows and old-Mac line ends into newlines.
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not a text file (byte {exc.start} is not UTF-8); a {what} is TOML text{see}",
                    path=str(path)) from None
    except OSError as exc:
        raise error(f"cannot read the {what} {path} ({exc.strerror or exc}); check its permissions",
                    path=str(path)) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # The parser's message ends with "(at line L, column C)".
        raise error(f"{path}: not valid TOML ({exc}); fix the {what}{see}", path=str(path)) from None
