"""Hostile HTTP servers on loopback: every bound holds on its own, fast, with a clear error kind.

Each case asserts the bound itself (seconds against a small deadline, peak traced memory against the
byte cap) and that the fetch fails with the kind the fault table promises.
"""

from __future__ import annotations

import socket
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest

from listeners import http
from listeners.base import FetchSettings
from listeners.errors import ErrorKind, SourceError
from tests.conftest import LoopbackServer, Reply, rss
from tests.hostile import drip_body, drip_headers, endless_chunked, internal_service, layered_gzip_bomb, raw_server

CAP = 1_000_000
FEED = rss([{"guid": "1", "title": "Fine"}])


def settings(**overrides: object) -> FetchSettings:
    fields: dict[str, object] = {"timeout": 0.3, "max_bytes": CAP, "user_agent": "earshot-test", "deadline": 0.6}
    return FetchSettings(**(fields | overrides))  # type: ignore[arg-type]


@contextmanager
def measured() -> Iterator[dict[str, float]]:
    """Seconds and peak traced bytes of the block."""
    figures: dict[str, float] = {}
    tracemalloc.start()
    started = time.monotonic()
    try:
        yield figures
    finally:
        figures["seconds"] = time.monotonic() - started
        figures["peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def refused(url: str, **options: object) -> SourceError:
    fetch_options = {k: options.pop(k) for k in ("resolve",) if k in options}
    with pytest.raises(SourceError) as caught:
        http.fetch("hostile", url, settings(**options), **fetch_options)  # type: ignore[arg-type]
    assert str(caught.value).startswith("source 'hostile': ")
    return caught.value


# --- time ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("handler", [drip_headers(0.05), drip_body(0.05)], ids=["headers", "body"])
def test_a_server_dripping_a_byte_at_a_time_meets_the_deadline(handler: Callable) -> None:
    """Each byte arrives well within the read timeout (0.3 s): only the overall deadline can stop it."""
    with raw_server(handler) as server, measured() as took:
        error = refused(server.url + "/feed.xml")
    assert error.kind is ErrorKind.TIMEOUT and error.retryable
    assert "deadline" in error.detail and "fetch.deadline_seconds" in error.detail
    assert 0.5 <= took["seconds"] < 1.2


def test_the_deadline_covers_every_page_of_a_source(http_server: LoopbackServer) -> None:
    """Pages that each answer in time still stop when the source's deadline has passed."""
    http_server.routes["/page"] = Reply(200, FEED, delay=0.25)
    fetch = settings(deadline=0.6).begun()
    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        for _ in range(10):
            http.fetch("hostile", http_server.url("/page"), fetch)
    assert caught.value.kind is ErrorKind.TIMEOUT and time.monotonic() - started < 1.0
    assert len(http_server.seen) in (2, 3)


# --- bytes ---------------------------------------------------------------------------------------------


def test_a_layered_gzip_bomb_is_cut_at_the_cap_as_it_inflates(http_server: LoopbackServer) -> None:
    """1.6 GB behind ``Content-Encoding: gzip, gzip`` (a few kB on the wire): refused at 1 MB decoded."""
    bomb = layered_gzip_bomb()
    assert len(bomb) < 50_000
    http_server.routes["/bomb.xml"] = Reply(200, bomb, {"Content-Encoding": "gzip, gzip"})
    with measured() as took:
        error = refused(http_server.url("/bomb.xml"))
    assert error.kind is ErrorKind.TOO_LARGE and not error.retryable
    assert "decompresses to more than 1,000,000 bytes" in error.detail
    assert took["peak"] < 6 * CAP and took["seconds"] < 1.0


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "x-gzip"])
def test_compressed_bodies_still_decode(http_server: LoopbackServer, encoding: str) -> None:
    import gzip
    import zlib

    body = gzip.compress(FEED) if "gzip" in encoding else zlib.compress(FEED)
    http_server.routes["/z.xml"] = Reply(200, body, {"Content-Encoding": encoding})
    assert http.fetch("ok", http_server.url("/z.xml"), settings()).body == FEED


