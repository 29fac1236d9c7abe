"""The JavaScript and CSS of a map, vendored in ``sitesel/maps/assets`` so a map can work air-gapped.

Folium links its libraries from CDNs. :func:`inline_assets` replaces every such ``<script src>``
and ``<link href>`` by the vendored file's content (CSS images become ``data:`` URIs), so one
``map.html`` opens without a network. The files, their versions, licences and sha256 sums are
listed in ``sitesel/maps/assets/assets.toml`` (refreshed by ``tools/vendor_assets.py``).
"""
from __future__ import annotations

import base64
import mimetypes
import re
from functools import lru_cache
from pathlib import Path

from sitesel.errors import SiteselError
from sitesel.io.toml import read_toml

__all__ = ["ASSETS", "external_links", "inline_assets", "url_table"]

#: The vendored files and their ``assets.toml``.
ASSETS = Path(__file__).resolve().parent / "assets"

_SCRIPT = re.compile(r'<script\s+src="(https?://[^"]+)"\s*>\s*</script>')
_LINK = re.compile(r'<link\s+rel="stylesheet"\s+href="(https?://[^"]+)"\s*/?>')
_CSS_URL = re.compile(r"url\((['\"]?)(?!data:|#|https?:)([^)'\"]+)\1\)")


@lru_cache(maxsize=1)
def url_table() -> dict[str, Path]:
    """CDN address -> vendored file, from ``assets.toml`` (read once per process: ``lru_cache``)."""
    doc = read_toml(ASSETS / "assets.toml", "list of vendored map assets")
    return {url: ASSETS / pkg["dir"] / rel for pkg in doc["package"] for url, rel in pkg.get("url", {}).items()}


def _local(url: str) -> Path:
    try:
        return url_table()[url]
    except KeyError:
        raise SiteselError(f"the map links {url}, which is not vendored in sitesel/maps/assets "
                           "(add it to assets.toml and run tools/vendor_assets.py)") from None


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _css(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    return _CSS_URL.sub(lambda m: f'url("{_data_uri((path.parent / m.group(2)).resolve())}")', text)


def inline_assets(page: str) -> str:
    """Replace CDN ``<script>``/``<link>`` tags in ``page`` with inline copies of vendored files.

    Parameters
    ----------
    page : str
        An HTML page.

    Returns
    -------
    str
        The page with the scripts and stylesheets inlined (CSS images as ``data:`` URIs).

    Raises
    ------
    SiteselError
        If the page links a script or stylesheet that is not vendored.
    """
    def script(m: re.Match) -> str:
        # "</script" inside the code would end the element early; "<\/" means the same to JS.
        code = _local(m.group(1)).read_text(encoding="utf-8").replace("</script", "<\\/script")
        return f"<script>/* {m.group(1)} */\n{code}\n</script>"

    def link(m: re.Match) -> str:
        css = _css(_local(m.group(1))).replace("</style", "<\\/style")
        return f"<style>/* {m.group(1)} */\n{css}\n</style>"

    return _LINK.sub(link, _SCRIPT.sub(script, page))


def external_links(page: str) -> list[str]:
    """Addresses of scripts and stylesheets a page still loads from the network.

    Parameters
    ----------
    page : str
        An HTML page.
    """
    return _SCRIPT.findall(page) + _LINK.findall(page)
