"""App Store customer reviews through Apple's public customer-reviews feed (its JSON flavour).

The feed is sorted most recent first and paged (``page=1..10``). The cursor remembers the newest
review seen, so the next run stops paging at the first page that reaches it; that page is sent
again whole, and its older reviews upsert onto themselves.

The JSON is a mechanical rendering of Atom: every value sits under ``label``, a page with a single
review carries an object instead of a list, a page past the last carries no ``entry`` at all, and
older feeds put the app itself first, as an entry without a rating.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from listeners import http
from listeners.base import Fetched, FetchSettings, Parsed, Payload
from listeners.errors import ErrorKind, SourceError
from listeners.json_input import JsonRejected, load_json
from listeners.mention import Mention, make_mention, stable_id
from listeners.timestamps import from_iso

if TYPE_CHECKING:
    from earshot.config import AppStoreSource

APP_PAGE = "https://apps.apple.com/{country}/app/id{app_id}"


def reviews_url(source: AppStoreSource, page: int) -> str:
    return (
        f"{source.base_url}/{source.country}/rss/customerreviews/page={page}/id={source.app_id}/sortby=mostrecent/json"
    )


def _label(node: Any, *path: str) -> str:
    """The ``label`` at ``path`` (e.g. ``"author", "name"``), or "" when any step is missing."""
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, list):  # a repeated element (several links, contents): the first is the plain one
            node = node[0] if node else None
    label = node.get("label") if isinstance(node, dict) else None
    return label.strip() if isinstance(label, str) else ""


def review_entries(source_id: str, body: bytes) -> list[dict[str, Any]]:
    """The reviews on one page, app metadata dropped; shared by fetch (to page) and parse."""
    if body.lstrip()[:1] == b"<":
        raise SourceError(source_id, ErrorKind.NOT_A_FEED, "the URL returned an HTML/XML page, not the JSON reviews")
    try:
        data = load_json(body)
    except JsonRejected as exc:
        raise SourceError(source_id, ErrorKind.MALFORMED, f"reviews page is {exc}") from None
    feed = data.get("feed") if isinstance(data, dict) else None
    if not isinstance(feed, dict):
        raise SourceError(source_id, ErrorKind.MALFORMED, "reviews page has no 'feed' object")
    entries = feed.get("entry", [])
    entries = [entries] if isinstance(entries, dict) else entries
    if not isinstance(entries, list):
        raise SourceError(source_id, ErrorKind.MALFORMED, "reviews page has an unreadable 'entry'")
    return [e for e in entries if isinstance(e, dict) and "im:rating" in e]


def _updated(entry: Mapping[str, Any]) -> datetime | None:
    return from_iso(_label(entry, "updated"))


def _rating(entry: Mapping[str, Any]) -> float | None:
    try:
        return float(_label(entry, "im:rating"))  # make_mention drops what is not finite
    except ValueError:
        return None


def _link(entry: Mapping[str, Any]) -> str | None:
    links = entry.get("link")
    for link in links if isinstance(links, list) else [links]:
        attributes = link.get("attributes") if isinstance(link, dict) else None
        href = attributes.get("href") if isinstance(attributes, dict) else None
        if isinstance(href, str) and href:
            return href
    return None


def entry_to_mention(entry: Mapping[str, Any], source: AppStoreSource) -> Mention | None:
    """One review as a mention; ``None`` without an id or any text."""
    review_id, title, text = _label(entry, "id"), _label(entry, "title"), _label(entry, "content")
    if not review_id or not (title or text):
        return None
    return make_mention(
        mention_id=stable_id(source.id, review_id),
        source_id=source.id,
        audience=source.audience.value,
        url=_link(entry) or APP_PAGE.format(country=source.country, app_id=source.app_id),
        author=_label(entry, "author", "name") or None,
        title=title,
        text=text or title,
        published_at=_updated(entry),
        kind="review",
        rating=_rating(entry),
    )


def _reached(entries: list[dict[str, Any]], cursor: Mapping[str, Any]) -> bool:
    """Whether a page reaches what the last run saw: its newest review, or anything no newer than it."""
    if cursor.get("newest_id") in {_label(e, "id") for e in entries}:
        return True
    mark = from_iso(cursor.get("newest_updated"))
    return mark is not None and any(when is not None and when <= mark for when in map(_updated, entries))


class AppStoreListener:
    """Pages 1..``pages`` of one app's reviews in one country, stopping early at the last run's newest."""

    def fetch(self, source: AppStoreSource, cursor: Mapping[str, Any] | None, settings: FetchSettings) -> Fetched:
        settings = settings.begun()  # one deadline and byte budget for every page
        cursor = cursor or {}
        payloads: list[Payload] = []
        newest: dict[str, Any] | None = None
        for page in range(1, source.pages + 1):
            response = http.fetch(
                source.id,
                reviews_url(source, page),
                settings,
                accept="application/json",
            )
            entries = review_entries(source.id, response.body)
            payloads.append(Payload(response.body, {"url": response.url, "page": page, "status": response.status}))
            newest = newest or (entries[0] if entries else None)
            if not entries or _reached(entries, cursor):
                break
        new_cursor = (
            {"newest_id": _label(newest, "id"), "newest_updated": _label(newest, "updated")} if newest else None
        )
        return Fetched(payloads, cursor=new_cursor, http_status=payloads[-1].meta["status"])

    def parse(self, source: AppStoreSource, payload: Payload) -> Parsed:
        entries = review_entries(source.id, payload.body)
        mentions = [m for m in (entry_to_mention(e, source) for e in entries) if m is not None]
        skipped = len(entries) - len(mentions)
        page = payload.meta.get("page", "?")
        warning = f"page {page}: {skipped} reviews without id or text were skipped" if skipped else None
        return Parsed(mentions=mentions, warning=warning, skipped=skipped)
