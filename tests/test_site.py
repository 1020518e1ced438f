"""The rendered site in a real browser (Playwright driving Debian's chromium).

Every page loads from a local server, every image loads, math renders (offline MathJax), no
request fails and no request leaves the site. The figure pages show their numbers and working
download links; the claims page lists every claim of every figure's JSON sidecar.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import ROOT, in_ci, require_built

HTML = ROOT / "_build" / "html"
FIGURES = ROOT / "book" / "figures"
CHROMIUM = os.environ.get("LOSSDYN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SKIP = {"genindex.html", "search.html", "index.html"}
PAGES = (
    sorted(
        p.relative_to(HTML).as_posix()
        for p in HTML.rglob("*.html")
        if p.name not in SKIP and "_static" not in p.parts and "_sources" not in p.parts
    )
    if HTML.is_dir()
    else []
)
SIDECARS = sorted(FIGURES.glob("*.json")) if FIGURES.is_dir() else []


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture(scope="module")
def server():
    require_built(HTML / "index.html", "the built book")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(HTML)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if in_ci():
            pytest.fail("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def open_page(browser, server, path):
    """A fresh page (listeners don't pile up), loaded, with MathJax finished."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    failed, foreign = [], []
    page.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})"))
    page.on("request", lambda r: None if r.url.startswith((server, "data:", "blob:")) else foreign.append(r.url))
    response = page.goto(f"{server}/{path}", wait_until="load")
    page.evaluate("() => (window.MathJax && MathJax.startup && MathJax.startup.promise) || null")
    page.wait_for_load_state("networkidle")
    return page, response, failed, foreign


def test_book_is_built():
    require_built(HTML / "index.html", "the built book")
    assert PAGES, "no HTML pages found"
    require_built(FIGURES, "the figures")
    assert SIDECARS, "no figure JSON sidecars found"


@pytest.mark.parametrize("path", PAGES)
def test_page_renders(browser, server, path):
    page, response, failed, foreign = open_page(browser, server, path)
    try:
        assert response is not None and response.ok, path
        assert failed == [], failed
        assert foreign == [], f"requests leaving the site: {foreign}"
        broken = page.evaluate(
            "() => [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
        )
        assert broken == []
        if page.locator(".math").count():  # math in the source must be typeset by MathJax
            assert page.locator("mjx-container").count() >= page.locator(".math").count()
            assert page.locator("mjx-merror").count() == 0
    finally:
        page.close()


def test_index_redirects_to_intro(browser, server):
    page = browser.new_page()
    try:
        page.goto(f"{server}/index.html")
        page.wait_for_url("**/book/intro.html")
        assert "reproducible companion" in page.inner_text("main")
    finally:
        page.close()


@pytest.mark.parametrize("sidecar", SIDECARS, ids=lambda p: p.stem)
def test_figure_page_shows_figure_numbers_and_downloads(browser, server, sidecar, request):
    data = json.loads(sidecar.read_text())
    page, response, failed, _ = open_page(browser, server, f"book/generated/{data['notebook']}.html")
    try:
        main = page.inner_text("main")
        assert page.locator("main figure img, main img").count() >= 1
        assert "Reproduce this page" in main
        for claim in data["claims"]:
            assert claim["id"] in main
        if "delta" in data["numbers"]:
            assert f"{data['numbers']['delta']:+.6f}" in main
        links = page.eval_on_selector_all("main a.download, main a[download]", "els => els.map(e => e.href)")
        assert len(links) >= 4, links
        for href in links:
            assert page.request.get(href).ok, href
        artifacts = ROOT / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artifacts / f"{data['notebook']}.png"), full_page=True)
    finally:
        page.close()


def test_claims_page_lists_every_claim(browser, server):
    page, response, failed, _ = open_page(browser, server, "book/generated/claims.html")
    try:
        text = page.inner_text("main")
        for sidecar in SIDECARS:
            for claim in json.loads(sidecar.read_text())["claims"]:
                assert claim["id"] in text
        assert "Summary:" in text
    finally:
        page.close()


def test_status_page_lists_notebooks(browser, server):
    page, response, failed, _ = open_page(browser, server, "book/generated/status.html")
    try:
        text = page.inner_text("main")
        for sidecar in SIDECARS:
            data = json.loads(sidecar.read_text())
            assert data["notebook"] in text
        assert "torch" in text
    finally:
        page.close()


