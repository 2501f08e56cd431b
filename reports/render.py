"""Render a :class:`~reports.content.ReportContent` as a self-contained HTML page and a Markdown twin.

Everything that came from the web (quotes, authors, keywords, labels, URLs, source ids, error messages)
is treated as hostile: HTML goes through Jinja2 autoescaping, Markdown through :func:`markdown_text`,
and links are emitted only for http(s) URLs (:func:`safe_url`). Both formats use the same helpers, so
they say the same thing.
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
import unicodedata
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from reports.content import Quote, ReportContent, SourceHealth, ThemeView

TEMPLATES = Path(__file__).parent / "templates"

AUDIENCE_NAMES: dict[str, str] = {
    "customers": "Customers",
    "customers_customers": "Customers' customers",
    "influencers": "Influencers",
    "competitors": "Competitors",
}
_AUDIENCE_ORDER = {key: index for index, key in enumerate(AUDIENCE_NAMES)}
_EXTRA_COLOUR_SLOTS = 3  # stylesheet colours shared by audiences not in AUDIENCE_NAMES

_RESERVED_RUN_FOLDERS = {"", ".", "..", "latest.html", "latest.md"}
_UNSAFE_PATH_CHARS = re.compile(r"[^A-Za-z0-9_.-]")

_URL_EDGE_JUNK = re.compile(r"^[\s\x00-\x20\x7f-\x9f]+|[\s\x00-\x20\x7f-\x9f]+$")
_URL_TAB_NEWLINE = re.compile(r"[\t\n\r]")
_WEB_URL = re.compile(r"https?://[^\s/?#\\]", re.IGNORECASE)

_MD_HTML_CHARS = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|~])")
_MD_ORDERED_LIST_START = re.compile(r"^(\d+)\.")
_MD_URL_UNSAFE = re.compile(r"[\s()<>\\`\x00-\x1f\x7f]")


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
    """A run id usable as one folder name: no separators, no ``..``, no clash with the latest copies."""
    safe = _UNSAFE_PATH_CHARS.sub("_", run_id)
    return f"run_{safe}" if safe in _RESERVED_RUN_FOLDERS else safe


# --- HTML -------------------------------------------------------------------------------------------


def render_html(content: ReportContent) -> str:
    """One self-contained HTML5 page: inline CSS, no scripts, no external requests.

    It opens offline, prints cleanly and is safe to mail around; a Content-Security-Policy in the page
    backs up the escaping should a browser ever be tricked into seeing markup in scraped text.
    """
    return _environment().get_template("report.html.j2").render(content=content)


@functools.cache
def _environment() -> Environment:
    """Built once: autoescaping everywhere, and undefined names fail loudly instead of rendering empty."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        audience=audience_name,
        utc=format_utc,
        day=format_day,
        num=format_number,
        safe_url=safe_url,
    )
    environment.globals.update(
        shares=audience_shares, count_of=count_of, status_style=status_style, signal_shares=signal_shares
    )
    return environment


# --- Markdown ---------------------------------------------------------------------------------------


def render_markdown(content: ReportContent) -> str:
    """The same report in GitHub-flavoured Markdown, for wikis, tickets and chat."""
    blocks = [
        f"# {markdown_text(content.title)}",
        _md_facts(content),
        *_md_failing(content.sources),
        "## Summary",
        _md_summary(content),
        "## Themes by volume",
        *_md_themes(content.themes),
        "## Source health",
        _md_sources(content.sources),
    ]
    return "\n\n".join(blocks) + "\n"


def markdown_text(text: str) -> str:
    """Scraped text as inert inline Markdown: one line, no emphasis, links, headings or raw HTML."""
    one_line = " ".join(text.split())
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
        ("Run", markdown_text(content.run_id)),
        ("Generated", format_utc(content.generated_at)),
        ("Embedding model", markdown_text(content.embedding_model) or "—"),
    ]
    return "\n".join(f"- **{name}:** {value}" for name, value in facts)


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
    rows += [
        [markdown_text(share.name), f"{format_number(share.count)} ({share.percent_label})"]
        for share in audience_shares(content.mentions_by_audience)
    ]
    rows += [
        ["Themes", format_number(len(content.themes))],
        ["Unassigned mentions", format_number(content.unassigned)],
    ]
    return _md_table(["Measure", "Value"], rows, numeric=frozenset({1}))


def _md_themes(themes: list[ThemeView]) -> list[str]:
    if not themes:
        return ["_No themes this run._"]
    return [_md_theme(rank, theme) for rank, theme in enumerate(themes, start=1)]


def _md_theme(rank: int, theme: ThemeView) -> str:
    mix = " · ".join(
        f"{markdown_text(share.name)} {format_number(share.count)} ({share.percent_label})"
        for share in audience_shares(theme.audience_mix)
    )
    facts = [
        f"- **Volume:** {count_of(theme.volume, 'mention')} from {count_of(theme.sources, 'source')}",
        f"- **Keywords:** {', '.join(markdown_text(keyword) for keyword in theme.keywords) or '—'}",
        f"- **Audience mix:** {mix or '—'}",
    ]
    signals = " · ".join(f"{markdown_text(name)} {share}" for name, share in signal_shares(theme.signals))
    if signals:
        facts.append(f"- **Signals:** {signals}")
    quotes = [_md_quote(quote) for quote in theme.quotes] or ["_No quotes._"]
    return "\n\n".join([f"### {rank}. {markdown_text(theme.label)}", "\n".join(facts), *quotes])


def _md_quote(quote: Quote) -> str:
    attribution = [
        markdown_text(quote.author) if quote.author else "",
        markdown_text(audience_name(quote.audience)),
        format_day(quote.published_at, missing=""),
        _md_link(f"source: {quote.source_id}", quote.url),
    ]
    return f"> {markdown_text(quote.text)}\n>\n> — {' · '.join(part for part in attribution if part)}"


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


# --- Files ------------------------------------------------------------------------------------------


def write_report(content: ReportContent, folder: Path) -> tuple[Path, Path]:
    """Write ``<folder>/<run>/report.{html,md}`` and refresh ``<folder>/latest.{html,md}``.

    Both formats are rendered before anything is written, so a rendering error leaves the previous
    report in place; each file is replaced atomically, so readers never see half a report.

    Returns:
        The per-run HTML and Markdown paths.
    """
    html, markdown = render_html(content), render_markdown(content)
    run_folder = folder / safe_run_id(content.run_id)
    run_folder.mkdir(parents=True, exist_ok=True)
    html_path, markdown_path = run_folder / "report.html", run_folder / "report.md"
    for path, text in [
        (html_path, html),
        (markdown_path, markdown),
        (folder / "latest.html", html),
        (folder / "latest.md", markdown),
    ]:
        _write_atomically(path, text)
    return html_path, markdown_path


def _write_atomically(path: Path, text: str) -> None:
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
