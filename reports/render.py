"""Render a :class:`~reports.content.ReportContent` as a self-contained HTML page and a Markdown twin.

Everything that came from the web (quotes, authors, keywords, labels, URLs, source ids, error messages)
is treated as hostile: HTML goes through Jinja2 autoescaping, Markdown through :func:`markdown_text`,
and links are emitted only for http(s) URLs (:func:`safe_url`). Both formats use the same helpers, so
they say the same thing.
"""

from __future__ import annotations

import functools
import json
import os
import re
import tempfile
import unicodedata
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NamedTuple

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from reports.charts import Chart, Segment, meter, ratio_columns, spark_text, sparkline, stacked_bar, stacked_columns
from reports.content import (
    Alert,
    Changes,
    HypothesisItem,
    Quote,
    RecordedResult,
    ReportContent,
    Snapshot,
    SourceHealth,
    StatusChange,
    ThemeView,
    isolate,
    summary_sentences,
)

TEMPLATES = Path(__file__).parent / "templates"

AUDIENCE_NAMES: dict[str, str] = {
    "customers": "Customers",
    "customers_customers": "Customers' customers",
    "influencers": "Influencers",
    "competitors": "Competitors",
}
_AUDIENCE_ORDER = {key: index for index, key in enumerate(AUDIENCE_NAMES)}
_EXTRA_COLOUR_SLOTS = 3  # stylesheet colours shared by audiences not in AUDIENCE_NAMES

_RESERVED_RUN_FOLDERS = {"", ".", "..", "latest.html", "latest.md", "index.html", "index.md", "briefs"}
_UNSAFE_PATH_CHARS = re.compile(r"[^A-Za-z0-9_.-]")

_URL_EDGE_JUNK = re.compile(r"^[\s\x00-\x20\x7f-\x9f]+|[\s\x00-\x20\x7f-\x9f]+$")
_URL_TAB_NEWLINE = re.compile(r"[\t\n\r]")
_WEB_URL = re.compile(r"https?://[^\s/?#\\]", re.IGNORECASE)

_MD_HTML_CHARS = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|~])")
_MD_ORDERED_LIST_START = re.compile(r"^(\d+)\.")
_MD_URL_UNSAFE = re.compile(r"[\s()<>\\`\x00-\x1f\x7f]")
_LOCAL_PATH = re.compile(r"(?:\.\./)?(?:[A-Za-z0-9_-][A-Za-z0-9_.-]*/)*[A-Za-z0-9_-][A-Za-z0-9_.-]*\.(?:html|md)")
"""A link to a file earshot wrote, relative to the page: no scheme, no absolute path, no ``..`` but a leading one."""


class StatusStyle(NamedTuple):
    """How a source status looks: a CSS class for colour and a symbol for readers who can't see it."""

    css_class: str
    symbol: str


_STATUS_STYLES = {
    "ok": StatusStyle("status-ok", "✓"),
    "not_modified": StatusStyle("status-ok", "✓"),  # conditional GET: healthy, nothing new
    "warning": StatusStyle("status-warning", "▲"),
    "error": StatusStyle("status-error", "✕"),
    "failing": StatusStyle("status-error", "‼"),  # failed several runs in a row: needs a person
    "never fetched": StatusStyle("status-never", "○"),
}
_UNKNOWN_STATUS = StatusStyle("status-unknown", "?")


@dataclass(frozen=True)
class AudienceShare:
    """One audience's slice of a count, ready to draw as a bar segment and to read as text."""

    key: str
    name: str
    count: int
    percent: float
    colour_slot: int

    @property
    def width(self) -> str:
        """CSS width, formatted here so the template never builds style values from raw data."""
        return f"{self.percent:.2f}%"

    @property
    def percent_label(self) -> str:
        """Whole percent; a tiny but real share reads as "<1%" rather than a misleading "0%"."""
        return "<1%" if 0 < self.percent < 1 else f"{self.percent:.0f}%"


# --- Shared helpers: both formats present data through these --------------------------------------


def audience_name(key: str) -> str:
    """The human name of an audience; unknown keys are shown as they are rather than hidden."""
    return AUDIENCE_NAMES.get(key, key)


def audience_shares(counts: dict[str, int]) -> list[AudienceShare]:
    """Counts as shares, known audiences first in a fixed order so bars line up from theme to theme."""
    keys = sorted(counts, key=lambda key: (_AUDIENCE_ORDER.get(key, len(_AUDIENCE_ORDER)), key))
    total = sum(max(count, 0) for count in counts.values())
    return [
        AudienceShare(
            key=key,
            name=audience_name(key),
            count=counts[key],
            percent=100 * max(counts[key], 0) / total if total else 0.0,
            colour_slot=_colour_slot(key),
        )
        for key in keys
    ]


def _colour_slot(key: str) -> int:
    """A stable colour per audience; unknown ones hash onto a few extra colours (CRC32 is stable)."""
    if key in _AUDIENCE_ORDER:
        return _AUDIENCE_ORDER[key]
    return len(_AUDIENCE_ORDER) + zlib.crc32(key.encode("utf-8")) % _EXTRA_COLOUR_SLOTS


SIGNAL_NAMES = {
    "negative": "Negative", "positive": "Positive", "pain": "Pain", "solution_request": "Looking for a solution",
    "advice_request": "Asking for advice", "praise": "Praise", "pricing": "Pricing talk", "competitor": "Competitors",
}  # fmt: skip


def signal_shares(signals: dict[str, float], minimum: float = 0.05) -> list[tuple[str, str]]:
    """``(name, "42%")`` for the signals that matter in a theme, strongest first: what marketing acts on."""
    shown = [(key, share) for key, share in signals.items() if share >= minimum]
    shown.sort(key=lambda item: (-item[1], item[0]))
    return [(SIGNAL_NAMES.get(key, key), f"{share:.0%}") for key, share in shown]


def status_style(status: str) -> StatusStyle:
    """Style for a source status; an unexpected status still renders, visibly as unknown."""
    return _STATUS_STYLES.get(status.strip().lower(), _UNKNOWN_STATUS)


