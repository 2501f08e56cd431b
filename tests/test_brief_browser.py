"""The sales brief as a sales rep sees it: opened in headless Chromium, on a desktop, a phone and paper.

A brief written from the warehouse must show its chart, quotes, proof and lists with no console error; the same
brief with hostile scraped text in every scraped field (quotes, authors, links, titles, theme label, keywords,
test notes) must stay inert, read back literally, add no element and not push the page sideways. Screenshots at
1280 px and 390 px (and of the print layout) are saved; see tests/browser.py for where.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from earshot.briefs import write_brief, write_files
from earshot.paths import Paths
from reports.brief import Brief, BriefQuote, Reading, brief_from_json, cautions, talking_points
from tests.browser import (
    DESKTOP,
    HOSTILE_TEXT,
    HOSTILE_URLS,
    MOBILE,
    Viewport,
    assert_page_sane,
    chromium,  # noqa: F401  (registers the `browser` fixture: one headless Chromium per session)
    layout_report,
    open_file,
    screenshot,
)
from tests.test_briefs import RANSOM, RECORDED, RUNS, T0, ctx_at, market, themes_run
from warehouse.connection import writer

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

BRIEF_SELECTORS = [
    "header.brief-header h1",
    "section#who .card",
    "section#benefit .benefit-card",
    "section#benefit blockquote.quote a[href^='https://']",
    "figure.chart svg.series-chart rect.bar-baseline",
    "figure.chart svg.series-chart rect.bar:not(.bar-baseline)",
    "table.figures tbody tr",
    "section#proof .results li.result",
    "section#proof ol.history li",
    "section#homework .readings li a[href^='https://']",
    "section#talk ol.points li",
    "section#avoid .donts li",
]
BIDI_CONTROLS = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
A4 = Viewport("print-a4", 688, 1123)  # A4 less the stylesheet's 14 mm side margins, at 96 dpi


def from_config(text: str) -> str:
    """Company, audience names and descriptions, source names and benefits come from market.yaml: no bidi controls."""
    return text.translate(BIDI_CONTROLS)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Brief]:
    """The brief of the validated ransomware hypothesis, written from a real warehouse as the CLI writes it."""
    from earshot.hypotheses import propose_and_measure, record_result

    home = tmp_path_factory.mktemp("brief-browser")
    db = Paths(home).warehouse
    for index, (run_id, days) in enumerate(RUNS):
        themes_run(db, run_id, T0 + timedelta(days=days), index)
        propose_and_measure(ctx_at(home, T0 + timedelta(days=days), f"run-{run_id}"))
    with writer(db) as con:
        record_result(con, RANSOM, kind="message_test", metric="reply_rate", value="30/100", control="10%",
                      recorded_by="Ana", at=RECORDED - timedelta(days=1), note="subject A")  # fmt: skip
        record_result(con, RANSOM, kind="message_test", metric="reply_rate", value="15%", sample=400, control="8%",
                      recorded_by="Ana", at=RECORDED, note="subject B: a week of invoices")  # fmt: skip
    paths = write_brief(db, home / "reports", RANSOM, market(), at=RECORDED + timedelta(hours=1), by="Ana")
    return paths.html, brief_from_json(paths.json.read_text(encoding="utf-8"))


def scraped(brief: Brief, text: Callable[[int], str]) -> Brief:
    """``brief`` with ``say(i)`` in every field that holds scraped (or typed-in) text, each payload in each kind."""
    n = len(HOSTILE_TEXT)
    day = brief.as_of
    quotes = [BriefQuote(text(i), HOSTILE_URLS[i % len(HOSTILE_URLS)], from_config(text(i + 1)), text(i + 2),
                         day - timedelta(days=i)) for i in range(n)]  # fmt: skip
    readings = [Reading(text(i + 3), HOSTILE_URLS[(i + 2) % len(HOSTILE_URLS)], from_config(text(i + 4)), text(i + 5),
                        day - timedelta(days=i)) for i in range(n)]  # fmt: skip
    result = brief.proof.results[-1]
    results = [replace(result, metric=text(i), by=text(i + 1), why=text(i + 2), note=text(i + 3)) for i in range(n)]
    history = [replace(event, by=text(i), why=text(i + 4)) for i, event in enumerate(brief.proof.history * 3)]
    proof = replace(brief.proof, results=results, history=history, verdict=text(4), test_plan=text(5),
                    criteria=text(6))  # fmt: skip
    hostile = replace(
        brief,
        company=from_config(text(9)),
        owner=text(3),
        audience_name=from_config(text(6)),
        audience_description=from_config(text(1)),
        theme_label=text(9),
        theme_keywords=[text(i) for i in range(n)],
        statement=f"Small-business owners feel real pain around {text(9)}: 45% of their 30 mentions describe pain",
        benefit=replace(brief.benefit, benefit=from_config(text(7)), why=text(8)),
        quotes=quotes,
        readings=readings,
        proof=proof,
        competitors_named=[from_config(text(2))],
    )
    return replace(hostile, talking_points=talking_points(hostile), avoid=cautions(hostile))


def hostile(i: int) -> str:
    return HOSTILE_TEXT[i % len(HOSTILE_TEXT)]


def plain(i: int) -> str:
    return f"plain text {i % len(HOSTILE_TEXT)}"


@pytest.fixture(scope="module")
def pages(written: tuple[Path, Brief], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The real brief, its hostile and plain twins, and one whose theme label is a 2,000-character word and whose
    series is 20 runs long (the chart shows the last 12, dates thinned out to fit)."""
    html, brief = written
    folder = tmp_path_factory.mktemp("brief-pages")
    series = [replace(brief.proof.series[-1], run_id=f"th{i}", as_of=brief.proof.series[-1].as_of + timedelta(days=i),
                      per_week=4.0 + i % 7, vs_baseline=(4.0 + i % 7) / 4) for i in range(20)]  # fmt: skip
    long_word = replace(brief, theme_label=HOSTILE_TEXT[6], proof=replace(brief.proof, series=series))
    return {
        "real": html,
        "hostile": write_files(scraped(brief, hostile), folder / "hostile").html,
        "plain": write_files(scraped(brief, plain), folder / "plain").html,
        "long": write_files(replace(long_word, talking_points=talking_points(long_word)), folder / "long").html,
    }


