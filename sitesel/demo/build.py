"""Writing the demo dataset: every layer, the manifest and a stamp, built aside and moved in place."""
from __future__ import annotations

import contextlib
import json
import os
import pathlib
import shutil
import tempfile
from collections.abc import Callable, Iterator

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

from sitesel.demo import layers
from sitesel.demo.rasters import write_dem, write_ghi
from sitesel.demo.shapes import COORD_DECIMALS, DEMO_LABEL, DEMO_REGION, DEMO_VERSION, STATE_NAME

__all__ = ["MANIFEST_NAME", "STAMP_NAME", "build", "is_complete", "make_demo", "manifest_text"]

MANIFEST_NAME = "manifest.toml"
STAMP_NAME = "demo_stamp.json"

# GeoPackage stores a "last_change" timestamp; pinning GDAL's clock makes the files
# byte-identical from one build to the next.
_FIXED_DATE = "2025-01-01T00:00:00.000Z"

@contextlib.contextmanager
def _fixed_gdal_clock() -> Iterator[None]:
    """GDAL's clock stopped at :data:`_FIXED_DATE` meanwhile."""
    old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": _FIXED_DATE})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})


def _write_gpkg(gdf: gpd.GeoDataFrame, path: pathlib.Path, layer: str, what: str) -> None:
    """Write ``gdf`` as ``layer`` of a GeoPackage, described as synthetic ``what``."""
    gdf = gdf.copy()
    gdf.geometry = shapely.transform(gdf.geometry.values, lambda c: np.round(c, COORD_DECIMALS))
    pyogrio.write_dataframe(gdf, path, layer=layer, driver="GPKG",
                            layer_options={"DESCRIPTION": f"{DEMO_LABEL}: {what}", "IDENTIFIER": layer})


def _write_geojson(features: list[dict], path: pathlib.Path) -> None:
    # One feature per line and no "crs" member, exactly like the PAD-US extracts.
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    text = '{"type":"FeatureCollection", "features": [\n' + ",\n".join(lines) + "\n]}\n"
    path.write_text(text, encoding="utf-8")


_MANIFEST = """\
# {label}
#
# Layer manifest of the sitesel demo dataset (DEMO_VERSION = {version}), written by
# sitesel.demo.make_demo. Every file beside it is invented: the state "{region}" ({state})
# and all its land, lines, roads and terrain are generated from a fixed random seed and only
# overlap real geography by chance. Use it to try sitesel offline, never for real siting.
#
# The files copy the formats and quirks of the real national layers (see docs/schema.md), so
# a demo run goes through the same loader code as a run on PAD-US, HIFLD, TIGER, etc.

title = "sitesel demo: {state}"
description = "{label}. Invented region '{region}' for offline demos and tests."
root = "."

[layers.states]
description = "{label}"
path = "states.gpkg"
layer = "states"
fields = {{ code = "stusps", name = "name" }}

# National Atlas agency codes (FS, BOR) mapped to PAD-US codes; two polygons are invalid bow-ties.
[layers.federal_lands]
description = "{label}"
path = "federal_lands.gpkg"
layer = "federal_lands"
fields = {{ agency = "agency", unit = "unit_name" }}
agency_map = {{ FS = "USFS", BOR = "USBR" }}

# PAD-US style GeoJSON (no CRS member); the designation is inferred from the unit name.
[layers.protected_areas]
description = "{label}"
path = "protected.geojson"
layer = "protected"
fields = {{ unit = "NAME", agency = "MANNAME" }}
designation_from = "unit"

[layers.transmission_lines]
description = "{label}"
path = "transmission.gpkg"
layer = "lines"
fields = {{ voltage_kv = "VOLTAGE" }}
sentinels = {{ voltage_kv = [-999999] }}

[layers.substations]
description = "{label}"
path = "substations.gpkg"
layer = "substations"
fields = {{ max_kv = "MAX_VOLT", name = "NAME" }}
sentinels = {{ max_kv = [-999999] }}

[layers.power_plants]
description = "{label}"
path = "power_plants.gpkg"
layer = "plants"
fields = {{ mw = "Total_MW", fuel = "PrimSource", name = "Plant_Name" }}

[layers.rivers]
description = "{label}"
path = "rivers.gpkg"
layer = "rivers"
fields = {{ name = "name" }}

[layers.lakes]
description = "{label}"
path = "lakes.gpkg"
layer = "lakes"
fields = {{ name = "name" }}

# Aqueduct codes: -1 = arid and low water use (treated as extremely high), -9999 = no data.
[layers.water_stress]
description = "{label}"
path = "water_stress.gpkg"
layer = "bws"
fields = {{ bws_cat = "bws_cat" }}
sentinels = {{ bws_cat = [-9999] }}
value_map = {{ bws_cat = {{ "-1" = 4 }} }}

# Mainline Interstates only: business loops are surface streets.
[layers.interstates]
description = "{label}"
path = "roads.gpkg"
layer = "roads"
fields = {{ name = "name" }}
where = "is_interstate = 1 AND business_route = 0"

[layers.highways]
description = "{label}"
path = "roads.gpkg"
layer = "roads"
fields = {{ name = "name" }}

# Natural Earth railroads carry no name column.
[layers.railroads]
description = "{label}"
path = "railroads.gpkg"
layer = "rail"

[layers.ports]
description = "{label}"
path = "ports.gpkg"
layer = "ports"
fields = {{ name = "name" }}

[layers.airports]
description = "{label}"
path = "airports.gpkg"
layer = "airports"
fields = {{ name = "name" }}

[layers.counties]
description = "{label}"
path = "counties.gpkg"
layer = "counties"
fields = {{ population = "pop_latest", name = "name" }}

# EPSG:5070, 1000 m, metres, nodata -9999 (with a few holes).
[layers.dem]
description = "{label}"
kind = "raster"
path = "dem.tif"

# EPSG:4269, 0.02 deg, MJ/m2/day; the scale converts to kWh/m2/day.
[layers.solar]
description = "{label}"
kind = "raster"
path = "ghi.tif"
scale = 0.2777777777777778
"""


