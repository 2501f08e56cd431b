"""RSS and Atom feeds: bytes in, mentions out.

feedparser never raises on bad input; it sets ``bozo``. A malformed feed that still yields entries is
loaded with a warning; one that yields nothing is an error for that source. Bytes are always fetched
by us and handed over as bytes, so feedparser never treats untrusted text as a path or URL.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import feedparser

from listeners.errors import ErrorKind, SourceError
from listeners.mention import Mention, content_hash, stable_id
from listeners.text import html_to_text

ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1"


@dataclass(frozen=True)
class ParsedFeed:
    mentions: list[Mention]
    warning: str | None = None
    skipped: int = 0


def _timestamp(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    return None


def _body(entry: Any) -> str:
    """The fullest text an entry carries: content beats summary."""
    candidates = [c.get("value", "") for c in entry.get("content", []) or []]
    candidates.append(entry.get("summary", "") or "")
    return max((html_to_text(c) for c in candidates), key=len, default="")


def _looks_like_html_page(body: bytes) -> bool:
    head = body[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:512]


def entry_to_mention(entry: Any, source_id: str, audience: str) -> Mention | None:
    """One feed entry as a mention, or ``None`` when it carries no text at all."""
    title = html_to_text(entry.get("title", ""))
    text = _body(entry)
    if not title and not text:
        return None
    link = entry.get("link") or None
    key = entry.get("id") or link or stable_id(title, text[:200])
    author = html_to_text(entry.get("author", "")) or None
    mention = Mention(
        mention_id=stable_id(source_id, key),
        source_id=source_id,
        audience=audience,
        url=link,
        author=author,
        title=title,
        text=text or title,
        published_at=_timestamp(entry),
        content_hash="",
    )
    return _with_hash(mention)


def _with_hash(mention: Mention) -> Mention:
    return replace(mention, content_hash=content_hash(mention.body))


def parse_feed(source_id: str, audience: str, body: bytes, headers: dict[str, str] | None = None) -> ParsedFeed:
    """Parse a fetched feed; raise :class:`SourceError` when nothing usable came back."""
    parsed = feedparser.parse(body, response_headers=headers or {})
    entries = parsed.get("entries", [])
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if not entries:
        if _looks_like_html_page(body):
            raise SourceError(source_id, ErrorKind.NOT_A_FEED, "the URL returned an HTML page, not a feed")
        if problem is not None:
            raise SourceError(source_id, ErrorKind.MALFORMED, f"unreadable feed: {problem}")
        if not parsed.get("version"):
            raise SourceError(source_id, ErrorKind.NOT_A_FEED, "the response is not RSS or Atom")
    mentions, skipped = [], 0
    for entry in entries:
        mention = entry_to_mention(entry, source_id, audience)
        if mention is None:
            skipped += 1
        else:
            mentions.append(mention)
    warning = None
    if problem is not None:
        warning = f"malformed feed, loaded {len(mentions)} entries anyway: {problem}"
    if skipped:
        note = f"{skipped} entries without any text were skipped"
        warning = f"{warning}; {note}" if warning else note
    return ParsedFeed(mentions=mentions, warning=warning, skipped=skipped)
