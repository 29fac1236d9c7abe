"""The interactive map, its context layers, offline assets and the static picture, on a real run."""
from __future__ import annotations

import hashlib
import re
import shutil
import tomllib

import numpy as np
import pytest
import shapely

from sitesel.cli import main
from sitesel.maps.context import CLIP_MARGIN_M, context_layers
from sitesel.maps.display import context_frame, display_frames
from sitesel.maps.interactive import render_map, site_map
from sitesel.maps.popups import esc, site_popup
from sitesel.maps.vendored import ASSETS, external_links, inline_assets, url_table
from sitesel.output.runs import read_run

#: The issue's ceiling for a four-state map.
MAX_MAP_BYTES = 15_000_000


@pytest.fixture(scope="module")
def run(fab_run):
    return read_run(fab_run)


@pytest.fixture(scope="module")
def context(run):
    return context_layers(run.study(), run.eligible_agencies, run.land)


def test_esc_neutralises_html_and_template_literals():
    s = esc('<img src=x onerror=alert(1)> `${x}` \\ "q" \'a\' &')
    assert "<" not in s and ">" not in s and "`" not in s and "$" not in s and "\\" not in s
    assert '"' not in s and "'" not in s
    assert s.startswith("&lt;img src=x onerror=alert(1)&gt;")
    assert esc(None) == "n/a" and esc(float("nan")) == "n/a"


def test_vendored_assets_match_their_manifest():
    doc = tomllib.loads((ASSETS / "assets.toml").read_text())
    for key, digest in doc["sha256"].items():
        assert hashlib.sha256((ASSETS / key).read_bytes()).hexdigest() == digest, key
    for pkg in doc["package"]:
        assert (ASSETS / pkg["dir"] / pkg["license"]).is_file()
    assert all(p.is_file() for p in url_table().values())


def test_online_map_links_only_vendored_assets_and_offline_inlines_them(run, context):
    m = site_map(run, context, run.file("suitability.tif"), ["sites.csv"])
    online = render_map(m)
    links = external_links(online)
    assert links and set(links) <= set(url_table())  # so --offline can always inline them
    offline = inline_assets(online)
    assert external_links(offline) == []
    assert not re.search(r'<(script|link)[^>]+(src|href)="https?://', offline)
    assert "L.Control.Search" in offline and "leaflet-measure" in offline  # plugin code is in the page


def test_four_state_map_is_small_and_has_every_layer(run, context, fab_run, tmp_path):
    out = tmp_path / "map.html"
    assert main(["map", str(fab_run), "--offline", "--out", str(out), "--no-png"]) == 0
    page = out.read_text()
    assert out.stat().st_size < MAX_MAP_BYTES
    for title in ("Eligible federal land", "Transmission lines", "Substations", "Power plants", "Rivers",
                  "Lakes", "Railroads", "Interstates and highways", "Airports", "Suitability surface",
                  "Ranked sites", "OpenStreetMap", "satellite", "light"):
        assert title in page, title
    assert page.count('class=\\"ss-popup\\"') + page.count('class="ss-popup"') >= 2 * len(run.sites)
    assert "data:image/png;base64" in page  # the suitability overlay
    for criterion in run.criteria:
        assert criterion in page


def test_context_layers_are_clipped_to_the_region(run, context):
    region = run.study().region.geometry
    assert {"federal_land", "transmission_lines", "substations", "power_plants", "roads"} <= set(context)
    for name, gdf in context.items():
        # the clip polygon is the region simplified by up to 2 km, grown by the margin
        assert gdf.geometry.within(region.buffer(CLIP_MARGIN_M + 2_001)).all(), name
        assert gdf["label"].notna().all()
    assert set(context["federal_land"]["agency"]) <= set(run.eligible_agencies)
    # the layers were really clipped: some full-layer features reach far beyond the region
    full = run.study().layer("transmission_lines")
    assert not full.geometry.within(region.buffer(CLIP_MARGIN_M + 2_001)).all()


def test_popup_has_full_breakdown_with_units(run):
    row = run.sites.iloc[0]
    html = site_popup(row, run, ["sites.csv", "sites.gpkg"])
    assert f"Site {int(row['rank'])}" in html and f"{row['score']:.1f}" in html
    assert " km</td>" in html and "people</td>" in html and "%</td>" in html  # values with units
    for key in run.criteria:
        assert f"<td>{key}</td>" in html
    for desc in run.constraints.values():
        assert esc(desc) in html
    assert "Nearest features" in html and "substation" in html and "airport" in html
    assert 'href="sites.csv#row=2"' in html and 'href="sites.gpkg"' in html


