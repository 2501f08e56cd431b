"""The report as a person sees it: opened in headless Chromium with hostile scraped text in every field.

tests/test_report_render.py checks the markup; these check what a browser makes of it: nothing runs,
nothing injected becomes an element, broken markup cannot re-nest the page, long words wrap on a phone,
and every hostile string reads back literally. Screenshots of each page at 1280 px and 390 px are saved
(see tests/browser.py for where).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from reports.content import Quote, ReportContent, SourceHealth, ThemeView
from reports.render import safe_url, write_report
from tests.browser import (
    DESKTOP,
    HOSTILE_TEXT,
    HOSTILE_URLS,
    INJECTED_CLASS,
    MOBILE,
    PWNED,
    assert_page_sane,
    chromium,  # noqa: F401  (registers the `browser` fixture: one headless Chromium per session)
    layout_report,
    open_file,
)

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

GENERATED = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SAFE_URL = "https://forum.example.com/t/1"
REPORT_SELECTORS = ["header.report-header h1", "section.summary .card", "section.themes article.theme",
                    "section.themes .quote", "section.sources table tbody tr"]  # fmt: skip


STATUSES = ["failing", "error", "failing", "ok"]  # half the sources failing: the callout carries hostile errors too
FAILED_RUNS = {"failing": 3, "error": 1, "ok": 0}
BIDI_CONTROLS = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def from_config(text: str) -> str:
    """Source ids, kinds and audience keys come from market.yaml's patterns and enums: no bidi controls."""
    return text.translate(BIDI_CONTROLS)


def report_content(say: Callable[[int], str]) -> ReportContent:
    """A report whose every scraped field says ``say(i)``; ``say`` picks hostile or plain text.

    Each string lands in every kind of field (quote text, author, link, theme label, keyword, source
    error; and, bidi controls aside, source id, kind and audience key), so one page covers every place
    times every payload.
    """
    count = len(HOSTILE_TEXT)
    themes = [
        ThemeView(
            theme_id=f"t{i}",
            label=say(i),
            keywords=[say(i + 1), say(i + 2), "backup"],
            volume=100 - i,
            audience_mix={"customers": 5, "customers_customers": 3, from_config(say(i + 3)): 1},
            quotes=[
                Quote(
                    say(i),
                    HOSTILE_URLS[i % len(HOSTILE_URLS)],
                    from_config(say(i + 4)),
                    "customers",
                    say(i + 5),
                    GENERATED - timedelta(days=i),
                ),
                Quote(say(i + 6), SAFE_URL, "forum_saas", "influencers", None, None),
            ],
            sources=2,
            signals={"negative": 0.5, "pain": 0.25},
        )
        for i in range(count)
    ]
    sources = [
        SourceHealth(from_config(say(i)), from_config(say(i + 7)), "customers", status, i, 10 * i, FAILED_RUNS[status],
                     GENERATED if status == "ok" else None, say(i + 8))
        for i, status in ((i, STATUSES[i % len(STATUSES)]) for i in range(count))
    ]  # fmt: skip
    return ReportContent(
        run_id="manual__2026-11-24T10:00:00+00:00",
        generated_at=GENERATED,
        title="Weekly market listening",
        company=say(9),
        offer="Backup for MSPs",
        total_mentions=120,
        mentions_by_audience={"customers": 70, "customers_customers": 30, "influencers": 20},
        themes=themes,
        unassigned=4,
        sources=sources,
        embedding_model="all-MiniLM-L6-v2",
    )


def hostile(i: int) -> str:
    return HOSTILE_TEXT[i % len(HOSTILE_TEXT)]


