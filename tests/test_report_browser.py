"""The report as a person sees it: opened in headless Chromium with hostile scraped text in every field.

tests/test_report_render.py checks the markup; these check what a browser makes of it: nothing runs,
nothing injected becomes an element, broken markup cannot re-nest the page, long words wrap on a phone,
and every hostile string reads back literally. Screenshots of each page at 1280 px and 390 px are saved
(see tests/browser.py for where).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from reports.archive import write_index
from reports.content import (
    FSI,
    PDI,
    Alert,
    Changes,
    HypothesisItem,
    ProgressPoint,
    Quote,
    RecordedResult,
    ReportContent,
    Snapshot,
    SourceHealth,
    StatusChange,
    ThemeChange,
    ThemeView,
    VolumeChange,
    VolumeSeries,
)
from reports.render import VOLUME_PERIODS, safe_url, write_report
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
                    "section.themes .quote", "section.sources table tbody tr",
                    "section.test-first article.hypothesis .figures", "section.under-test svg.chart-ratio g.bar",
                    "section.validated a.brief-link", "section.themes .rankings svg.chart-spark rect.bar",
                    "section.themes article.theme svg.chart-columns g.bar rect",
                    "section.themes article.theme svg.chart-stack rect.bar", "section.themes .signals svg.chart-meter",
                    "section.changes .change-block li", "section.sources .alerts li"]  # fmt: skip
SECTIONS = ["header.report-header", "section.callout", "section.summary", "section.hypotheses test-first",
            "section.hypotheses under-test", "section.hypotheses validated", "section.themes", "section.changes",
            "section.sources", "footer.report-footer"]  # fmt: skip
"""What a reader meets, in order: the sections the issue asks for."""
WEEKS = [GENERATED.date() - timedelta(weeks=n, days=GENERATED.weekday()) for n in range(13, -1, -1)]
"""Fourteen ISO weeks up to the report's: more than a volume chart shows, the last one still running."""


STATUSES = ["failing", "error", "failing", "ok"]  # half the sources failing: the callout carries hostile errors too
FAILED_RUNS = {"failing": 3, "error": 1, "ok": 0}
BIDI_CONTROLS = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def from_config(text: str) -> str:
    """Source ids, kinds and audience keys come from market.yaml's patterns and enums: no bidi controls."""
    return text.translate(BIDI_CONTROLS)


def snapshot(audience: str, recent: int, trend: str = "rising", say: Callable[[int], str] | None = None) -> Snapshot:
    """Trend figures for a theme among one audience; influencer names are scraped (authors)."""
    return Snapshot(audience, recent, 8, 40, 7, 28, trend, 0.003, 0.9, 3.5, trend == "rising", 0.4, 3, 0.8, 6,
                    tuple(say(i) for i in range(3)) if say else ("backupwire",), {"negative": 0.5, "pain": 0.25},
                    GENERATED)  # fmt: skip


def hypothesis(i: int, status: str, say: Callable[[int], str], theme_id: str) -> HypothesisItem:
    """A hypothesis whose every scraped or scraped-derived field says ``say(...)``."""
    return HypothesisItem(
        hypothesis_id=f"h_{i:010x}", status=status, statement=say(i), audience="customers_customers",
        audience_label=say(i + 1), theme_id=theme_id, theme_label=say(i + 2), owner=say(i + 3), why=say(i + 4),
        rank_score=9 - i, rank_reasons=(say(i + 5), say(i + 6)), test_kind="message_test", test_plan=say(i + 7),
        criteria_text=say(i + 8), status_why=say(i + 9), proposed_at=GENERATED - timedelta(days=20),
        test_started_at=GENERATED - timedelta(days=10), expires_at=GENERATED + timedelta(days=12),
        decided_at=GENERATED - timedelta(days=1), days_left=12, evidence=snapshot("customers_customers", 14),
        baseline=snapshot("customers_customers", 5, "steady"),
        progress=[ProgressPoint(GENERATED - timedelta(weeks=w), 3 * w, 3.0 * w, 0.4 * w) for w in range(1, 6)],
        results=[RecordedResult(GENERATED - timedelta(days=2), "message_test", say(i + 10), 0.052, 400, "inconclusive",
                            say(i + 11), say(i + 12), 0.031, say(i + 13))],
        quotes=[Quote(say(i), HOSTILE_URLS[i % len(HOSTILE_URLS)], "forum_saas", "customers", say(i + 1), None)],
        brief_href=f"briefs/h_{i:010x}/brief.html" if status == "validated" else None,
    )  # fmt: skip


