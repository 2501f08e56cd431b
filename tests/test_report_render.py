"""Report renderers: complete, self-contained, and inert against hostile scraped text."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markupsafe import escape

from reports.archive import read_entries, summary_of, write_index
from reports.charts import Segment, ratio_columns, spark_text, sparkline, stacked_bar, stacked_columns
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
    isolate,
    summary_sentences,
)
from reports.render import (
    VOLUME_PERIODS,
    p_words,
    render_html,
    render_markdown,
    safe_run_id,
    safe_url,
    write_report,
)

GENERATED = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
STRUCTURAL_TAGS = ("div", "section", "table", "blockquote")


def quote(text: str = "Setup took us two weeks.", **overrides: object) -> Quote:
    fields: dict[str, object] = {
        "text": text,
        "url": "https://forum.example.com/t/1",
        "source_id": "forum_saas",
        "audience": "customers",
        "author": "ana",
        "published_at": datetime(2026, 11, 20, 8, 30, tzinfo=UTC),
    }
    return Quote(**{**fields, **overrides})  # type: ignore[arg-type]


THEMES = [
    ThemeView(
        theme_id="t-onboarding",
        label="Onboarding takes too long",
        keywords=["onboarding", "setup"],
        volume=42,
        audience_mix={"customers": 30, "influencers": 12},
        quotes=[quote("Setup took us two weeks."), quote("The wizard keeps timing out.", author=None)],
        sources=3,
    ),
    ThemeView(
        theme_id="t-pricing",
        label="Pricing tiers confuse buyers",
        keywords=["pricing", "tiers"],
        volume=17,
        audience_mix={"customers_customers": 10, "competitors": 7},
        quotes=[quote("Which tier has SSO?", audience="customers_customers")],
        sources=2,
    ),
    ThemeView(
        theme_id="t-integrations",
        label="Integrations wishlist",
        keywords=["zapier", "webhooks"],
        volume=5,
        audience_mix={"forum_lurkers": 5},
        quotes=[quote("Please add webhooks.", audience="forum_lurkers")],
        sources=1,
    ),
]

SOURCES = [
    SourceHealth("forum_saas", "rss", "customers", "ok", 12, 340, 0, GENERATED, None),
    SourceHealth("reddit_ops", "reddit", "influencers", "warning", 0, 55, 1, GENERATED, "HTTP 429"),
    SourceHealth("blog_rival", "rss", "competitors", "error", 0, 9, 4, None, "timeout"),
    SourceHealth("podcast_feed", "rss", "customers_customers", "never fetched", 0, 0, 0, None, None),
]


def make_content(**overrides: object) -> ReportContent:
    fields: dict[str, object] = {
        "run_id": "manual__2026-11-24T10:00:00+00:00",
        "generated_at": GENERATED,
        "title": "Weekly market listening",
        "company": "Acme Analytics",
        "offer": "Self-serve dashboards",
        "total_mentions": 70,
        "mentions_by_audience": {"customers": 30, "customers_customers": 10, "influencers": 12},
        "themes": THEMES,
        "unassigned": 6,
        "sources": SOURCES,
        "embedding_model": "all-MiniLM-L6-v2",
    }
    return ReportContent(**{**fields, **overrides})  # type: ignore[arg-type]


class Page(HTMLParser):
    """What a browser would build from the page: tags, attributes and visible text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.opened: Counter[str] = Counter()
        self.closed: Counter[str] = Counter()
        self.attributes: list[tuple[str, str, str | None]] = []
        self.chunks: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.opened[tag] += 1
        self.attributes += [(tag, name, value) for name, value in attrs]

    def handle_endtag(self, tag: str) -> None:
        self.closed[tag] += 1

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.chunks).split())

    def values(self, tag: str, attribute: str) -> list[str | None]:
        return [value for t, name, value in self.attributes if (t, name) == (tag, attribute)]


def positions(text: str, needles: list[str]) -> list[int]:
    return [text.index(needle) for needle in needles]


LOCAL_LINK = re.compile(r"(?:\.\./)?(?:[\w-][\w.-]*/)*[\w-][\w.-]*\.(?:html|md)")


def external_links(page: Page) -> list[str | None]:
    """Links out of the report (scraped URLs); the page's own are #fragments and files earshot wrote."""
    hrefs = page.values("a", "href")
    own = [h for h in hrefs if h and (h.startswith("#") or LOCAL_LINK.fullmatch(h))]
    assert {h for h in own if not h.startswith("#")} <= {"../index.html", "index.html"} | {
        h for h in own if h.startswith(("../briefs/", "briefs/"))
    }
    return [h for h in hrefs if h not in own]


# --- HTML: content ------------------------------------------------------------------------------------


def test_html_shows_header_and_summary() -> None:
    text = Page(render_html(make_content())).text

    for expected in [
        "Weekly market listening",
        "Acme Analytics",
        "Self-serve dashboards",
        "manual__2026-11-24T10:00:00+00:00",
        "2026-11-24 10:00 UTC",
        "all-MiniLM-L6-v2",
        "70 Total mentions",
        "3 Themes",
        "6 Unassigned mentions",
    ]:
        assert expected in text


def test_html_ranks_themes_in_given_order_with_numbers() -> None:
    text = Page(render_html(make_content())).text

    ranked = [f"{rank} {theme.label}" for rank, theme in enumerate(THEMES, start=1)]
    assert positions(text, ranked) == sorted(positions(text, ranked))