FIGURE_VIEWPORT = {"width": 1400, "height": 900}  # the width the reader used
MIN_TEXT_PX = 9.0
_IMAGES = """() => [...document.querySelectorAll('main img')].map(i => ({
  alt: i.getAttribute('alt') || '', figure: !!i.closest('figure.lossdyn-figure'),
  pt: parseFloat(i.dataset.minFontPt), dpi: parseFloat(i.dataset.dpi),
  natural: i.naturalWidth, shown: i.getBoundingClientRect().width}))"""


def _open_wide(browser, server, path):
    page = browser.new_page(viewport=FIGURE_VIEWPORT)
    page.goto(f"{server}/{path}", wait_until="load")
    page.wait_for_load_state("networkidle")
    return page


@pytest.mark.parametrize("sidecar", SIDECARS, ids=lambda p: p.stem)
def test_figures_are_legible_described_and_open_full_size(browser, server, sidecar):
    data = json.loads(sidecar.read_text())
    page = _open_wide(browser, server, f"book/generated/{data['notebook']}.html")
    try:
        images = page.evaluate(_IMAGES)
        figures = [i for i in images if i["figure"]]
        assert len(figures) == len(data["figures"]) >= 1
        for img in images:  # every image of the page says what it shows, not its file name
            assert img["alt"].strip() and not re.search(r"\.(png|svg|jpe?g)$", img["alt"]), img["alt"]
        for img, record in zip(figures, data["figures"]):
            px = img["pt"] * img["dpi"] / 72 * img["shown"] / img["natural"]
            assert px >= MIN_TEXT_PX, f"{record['caption'][:60]}: smallest text {px:.1f} px on screen"
        zoom = page.locator("main figure.lossdyn-figure img").first
        zoom.scroll_into_view_if_needed()
        zoom.click()
        big = page.locator(".lossdyn-lightbox img")
        big.wait_for(state="visible")
        natural, shown = big.evaluate("i => [i.naturalWidth, i.getBoundingClientRect().width]")
        assert natural == figures[0]["natural"] and abs(shown - natural) < 1, (natural, shown)
        page.keyboard.press("Escape")
        assert page.locator(".lossdyn-lightbox").count() == 0
    finally:
        page.close()


@pytest.mark.parametrize("sidecar", SIDECARS, ids=lambda p: p.stem)
def test_figure_pages_show_no_cache_keys_or_file_lists(browser, server, sidecar):
    data = json.loads(sidecar.read_text())
    page = _open_wide(browser, server, f"book/generated/{data['notebook']}.html")
    try:
        text = page.inner_text("main")  # what a reader sees: the collapsed Reproduce details are not in it
        assert "cache key" not in text.lower()
        assert "saved:" not in text and data["run"]["key"] not in text
    finally:
        page.close()


def _chapter_claims(chapter: str) -> list[str]:
    ids = []
    for sidecar in SIDECARS:
        data = json.loads(sidecar.read_text())
        prefix = {"paper1": "p1_", "paper2": "p2_", "intro": ""}[chapter]
        if data["notebook"].startswith(prefix):
            ids += [c["id"] for c in data["claims"]]
    return ids


@pytest.mark.parametrize("chapter", ["intro", "paper1", "paper2"])
def test_landing_and_chapter_pages_open_with_verdict_tables(browser, server, chapter):
    page = _open_wide(browser, server, f"book/{chapter}.html")
    try:
        tables = page.locator("main table:has(.verdict)")
        assert tables.count() >= 1
        text = " ".join(tables.all_inner_texts())
        for claim in _chapter_claims(chapter):
            assert claim in text, f"{chapter}: no verdict for {claim}"
        before = page.evaluate(
            "() => { const all = [...document.querySelectorAll('article h2, article table')];"
            " const i = all.findIndex(e => e.tagName === 'TABLE' && e.querySelector('.verdict'));"
            " return all.slice(0, i).map(e => e.innerText); }"
        )
        assert all("verdict" in h.lower() for h in before), f"sections before the verdict table: {before}"
    finally:
        page.close()
