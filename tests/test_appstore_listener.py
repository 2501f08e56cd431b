"""App Store reviews listener over loopback: entry shapes, paging, early stop on the cursor, faults."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from earshot.config import AppStoreSource
from listeners.appstore import AppStoreListener
from listeners.base import FetchSettings, Payload
from listeners.errors import ErrorKind, SourceError
from listeners.mention import stable_id
from tests.conftest import LoopbackServer, Reply

FIXTURE = Path(__file__).parent / "fixtures" / "appstore" / "customerreviews_page1.json"
SETTINGS = FetchSettings(timeout=2.0, max_bytes=1_000_000, user_agent="earshot-test/1.0")
APP = "123456789"


def make_source(base_url: str = "https://itunes.apple.com", **overrides: Any) -> AppStoreSource:
    fields = {"kind": "appstore", "id": "acme-ios", "audience": "customers", "app_id": APP, "country": "gb"}
    return AppStoreSource(**(fields | {"base_url": base_url} | overrides))


def page_path(page: int, country: str = "gb") -> str:
    return f"/{country}/rss/customerreviews/page={page}/id={APP}/sortby=mostrecent/json"


def review(n: int, day: int) -> dict[str, Any]:
    return {
        "author": {"name": {"label": f"user{n}"}, "uri": {"label": f"https://itunes.apple.com/gb/reviews/id{n}"}},
        "updated": {"label": f"2026-11-{day:02d}T10:00:00-07:00"},
        "im:rating": {"label": str(1 + n % 5)},
        "im:version": {"label": "5.4.1"},
        "id": {"label": str(10_000 + n)},
        "title": {"label": f"Review {n}"},
        "content": {"label": f"Text of review {n}", "attributes": {"type": "text"}},
    }


def feed(entries: Any) -> bytes:
    body: dict[str, Any] = {"title": {"label": "iTunes Store: Customer Reviews"}}
    if entries is not None:
        body["entry"] = entries
    return json.dumps({"feed": body}).encode()


def serve(server: LoopbackServer, pages: list[list[dict[str, Any]]]) -> None:
    """Pages of reviews, newest first; the page after the last carries no entries, as Apple's does."""
    for number, entries in enumerate([*pages, []], start=1):
        server.routes[page_path(number)] = Reply(200, feed(entries or None), {"Content-Type": "application/json"})


def review_ids(listener: AppStoreListener, source: AppStoreSource, payloads: list[Payload]) -> list[str]:
    return [m.mention_id for p in payloads for m in listener.parse(source, p).mentions]


def test_parse_recorded_page_skips_app_metadata_and_maps_reviews() -> None:
    source = make_source(country="us")
    parsed = AppStoreListener().parse(source, Payload(FIXTURE.read_bytes(), {"page": 1}))
    assert [m.rating for m in parsed.mentions] == [2.0, 5.0, 3.0]  # the app's own entry is gone
    first, second, untitled = parsed.mentions
    assert first.mention_id == stable_id("acme-ios", "11223344556")
    assert (first.kind, first.author, first.title) == ("review", "busy_owner", "Sync keeps failing")
    assert first.text == "Since the last update my contacts don't sync & I lose notes."
    assert first.published_at == datetime(2026, 11, 10, 15, 12, tzinfo=UTC)
    assert first.url == "https://itunes.apple.com/us/review?id=123456789&type=Purple%20Software"
    assert second.text == "Pipeline view is great. <3 the mobile widget."  # plain text: not run through HTML
    assert second.published_at == datetime(2026, 11, 10, 6, 40, 10, tzinfo=UTC)
    assert untitled.text == "ok" and untitled.url == "https://apps.apple.com/us/app/id123456789"
    assert (parsed.warning, parsed.skipped) == (None, 0)


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (review(1, 9), [stable_id("acme-ios", "10001")]),  # a single review: an object, not a list
        (None, []),  # no reviews at all: no "entry"
        ([], []),
        ([{"im:name": {"label": "Acme"}, "id": {"label": APP}}], []),  # only the app's metadata
    ],
)
def test_entry_shapes(entries: Any, expected: list[str]) -> None:
    source = make_source()
    assert review_ids(AppStoreListener(), source, [Payload(feed(entries), {"page": 1})]) == expected


def test_reviews_without_id_or_text_are_skipped_and_counted() -> None:
    empty = review(2, 9) | {"title": {"label": ""}, "content": {"label": ""}}
    no_id = {k: v for k, v in review(3, 9).items() if k != "id"}
    parsed = AppStoreListener().parse(make_source(), Payload(feed([review(1, 9), empty, no_id]), {"page": 2}))
    assert len(parsed.mentions) == 1 and parsed.skipped == 2
    assert parsed.warning == "page 2: 2 reviews without id or text were skipped"


def test_unreadable_rating_and_date_become_none() -> None:
    odd = review(1, 9) | {"im:rating": {"label": "five"}, "updated": {"label": "yesterday"}}
    (mention,) = AppStoreListener().parse(make_source(), Payload(feed([odd]), {"page": 1})).mentions
    assert (mention.rating, mention.published_at) == (None, None)


def test_first_run_pages_until_an_empty_page_and_remembers_the_newest(http_server: LoopbackServer) -> None:
    serve(http_server, [[review(9, 20), review(8, 19)], [review(7, 18)]])
    fetched = AppStoreListener().fetch(make_source(http_server.base_url, pages=10), None, SETTINGS)
    assert [path for path, _ in http_server.seen] == [page_path(1), page_path(2), page_path(3)]
    assert [p.meta["page"] for p in fetched.payloads] == [1, 2, 3]
    assert fetched.payloads[0].meta == {"url": http_server.url(page_path(1)), "page": 1, "status": 200}
    assert fetched.cursor == {"newest_id": "10009", "newest_updated": "2026-11-20T10:00:00-07:00"}
    assert http_server.seen[0][1]["User-Agent"] == "earshot-test/1.0"