def words(text: str) -> str:
    return " ".join(text.split())


def test_a_written_brief_is_sane_on_desktop_and_phone(browser: WebDriver, pages: dict[str, Path],
                                                      written: tuple[Path, Brief]) -> None:  # fmt: skip
    reports = assert_page_sane(browser, pages["real"], BRIEF_SELECTORS, name="brief")

    _, brief = written
    for viewport in (DESKTOP, MOBILE):
        open_file(browser, pages["real"], viewport)
        bars = browser.execute_script(
            "return Array.from(document.querySelectorAll('svg.series-chart rect.bar'))"
            ".map((r) => r.getBoundingClientRect().height);"
        )
        chart = browser.execute_script("return document.querySelector('svg.series-chart').getBoundingClientRect();")
        assert len(bars) == 1 + len(brief.proof.series) and all(h > 0 for h in bars)
        assert chart["height"] > 100 and chart["width"] <= viewport.width
    text = words(reports[DESKTOP.name].text)
    for expected in (brief.theme_label, brief.benefit.benefit, brief.quotes[0].text, brief.readings[0].title,
                     brief.talking_points[0], "Read these before calling".lower()):  # fmt: skip
        assert words(expected) in text or words(expected) in text.lower()


def test_a_hostile_brief_is_inert_and_fits_desktop_and_phone(browser: WebDriver, pages: dict[str, Path]) -> None:
    for name in ("hostile", "long"):
        reports = assert_page_sane(browser, pages[name], BRIEF_SELECTORS[:3], name=f"brief-{name}")
        assert reports[MOBILE.name].viewport_width == MOBILE.width


def test_hostile_text_reads_back_literally(browser: WebDriver, pages: dict[str, Path]) -> None:
    open_file(browser, pages["hostile"])
    page = layout_report(browser)

    shown = words(page.text)
    assert [payload for payload in HOSTILE_TEXT if words(payload) not in shown] == []
    assert words(HOSTILE_TEXT[9]) in page.title


def test_hostile_text_adds_no_elements(browser: WebDriver, pages: dict[str, Path]) -> None:
    open_file(browser, pages["plain"])
    plain_page = layout_report(browser)
    open_file(browser, pages["hostile"])
    hostile_page = layout_report(browser)

    assert hostile_page.tag_counts == plain_page.tag_counts
    assert "script" not in hostile_page.tag_counts and "style" in hostile_page.tag_counts
    links = browser.execute_script("return Array.from(document.querySelectorAll('a[href]')).map((a) => a.href);")
    assert links and all(h.startswith(("https://", "file://")) for h in links)  # file://: the #section links


def test_the_brief_prints_on_a4(browser: WebDriver, pages: dict[str, Path]) -> None:
    try:
        open_file(browser, pages["real"], A4)
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        page = layout_report(browser)
        screenshot(browser, "brief-print-a4")
        toc = browser.execute_script("return getComputedStyle(document.querySelector('nav.toc')).display;")
        after = browser.execute_script(
            "return getComputedStyle(document.querySelector('.quote a'), '::after').content;"
        )
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    assert not page.overflows, page.overflowing
    assert toc == "none"  # the on-screen section links are no use on paper
    assert after.startswith('" <https://')  # a printed link still says where it goes
