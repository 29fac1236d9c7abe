"""Exceptions that the command line turns into one clear line and exit status 2.

Every message names the file, layer or key at fault and says what to do about it; the command
line prints it as ``sitesel: error: <message>`` (a traceback only with ``--debug``).
"""


class SiteselError(Exception):
    """A problem with the user's input, data or request (not a bug in sitesel)."""

    def __str__(self) -> str:
        # One line, whatever a file name, key or GDAL message dropped into it.
        return " ".join(super().__str__().split())


class ManifestError(SiteselError):
    """The layer manifest is missing, malformed, or names files that cannot be read."""


class LayerError(SiteselError):
    """A layer's file or contents cannot be used."""


class EmptyLayerError(LayerError):
    """A layer's file holds no features."""


class MissingLayerError(SiteselError):
    """A profile needs layers that the manifest does not provide."""

    def __init__(self, missing: dict[str, list[str]]):
        self.missing = missing
        names = ", ".join(f"{layer} (for {', '.join(sorted(crits))})" for layer, crits in sorted(missing.items()))
        super().__init__(
            f"the layer manifest lacks {names}; add them to the manifest or pass --allow-missing "
            "to rank without those criteria"
        )


class ProfileError(SiteselError):
    """A park-type profile is invalid."""


class RegionError(SiteselError):
    """The requested region or bounding box cannot be used."""


class CatalogError(SiteselError):
    """The source catalog is missing or malformed."""


class FetchError(SiteselError):
    """A download failed, was incomplete, or did not match its checksum."""


class OutputError(SiteselError):
    """The output directory cannot be used or written (permissions, existing files, full disk)."""
