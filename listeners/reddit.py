"""Subreddits through praw, keeping every raw response for the landing zone.

praw hands back objects, not the bytes Reddit sent. The landing zone needs those bytes, so a
recording prawcore ``Requestor`` (praw's ``requestor_class`` hook) keeps each successful JSON
response as received, and :meth:`RedditListener.parse` rebuilds the mentions from those payloads
alone, which is what replay does. praw itself is used unchanged: app-only OAuth, pagination, comment
expansion and Reddit's ``X-Ratelimit-*`` headers are its business.

The requestor also bounds each response: it streams the body (decompressed in bounded steps), refusing it
past ``fetch.max_bytes``, the source's byte budget or the fetch's deadline, which every request's timeout
is cut to. One thread whose "continue this thread" page trips praw loses only that thread's deeper
comments, with a warning.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import praw
import prawcore
import requests
from praw.exceptions import PRAWException
from prawcore.const import ACCESS_TOKEN_PATH

from listeners.base import Allowance, Fetched, FetchSettings, Parsed, Payload
from listeners.errors import ErrorKind, SourceError
from listeners.json_input import JsonRejected, load_json
from listeners.mention import Mention, make_mention, stable_id
from listeners.retry import retry_after_seconds
from listeners.timestamps import from_epoch

if TYPE_CHECKING:
    from praw.models import Submission, Subreddit

    from earshot.config import RedditSource

CHRONOLOGICAL = frozenset({"new", "search", "comments"})  # listings where a high-water mark can stop paging
CHUNK = 64 * 1024
PLACEHOLDERS = {"[removed]": "removed", "[deleted]": "deleted"}
DELETED_BY = frozenset({"deleted", "author"})  # removed_by_category values meaning "the author deleted it"


@dataclass(frozen=True)
class RedditCredentials:
    """A read-only Reddit app. The secret never appears in a repr, a log line or an error."""

    client_id: str
    client_secret: str
    user_agent: str

    def __repr__(self) -> str:
        return f"RedditCredentials(client_id={self.client_id!r}, client_secret='***', user_agent={self.user_agent!r})"


def credentials_from_env(source: RedditSource, environ: Mapping[str, str] = os.environ) -> RedditCredentials:
    """``{prefix}_CLIENT_ID``, ``_CLIENT_SECRET`` and ``_USER_AGENT``; errors name variables, never values."""
    names = [f"{source.credentials_env}_{suffix}" for suffix in ("CLIENT_ID", "CLIENT_SECRET", "USER_AGENT")]
    missing = [name for name in names if not environ.get(name)]
    if missing:
        detail = f"environment variable(s) {', '.join(missing)} not set (a read-only Reddit app's credentials)"
        raise SourceError(source.id, ErrorKind.AUTH, detail)
    return RedditCredentials(*(environ[name] for name in names))


# --- capturing what praw receives --------------------------------------------------------------------


class _OverBound(Exception):
    """A response past a bound (size, budget, deadline), raised where praw's exceptions are caught."""

    def __init__(self, error: SourceError) -> None:
        super().__init__(error.detail)
        self.kind = error.kind


@dataclass(frozen=True)
class _Exchange:
    path: str
    params: dict[str, Any]
    status: int
    body: bytes


@dataclass
class _Recorder:
    """Where the requestor leaves responses; the listener takes them after each praw call."""

    max_bytes: int
    allowance: Allowance
    exchanges: list[_Exchange] = field(default_factory=list)

    def take(self, meta: Mapping[str, Any]) -> list[Payload]:
        payloads = [
            Payload(x.body, {"path": x.path, "params": x.params, "status": x.status, **meta}) for x in self.exchanges
        ]
        self.exchanges.clear()
        return payloads


