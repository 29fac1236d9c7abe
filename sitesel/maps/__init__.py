"""Pictures of a run: the interactive Folium map, the static PNG, the context layers and their styles,
QGIS styles and the vendored web assets.
"""