def test_pages_setting_caps_the_requests(http_server: LoopbackServer) -> None:
    serve(http_server, [[review(n, 20)] for n in range(5)])
    fetched = AppStoreListener().fetch(make_source(http_server.base_url, pages=2), None, SETTINGS)
    assert len(fetched.payloads) == len(http_server.seen) == 2


def test_second_run_stops_at_the_page_holding_the_stored_newest(http_server: LoopbackServer) -> None:
    listener, source = AppStoreListener(), make_source(http_server.base_url, pages=5)
    serve(http_server, [[review(3, 13), review(2, 12)], [review(1, 11)]])
    first = listener.fetch(source, None, SETTINGS)

    serve(http_server, [[review(5, 15), review(4, 14)], [review(3, 13), review(2, 12)], [review(1, 11)]])
    http_server.seen.clear()
    second = listener.fetch(source, first.cursor, SETTINGS)
    assert [path for path, _ in http_server.seen] == [page_path(1), page_path(2)]  # page 3 is never asked
    new_and_boundary = [stable_id("acme-ios", str(10_000 + n)) for n in (5, 4, 3, 2)]
    assert review_ids(listener, source, second.payloads) == new_and_boundary
    assert second.cursor == {"newest_id": "10005", "newest_updated": "2026-11-15T10:00:00-07:00"}


def test_a_vanished_newest_review_still_stops_paging_by_date(http_server: LoopbackServer) -> None:
    serve(http_server, [[review(5, 15)], [review(2, 12)], [review(1, 11)]])
    cursor = {"newest_id": "10003", "newest_updated": "2026-11-13T10:00:00-07:00"}  # review 3 was deleted
    fetched = AppStoreListener().fetch(make_source(http_server.base_url, pages=5), cursor, SETTINGS)
    assert [p.meta["page"] for p in fetched.payloads] == [1, 2]


def test_nothing_new_keeps_the_cursor(http_server: LoopbackServer) -> None:
    serve(http_server, [])
    cursor = {"newest_id": "10003", "newest_updated": "2026-11-13T10:00:00-07:00"}
    fetched = AppStoreListener().fetch(make_source(http_server.base_url), cursor, SETTINGS)
    assert (len(fetched.payloads), fetched.cursor, fetched.http_status) == (1, None, 200)


def test_parse_of_landed_payloads_equals_what_the_fetch_caller_gets(http_server: LoopbackServer) -> None:
    http_server.routes[page_path(1)] = Reply(200, FIXTURE.read_bytes())
    listener, source = AppStoreListener(), make_source(http_server.base_url, pages=1)
    fetched = listener.fetch(source, None, SETTINGS)
    landed = [Payload(bytes(p.body), json.loads(json.dumps(p.meta))) for p in fetched.payloads]
    live = [listener.parse(source, p) for p in fetched.payloads]
    assert [listener.parse(source, p) for p in landed] == live and len(live[0].mentions) == 3


@pytest.mark.parametrize(
    ("reply", "kind", "fragment"),
    [
        (Reply(404, b"not found"), ErrorKind.HTTP_CLIENT, "answered HTTP 404"),
        (Reply(503), ErrorKind.HTTP_SERVER, "answered HTTP 503"),
        (Reply(429, headers={"Retry-After": "120"}), ErrorKind.RATE_LIMITED, "Retry-After 120s"),
        (Reply(200, feed([]), delay=0.6), ErrorKind.TIMEOUT, "no answer within 0.3s"),
        (Reply(200, b"<!DOCTYPE html><html><body>Apple</body></html>"), ErrorKind.NOT_A_FEED, "HTML/XML page"),
        (Reply(200, b'<?xml version="1.0"?><feed/>'), ErrorKind.NOT_A_FEED, "not the JSON reviews"),
        (Reply(200, b'{"feed": {"entry": ['), ErrorKind.MALFORMED, "reviews page is not JSON"),
        (Reply(200, b'{"errors": ["bad id"]}'), ErrorKind.MALFORMED, "no 'feed' object"),
        (Reply(200, b'{"feed": {"entry": "x"}}'), ErrorKind.MALFORMED, "unreadable 'entry'"),
    ],
)
def test_faults_are_classified_and_name_the_source(
    http_server: LoopbackServer, reply: Reply, kind: ErrorKind, fragment: str
) -> None:
    http_server.routes[page_path(1)] = reply
    settings = FetchSettings(timeout=0.3, max_bytes=1_000_000, user_agent="t")
    with pytest.raises(SourceError) as caught:
        AppStoreListener().fetch(make_source(http_server.base_url), None, settings)
    assert caught.value.kind is kind
    assert str(caught.value).startswith("source 'acme-ios': ") and fragment in str(caught.value)
    if kind is ErrorKind.RATE_LIMITED:
        assert caught.value.retry_after == 120 and caught.value.retryable


def test_a_failure_on_a_later_page_fails_the_fetch(http_server: LoopbackServer) -> None:
    serve(http_server, [[review(2, 12)]])
    http_server.routes[page_path(2)] = Reply(500)
    with pytest.raises(SourceError) as caught:
        AppStoreListener().fetch(make_source(http_server.base_url), None, SETTINGS)
    assert caught.value.kind is ErrorKind.HTTP_SERVER and "page=2" in str(caught.value)