class _RecordingRequestor(prawcore.Requestor):
    """prawcore's requestor, recording each successful response body; the token response is never kept.

    It also applies the configured timeout: prawcore passes its own default (16 s) on every API call,
    and praw's ``timeout`` setting no longer reaches the requestor.
    """

    def __init__(self, *, recorder: _Recorder, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.recorder = recorder

    def request(self, *args: Any, timeout: float | None = None, **kwargs: Any) -> requests.Response:
        try:
            left = self.recorder.allowance.check_time("reddit", "Reddit")
        except SourceError as exc:
            raise _OverBound(exc) from None
        response = super().request(*args, timeout=min(self.timeout, left), stream=True, **kwargs)
        try:
            response._content = self._body(response)  # what .json() and .text read from now on
        except requests.RequestException as exc:
            raise prawcore.RequestException(exc, args, kwargs) from None
        finally:
            response.close()  # the body is read: the connection goes back to the pool
        path = urlsplit(args[1]).path
        if path.endswith(ACCESS_TOKEN_PATH) or response.status_code != 200:
            return response
        self._bounded(lambda: self.recorder.allowance.spend("reddit", len(response.content), "Reddit"))
        params = {**(kwargs.get("params") or {}), **dict(kwargs.get("data") or [])}
        self.recorder.exchanges.append(_Exchange(path, _jsonable(params), response.status_code, response.content))
        return response

    def _body(self, response: requests.Response) -> bytes:
        """The body, decompressed by urllib3 in bounded steps, read as it arrives (``read1``) so the
        deadline is checked between pieces however slowly they come."""
        limit, allowance = self.recorder.max_bytes, self.recorder.allowance
        body = bytearray()
        while piece := response.raw.read1(CHUNK, decode_content=True):
            body += piece
            if len(body) > limit:
                raise _OverBound(SourceError("reddit", ErrorKind.TOO_LARGE, f"a response exceeds max_bytes={limit}"))
            self._bounded(lambda: allowance.check_time("reddit", "Reddit"))
        return bytes(body)

    @staticmethod
    def _bounded(check: Callable[[], object]) -> None:
        try:
            check()
        except SourceError as exc:
            raise _OverBound(exc) from None


def _jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): v if isinstance(v, str | int | float | bool) or v is None else str(v) for k, v in params.items()}


# --- errors ------------------------------------------------------------------------------------------

_FETCH_ERRORS = (prawcore.PrawcoreException, PRAWException, _OverBound)


def _reason(response: requests.Response) -> str:
    """Reddit's own word for a refusal ("private", "banned", "quarantined"), when it gives one."""
    try:
        reason = response.json().get("reason")
    except (ValueError, AttributeError):
        return ""
    return f", {reason}" if isinstance(reason, str) and reason.isidentifier() else ""


def _classify_response(exc: prawcore.ResponseException) -> tuple[ErrorKind, str, float | None]:
    response, status = exc.response, exc.response.status_code
    if isinstance(exc, prawcore.TooManyRequests):
        return ErrorKind.RATE_LIMITED, "Reddit rate limit hit (HTTP 429)", retry_after_seconds(exc.retry_after)
    if isinstance(exc, prawcore.Redirect):
        if exc.path.startswith("/subreddits/search"):
            return ErrorKind.MISSING, "no such subreddit (Reddit redirected to subreddit search)", None
        return ErrorKind.HTTP_CLIENT, f"unexpected redirect to {exc.path}", None
    if isinstance(exc, prawcore.BadJSON):
        return ErrorKind.MALFORMED, f"Reddit answered with something that is not JSON (HTTP {status})", None
    if status in {401, 403}:
        if urlsplit(response.url).path.endswith(ACCESS_TOKEN_PATH):
            return ErrorKind.AUTH, f"Reddit rejected the app's client id or secret (HTTP {status})", None
        return ErrorKind.AUTH, f"Reddit refused access (HTTP {status}{_reason(response)})", None
    if status == 404:
        return ErrorKind.MISSING, f"not found, or banned (HTTP 404{_reason(response)})", None
    if status >= 500:
        return ErrorKind.HTTP_SERVER, f"Reddit server error (HTTP {status})", None
    return ErrorKind.HTTP_CLIENT, f"Reddit refused the request (HTTP {status}{_reason(response)})", None