@pytest.mark.parametrize(
    "theme",
    THEMES,
    ids=[theme.theme_id for theme in THEMES],
)
def test_html_shows_everything_about_a_theme(theme: ThemeView) -> None:
    text = Page(render_html(make_content())).text

    assert f"{theme.volume} mentions" in text
    assert f"{theme.sources} source" in text
    for expected in [*theme.keywords, *(q.text for q in theme.quotes)]:
        assert expected in text


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("customers", "Customers"),
        ("customers_customers", "Customers' customers"),
        ("influencers", "Influencers"),
        ("competitors", "Competitors"),
        ("forum_lurkers", "forum_lurkers"),
    ],
)
def test_html_names_audiences_for_people(key: str, name: str) -> None:
    content = make_content(mentions_by_audience={key: 9}, themes=[], sources=[])

    assert f"{name} (100%)" in Page(render_html(content)).text


def test_html_audience_mix_bar_has_percent_widths_and_readable_numbers() -> None:
    html = render_html(make_content(themes=THEMES[:1]))

    mix = html[html.index('<svg class="chart-stack"') : html.index("</svg>", html.index('<svg class="chart-stack"'))]
    assert re.findall(r'<rect class="bar slot-(\d)" x="([\d.]+)" y="0" width="([\d.]+)"', mix) == [
        ("0", "0", "71.43"),
        ("2", "71.43", "28.57"),
    ]
    assert 'aria-label="Audience mix: Customers 30 (71%), Influencers 12 (29%)"' in mix
    assert "Customers 30 (71%) Influencers 12 (29%)" in Page(html).text


@pytest.mark.parametrize(
    ("status", "css_class"),
    [
        ("ok", "status-ok"),
        ("not_modified", "status-ok"),
        ("warning", "status-warning"),
        ("error", "status-error"),
        ("never fetched", "status-never"),
        ("exploded", "status-unknown"),
    ],
)
def test_html_styles_source_status(status: str, css_class: str) -> None:
    source = dataclasses.replace(SOURCES[0], status=status)
    page = Page(render_html(make_content(sources=[source])))

    assert f"status {css_class}" in page.values("span", "class")
    assert status in page.text


def test_html_source_table_shows_health_columns() -> None:
    text = Page(render_html(make_content())).text

    assert "blog_rival rss Competitors ✕ error 0 9 4 never timeout" in text
    assert "reddit_ops reddit Influencers ▲ warning 0 55 1 2026-11-24 10:00 UTC HTTP 429" in text


def test_html_converts_times_to_utc() -> None:
    in_paris = datetime(2026, 11, 24, 11, 0, tzinfo=timezone(timedelta(hours=1)))

    assert "2026-11-24 10:00 UTC" in render_html(make_content(generated_at=in_paris))


@pytest.mark.parametrize("marker", ["<script", "<link", 'src="http', "@import", "url("])
def test_html_is_self_contained(marker: str) -> None:
    assert marker not in render_html(make_content()).lower()


# --- HTML: hostile scraped text -----------------------------------------------------------------------

HOSTILE_TEXT = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "</div></section></table></blockquote><div>",
    '" onmouseover="x',
    "{{ 7*7 }} {% raw %}",
]

# Where scraped text lands in the content, as a function that puts a value there.
PLACES = {
    "quote text": lambda v: make_content(themes=[dataclasses.replace(THEMES[0], quotes=[quote(v)])]),
    "quote author": lambda v: make_content(themes=[dataclasses.replace(THEMES[0], quotes=[quote(author=v)])]),
    "quote source id": lambda v: make_content(themes=[dataclasses.replace(THEMES[0], quotes=[quote(source_id=v)])]),
    "theme label": lambda v: make_content(themes=[dataclasses.replace(THEMES[0], label=v)]),
    "keyword": lambda v: make_content(themes=[dataclasses.replace(THEMES[0], keywords=[v])]),
    "audience key": lambda v: make_content(mentions_by_audience={v: 1}),
    "source error": lambda v: make_content(sources=[dataclasses.replace(SOURCES[0], last_error=v)]),
    "source kind": lambda v: make_content(sources=[dataclasses.replace(SOURCES[0], kind=v)]),
}


def assert_structure_intact(page: Page) -> None:
    for tag in STRUCTURAL_TAGS:
        assert page.opened[tag] == page.closed[tag], tag
    assert not {"script", "img", "iframe"} & set(page.opened)
    assert not [name for _, name, _ in page.attributes if name.startswith("on")]


@pytest.mark.parametrize("hostile", HOSTILE_TEXT)
@pytest.mark.parametrize("place", PLACES)
def test_html_escapes_hostile_text(place: str, hostile: str) -> None:
    html = render_html(PLACES[place](hostile))
    page = Page(html)

    assert str(escape(hostile)) in html
    assert " ".join(hostile.split()) in page.text
    assert_structure_intact(page)
    assert page.opened == Page(render_html(PLACES[place]("harmless"))).opened


UNSAFE_URLS = [
    "javascript:alert(1)",
    "  JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "\x00javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "/relative/path",
    "//evil.example.com/x",
    "https:evil.example.com",
    "http://",
    "https://example.com/\x00admin",
    "https://example.com/\u202egnp.exe",
    "",
    None,
]


@pytest.mark.parametrize("url", UNSAFE_URLS)
def test_html_quotes_with_unsafe_urls_are_not_links(url: str | None) -> None:
    content = make_content(themes=[dataclasses.replace(THEMES[0], quotes=[quote(url=url)])])
    html = render_html(content)
    page = Page(html)

    assert external_links(page) == []
    assert "source: forum_saas" in page.text
    for scheme in ("javascript:", "data:", "vbscript:"):
        assert scheme not in html.lower()


def test_html_links_safe_urls_without_leaking_the_opener() -> None:
    url = 'https://example.com/p?a=1&b="2"'
    page = Page(render_html(make_content(themes=[dataclasses.replace(THEMES[0], quotes=[quote(url=url)])])))

    assert external_links(page) == [url]
    assert page.values("a", "rel") == ["noopener noreferrer nofollow"]
    assert "source: forum_saas" in page.text