def plain(i: int) -> str:
    return f"plain text {i % len(HOSTILE_TEXT)}"


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The hostile report and its plain twin (same structure, harmless words), written as the stage does."""
    folder = tmp_path_factory.mktemp("reports")
    hostile_html, _ = write_report(report_content(hostile), folder / "hostile")
    plain_html, _ = write_report(report_content(plain), folder / "plain")
    return {"hostile": hostile_html, "plain": plain_html}


def words(text: str) -> str:
    return " ".join(text.split())


def test_hostile_report_is_inert_and_fits_desktop_and_mobile(browser: WebDriver, pages: dict[str, Path]) -> None:
    reports = assert_page_sane(browser, pages["hostile"], REPORT_SELECTORS, name="report-hostile")

    assert set(reports) == {DESKTOP.name, MOBILE.name}
    assert reports[MOBILE.name].viewport_width == MOBILE.width
    assert DESKTOP.width - 20 <= reports[DESKTOP.name].viewport_width <= DESKTOP.width  # less a scrollbar


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
    assert "script" not in hostile_page.tag_counts


def test_report_structure_survives_broken_markup(browser: WebDriver, pages: dict[str, Path]) -> None:
    open_file(browser, pages["hostile"], MOBILE)
    structure = browser.execute_script(
        """
        const themes = document.querySelector('main > section.themes');
        const table = document.querySelector('main > section.sources table');
        const articles = Array.from(themes.querySelectorAll(':scope > article.theme'));
        return {
          sections: Array.from(document.querySelectorAll('main > *')).map((e) => e.tagName.toLowerCase()
            + '.' + e.className),
          ids: articles.map((a) => a.id),
          labels: articles.map((a) => a.querySelector('.theme-head h3').innerText),
          quotes: articles.map((a) => a.querySelectorAll('blockquote.quote').length),
          rows: table.querySelectorAll(':scope > tbody > tr').length,
          cells: Array.from(table.querySelectorAll(':scope > tbody > tr')).map((r) => r.children.length),
          tableAfterThemes: !themes.contains(table)
            && !!(themes.compareDocumentPosition(table) & Node.DOCUMENT_POSITION_FOLLOWING),
          bodyChildren: Array.from(document.body.children).map((e) => e.tagName.toLowerCase()),
        };
        """
    )
    count = len(HOSTILE_TEXT)

    assert structure["sections"] == [
        "header.report-header",
        "section.callout",
        "section.summary",
        "section.themes",
        "section.sources",
        "footer.report-footer",
    ]
    assert structure["ids"] == [f"theme-{rank}" for rank in range(1, count + 1)]
    assert [words(label) for label in structure["labels"]] == [words(hostile(i)) for i in range(count)]
    assert structure["quotes"] == [2] * count
    assert structure["rows"] == count
    assert structure["cells"] == [9] * count
    assert structure["tableAfterThemes"]
    assert structure["bodyChildren"] == ["main"]


def test_only_http_links_survive(browser: WebDriver, pages: dict[str, Path]) -> None:
    open_file(browser, pages["hostile"])
    hrefs = browser.execute_script("return Array.from(document.links).map((a) => a.getAttribute('href'))")

    expected = [
        href
        for theme in report_content(hostile).themes
        for quote in theme.quotes
        if (href := safe_url(quote.url)) is not None
    ]
    assert Counter(hrefs) == Counter(expected)
    assert set(hrefs) == {SAFE_URL, HOSTILE_URLS[-1]}  # the quote in the last URL stays inside the attribute


def test_harness_catches_an_unescaped_page(browser: WebDriver, tmp_path: Path) -> None:
    """The checks above can fail: the same payloads pasted in raw trip every one of them."""
    links = "".join(f'<a href="{url}">link</a>' for url in HOSTILE_URLS[:2])
    raw = "".join(f"<p>{payload}</p>" for payload in HOSTILE_TEXT if "<style" not in payload)  # keep it visible
    raw += "<p><span>\u202eoverride</span> and the words after it</p>"
    raw += '<h3 style="width: 40px; overflow-wrap: anywhere">Ransomware</h3>'
    page = tmp_path / "raw.html"
    page.write_text(f"<!DOCTYPE html><html><body><main>{links}{raw}</main></body></html>", encoding="utf-8")

    with pytest.raises(AssertionError) as failure:
        assert_page_sane(browser, page, ["section.themes"], name="harness-selftest-raw")

    message = str(failure.value)
    for expected in [
        f"window.{PWNED} was set",
        "<script> elements, expected 0",
        "event-handler attribute img.",
        "link with unsafe href 'javascript:",
        f"injected element b.{INJECTED_CLASS}",
        "wider than the screen",
        "text reversed by a bidi override",
        "heading word split across lines",
        "h3: Ransomware",
        "nothing matches 'section.themes'",
    ]:
        assert expected in message


def demo_content() -> ReportContent:
    """The bundled demo market's report, its planted themes standing in for a pipeline run (rendering only)."""
    from earshot.demo.market_data import ANCHOR, MALFORMED_FEED, PLANTED_THEMES, build_demo_feeds
    from models.quotes import excerpt

    feeds = build_demo_feeds()
    heard = [(feed, item) for feed in feeds for item in feed.items]
    themes = []
    for key, keywords in PLANTED_THEMES.items():
        members = [(feed, item) for feed, item in heard if item.theme == key]
        themes.append(
            ThemeView(
                theme_id=key,
                label=" · ".join(keywords[:2]).capitalize(),
                keywords=list(keywords),
                volume=len(members),
                audience_mix=dict(Counter(item.audience for _, item in members)),
                quotes=[
                    Quote(excerpt(item.text), item.link, feed.name, item.audience, item.author, item.published)
                    for feed, item in members[:3]
                ],
                sources=len({feed.name for feed, _ in members}),
                signals={"negative": 0.4, "pain": 0.3, "pricing": 0.1},
            )
        )
    themes.sort(key=lambda theme: -theme.volume)
    sources = [
        SourceHealth(feed.name, "feed", feed.audience, "warning" if feed.name == MALFORMED_FEED else "ok",
                     len(feed.items), len(feed.items), 0, ANCHOR, None)
        for feed in feeds
    ]  # fmt: skip
    return ReportContent(
        run_id="manual__2026-11-16T12:00:00+00:00",
        generated_at=ANCHOR,
        title="Vaultline market listening",
        company="Vaultline",
        offer="Backup and disaster recovery for MSPs",
        total_mentions=len(heard),
        mentions_by_audience=dict(Counter(item.audience for _, item in heard)),
        themes=themes,
        unassigned=sum(item.theme is None for _, item in heard),
        sources=sources,
        embedding_model="all-MiniLM-L6-v2",
    )


def test_demo_market_report_reads_well(browser: WebDriver, tmp_path: Path) -> None:
    content = demo_content()
    html, _ = write_report(content, tmp_path)

    reports = assert_page_sane(browser, html, REPORT_SELECTORS, name="report-demo")

    assert reports[MOBILE.name].tag_counts["article"] == len(content.themes) == 5
    assert [theme.label in reports[MOBILE.name].text for theme in content.themes] == [True] * 5