def _classify(exc: Exception) -> tuple[ErrorKind, str, float | None]:
    if isinstance(exc, prawcore.ResponseException):
        return _classify_response(exc)
    if isinstance(exc, prawcore.RequestException):
        original = exc.original_exception
        if isinstance(original, requests.Timeout):
            return ErrorKind.TIMEOUT, f"Reddit did not answer in time ({type(original).__name__})", None
        return ErrorKind.CONNECTION, f"could not reach Reddit ({type(original).__name__})", None
    if isinstance(exc, prawcore.OAuthException):
        return ErrorKind.AUTH, f"Reddit refused the app credentials ({exc.error})", None
    if isinstance(exc, prawcore.InvalidInvocation):
        return ErrorKind.AUTH, f"praw cannot use these credentials: {exc}", None
    if isinstance(exc, _OverBound):
        return exc.kind, str(exc), None
    return ErrorKind.HTTP_CLIENT, f"Reddit refused the request: {exc}", None


def _source_error(source: RedditSource, where: str, exc: Exception, secret: str) -> SourceError:
    kind, detail, retry_after = _classify(exc)
    detail = f"{where}: {detail}"
    if secret:
        detail = detail.replace(secret, "***")
    return SourceError(source.id, kind, detail, retry_after)


# --- fetching ----------------------------------------------------------------------------------------


def _client(
    source: RedditSource, creds: RedditCredentials, settings: FetchSettings, recorder: _Recorder, http: requests.Session
) -> praw.Reddit:
    """praw with app-only (read-only) auth: no username, password or refresh token, whatever the env says."""
    return praw.Reddit(
        client_id=creds.client_id,
        client_secret=creds.client_secret,
        user_agent=creds.user_agent,
        username=None,
        password=None,
        refresh_token=None,
        oauth_url=source.oauth_url,
        reddit_url=source.reddit_url,
        check_for_updates=False,
        check_for_async=False,
        timeout=int(settings.timeout),  # praw's config wants an int and no longer uses it; see the requestor
        requestor_class=_RecordingRequestor,
        requestor_kwargs={"recorder": recorder, "timeout": settings.timeout, "session": http},
    )


def _listing(subreddit: Subreddit, source: RedditSource) -> Iterator[Submission]:
    if source.listing == "search":
        assert source.query  # enforced by RedditSource
        return subreddit.search(source.query, sort="new", time_filter=source.time_filter, limit=source.limit)
    if source.listing == "top":
        return subreddit.top(time_filter=source.time_filter, limit=source.limit)
    return getattr(subreddit, source.listing)(limit=source.limit)


def _since(source: RedditSource, cursor: Mapping[str, Any] | None) -> dict[str, float]:
    """Per-subreddit high-water marks, ignored when the cursor was made for another listing or query."""
    if not cursor or source.listing not in CHRONOLOGICAL:
        return {}
    if cursor.get("listing", source.listing) != source.listing or cursor.get("query", source.query) != source.query:
        return {}
    marks = cursor.get("subreddits") or {}
    return {sub: float(marks[sub]["newest_utc"]) for sub in source.subreddits if marks.get(sub, {}).get("newest_utc")}


def _next_cursor(source: RedditSource, newest: Mapping[str, float | None]) -> dict[str, Any] | None:
    if source.listing not in CHRONOLOGICAL:
        return None  # hot/top/rising are re-read in full each run: nothing to remember
    marks = {sub: {"newest_utc": utc} for sub, utc in newest.items() if utc is not None}
    return {"listing": source.listing, "query": source.query, "subreddits": marks}