def test_html_wraps_long_unbroken_strings() -> None:
    html = render_html(make_content(themes=[dataclasses.replace(THEMES[0], quotes=[quote("x" * 5000)])]))

    assert re.search(r"\.quote \{[^}]*overflow-wrap: anywhere", html)
    assert re.search(r"th, td \{[^}]*overflow-wrap: anywhere", html)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/a", "https://example.com/a"),
        ("HTTP://Example.com", "HTTP://Example.com"),
        ("  https://example.com/a \n", "https://example.com/a"),
        ("https://exa\nmple.com", "https://example.com"),
        *[(url, None) for url in UNSAFE_URLS],
    ],
)
def test_safe_url(url: str | None, expected: str | None) -> None:
    assert safe_url(url) == expected


# --- Markdown -----------------------------------------------------------------------------------------


def test_markdown_has_the_same_content() -> None:
    markdown = render_markdown(make_content())

    headings = [f"### {rank}. {theme.label}" for rank, theme in enumerate(THEMES, start=1)]
    assert positions(markdown, headings) == sorted(positions(markdown, headings))
    for expected in [
        "# Weekly market listening",
        "2026-11-24 10:00 UTC",
        "| Total mentions | 70 |",
        "| Customers' customers | 10 (19%) |",
        "| Unassigned mentions | 6 |",
        "- **Volume:** 42 mentions from 3 sources",
        "- **Audience mix:** Customers 30 (71%) · Influencers 12 (29%)",
        "> Setup took us two weeks.",
        "[source: forum\\_saas](https://forum.example.com/t/1)",
        "forum\\_lurkers 5 (100%)",
    ]:
        assert expected in markdown


MARKDOWN_HOSTILE_TEXT = [*HOSTILE_TEXT, "[click](javascript:alert(1))", "# heading\n> quote\n- item"]


@pytest.mark.parametrize("hostile", MARKDOWN_HOSTILE_TEXT)
@pytest.mark.parametrize("place", PLACES)
def test_markdown_neutralises_hostile_text(place: str, hostile: str) -> None:
    markdown = render_markdown(PLACES[place](hostile))

    assert "<script" not in markdown
    assert "<img" not in markdown
    assert "](javascript:" not in markdown
    assert not re.search(r"^(#|>|-) (heading|quote|item)", markdown, flags=re.MULTILINE)


@pytest.mark.parametrize("url", UNSAFE_URLS)
def test_markdown_quotes_with_unsafe_urls_are_not_links(url: str | None) -> None:
    markdown = render_markdown(make_content(themes=[dataclasses.replace(THEMES[0], quotes=[quote(url=url)])]))

    assert "](" not in markdown
    assert "source: forum\\_saas" in markdown


def test_markdown_link_destination_cannot_be_broken_out_of() -> None:
    url = "https://example.com/a b)(javascript:alert(1))"
    markdown = render_markdown(make_content(themes=[dataclasses.replace(THEMES[0], quotes=[quote(url=url)])]))

    assert "(https://example.com/a%20b%29%28javascript:alert%281%29%29)" in markdown


def test_markdown_quote_stays_on_one_line() -> None:
    markdown = render_markdown(
        make_content(themes=[dataclasses.replace(THEMES[0], quotes=[quote("first\n\n# second\r\nthird")])])
    )

    assert "> first \\# second third\n" in markdown


def test_markdown_table_cells_cannot_add_columns() -> None:
    source = dataclasses.replace(SOURCES[0], last_error="a | b | c\nd")
    markdown = render_markdown(make_content(sources=[source]))

    rows = [line for line in markdown.splitlines() if line.startswith("| forum")]
    assert len(rows) == 1
    assert len(re.split(r"(?<!\\)\|", rows[0])) == len(re.split(r"(?<!\\)\|", "| x" * 9 + " |"))


# --- Files --------------------------------------------------------------------------------------------


def test_write_report_writes_run_files_and_latest_copies(tmp_path: Path) -> None:
    content = make_content()

    html_path, markdown_path = write_report(content, tmp_path)

    run_folder = tmp_path / "manual__2026-11-24T10_00_00_00_00"
    assert (html_path, markdown_path) == (run_folder / "report.html", run_folder / "report.md")
    assert html_path.read_text(encoding="utf-8") == render_html(content)
    assert markdown_path.read_text(encoding="utf-8") == render_markdown(content)
    assert (tmp_path / "latest.html").read_text(encoding="utf-8") == render_html(content, root="")
    assert (tmp_path / "latest.md").read_text(encoding="utf-8") == render_markdown(content, root="")
    assert json.loads((run_folder / "summary.json").read_text(encoding="utf-8")) == summary_of(content)
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(
        [run_folder.name, "report.html", "report.md", "summary.json", "latest.html", "latest.md", "index.html",
         "index.md"]
    )  # fmt: skip
    assert (
        'href="../index.html"' in html_path.read_text()
        and 'href="index.html"' in (tmp_path / "latest.html").read_text()
    )


def test_write_report_replaces_latest_with_the_newest_run(tmp_path: Path) -> None:
    write_report(make_content(run_id="first", title="First run"), tmp_path)
    write_report(make_content(run_id="second", title="Second run"), tmp_path)

    assert "Second run" in (tmp_path / "latest.html").read_text(encoding="utf-8")
    assert "First run" in (tmp_path / "first" / "report.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("run_id", "folder"),
    [
        ("manual__2026-11-24T10:00:00+00:00", "manual__2026-11-24T10_00_00_00_00"),
        ("scheduled__2026-11-24", "scheduled__2026-11-24"),
        ("../../etc/passwd", ".._.._etc_passwd"),
        ("a/b\\c d", "a_b_c_d"),
        ("..", "run_.."),
        (".", "run_."),
        ("", "run_"),
        ("latest.html", "run_latest.html"),
    ],
)
def test_safe_run_id(run_id: str, folder: str) -> None:
    assert safe_run_id(run_id) == folder