def test_raw_deflate_and_several_gzip_members_decode(http_server: LoopbackServer) -> None:
    import gzip
    import zlib

    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    http_server.routes["/raw.xml"] = Reply(200, raw.compress(FEED) + raw.flush(), {"Content-Encoding": "deflate"})
    http_server.routes["/members.xml"] = Reply(200, gzip.compress(FEED[:50]) + gzip.compress(FEED[50:]),
                                               {"Content-Encoding": "gzip"})  # fmt: skip
    assert http.fetch("ok", http_server.url("/raw.xml"), settings()).body == FEED
    assert http.fetch("ok", http_server.url("/members.xml"), settings()).body == FEED


@pytest.mark.parametrize(
    ("encoding", "body", "fragment"),
    [
        ("br", b"\x00", "unsupported Content-Encoding br"),
        ("gzip, gzip, gzip, gzip", b"", "4 layers of Content-Encoding"),
        ("gzip", b"\x1f\x8b not really gzip", "compressed body is corrupt"),
    ],
)
def test_odd_encodings_are_malformed(http_server: LoopbackServer, encoding: str, body: bytes, fragment: str) -> None:
    http_server.routes["/odd"] = Reply(200, body, {"Content-Encoding": encoding})
    error = refused(http_server.url("/odd"))
    assert error.kind is ErrorKind.MALFORMED and fragment in error.detail


def test_an_endless_chunked_body_stops_at_the_cap() -> None:
    with raw_server(endless_chunked()) as server, measured() as took:
        error = refused(server.url + "/feed.xml", deadline=5.0)
    assert error.kind is ErrorKind.TOO_LARGE and "sent more than 1,000,000 bytes" in error.detail
    assert took["peak"] < 6 * CAP and took["seconds"] < 1.0


def test_pages_share_the_sources_byte_budget(http_server: LoopbackServer) -> None:
    http_server.routes["/page"] = Reply(200, b"x" * 400_000)
    fetch = settings(max_source_bytes=1_000_000).begun()
    with pytest.raises(SourceError) as caught:
        for _ in range(5):
            http.fetch("hostile", http_server.url("/page"), fetch)
    assert caught.value.kind is ErrorKind.TOO_LARGE and "fetch.max_source_bytes" in caught.value.detail
    assert len(http_server.seen) == 3


# --- redirects -----------------------------------------------------------------------------------------


@pytest.fixture
def internal() -> Iterator[LoopbackServer]:
    with internal_service() as server:
        yield server


def test_a_redirect_to_another_loopback_port_is_refused(http_server: LoopbackServer, internal: LoopbackServer) -> None:
    http_server.routes["/feed.xml"] = Reply(302, headers={"Location": internal.url("/secret")})
    error = refused(http_server.url("/feed.xml"))
    assert error.kind is ErrorKind.REDIRECT_REFUSED and not error.retryable
    assert "127.0.0.1" in error.detail and "fetch.allow_private_redirects" in error.detail
    assert internal.seen == []  # never contacted


def test_a_source_may_allow_private_redirects(http_server: LoopbackServer, internal: LoopbackServer) -> None:
    http_server.routes["/feed.xml"] = Reply(302, headers={"Location": internal.url("/secret")})
    response = http.fetch("gateway", http_server.url("/feed.xml"), settings(allow_private_redirects=True))
    assert response.body == b"internal data" and response.url == internal.url("/secret")


def test_redirects_within_the_configured_host_are_followed(http_server: LoopbackServer) -> None:
    http_server.routes["/old.xml"] = Reply(301, headers={"Location": "/new.xml"})
    http_server.routes["/new.xml"] = Reply(200, FEED)
    response = http.fetch("moved", http_server.url("/old.xml"), settings())
    assert response.body == FEED and response.url == http_server.url("/new.xml")