class RedditListener:
    """Posts (and optionally comments) from subreddits; the cursor holds a high-water mark per subreddit.

    Cursor: ``{"listing": "new", "query": None, "subreddits": {"msp": {"newest_utc": 1731700000.0}}}``.
    """

    def __init__(self, credentials: Callable[[RedditSource], RedditCredentials] = credentials_from_env) -> None:
        self._credentials = credentials

    def fetch(self, source: RedditSource, cursor: Mapping[str, Any] | None, settings: FetchSettings) -> Fetched:
        settings = settings.begun()
        creds = self._credentials(source)
        recorder, since = _Recorder(max_bytes=settings.max_bytes, allowance=settings.budget), _since(source, cursor)
        payloads: list[Payload] = []
        warnings: list[str] = []
        newest: dict[str, float | None] = {}
        with requests.Session() as http:
            try:
                reddit = _client(source, creds, settings, recorder, http)
            except _FETCH_ERRORS as exc:
                where = ", ".join(f"r/{sub}" for sub in source.subreddits)
                raise _source_error(source, where, exc, creds.client_secret) from None
            for sub in source.subreddits:
                try:
                    sub_payloads, newest[sub] = self._fetch_subreddit(
                        reddit, source, sub, since.get(sub), recorder, warnings
                    )
                except _FETCH_ERRORS as exc:
                    raise _source_error(source, f"r/{sub}", exc, creds.client_secret) from None
                payloads.extend(sub_payloads)
        return Fetched(payloads, cursor=_next_cursor(source, newest), http_status=200, warnings=warnings)

    def _fetch_subreddit(
        self,
        reddit: praw.Reddit,
        source: RedditSource,
        sub: str,
        since: float | None,
        recorder: _Recorder,
        warnings: list[str],
    ) -> tuple[list[Payload], float | None]:
        """One subreddit's listing pages, then the comments of each post that parse keeps."""
        posts, newest = [], since
        for item in _listing(reddit.subreddit(sub), source):
            if since is not None and item.created_utc < since:
                break  # older than the last run's newest item: stop paging (boundary items were kept)
            if isinstance(item, praw.models.Submission):
                posts.append(item)
            if source.listing in CHRONOLOGICAL:
                newest = item.created_utc if newest is None else max(newest, item.created_utc)
        base = {"subreddit": sub, "listing": source.listing}
        payloads = recorder.take({**base, "since_utc": since})
        if source.comments.enabled:
            kept = {m.mention_id for p in payloads for m in self.parse(source, p).mentions}
            for post in posts:
                if stable_id(source.id, post.fullname) in kept:
                    payloads.extend(self._fetch_comments(source, post, base, recorder, warnings))
        return payloads, newest

    def _fetch_comments(
        self, source: RedditSource, post: Submission, base: dict[str, Any], recorder: _Recorder, warnings: list[str]
    ) -> list[Payload]:
        """The post's comment page, then up to ``comments.more`` "more comments" expansions while the
        per-post comment budget is not yet spent.

        praw asserts that a "continue this thread" page holds the comment it continues; Reddit sometimes
        answers without it. That thread's deeper comments are then lost, with a warning; what was fetched
        is kept, and the other posts go on.
        """
        settings = source.comments
        post.comment_sort = "top"
        post.comment_limit = settings.limit
        meta = {**base, "link_id": post.fullname, "nsfw": bool(vars(post).get("over_18"))}
        payloads: list[Payload] = []
        try:
            forest = post.comments  # GET /comments/{id}
            payloads, kept = self._budgeted(source, recorder.take(meta), kept=0)
            if kept < settings.limit and settings.more:
                forest.replace_more(limit=settings.more)  # POST /api/morechildren, at most `more` times
                more, _ = self._budgeted(source, recorder.take(meta), kept=kept)
                payloads.extend(more)
        except AssertionError:
            kept = sum(len(self.parse(source, p).mentions) for p in payloads)
            payloads.extend(self._budgeted(source, recorder.take(meta), kept=kept)[0])
            warnings.append(
                f"r/{base['subreddit']}: {post.fullname}: a 'continue this thread' page came back without its "
                "comment; the comments fetched so far are kept"
            )
        return payloads

    def _budgeted(self, source: RedditSource, payloads: list[Payload], kept: int) -> tuple[list[Payload], int]:
        """Stamp each comment payload with how many comments it may still add, so that parse, now and on
        replay, keeps at most ``comments.limit`` per post across the page and its expansions."""
        stamped = []
        for payload in payloads:
            payload = Payload(payload.body, {**payload.meta, "comment_budget": max(0, source.comments.limit - kept)})
            kept += len(self.parse(source, payload).mentions)
            stamped.append(payload)
        return stamped, kept

    def parse(self, source: RedditSource, payload: Payload) -> Parsed:
        return parse_payload(source, payload)