def test_failing_sources_are_called_out_at_the_top_of_both_formats() -> None:
    failing = dataclasses.replace(
        SOURCES[0],
        status="failing",
        consecutive_failures=4,
        last_error="source 'x': http_5xx: <script>alert(1)</script>",
    )
    content = make_content(sources=[failing, *SOURCES[1:]])
    page = render_html(content)
    callout = page.index('class="callout"')
    assert callout < page.index('class="summary"')
    assert "1 source failing" in page and "4 failed runs" in page
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page
    markdown = render_markdown(content)
    assert markdown.index("1 source failing") < markdown.index("## Summary")
    assert "<script>" not in markdown
    assert 'class="callout"' not in render_html(make_content())


def test_theme_signals_show_strongest_first_and_skip_the_negligible() -> None:
    theme = dataclasses.replace(THEMES[0], signals={"negative": 0.62, "pain": 0.4, "pricing": 0.01, "praise": 0.1})
    page = render_html(make_content(themes=[theme]))
    assert page.index("Negative <strong>62%") < page.index("Pain <strong>40%") < page.index("Praise <strong>10%")
    assert "Pricing talk" not in page
    assert "- **Signals:** Negative 62% · Pain 40% · Praise 10%" in render_markdown(make_content(themes=[theme]))


# --- The full report: hypotheses, trends, charts, changes, alerts -----------------------------------------

WEEKS = [date(2026, 9, 7) + timedelta(weeks=n) for n in range(12)]  # the last one, week of 11-23, still running


def snapshot(audience: str = "all", **overrides: object) -> Snapshot:
    fields: dict[str, object] = {
        "audience": audience, "recent": 14, "baseline": 8, "total": 40, "recent_days": 7, "baseline_days": 28,
        "trend": "rising", "p_value": 0.003, "p_value_down": 0.99, "rate_ratio": 7.0, "emerging": False,
        "audience_share": 0.5, "audiences": 3, "spread": 0.8, "influencer_mentions": 6,
        "influencers": ("backupwire", "secops-weekly", "recap", "kim"),
        "signals": {"negative": 0.62, "positive": 0.1, "pain": 0.4, "pricing": 0.01}, "as_of": GENERATED,
    }  # fmt: skip
    return Snapshot(**{**fields, **overrides})  # type: ignore[arg-type]


def hypothesis(status: str = "proposed", **overrides: object) -> HypothesisItem:
    fields: dict[str, object] = {
        "hypothesis_id": "h_0123456789", "status": status,
        "statement": "Small-business owners increasingly talk about Onboarding takes too long",
        "audience": "customers_customers", "audience_label": "Small-business owners (your customers' customers)",
        "theme_id": "t-onboarding", "theme_label": "Onboarding takes too long", "owner": "marketing",
        "why": "Rule rising matched: 14 mentions in the last 7 days vs 2.0/week before (p = 0.003).",
        "rank_score": 6.2, "rank_reasons": ("rising (p = 0.003)", "heard in 3 audiences"),
        "test_kind": "message_test", "test_plan": "Send a message that leads with onboarding to 200 owners.",
        "criteria_text": "Validated when the tested rate beats the control by at least 20% (relative).",
        "status_why": "waiting for a test to start", "proposed_at": GENERATED - timedelta(days=14),
        "test_started_at": GENERATED - timedelta(days=7), "expires_at": GENERATED + timedelta(days=12),
        "decided_at": GENERATED - timedelta(days=1), "days_left": 12,
        "evidence": snapshot("customers_customers"),
        "baseline": snapshot("customers_customers", recent=5, trend="steady", as_of=GENERATED - timedelta(days=14)),
        "progress": [ProgressPoint(GENERATED - timedelta(weeks=w), 10 - w, 10.0 - w, 2.5 - w * 0.5)
                     for w in (3, 2, 1, 0)],
        "results": [RecordedResult(GENERATED - timedelta(days=2), "message_test", "reply_rate", 0.052, 400,
                                   "inconclusive", "5.2% vs 4.4%, p = 0.3", "ana", 0.044, "subject line A")],
        "quotes": [quote("We gave up on setup after two weeks.")],
    }  # fmt: skip
    return HypothesisItem(**{**fields, **overrides})  # type: ignore[arg-type]


def trending(theme: ThemeView, **overrides: object) -> ThemeView:
    """A theme with its trend, per-audience trends and 12 weeks of volume by audience."""
    fields: dict[str, object] = {
        "overall": snapshot(emerging=True),
        "by_audience": {"customers": snapshot("customers", recent=9), "influencers": snapshot("influencers", recent=3,
                                                                                              trend="steady")},
        "series": VolumeSeries("week", WEEKS, {"customers": [0, 1, 2, 0, 3, 1, 2, 4, 5, 6, 9, 2],
                                               "influencers": [1, 0, 0, 0, 1, 0, 1, 1, 2, 2, 3, 1]},
                               [1, 1, 2, 0, 4, 1, 3, 5, 7, 8, 12, 3]),
        "signals": {"negative": 0.62, "positive": 0.1, "pain": 0.4, "pricing": 0.01},
    }  # fmt: skip
    return dataclasses.replace(theme, **{**fields, **overrides})  # type: ignore[arg-type]


