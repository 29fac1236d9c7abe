"""The shipped source catalog and catalog validation."""
from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from sitesel.acquire.catalog import load_catalog
from sitesel.errors import CatalogError
from sitesel.io.manifest import CANONICAL_LAYERS, load_manifest

README = Path(__file__).resolve().parents[2] / "README.md"


def test_shipped_catalog_serves_every_canonical_layer():
    cat = load_catalog()
    assert set(cat.layers) == set(CANONICAL_LAYERS)
    for src in cat.sources.values():
        assert src.publisher and src.licence and src.title and src.vintage, src.id
        assert src.url.startswith("https://"), src.id
        assert src.confirmed or src.note, f"{src.id}: an unconfirmed address needs a note saying so"


def test_shipped_catalog_mapping_makes_a_valid_manifest(tmp_path):
    cat = load_catalog()
    layers = {}
    for name, entry in cat.layers.items():
        spec = {"path": f"{name}.parquet"} | entry.mapping
        if CANONICAL_LAYERS[name][0] == "raster":
            spec |= {"kind": "raster", "path": f"{name}.tif"}
        layers[name] = spec
    p = tmp_path / "manifest.toml"
    p.write_text(tomli_w.dumps({"root": ".", "layers": layers}))
    m = load_manifest(p)
    assert m["transmission_lines"].sentinels == {"voltage_kv": (-999999,)}
    assert m["solar"].scale == pytest.approx(1 / 3.6)


def test_mapped_fields_are_expected_fields_of_the_sources():
    """A manifest field the source is not known to have would fail only after a long download."""
    cat = load_catalog()
    for name, entry in cat.layers.items():
        for src in cat.sources_of(name):
            joined = set(src.join.columns) if src.join else set()
            for canon, col in entry.mapping.get("fields", {}).items():
                assert col in set(src.fields) | joined, f"{name}.{canon} -> {col} not in {src.id}.fields"


def test_readme_documents_every_official_address():
    text = README.read_text(encoding="utf-8")
    cat = load_catalog()
    for src in cat.sources.values():
        assert src.url in text, f"README lacks the address of {src.id}"
        assert src.licence.split(" (")[0] in text, src.id


def _write(tmp_path, body: str) -> Path:
    p = tmp_path / "c.toml"
    p.write_text(body)
    return p


GOOD_SOURCE = '[sources.a]\nurl = "https://x.org/a.zip"\nformat = "zip-shapefile"\n'


@pytest.mark.parametrize("body, msg", [
    (GOOD_SOURCE + 'colour = "red"\n', "unknown key(s) ['colour']"),
    ('[sources.a]\nformat = "geojson"\n', "needs 'url'"),
    ('[sources.a]\nurl = "https://x.org/a"\nformat = "kml"\n', "unknown format 'kml'"),
    ('[sources.a]\nurl = "ftp://x.org/a"\nformat = "geojson"\n', "url must be http(s)://"),
    (GOOD_SOURCE + 'sha256 = "abc"\n', "64 hexadecimal digits"),
    ('[sources.a]\nurl = "https://x.org/a.csv"\nformat = "csv"\n', "needs x and y"),
    ('[sources.a]\nurl = "https://x.org/s"\nformat = "arcgis"\nsha256 = "' + "0" * 64 + '"\n', "read remotely"),
    ('[sources.a]\nurl = "https://x.org/a.zip"\nformat = "zip-gdb"\n', "needs 'member'"),
    (GOOD_SOURCE + "[layers.rivers]\nsources = [\"b\"]\n", "unknown source(s) ['b']"),
    (GOOD_SOURCE + "[layers.river]\nsources = [\"a\"]\n", "not a canonical layer"),
    (GOOD_SOURCE + "[layers.dem]\nsources = [\"a\"]\n", "the layer needs a raster"),
    (GOOD_SOURCE + "[layers.rivers]\nsources = [\"a\"]\nfields = { kv = \"x\" }\n", "are not columns of this layer"),
    (GOOD_SOURCE + 'join = { source = "t", left_on = "A", right_on = "B", columns = ["C"] }\n', "joins unknown source"),
    ("version = 1\nlayer = 3\n", "unknown top-level key"),
    ("[sources.a\n", "not valid TOML"),
])
def test_catalog_errors_are_one_clear_line(tmp_path, body, msg):
    with pytest.raises(CatalogError) as e:
        load_catalog(_write(tmp_path, body))
    assert msg in str(e.value) and "\n" not in str(e.value)


def test_missing_catalog_file(tmp_path):
    with pytest.raises(CatalogError, match="source catalog not found"):
        load_catalog(tmp_path / "nope.toml")


def test_sources_sharing_an_address_share_the_download(tmp_path):
    from sitesel.acquire.datadir import Fetcher

    cat = load_catalog()
    f = Fetcher(cat, tmp_path)
    fee, des = cat.sources["padus_fee"], cat.sources["padus_designation"]
    assert f._raw_path(fee, None) == f._raw_path(des, None)
    assert f._raw_path(cat.sources["prism_solar"], None).name == "PRISM_soltotal_30yr_normal_4kmM3_annual_bil.zip"
