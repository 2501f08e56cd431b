"""What a report says, as plain data: built from the warehouse, rendered to HTML and Markdown.

Keeping the content separate from rendering lets both formats say the same thing and lets tests
check the content without parsing HTML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Quote:
    """A representative mention, linked to where it was said. All text is scraped: never trusted."""

    text: str
    url: str | None
    source_id: str
    audience: str
    author: str | None = None
    published_at: datetime | None = None


@dataclass(frozen=True)
class ThemeView:
    theme_id: str
    label: str
    keywords: list[str]
    volume: int
    audience_mix: dict[str, int]
    quotes: list[Quote]
    sources: int = 0
    signals: dict[str, float] = field(default_factory=dict)  # shares 0..1: "negative", "pain", "pricing"...


@dataclass(frozen=True)
class SourceHealth:
    source_id: str
    kind: str
    audience: str
    status: str  # "ok" | "warning" | "error" | "never fetched"
    items_last_run: int
    mentions_total: int
    consecutive_failures: int
    last_success_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class ReportContent:
    run_id: str
    generated_at: datetime
    title: str
    company: str
    offer: str
    total_mentions: int
    mentions_by_audience: dict[str, int]
    themes: list[ThemeView]
    unassigned: int
    sources: list[SourceHealth] = field(default_factory=list)
    embedding_model: str = ""