# --- parsing -----------------------------------------------------------------------------------------


@dataclass
class _Tally:
    """Mentions kept and items skipped (by reason) while parsing one payload."""

    mentions: list[Mention] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    def result(self, where: str) -> Parsed:
        if not self.skipped:
            return Parsed(self.mentions)
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))
        total = sum(self.skipped.values())
        return Parsed(self.mentions, warning=f"{where}skipped {total} items ({reasons})", skipped=total)


Comment = tuple[dict[str, Any], int]  # a comment's data and its depth (0: a reply to the post)


def parse_payload(source: RedditSource, payload: Payload) -> Parsed:
    """Mentions from one captured response: a listing, a comment page, or a morechildren answer."""
    where = f"r/{payload.meta['subreddit']}: " if payload.meta.get("subreddit") else ""
    try:
        data = load_json(payload.body)
    except JsonRejected as exc:
        raise SourceError(source.id, ErrorKind.MALFORMED, f"{where}a captured response is {exc}") from None
    tally = _Tally()
    try:
        _dispatch(source, data, payload.meta, tally)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:  # JSON, but not shaped like Reddit's
        detail = f"{where}unexpected response shape ({type(exc).__name__}: {exc})"
        raise SourceError(source.id, ErrorKind.MALFORMED, detail) from None
    return tally.result(where)


def _dispatch(source: RedditSource, data: Any, meta: Mapping[str, Any], tally: _Tally) -> None:
    if _is_listing(data):
        since = meta.get("since_utc")
        for kind, item in _items(data):
            if since is not None and float(item.get("created_utc") or 0) < since:
                continue  # older: stored by earlier runs
            if kind == "t3":
                _add_post(source, item, tally)
            elif kind == "t1":  # comment listings (a subreddit's newest comments, a user's page)
                _add_comment(source, item, bool(item.get("over_18")), tally)
            else:
                tally.skipped[f"{kind} (neither a post nor a comment)"] += 1
    elif isinstance(data, list) and len(data) == 2 and all(_is_listing(part) for part in data):
        if "/_/" in str(meta.get("path", "")):
            return  # a "continue this thread" page: deeper than any depth limit, and its depths restart at 0
        post = next(iter(_children(data[0], "t3")), {})
        nsfw = bool(post.get("over_18", meta.get("nsfw")))
        _add_comments(source, list(_walk(data[1], 0)), nsfw, meta, tally)
    elif isinstance(data, dict) and "json" in data:
        things = data["json"]["data"]["things"]
        flat = [(t["data"], int(t["data"].get("depth", 0))) for t in things if t["kind"] == "t1"]
        _add_comments(source, flat, bool(meta.get("nsfw")), meta, tally)
    else:
        raise ValueError("not a listing, comment page or morechildren answer")


def _is_listing(data: Any) -> bool:
    return isinstance(data, dict) and data.get("kind") == "Listing" and isinstance(data.get("data"), dict)