def format_utc(moment: datetime | None, missing: str = "—") -> str:
    """``2026-11-24 10:00 UTC``: one unambiguous zone for readers spread across time zones."""
    return _as_utc(moment).strftime("%Y-%m-%d %H:%M UTC") if moment else missing


def format_day(moment: datetime | None, missing: str = "—") -> str:
    """``2026-11-24`` (UTC): a quote's day is enough to judge how fresh it is."""
    return _as_utc(moment).strftime("%Y-%m-%d") if moment else missing


def _as_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC, so the output never depends on the rendering machine's zone."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_number(value: int) -> str:
    """Thousands separators keep large counts readable at a glance."""
    return f"{value:,}"


def count_of(value: int, noun: str) -> str:
    """``1 mention`` / ``12 mentions``."""
    return f"{format_number(value)} {noun}{'' if value == 1 else 's'}"


def safe_url(url: str | None) -> str | None:
    """The URL if it is an absolute http(s) link, else ``None``.

    Scraped links may carry ``javascript:``, ``data:`` or obfuscated variants of them. Browsers ignore
    surrounding whitespace and control characters and drop tabs and newlines anywhere, so the scheme is
    checked after doing the same; anything still holding control characters is refused outright.
    """
    if not url:
        return None
    cleaned = _URL_TAB_NEWLINE.sub("", _URL_EDGE_JUNK.sub("", url))
    if not _WEB_URL.match(cleaned):
        return None
    if any(unicodedata.category(char) in {"Cc", "Cf"} for char in cleaned):
        return None
    return cleaned


def safe_run_id(run_id: str) -> str:
    """A run id usable as one folder name: no separators, no ``..``, no clash with the latest copies, the
    archive index or the briefs folder beside it."""
    safe = _UNSAFE_PATH_CHARS.sub("_", run_id)
    return f"run_{safe}" if safe in _RESERVED_RUN_FOLDERS else safe


# --- Words for figures: trends, significance, reach ----------------------------------------------------

TREND_STYLES: dict[str, tuple[str, str]] = {
    "rising": ("▲", "Rising"),
    "new": ("✦", "New"),
    "falling": ("▼", "Falling"),
    "steady": ("→", "Steady"),
    "quiet": ("○", "Quiet"),
}
STATUS_NAMES = {
    "proposed": "to test",
    "testing": "under test",
    "validated": "validated",
    "handed_off": "handed off",
    "rejected": "rejected",
    "expired": "expired",
}


@dataclass(frozen=True)
class Badge:
    """A flag on a theme (rising, emerging...): a CSS class for colour, a symbol and a word for everyone."""

    css_class: str
    symbol: str
    text: str


def trend_badges(snapshot: Snapshot | None) -> list[Badge]:
    """The trend as a badge, and ``Emerging`` when the emerging rule fired; nothing without a snapshot."""
    if snapshot is None:
        return []
    symbol, word = TREND_STYLES.get(snapshot.trend, ("?", snapshot.trend))
    badges = [Badge(f"trend-{snapshot.trend}" if snapshot.trend in TREND_STYLES else "trend-unknown", symbol, word)]
    if snapshot.emerging:
        badges.append(Badge("emerging", "★", "Emerging"))
    return badges


def p_words(p: float, alpha: float) -> str:
    """A p-value in plain words: ``significant (p = 0.003)`` or ``not significant (p = 0.41)``.

    Two significant digits, or three where two would round across ``alpha`` (0.0496 is not "p = 0.05").
    """
    if p < 0.001:
        shown = "< 0.001"
    else:
        shown = f"{p:.2g}"
        if (float(shown) < alpha) != (p < alpha):
            shown = f"{p:.3g}"
        shown = f"= {shown}"
    return f"{'significant' if p < alpha else 'not significant'} (p {shown})"


def significance(snapshot: Snapshot, alpha: float) -> str:
    """How sure the trend is: the test in the trend's own direction (down for falling, else up)."""
    if snapshot.trend == "quiet":
        return f"no mentions in the last {snapshot.recent_days} days"
    return p_words(snapshot.p_value_down if snapshot.trend == "falling" else snapshot.p_value, alpha)


def rate_words(snapshot: Snapshot) -> str:
    """``14 mentions in the last 7 days vs 3.5/week in the 28 days before``."""
    before = (
        f"{snapshot.baseline_per_week:.1f}/week in the {snapshot.baseline_days} days before"
        if snapshot.baseline
        else f"none in the {snapshot.baseline_days} days before"
    )
    return f"{count_of(snapshot.recent, 'mention')} in the last {snapshot.recent_days} days vs {before}"


def trend_sentence(snapshot: Snapshot, alpha: float) -> str:
    """The trend in one sentence, with its counts and its significance."""
    word = TREND_STYLES.get(snapshot.trend, ("", snapshot.trend))[1].lower()
    return f"{rate_words(snapshot)}: {word}, {significance(snapshot, alpha)}."


def spread_words(snapshot: Snapshot) -> str:
    """How widely a theme is heard: the product brief values a theme heard across audiences."""
    if snapshot.audiences <= 1:
        return f"heard in {count_of(snapshot.audiences, 'audience')} only"
    how = "evenly" if snapshot.spread >= 0.67 else "unevenly" if snapshot.spread >= 0.34 else "mostly in one"
    return f"heard in {snapshot.audiences} audiences, spread {how} (spread {snapshot.spread:.2f} of 1)"


def echo_words(snapshot: Snapshot, names: int = 3, show: Callable[[str], str] = isolate) -> str:
    """Influencer echo: how many influencer mentions, and who (the loudest few, each through ``show``: names are
    scraped, so Markdown passes :func:`markdown_text`)."""
    if not snapshot.influencer_mentions:
        return "no influencer echo yet"
    who = list(snapshot.influencers[:names])
    rest = len(snapshot.influencers) - len(who)
    named = ", ".join(show(name) for name in who) + (f" and {rest} more" if rest > 0 else "")
    return f"echoed by influencers in {count_of(snapshot.influencer_mentions, 'mention')}" + (
        f" ({named})" if named else ""
    )