CHANGES = Changes(
    since=GENERATED - timedelta(days=7),
    previous_run_id="scheduled__2026-11-17",
    themes=[ThemeChange("new", "t-integrations", "Integrations wishlist"),
            ThemeChange("merge", "t-onboarding", "Onboarding takes too long", ["Setup wizard", "Slow onboarding"]),
            ThemeChange("split", "t-pricing", "Pricing tiers confuse buyers", ["Tier names", "SSO tax"]),
            ThemeChange("retired", "t-fax", "Fax backups")],
    volume=[VolumeChange("t-onboarding", "Onboarding takes too long", 4, 14,
                         "mentions in 7 days, vs the last report"),
            VolumeChange("t-pricing", "Pricing tiers confuse buyers", 9, 6.5,
                         "mentions per week, vs the weeks before")],
    new_hypotheses=[StatusChange("h_0123456789", "Owners increasingly talk about onboarding",
                                 "Onboarding takes too long", "Small-business owners", None, "proposed",
                                 GENERATED - timedelta(days=1), "earshot", "rule rising matched")],
    status_changes=[StatusChange("h_9876543210", "MSPs feel pain around pricing", "Pricing tiers confuse buyers",
                                 "MSPs", "proposed", "testing", GENERATED - timedelta(days=2), "ana",
                                 "a test started", True)],
    new_alerts=[Alert("source_failing:blog_rival:r1", "source_failing", "blog_rival",
                      "source blog_rival has failed 3 runs in a row", GENERATED - timedelta(days=1))],
)  # fmt: skip


def full_content(**overrides: object) -> ReportContent:
    """Every section filled: hypotheses in each state, trends with charts, changes and open alerts."""
    fields: dict[str, object] = {
        "themes": [trending(THEMES[0]), trending(THEMES[1], overall=snapshot(trend="falling", recent=2,
                                                                             p_value_down=0.04)), THEMES[2]],
        "period_start": GENERATED - timedelta(days=7),
        "mentions_in_period": 31,
        "test_first": [hypothesis(hypothesis_id=f"h_{n:010d}", rank_score=9 - n,
                                  statement=f"Hypothesis number {n} about onboarding") for n in range(5)],
        "under_test": [hypothesis("testing", hypothesis_id="h_testing001")],
        "validated": [hypothesis("validated", hypothesis_id="h_validated1",
                                 brief_href="briefs/h_validated1/brief.html"),
                      hypothesis("handed_off", hypothesis_id="h_handedoff1", brief_href=None)],
        "closed": [hypothesis("rejected", hypothesis_id="h_rejected01", status_why="reply rate below the control")],
        "changes": CHANGES,
        "alerts": [CHANGES.new_alerts[0]],
    }  # fmt: skip
    return make_content(**{**fields, **overrides})


def test_sections_come_in_the_order_a_marketing_lead_reads_them() -> None:
    content = full_content()
    html, markdown = render_html(content), render_markdown(content)

    ids = re.findall(r'<section class="[^"]*"(?: id="([^"]*)")?', html)
    assert ids == ["", "test-first", "under-test", "validated", "themes", "changes", "sources"]
    headings = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Summary",
        "## Test these first",
        "## Under test",
        "## Validated and handed off",
        "## Trending and emerging themes by audience",
        "## What changed since the last report",
        "## Source health",
    ]
    assert "Period 2026-11-17 → 2026-11-24" in Page(html).text
    assert "- **Period:** 2026-11-17 10:00 UTC → 2026-11-24 10:00 UTC" in markdown


def test_the_summary_says_what_rises_what_to_test_what_was_validated_and_what_is_missing() -> None:
    failing = dataclasses.replace(SOURCES[2], status="failing")
    sentences = summary_sentences(full_content(sources=[SOURCES[0], failing]))

    assert 3 <= len(sentences) <= 5
    assert sentences[0] == "70 conversations heard so far (31 new in this period), grouped into 3 themes."
    assert sentences[1].startswith("Rising fastest and emerging: Onboarding takes too long (14 mentions in the last")
    assert sentences[2] == "Test first: Hypothesis number 0 about onboarding (4 more hypotheses below); 1 under test."
    assert (
        sentences[3]
        == "2 hypotheses were validated and can go to sales (1 already handed off); 1 with a sales brief ready."
    )
    assert sentences[4] == "1 source is failing (blog_rival): what they carry is missing."
    assert " ".join(sentences) in Page(render_html(full_content(sources=[SOURCES[0], failing]))).text


def test_a_quiet_report_says_so_in_plain_words() -> None:
    sentences = summary_sentences(make_content(themes=[trending(THEMES[0], overall=snapshot(trend="steady"))],
                                               sources=SOURCES[:1]))  # fmt: skip

    assert sentences[1:] == [
        "No theme is rising significantly: the conversation is steady.",
        "No new hypothesis is waiting for a test.",
        "All 1 source were heard.",
    ]


def test_hypotheses_to_test_first_are_ranked_with_everything_needed_to_run_the_test() -> None:
    page = Page(render_html(full_content()))

    for n, expected in enumerate(["1 Hypothesis number 0", "2 Hypothesis number 1", "3 Hypothesis number 2"]):
        assert expected in page.text, n
    for expected in ["Audience Small-business owners (your customers' customers)", "Theme Onboarding takes too long",
                     "Owner marketing", "Why Rule rising matched",
                     "Ranked for rising (p = 0.003); heard in 3 audiences",
                     "Test plan Send a message", "Success criteria Validated when",
                     "Evidence baseline 2026-11-10 → latest 2026-11-24", "Mentions in the last 7 days 14 baseline 5",
                     "We gave up on setup after two weeks."]:  # fmt: skip
        assert expected in page.text
    assert positions(page.text, ["Hypothesis number 0", "Hypothesis number 1", "Hypothesis number 2"]) == sorted(
        positions(page.text, ["Hypothesis number 0", "Hypothesis number 1", "Hypothesis number 2"])
    )
    assert "Also worth testing" in page.text and "4 Hypothesis number 3 about onboarding h_0000000003" in page.text
    assert page.values("a", "href").count("#theme-1") >= 3  # each hypothesis links the theme it is about


def test_a_fresh_proposal_is_its_own_baseline() -> None:
    fresh = hypothesis(evidence=snapshot("customers_customers"), baseline=snapshot("customers_customers"))
    text = Page(render_html(full_content(test_first=[fresh]))).text

    assert "Evidence at proposal, 2026-11-24 (the baseline)" in text
    assert "baseline 8" not in text


