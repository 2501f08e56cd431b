"""A loopback Reddit API: just enough OAuth, listings, comments and morechildren for praw.

Shapes follow recorded Reddit responses (listings are ``{"kind": "Listing", "data": {...}}``, a
post's comments are ``[post listing, comment listing]``, morechildren is
``{"json": {"data": {"things": [...]}}}``). Every response carries ``X-Ratelimit-*`` headers, so
prawcore's rate limiter runs exactly as it does against Reddit.

Each generated post has the same comment tree (ids are the post id plus a suffix)::

    a (depth 0) ─ a1 (1) ─ a2 (2)
                └ more → a3 (1)
    b (0), c (0)
    more → d (0), e (0)
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

START_UTC = 1_731_700_000.0
ACCESS_TOKEN = "fake-access-token-4f1c9e"  # tests assert it never reaches a payload

# suffix, parent suffix (None: the post), depth, score, hidden behind a "more" stub
COMMENT_TREE = (
    ("a", None, 0, 30, False),
    ("a1", "a", 1, 12, False),
    ("a2", "a1", 2, 5, False),
    ("a3", "a", 1, 3, True),
    ("b", None, 0, 20, False),
    ("c", None, 0, 10, False),
    ("d", None, 0, 8, True),
    ("e", None, 0, 4, True),
)


@dataclass(frozen=True)
class Seen:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    authorization: str
    at: float  # time.monotonic() on arrival


@dataclass(frozen=True)
class Failure:
    status: int
    body: bytes
    headers: dict[str, str]


def _listing(children: list[dict[str, Any]], after: str | None = None) -> dict[str, Any]:
    data = {"after": after, "before": None, "dist": len(children), "modhash": "", "children": children}
    return {"kind": "Listing", "data": data}


class FakeReddit:
    """Reddit's API on 127.0.0.1, with knobs for content, failures and rate limits."""

    def __init__(self, client_id: str = "earshot-test-app", client_secret: str = "s3cret-do-not-print") -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.page_size = 100  # Reddit's cap on ``limit``
        self.posts: dict[str, list[dict[str, Any]]] = {}  # subreddit -> post data, newest first
        self.comments: dict[str, list[dict[str, Any]]] = {}  # post id -> comment data, tree order
        self.hidden: set[str] = set()  # comment ids only reachable through /api/morechildren
        self.broken_threads: set[str] = set()  # post ids whose "continue this thread" page comes back empty
        self.failures: dict[str, Failure] = {}  # subreddit -> canned failure
        self.delays: dict[str, float] = {}  # subreddit -> seconds before answering
        self.throttle_at: int | None = None  # the n-th request (1-based) answers remaining=0, reset=1
        self.requests: list[Seen] = []
        self._clock, self._serial = START_UTC, 46_000
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        self._open = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def close(self) -> None:
        if self._open:
            self._open = False
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> FakeReddit:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- content knobs ---------------------------------------------------------------------------

    def add_posts(self, subreddit: str, count: int = 1, *, comments: bool = True, **fields: Any) -> list[dict]:
        """Publish ``count`` posts newer than any before; ``fields`` override the post data."""
        made = []
        for _ in range(count):
            self._clock += 60
            self._serial += 1
            pid = _base36(self._serial)
            permalink = f"/r/{subreddit}/comments/{pid}/post_{pid}/"
            post = {
                "id": pid,
                "name": f"t3_{pid}",
                "subreddit": subreddit,
                "title": f"Post {pid}: our ticketing tool keeps timing out",
                "selftext": f"Body of post {pid}.",
                "author": f"poster_{pid}",
                "score": self._serial % 97,
                "num_comments": len(COMMENT_TREE) if comments else 0,
                "created_utc": self._clock,
                "permalink": permalink,
                "url": f"https://www.reddit.com{permalink}",
                "is_self": True,
                "over_18": False,
                "removed_by_category": None,
                "stickied": False,
            }
            post.update(fields)
            if comments:
                self._add_comment_tree(post)
            made.append(post)
        self.posts[subreddit] = made[::-1] + self.posts.get(subreddit, [])
        return made

    def comment(self, post_id: str, suffix: str) -> dict[str, Any]:
        """The (mutable) data of one generated comment, e.g. to mark it removed."""
        return next(c for c in self.comments[post_id] if c["id"] == post_id + suffix)

    def fail(self, subreddit: str, status: int, body: bytes | None = None, **headers: str) -> None:
        """Answer every request about ``subreddit`` with ``status`` (header names use underscores)."""
        if body is None:
            body = json.dumps({"message": "canned failure", "error": status}).encode()
        named = {name.replace("_", "-"): value for name, value in headers.items()}
        self.failures[subreddit] = Failure(status, body, named)

    def _add_comment_tree(self, post: dict[str, Any]) -> None:
        pid = post["id"]
        rows = []
        for index, (suffix, parent, depth, score, hidden) in enumerate(COMMENT_TREE):
            cid = pid + suffix
            rows.append(
                {
                    "id": cid,
                    "name": f"t1_{cid}",
                    "link_id": post["name"],
                    "parent_id": f"t1_{pid}{parent}" if parent else post["name"],
                    "depth": depth,
                    "author": f"commenter_{cid}",
                    "body": f"Comment {cid}: same problem here.",
                    "score": score,
                    "created_utc": post["created_utc"] + 10 * (index + 1),
                    "permalink": f"{post['permalink']}{cid}/",
                }
            )
            if hidden:
                self.hidden.add(cid)
        self.comments[pid] = rows

    # --- responses -------------------------------------------------------------------------------

    def _find_post(self, pid: str) -> dict[str, Any] | None:
        return next((p for posts in self.posts.values() for p in posts if p["id"] == pid), None)

    def listing(self, subreddit: str, kind: str, query: dict[str, str]) -> dict[str, Any]:
        posts = self.posts[subreddit]
        if kind in {"hot", "top"}:
            posts = sorted(posts, key=lambda p: -p["score"])
        if kind == "search":
            needle = query.get("q", "").casefold()
            posts = [p for p in posts if needle in (p["title"] + " " + p["selftext"]).casefold()]
        names = [p["name"] for p in posts]
        start = names.index(query["after"]) + 1 if query.get("after") in names else 0
        size = min(int(query.get("limit", 25)), self.page_size)
        page = posts[start : start + size]
        after = page[-1]["name"] if page and start + size < len(posts) else None
        return _listing([{"kind": "t3", "data": p} for p in page], after)

    def comment_page(self, post: dict[str, Any]) -> list[dict[str, Any]]:
        return [_listing([{"kind": "t3", "data": post}]), _listing(self._replies(post["id"], post["name"], 0))]

    def _replies(self, pid: str, parent: str, depth: int) -> list[dict[str, Any]]:
        rows = [c for c in self.comments.get(pid, []) if c["parent_id"] == parent]
        shown = []
        for c in (c for c in rows if c["id"] not in self.hidden):
            replies = self._replies(pid, c["name"], depth + 1)
            shown.append({"kind": "t1", "data": {**c, "replies": _listing(replies) if replies else ""}})
        hidden = [c["id"] for c in rows if c["id"] in self.hidden]
        if hidden:
            more = {"count": len(hidden), "name": f"t1_{hidden[0]}", "id": hidden[0], "parent_id": parent}
            shown.append({"kind": "more", "data": {**more, "depth": depth, "children": hidden}})
        if pid in self.broken_threads and parent == f"t1_{pid}a1":  # as Reddit marks a thread cut off
            more = {"count": 0, "name": "t1__", "id": "_", "parent_id": parent, "depth": depth, "children": []}
            shown.append({"kind": "more", "data": more})
        return shown

    def comment_listing(self, subreddit: str, query: dict[str, str]) -> dict[str, Any]:
        """A subreddit's newest comments, as ``/r/{sub}/comments`` lists them (``t1`` things)."""
        rows = [c for p in self.posts.get(subreddit, []) for c in self.comments.get(p["id"], [])]
        rows.sort(key=lambda c: -c["created_utc"])
        names = [c["name"] for c in rows]
        start = names.index(query["after"]) + 1 if query.get("after") in names else 0
        size = min(int(query.get("limit", 25)), self.page_size)
        page = rows[start : start + size]
        after = page[-1]["name"] if page and start + size < len(rows) else None
        things = [{"kind": "t1", "data": {**c, "replies": "", "subreddit": subreddit, "over_18": False}} for c in page]
        return _listing(things, after)

    def more_children(self, params: dict[str, str]) -> dict[str, Any]:
        pid = params.get("link_id", "").removeprefix("t3_")
        wanted = set(params.get("children", "").split(","))
        things = [{"kind": "t1", "data": {**c, "replies": ""}} for c in self.comments.get(pid, []) if c["id"] in wanted]
        return {"json": {"errors": [], "data": {"things": things}}}

    def ratelimit_headers(self, used: int) -> dict[str, str]:
        if used == self.throttle_at:
            return {"X-Ratelimit-Used": str(used), "X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "1"}
        # Plenty left and the window half over: prawcore computes no delay.
        return {"X-Ratelimit-Used": str(used), "X-Ratelimit-Remaining": f"{1000 - used}.0", "X-Ratelimit-Reset": "300"}


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out or "0"


def _handler(fake: FakeReddit) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def _answer(self, method: str) -> None:
            url = urlsplit(self.path)
            size = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(size).decode())) if size else {}
            authorization = self.headers.get("Authorization", "")
            with fake._lock:
                seen = Seen(method, url.path, dict(parse_qsl(url.query)), form, authorization, time.monotonic())
                fake.requests.append(seen)
                used = len(fake.requests)
            status, body, headers = self._route(seen)
            headers = {"Content-Type": "application/json; charset=UTF-8", **fake.ratelimit_headers(used), **headers}
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

        def _route(self, seen: Seen) -> tuple[int, bytes, dict[str, str]]:
            parts = [p for p in seen.path.removesuffix(".json").split("/") if p]
            if parts == ["api", "v1", "access_token"]:
                return self._token()
            if seen.authorization != f"bearer {ACCESS_TOKEN}":
                return 401, b'{"message": "Unauthorized", "error": 401}', {"www-authenticate": 'error="invalid_token"'}
            params = {**seen.query, **seen.form}
            if parts == ["api", "morechildren"]:
                return 200, json.dumps(fake.more_children(params)).encode(), {}
            if len(parts) == 2 and parts[0] == "comments" and (post := fake._find_post(parts[1])):
                return self._about(post["subreddit"]) or (200, json.dumps(fake.comment_page(post)).encode(), {})
            if len(parts) == 4 and parts[0] == "comments" and parts[2] == "_" and (post := fake._find_post(parts[1])):
                return 200, json.dumps([_listing([{"kind": "t3", "data": post}]), _listing([])]).encode(), {}
            if (
                len(parts) == 3
                and parts[0] == "r"
                and parts[2] in {"new", "hot", "top", "rising", "search", "comments"}
            ):
                subreddit = parts[1]
                if failed := self._about(subreddit):
                    return failed
                if subreddit not in fake.posts:  # what Reddit does for a subreddit that does not exist
                    return 302, b"", {"Location": f"/subreddits/search.json?q={subreddit}"}
                if parts[2] == "comments":
                    return 200, json.dumps(fake.comment_listing(subreddit, params)).encode(), {}
                return 200, json.dumps(fake.listing(subreddit, parts[2], params)).encode(), {}
            return 404, b'{"message": "Not Found", "error": 404}', {}

        def _about(self, subreddit: str) -> tuple[int, bytes, dict[str, str]] | None:
            time.sleep(fake.delays.get(subreddit, 0))
            failure = fake.failures.get(subreddit)
            return (failure.status, failure.body, failure.headers) if failure else None

        def _token(self) -> tuple[int, bytes, dict[str, str]]:
            expected = base64.b64encode(f"{fake.client_id}:{fake.client_secret}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {expected}":
                return 401, b'{"message": "Unauthorized", "error": 401}', {}
            token = {"access_token": ACCESS_TOKEN, "token_type": "bearer", "expires_in": 86400, "scope": "*"}
            return 200, json.dumps(token).encode(), {}

        def log_message(self, *args: object) -> None:
            pass

    return Handler