def percent(share: float | None) -> str:
    """``42%``; a tiny but real share reads as ``<1%``."""
    if share is None:
        return "—"
    return "<1%" if 0 < share < 0.005 else f"{share:.0%}"


def status_name(status: str) -> str:
    return STATUS_NAMES.get(status, status)


def days_left_words(item: HypothesisItem) -> str:
    """``12 days left (the test window ends 2026-12-06)``; overdue windows say so."""
    if item.days_left is None:
        return "no end date" if item.expires_at is None else f"the test window ends {format_day(item.expires_at)}"
    if item.days_left < 0:
        return f"the test window ended {format_day(item.expires_at)}"
    return f"{count_of(item.days_left, 'day')} left (the test window ends {format_day(item.expires_at)})"


def result_words(result: RecordedResult) -> str:
    """A recorded result in one line: what was measured, on how many, against what, and the verdict."""
    control = f" vs control {result.control:.1%}" if result.control is not None else ""
    return (
        f"{result.kind.replace('_', ' ')} by {isolate(result.recorded_by)}: {isolate(result.metric)} "
        f"{result.value:.1%} (n = {format_number(result.sample)}){control} → {result.verdict}: "
        f"{isolate(result.verdict_why)}"
    )


def brief_command(hypothesis_id: str) -> str:
    return f"earshot hypotheses brief {hypothesis_id}"


def period_name(period: str, start: date) -> str:
    """``week of 2026-11-16``, ``2026-11``, or the day."""
    if period == "week":
        return f"week of {start:%Y-%m-%d}"
    if period == "month":
        return f"{start:%Y-%m}"
    return f"{start:%Y-%m-%d}"


# --- Charts: numbers → SVG with their text equivalents -------------------------------------------------

VOLUME_PERIODS = 12
"""Periods a volume chart shows (the most recent): a quarter of weeks reads at a glance."""
RANKED_PER_AUDIENCE = 8
"""Themes listed per audience in the rankings; the rest are counted, and all have their card below."""
FULL_HYPOTHESES = 3
"""Hypotheses to test shown in full; the rest of the ranking is a compact table."""
HYPOTHESIS_QUOTES = 2


@dataclass(frozen=True)
class VolumeView:
    """A theme's volume chart, with the numbers behind it as table rows (period, per audience, in all)."""

    chart: Chart
    audiences: list[AudienceShare]  # columns, in audience order; count = mentions over the shown periods
    rows: list[tuple[str, list[int], int]]
    period: str
    partial: bool = False  # the last period is still running at the snapshot

    @property
    def first(self) -> str:
        return self.rows[0][0] if self.rows else ""

    @property
    def last(self) -> str:
        return self.rows[-1][0] if self.rows else ""

    @property
    def peak(self) -> int:
        return max((sum(counts) for _, counts, _ in self.rows), default=0)

    @property
    def spark(self) -> str:
        return spark_text([total for *_, total in self.rows])


def volume_view(theme: ThemeView, periods: int = VOLUME_PERIODS) -> VolumeView | None:
    """The latest ``periods`` of the theme's volume, stacked by audience (colours as everywhere else)."""
    series = theme.series
    if series is None or not series.starts:
        return None
    start = max(0, len(series.starts) - periods)
    counts = {key: values[start:] for key, values in series.by_audience.items()}
    audiences = audience_shares({key: sum(values) for key, values in counts.items()})
    names = [period_name(series.period, day) for day in series.starts[start:]]
    partial = theme.overall is not None and _running(series.period, series.starts[-1], theme.overall.as_of)
    if partial:
        names[-1] += " (so far)"
    stacks = [
        [Segment(share.name, share.colour_slot, counts[share.key][index]) for share in audiences]
        for index in range(len(names))
    ]
    unit = {"week": "week", "month": "month"}.get(series.period, "day")
    chart = stacked_columns(
        names, stacks, f"Mentions per {unit} of {theme.label}, by audience, {names[0]} to {names[-1]}", partial
    )
    rows = [
        (name, [counts[share.key][index] for share in audiences], series.total[start:][index])
        for index, name in enumerate(names)
    ]
    return VolumeView(chart, audiences, rows, series.period, partial)


def _running(period: str, start: date, as_of: datetime | None) -> bool:
    """Whether the period starting at ``start`` had not ended at ``as_of`` (a week or month still running)."""
    if as_of is None:
        return False
    day = _as_utc(as_of).date()
    if period == "week":
        return (day - start).days < 7
    if period == "month":
        return (day.year, day.month) == (start.year, start.month)
    return day == start


def mix_chart(counts: dict[str, int]) -> Chart | None:
    """The audience mix as one stacked bar; its legend (HTML) carries the numbers."""
    shares = audience_shares(counts)
    if not shares:
        return None
    label = "Audience mix: " + ", ".join(f"{s.name} {format_number(s.count)} ({s.percent_label})" for s in shares)
    return stacked_bar([Segment(s.name, s.colour_slot, max(s.count, 0)) for s in shares], label)


@dataclass(frozen=True)
class SignalBar:
    name: str
    share: str
    chart: Chart


TONE = ("negative", "positive")


def signal_bars(signals: dict[str, float], minimum: float = 0.05) -> list[SignalBar]:
    """The signal mix: tone (negative, positive) always, then the intents that matter, strongest first."""
    if not signals:
        return []
    tone = [(key, signals.get(key, 0.0)) for key in TONE]
    intents = sorted(
        ((key, share) for key, share in signals.items() if key not in TONE and share >= minimum),
        key=lambda item: (-item[1], item[0]),
    )
    bars = []
    for key, share in [*tone, *intents]:
        name = SIGNAL_NAMES.get(key, key)
        css = f"signal-{key}" if key in SIGNAL_NAMES else "signal-other"
        bars.append(SignalBar(name, f"{share:.0%}", meter(share, css, f"{name}: {share:.0%} of mentions")))
    return bars


