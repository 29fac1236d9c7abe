"""The offline map in a real headless browser (Debian's chromium, driven by playwright).

The page may load nothing from the network: every request other than file: and data: is
aborted and recorded, so a script or stylesheet that was not inlined makes the map fail here.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sitesel.cli import main

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
HOSTILE_UNIT = '<img src=x onerror="window.__xss=1;alert(1)">'
HOSTILE_AGENCY = "`${window.__xss=2}`</script><script>window.__xss=3</script><b>bold</b>"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is missing: apt-get install -y chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), headless=True,
            args=ARGS, viewport={"width": 1400, "height": 900})
        yield ctx
        ctx.close()


class Page:
    """A map page with everything the test wants to know about what happened in it."""

    def __init__(self, context, path: Path):
        self.page = context.new_page()
        self.network: list[tuple[str, str]] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

        def route(r):
            if r.request.url.startswith(("file:", "data:")):
                return r.continue_()
            self.network.append((r.request.resource_type, r.request.url))
            return r.abort()

        self.page.route("**/*", route)
        self.page.goto(path.as_uri())
        self.page.wait_for_function("window.L !== undefined && document.querySelectorAll('path.ss-site').length > 0",
                                    timeout=30_000)
        self.page.wait_for_timeout(500)

    def search(self, text: str) -> None:
        box = self.page.locator(".leaflet-control-search input")
        box.fill("")
        box.press_sequentially(text, delay=20)  # leaflet-search listens to key events

    def open_site(self, rank: int) -> str:
        """Find the site with the search box (zooms in), then click its numbered marker."""
        p = self.page
        self.search(f"Site {rank} ")
        tip = p.locator(".search-tip").first
        tip.wait_for(timeout=5_000)
        tip.click()
        p.locator(".leaflet-popup-content").first.wait_for(timeout=5_000)  # the search opens it
        p.locator(".leaflet-popup-close-button").first.dispatch_event("click")  # may sit under a legend
        p.wait_for_timeout(300)
        assert p.locator(".leaflet-popup").count() == 0
        p.locator(f".ss-num-{rank}").click()
        popup = p.locator(".leaflet-popup-content")
        popup.wait_for(timeout=5_000)
        return popup.inner_text()


@pytest.fixture(scope="module")
def offline_map(fab_run, tmp_path_factory):
    run = tmp_path_factory.mktemp("browser") / "run"
    shutil.copytree(fab_run, run)
    assert main(["map", str(run), "--offline", "--no-png"]) == 0
    return run


def test_offline_map_draws_sites_and_popup_has_rank_and_score(browser, offline_map):
    sites = json.loads((offline_map / "sites.geojson").read_text())["features"]
    page = Page(browser, offline_map / "map.html")
    p = page.page
    assert not page.errors, page.errors
    # Nothing but map tiles was asked of the network: every script and stylesheet is inline.
    assert [u for kind, u in page.network if kind != "image"] == []
    assert p.locator("path.ss-site").count() == len(sites)
    assert p.locator(".ss-num").count() == len(sites)
    assert p.locator(".leaflet-control-layers-overlays label").count() >= 5  # context layers to toggle
    for control in (".leaflet-control-search", ".leaflet-control-measure", ".leaflet-control-minimap",
                    ".leaflet-control-zoom-fullscreen", ".legend", ".ss-title", ".ss-legend"):
        assert p.locator(control).count() >= 1, control
    first = min(sites, key=lambda f: f["properties"]["rank"])["properties"]
    text = page.open_site(1)
    assert "Site 1" in text and f"score {first['score']:.1f}" in text, text
    assert "Nearest features" in text and "Hard constraints" in text and "sites.csv row 2" in text
    p.screenshot(path=str(offline_map / "map_screenshot.png"))
    assert (offline_map / "map_screenshot.png").stat().st_size > 50_000


def test_hostile_names_show_as_text_and_never_run(browser, offline_map, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(offline_map, run)
    doc = json.loads((run / "sites.geojson").read_text())
    for f in doc["features"]:
        if f["properties"]["rank"] == 1:
            f["properties"]["unit"] = HOSTILE_UNIT
        if f["properties"]["rank"] == 2:
            f["properties"]["agency"] = HOSTILE_AGENCY
    (run / "sites.geojson").write_text(json.dumps(doc))
    rec = json.loads((run / "run.json").read_text())
    rec["profile"]["title"] = HOSTILE_UNIT  # the title panel shows it
    rec["region"]["label"] = HOSTILE_AGENCY
    (run / "run.json").write_text(json.dumps(rec))
    assert main(["map", str(run), "--offline", "--no-png", "--no-context"]) == 0
    page = Page(browser, run / "map.html")
    p = page.page
    title = p.locator(".ss-title .ss-h").inner_text()
    assert HOSTILE_UNIT in title and HOSTILE_AGENCY in title
    popup = page.open_site(1)
    assert HOSTILE_UNIT in popup
    p.locator(".leaflet-popup-close-button").first.dispatch_event("click")
    p.locator(".ss-num-1").hover()  # tooltip
    p.locator(".leaflet-tooltip").first.wait_for(timeout=5_000)
    assert HOSTILE_UNIT in p.locator(".leaflet-tooltip").first.inner_text()
    page.search("onerror")  # the search list shows the name too
    tips = p.locator(".search-tip")
    tips.first.wait_for(timeout=5_000)
    assert any(HOSTILE_UNIT in t for t in tips.all_inner_texts())
    page.search("Site 2 ")
    tip = p.locator(".search-tip", has_text="Site 2 ")
    tip.first.wait_for(timeout=5_000)
    assert HOSTILE_AGENCY in tip.first.inner_text()
    tip.first.click()
    p.wait_for_timeout(1_500)
    assert HOSTILE_AGENCY in p.locator(".leaflet-popup-content").first.inner_text()
    p.screenshot(path=str(run / "map_hostile.png"))
    assert page.dialogs == [] and page.errors == []
    assert p.evaluate("window.__xss") is None
    assert p.locator('img[src="x"]').count() == 0 and p.locator(".ss-popup b:text('bold')").count() == 0
