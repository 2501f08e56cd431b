"""Report renderers: complete, self-contained, and inert against hostile scraped text."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markupsafe import escape

from reports.content import Quote, ReportContent, SourceHealth, ThemeView
from reports.render import render_html, render_markdown, safe_run_id, safe_url, write_report

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

    assert 'style="width: 71.43%"' in html
    assert 'style="width: 28.57%"' in html
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

    assert page.values("a", "href") == []
    assert "source: forum_saas" in page.text
    for scheme in ("javascript:", "data:", "vbscript:"):
        assert scheme not in html.lower()


def test_html_links_safe_urls_without_leaking_the_opener() -> None:
    url = 'https://example.com/p?a=1&b="2"'
    page = Page(render_html(make_content(themes=[dataclasses.replace(THEMES[0], quotes=[quote(url=url)])])))

    assert page.values("a", "href") == [url]
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
    assert (tmp_path / "latest.html").read_text(encoding="utf-8") == render_html(content)
    assert (tmp_path / "latest.md").read_text(encoding="utf-8") == render_markdown(content)
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(
        [run_folder.name, "report.html", "report.md", "latest.html", "latest.md"]
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