@dataclass(frozen=True)
class RankedTheme:
    """One row of an audience's ranking: the theme among that audience, linked to its card."""

    anchor: str
    label: str
    snapshot: Snapshot
    spark: Chart | None
    spark_text: str


@dataclass(frozen=True)
class AudienceRanking:
    key: str
    name: str
    colour_slot: int
    rows: list[RankedTheme]
    more: int  # themes heard in this audience beyond the rows shown


def audience_rankings(themes: list[ThemeView], limit: int = RANKED_PER_AUDIENCE) -> list[AudienceRanking]:
    """Per audience, its themes ranked by recent volume (then all-time volume): who talks about what now."""
    per: dict[str, list[tuple[int, ThemeView, Snapshot]]] = {}
    for index, theme in enumerate(themes, start=1):
        for audience, snapshot in theme.by_audience.items():
            per.setdefault(audience, []).append((index, theme, snapshot))
    rankings = []
    for share in audience_shares(dict.fromkeys(per, 1)):
        entries = sorted(per[share.key], key=lambda e: (-e[2].recent, -e[2].total, e[0]))
        rows = []
        for index, theme, snapshot in entries[:limit]:
            values = _audience_values(theme, share.key)
            label = f"{share.name}: mentions of {theme.label} per period, oldest first: " + ", ".join(map(str, values))
            spark = sparkline(values, share.colour_slot, label) if values else None
            rows.append(RankedTheme(f"theme-{index}", theme.label, snapshot, spark, spark_text(values)))
        rankings.append(AudienceRanking(share.key, share.name, share.colour_slot, rows, max(0, len(entries) - limit)))
    return rankings


def _audience_values(theme: ThemeView, audience: str, periods: int = VOLUME_PERIODS) -> list[int]:
    if theme.series is None:
        return []
    return theme.series.by_audience.get(audience, [])[-periods:]


def progress_chart(item: HypothesisItem) -> Chart | None:
    """A hypothesis's re-measurements as columns against its baseline (the dashed line at 1×)."""
    if not item.progress:
        return None
    points = [(format_day(p.as_of), p.vs_baseline) for p in item.progress]
    values = ", ".join(f"{day} {ratio:.1f}×" for day, ratio in points)
    return ratio_columns(points, f"Recent rate of {item.theme_label} against its baseline, by run: {values}")


def theme_anchors(themes: list[ThemeView]) -> dict[str, str]:
    """Theme id → its card's fragment id, so hypotheses and rankings link to the theme they are about."""
    return {theme.theme_id: f"theme-{index}" for index, theme in enumerate(themes, start=1)}


# --- HTML -------------------------------------------------------------------------------------------


def render_html(content: ReportContent, root: str = "../") -> str:
    """One self-contained HTML5 page: inline CSS and SVG, no scripts, no external requests.

    It opens offline, prints cleanly and is safe to mail around; a Content-Security-Policy in the page
    backs up the escaping should a browser ever be tricked into seeing markup in scraped text.

    Args:
        content: what the report says.
        root: the reports folder relative to where the page is written: ``../`` for ``<run>/report.html``,
            ``""`` for ``latest.html``. Links to the archive index and to sales briefs start with it.
    """
    if root not in ("", "../"):
        raise ValueError(f"render_html: root must be '' or '../', not {root!r}")
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            content=content,
            root=root,
            summary=summary_sentences(content),
            rankings=audience_rankings(content.themes),
            anchors=theme_anchors(content.themes),
            full_hypotheses=FULL_HYPOTHESES,
            hypothesis_quotes=HYPOTHESIS_QUOTES,
            trend_note=_trend_note(content),
            period=_period_unit(content.themes),
        )
    )


def _period_unit(themes: list[ThemeView]) -> str:
    """The volume period the themes were counted in (``week`` unless the snapshot said otherwise)."""
    return next((t.series.period for t in themes if t.series is not None), "week")


def joined(items: list[str] | tuple[str, ...], separator: str) -> str:
    """Scraped strings joined for one line of text, each isolated (so one cannot turn the next around)."""
    return separator.join(isolate(item) for item in items)


def _isolated(value: object) -> object:
    """Every string a template prints is bidi-isolated when it carries bidi controls (see :func:`isolate`),
    so scraped text cannot turn around the page text that follows it. Our own markup passes untouched."""
    return isolate(value) if isinstance(value, str) and not isinstance(value, Markup) else value


