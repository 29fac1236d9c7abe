"""Getting the public layers: the source catalog, downloads, and conversion into the layout the manifest reads.
"""

__all__: list[str] = []
