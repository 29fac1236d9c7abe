"""Writing a run: the staged output folder, the record, the sites and their exports, the surface.

:mod:`~sitesel.output.staging` (the output directory, swapped in when complete),
:mod:`~sitesel.output.record` (``run.json``), :mod:`~sitesel.output.sites` (``sites.geojson``,
``sites.csv``), :mod:`~sitesel.output.vector` (GIS exports), :mod:`~sitesel.output.surface` and
:mod:`~sitesel.output.cog` (``suitability.tif``) and :mod:`~sitesel.output.runs` (reading a run
back). Nothing here draws: the maps (:mod:`sitesel.maps`) build on these modules, not the reverse.
"""

__all__: list[str] = []