@functools.cache
def _environment() -> Environment:
    """Built once: autoescaping everywhere, and undefined names fail loudly instead of rendering empty."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_isolated,
    )
    environment.filters.update(
        audience=audience_name,
        utc=format_utc,
        day=format_day,
        num=format_number,
        safe_url=safe_url,
        percent=percent,
        status_name=status_name,
    )
    environment.globals.update(
        shares=audience_shares,
        count_of=count_of,
        status_style=status_style,
        signal_shares=signal_shares,
        signal_bars=signal_bars,
        mix_chart=mix_chart,
        volume_view=volume_view,
        progress_chart=progress_chart,
        trend_badges=trend_badges,
        trend_sentence=trend_sentence,
        significance=significance,
        rate_words=rate_words,
        spread_words=spread_words,
        echo_words=echo_words,
        days_left_words=days_left_words,
        result_words=result_words,
        brief_command=brief_command,
        evidence_rows=evidence_rows,
        evidence_figures=evidence_figures,
        progress_words=progress_words,
        changes_intro=changes_intro,
        theme_change_lines=theme_change_lines,
        status_change_words=status_change_words,
        ordered_audiences=ordered_audiences,
        local_href=local_href,
        signed=signed,
        amount=amount,
        joined=joined,
    )
    return environment


# --- Markdown ---------------------------------------------------------------------------------------


def render_markdown(content: ReportContent, root: str = "../") -> str:
    """The same report in GitHub-flavoured Markdown, for wikis, tickets and chat; charts become numbers
    and text sparklines."""
    if root not in ("", "../"):
        raise ValueError(f"render_markdown: root must be '' or '../', not {root!r}")
    blocks = [
        f"# {markdown_text(content.title)}",
        _md_facts(content),
        *_md_failing(content.sources),
        "## Summary",
        " ".join(markdown_text(sentence) for sentence in summary_sentences(content)),
        _md_summary(content),
        "## Test these first",
        *_md_test_first(content),
        "## Under test",
        *_md_under_test(content),
        "## Validated and handed off",
        *_md_validated(content, root),
        "## Trending and emerging themes by audience",
        *_md_rankings(content),
        *_md_themes(content),
        "## What changed since the last report",
        *_md_changes(content),
        "## Source health",
        _md_sources(content.sources),
        *_md_alerts(content.alerts),
    ]
    return "\n\n".join(block for block in blocks if block) + "\n"


def markdown_text(text: str) -> str:
    """Scraped text as inert inline Markdown: one line, no emphasis, links, headings or raw HTML, and no bidi
    override leaking past it (:func:`~reports.content.isolate`)."""
    one_line = isolate(" ".join(text.split()))
    escaped = _MD_SPECIAL.sub(r"\\\1", one_line.translate(_MD_HTML_CHARS))
    return _MD_ORDERED_LIST_START.sub(r"\1\\.", escaped)


def _md_link(text: str, url: str | None) -> str:
    """``[text](url)`` for http(s) URLs; plain text otherwise, so a bad URL never becomes a link."""
    label = markdown_text(text)
    href = safe_url(url)
    if href is None:
        return label
    destination = _MD_URL_UNSAFE.sub(lambda match: _percent_encode(match.group()), href)
    return f"[{label}]({destination})"


def _md_local_link(text: str, path: str) -> str:
    """A link to a file earshot wrote (a brief, the archive), from a path it built out of safe ids."""
    if not _LOCAL_PATH.fullmatch(path):
        return markdown_text(text)
    return f"[{markdown_text(text)}]({path})"


def _md_code(text: str) -> str:
    """Inline code for commands; backticks inside are dropped (ids never carry them)."""
    return "`" + " ".join(text.replace("`", "").split()) + "`"


def _percent_encode(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))


def _md_table(headers: list[str], rows: list[list[str]], numeric: frozenset[int] = frozenset()) -> str:
    """A GFM table from already-escaped cells; numeric columns are right-aligned."""
    rule = ["---:" if index in numeric else "---" for index in range(len(headers))]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in [headers, rule, *rows])


def _md_facts(content: ReportContent) -> str:
    facts = [
        ("Company", markdown_text(content.company)),
        ("Offer", markdown_text(content.offer)),
        ("Period", _period(content)),
        ("Run", markdown_text(content.run_id)),
        ("Generated", format_utc(content.generated_at)),
        ("Embedding model", markdown_text(content.embedding_model) or "—"),
    ]
    return "\n".join(f"- **{name}:** {value}" for name, value in facts)


def _period(content: ReportContent) -> str:
    start = format_utc(content.period_start, missing="the beginning")
    return f"{start} → {format_utc(content.generated_at)}"


def _md_failing(sources: list[SourceHealth]) -> list[str]:
    failing = [s for s in sources if s.status == "failing"]
    if not failing:
        return []
    lines = [f"> **{count_of(len(failing), 'source')} failing:** not heard for several runs in a row, so what "
             "these voices say is missing from this report."]  # fmt: skip
    lines += [
        f"> - {markdown_text(s.source_id)} ({markdown_text(audience_name(s.audience))}): "
        f"{count_of(s.consecutive_failures, 'failed run')}; last error: {markdown_text(s.last_error or '—')}"
        for s in failing
    ]
    return ["\n".join(lines)]


def _md_summary(content: ReportContent) -> str:
    rows = [["Total mentions", format_number(content.total_mentions)]]
    if content.mentions_in_period is not None:
        rows.append(["New in this period", format_number(content.mentions_in_period)])
    rows += [
        [markdown_text(share.name), f"{format_number(share.count)} ({share.percent_label})"]
        for share in audience_shares(content.mentions_by_audience)
    ]
    rows += [
        ["Themes", format_number(len(content.themes) if content.themes_total is None else content.themes_total)],
        ["Unassigned mentions", format_number(content.unassigned)],
        ["Hypotheses to test", format_number(len(content.test_first))],
        ["Under test", format_number(len(content.under_test))],
        ["Validated", format_number(len(content.validated))],
    ]
    return _md_table(["Measure", "Value"], rows, numeric=frozenset({1}))


def _md_hypothesis_head(item: HypothesisItem) -> str:
    facts = [
        f"audience: {markdown_text(item.audience_label)}",
        f"theme: {markdown_text(item.theme_label)}" + ("" if item.theme_active else " (no longer active)"),
        f"owner: {markdown_text(item.owner) or '—'}",
        f"id: {_md_code(item.hypothesis_id)}",
    ]
    return " · ".join(facts)


def _md_evidence(item: HypothesisItem) -> str:
    rows = [[markdown_text(name), base, now] for name, base, now in evidence_rows(item)]
    if not rows:
        return ""
    base_day = format_day(item.baseline.as_of if item.baseline else None)
    now_day = format_day(item.evidence.as_of if item.evidence else None)
    return _md_table(["Figure", f"Baseline ({base_day})", f"Latest ({now_day})"], rows, numeric=frozenset({1, 2}))


def _md_test_first(content: ReportContent) -> list[str]:
    if not content.test_first:
        return ["_No hypothesis is waiting for a test._"]
    blocks = []
    for rank, item in enumerate(content.test_first[:FULL_HYPOTHESES], start=1):
        facts = [
            f"### {rank}. {markdown_text(item.statement)}",
            _md_hypothesis_head(item),
            f"- **Why:** {markdown_text(item.why) or '—'}",
            f"- **Ranked for:** {markdown_text('; '.join(item.rank_reasons)) or '—'} (score {item.rank_score:.1f})",
            f"- **Test plan:** {markdown_text(item.test_plan) or '—'}",
            f"- **Success criteria:** {markdown_text(item.criteria_text) or '—'}",
        ]
        blocks.append("\n\n".join([facts[0], facts[1], "\n".join(facts[2:])]))
        evidence = _md_evidence(item)
        if evidence:
            blocks.append(evidence)
        blocks += [_md_quote(quote) for quote in item.quotes[:HYPOTHESIS_QUOTES]]
    rest = content.test_first[FULL_HYPOTHESES:]
    if rest:
        rows = [
            [str(rank), markdown_text(item.statement), markdown_text(item.audience_label), f"{item.rank_score:.1f}",
             _md_code(item.hypothesis_id)]
            for rank, item in enumerate(rest, start=FULL_HYPOTHESES + 1)
        ]  # fmt: skip
        blocks.append("**Also worth testing**")
        blocks.append(_md_table(["#", "Statement", "Audience", "Score", "Id"], rows, numeric=frozenset({0, 3})))
    return blocks


def _md_under_test(content: ReportContent) -> list[str]:
    if not content.under_test:
        return [
            "_Nothing is under test. Start a test with_ "
            + _md_code("earshot hypotheses set-status ID testing --by NAME --why WHY")
            + "_._"
        ]
    blocks = []
    for item in content.under_test:
        lines = [
            f"- **Progress:** {progress_words(item)}",
            f"- **Time:** {days_left_words(item)}",
            f"- **Test plan:** {markdown_text(item.test_plan) or '—'}",
            f"- **Success criteria:** {markdown_text(item.criteria_text) or '—'}",
        ]
        if item.status_why:
            lines.append(f"- **Status:** {markdown_text(item.status_why)}")
        blocks += [f"### {markdown_text(item.statement)}", _md_hypothesis_head(item), "\n".join(lines)]
        if item.progress:
            rows = [
                [format_day(p.as_of), format_number(p.recent), f"{p.recent_per_week:.1f}", f"{p.vs_baseline:.1f}×"]
                for p in item.progress
            ]
            blocks.append(
                f"Against the baseline, run by run: {spark_text([p.vs_baseline for p in item.progress])}\n\n"
                + _md_table(["Measured", "Recent", "Per week", "× baseline"], rows, numeric=frozenset({1, 2, 3}))
            )
        blocks.append(_md_results(item))
    return blocks


def _md_results(item: HypothesisItem) -> str:
    if not item.results:
        return "_No test results recorded yet:_ " + _md_code(f"earshot hypotheses record {item.hypothesis_id} ...")
    return "\n".join(
        f"- {format_day(r.recorded_at)}: {markdown_text(result_words(r))}"
        + (f" ({markdown_text(r.note)})" if r.note else "")
        for r in item.results
    )


def _md_validated(content: ReportContent, root: str) -> list[str]:
    blocks = []
    if not content.validated:
        blocks.append("_No hypothesis has been validated yet._")
    for item in content.validated:
        decided = format_day(item.decided_at)
        brief = (
            _md_local_link("Open the sales brief", href)
            if (href := local_href(root, item.brief_href))
            else "brief not generated yet: " + _md_code(brief_command(item.hypothesis_id))
        )
        lines = [
            f"- **Status:** {markdown_text(status_name(item.status))} (decided {decided})"
            + (f": {markdown_text(item.status_why)}" if item.status_why else ""),
            f"- **Sales brief:** {brief}",
        ]
        blocks += [f"### {markdown_text(item.statement)}", _md_hypothesis_head(item), "\n".join(lines)]
        if item.results:
            blocks.append(_md_results(item))
    if content.closed:
        rows = [
            [markdown_text(item.statement), markdown_text(status_name(item.status)), format_day(item.decided_at),
             markdown_text(item.status_why) or "—"]
            for item in content.closed
        ]  # fmt: skip
        blocks += ["**Rejected and expired**", _md_table(["Statement", "Status", "Decided", "Why"], rows)]
    return blocks


def _md_rankings(content: ReportContent) -> list[str]:
    rankings = audience_rankings(content.themes)
    if not rankings:
        return ["_No trend figures for these themes yet._"]
    blocks = [markdown_text(_trend_note(content))]
    for ranking in rankings:
        rows = [
            [markdown_text(row.label), format_number(row.snapshot.recent),
             " ".join(f"{b.symbol} {b.text}" for b in trend_badges(row.snapshot)),
             significance(row.snapshot, content.alpha), row.spark_text or "—"]
            for row in ranking.rows
        ]  # fmt: skip
        table = _md_table(["Theme", "Recent", "Trend", "Significance", "Per period"], rows, numeric=frozenset({1}))
        more = f"\n\n_{count_of(ranking.more, 'more theme')} heard in this audience._" if ranking.more else ""
        blocks.append(f"**{markdown_text(ranking.name)}**\n\n{table}{more}")
    return blocks


def _trend_note(content: ReportContent) -> str:
    sample = next((t.overall for t in content.themes if t.overall), None)
    if sample is None:
        return ""
    return (
        f"Recent means the last {sample.recent_days} days, compared with the {sample.baseline_days} days before; "
        f"significant means an exact test at the {content.alpha:.0%} level."
    )


def _md_themes(content: ReportContent) -> list[str]:
    if not content.themes:
        return ["_No themes this run._"]
    return [_md_theme(rank, theme, content.alpha) for rank, theme in enumerate(content.themes, start=1)]


def _md_theme(rank: int, theme: ThemeView, alpha: float = 0.05) -> str:
    mix = " · ".join(
        f"{markdown_text(share.name)} {format_number(share.count)} ({share.percent_label})"
        for share in audience_shares(theme.audience_mix)
    )
    facts = [
        f"- **Volume:** {count_of(theme.volume, 'mention')} from {count_of(theme.sources, 'source')}",
        f"- **Keywords:** {', '.join(markdown_text(keyword) for keyword in theme.keywords) or '—'}",
        f"- **Audience mix:** {mix or '—'}",
    ]
    if theme.overall:
        badges = " ".join(f"{b.symbol} {b.text}" for b in trend_badges(theme.overall))
        facts.append(f"- **Trend:** {badges}: {trend_sentence(theme.overall, alpha)}")
        facts.append(f"- **Reach:** {spread_words(theme.overall)}; {echo_words(theme.overall, show=markdown_text)}")
    signals = " · ".join(f"{markdown_text(name)} {share}" for name, share in signal_shares(theme.signals))
    if signals:
        facts.append(f"- **Signals:** {signals}")
    view = volume_view(theme)
    if view:
        facts.append(f"- **Per {view.period}:** {view.spark} ({view.first} to {view.last}, peak {view.peak})")
    blocks = [f"### {rank}. {markdown_text(theme.label)}", "\n".join(facts)]
    if theme.by_audience:
        rows = [
            [markdown_text(audience_name(key)), format_number(s.recent), f"{s.baseline_per_week:.1f}",
             " ".join(f"{b.symbol} {b.text}" for b in trend_badges(s)), significance(s, alpha)]
            for key, s in ((share.key, snap) for share, snap in ordered_audiences(theme.by_audience))
        ]  # fmt: skip
        blocks.append(
            _md_table(["Audience", "Recent", "Before, per week", "Trend", "Significance"], rows, frozenset({1, 2}))
        )
    if view:
        rows = [[name, *map(format_number, counts), format_number(total)] for name, counts, total in view.rows]
        headers = ["Period", *(markdown_text(a.name) for a in view.audiences), "All (each mention once)"]
        blocks.append(_md_table(headers, rows, numeric=frozenset(range(1, len(headers)))))
    blocks += [_md_quote(quote) for quote in theme.quotes] or ["_No quotes._"]
    return "\n\n".join(blocks)


def _md_quote(quote: Quote) -> str:
    attribution = [
        markdown_text(quote.author) if quote.author else "",
        markdown_text(audience_name(quote.audience)),
        format_day(quote.published_at, missing=""),
        _md_link(f"source: {quote.source_id}", quote.url),
    ]
    return f"> {markdown_text(quote.text)}\n>\n> — {' · '.join(part for part in attribution if part)}"


def _md_changes(content: ReportContent) -> list[str]:
    changes = content.changes
    if changes is None:
        return ["_Not measured._"]
    blocks = [markdown_text(changes_intro(changes))]
    if changes.empty:
        return [*blocks, "_Nothing changed._"]
    lines = [f"- {markdown_text(line)}" for _, line in theme_change_lines(changes)]
    if lines:
        blocks.append("**Themes**\n\n" + "\n".join(lines))
    if changes.volume:
        rows = [
            [markdown_text(v.label), amount(v.before), amount(v.after), signed(v.delta), markdown_text(v.unit)]
            for v in changes.volume
        ]  # fmt: skip
        blocks.append(
            "**Biggest volume changes**\n\n"
            + _md_table(["Theme", "Before", "Now", "Change", "Counting"], rows, numeric=frozenset({1, 2, 3}))
        )
    if changes.new_hypotheses:
        blocks.append(
            "**New hypotheses**\n\n"
            + "\n".join(
                f"- {markdown_text(c.statement)} ({markdown_text(c.audience_label)}) {_md_code(c.hypothesis_id)}"
                for c in changes.new_hypotheses
            )
        )
    if changes.status_changes:
        blocks.append(
            "**Status changes**\n\n"
            + "\n".join(
                f"- {markdown_text(status_change_words(c))} {_md_code(c.hypothesis_id)}" for c in changes.status_changes
            )
        )
    if changes.new_alerts:
        blocks.append(
            "**New alerts**\n\n"
            + "\n".join(f"- {format_utc(a.raised_at)}: {markdown_text(a.message)}" for a in changes.new_alerts)
        )
    return blocks


def changes_intro(changes: Changes) -> str:
    if changes.previous_run_id:
        return f"Since the last report ({format_utc(changes.since)}, run {changes.previous_run_id})."
    return f"No earlier report: changes since {format_utc(changes.since)}."


def theme_change_lines(changes: Changes) -> list[tuple[str, str]]:
    """New, retired, merged and split themes, one plain line each, with its kind for styling."""
    words = {
        "new": lambda c: f"New theme: {c.label}",
        "retired": lambda c: f"Retired: {c.label} (its mentions no longer form a theme)",
        "merge": lambda c: f"Merged: {_listing(c.related)} into {c.label}",
        "split": lambda c: f"Split: {c.label} into {_listing(c.related)}",
    }
    return [
        (c.kind, words[c.kind](c)) if c.kind in words else ("other", f"{c.kind}: {c.label}") for c in changes.themes
    ]


def status_change_words(change: StatusChange) -> str:
    by = f" by {isolate(change.by)}" + (" (by hand)" if change.manual else "")
    move = f"{status_name(change.from_status or '—')} → {status_name(change.to_status)}"
    return (
        f"{format_day(change.at)}: {isolate(change.statement)} ({isolate(change.audience_label)}): {move}{by}; "
        f"{isolate(change.why)}"
    )


def progress_words(item: HypothesisItem) -> str:
    """Where a hypothesis under test stands against its baseline, in one sentence."""
    latest = item.latest
    base = item.baseline
    base_rate = f"{base.baseline_per_week:.1f}/week before it was proposed" if base else "its baseline"
    if latest is None:
        return f"not re-measured yet; the baseline is {base_rate}"
    return (
        f"latest ({format_day(latest.as_of)}): {count_of(latest.recent, 'mention')} recently, "
        f"{latest.recent_per_week:.1f}/week = {latest.vs_baseline:.1f}× the baseline ({base_rate})"
    )


def evidence_rows(item: HypothesisItem) -> list[tuple[str, str, str]]:
    """The evidence against the frozen baseline, figure by figure: (figure, at the baseline, latest)."""
    base, now = item.baseline, item.evidence or item.baseline
    if base is None or now is None:
        return []
    return [
        (f"Mentions in the last {now.recent_days} days", format_number(base.recent), format_number(now.recent)),
        ("Mentions per week, recent", f"{base.recent_per_week:.1f}", f"{now.recent_per_week:.1f}"),
        ("Mentions per week, the window before", f"{base.baseline_per_week:.1f}", f"{now.baseline_per_week:.1f}"),
        ("Trend", base.trend, now.trend),
        ("Share describing pain", percent(base.signals.get("pain")), percent(now.signals.get("pain"))),
        ("Share looking for a solution", percent(base.signals.get("solution_request")),
         percent(now.signals.get("solution_request"))),
        ("Share negative", percent(base.signals.get("negative")), percent(now.signals.get("negative"))),
        ("Influencer mentions", format_number(base.influencer_mentions), format_number(now.influencer_mentions)),
    ]  # fmt: skip


@dataclass(frozen=True)
class EvidenceFigure:
    """One figure of a hypothesis's evidence: its latest value and, when it moved, the baseline value."""

    name: str
    latest: str
    baseline: str | None