def test_under_test_shows_progress_against_the_baseline_with_a_chart_and_the_results() -> None:
    html = render_html(full_content())
    section = html[html.index('id="under-test"') : html.index('id="validated"')]
    text = Page(section).text

    assert "Progress: latest (2026-11-24): 10 mentions recently, 10.0/week = 2.5× the baseline" in text
    assert "12 days left (the test window ends 2026-12-06)" in text
    assert "message test by ana: reply_rate 5.2% (n = 400) vs control 4.4% → inconclusive" in text
    assert "(subject line A)" in text
    chart = section[section.index('<svg class="chart-columns chart-ratio"') :]
    assert chart[: chart.index("</svg>")].count('<g class="bar') == 4
    assert '<line class="reference"' in chart
    assert re.findall(r"<g class=\"bar (up|down)\"", chart) == ["up", "up", "up", "up"]


def test_validated_hypotheses_link_their_brief_or_say_how_to_make_it() -> None:
    content = full_content()
    run, latest = Page(render_html(content)), Page(render_html(content, root=""))

    assert "../briefs/h_validated1/brief.html" in run.values("a", "href")
    assert "briefs/h_validated1/brief.html" in latest.values("a", "href")
    assert "Brief not generated yet: earshot hypotheses brief h_handedoff1" in run.text
    assert "Rejected and expired" in run.text and "reply rate below the control" in run.text
    markdown = render_markdown(content)
    assert "- **Sales brief:** [Open the sales brief](../briefs/h_validated1/brief.html)" in markdown
    assert "- **Sales brief:** brief not generated yet: `earshot hypotheses brief h_handedoff1`" in markdown


UNSAFE_BRIEFS = ["javascript:alert(1)", "https://evil.example/x.html", "/etc/brief.html", "../../../brief.html",
                 "briefs/a b/brief.html", "briefs/x/brief.html?x=1"]  # fmt: skip


@pytest.mark.parametrize("href", UNSAFE_BRIEFS)
def test_a_brief_path_that_is_not_a_plain_relative_file_is_not_linked(href: str) -> None:
    content = full_content(validated=[hypothesis("validated", brief_href=href)])

    for root in ("", "../"):
        assert not [h for h in Page(render_html(content, root=root)).values("a", "href") if h and h.endswith(href)]
        assert "Brief not generated yet" in Page(render_html(content, root=root)).text
        assert "](" + root + href not in render_markdown(content, root=root)


def test_themes_are_ranked_per_audience_by_recent_volume_with_flags_and_p_values_in_words() -> None:
    html = render_html(full_content())
    text = Page(html).text
    rankings = html[html.index('<div class="rankings">') : html.index('<article class="theme"')]

    assert re.findall(r'<h3><span class="swatch slot-(\d)"', rankings) == ["0", "2"]  # customers, influencers
    assert "Onboarding takes too long 9 in 7 days ▲ Rising significant (p = 0.003)" in Page(rankings).text
    assert rankings.count('<svg class="chart-spark"') == 4
    assert "▲ Rising ★ Emerging 14 mentions in the last 7 days vs 2.0/week in the 28 days before: rising, " \
           "significant (p = 0.003)." in text  # fmt: skip
    assert "▼ Falling 2 mentions in the last 7 days vs 2.0/week in the 28 days before: falling, significant " \
           "(p = 0.04)." in text  # fmt: skip
    assert "Reach Heard in 3 audiences, spread evenly (spread 0.80 of 1); echoed by influencers in 6 mentions " \
           "(backupwire, secops-weekly, recap and 1 more)." in text  # fmt: skip


@pytest.mark.parametrize(
    ("p", "alpha", "words"),
    [(0.0004, 0.05, "significant (p < 0.001)"), (0.003, 0.05, "significant (p = 0.003)"),
     (0.049, 0.05, "significant (p = 0.049)"), (0.0496, 0.05, "significant (p = 0.0496)"),
     (0.05, 0.05, "not significant (p = 0.05)"), (0.668, 0.05, "not significant (p = 0.67)"),
     (0.41, 0.05, "not significant (p = 0.41)"), (0.03, 0.01, "not significant (p = 0.03)")],
)  # fmt: skip
def test_p_values_read_in_plain_words(p: float, alpha: float, words: str) -> None:
    assert p_words(p, alpha) == words


def test_a_theme_card_draws_volume_audience_mix_and_signals() -> None:
    html = render_html(full_content(themes=[trending(THEMES[0])]))
    card = html[html.index('<article class="theme"') :]
    card = card[: card.index("</article>")]

    volume = card[card.index('<svg class="chart-columns"') :]
    volume = volume[: volume.index("</svg>")]
    assert volume.count('<g class="bar') == VOLUME_PERIODS == 12
    assert volume.count('<g class="bar partial">') == 1  # the week of 11-23 was still running on 11-24
    assert "<title>week of 2026-11-16: 12 (Customers 9, Influencers 3)</title>" in volume
    assert 'aria-label="Mentions per week of Onboarding takes too long, by audience' in volume
    assert "week of 2026-09-07" in Page(card).text and "week of 2026-11-23 (so far)" in Page(card).text
    assert card.count('<svg class="chart-meter"') == 3  # negative, positive, then pain: pricing (1%) is negligible
    assert "Negative 62% Positive 10% Pain 40%" in Page(card).text
    numbers = card[card.index('<details class="numbers">') :]
    assert "week of 2026-11-16 9 3 12" in Page(numbers[: numbers.index("</details>")]).text