def manifest_text() -> str:
    """The demo's ``manifest.toml`` contents."""
    return _MANIFEST.format(label=DEMO_LABEL, version=DEMO_VERSION, region=DEMO_REGION, state=STATE_NAME)


def build(out: pathlib.Path) -> list[str]:
    """Write every demo file into ``out``.

    Parameters
    ----------
    out : pathlib.Path
        An existing, empty folder.

    Returns
    -------
    list of str
        The names of the files written, the manifest last.
    """
    vectors: list[tuple[str, str, Callable[[], gpd.GeoDataFrame], str]] = [
        ("states.gpkg", "states", layers.states, "one invented state"),
        ("transmission.gpkg", "lines", layers.transmission,
         "HIFLD-style transmission lines, VOLTAGE -999999 = unknown"),
        ("substations.gpkg", "substations", layers.substations, "HIFLD-style substations, MAX_VOLT -999999 = unknown"),
        ("power_plants.gpkg", "plants", layers.power_plants, "EIA-style power plants"),
        ("rivers.gpkg", "rivers", layers.rivers, "Natural Earth-style rivers"),
        ("lakes.gpkg", "lakes", layers.lakes, "Natural Earth-style lakes"),
        ("water_stress.gpkg", "bws", layers.water_stress, "Aqueduct-style water stress, -1 arid, -9999 no data"),
        ("roads.gpkg", "roads", layers.roads, "TIGER-style Interstates, US and state highways"),
        ("railroads.gpkg", "rail", layers.railroads, "Natural Earth-style main-line railroads"),
        ("ports.gpkg", "ports", layers.ports, "Natural Earth-style ports"),
        ("airports.gpkg", "airports", layers.airports, "Natural Earth-style airports"),
        ("counties.gpkg", "counties", layers.counties, "Census-style counties with population"),
    ]
    names = []
    with _fixed_gdal_clock():
        for fname, layer, build, what in vectors:
            _write_gpkg(build(), out / fname, layer, what)
            names.append(fname)
        records, geoms = layers.federal_units_km()
        lands, collapsed = layers.federal_lands(records, geoms)
        _write_gpkg(lands, out / "federal_lands.gpkg", "federal_lands",
                    "National Atlas-style federal land (agency codes FS, BOR, ...), two invalid polygons")
        _write_gpkg(collapsed, out / "federal_lands.gpkg", "collapsed_small_units_points",
                    "small units collapsed to points")
        names.append("federal_lands.gpkg")
    hosts = {r["unit_name"]: shapely.make_valid(g) for r, g in zip(records, geoms)}
    _write_geojson(layers.protected(hosts), out / "protected.geojson")
    write_dem(out / "dem.tif")
    write_ghi(out / "ghi.tif")
    names += ["protected.geojson", "dem.tif", "ghi.tif"]
    (out / MANIFEST_NAME).write_text(manifest_text(), encoding="utf-8")
    names.append(MANIFEST_NAME)
    return names


def is_complete(directory: pathlib.Path) -> bool:
    """True if ``directory`` holds a finished demo of this DEMO_VERSION with untruncated files.

    Parameters
    ----------
    directory : pathlib.Path
    """
    try:
        stamp = json.loads((directory / STAMP_NAME).read_text(encoding="utf-8"))
        return stamp.get("demo_version") == DEMO_VERSION and all(
            (directory / name).stat().st_size == size for name, size in stamp["files"].items()
        )
    except (OSError, ValueError, KeyError, AttributeError, TypeError):
        return False


def make_demo(directory: str | os.PathLike) -> pathlib.Path:
    """Write the synthetic demo dataset into `directory` (created if needed) and return the path of its manifest.toml.

    Idempotent: if the directory already holds a complete demo of the same DEMO_VERSION, return
    quickly without rewriting.

    Parameters
    ----------
    directory : str or path-like
        Output folder. Other files in it are left alone.

    Returns
    -------
    pathlib.Path
        ``directory / "manifest.toml"``; load it with :func:`sitesel.io.manifest.load_manifest` and
        use region ``DEMO_REGION`` (``"XX"``).

    Notes
    -----
    Files are built in a private temporary folder and moved into place one by one, then a
    stamp file is written last, so an interrupted or concurrent build never leaves a folder
    that looks complete but is not.
    """
    directory = pathlib.Path(directory)
    manifest = directory / MANIFEST_NAME
    if is_complete(directory):
        return manifest
    directory.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=".demo-build-", dir=directory))
    try:
        names = build(tmp)
        sizes = {name: (tmp / name).stat().st_size for name in names}
        for name in names:
            os.replace(tmp / name, directory / name)
        stamp = {"demo_version": DEMO_VERSION, "label": DEMO_LABEL, "files": sizes}
        (tmp / STAMP_NAME).write_text(json.dumps(stamp, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp / STAMP_NAME, directory / STAMP_NAME)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest
