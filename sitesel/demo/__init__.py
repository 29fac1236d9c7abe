"""A small synthetic dataset for offline demos and tests.

:func:`make_demo` writes every layer sitesel needs for an invented region, "Synthetica"
(state code ``XX``), of about 200 km x 150 km in the US south-west, plus a layer manifest that
follows ``docs/schema.md``. Nothing is copied from real data: all geometry and values come from
code and a fixed random seed. The files deliberately reproduce the formats and quirks of the real
national layers (National Atlas agency codes, HIFLD ``-999999`` sentinels, WRI Aqueduct ``-1`` and
``-9999`` codes, TIGER business loops, PAD-US GeoJSON without a CRS member, invalid polygons, a
DEM in EPSG:5070 and an irradiance grid in EPSG:4269 in MJ/m2/day) so that a demo run goes
through the same loader code paths as a run on the national data.

The layout is designed so that the ``ai_datacenter`` park type gives meaningful results: flat
BLM, Forest Service, DOE and DOD land within 15 km of 230-500 kV lines, and land that fails for
clear reasons (mountain ranges, land only near 115 kV or unknown-voltage lines, wilderness inside
otherwise good BLM land, National Park Service and Fish and Wildlife Service land).
"""
from __future__ import annotations

from sitesel.demo.build import MANIFEST_NAME, STAMP_NAME, make_demo, manifest_text
from sitesel.demo.shapes import DEMO_BOUNDS, DEMO_LABEL, DEMO_REGION, DEMO_VERSION

__all__ = ["DEMO_BOUNDS", "DEMO_LABEL", "DEMO_REGION", "DEMO_VERSION", "MANIFEST_NAME", "STAMP_NAME", "make_demo",
           "manifest_text"]
