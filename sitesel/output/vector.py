"""Exports of ranked sites that GIS tools open cleanly: GeoJSON, GeoPackage, GeoParquet, CSV, KML.

All formats carry the same columns (documented in README.md, units in the names). Geometry:

* GeoJSON is RFC 7946: WGS84 lon/lat, counter-clockwise exteriors, no ``crs`` member,
  :data:`COORD_DECIMALS` decimals (about 0.1 m).
* The GeoPackage holds ``sites`` and the context layers clipped to the region, in the run's
  equal-area CRS (metres), with QGIS default styles in ``layer_styles``.
* GeoParquet 1.1 (WKB geometry, WGS84, a ``bbox`` covering column).
* CSV has no geometry: ``lon``/``lat`` are the site's centroid.
* KML (WGS84) puts every attribute into ``ExtendedData``.
"""
from __future__ import annotations

import atexit
import datetime as dt
import json
import shutil
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from sitesel.errors import SiteselError

__all__ = ["COORD_DECIMALS", "FORMATS", "GPKG_TEMPLATES", "GpkgTemplates", "parse_formats", "read_export",
           "rfc7946_problems", "styles_table", "write_csv", "write_geojson", "write_gpkg", "write_kml",
           "write_parquet"]

#: GeoJSON/KML coordinate precision: 6 decimals of a degree is about 0.1 m.
COORD_DECIMALS = 6
#: Format name -> file name in the run directory.
FORMATS = {"geojson": "sites.geojson", "gpkg": "sites.gpkg", "parquet": "sites.parquet", "csv": "sites.csv",
           "kml": "sites.kml"}


def parse_formats(text: str) -> list[str]:
    """``"gpkg,kml"`` -> ``["gpkg", "kml"]``; raises :class:`SiteselError` on an unknown name."""
    fmts = [f.strip().lower() for f in text.split(",") if f.strip()]
    bad = [f for f in fmts if f not in FORMATS]
    if bad:
        raise SiteselError(f"unknown export format(s) {', '.join(bad)}; choose from {', '.join(FORMATS)}")
    return fmts