def test_charts_and_their_text_twins_agree_in_markdown() -> None:
    markdown = render_markdown(full_content(themes=[trending(THEMES[0])]))

    assert "- **Per week:** ▂▂▂▁▃▂▃▄▅▆█▃ (week of 2026-09-07 to week of 2026-11-23 (so far), peak 12)" in markdown
    assert "| week of 2026-11-16 | 9 | 3 | 12 |" in markdown
    assert "- **Trend:** ▲ Rising ★ Emerging: 14 mentions in the last 7 days" in markdown
    assert "| Customers | 9 | 2.0 | ▲ Rising | significant (p = 0.003) |" in markdown
    assert "Against the baseline, run by run: ▄▅▇█" in markdown
    assert "| 2026-11-24 | 10 | 10.0 | 2.5× |" in markdown


def test_what_changed_lists_themes_volume_hypotheses_and_alerts() -> None:
    html = render_html(full_content())
    text = Page(html[html.index('id="changes"') : html.index('id="sources"')]).text

    for expected in [
        "Since the last report (2026-11-17 10:00 UTC, run scheduled__2026-11-17).",
        "New theme: Integrations wishlist",
        "Merged: Setup wizard and Slow onboarding into Onboarding takes too long",
        "Split: Pricing tiers confuse buyers into Tier names and SSO tax",
        "Retired: Fax backups (its mentions no longer form a theme)",
        "+10 Onboarding takes too long (4 → 14 mentions in 7 days, vs the last report)",
        "-2.5 Pricing tiers confuse buyers (9 → 6.5 mentions per week, vs the weeks before)",
        "Owners increasingly talk about onboarding (Small-business owners)",
        "2026-11-22: MSPs feel pain around pricing (MSPs): to test → under test by ana (by hand); a test started",
        "2026-11-23 10:00 UTC: source blog_rival has failed 3 runs in a row",
    ]:
        assert expected in text
    empty = Changes(since=GENERATED - timedelta(days=7))
    quiet = Page(render_html(make_content(changes=empty))).text
    assert "No earlier report: changes since 2026-11-17 10:00 UTC. Nothing changed." in quiet


def test_open_alerts_are_listed_with_source_health() -> None:
    html = render_html(full_content())
    sources = Page(html[html.index('id="sources"') :]).text

    assert "Open alerts 2026-11-23 10:00 UTC source_failing source blog_rival has failed 3 runs in a row" in sources
    assert "**Open alerts**\n\n- 2026-11-23 10:00 UTC · source\\_failing: source blog\\_rival" in render_markdown(
        full_content()
    )


# Where scraped text lands in the new sections, as a function that puts a value there.
FULL_PLACES = {
    "hypothesis statement": lambda v: full_content(test_first=[hypothesis(statement=v)]),
    "hypothesis why": lambda v: full_content(test_first=[hypothesis(why=v)]),
    "hypothesis plan": lambda v: full_content(under_test=[hypothesis("testing", test_plan=v)]),
    "rank reason": lambda v: full_content(test_first=[hypothesis(rank_reasons=(v, "spread"))]),
    "audience label": lambda v: full_content(test_first=[hypothesis(audience_label=v)]),
    "theme label in a hypothesis": lambda v: full_content(under_test=[hypothesis("testing", theme_label=v)]),
    "result note": lambda v: full_content(under_test=[hypothesis("testing", results=[
        RecordedResult(GENERATED, "survey", v, 0.5, 10, "inconclusive", v, v, None, v)])]),
    "status why": lambda v: full_content(validated=[hypothesis("validated", status_why=v)]),
    "theme label with charts": lambda v: full_content(themes=[trending(dataclasses.replace(THEMES[0], label=v))]),
    "influencer name": lambda v: full_content(themes=[trending(THEMES[0], overall=snapshot(influencers=(v, "x")))]),
    "change label": lambda v: full_content(changes=dataclasses.replace(CHANGES, themes=[
        ThemeChange("merge", "t", v, [v, "other"])])),
    "status change": lambda v: full_content(changes=dataclasses.replace(CHANGES, status_changes=[
        dataclasses.replace(CHANGES.status_changes[0], statement=v, by=v, why=v)])),
    "alert message": lambda v: full_content(alerts=[dataclasses.replace(CHANGES.new_alerts[0], message=v, kind=v)]),
}  # fmt: skip


@pytest.mark.parametrize("hostile", HOSTILE_TEXT)
@pytest.mark.parametrize("place", FULL_PLACES)
def test_html_escapes_hostile_text_in_every_section(place: str, hostile: str) -> None:
    html = render_html(FULL_PLACES[place](hostile))
    page = Page(html)

    assert str(escape(hostile)) in html
    assert " ".join(hostile.split()) in page.text
    assert_structure_intact(page)
    assert page.opened == Page(render_html(FULL_PLACES[place]("harmless"))).opened


@pytest.mark.parametrize("hostile", MARKDOWN_HOSTILE_TEXT)
@pytest.mark.parametrize("place", FULL_PLACES)
def test_markdown_neutralises_hostile_text_in_every_section(place: str, hostile: str) -> None:
    markdown = render_markdown(FULL_PLACES[place](hostile))

    assert "<script" not in markdown
    assert "<img" not in markdown
    assert "](javascript:" not in markdown
    assert not re.search(r"^(#|>|-) (heading|quote|item)", markdown, flags=re.MULTILINE)


def test_scraped_bidi_overrides_are_isolated_so_they_cannot_turn_our_words_around() -> None:
    override = "\u202eunterminated"
    content = full_content(
        test_first=[hypothesis(rank_reasons=(override,))], themes=[trending(THEMES[0], label=override)]
    )
    html, markdown = render_html(content), render_markdown(content)

    assert f"{FSI}{override}{PDI}" in html and f"{FSI}{override}{PDI}" in markdown
    assert f"{FSI}{override}{PDI}" in summary_sentences(content)[1]
    assert isolate("plain words") == "plain words"  # ordinary text is left as it is
    assert FSI not in render_html(full_content())


# --- Charts ------------------------------------------------------------------------------------------------


