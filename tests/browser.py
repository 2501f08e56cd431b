"""Headless Chromium for tests: open a page as a reader would and check it stays inert and fits the screen.

Parsing HTML in Python says what the markup is; only a browser says what a person sees: whether a script
ran, whether a long word pushes the page sideways on a phone, whether broken scraped markup re-nested the
page. One browser serves the whole session (starting one costs ~2.5 s). Selenium drives Debian's
``chromium`` through its ``chromedriver``; both paths are given explicitly and ``SE_OFFLINE`` is set, so
Selenium Manager never downloads anything.

Use it from a test module with ``from tests.browser import chromium`` (registers the ``browser`` fixture), then
:func:`assert_page_sane` on any HTML file (report, sales brief, chart page). Screenshots go under
``$EARSHOT_TEST_ARTIFACTS/screenshots/`` (default ``test-artifacts/screenshots/`` at the repository root)
and are listed at the end of the test run.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS_ENV = "EARSHOT_TEST_ARTIFACTS"
REQUIRE_ENV = "EARSHOT_REQUIRE_BROWSER"  # "1" in CI: a missing browser fails instead of skipping
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
# --disable-dev-shm-usage: containers often give /dev/shm 64 MB, too little for a long page's screenshot.
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-dev-shm-usage",
)

INJECTED_CLASS = "earshot-injected"
"""Hostile payloads carry this class: if an element with it exists, scraped markup became real markup."""
PWNED = "__pwned"
"""Hostile payloads set ``window.__pwned``: if it is defined, scraped script ran."""

HOSTILE_TEXT: tuple[str, ...] = (
    f"<script>window.{PWNED}=1</script>",
    f'<img src=x class="{INJECTED_CLASS}" onerror="window.{PWNED}=1">',
    f'"><svg class="{INJECTED_CLASS}" onload="window.{PWNED}=1">',
    f'\'><a class="{INJECTED_CLASS}" href="javascript:window.{PWNED}=1">click me</a>',
    f'<div><table><tr><td class="{INJECTED_CLASS}">unclosed div and table',
    f'first half</body></html><p class="{INJECTED_CLASS}">second half',
    "Backup" + "x" * 1994,  # one 2,000-character word: must wrap, not widen the page
    "\u202etxet desrever\u202c then \u202eunterminated override",  # RTL overrides, one left open
    f'<b class="{INJECTED_CLASS}">bold label</b>',
    "<style>body{display:none}</style><!-- unclosed comment",
    "&lt;already escaped&gt; &amp; {{ 7*7 }} ${7*7}",
)
"""Scraped text as hostile as the web gets; every item must be shown literally, as text."""

HOSTILE_URLS: tuple[str, ...] = (
    f"javascript:window.{PWNED}=1",
    f"  JaVaScRiPt:window.{PWNED}=1",
    f"java\tscript:window.{PWNED}=1",
    f"data:text/html,<script>window.{PWNED}=1</script>",
    "data:text/html;base64,PHNjcmlwdD53aW5kb3cuX19wd25lZD0xPC9zY3JpcHQ+",
    "vbscript:msgbox(1)",
    f'https://example.com/a"><script>window.{PWNED}=1</script>',
)
"""Scraped links: only the last is http(s), and its quote must stay inside the ``href`` attribute."""


@dataclass(frozen=True)
class Viewport:
    """A screen to lay the page out on; ``mobile`` turns on touch-phone emulation (meta viewport honoured)."""

    name: str
    width: int
    height: int
    mobile: bool = False


DESKTOP = Viewport("desktop", 1280, 900)
MOBILE = Viewport("mobile", 390, 844, mobile=True)

_SCREENSHOTS: list[Path] = []


# --- The browser ---------------------------------------------------------------------------------------


def find_chromium() -> tuple[Path, Path] | str:
    """``(browser, driver)`` paths found on ``PATH`` (Debian: /usr/bin), or why there are none to use."""
    browser = next((Path(p) for name in CHROMIUM_NAMES if (p := shutil.which(name))), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        missing = " and ".join(n for n, p in [("chromium", browser), ("chromedriver", driver)] if p is None)
        return f"{missing} not found (Debian: apt-get install chromium chromium-driver; `make test` does it)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e .[dev])"
    return browser, Path(driver)


@pytest.fixture(scope="session", name="browser")
def chromium(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[WebDriver]:
    """One headless Chromium for the session; skipped when there is none, failed instead under CI."""
    found = find_chromium()
    if isinstance(found, str):
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"headless Chromium is required ({REQUIRE_ENV}=1) but {found}", pytrace=False)
        pytest.skip(f"no headless Chromium: {found}")
    browser_path, driver_path = found

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(browser_path)
    for argument in (*CHROMIUM_ARGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SE_OFFLINE", "true")  # belt and braces: Selenium Manager must never fetch a driver
        driver = webdriver.Chrome(service=Service(executable_path=str(driver_path)), options=options)
    if not request.config.pluginmanager.has_plugin("earshot-screenshots"):
        request.config.pluginmanager.register(_ScreenshotList(), "earshot-screenshots")
    try:
        yield driver
    finally:
        driver.quit()


class _ScreenshotList:
    """A pytest plugin naming the screenshots in the run's summary, so a CI log says where to look."""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if _SCREENSHOTS:
            terminalreporter.write_sep("-", f"browser screenshots ({len(_SCREENSHOTS)})")
            for path in _SCREENSHOTS:
                terminalreporter.write_line(str(path))