def _children(listing: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [child["data"] for child in listing["data"]["children"] if child["kind"] == kind]


def _items(listing: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A listing's things with their kind ("t3" post, "t1" comment, ...); "more" stubs are not content."""
    return [(str(c["kind"]), c["data"]) for c in listing["data"]["children"] if c["kind"] != "more"]


def _walk(listing: dict[str, Any], level: int) -> Iterator[Comment]:
    """Every comment of a tree with its depth (Reddit's ``depth`` field, else the nesting level);
    "more" stubs are not content and are passed over."""
    for data in _children(listing, "t1"):
        yield data, int(data.get("depth", level))
        if _is_listing(data.get("replies")):
            yield from _walk(data["replies"], level + 1)


def _add_comments(
    source: RedditSource, comments: list[Comment], nsfw: bool, meta: Mapping[str, Any], tally: _Tally
) -> None:
    """Comments above the depth limit, best first (top level before replies, Reddit's order within a
    level), up to this payload's share of the per-post comment limit."""
    shallow = sorted((c for c in comments if c[1] < source.comments.depth), key=lambda c: c[1])
    budget = int(meta.get("comment_budget", source.comments.limit))
    for comment, _ in shallow:
        if len(tally.mentions) >= budget:
            break
        _add_comment(source, comment, nsfw, tally)


def _removal(text: str, category: Any) -> str | None:
    """Whether the item was deleted by its author or removed by moderators or Reddit, from Reddit's markers."""
    if PLACEHOLDERS.get(text.strip()) == "deleted" or category in DELETED_BY:
        return "deleted"
    if PLACEHOLDERS.get(text.strip()) == "removed" or category:
        return "removed"
    return None


def _verdict(source: RedditSource, nsfw: bool, removal: str | None) -> tuple[str | None, tuple[str, ...]]:
    """Why to skip an item (or ``None``), and the flags to keep it with, per the source's policies."""
    if nsfw and source.nsfw == "skip":
        return "nsfw", ()
    if removal and source.removed == "skip":
        return removal, ()
    flags = ("nsfw",) if nsfw and source.nsfw == "flag" else ()
    return None, flags + ((removal,) if removal else ())


def _author(data: Mapping[str, Any]) -> str | None:
    author = data.get("author")
    return author if author and author != "[deleted]" else None


def _published(data: Mapping[str, Any]) -> datetime | None:
    return from_epoch(data.get("created_utc"))


def _url(source: RedditSource, data: Mapping[str, Any]) -> str | None:
    permalink = data.get("permalink")
    return f"{source.reddit_url}{permalink}" if permalink else None


def _add_post(source: RedditSource, post: dict[str, Any], tally: _Tally) -> None:
    selftext = post.get("selftext") or ""
    removal = _removal(selftext, post.get("removed_by_category"))
    skip, flags = _verdict(source, bool(post.get("over_18")), removal)
    if skip:
        tally.skipped[skip] += 1
        return
    text = "" if selftext.strip() in PLACEHOLDERS else selftext
    if not text.strip() and not post.get("is_self", True):
        text = post.get("url") or ""  # a link post: what it links to is its content
    title = post.get("title") or ""
    if not (title.strip() or text.strip()):
        tally.skipped[f"{removal or 'empty'} with no text left"] += 1
        return
    tally.mentions.append(
        make_mention(
            mention_id=stable_id(source.id, post.get("name") or f"t3_{post['id']}"),
            source_id=source.id,
            audience=source.audience.value,
            url=_url(source, post),
            author=_author(post),
            title=title,
            text=text,
            published_at=_published(post),
            kind="post",
            score=post.get("score"),
            comments=post.get("num_comments"),
            flags=flags,
        )
    )


def _add_comment(source: RedditSource, comment: dict[str, Any], nsfw: bool, tally: _Tally) -> None:
    body = comment.get("body") or ""
    removal = _removal(body, comment.get("removed_by_category"))
    skip, flags = _verdict(source, nsfw, removal)
    text = "" if body.strip() in PLACEHOLDERS else body
    if not skip and not text.strip():
        skip = f"{removal or 'empty'} with no text left"
    if skip:
        tally.skipped[skip] += 1
        return
    tally.mentions.append(
        make_mention(
            mention_id=stable_id(source.id, comment.get("name") or f"t1_{comment['id']}"),
            source_id=source.id,
            audience=source.audience.value,
            url=_url(source, comment),
            author=_author(comment),
            title="",
            text=text,
            published_at=_published(comment),
            kind="comment",
            parent_id=stable_id(source.id, comment["link_id"]) if comment.get("link_id") else None,
            score=comment.get("score"),
            flags=flags,
        )
    )