def test_stacked_columns_draw_one_group_per_period_scaled_to_the_tallest() -> None:
    chart = stacked_columns(
        ["w1", "w2", "w3"],
        [[Segment("A", 0, 2), Segment("B", 1, 2)], [], [Segment("A", 0, 1)]],
        'Mentions of <b>"x"</b>',
        partial_last=True,
    )

    assert chart.bars == 3 and chart.svg.count('<g class="bar') == 3
    assert chart.svg.count('<g class="bar partial">') == 1
    heights = [float(h) for h in re.findall(r'height="([\d.]+)"/>', chart.svg)]
    assert heights == [24, 24, 12]  # 48 units for the tallest column (4), half for 2
    assert "<title>w2: 0</title></g>" in chart.svg  # an empty period keeps its place
    assert 'aria-label="Mentions of &lt;b&gt;&#34;x&#34;&lt;/b&gt;"' in chart.svg and "<b>" not in chart.svg
    with pytest.raises(ValueError, match="3 periods but 2 stacks"):
        stacked_columns(["a", "b", "c"], [[], []], "x")


def test_sparklines_show_every_period_and_quiet_ones_as_stubs() -> None:
    chart = sparkline([0, 3, 6], slot=2, label="x")

    assert re.findall(r'<rect class="([^"]+)"', chart.svg) == ["bar zero", "bar slot-2", "bar slot-2"]
    assert chart.bars == 3


@pytest.mark.parametrize(("values", "text"), [([0, 1, 2, 4], "▁▃▅█"), ([0, 0], "▁▁"), ([], ""), ([5], "█")])
def test_text_sparklines(values: list[int], text: str) -> None:
    assert spark_text(values) == text


def test_stacked_bar_and_ratio_columns() -> None:
    bar = stacked_bar([Segment("A", 0, 1), Segment("B", 3, 0), Segment("C", 1, 3)], "mix")
    assert re.findall(r'x="([\d.]+)" y="0" width="([\d.]+)"', bar.svg) == [("0", "25"), ("25", "75")]
    assert bar.bars == 2 and bar.svg.count('<line class="gap"') == 1
    ratio = ratio_columns([("a", 0.5), ("b", 2.0)], "r")
    assert re.findall(r'<g class="bar (up|down)"', ratio.svg) == ["down", "up"]
    assert re.search(r'<line class="reference" x1="0" y1="([\d.]+)"', ratio.svg) is not None


# --- The archive -------------------------------------------------------------------------------------------


def test_the_archive_lists_every_report_newest_first_with_headline_figures(tmp_path: Path) -> None:
    write_report(full_content(run_id="week-1", generated_at=GENERATED), tmp_path)
    write_report(full_content(run_id="week-2", generated_at=GENERATED + timedelta(days=7), validated=[]), tmp_path)
    old = tmp_path / "before-summaries"
    old.mkdir()
    (old / "report.html").write_text("<!DOCTYPE html>")
    written = (GENERATED - timedelta(days=7)).timestamp()  # a summary-less report is dated by its file time
    os.utime(old / "report.html", (written, written))
    (tmp_path / "briefs" / "h_validated1").mkdir(parents=True)
    (tmp_path / "briefs" / "h_validated1" / "brief.html").write_text("<!DOCTYPE html>")
    write_index(tmp_path)

    entries = read_entries(tmp_path)
    assert [e.run_id for e in entries][:2] == ["week-2", "week-1"]
    assert [e.folder for e in entries][2] == "before-summaries"  # listed, its figures unknown
    assert (entries[1].mentions, entries[1].themes, entries[1].validated, entries[1].to_test) == (70, 3, 2, 5)
    assert [(b.hypothesis_id, b.href) for b in entries[1].briefs] == [
        ("h_validated1", "briefs/h_validated1/brief.html"),
        ("h_handedoff1", None),
    ]
    page = Page((tmp_path / "index.html").read_text())
    links = page.values("a", "href")
    assert links[:2] == ["latest.html", "week-2/report.html"]
    assert "briefs/h_validated1/brief.html" in links and "before-summaries/report.html" in links
    assert "70 (31 new)" in page.text and "Mentions — Themes —" in page.text
    index_md = (tmp_path / "index.md").read_text()
    assert "[brief h\\_validated1](briefs/h_validated1/brief.html)" in index_md
    assert index_md.index("week\\-2") < index_md.index("week\\-1")
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary files behind


def test_the_archive_reads_broken_summaries_and_skips_what_is_not_a_report(tmp_path: Path) -> None:
    for name, summary in [("broken", "{not json"), ("list", "[]"), ("odd", '{"mentions": "many", "validated": 3}')]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.html").write_text("<!DOCTYPE html>")
        (tmp_path / name / "summary.json").write_text(summary)
    (tmp_path / "no-report").mkdir()
    (tmp_path / "briefs").mkdir()
    (tmp_path / "briefs" / "report.html").write_text("not a report")

    entries = read_entries(tmp_path)

    assert sorted(e.folder for e in entries) == ["broken", "list", "odd"]
    assert all(e.mentions is None and e.briefs == [] for e in entries)


def test_the_archive_escapes_what_reports_said(tmp_path: Path) -> None:
    write_report(full_content(title="<script>alert(1)</script>", company="<img src=x onerror=alert(1)>"), tmp_path)
    page = Page((tmp_path / "index.html").read_text())

    assert "<script>alert(1)</script>: all reports" in page.text
    assert not {"script", "img"} & set(page.opened)
    assert "<script" not in (tmp_path / "index.md").read_text()


def test_a_large_report_stays_small_enough_to_mail() -> None:
    from benchmarks.report_size import synthetic_content

    content = synthetic_content(themes=100, quotes=10)
    html = render_html(content)

    assert sum(len(t.quotes) for t in content.themes) == 1000
    assert len(html.encode()) < 3_000_000
    assert html.count('<article class="theme"') == 100