# --- Helpers -------------------------------------------------------------------------------------------


def artifacts_dir() -> Path:
    """Where test artifacts go: ``$EARSHOT_TEST_ARTIFACTS`` or ``test-artifacts/`` at the repository root."""
    return Path(os.environ.get(ARTIFACTS_ENV) or REPO / "test-artifacts")


def set_viewport(driver: WebDriver, viewport: Viewport) -> None:
    """Emulate a screen exactly (no window chrome involved), phone behaviour included when ``mobile``."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": viewport.width, "height": viewport.height, "deviceScaleFactor": 1, "mobile": viewport.mobile},
    )


def open_file(driver: WebDriver, path: Path, viewport: Viewport = DESKTOP) -> None:
    """Load a local file at ``viewport``; console messages from earlier pages are discarded first."""
    driver.get_log("browser")
    set_viewport(driver, viewport)
    driver.get(path.resolve().as_uri())


def console_errors(driver: WebDriver) -> list[str]:
    """Errors the page logged (script errors, CSP violations, failed loads) since the last call."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def screenshot(driver: WebDriver, name: str, max_height: int = 8000) -> Path:
    """A full-page PNG (up to ``max_height`` px) under the artifacts folder; listed at the end of the run."""
    import base64

    folder = artifacts_dir() / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.png"
    width, height = driver.execute_script(  # an overflowing page shows its overflow, within reason
        "const e = document.documentElement;"
        "return [Math.min(e.scrollWidth, 2 * e.clientWidth), Math.min(e.scrollHeight, arguments[0])];",
        max_height,
    )
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    if path not in _SCREENSHOTS:
        _SCREENSHOTS.append(path)
    return path


@dataclass(frozen=True)
class LayoutReport:
    """What the loaded page looks like to a browser, in numbers and lists a test can assert on."""

    viewport_width: int
    page_width: int
    overflowing: list[str]  # elements sticking out past the right edge of the viewport (up to 10)
    reversed_text: list[str]  # page text drawn right to left by someone else's RTL override (up to 10)
    split_words: list[str]  # short words in headings broken across lines: a squeezed heading (up to 10)
    element_count: int
    tag_counts: dict[str, int]
    scripts: int
    handler_attributes: list[str]  # "tag[onerror]" for any on* attribute
    unsafe_links: list[str]  # hrefs that are neither http(s), a same-page #fragment, nor a relative .html/.md file
    injected: list[str]  # elements carrying INJECTED_CLASS
    pwned: bool  # window.__pwned got set
    title: str
    text: str  # what a reader sees: document.body.innerText

    @property
    def overflows(self) -> bool:
        """The page scrolls sideways: something is wider than the screen."""
        return self.page_width > self.viewport_width


