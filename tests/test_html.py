"""The built book as a reader meets it, in a real browser: every chapter page renders its tables and figures,
shows no error output, and has no broken internal link. Needs the book built (make book) and Chromium
(make setup installs Debian's chromium where apt-get exists); CI sets QREPRO_REQUIRE_BROWSER=1 so that a
missing browser or book fails instead of skipping."""
import json
import os
import re
import shutil
import subprocess
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml
from conftest import REPO

HTML = REPO / "_build" / "html"
SCREENSHOTS = REPO / "_build" / "screenshots"
BROWSER = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]
SCRIPT_TIME_MS = 15_000  # virtual time the page's scripts (MathJax typesetting) get before the DOM is read

pytestmark = pytest.mark.slow  # a browser process per page, on the book that `make book` built


def toc_pages() -> list[str]:
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    return [toc["root"], *(entry["file"] for entry in toc.get("chapters", []))]


CHAPTERS = [p for p in toc_pages() if (REPO / p).with_suffix(".py").exists()]


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> list[str]:
    missing = [] if BROWSER else ["Chromium (Debian: apt-get install chromium)"]
    missing += [] if (HTML / "index.html").exists() else ["the built book (make book)"]
    if missing:
        message = f"browser check needs {' and '.join(missing)}"
        if os.environ.get("QREPRO_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    return [BROWSER, *FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"]


def render(browser: list[str], page: str) -> str:
    """The DOM of a built page after the browser ran its scripts."""
    url = (HTML / f"{page}.html").as_uri()
    return subprocess.run([*browser, f"--virtual-time-budget={SCRIPT_TIME_MS}", "--dump-dom", url], capture_output=True,
                          text=True, timeout=120, check=True).stdout


class Elements(HTMLParser):
    """Collects ids, links, images, tables and error-output blocks of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.images, self.tables, self.errors = 0, 0, []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        self.images += tag == "img"
        self.tables += tag == "table"
        classes = (attrs.get("class") or "").split()
        if "stderr" in classes or "traceback" in classes or "output_error" in classes or "error" in classes:
            self.errors.append(f"<{tag} class={attrs.get('class')}>")


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_page_has_tables_figures_and_no_error_output(browser, page):
    dom = render(browser, page)
    found = Elements()
    found.feed(dom)
    assert found.tables >= 2, f"{page}: expected the paper-vs-ours and provenance tables"
    assert found.images >= 1, f"{page}: expected figures"
    assert not found.errors, f"{page}: error output {found.errors}"
    for marker in ("Traceback (most recent call last)", "Error:", "Warning:", "failed to load",
                   "Math Processing Error"):
        assert marker not in re.sub(r"<[^>]+>", " ", dom), f"{page}: page shows {marker!r}"
    results = len(re.findall(r'<table[^>]*(?:class="dataframe|id="T_)', dom))  # pandas' tables: frames, stylers
    assert dom.count('class="qrepro-csv"') == results, f"{page}: a results table without its CSV download"
    formulas = len(re.findall(r'class="math notranslate', dom))  # Sphinx's math, before MathJax
    typeset = len(re.findall(r'class="MathJax[" ]', dom))  # MathJax's rendering of one formula
    assert typeset >= formulas, f"{page}: MathJax typeset {typeset} of {formulas} formulas"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"{Path(page).name}.png"
    subprocess.run([*browser, "--window-size=1280,2400", f"--virtual-time-budget={SCRIPT_TIME_MS}",
                    f"--screenshot={shot}", (HTML / f"{page}.html").as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000


def test_no_broken_internal_links(browser):
    broken = []
    pages = sorted(HTML.rglob("*.html"))
    parsed = {}
    for path in pages:
        elements = Elements()
        elements.feed(path.read_text())
        parsed[path] = elements
    for path, elements in parsed.items():
        for href in elements.links:
            url = urlparse(href)
            if url.scheme or href.startswith(("mailto:", "javascript:")):
                continue
            target = (path.parent / unquote(url.path)).resolve() if url.path else path
            if not target.exists():
                broken.append(f"{path.relative_to(HTML)} -> {href}")
            elif url.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else set()
                if url.fragment not in ids:
                    broken.append(f"{path.relative_to(HTML)} -> {href} (no such anchor)")
    assert not broken, "broken internal links:\n" + "\n".join(broken)


OVERFLOW_CHECK = """<script>
// Written by tests/test_html.py into a copy of the page: after the page's scripts (MathJax) ran, list every
// element of the text column that reaches past the column's right edge (the outermost one of each) without a
// scroll box (overflow-x auto or scroll) that itself fits in the column.
setTimeout(function () {
  var column = document.querySelector("article.bd-article") || document.querySelector("main");
  var edge = column.getBoundingClientRect().right + 1, found = [];
  column.querySelectorAll("*").forEach(function (el) {
    var box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= edge || el.parentElement.getBoundingClientRect().right > edge) return;
    for (var p = el.parentElement; p && p !== column; p = p.parentElement) {
      var x = getComputedStyle(p).overflowX;
      if ((x === "auto" || x === "scroll") && p.getBoundingClientRect().right <= edge) return;
    }
    var text = Array.from((el.textContent || "").trim()).slice(0, 50).join("");
    found.push(el.tagName.toLowerCase() + "." + String(el.className).split(" ")[0] + " (" +
               Math.round(box.right - edge) + " px): " + text);
  });
  var out = document.createElement("pre");
  out.id = "qrepro-overflow";
  out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
}, 10000);
</script>"""


def overflowing(browser: list[str], page: str, width: int) -> list[str]:
    """Elements of a built page's text column that stick out of it at a window ``width`` px wide."""
    source = HTML / f"{page}.html"
    probe = source.with_name(f"overflow-probe-{source.name}")  # beside the page, so its relative links resolve
    probe.write_text(source.read_text().replace("</body>", OVERFLOW_CHECK + "</body>"))
    try:
        dom = subprocess.run([*browser, f"--window-size={width},900", f"--virtual-time-budget={SCRIPT_TIME_MS}",
                              "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120,
                             check=True).stdout
    finally:
        probe.unlink()
    found = re.search(r'<pre id="qrepro-overflow">(.*?)</pre>', dom, re.S)
    assert found, f"{page}: the overflow check did not run"
    return json.loads(unescape(found.group(1)))


@pytest.mark.parametrize("width", [1300, 390])
@pytest.mark.parametrize("page", toc_pages())
def test_nothing_sticks_out_of_the_text_column(browser, page, width):
    """Wide tables scroll in their own box, display equations and code lines scroll or wrap: nothing is clipped
    at a desktop width or at a phone's."""
    assert overflowing(browser, page, width) == []
