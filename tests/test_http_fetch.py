"""Polite fetching over real HTTP on loopback: conditional GET, caps and classified failures."""

from __future__ import annotations

import pytest

from listeners import http
from listeners.base import FetchSettings
from listeners.errors import ErrorKind, SourceError
from tests.conftest import OMIT, LoopbackServer, Reply

UA = "earshot-test/1.0"


def get(
    server: LoopbackServer, path: str, *, timeout: float = 2.0, max_bytes: int = 1_000_000, **kwargs: object
) -> http.Response:
    settings = FetchSettings(timeout=timeout, max_bytes=max_bytes, user_agent=UA)
    return http.fetch("src", server.url(path), settings, **kwargs)  # type: ignore[arg-type]


def test_sends_user_agent_and_validators_and_understands_304(http_server: LoopbackServer) -> None:
    def conditional(handler) -> Reply:  # type: ignore[no-untyped-def]
        if handler.headers.get("If-None-Match") == '"v1"':
            return Reply(304)
        return Reply(200, b"<rss/>", {"ETag": '"v1"', "Last-Modified": "Mon, 16 Nov 2026 10:00:00 GMT"})

    http_server.routes["/feed"] = conditional
    first = get(http_server, "/feed")
    assert (first.status, first.body, first.etag) == (200, b"<rss/>", '"v1"')
    assert first.last_modified == "Mon, 16 Nov 2026 10:00:00 GMT"
    second = get(http_server, "/feed", etag=first.etag, last_modified=first.last_modified)
    assert second.not_modified and second.body == b""
    headers = http_server.seen[-1][1]
    assert headers["User-Agent"] == UA
    assert headers["If-Modified-Since"] == "Mon, 16 Nov 2026 10:00:00 GMT"


@pytest.mark.parametrize(
    ("reply", "kind", "retryable", "fragment"),
    [
        (Reply(404, b"gone"), ErrorKind.HTTP_CLIENT, False, "answered HTTP 404"),
        (Reply(403), ErrorKind.HTTP_CLIENT, False, "answered HTTP 403"),
        (Reply(503), ErrorKind.HTTP_SERVER, True, "answered HTTP 503"),
        (Reply(429, headers={"Retry-After": "17"}), ErrorKind.RATE_LIMITED, True, "Retry-After 17s"),
        (
            Reply(200, b"x" * 5000, {"Content-Length": OMIT}),
            ErrorKind.TOO_LARGE,
            False,
            "sent more than 1,000 bytes",
        ),
        (
            Reply(200, b"x" * 10, {"Content-Length": "50000"}),
            ErrorKind.TOO_LARGE,
            False,
            "declares 50,000 bytes",
        ),
        (Reply(200, b"short", {"Content-Length": "900"}), ErrorKind.TRUNCATED, True, "body cut off"),
        (Reply(200, b"slow", delay=1.5), ErrorKind.TIMEOUT, True, "no answer within 0.5s"),
        (Reply(302, headers={"Location": "/loop"}), ErrorKind.REDIRECT_LOOP, False, "more than 5 redirects"),
    ],
)
def test_failures_are_classified(
    http_server: LoopbackServer, reply: Reply, kind: ErrorKind, retryable: bool, fragment: str
) -> None:
    http_server.routes["/loop"] = reply
    with pytest.raises(SourceError) as caught:
        get(http_server, "/loop", max_bytes=1000, timeout=0.5)
    error = caught.value
    assert (error.kind, error.retryable) == (kind, retryable)
    assert str(error).startswith("source 'src': ")
    assert fragment in str(error)
    if kind is ErrorKind.RATE_LIMITED:
        assert error.retry_after == 17


def test_connection_refused_is_retryable() -> None:
    with pytest.raises(SourceError) as caught:
        http.fetch("src", "http://127.0.0.1:9/feed", FetchSettings(timeout=1, max_bytes=10, user_agent=UA))
    assert caught.value.kind is ErrorKind.CONNECTION and caught.value.retryable
