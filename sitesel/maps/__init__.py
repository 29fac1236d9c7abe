"""Pictures of a run: the interactive Folium map, the static PNG, the context layers and their styles,
QGIS styles and the vendored web assets.

:mod:`~sitesel.maps.interactive` builds ``map.html`` from :mod:`~sitesel.maps.popups` (labels,
popups, panels) and :mod:`~sitesel.maps.display` (context layers fitted to the page);
:mod:`~sitesel.maps.static` draws ``map.png``; both take the layers of
:mod:`~sitesel.maps.context` and the colours of :mod:`~sitesel.maps.styles`, as do the QGIS styles
of :mod:`~sitesel.maps.qgis`. Maps read runs through :mod:`sitesel.output`, never the reverse.
"""

__all__: list[str] = []
