"""Hostile JSON: deep nesting and odd types give ``malformed`` with a reason, or an item left without the odd
value; never a ``RecursionError``, ``TypeError`` or ``OverflowError``, never a value the warehouse refuses."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from earshot.config import AppStoreSource, FileDropSource, HackerNewsSource, RedditSource
from listeners.appstore import AppStoreListener
from listeners.base import FetchSettings, Payload
from listeners.errors import ErrorKind, SourceError
from listeners.filedrop import FileDropListener
from listeners.hackernews import HackerNewsListener
from listeners.json_input import MAX_DEPTH, JsonRejected, load_json
from listeners.mention import INT32, make_mention
from listeners.reddit import RedditListener
from listeners.timestamps import from_epoch, from_iso
from tests.hostile import deep_json

HN = HackerNewsSource(id="hn", kind="hackernews", audience="influencers", queries=["backup"])
APP = AppStoreSource(id="app", kind="appstore", audience="customers", app_id="12345")
REDDIT = RedditSource(id="rd", kind="reddit", audience="customers", subreddits=["msp"])


def hn_page(*hits: dict) -> Payload:
    return Payload(json.dumps({"hits": list(hits), "nbPages": 1}).encode(), {"query": "backup"})


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 5_000, 100_000])
def test_deep_json_is_rejected_with_the_reason(levels: int) -> None:
    with pytest.raises(JsonRejected, match=f"nested deeper than {MAX_DEPTH} levels"):
        load_json(deep_json(levels))
    assert load_json(deep_json(MAX_DEPTH)) is not None


@pytest.mark.parametrize(
    ("body", "reason"),
    [(b"\xff\xfe{", "not JSON"), (b'{"a": ', "not JSON"), (b"1" * 5000, "not JSON (Exceeds the limit")],
)
def test_what_is_not_json_says_so(body: bytes, reason: str) -> None:
    with pytest.raises(JsonRejected) as caught:
        load_json(body)
    assert str(caught.value).startswith(reason) and len(str(caught.value)) < 140


@pytest.mark.parametrize(
    ("parse", "where"),
    [
        (lambda body: HackerNewsListener().parse(HN, Payload(body, {"query": "backup"})), "query 'backup'"),
        (lambda body: AppStoreListener().parse(APP, Payload(body, {"page": 1})), "reviews page"),
        (lambda body: RedditListener().parse(REDDIT, Payload(body, {"subreddit": "msp"})), "r/msp"),
    ],
    ids=["hackernews", "appstore", "reddit"],
)
def test_every_json_reader_reports_deep_json_as_malformed(parse: object, where: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse(deep_json(100_000))  # type: ignore[operator]
    assert caught.value.kind is ErrorKind.MALFORMED
    assert where in str(caught.value) and "nested deeper than" in str(caught.value)


def test_hacker_news_hits_of_the_wrong_types_are_skipped_or_left_empty() -> None:
    good = {"objectID": "1", "title": "Backups", "created_at_i": 1_763_000_000, "points": 3}
    odd = [
        {"objectID": "2", "comment_text": ["a", "list"], "_tags": ["comment"]},  # a list where text belongs
        {"objectID": ["3"], "title": "an id that is a list"},
        {"objectID": "4", "title": {"x": 1}, "story_text": 7},
        {"objectID": "5", "title": "Far future", "created_at_i": 10**20, "points": 10**12, "author": {"n": 1}},
        {"objectID": "6", "title": "Bool time", "created_at_i": True, "num_comments": -(10**15), "_tags": 5},
        "not even an object",
    ]
    parsed = HackerNewsListener().parse(HN, hn_page(good, *odd))
    by_title = {m.title: m for m in parsed.mentions}
    assert sorted(by_title) == ["Backups", "Bool time", "Far future"] and parsed.skipped == 4
    far = by_title["Far future"]
    assert (far.published_at, far.score, far.author) == (None, None, None)
    assert (by_title["Bool time"].published_at, by_title["Bool time"].comments) == (None, None)
    assert by_title["Backups"].published_at == datetime.fromtimestamp(1_763_000_000, tz=UTC)


def test_app_store_reviews_with_impossible_values_keep_what_is_sound() -> None:
    def entry(review_id: str, rating: str, updated: str) -> dict:
        return {
            "id": {"label": review_id}, "title": {"label": "Title"}, "content": {"label": "Works"},
            "im:rating": {"label": rating}, "updated": {"label": updated}, "link": {"attributes": {"href": ["x"]}},
        }  # fmt: skip

    entries = [
        entry("1", "1e400", "0001-01-01T00:00:00+05:00"),
        entry("2", "nan", "2026-11-16T10:00:00-07:00"),
        entry("3", "4", "year ten thousand"),
    ]
    page = Payload(json.dumps({"feed": {"entry": entries}}).encode(), {"page": 1})
    mentions = AppStoreListener().parse(APP, page).mentions
    assert [(m.rating, m.published_at) for m in mentions] == [
        (None, None),
        (None, datetime(2026, 11, 16, 17, 0, tzinfo=UTC)),
        (4.0, None),
    ]
    assert all(m.url == "https://apps.apple.com/us/app/id12345" for m in mentions)


def test_reddit_items_with_odd_values_load_sound() -> None:
    post = {"id": "p1", "name": "t3_p1", "title": "Title \ud800 half", "selftext": "Body", "created_utc": 1e20,
            "score": 2**40, "num_comments": "many"}  # fmt: skip
    listing = {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": post}]}}
    (mention,) = RedditListener().parse(REDDIT, Payload(json.dumps(listing).encode(), {"subreddit": "msp"})).mentions
    assert mention.title == "Title \ufffd half" and mention.published_at is None
    assert (mention.score, mention.comments) == (None, None)


def drop_file(folder: Path, name: str, content: bytes) -> object:
    (folder / name).write_bytes(content)
    source = FileDropSource(id="fd", kind="filedrop", audience="customers", folder=str(folder),
                            columns={"text": "review"})  # fmt: skip
    listener = FileDropListener()
    (payload,) = listener.fetch(source, None, FetchSettings(timeout=1, max_bytes=10_000_000, user_agent="t")).payloads
    return listener.parse(source, payload)


def test_deep_and_bad_jsonl_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    lines = [b'{"review": "Kept"}', deep_json(100_000), b"[1, 2]", b'{"review": "cut', b'{"review": "Also kept"}']
    parsed = drop_file(tmp_path, "x.jsonl", b"\n".join(lines) + b"\n")
    assert [m.text for m in parsed.mentions] == ["Kept", "Also kept"]  # type: ignore[attr-defined]
    assert parsed.skipped == 3  # type: ignore[attr-defined]
    assert parsed.warning == "file x.jsonl: 3 line(s) skipped (not a JSON object)"  # type: ignore[attr-defined]


def test_a_jsonl_string_may_hold_a_line_separator(tmp_path: Path) -> None:
    """JSONL splits on newlines only: U+2028 is legal inside a JSON string."""
    parsed = drop_file(tmp_path, "x.jsonl", '{"review": "one\u2028two"}\n'.encode())
    assert [m.text for m in parsed.mentions] == ["one\u2028two"]  # type: ignore[attr-defined]


def test_make_mention_keeps_only_what_the_warehouse_can_store() -> None:
    mention = make_mention(
        mention_id="m", source_id="s", audience="customers", url=["x"], author=7, title=None,
        text="ok \udcff", published_at="2026-01-01", score=INT32 + 1, comments=True, rating=math.inf,
    )  # fmt: skip
    assert (mention.url, mention.author, mention.title, mention.text) == (None, None, "", "ok \ufffd")
    assert (mention.published_at, mention.score, mention.comments, mention.rating) == (None, None, None, None)
    kept = make_mention(mention_id="m", source_id="s", audience="c", url="u", author="a", title="t", text="x",
                        published_at=None, score=-INT32 - 1, comments=0, rating=4)  # fmt: skip
    assert (kept.score, kept.comments, kept.rating) == (-INT32 - 1, 0, 4.0)


@pytest.mark.parametrize("value", [1e20, 10**20, math.nan, math.inf, "1e400", True, None, [1], "x", -1e18])
def test_impossible_epochs_are_none(value: object) -> None:
    assert from_epoch(value) is None


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00", "", 5, None])
def test_impossible_iso_times_are_none(value: object) -> None:
    assert from_iso(value) is None