def test_map_command_redraws_png_and_fails_clearly(fab_run, tmp_path, capsys):
    run_dir = tmp_path / "run"
    shutil.copytree(fab_run, run_dir)
    (run_dir / "map.png").unlink()
    assert main(["map", str(run_dir)]) == 0
    png = run_dir / "map.png"
    from matplotlib.image import imread

    img = imread(png)
    assert img.shape[0] > 800 and img.shape[1] > 1000
    assert np.std(img[..., :3]) > 0.05  # a picture, not a blank canvas
    assert main(["map", str(tmp_path / "nope")]) == 2
    assert "not a sitesel run directory" in capsys.readouterr().err


def test_sites_without_context_when_manifest_is_gone(fab_run, tmp_path, capsys):
    run_dir = tmp_path / "run"
    shutil.copytree(fab_run, run_dir)
    rec = (run_dir / "run.json").read_text()
    (run_dir / "run.json").write_text(re.sub(r'"manifest": "[^"]*"', '"manifest": "/nonexistent/m.toml"', rec))
    assert main(["map", str(run_dir)]) == 2
    assert "--no-context" in capsys.readouterr().err
    assert main(["map", str(run_dir), "--no-context", "--no-png"]) == 0
    r = read_run(run_dir)
    assert shapely.equals_exact(r.sites.geometry.iloc[0], read_run(fab_run).sites.geometry.iloc[0], 1e-9)


def test_context_over_budget_is_thinned_then_simplified(context):
    frames, titles = display_frames(context, 400.0)
    assert titles == {} and len(frames["roads"]) == len(context["roads"])  # four states fit as they are
    small, titles = display_frames(context, 400.0, budget=600_000)
    assert set(titles) == {"roads", "substations", "power_plants"}
    assert small["roads"]["interstate"].all() and len(small["roads"]) < len(context["roads"])
    assert sum(len(f.to_json()) for f in small.values()) < sum(len(f.to_json()) for f in frames.values())


def test_context_tooltips_are_escaped(context):
    lines = context["transmission_lines"].head(3).copy()
    lines["label"] = '<img src=x onerror=alert(1)> `${1}`'
    tips = context_frame("transmission_lines", lines, 100.0)["tip"]
    assert all(t.startswith("&lt;img") and "`" not in t and "$" not in t for t in tips)


def test_text_in_the_data_is_never_run_as_a_jinja_template():
    """Folium renders finished page parts again as Jinja templates: a feature named
    ``{{ 7*7 }}`` came out as ``49`` (and Jinja expressions can reach Python objects)."""
    import branca.element
    import folium

    m = folium.Map()
    hostile = "unit {{ 7*7 }} {% if true %}yes{% endif %}"
    folium.GeoJson({"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [0, 0]},
        "properties": {"tip": hostile}}]}).add_to(m)
    folium.Marker([0, 0], tooltip=hostile, popup=hostile).add_to(m)
    page = render_map(m)
    assert page.count(hostile) >= 2 and "unit 49" not in page
    assert folium.map.Element is branca.element.Element  # folium is left as it was


def test_picture_background_fills_polygons_around_their_holes_and_draws_every_line_part():
    """The picture draws layers as single matplotlib paths and collections (not through
    geopandas, which redraws the figure after each layer): holes stay open, every part of a
    multi-part geometry and every ring of a polygon is drawn."""
    import geopandas as gpd

    from sitesel.maps.static import line_collection, render_layers

    donut = shapely.Polygon([(0, 0), (100, 0), (100, 100), (0, 100)], [[(30, 30), (70, 30), (70, 70), (30, 70)]])
    land = gpd.GeoDataFrame({"agency": ["BLM"]}, geometry=[donut], crs="EPSG:5070")
    img = render_layers(("federal_land",), {"federal_land": land}, None, (0.0, 100.0, 0.0, 100.0))
    h, w = img.shape[:2]
    assert img[h // 2, w // 2, 3] == 0  # the hole
    assert img[int(h * 0.85), int(w * 0.15), 3] > 0  # the ring around it

    multi = shapely.MultiLineString([[(0, 0), (1, 1)], [(2, 2), (3, 3), (4, 2)]])
    segs = line_collection([multi, donut, None]).get_segments()
    assert sorted(len(s) for s in segs) == [2, 3, 5, 5]
