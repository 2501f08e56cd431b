"""Hacker News listener against a fake Algolia search on loopback: fields, paging, cursor, faults."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from earshot.config import HackerNewsSource
from listeners.base import FetchSettings, Payload
from listeners.errors import ErrorKind, SourceError
from listeners.hackernews import HackerNewsListener
from listeners.mention import stable_id
from tests.conftest import LoopbackServer, Reply

FIXTURE = Path(__file__).parent / "fixtures" / "hackernews" / "search_by_date.json"
SETTINGS = FetchSettings(timeout=2.0, max_bytes=1_000_000, user_agent="earshot-test/1.0")
T0 = 1_794_400_000


def make_source(server: LoopbackServer, **overrides: Any) -> HackerNewsSource:
    fields = {"kind": "hackernews", "id": "hn", "audience": "customers", "queries": ["acme"], "hits_per_page": 2}
    return HackerNewsSource(**(fields | {"base_url": server.base_url} | overrides))


def story(n: int, at: int) -> dict[str, Any]:
    return {
        "_tags": ["story", f"story_{n}"],
        "objectID": str(n),
        "title": f"Story {n} about Acme",
        "url": f"https://example.com/{n}",
        "author": f"user{n}",
        "points": n,
        "num_comments": 0,
        "created_at_i": at,
    }


class FakeAlgolia(dict):  # type: ignore[type-arg]
    """Stands in for ``http_server.routes``: answers ``search_by_date`` like Algolia, newest first."""

    def __init__(self, hits: dict[str, list[dict[str, Any]]]) -> None:
        super().__init__()
        self.hits = hits

    def get(self, path: str, default: Any = None) -> Any:
        url = urlsplit(path)
        if url.path != "/search_by_date":
            return default
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        since = int(params.get("numericFilters", "created_at_i>=0").removeprefix("created_at_i>="))
        tags = set(params["tags"].strip("()").split(","))
        matching = sorted(
            (h for h in self.hits.get(params["query"], []) if h["created_at_i"] >= since and tags & set(h["_tags"])),
            key=lambda h: -h["created_at_i"],
        )
        per, page = int(params["hitsPerPage"]), int(params["page"])
        answer = {
            "hits": matching[page * per : (page + 1) * per],
            "nbHits": len(matching),
            "nbPages": math.ceil(len(matching) / per),
            "page": page,
            "hitsPerPage": per,
            "query": params["query"],
        }
        return Reply(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})


def requests(server: LoopbackServer) -> list[dict[str, str]]:
    return [{k: v[0] for k, v in parse_qs(urlsplit(path).query).items()} for path, _ in server.seen]


def test_parse_recorded_page_maps_stories_and_comments() -> None:
    source = HackerNewsSource(kind="hackernews", id="hn", audience="customers", queries=["acme crm"])
    parsed = HackerNewsListener().parse(source, Payload(FIXTURE.read_bytes(), {"query": "acme crm", "page": 0}))
    comment, ask, link = parsed.mentions
    assert (parsed.skipped, parsed.warning) == (1, "query 'acme crm': 1 hits without id or text were skipped")

    assert comment.kind == "comment" and comment.title == ""
    assert comment.text == (
        "We moved off Acme CRM last year.\nThe sync API kept dropping contacts & nobody at support could say why."
    )
    assert comment.url == "https://news.ycombinator.com/item?id=42010107"
    assert comment.parent_id == stable_id("hn", "42010001") == ask.mention_id
    assert comment.mention_id == stable_id("hn", "42010107")
    assert (comment.author, comment.published_at) == ("tptacek", datetime(2026, 11, 12, 9, 30, 5, tzinfo=UTC))

    assert ask.kind == "post" and ask.title == "Ask HN: What CRM do small agencies actually use?"
    assert ask.text == "We are six people. Acme CRM feels heavy; spreadsheets feel fragile.\nWhat do you use & why?"
    assert ask.url == "https://news.ycombinator.com/item?id=42010001"  # no url: the discussion itself
    assert (ask.score, ask.comments, ask.parent_id) == (132, 57, None)

    assert link.text == link.title == "Acme raises prices for the third time"
    assert (link.url, link.score, link.comments) == ("https://blog.example.com/acme-prices", 4, 0)
    assert all(m.audience == "customers" and not m.influencer for m in parsed.mentions)


def test_titles_are_plain_text_while_story_and_comment_bodies_are_html() -> None:
    source = HackerNewsSource(kind="hackernews", id="hn", audience="customers", queries=["acme"])
    hit = story(7, T0) | {"title": "Show HN: <template> tags & Acme", "story_text": "It&#x27;s <b>fast</b>"}
    (mention,) = HackerNewsListener().parse(source, Payload(json.dumps({"hits": [hit]}).encode(), {})).mentions
    assert (mention.title, mention.text) == ("Show HN: <template> tags & Acme", "It's fast")


@pytest.mark.parametrize(
    ("tags", "expected"), [(["story"], "story"), (["comment"], "comment"), (["story", "comment"], "(story,comment)")]
)
def test_request_carries_query_tags_and_paging(http_server: LoopbackServer, tags: list[str], expected: str) -> None:
    http_server.routes = FakeAlgolia({})
    HackerNewsListener().fetch(make_source(http_server, tags=tags, queries=["acme crm"]), None, SETTINGS)
    path, headers = http_server.seen[0]
    assert path.startswith("/search_by_date?query=acme+crm&tags=")
    assert requests(http_server)[0] == {"query": "acme crm", "tags": expected, "hitsPerPage": "2", "page": "0"}
    assert headers["User-Agent"] == "earshot-test/1.0"


def test_first_run_pages_until_nb_pages_and_keeps_the_newest_timestamp(http_server: LoopbackServer) -> None:
    http_server.routes = FakeAlgolia({"acme": [story(n, T0 + n) for n in range(1, 6)]})
    fetched = HackerNewsListener().fetch(make_source(http_server), None, SETTINGS)

    assert [p.meta["page"] for p in fetched.payloads] == [0, 1, 2]
    assert all(p.meta["query"] == "acme" and p.meta["status"] == 200 for p in fetched.payloads)
    assert fetched.payloads[1].meta["url"] == http_server.url(http_server.seen[1][0])
    assert fetched.cursor == {"queries": {"acme": {"created_at_i": T0 + 5}}}
    assert (fetched.http_status, fetched.warnings) == (200, [])


def test_max_pages_stops_paging_and_says_so(http_server: LoopbackServer) -> None:
    http_server.routes = FakeAlgolia({"acme": [story(n, T0 + n) for n in range(1, 8)]})
    fetched = HackerNewsListener().fetch(make_source(http_server, max_pages=2), None, SETTINGS)
    assert len(fetched.payloads) == 2 and len(http_server.seen) == 2
    assert fetched.warnings == ["query 'acme': stopped at max_pages=2 of 4 pages; older matches skipped"]


def test_second_run_asks_from_the_boundary_and_gets_only_new_and_boundary_items(
    http_server: LoopbackServer,
) -> None:
    hits = {"acme": [story(1, T0), story(2, T0 + 10), story(3, T0 + 10)]}
    http_server.routes = FakeAlgolia(hits)
    listener, source = HackerNewsListener(), make_source(http_server)
    first = listener.fetch(source, None, SETTINGS)
    assert first.cursor == {"queries": {"acme": {"created_at_i": T0 + 10}}}

    hits["acme"].append(story(4, T0 + 20))
    http_server.seen.clear()
    second = listener.fetch(source, first.cursor, SETTINGS)
    assert {r["numericFilters"] for r in requests(http_server)} == {f"created_at_i>={T0 + 10}"}
    ids = {m.mention_id for p in second.payloads for m in listener.parse(source, p).mentions}
    assert ids == {stable_id("hn", n) for n in ("2", "3", "4")}  # new, plus the boundary second again
    assert second.cursor == {"queries": {"acme": {"created_at_i": T0 + 20}}}


def test_cursor_is_kept_per_query_and_survives_a_quiet_run(http_server: LoopbackServer) -> None:
    http_server.routes = FakeAlgolia({"acme": [story(1, T0)], "acme crm": []})
    source = make_source(http_server, queries=["acme", "acme crm", "acme pricing"])
    stored = {"queries": {"acme pricing": {"created_at_i": T0 - 99}, "dropped query": {"created_at_i": 1}}}
    fetched = HackerNewsListener().fetch(source, stored, SETTINGS)
    assert fetched.cursor == {
        "queries": {"acme": {"created_at_i": T0}, "acme pricing": {"created_at_i": T0 - 99}},
    }
    assert [p.meta["query"] for p in fetched.payloads] == ["acme", "acme crm", "acme pricing"]


def test_parse_of_landed_payloads_equals_what_the_fetch_caller_gets(http_server: LoopbackServer) -> None:
    http_server.routes = FakeAlgolia({"acme": [story(n, T0 + n) for n in range(1, 4)]})
    listener, source = HackerNewsListener(), make_source(http_server)
    fetched = listener.fetch(source, None, SETTINGS)
    live = [listener.parse(source, p) for p in fetched.payloads]
    landed = [Payload(bytes(p.body), json.loads(json.dumps(p.meta))) for p in fetched.payloads]
    assert [listener.parse(source, p) for p in landed] == live
    assert sum(len(p.mentions) for p in live) == 3


@pytest.mark.parametrize(
    ("reply", "kind", "fragment"),
    [
        (Reply(404, b"not found"), ErrorKind.HTTP_CLIENT, "answered HTTP 404"),
        (Reply(502), ErrorKind.HTTP_SERVER, "answered HTTP 502"),
        (Reply(429, headers={"Retry-After": "30"}), ErrorKind.RATE_LIMITED, "Retry-After 30s"),
        (Reply(200, b"{}", delay=0.6), ErrorKind.TIMEOUT, "no answer within 0.3s"),
        (Reply(200, b'{"hits": [ {"objectID"'), ErrorKind.MALFORMED, "query 'acme': not JSON"),
        (Reply(200, b'{"message": "Invalid"}'), ErrorKind.MALFORMED, "query 'acme': the answer has no 'hits' list"),
        (Reply(200, b"<!doctype html><html>Sorry</html>"), ErrorKind.MALFORMED, "query 'acme': not JSON"),
    ],
)
def test_faults_are_classified_and_name_the_source(
    http_server: LoopbackServer, reply: Reply, kind: ErrorKind, fragment: str
) -> None:
    http_server.routes = FakeAlgolia({})
    http_server.routes.get = lambda path, default=None: reply  # type: ignore[method-assign]
    settings = FetchSettings(timeout=0.3, max_bytes=1_000_000, user_agent="t")
    with pytest.raises(SourceError) as caught:
        HackerNewsListener().fetch(make_source(http_server), None, settings)
    assert caught.value.kind is kind
    assert str(caught.value).startswith("source 'hn': ") and fragment in str(caught.value)
    if kind is ErrorKind.RATE_LIMITED:
        assert caught.value.retry_after == 30 and caught.value.retryable


def test_parse_rejects_a_stored_payload_that_is_not_a_search_page() -> None:
    source = HackerNewsSource(kind="hackernews", id="hn", audience="customers", queries=["acme"])
    with pytest.raises(SourceError) as caught:
        HackerNewsListener().parse(source, Payload(b"[1, 2]", {"query": "acme"}))
    assert caught.value.kind is ErrorKind.MALFORMED and "query 'acme'" in str(caught.value)