def evidence_figures(item: HypothesisItem) -> tuple[str, list[EvidenceFigure]]:
    """The evidence as a caption and a strip of figures: the latest values, each with its baseline value when
    the hypothesis has been re-measured since it was proposed (a fresh proposal is its own baseline)."""
    rows = evidence_rows(item)
    if not rows:
        return "", []
    base_day = format_day(item.baseline.as_of if item.baseline else None)
    now_day = format_day(item.evidence.as_of if item.evidence else None)
    moved = any(base != now for _, base, now in rows)
    caption = f"baseline {base_day} → latest {now_day}" if moved else f"at proposal, {base_day} (the baseline)"
    short = {
        "Mentions per week, recent": "Per week now",
        "Mentions per week, the window before": "Per week before",
        "Share describing pain": "Pain",
        "Share looking for a solution": "Looking for a solution",
        "Share negative": "Negative",
    }
    figures = [
        EvidenceFigure(short.get(name, name), now, base if moved and base != now else None) for name, base, now in rows
    ]
    return caption, figures


def _listing(items: list[str]) -> str:
    items = [isolate(item) for item in items]
    if len(items) <= 1:
        return "".join(items) or "—"
    return ", ".join(items[:-1]) + " and " + items[-1]


def amount(value: float) -> str:
    """``12`` or ``3.5``: whole counts without decimals, rates with one."""
    return format_number(int(value)) if float(value).is_integer() else f"{value:,.1f}"