def report_content(say: Callable[[int], str]) -> ReportContent:
    """A report whose every scraped field says ``say(i)``; ``say`` picks hostile or plain text.

    Each string lands in every kind of field (quote text, author, link, theme label, keyword, source
    error, hypothesis statement and plan, test results, changes, alerts, influencer names; and, bidi
    controls aside, source id, kind and audience key), so one page covers every place times every payload.
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
            overall=snapshot("all", 30 - i, say=say),
            by_audience={
                "customers": snapshot("customers", 20 - i),
                "customers_customers": snapshot("customers_customers", 10, "steady"),
            },
            series=VolumeSeries(
                "week",
                WEEKS,
                {
                    "customers": [(w * 3 + i) % 11 for w in range(len(WEEKS))],
                    "customers_customers": [w % 4 for w in range(len(WEEKS))],
                },
                [(w * 3 + i) % 11 + w % 4 for w in range(len(WEEKS))],
            ),
        )
        for i in range(count)
    ]
    sources = [
        SourceHealth(from_config(say(i)), from_config(say(i + 7)), "customers", status, i, 10 * i, FAILED_RUNS[status],
                     GENERATED if status == "ok" else None, say(i + 8))
        for i, status in ((i, STATUSES[i % len(STATUSES)]) for i in range(count))
    ]  # fmt: skip
    change = StatusChange("h_0000000001", say(1), say(2), say(3), "proposed", "testing", GENERATED, say(4), say(5))
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
        period_start=GENERATED - timedelta(days=7),
        mentions_in_period=31,
        test_first=[hypothesis(i, "proposed", say, f"t{i}") for i in range(5)],
        under_test=[hypothesis(i, "testing", say, f"t{i}") for i in range(5, 7)],
        validated=[hypothesis(7, "validated", say, "t7"), hypothesis(8, "handed_off", say, "gone")],
        closed=[hypothesis(9, "rejected", say, "t9")],
        changes=Changes(
            GENERATED - timedelta(days=7),
            "manual__2026-11-17",
            [
                ThemeChange("new", "t1", say(1)),
                ThemeChange("merge", "t2", say(2), [say(3), say(4)]),
                ThemeChange("split", "t3", say(3), [say(5), say(6)]),
                ThemeChange("retired", "gone", say(7)),
            ],
            [VolumeChange("t1", say(1), 3, 30, "mentions in 7 days, vs the last report")],
            [change],
            [change],
            [Alert("a1", say(8), "src", say(9), GENERATED)],
        ),
        alerts=[Alert("a1", say(10), "src", say(5), GENERATED), Alert("a2", "task_failed", "dag", say(6), GENERATED)],
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

    assert structure["sections"] == SECTIONS
    assert structure["ids"] == [f"theme-{rank}" for rank in range(1, count + 1)]
    isolated = [words(label) for label in structure["labels"]]  # labels with bidi controls come isolated
    assert [label.removeprefix(FSI).removesuffix(PDI) for label in isolated] == [
        words(hostile(i)) for i in range(count)
    ]
    assert structure["quotes"] == [2] * count
    assert structure["rows"] == count
    assert structure["cells"] == [9] * count
    assert structure["tableAfterThemes"]
    assert structure["bodyChildren"] == ["main"]


def test_only_http_links_survive(browser: WebDriver, pages: dict[str, Path]) -> None:
    open_file(browser, pages["hostile"])
    hrefs = browser.execute_script("return Array.from(document.links).map((a) => a.getAttribute('href'))")
    content = report_content(hostile)
    expected = [
        href
        for quotes in [*(t.quotes for t in content.themes), *(h.quotes for h in content.test_first[:3])]
        for quote in quotes
        if (href := safe_url(quote.url)) is not None
    ]
    own = [h for h in hrefs if h.startswith("#") or not h.startswith("http")]
    assert Counter(h for h in hrefs if h not in own) == Counter(expected)
    assert {h for h in hrefs if h not in own} == {SAFE_URL, HOSTILE_URLS[-1]}  # the quote stays inside the attribute
    assert {h for h in own if not h.startswith("#")} == {"../index.html", "../briefs/h_0000000007/brief.html"}


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


def demo_snapshot(audience: str, items: list, at: datetime, audiences: int) -> Snapshot:
    """Trend figures for the demo's items, by the pipeline's own exact rate test (last 7 days vs 28 before)."""
    from models.trends import poisson_rate_test

    recent = sum(at - timedelta(days=7) < item.published <= at for item in items)
    baseline = sum(at - timedelta(days=35) < item.published <= at - timedelta(days=7) for item in items)
    test = poisson_rate_test(recent, 7, baseline, 28)
    trend = "rising" if test.p_up < 0.05 and recent >= 5 else "falling" if test.p_down < 0.05 else "steady"
    return Snapshot(audience, recent, baseline, len(items), 7, 28, trend, test.p_up, test.p_down, test.rate_ratio,
                    trend == "rising" and recent >= 10, 1.0, audiences, 0.9, 4, ("backupwire", "secops-weekly"),
                    {"negative": 0.4, "positive": 0.2, "pain": 0.3, "pricing": 0.1}, at)  # fmt: skip


def demo_content() -> ReportContent:
    """The bundled demo market's report, its planted themes standing in for a pipeline run (rendering only):
    weekly volume per audience and trends from the demo items' dates, hypotheses in every state."""
    from earshot.demo.market_data import ANCHOR, MALFORMED_FEED, PLANTED_THEMES, build_demo_feeds
    from models.quotes import excerpt

    feeds = build_demo_feeds()
    heard = [(feed, item) for feed in feeds for item in feed.items]
    weeks = sorted({(item.published - timedelta(days=item.published.weekday())).date() for _, item in heard})
    themes = []
    for key, keywords in PLANTED_THEMES.items():
        members = [(feed, item) for feed, item in heard if item.theme == key]
        mix = Counter(item.audience for _, item in members)
        per_week = {a: Counter((i.published - timedelta(days=i.published.weekday())).date() for _, i in members
                               if i.audience == a) for a in mix}  # fmt: skip
        themes.append(
            ThemeView(
                theme_id=key,
                label=" · ".join(keywords[:2]).capitalize(),
                keywords=list(keywords),
                volume=len(members),
                audience_mix=dict(mix),
                quotes=[
                    Quote(excerpt(item.text), item.link, feed.name, item.audience, item.author, item.published)
                    for feed, item in members[:3]
                ],
                sources=len({feed.name for feed, _ in members}),
                signals={"negative": 0.4, "pain": 0.3, "pricing": 0.1},
                overall=demo_snapshot("all", [i for _, i in members], ANCHOR, len(mix)),
                by_audience={
                    a: demo_snapshot(a, [i for _, i in members if i.audience == a], ANCHOR, len(mix)) for a in mix
                },
                series=VolumeSeries(
                    "week",
                    weeks,
                    {a: [c[w] for w in weeks] for a, c in per_week.items()},
                    [sum(c[w] for c in per_week.values()) for w in weeks],
                ),
            )
        )
    themes.sort(key=lambda theme: (-theme.recent, -theme.volume))
    sources = [
        SourceHealth(feed.name, "feed", feed.audience, "warning" if feed.name == MALFORMED_FEED else "ok",
                     len(feed.items), len(feed.items), 0, ANCHOR, None)
        for feed in feeds
    ]  # fmt: skip

    def item(n: int, status: str, theme: ThemeView, audience: str, label: str) -> HypothesisItem:
        figures = theme.by_audience.get(audience) or theme.overall
        return HypothesisItem(
            hypothesis_id=f"h_demo{n:06d}", status=status, audience=audience, audience_label=label,
            statement=f"{label} feel real pain around {theme.label}: {figures.recent if figures else 0} mentions "
            "in the last 7 days",
            theme_id=theme.theme_id, theme_label=theme.label, owner="marketing", why="Rule strong_pain matched.",
            rank_score=8 - n, rank_reasons=("rising (p < 0.001)", "heard in 3 audiences"), test_kind="message_test",
            test_plan=f"Message test: lead with {theme.label} beside the usual message, 200 recipients each.",
            criteria_text="Validated when the tested rate beats the control by at least 20% (relative).",
            status_why="waiting for a test to start" if status == "proposed" else "reply rate 9.1% vs 5.2%",
            proposed_at=ANCHOR - timedelta(days=21), test_started_at=ANCHOR - timedelta(days=14),
            expires_at=ANCHOR + timedelta(days=28), decided_at=ANCHOR - timedelta(days=2), days_left=28,
            evidence=figures, baseline=dataclasses.replace(figures, recent=max(figures.recent // 2, 1)) if figures
            else None,
            progress=[ProgressPoint(ANCHOR - timedelta(weeks=w), 10 - 2 * w, 5.0 - w, 1 + 0.4 * (3 - w))
                      for w in range(3, -1, -1)] if status != "proposed" else [],
            results=[RecordedResult(ANCHOR - timedelta(days=2), "message_test", "reply_rate", 0.091, 400, "validated",
                                "reply rate 9.1% vs 5.2% (n = 400 each), p = 0.02", "ana", 0.052)]
            if status == "validated" else [],
            quotes=theme.quotes[:2],
        )  # fmt: skip

    msps, owners = "MSPs (your customers)", "Small-business owners (your customers' customers)"
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
        period_start=ANCHOR - timedelta(days=7),
        mentions_in_period=48,
        test_first=[item(n, "proposed", themes[n], "customers_customers", owners) for n in range(3)],
        under_test=[item(3, "testing", themes[3], "customers", msps)],
        validated=[item(4, "validated", themes[4], "customers", msps)],
        changes=Changes(
            ANCHOR - timedelta(days=7),
            "manual__2026-11-09T12:00:00+00:00",
            [ThemeChange("new", themes[0].theme_id, themes[0].label)],
            [
                VolumeChange(t.theme_id, t.label, 4, t.recent, "mentions in 7 days, vs the last report")
                for t in themes[:3]
            ],
        ),
    )


def test_demo_market_report_reads_well(browser: WebDriver, tmp_path: Path) -> None:
    content = demo_content()
    html, _ = write_report(content, tmp_path)

    selectors = [s for s in REPORT_SELECTORS if "brief-link" not in s and "alerts" not in s]
    reports = assert_page_sane(browser, html, selectors, name="report-demo")

    assert reports[MOBILE.name].tag_counts["article"] == len(content.themes) + 5 == 10  # themes and hypotheses
    assert [theme.label in reports[MOBILE.name].text for theme in content.themes] == [True] * 5
    assert "brief not generated yet: earshot hypotheses brief h_demo000004" in reports[DESKTOP.name].text.replace(
        "Brief", "brief"
    )


def test_charts_are_inline_svg_with_a_bar_per_period(browser: WebDriver, pages: dict[str, Path]) -> None:
    open_file(browser, pages["plain"])
    counts = browser.execute_script(
        """
        const cards = Array.from(document.querySelectorAll('section.themes > article.theme'));
        const all = (root, selector) => Array.from(root.querySelectorAll(selector));
        return {
          volume: cards.map((c) => all(c, 'svg.chart-columns g.bar').length),
          partial: cards.map((c) => all(c, 'svg.chart-columns g.bar.partial').length),
          mix: cards.map((c) => all(c, 'svg.chart-stack rect.bar').length),
          meters: cards.map((c) => all(c, '.signals svg.chart-meter rect.bar').length),
          sparks: all(document, '.rankings svg.chart-spark').map((s) => all(s, 'rect.bar').length),
          progress: all(document, 'section.under-test svg.chart-ratio').map((s) => all(s, 'g.bar').length),
          labelled: all(document, 'svg[role=img]').every((s) => s.getAttribute('aria-label')
            && s.querySelector(':scope > title')),
          hidden: all(document, 'svg:not([role=img])').every((s) => s.getAttribute('aria-hidden') === 'true'),
          drawn: all(document, 'svg.chart-columns, svg.chart-stack, svg.chart-spark, svg.chart-meter')
            .every((s) => s.getBoundingClientRect().width > 10 && s.getBoundingClientRect().height > 4),
        };
        """
    )
    count = len(HOSTILE_TEXT)

    assert counts["volume"] == [VOLUME_PERIODS] * count  # the latest 12 of 14 weeks
    assert counts["partial"] == [1] * count  # the week still running is marked
    assert counts["mix"] == [3] * count
    assert counts["meters"] == [3] * count  # negative and positive always, then pain (the only intent >= 5%)
    assert counts["sparks"] == [VOLUME_PERIODS] * 16  # two audiences, eight themes ranked in each
    assert counts["progress"] == [5, 5]
    assert counts["labelled"] and counts["hidden"] and counts["drawn"]


def test_the_archive_lists_every_report_newest_first_and_stays_inert(browser: WebDriver, tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    for n, say in enumerate((plain, hostile)):
        content = dataclasses.replace(report_content(say), run_id=f"run-{n}", title=say(n + 1),
                                      generated_at=GENERATED + timedelta(days=7 * n))  # fmt: skip
        write_report(content, folder)
    brief = folder / "briefs" / "h_0000000007" / "brief.html"
    brief.parent.mkdir(parents=True)
    brief.write_text("<!DOCTYPE html><title>brief</title><p>brief</p>", encoding="utf-8")
    write_index(folder)

    reports = assert_page_sane(
        browser,
        folder / "index.html",
        ["article.archive-entry", "a.archive-latest, .archive-latest a"],
        name="archive-index",
    )
    sane_latest = assert_page_sane(browser, folder / "latest.html", ["a.brief-link"], name="report-latest")
    hrefs = browser.execute_script("return Array.from(document.links).map((a) => a.getAttribute('href'))")

    text = reports[DESKTOP.name].text
    assert text.index("run-1") < text.index("run-0")  # newest first
    assert words(HOSTILE_TEXT[2]) in reports[DESKTOP.name].title  # the newest report's title, as text
    open_file(browser, folder / "index.html")
    links = browser.execute_script("return Array.from(document.links).map((a) => a.getAttribute('href'))")
    assert links.count("briefs/h_0000000007/brief.html") == 2  # from each report that validated it
    assert [h for h in links if h.endswith("report.html")][::2] == ["run-1/report.html", "run-0/report.html"]
    assert "briefs/h_0000000007/brief.html" in hrefs and "index.html" in hrefs  # latest.html links from its folder
    assert sane_latest[DESKTOP.name].scripts == 0
