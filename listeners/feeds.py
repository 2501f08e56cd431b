"""RSS and Atom feeds: bytes in, mentions out.

feedparser never raises on bad input; it sets ``bozo``. A malformed feed that still yields entries is
loaded with a warning; one that yields nothing is an error for that source. Bytes are always fetched
by us and handed over as bytes, so feedparser never treats untrusted text as a path or URL, and never
sees a DTD's entity declarations (:mod:`listeners.defuse_xml`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import feedparser

from listeners import http
from listeners.base import Fetched, FetchSettings, Parsed, Payload
from listeners.defuse_xml import defuse
from listeners.errors import ErrorKind, SourceError
from listeners.mention import Mention, make_mention, stable_id
from listeners.text import excerpt, html_to_text
from listeners.timestamps import from_struct

if TYPE_CHECKING:
    from earshot.config import FeedSource

ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1"


def _timestamp(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        when = from_struct(entry.get(key)) if entry.get(key) else None
        if when is not None:
            return when
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
    return make_mention(
        mention_id=stable_id(source_id, key),
        source_id=source_id,
        audience=audience,
        url=link,
        author=author,
        title=title,
        text=text or title,
        published_at=_timestamp(entry),
        kind="article",
    )


def parse_feed(source_id: str, audience: str, body: bytes, headers: dict[str, str] | None = None) -> Parsed:
    """Parse a fetched feed; raise :class:`SourceError` when nothing usable came back."""
    body, safe_headers, defused = defuse(body, headers or {})
    parsed = feedparser.parse(body, response_headers=safe_headers)
    entries = parsed.get("entries", [])
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if not entries:
        if _looks_like_html_page(body):
            raise SourceError(source_id, ErrorKind.NOT_A_FEED, "the URL returned an HTML page, not a feed")
        if problem is not None:
            reason = f"{defused}; " if defused else ""
            raise SourceError(source_id, ErrorKind.MALFORMED, f"unreadable feed: {reason}{excerpt(str(problem), 200)}")
        if not parsed.get("version"):
            raise SourceError(source_id, ErrorKind.NOT_A_FEED, "the response is not RSS or Atom")
    mentions, skipped = [], 0
    for entry in entries:
        mention = entry_to_mention(entry, source_id, audience)
        if mention is None:
            skipped += 1
        else:
            mentions.append(mention)
    warning = defused
    if problem is not None:
        note = f"malformed feed, loaded {len(mentions)} entries anyway: {excerpt(str(problem), 200)}"
        warning = f"{warning}; {note}" if warning else note
    if skipped:
        note = f"{skipped} entries without any text were skipped"
        warning = f"{warning}; {note}" if warning else note
    return Parsed(mentions=mentions, warning=warning, skipped=skipped)


class FeedListener:
    """RSS/Atom over HTTP with conditional GET; the cursor holds the ETag and Last-Modified."""

    def fetch(self, source: FeedSource, cursor: Mapping[str, Any] | None, settings: FetchSettings) -> Fetched:
        cursor = cursor or {}
        response = http.fetch(
            source.id,
            source.url,
            settings,
            etag=cursor.get("etag"),
            last_modified=cursor.get("last_modified"),
            accept=ACCEPT,
        )
        validators = {"etag": response.etag, "last_modified": response.last_modified}
        new_cursor = {k: v for k, v in validators.items() if v} or None
        if response.not_modified:
            return Fetched(payloads=[], cursor=None, http_status=304, not_modified=True)
        meta = {"url": response.url, "status": response.status, "headers": response.headers}
        return Fetched(payloads=[Payload(response.body, meta)], cursor=new_cursor, http_status=response.status)

    def parse(self, source: FeedSource, payload: Payload) -> Parsed:
        return parse_feed(source.id, source.audience.value, payload.body, payload.meta.get("headers") or {})