def signed(value: float) -> str:
    """``+12`` / ``-3.5``: a change with its direction."""
    return f"{value:+,.0f}" if float(value).is_integer() else f"{value:+,.1f}"


def local_href(root: str, path: str | None) -> str | None:
    """``root + path`` for a file earshot wrote under the reports folder; None for anything else."""
    if not path:
        return None
    href = root + path
    return href if _LOCAL_PATH.fullmatch(href) else None


def ordered_audiences(by_audience: dict[str, Snapshot]) -> list[tuple[AudienceShare, Snapshot]]:
    """A theme's per-audience snapshots in the report's audience order, with each audience's colour."""
    return [(share, by_audience[share.key]) for share in audience_shares(dict.fromkeys(by_audience, 1))]


def _md_sources(sources: list[SourceHealth]) -> str:
    if not sources:
        return "_No sources configured._"
    headers = [
        "Source",
        "Kind",
        "Audience",
        "Status",
        "Items last run",
        "Total mentions",
        "Consecutive failures",
        "Last success",
        "Last error",
    ]
    return _md_table(headers, [_md_source_row(source) for source in sources], numeric=frozenset({4, 5, 6}))


def _md_source_row(source: SourceHealth) -> list[str]:
    return [
        markdown_text(source.source_id),
        markdown_text(source.kind),
        markdown_text(audience_name(source.audience)),
        f"{status_style(source.status).symbol} {markdown_text(source.status)}",
        format_number(source.items_last_run),
        format_number(source.mentions_total),
        format_number(source.consecutive_failures),
        format_utc(source.last_success_at, missing="never"),
        markdown_text(source.last_error) if source.last_error else "—",
    ]


