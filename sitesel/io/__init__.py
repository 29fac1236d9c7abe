"""Reading inputs: the layer manifest and the files it names, and the on-disk caches.

- :mod:`~sitesel.io.toml`: reading any TOML input with one clear error;
- :mod:`~sitesel.io.manifest`: the layer manifest;
- :mod:`~sitesel.io.files`: checking and describing source files;
- :mod:`~sitesel.io.formats`: GeoParquet without GDAL's driver, CSVs of points;
- :mod:`~sitesel.io.layers`: vector layers, read and normalised;
- :mod:`~sitesel.io.attributes`: their attributes in canonical form;
- :mod:`~sitesel.io.raster`: raster layers;
- :mod:`~sitesel.io.cache`, :mod:`~sitesel.io.layercache`: the on-disk caches.
"""

__all__: list[str] = []
