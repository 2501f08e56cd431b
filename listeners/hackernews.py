"""Hacker News stories and comments through the public Algolia search API.

``search_by_date`` returns matches newest first, so each query keeps a high-water mark (the newest
``created_at_i`` seen) and the next run asks only for items at or after it. The boundary second is
asked for again on purpose: items posted in the same second as the mark are not lost, and the
re-sent ones upsert onto themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from listeners import http
from listeners.base import Fetched, FetchSettings, Parsed, Payload
from listeners.errors import ErrorKind, SourceError
from listeners.json_input import JsonRejected, load_json
from listeners.mention import Mention, make_mention, stable_id
from listeners.text import html_to_text
from listeners.timestamps import from_epoch

if TYPE_CHECKING:
    from earshot.config import HackerNewsSource

ITEM_URL = "https://news.ycombinator.com/item?id={}"


def search_url(source: HackerNewsSource, query: str, since: int | None, page: int) -> str:
    """The search URL for one page of one query; ``since`` is the stored high-water mark, if any."""
    tags = source.tags[0] if len(source.tags) == 1 else f"({','.join(source.tags)})"
    params: dict[str, str | int] = {"query": query, "tags": tags}
    if since is not None:
        params["numericFilters"] = f"created_at_i>={since}"
    params |= {"hitsPerPage": source.hits_per_page, "page": page}
    return f"{source.base_url}/search_by_date?{urlencode(params)}"


def decode_page(source_id: str, query: str, body: bytes) -> dict[str, Any]:
    """The JSON of one search page; shared by fetch (to page) and parse (to read hits)."""
    try:
        data = load_json(body)
    except JsonRejected as exc:
        raise SourceError(source_id, ErrorKind.MALFORMED, f"query {query!r}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("hits"), list):
        raise SourceError(source_id, ErrorKind.MALFORMED, f"query {query!r}: the answer has no 'hits' list")
    return data


def _stamp(hit: Mapping[str, Any]) -> int | None:
    """``created_at_i`` when it is a time at all (an integer a datetime can hold), else ``None``."""
    stamp = hit.get("created_at_i")
    return stamp if isinstance(stamp, int) and from_epoch(stamp) is not None else None


def _published(hit: Mapping[str, Any]) -> datetime | None:
    return from_epoch(_stamp(hit))


def _str(value: Any) -> str:
    """Text fields are strings; anything else (a list, a number, an object) counts as absent."""
    return value if isinstance(value, str) else ""


def _id(value: Any) -> str:
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""


def _comment_fields(hit: Mapping[str, Any], source_id: str, object_id: str) -> dict[str, Any]:
    story_id = _id(hit.get("story_id"))
    return {
        "kind": "comment",
        "url": ITEM_URL.format(object_id),
        "title": "",
        "text": html_to_text(_str(hit.get("comment_text"))),
        "parent_id": stable_id(source_id, story_id) if story_id else None,
    }


def _story_fields(hit: Mapping[str, Any], object_id: str) -> dict[str, Any]:
    title = _str(hit.get("title")).strip()  # plain text, unlike story_text: "<template>" is a word here
    return {
        "kind": "post",
        "url": _str(hit.get("url")) or ITEM_URL.format(object_id),
        "title": title,
        "text": html_to_text(_str(hit.get("story_text"))) or title,
        "score": hit.get("points"),  # make_mention keeps only an integer that fits
        "comments": hit.get("num_comments"),
    }


def hit_to_mention(hit: Mapping[str, Any], source_id: str, audience: str) -> Mention | None:
    """One search hit as a story ("post") or comment mention; ``None`` without an id or any text."""
    object_id = _id(hit.get("objectID"))
    tags = hit.get("_tags")
    is_comment = hit.get("comment_text") is not None or (isinstance(tags, list) and "comment" in tags)
    fields = _comment_fields(hit, source_id, object_id) if is_comment else _story_fields(hit, object_id)
    if not object_id or not fields["text"]:
        return None
    return make_mention(
        mention_id=stable_id(source_id, object_id),
        source_id=source_id,
        audience=audience,
        author=_str(hit.get("author")) or None,
        published_at=_published(hit),
        **fields,
    )


def _newest(hits: list[Any], current: int | None) -> int | None:
    """The high-water mark after a page: the newest ``created_at_i`` seen so far."""
    stamps = [stamp for stamp in (_stamp(h) for h in hits if isinstance(h, dict)) if stamp is not None]
    if current is not None:
        stamps.append(current)
    return max(stamps, default=None)


class HackerNewsListener:
    """Pages through ``search_by_date`` per query; the cursor keeps each query's high-water mark."""

    def fetch(self, source: HackerNewsSource, cursor: Mapping[str, Any] | None, settings: FetchSettings) -> Fetched:
        settings = settings.begun()  # one deadline and byte budget for every query and page
        stored = (cursor or {}).get("queries") or {}
        payloads: list[Payload] = []
        warnings: list[str] = []
        marks: dict[str, dict[str, int]] = {}
        for query in source.queries:
            since = (stored.get(query) or {}).get("created_at_i")
            pages, newest, warning = self._fetch_query(source, query, since, settings)
            payloads.extend(pages)
            warnings.extend([warning] if warning else [])
            if newest is not None:
                marks[query] = {"created_at_i": newest}
        status = payloads[-1].meta["status"] if payloads else None
        return Fetched(payloads, cursor={"queries": marks} if marks else None, http_status=status, warnings=warnings)

    def _fetch_query(
        self, source: HackerNewsSource, query: str, since: int | None, settings: FetchSettings
    ) -> tuple[list[Payload], int | None, str | None]:
        """All pages of one query, newest first, until ``nbPages`` or ``max_pages``; then the new mark."""
        payloads: list[Payload] = []
        newest, total = since, 0
        for page in range(source.max_pages):
            url = search_url(source, query, since, page)
            response = http.fetch(
                source.id,
                url,
                settings,
                accept="application/json",
            )
            data = decode_page(source.id, query, response.body)
            meta = {"url": response.url, "query": query, "page": page, "status": response.status}
            payloads.append(Payload(response.body, meta))
            newest = _newest(data["hits"], newest)
            total = data.get("nbPages") if isinstance(data.get("nbPages"), int) else 0
            if not data["hits"] or page + 1 >= total:
                return payloads, newest, None
        # Newest first: the pages left are older than what we kept, and the mark now moves past them.
        warning = f"query {query!r}: stopped at max_pages={source.max_pages} of {total} pages; older matches skipped"
        return payloads, newest, warning

    def parse(self, source: HackerNewsSource, payload: Payload) -> Parsed:
        query = str(payload.meta.get("query", "?"))
        hits = decode_page(source.id, query, payload.body)["hits"]
        mentions: list[Mention] = []
        for hit in hits:
            mention = hit_to_mention(hit, source.id, source.audience.value) if isinstance(hit, dict) else None
            if mention is not None:
                mentions.append(mention)
        skipped = len(hits) - len(mentions)
        warning = f"query {query!r}: {skipped} hits without id or text were skipped" if skipped else None
        return Parsed(mentions=mentions, warning=warning, skipped=skipped)
