"""Exceptions that the command line turns into one clear line and exit status 2.

Every message names the file, layer or key at fault and says what to do about it. The library
speaks in its own keywords; the command line in its flags. A message names an option as
``{opt:NAME}`` or ``{opt:NAME=VALUE}`` (``NAME`` spelt as the Python keyword; ``{opt:NAME|FLAG}``
where the flag's name differs), and :meth:`SiteselError.render` writes it for its reader:

>>> e = SiteselError("pass {opt:allow_missing=True} to rank without them")
>>> str(e)
'pass allow_missing=True to rank without them'
>>> e.render("cli")
'pass --allow-missing to rank without them'
>>> SiteselError("try {opt:land='all'}").render("cli")
'try --land all'
>>> e = SiteselError("{opt:weights|weight}: unknown criterion")
>>> str(e), e.render("cli")
('weights: unknown criterion', '--weight: unknown criterion')

The command line prints ``sitesel: error: <message>`` (a traceback only with ``--debug``).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from difflib import get_close_matches

__all__ = [
    "CatalogError", "CostError", "EmptyLayerError", "FetchError", "LayerError", "ManifestError", "MissingLayerError",
    "OutputError", "ProfileError", "RegionError", "SiteselError", "closest", "did_you_mean", "render_options",
]

_OPTION = re.compile(r"\{opt:(\w+)(?:\|(\w+))?(?:=([^}]*))?\}")


def render_options(text: str, style: str = "api") -> str:
    """``text`` with its ``{opt:NAME}`` placeholders spelt for ``style`` (``'api'`` or ``'cli'``).

    >>> render_options("try {opt:land='all'}", "cli")
    'try --land all'
    """
    return _OPTION.sub(lambda m: _option(m.group(1), m.group(2), m.group(3), style), text)


def _option(name: str, cli_name: str | None, value: str | None, style: str) -> str:
    if style == "cli":
        flag = "--" + (cli_name or name).replace("_", "-")
        if value is None or value == "True":
            return flag
        return f"{flag} {value.strip(chr(39))}"
    return name if value is None else f"{name}={value}"


class SiteselError(Exception):
    """A problem with the user's input, data or request (not a bug in sitesel).

    Parameters
    ----------
    message : str
        What is wrong and what to do, naming options as ``{opt:NAME}`` (see the module).
    **fields
        Structured facts about the error (the layer, file, key or option at fault), kept in
        :attr:`fields` for callers that act on them rather than on the text.
    """

    def __init__(self, message: str = "", **fields: object):
        super().__init__(message)
        self.fields: dict[str, object] = fields

    def render(self, style: str = "api") -> str:
        """The message on one line, with options spelt for ``style``: ``'api'`` or ``'cli'``."""
        text = render_options(super().__str__(), style)
        # One line, whatever a file name, key or GDAL message dropped into it.
        return " ".join(text.split())

    def __str__(self) -> str:
        return self.render("api")


class ManifestError(SiteselError):
    """The layer manifest is missing, malformed, or names files that cannot be read."""


class LayerError(SiteselError):
    """A layer's file or contents cannot be used."""


class EmptyLayerError(LayerError):
    """A layer's file holds no features."""


class MissingLayerError(SiteselError):
    """A profile needs layers that the manifest does not provide.

    Attributes
    ----------
    missing : dict
        Layer name -> the criteria, constraints or steps that need it.
    """

    def __init__(self, missing: dict[str, list[str]]):
        self.missing = missing
        names = ", ".join(f"{layer} (for {', '.join(sorted(crits))})" for layer, crits in sorted(missing.items()))
        super().__init__(f"the layer manifest lacks {names}; add them to the manifest or pass "
                         "{opt:allow_missing=True} to rank without those criteria", missing=missing)


class ProfileError(SiteselError):
    """A park-type profile is invalid."""


class CostError(SiteselError):
    """The site-cost model file is missing or invalid."""


class RegionError(SiteselError):
    """The requested region or bounding box cannot be used."""


class CatalogError(SiteselError):
    """The source catalog is missing or malformed."""


class FetchError(SiteselError):
    """A download failed, was incomplete, or did not match its checksum."""


class OutputError(SiteselError):
    """The output directory cannot be used or written (permissions, existing files, full disk)."""


def closest(word: str, options: Iterable[str], cutoff: float = 0.6, fold_case: bool = False) -> str | None:
    """The option most like ``word`` (``difflib`` ratio at least ``cutoff``), or None.

    >>> closest("semiconductor_fba", ["semiconductor_fab", "shipyard"])
    'semiconductor_fab'
    >>> closest("Slope", ["slope", "water"], fold_case=True)
    'slope'
    """
    options = [str(o) for o in options]
    if fold_case:
        lower = {o.lower(): o for o in options}
        hit = get_close_matches(str(word).lower(), list(lower), n=1, cutoff=cutoff)
        return lower[hit[0]] if hit else None
    hit = get_close_matches(str(word), options, n=1, cutoff=cutoff)
    return hit[0] if hit else None


def did_you_mean(word: str, options: Iterable[str], cutoff: float = 0.6, fold_case: bool = False) -> str:
    """``" (did you mean 'x'?)"`` for the closest option, or ``""`` when none is close.

    >>> did_you_mean("shipyrd", ["shipyard", "pharma"])
    " (did you mean 'shipyard'?)"
    >>> did_you_mean("zzz", ["shipyard"])
    ''
    """
    hit = closest(word, options, cutoff, fold_case)
    return f" (did you mean '{hit}'?)" if hit else ""