_LAYOUT_JS = """
const root = document.documentElement, width = root.clientWidth;
const all = Array.from(document.querySelectorAll('*'));
const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
  + (typeof e.className === 'string' && e.className.trim() ? '.' + e.className.trim().split(/\\s+/).join('.') : '');
const clipped = (e) => {
  for (let p = e.parentElement; p && p !== document.body && p !== root; p = p.parentElement) {
    if (getComputedStyle(p).overflowX !== 'visible') return true;
  }
  return false;
};
const counts = {};
for (const e of all) { const t = e.tagName.toLowerCase(); counts[t] = (counts[t] || 0) + 1; }
const handlers = [];
for (const e of all) for (const a of e.attributes) if (/^on/i.test(a.name)) handlers.push(name(e) + '[' + a.name + ']');
const links = Array.from(document.querySelectorAll('a[href], area[href]')).map((e) => e.getAttribute('href'))
  .filter((h) => !/^https?:\\/\\//i.test(h) && !/^#[\\w-]*$/.test(h)
    && !/^(?:\\.\\.\\/)*(?:[\\w-][\\w.-]*\\/)*[\\w-][\\w.-]*\\.(?:html|md)(?:#[\\w-]*)?$/.test(h));
const where = (e) => (e.parentElement && e.parentElement !== document.body ? name(e.parentElement) + ' > ' : '')
  + name(e);
const bidi = /[\\u0590-\\u08ff\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\ufb1d-\\ufdff\\ufe70-\\ufeff]/;
const reversed = [];
const walker = document.createTreeWalker(document.body || root, NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node && reversed.length < 10; node = walker.nextNode()) {
  const text = node.data, pair = text.search(/[A-Za-z0-9]{2}/);
  if (pair < 0 || bidi.test(text)) continue;
  const rect = (i) => { const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + 1);
                        return r.getBoundingClientRect(); };
  const a = rect(pair), b = rect(pair + 1);
  if (a.width && b.width && Math.abs(a.top - b.top) < 2 && b.left < a.left) reversed.push(where(node.parentElement)
    + ': ' + text.trim().slice(0, 40));
}
const split = [];
for (const heading of document.querySelectorAll('h1, h2, h3, h4')) {
  const texts = document.createTreeWalker(heading, NodeFilter.SHOW_TEXT);
  for (let node = texts.nextNode(); node; node = texts.nextNode()) {
    for (const word of node.data.matchAll(/\\S+/g)) {
      if (word[0].length < 2 || word[0].length > 16) continue;  // a longer word may have to break
      const r = document.createRange(); r.setStart(node, word.index); r.setEnd(node, word.index + word[0].length);
      const tops = new Set(Array.from(r.getClientRects()).map((q) => Math.round(q.top)));
      if (tops.size > 1 && split.length < 10) split.push(where(heading) + ': ' + word[0]);
    }
  }
}
const overflowing = all.filter((e) => e.getBoundingClientRect().right > width + 0.5 && !clipped(e))
  .slice(0, 10).map(where);
return {
  viewport_width: width, page_width: Math.max(root.scrollWidth, document.body ? document.body.scrollWidth : 0),
  overflowing: overflowing, reversed_text: reversed, split_words: split, element_count: all.length, tag_counts: counts,
  scripts: document.scripts.length, handler_attributes: handlers, unsafe_links: links,
  injected: Array.from(document.getElementsByClassName(arguments[0])).map(name),
  pwned: typeof window[arguments[1]] !== 'undefined', title: document.title,
  text: document.body ? document.body.innerText : '',
};
"""
_HAS_JS = "return document.querySelector(arguments[0]) !== null;"


def layout_report(driver: WebDriver) -> LayoutReport:
    """Measure the loaded page: overflow, elements, scripts, handlers, links, injected markup, text."""
    return LayoutReport(**driver.execute_script(_LAYOUT_JS, INJECTED_CLASS, PWNED))


def assert_page_sane(
    driver: WebDriver,
    path: Path,
    expect_selectors: Iterable[str] = (),
    *,
    scripts: int = 0,
    viewports: Iterable[Viewport] = (DESKTOP, MOBILE),
    name: str | None = None,
) -> dict[str, LayoutReport]:
    """The standard checks any page earshot writes must pass, at each viewport, with a screenshot of each.

    No console errors, no script run by scraped text, exactly ``scripts`` ``<script>`` elements (the page's
    own), no on* attributes, no link that is not http(s), a #fragment or a relative path to an .html/.md file
    (the archive and sales briefs: no scheme, no absolute path), no injected element, no sideways
    scrolling, no page text turned around by a stray bidi override, no short heading word broken across
    lines, and every selector in ``expect_selectors`` present. All problems are reported together.

    Returns:
        The layout report per viewport name, for page-specific assertions.
    """
    selectors = list(expect_selectors)
    reports: dict[str, LayoutReport] = {}
    problems: list[str] = []
    for viewport in viewports:
        open_file(driver, path, viewport)
        report = layout_report(driver)
        errors = console_errors(driver)
        missing = [s for s in selectors if not driver.execute_script(_HAS_JS, s)]
        screenshot(driver, f"{name or path.stem}-{viewport.name}")
        reports[viewport.name] = report
        at = f"{viewport.name} {viewport.width}px"
        problems += [f"{at}: console error: {error}" for error in errors]
        problems += [f"{at}: window.{PWNED} was set: scraped script ran"] if report.pwned else []
        if report.scripts != scripts:
            problems.append(f"{at}: {report.scripts} <script> elements, expected {scripts}")
        problems += [f"{at}: event-handler attribute {h}" for h in report.handler_attributes]
        problems += [f"{at}: link with unsafe href {h!r}" for h in report.unsafe_links]
        problems += [f"{at}: injected element {e}" for e in report.injected]
        if report.overflows:
            problems.append(
                f"{at}: page is {report.page_width}px wide, wider than the screen; sticking out: "
                + ", ".join(report.overflowing)
            )
        problems += [f"{at}: text reversed by a bidi override in scraped text: {t}" for t in report.reversed_text]
        problems += [f"{at}: heading word split across lines: {w}" for w in report.split_words]
        problems += [f"{at}: nothing matches {s!r}" for s in missing]
    assert not problems, f"{path} is not sane:\n  " + "\n  ".join(problems)
    return reports