def _wgs(sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return sites.to_crs("EPSG:4326") if sites.crs is not None and not sites.crs.equals("EPSG:4326") else sites


def write_geojson(sites: gpd.GeoDataFrame, path: Path) -> Path:
    """RFC 7946 GeoJSON (GDAL's RFC7946 mode rewinds rings and drops the ``crs`` member)."""
    wgs = _wgs(sites)
    if len(wgs):
        pyogrio.write_dataframe(wgs, path, driver="GeoJSON",
                                layer_options={"RFC7946": "YES", "COORDINATE_PRECISION": str(COORD_DECIMALS),
                                               "WRITE_NAME": "NO"})
    else:
        Path(path).write_text('{"type": "FeatureCollection", "features": []}\n')
    return Path(path)


def write_csv(sites: gpd.GeoDataFrame, path: Path) -> Path:
    """The attributes without geometry (``lon``/``lat`` give the centroid)."""
    pd.DataFrame(sites.drop(columns="geometry")).to_csv(path, index=False, lineterminator="\n")
    return Path(path)


def write_parquet(sites: gpd.GeoDataFrame, path: Path) -> Path:
    """GeoParquet 1.1 in WGS84 with a bbox covering column."""
    _wgs(sites).to_parquet(path, index=False, schema_version="1.1.0", write_covering_bbox=True)
    return Path(path)


def write_kml(sites: gpd.GeoDataFrame, path: Path) -> Path:
    """KML with a placemark per site (name ``Site N``) and every attribute in ExtendedData."""
    wgs = _wgs(sites).copy()
    wgs["geometry"] = shapely.set_precision(wgs.geometry.values, 10.0 ** -COORD_DECIMALS, mode="pointwise")
    wgs.insert(0, "Name", [f"Site {int(r)}" for r in wgs["rank"]] if len(wgs) else [])
    wgs.insert(1, "Description", wgs["reasons"] if "reasons" in wgs else "")
    pyogrio.write_dataframe(wgs, path, driver="LIBKML", layer="sites")
    return Path(path)


def styles_table(layers: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """Rows of QGIS's ``layer_styles`` table for ``layers``.

    Parameters
    ----------
    layers : dict
        Layer name -> (geometry column, QML).

    Returns
    -------
    DataFrame
        One default style per layer, stamped with the current UTC time.
    """
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = [{"f_table_catalog": "", "f_table_schema": "", "f_table_name": name, "f_geometry_column": geom_col,
             "styleName": name, "styleQML": qml, "styleSLD": "", "useAsDefault": True,
             "description": f"sitesel style for {name}", "owner": "", "ui": "", "update_time": now}
            for name, (geom_col, qml) in layers.items()]
    return pd.DataFrame(rows)


class GpkgTemplates:
    """GeoPackages holding only the context layers, reused when several park types over one
    study write their exports.

    An entry is found again only for the very same frames (kept with it, so their ids are not
    reused) in the same CRS.

    Parameters
    ----------
    limit : int
        Templates kept; all are dropped past this many.
    """

    def __init__(self, limit: int = 8):
        self.limit = limit
        self._entries: dict = {}

    def template(self, context: dict[str, gpd.GeoDataFrame], crs, styles: dict[str, str]) -> tuple[Path, dict]:
        """The template of ``context`` in ``crs`` and the styles of the layers it holds.

        Parameters
        ----------
        context : dict
            Layer name -> GeoDataFrame (empty layers are left out).
        crs
            CRS of every layer.
        styles : dict
            Layer name -> QML.

        Returns
        -------
        path : Path
            A GeoPackage in a temporary folder removed at exit.
        styles : dict
            Layer name -> (geometry column, QML) of the layers written.
        """
        key = (str(crs), tuple((name, id(gdf)) for name, gdf in context.items()))
        entry = self._entries.get(key)
        if entry is not None and all(a is b for a, b in zip(entry[0], context.values())) and entry[1].exists():
            return entry[1], entry[2]
        folder = Path(tempfile.mkdtemp(prefix="sitesel-gpkg-"))
        atexit.register(shutil.rmtree, folder, True)
        template = folder / "context.gpkg"
        written = {}
        for name, gdf in context.items():
            out = gdf.to_crs(crs)
            if out.empty:
                continue
            _write_layer(out, template, name)
            if styles.get(name):
                written[name] = ("geom", styles[name])
        if not template.exists():
            pyogrio.write_dataframe(gpd.GeoDataFrame({"x": []}, geometry=gpd.GeoSeries([], crs=crs)), template,
                                    layer="_empty", driver="GPKG")
        if len(self._entries) > self.limit:
            self._entries.clear()
        self._entries[key] = (list(context.values()), template, written)
        return template, written

    def clear(self) -> None:
        """Forget every template (the files go at exit)."""
        self._entries.clear()


#: The process's context templates (see :func:`write_gpkg`).
GPKG_TEMPLATES = GpkgTemplates()


def write_gpkg(sites: gpd.GeoDataFrame, path: Path, crs: str | None = None,
               context: dict[str, gpd.GeoDataFrame] | None = None,
               styles: dict[str, str] | None = None) -> Path:
    """A GeoPackage: ``sites`` and context layers (in ``crs``), with QGIS styles.

    Parameters
    ----------
    sites : GeoDataFrame
        Ranked sites.
    path : Path
        The file (replaced if it exists).
    crs : str, optional
        CRS of every layer (default the sites' own).
    context : dict, optional
        Layer name -> GeoDataFrame, written as named layers as they are (see
        :func:`sitesel.maps.qgis.gpkg_layers`).
    styles : dict, optional
        Layer name -> QML (see :func:`sitesel.maps.qgis.gpkg_styles`), stored in ``layer_styles``
        as the default style of each layer written.

    Returns
    -------
    Path
    """
    path = Path(path)
    styles = styles or {}
    if path.exists():
        path.unlink()  # a GeoPackage is appended to; start clean
    crs = crs or sites.crs
    written: dict = {}
    if context:
        # Layers shared by every park type over a study come from a template written once; the
        # eligible federal land (which depends on the park's agencies) is added to the copy.
        shared = {k: v for k, v in context.items() if k != "federal_land"}
        template, context_styles = GPKG_TEMPLATES.template(shared, crs, styles)
        shutil.copyfile(template, path)
        written.update(context_styles)
        if "federal_land" in context:
            land = context["federal_land"].to_crs(crs)
            if not land.empty:
                _write_layer(land, path, "federal_land")
                if styles.get("federal_land"):
                    written["federal_land"] = ("geom", styles["federal_land"])
    if not sites.empty:
        _write_layer(sites.to_crs(crs), path, "sites")
        if styles.get("sites"):
            written["sites"] = ("geom", styles["sites"])
    if written:
        table = styles_table(dict(sorted(written.items(), key=lambda kv: kv[0] != "sites")))
        pyogrio.write_dataframe(table, path, layer="layer_styles", driver="GPKG", append=path.exists(),
                                layer_options={"FID": "id"})
    return path


def _write_layer(gdf: gpd.GeoDataFrame, path: Path, name: str) -> None:
    gdf = gdf.copy()
    # Mixed single/multi parts: promote so each layer has one geometry type QGIS can style.
    gdf["geometry"] = _promote(gdf.geometry)
    pyogrio.write_dataframe(gdf, path, layer=name, driver="GPKG", append=path.exists(),
                            layer_options={"SPATIAL_INDEX": "YES"})


def _promote(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    types = set(geoms.geom_type.dropna())
    if len(types) <= 1:
        return geoms
    multi = {"Polygon": shapely.MultiPolygon, "LineString": shapely.MultiLineString, "Point": shapely.MultiPoint}
    out = [multi[g.geom_type]([g]) if g is not None and g.geom_type in multi else g for g in geoms]
    return gpd.GeoSeries(out, index=geoms.index, crs=geoms.crs)


def read_export(path: Path) -> gpd.GeoDataFrame | pd.DataFrame:
    """Read an export back (for checks and tests): sites as a (Geo)DataFrame."""
    path = Path(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.suffix == ".parquet":
        return gpd.read_parquet(path)
    if path.suffix == ".gpkg":
        return gpd.read_file(path, layer="sites", engine="pyogrio")
    return gpd.read_file(path, engine="pyogrio")


def rfc7946_problems(doc: dict, decimals: int = COORD_DECIMALS) -> list[str]:
    """RFC 7946 rules a GeoJSON document breaks (empty if none).

    Checks: no ``crs`` member (§4), positions are [lon, lat] inside [-180, 180] x [-90, 90] (§3.1.1),
    polygon exteriors counter-clockwise and holes clockwise (§3.1.6), at most ``decimals``
    decimals (§11.2), a valid ``bbox`` if present (§5).
    """
    probs = []
    if "crs" in doc:
        probs.append("has a crs member")
    if doc.get("type") != "FeatureCollection":
        probs.append("not a FeatureCollection")
    for i, f in enumerate(doc.get("features", [])):
        g = f.get("geometry") or {}
        polys = ([g["coordinates"]] if g.get("type") == "Polygon" else
                 g.get("coordinates", []) if g.get("type") == "MultiPolygon" else [])
        for rings in polys:
            for k, ring in enumerate(rings):
                a = np.asarray(ring, dtype=float)
                if len(a) < 4 or not np.array_equal(a[0], a[-1]):
                    probs.append(f"feature {i}: ring {k} not closed")
                area2 = np.sum(a[:-1, 0] * a[1:, 1] - a[1:, 0] * a[:-1, 1])
                if (k == 0 and area2 <= 0) or (k > 0 and area2 >= 0):
                    probs.append(f"feature {i}: ring {k} wound the wrong way")
        coords = (np.asarray(shapely.get_coordinates(shapely.from_geojson(json.dumps(g))), dtype=float) if g
                  else np.empty((0, 2)))
        if coords.size and ((np.abs(coords[:, 0]) > 180).any() or (np.abs(coords[:, 1]) > 90).any()):
            probs.append(f"feature {i}: position outside lon/lat bounds")
        if coords.size and not np.allclose(coords, np.round(coords, decimals), rtol=0, atol=10.0 ** -(decimals + 3)):
            probs.append(f"feature {i}: more than {decimals} decimals")
        bbox = f.get("bbox")
        if bbox is not None and not (bbox[0] <= bbox[2] and bbox[1] <= bbox[3]):
            probs.append(f"feature {i}: bad bbox")
    return probs