@pytest.mark.parametrize(
    "location",
    ["file:///etc/passwd", "gopher://127.0.0.1:70/_stats", "ftp://example.com/feed.xml", "javascript:alert(1)"],
)
def test_a_redirect_to_another_scheme_is_refused_and_not_retried(http_server: LoopbackServer, location: str) -> None:
    http_server.routes["/feed.xml"] = Reply(302, headers={"Location": location})
    error = refused(http_server.url("/feed.xml"))
    assert error.kind is ErrorKind.REDIRECT_REFUSED and not error.retryable
    assert "http(s)" in error.detail  # "only http(s) redirects are followed", or not even a URL


def test_the_cloud_metadata_address_is_never_contacted(http_server: LoopbackServer) -> None:
    http_server.routes["/feed.xml"] = Reply(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    with measured() as took:
        error = refused(http_server.url("/feed.xml"))
    assert error.kind is ErrorKind.REDIRECT_REFUSED and "169.254.169.254" in error.detail
    assert took["seconds"] < 0.5  # refused before any connection attempt


def test_a_public_name_that_resolves_to_a_private_address_is_refused(
    http_server: LoopbackServer, internal: LoopbackServer
) -> None:
    """``feeds.example.com`` "resolves" (injected resolver) to the internal server's loopback address."""
    port = internal.httpd.server_address[1]
    http_server.routes["/feed.xml"] = Reply(302, headers={"Location": f"http://feeds.example.com:{port}/secret"})
    error = refused(http_server.url("/feed.xml"), resolve=lambda host, port: ["127.0.0.1"])
    assert error.kind is ErrorKind.REDIRECT_REFUSED and "feeds.example.com resolves to 127.0.0.1" in error.detail
    assert internal.seen == []


def test_a_name_that_rebinds_to_a_private_address_is_caught_when_connecting(
    http_server: LoopbackServer, internal: LoopbackServer
) -> None:
    """The first lookup (the hop's check) says public, the second (the connection's) says loopback: the
    connection is refused, so changing DNS answers between check and use gains nothing."""
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    port = internal.httpd.server_address[1]
    http_server.routes["/feed.xml"] = Reply(302, headers={"Location": f"http://rebind.example.com:{port}/secret"})
    error = refused(http_server.url("/feed.xml"), resolve=lambda host, port: next(answers))
    assert error.kind is ErrorKind.REDIRECT_REFUSED and "rebind.example.com resolves to 127.0.0.1" in error.detail
    assert internal.seen == []


@pytest.mark.parametrize(
    ("configured", "target", "trusted"),
    [
        ("http://gateway.corp/feed", "https://gateway.corp/feed", True),  # the usual upgrade to https
        ("https://gateway.corp/feed", "http://gateway.corp:443/x", True),
        ("http://gateway.corp:8080/feed", "http://gateway.corp:9090/x", False),  # another port: another service
        ("http://gateway.corp/feed", "http://gateway.corp:8080/x", False),
        ("http://gateway.corp/feed", "http://other.corp/x", False),
    ],
)
def test_the_configured_host_is_trusted_on_its_own_port(configured: str, target: str, trusted: bool) -> None:
    """``.corp`` names "resolve" to 10.0.0.5 here: only the configured host may be private."""
    from listeners.http import _Guard, _origin, _trusted

    guard = _Guard(settings().begun().budget, 1.0, _trusted(httpx.URL(configured)), False, lambda h, p: ["10.0.0.5"])
    if trusted:
        assert guard.address(*_origin(httpx.URL(target))) == "gateway.corp"
    else:
        with pytest.raises(http.RedirectRefused):
            guard.address(*_origin(httpx.URL(target)))


def test_a_redirect_to_a_name_that_does_not_resolve_is_a_connection_error(http_server: LoopbackServer) -> None:
    def nowhere(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    http_server.routes["/feed.xml"] = Reply(302, headers={"Location": "http://gone.example.com/feed.xml"})
    error = refused(http_server.url("/feed.xml"), resolve=nowhere)
    assert error.kind is ErrorKind.CONNECTION and "cannot resolve gone.example.com" in error.detail


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),  # loopback dressed as IPv6
        ("224.0.0.1", False),
    ],
)
def test_what_counts_as_public(address: str, public: bool) -> None:
    assert http.is_public(address) is public
