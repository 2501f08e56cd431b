"""RedditListener against a loopback Reddit (tests/fake_reddit.py), with praw and prawcore unchanged."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import prawcore.sessions
import pytest

from earshot.config import RedditSource
from listeners.base import Fetched, FetchSettings, Payload
from listeners.errors import ErrorKind, SourceError
from listeners.mention import Mention, stable_id
from listeners.reddit import RedditCredentials, RedditListener, credentials_from_env
from tests.fake_reddit import ACCESS_TOKEN, FakeReddit

SETTINGS = FetchSettings(timeout=5.0, max_bytes=10_000_000, user_agent="earshot-tests")
SOURCE_ID = "reddit-msp"


@pytest.fixture
def fake() -> Iterator[FakeReddit]:
    with FakeReddit() as server:
        yield server


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """prawcore retries 5xx and network errors twice after 0-4 s of random sleep: keep the retries,
    drop the sleeps, so error tests stay fast."""
    monkeypatch.setattr(prawcore.sessions.FiniteRetryStrategy, "_sleep_seconds", lambda self: None)


def source(fake: FakeReddit, **fields: Any) -> RedditSource:
    block = {"id": SOURCE_ID, "kind": "reddit", "audience": "customers", "subreddits": ["msp"], "limit": 12}
    return RedditSource.model_validate({**block, "oauth_url": fake.url, "reddit_url": fake.url, **fields})


def listener(fake: FakeReddit, secret: str | None = None) -> RedditListener:
    creds = RedditCredentials(fake.client_id, secret or fake.client_secret, "earshot-tests/0.1 by u/earshot")
    return RedditListener(credentials=lambda _source: creds)


def parse_all(reddit: RedditListener, src: RedditSource, fetched: Fetched) -> list[Mention]:
    return [m for payload in fetched.payloads for m in reddit.parse(src, payload).mentions]


def posts_of(mentions: list[Mention]) -> list[Mention]:
    return [m for m in mentions if m.kind == "post"]


def requests_to(fake: FakeReddit, prefix: str) -> list[Any]:
    return [seen for seen in fake.requests if seen.path.startswith(prefix)]


def fetch_error(
    fake: FakeReddit, src: RedditSource, reddit: RedditListener | None = None, **settings: Any
) -> SourceError:
    with pytest.raises(SourceError) as caught:
        (reddit or listener(fake)).fetch(src, None, FetchSettings(**{**SETTINGS.__dict__, **settings}))
    return caught.value


# --- a first run ---------------------------------------------------------------------------------


def test_first_run_fetches_posts_with_their_fields(fake: FakeReddit) -> None:
    fake.page_size = 5
    made = fake.add_posts("msp", 12)
    src = source(fake)
    reddit = listener(fake)
    fetched = reddit.fetch(src, None, SETTINGS)

    posts = posts_of(parse_all(reddit, src, fetched))
    assert [m.mention_id for m in posts] == [stable_id(SOURCE_ID, p["name"]) for p in reversed(made)]
    newest, by_id = made[-1], {m.mention_id: m for m in posts}
    mention = by_id[stable_id(SOURCE_ID, newest["name"])]
    assert mention.title == newest["title"] and mention.text == newest["selftext"]
    assert mention.url == f"{fake.url}{newest['permalink']}"
    assert mention.author == newest["author"] and mention.audience == "customers"
    assert mention.published_at == datetime.fromtimestamp(newest["created_utc"], tz=UTC)
    assert mention.published_at.utcoffset().total_seconds() == 0
    assert (mention.score, mention.comments) == (newest["score"], newest["num_comments"])
    assert len(requests_to(fake, "/r/msp/new")) == 3  # 12 posts, 5 per page
    assert requests_to(fake, "/comments/") == []  # comments are off by default
    assert fetched.cursor == {
        "listing": "new",
        "query": None,
        "subreddits": {"msp": {"newest_utc": newest["created_utc"]}},
    }


@pytest.mark.parametrize(
    ("more", "limit", "kept", "expansions"),
    [
        (0, 50, ["a", "b", "c", "a1"], 0),  # a2 is too deep; "more" stubs left alone
        (1, 5, ["a", "b", "c", "a1", "d"], 1),  # the biggest stub (d, e) expanded, then the limit bites
        (2, 50, ["a", "b", "c", "a1", "d", "e", "a3"], 2),  # both stubs expanded
        (2, 3, ["a", "b", "c"], 0),  # the first page fills the limit: no expansion requested at all
    ],
)
def test_comments_respect_depth_limit_and_more(
    fake: FakeReddit, more: int, limit: int, kept: list[str], expansions: int
) -> None:
    made = fake.add_posts("msp", 2)
    src = source(fake, comments={"enabled": True, "depth": 2, "limit": limit, "more": more})
    reddit = listener(fake)
    mentions = parse_all(reddit, src, reddit.fetch(src, None, SETTINGS))

    for post in made:
        post_id = stable_id(SOURCE_ID, post["name"])
        comments = [m for m in mentions if m.kind == "comment" and m.parent_id == post_id]
        assert [m.mention_id for m in comments] == [stable_id(SOURCE_ID, f"t1_{post['id']}{s}") for s in kept]
        first = fake.comment(post["id"], "a")
        top = next(m for m in comments if m.mention_id == stable_id(SOURCE_ID, first["name"]))
        assert (top.text, top.author, top.score, top.title) == (first["body"], first["author"], 30, "")
        assert top.url == f"{fake.url}{first['permalink']}"
        assert top.published_at == datetime.fromtimestamp(first["created_utc"], tz=UTC)
    pages = requests_to(fake, "/comments/")
    assert len(pages) == 2 and all(p.query["sort"] == "top" and p.query["limit"] == str(limit) for p in pages)
    assert len(requests_to(fake, "/api/morechildren")) == 2 * expansions


# --- raw payloads and replay ---------------------------------------------------------------------


def test_every_response_is_a_payload_and_none_holds_a_token_or_secret(fake: FakeReddit) -> None:
    fake.add_posts("msp", 3)
    src = source(fake, comments={"enabled": True, "more": 2})
    fetched = listener(fake).fetch(src, None, SETTINGS)

    answered = [seen.path for seen in fake.requests if seen.path != "/api/v1/access_token"]
    assert [p.meta["path"] for p in fetched.payloads] == answered
    assert len(answered) == 1 + 3 + 3 * 2  # a listing page, 3 comment pages, 2 expansions each
    for payload in fetched.payloads:
        meta = json.dumps(payload.meta)  # JSON-able, as the landing manifest needs
        for secret in (ACCESS_TOKEN, fake.client_secret):
            assert secret.encode() not in payload.body and secret not in meta
        assert payload.meta["status"] == 200 and payload.meta["subreddit"] == "msp"
        assert payload.meta["listing"] == "new" and "raw_json" in payload.meta["params"]
    assert {seen.authorization for seen in fake.requests[1:]} == {f"bearer {ACCESS_TOKEN}"}
    assert fake.client_secret not in repr(listener(fake)._credentials(src))


def test_parse_alone_replays_the_same_mentions(fake: FakeReddit) -> None:
    made = fake.add_posts("msp", 4)
    fake.add_posts("msp", 1, over_18=True)
    src = source(fake, nsfw="flag", comments={"enabled": True, "limit": 6, "more": 1})
    reddit = listener(fake)
    fetched = reddit.fetch(src, None, SETTINGS)
    live = parse_all(reddit, src, fetched)
    fake.close()  # replay has no network

    def offline(_source: RedditSource) -> RedditCredentials:
        raise AssertionError("parse must not need credentials")

    landed = [Payload(bytes(p.body), json.loads(json.dumps(p.meta))) for p in fetched.payloads]
    replayed = parse_all(RedditListener(credentials=offline), src, Fetched(landed))
    assert replayed == live
    assert len(posts_of(live)) == 5 and len(live) == 5 + 5 * 6
    assert stable_id(SOURCE_ID, made[0]["name"]) in {m.mention_id for m in live}


# --- incremental runs ----------------------------------------------------------------------------


def test_second_run_stops_at_the_high_water_mark(fake: FakeReddit) -> None:
    fake.page_size = 5
    old = fake.add_posts("msp", 12)
    src = source(fake, comments={"enabled": True})
    reddit = listener(fake)
    first = reddit.fetch(src, None, SETTINGS)
    fresh = fake.add_posts("msp", 2)
    before = len(fake.requests)

    second = reddit.fetch(src, first.cursor, SETTINGS)
    asked = fake.requests[before:]
    assert len([r for r in asked if r.path == "/r/msp/new"]) == 1  # not 3: paging stopped at the mark
    expected = [stable_id(SOURCE_ID, p["name"]) for p in (fresh[1], fresh[0], old[-1])]  # new + boundary
    assert [m.mention_id for m in posts_of(parse_all(reddit, src, second))] == expected
    assert len([r for r in asked if r.path.startswith("/comments/")]) == 3
    assert second.cursor["subreddits"]["msp"]["newest_utc"] == fresh[-1]["created_utc"]

    third = reddit.fetch(src, second.cursor, SETTINGS)  # nothing new: only the boundary post again
    assert [m.mention_id for m in posts_of(parse_all(reddit, src, third))] == expected[:1]
    assert third.cursor == second.cursor


def test_search_lists_matches_sorted_new(fake: FakeReddit) -> None:
    fake.add_posts("msp", 3)
    hits = fake.add_posts("msp", 2, title="Invoice export is broken again")
    src = source(fake, listing="search", query="invoice", time_filter="month")
    reddit = listener(fake)
    stale = {"listing": "new", "subreddits": {"msp": {"newest_utc": 9e9}}}  # made for another listing: ignored
    fetched = reddit.fetch(src, stale, SETTINGS)

    (asked,) = requests_to(fake, "/r/msp/search")
    assert (asked.query["q"], asked.query["sort"], asked.query["t"]) == ("invoice", "new", "month")
    assert [m.mention_id for m in parse_all(reddit, src, fetched)] == [
        stable_id(SOURCE_ID, p["name"]) for p in reversed(hits)
    ]
    assert fetched.cursor == {
        "listing": "search",
        "query": "invoice",
        "subreddits": {"msp": {"newest_utc": hits[-1]["created_utc"]}},
    }


@pytest.mark.parametrize("listing", ["hot", "top", "rising"])
def test_unordered_listings_fetch_up_to_limit_every_run(fake: FakeReddit, listing: str) -> None:
    fake.add_posts("msp", 8)
    src = source(fake, listing=listing, limit=5)
    reddit = listener(fake)
    cursor = {"listing": listing, "subreddits": {"msp": {"newest_utc": 9e9}}}
    fetched = reddit.fetch(src, cursor, SETTINGS)
    assert len(posts_of(parse_all(reddit, src, fetched))) == 5
    assert fetched.cursor is None  # nothing to remember: the stored cursor stays as it is
    (asked,) = requests_to(fake, f"/r/msp/{listing}")
    assert asked.query.get("t") == ("week" if listing == "top" else None)


# --- content policies ----------------------------------------------------------------------------


@pytest.mark.parametrize(("policy", "posts", "flags"), [("skip", 2, None), ("flag", 3, ("nsfw",)), ("include", 3, ())])
def test_nsfw_policy(fake: FakeReddit, policy: str, posts: int, flags: tuple[str, ...] | None) -> None:
    fake.add_posts("msp", 2)
    (nsfw,) = fake.add_posts("msp", 1, over_18=True)
    src = source(fake, nsfw=policy, comments={"enabled": True})
    reddit = listener(fake)
    fetched = reddit.fetch(src, None, SETTINGS)
    mentions = parse_all(reddit, src, fetched)
    listing = reddit.parse(src, fetched.payloads[0])

    assert len(posts_of(mentions)) == posts
    nsfw_id = stable_id(SOURCE_ID, nsfw["name"])
    if flags is None:
        assert listing.skipped == 1 and "1 nsfw" in listing.warning and "r/msp" in listing.warning
        assert f"/comments/{nsfw['id']}/" not in {r.path for r in fake.requests}  # comments never fetched
    else:
        tagged = [m for m in mentions if nsfw_id in (m.mention_id, m.parent_id)]
        assert len(tagged) == 1 + 4 and {m.flags for m in tagged} == {flags}  # the post and its comments
        assert listing.skipped == 0 and listing.warning is None


def test_removed_and_deleted_are_skipped(fake: FakeReddit) -> None:
    kept, removed, deleted = _removal_fixture(fake)
    src = source(fake, removed="skip", comments={"enabled": True})
    reddit = listener(fake)
    fetched = reddit.fetch(src, None, SETTINGS)
    mentions = parse_all(reddit, src, fetched)
    parsed = [reddit.parse(src, p) for p in fetched.payloads]

    assert [m.mention_id for m in posts_of(mentions)] == [stable_id(SOURCE_ID, kept["name"])]
    comment_ids = {m.mention_id for m in mentions if m.kind == "comment"}
    assert comment_ids == {stable_id(SOURCE_ID, f"t1_{kept['id']}{s}") for s in ("a", "a1")}
    assert [p.skipped for p in parsed] == [2, 2]  # the listing: 2 posts; the comment page: 2 comments
    assert "1 deleted, 1 removed" in parsed[0].warning and "1 deleted, 1 removed" in parsed[1].warning
    assert {f"/comments/{p['id']}/" for p in (removed, deleted)}.isdisjoint(r.path for r in fake.requests)
    author_gone = next(m for m in mentions if m.mention_id == stable_id(SOURCE_ID, f"t1_{kept['id']}a1"))
    assert author_gone.author is None and author_gone.flags == ()  # only the account is gone


def test_removed_and_deleted_are_flagged_keeping_what_text_is_left(fake: FakeReddit) -> None:
    kept, removed, deleted = _removal_fixture(fake)
    (mod_removed,) = fake.add_posts("msp", 1, removed_by_category="moderator", selftext="Still readable.")
    src = source(fake, removed="flag", comments={"enabled": True})
    reddit = listener(fake)
    by_id = {m.mention_id: m for m in parse_all(reddit, src, reddit.fetch(src, None, SETTINGS))}

    def post(data: dict[str, Any]) -> Mention:
        return by_id[stable_id(SOURCE_ID, data["name"])]

    assert (post(removed).flags, post(removed).text, post(removed).title) == (("removed",), "", removed["title"])
    assert (post(deleted).flags, post(deleted).author) == (("deleted",), None)
    assert (post(mod_removed).flags, post(mod_removed).text) == (("removed",), "Still readable.")
    assert post(kept).flags == ()
    for suffix in ("b", "c"):  # "[removed]" / "[deleted]" bodies: nothing left to keep
        assert stable_id(SOURCE_ID, f"t1_{kept['id']}{suffix}") not in by_id


def _removal_fixture(fake: FakeReddit) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    (kept,) = fake.add_posts("msp", 1)
    (removed,) = fake.add_posts("msp", 1, selftext="[removed]", removed_by_category="moderator")
    (deleted,) = fake.add_posts("msp", 1, selftext="[deleted]", author="[deleted]", removed_by_category="deleted")
    fake.comment(kept["id"], "b").update(body="[removed]")
    fake.comment(kept["id"], "c").update(body="[deleted]", author="[deleted]")
    fake.comment(kept["id"], "a1").update(author="[deleted]")
    return kept, removed, deleted


def test_parse_handles_link_posts_legacy_trees_and_garbage() -> None:
    src = RedditSource.model_validate(
        {"id": SOURCE_ID, "kind": "reddit", "audience": "customers", "subreddits": ["msp"], "comments": {"depth": 1}}
    )
    link = {"id": "l1", "name": "t3_l1", "title": "Look", "selftext": "", "is_self": False, "url": "https://ex.com/a"}
    listing = {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": link}], "after": None}}
    (mention,) = RedditListener().parse(src, Payload(json.dumps(listing).encode())).mentions
    assert mention.text == "https://ex.com/a" and mention.published_at is None

    # Older responses carry no "depth": the nesting level stands in for it.
    reply = {"kind": "t1", "data": {"id": "r", "name": "t1_r", "link_id": "t3_l1", "body": "deep", "replies": ""}}
    replies = {"kind": "Listing", "data": {"children": [reply]}}
    top = {"kind": "t1", "data": {"id": "t", "name": "t1_t", "link_id": "t3_l1", "body": "top", "replies": replies}}
    page = [listing, {"kind": "Listing", "data": {"children": [top]}}]
    parsed = RedditListener().parse(src, Payload(json.dumps(page).encode(), {"subreddit": "msp"}))
    assert [(m.text, m.parent_id) for m in parsed.mentions] == [("top", stable_id(SOURCE_ID, "t3_l1"))]

    for body in (b"<html>down</html>", b'{"kind": "t3"}', b'{"json": {"data": {}}}'):
        with pytest.raises(SourceError) as caught:
            RedditListener().parse(src, Payload(body, {"subreddit": "msp"}))
        assert caught.value.kind is ErrorKind.MALFORMED and "r/msp" in str(caught.value)


# --- errors --------------------------------------------------------------------------------------


def _banned() -> bytes:
    return json.dumps({"reason": "banned", "message": "Not Found", "error": 404}).encode()


def _private() -> bytes:
    return json.dumps({"reason": "private", "message": "Forbidden", "error": 403}).encode()


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "words"),
    [
        (404, _banned(), {}, ErrorKind.MISSING, "banned"),
        (403, _private(), {}, ErrorKind.AUTH, "private"),
        (500, None, {}, ErrorKind.HTTP_SERVER, "HTTP 500"),
        (429, None, {"Retry_After": "7"}, ErrorKind.RATE_LIMITED, "429"),
        (200, b"<html>we'll be right back</html>", {"Content_Type": "text/html"}, ErrorKind.MALFORMED, "not JSON"),
    ],
)
def test_http_failures_map_to_error_kinds(
    fake: FakeReddit, no_backoff: None, status: int, body: bytes | None, headers: dict, kind: ErrorKind, words: str
) -> None:
    fake.add_posts("good", 1)
    fake.add_posts("msp", 1)
    fake.fail("msp", status, body, **headers)
    error = fetch_error(fake, source(fake, subreddits=["good", "msp"]))

    assert error.kind is kind and error.retryable == (kind in {ErrorKind.HTTP_SERVER, ErrorKind.RATE_LIMITED})
    assert str(error).startswith(f"source '{SOURCE_ID}': ") and "r/msp" in str(error) and "r/good" not in str(error)
    assert words in str(error) and fake.client_secret not in str(error)
    assert error.retry_after == (7.0 if status == 429 else None)
    if status == 500:
        assert len(requests_to(fake, "/r/msp/")) == 3  # prawcore retried twice before giving up


def test_missing_subreddit_is_named(fake: FakeReddit) -> None:
    error = fetch_error(fake, source(fake, subreddits=["nosuchsub"]))
    assert error.kind is ErrorKind.MISSING and not error.retryable
    assert "r/nosuchsub" in str(error) and "no such subreddit" in str(error)


def test_timeout_and_connection_failures(fake: FakeReddit, no_backoff: None) -> None:
    fake.add_posts("msp", 1)
    fake.delays["msp"] = 1.0
    slow = fetch_error(fake, source(fake), timeout=0.2)
    assert slow.kind is ErrorKind.TIMEOUT and slow.retryable and "r/msp" in str(slow)

    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    refused = fetch_error(fake, source(fake, oauth_url=dead))
    assert refused.kind is ErrorKind.CONNECTION and refused.retryable and "r/msp" in str(refused)


def test_wrong_secret_is_auth_and_never_echoed(fake: FakeReddit) -> None:
    fake.add_posts("msp", 1)
    error = fetch_error(fake, source(fake), listener(fake, secret="wrong-secret-123"))
    assert error.kind is ErrorKind.AUTH and not error.retryable
    assert "r/msp" in str(error) and "client id or secret" in str(error)
    assert "wrong-secret-123" not in str(error) and "wrong-secret-123" not in repr(error)


def test_client_errors_are_http_client_with_any_echoed_secret_masked(fake: FakeReddit) -> None:
    fake.add_posts("msp", 1)
    echo = {"reason": "BAD_SEARCH", "explanation": f"cannot parse {fake.client_secret}", "message": "Bad Request"}
    fake.fail("msp", 400, json.dumps(echo).encode())
    error = fetch_error(fake, source(fake))
    assert error.kind is ErrorKind.HTTP_CLIENT and not error.retryable
    assert "BAD_SEARCH" in str(error) and "r/msp" in str(error)
    assert fake.client_secret not in str(error) and "***" in str(error)


def test_oversized_response_is_too_large(fake: FakeReddit) -> None:
    fake.add_posts("msp", 3)
    error = fetch_error(fake, source(fake), max_bytes=500)
    assert error.kind is ErrorKind.TOO_LARGE and "r/msp" in str(error)


def test_missing_credentials_name_the_variables(fake: FakeReddit, monkeypatch: pytest.MonkeyPatch) -> None:
    src = source(fake, credentials_env="ACME_REDDIT")
    with pytest.raises(SourceError) as caught:
        credentials_from_env(src, {"ACME_REDDIT_CLIENT_ID": "id-1", "ACME_REDDIT_CLIENT_SECRET": "hush-hush"})
    message = str(caught.value)
    assert caught.value.kind is ErrorKind.AUTH and not caught.value.retryable
    assert "ACME_REDDIT_USER_AGENT" in message and "ACME_REDDIT_CLIENT_ID" not in message
    assert "hush-hush" not in message and "id-1" not in message

    for name in ("ACME_REDDIT_CLIENT_ID", "ACME_REDDIT_CLIENT_SECRET", "ACME_REDDIT_USER_AGENT"):
        monkeypatch.delenv(name, raising=False)
    error = fetch_error(fake, src, RedditListener())  # the default reads os.environ
    assert all(f"ACME_REDDIT_{v}" in str(error) for v in ("CLIENT_ID", "CLIENT_SECRET", "USER_AGENT"))
    assert fake.requests == []  # nothing was sent without credentials

    env = {"ACME_REDDIT_CLIENT_ID": "id-1", "ACME_REDDIT_CLIENT_SECRET": "hush-hush", "ACME_REDDIT_USER_AGENT": "ua/1"}
    creds = credentials_from_env(src, env)
    assert creds == RedditCredentials("id-1", "hush-hush", "ua/1")
    assert "hush-hush" not in repr(creds) and "hush-hush" not in str(creds) and "id-1" in repr(creds)


# --- rate limits ---------------------------------------------------------------------------------


def test_rate_limit_headers_make_praw_wait(fake: FakeReddit) -> None:
    fake.page_size = 5
    fake.add_posts("msp", 10)
    fake.throttle_at = 2  # the first listing page says: 0 requests left, window resets in 1 s
    fetched = listener(fake).fetch(source(fake, limit=10), None, SETTINGS)

    assert len(fetched.payloads) == 2
    token, first, second = fake.requests
    assert (first.path, second.path) == ("/r/msp/new", "/r/msp/new")
    assert second.at - first.at >= 0.95  # prawcore slept until the reset
    assert first.at - token.at < 0.5  # and did not sleep while requests were left


# --- robustness: praw's assertion on a cut-off thread, and listings of comments -----------------------


def test_a_thread_whose_continuation_comes_back_empty_loses_only_that_thread(fake: FakeReddit) -> None:
    """praw asserts that a "continue this thread" page holds the comment it continues; when Reddit answers
    without it, the post keeps what was fetched, the other posts are untouched, and a warning says so."""
    broken, fine = fake.add_posts("msp", 2)
    fake.broken_threads.add(broken["id"])
    src = source(fake, comments={"enabled": True, "depth": 3, "limit": 50, "more": 5})
    reddit = listener(fake)
    fetched = reddit.fetch(src, None, SETTINGS)
    mentions = parse_all(reddit, src, fetched)

    assert len(posts_of(mentions)) == 2
    for post in (broken, fine):
        comments = {m.mention_id for m in mentions if m.parent_id == stable_id(SOURCE_ID, post["name"])}
        assert len(comments) == 8  # the whole tree, expansions fetched before the assertion included
    assert len(requests_to(fake, f"/comments/{broken['id']}/_/")) == 1
    assert fetched.warnings == [
        f"r/msp: {broken['name']}: a 'continue this thread' page came back without its comment; "
        "the comments fetched so far are kept"
    ]


def test_a_subreddits_comment_listing_loads_comments_incrementally(fake: FakeReddit) -> None:
    (post,) = fake.add_posts("msp", 1)
    src = source(fake, listing="comments", limit=100)
    reddit = listener(fake)
    first = reddit.fetch(src, None, SETTINGS)
    mentions = parse_all(reddit, src, first)
    assert len(mentions) == 8 and {m.kind for m in mentions} == {"comment"}
    assert {m.parent_id for m in mentions} == {stable_id(SOURCE_ID, post["name"])}
    newest = max(c["created_utc"] for c in fake.comments[post["id"]])
    assert first.cursor == {"listing": "comments", "query": None, "subreddits": {"msp": {"newest_utc": newest}}}

    (later,) = fake.add_posts("msp", 1)
    second = parse_all(reddit, src, reddit.fetch(src, first.cursor, SETTINGS))
    everything = fake.comments[post["id"]] + fake.comments[later["id"]]
    expected = {stable_id(SOURCE_ID, c["name"]) for c in everything if c["created_utc"] >= newest}  # boundary kept
    assert {m.mention_id for m in second} == expected and len(expected) < 16


def test_listing_items_that_are_neither_posts_nor_comments_are_counted() -> None:
    src = RedditSource.model_validate({"id": SOURCE_ID, "kind": "reddit", "audience": "customers",
                                       "subreddits": ["msp"]})  # fmt: skip
    children = [{"kind": "t5", "data": {"display_name": "msp"}}, {"kind": "t2", "data": {"name": "someone"}}]
    listing = {"kind": "Listing", "data": {"children": children}}
    parsed = RedditListener().parse(src, Payload(json.dumps(listing).encode(), {"subreddit": "msp"}))
    assert parsed.mentions == [] and parsed.skipped == 2
    assert (
        parsed.warning
        == "r/msp: skipped 2 items (1 t2 (neither a post nor a comment), 1 t5 (neither a post nor a comment))"
    )


def test_a_slow_reddit_meets_the_sources_deadline(fake: FakeReddit) -> None:
    fake.add_posts("msp", 1)
    fake.add_posts("slow", 1)
    fake.delays["slow"] = 0.4
    error = fetch_error(fake, source(fake, subreddits=["msp", "slow", "slow"]), timeout=2.0, deadline=0.6)
    assert error.kind is ErrorKind.TIMEOUT and "fetch.deadline_seconds" in str(error) and "r/slow" in str(error)


def test_reddit_pages_share_the_sources_byte_budget(fake: FakeReddit) -> None:
    fake.add_posts("msp", 12)
    error = fetch_error(fake, source(fake), max_source_bytes=3000)
    assert error.kind is ErrorKind.TOO_LARGE and "fetch.max_source_bytes" in str(error)