def _md_alerts(alerts: list[Alert]) -> list[str]:
    if not alerts:
        return []
    lines = [f"- {format_utc(a.raised_at)} · {markdown_text(a.kind)}: {markdown_text(a.message)}" for a in alerts]
    return ["**Open alerts**\n\n" + "\n".join(lines)]


# --- Files ------------------------------------------------------------------------------------------


def write_report(content: ReportContent, folder: Path) -> tuple[Path, Path]:
    """Write ``<folder>/<run>/report.{html,md}`` and its ``summary.json``, refresh ``<folder>/latest.{html,md}``,
    and rewrite the archive index (``<folder>/index.{html,md}``) listing every report.

    Everything is rendered before anything is written, so a rendering error leaves the previous report in
    place; each file is replaced atomically, so readers never see half a report.

    Returns:
        The per-run HTML and Markdown paths.
    """
    from reports.archive import summary_of, write_index

    run_html, run_markdown = render_html(content, root="../"), render_markdown(content, root="../")
    latest_html, latest_markdown = render_html(content, root=""), render_markdown(content, root="")
    summary = json.dumps(summary_of(content), indent=2, ensure_ascii=False) + "\n"
    run_folder = folder / safe_run_id(content.run_id)
    run_folder.mkdir(parents=True, exist_ok=True)
    html_path, markdown_path = run_folder / "report.html", run_folder / "report.md"
    for path, text in [
        (html_path, run_html),
        (markdown_path, run_markdown),
        (run_folder / "summary.json", summary),
        (folder / "latest.html", latest_html),
        (folder / "latest.md", latest_markdown),
    ]:
        write_atomically(path, text)
    write_index(folder)
    return html_path, markdown_path


def write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file beside ``path``, then rename it over ``path`` (atomic on one filesystem)."""
    handle, temporary_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(temporary_name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        temporary.chmod(0o644)  # mkstemp creates 0600; a report is meant to be read by others
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


_write_atomically = write_atomically  # the name other modules imported before it was public
