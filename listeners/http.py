"""Polite, bounded HTTP: conditional GET, a User-Agent, and classified failures.

Whatever a server does, one fetch costs at most ``fetch.max_bytes`` on the wire and after decompression
(inflated in 64 kB steps and counted as it inflates, layered encodings included), at most the source's
byte budget across pages, and never outlives the fetch's deadline: every connect, read and write waits at
most ``fetch.timeout_seconds`` *and* no later than the deadline, so a server that drips one byte a second,
headers or body, fails that source with ``timeout``.

Redirects are followed here, one hop at a time: never to a scheme other than http(s), and never to a
private, loopback or link-local address other than the configured URL's own host, unless the source
allows it (``fetch.allow_private_redirects``). The address is checked when the connection is opened
too, so a name that resolves to a public address for the check and an internal one for the connection
gains nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import ipaddress
import socket
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

from listeners.base import Allowance, FetchSettings
from listeners.errors import ErrorKind, SourceError
from listeners.retry import retry_after_seconds
from listeners.text import excerpt

MAX_REDIRECTS = 5
MAX_ENCODINGS = 3  # Content-Encoding layers; real servers use one
CHUNK = 64 * 1024

Resolver = Callable[[str, int], Sequence[str]]
"""``(host, port) -> IP addresses``; tests inject one to give test host names addresses."""


@dataclass(frozen=True)
class Response:
    """What a fetch brought back. ``not_modified`` means a 304: nothing new since the last fetch."""

    url: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")


# --- the guard: deadline and address policy, applied where sockets are opened, read and written -------


class RedirectRefused(Exception):
    """A connection to an address the source may not reach (raised inside the transport)."""


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public(address: str) -> bool:
    """Whether an IP address is on the public internet (not private, loopback, link-local, reserved...)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class _Guard:
    """The running request's policy: its deadline, and which hosts it may reach whatever their address."""

    allowance: Allowance
    timeout: float
    trusted: frozenset[tuple[str, int]]
    allow_private: bool
    resolve: Resolver

    def step(self, timeout: float | None) -> float:
        """The timeout for one socket step: the configured one, cut to what is left of the deadline."""
        left = self.allowance.seconds_left()
        if left <= 0:
            raise httpcore.ReadTimeout("the fetch's deadline has passed")
        return left if timeout is None else min(timeout, left)

    def address(self, host: str, port: int) -> str:
        """Where to connect for ``host``: itself when trusted, else a checked public address. Raises
        :class:`RedirectRefused` for a non-public one, ``OSError`` when the name does not resolve."""
        host = host.lower().strip("[]")
        if self.allow_private or (host, port) in self.trusted:
            return host
        addresses = list(self.resolve(host, port))
        if not addresses:
            raise OSError(f"no address for {host}")
        private = [a for a in addresses if not is_public(a)]
        if private:
            raise RedirectRefused(f"{host} resolves to {', '.join(private)}, a non-public address")
        return addresses[0]


_GUARD: contextvars.ContextVar[_Guard | None] = contextvars.ContextVar("earshot_http_guard", default=None)


class _GuardedStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    @staticmethod
    def _timeout(timeout: float | None) -> float | None:
        guard = _GUARD.get()
        return guard.step(timeout) if guard else timeout

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._timeout(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._timeout(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
        return _GuardedStream(self._inner.start_tls(ssl_context, server_hostname, self._timeout(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    """httpcore's socket backend, with the running request's guard applied to every connect and I/O step."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        guard = _GUARD.get()
        if guard is not None:
            try:
                host, timeout = guard.address(host, port), guard.step(timeout)
            except OSError as exc:
                raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        return _GuardedStream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
        return self._inner.connect_unix_socket(path, timeout, socket_options)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's transport on a connection pool that uses :class:`_GuardedBackend` (httpx takes no backend)."""

    def __init__(self, limits: httpx.Limits) -> None:
        super().__init__(limits=limits)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(),
        )


@functools.cache
def shared_client() -> httpx.Client:
    """One connection pool for every fetch in this process (thread-safe). Building a client per request
    costs an SSL context and cold connections: 500 feeds answering 304 took 58 ms each that way."""
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
    return httpx.Client(transport=_GuardedTransport(limits), follow_redirects=False)


# --- decoding: Content-Encoding inflated in bounded steps ----------------------------------------------


class _Inflater:
    """One gzip or deflate layer, giving at most :data:`CHUNK` bytes per step whatever the ratio."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._raw_deflate = False
        self._z = self._new()

    def _new(self) -> Any:
        if self.encoding == "deflate":
            return zlib.decompressobj(-zlib.MAX_WBITS if self._raw_deflate else zlib.MAX_WBITS)
        return zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while True:
            try:
                out = self._z.decompress(data, CHUNK)
            except zlib.error:
                if self.encoding != "deflate" or self._raw_deflate:
                    raise
                self._raw_deflate = True  # "deflate" sent without its zlib header, as many servers do
                self._z = self._new()
                continue
            if out:
                yield out
            if self._z.eof:
                data = self._z.unused_data
                if self.encoding == "deflate" or not data.startswith(b"\x1f\x8b"):
                    return  # trailing bytes after the stream are ignored, as browsers do
                self._z = self._new()  # a further gzip member
                continue
            data = self._z.unconsumed_tail
            if not out and not data:
                return


class _Decoder:
    """Content-Encoding layers, undone in reverse order of application; output comes in bounded pieces."""

    def __init__(self, encodings: list[str], tick: Callable[[], None]) -> None:
        self.layers = [_Inflater(e) for e in reversed(encodings)]
        self.tick = tick

    def feed(self, data: bytes, layer: int = 0) -> Iterator[bytes]:
        if layer == len(self.layers):
            yield data
            return
        for piece in self.layers[layer].feed(data):
            self.tick()  # inflating is work too: the deadline holds between pieces
            yield from self.feed(piece, layer + 1)


def _encodings(source_id: str, url: str, response: httpx.Response) -> list[str]:
    named = [e.strip().lower() for e in response.headers.get_list("content-encoding", split_commas=True)]
    encodings = ["gzip" if e == "x-gzip" else e for e in named if e and e != "identity"]
    unknown = [e for e in encodings if e not in ("gzip", "deflate")]
    if unknown:
        detail = f"{url}: unsupported Content-Encoding {excerpt(', '.join(unknown))} (we ask for gzip or deflate)"
        raise SourceError(source_id, ErrorKind.MALFORMED, detail)
    if len(encodings) > MAX_ENCODINGS:
        detail = f"{url}: {len(encodings)} layers of Content-Encoding (at most {MAX_ENCODINGS} are read)"
        raise SourceError(source_id, ErrorKind.MALFORMED, detail)
    return encodings


def _read_body(source_id: str, url: str, response: httpx.Response, settings: FetchSettings) -> bytes:
    """The decoded body, refused past ``max_bytes`` on the wire or decoded, or past the deadline."""
    cap, allowance = settings.max_bytes, settings.budget
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise SourceError(source_id, ErrorKind.TOO_LARGE, f"{url} declares {int(declared):,} bytes (cap {cap:,})")
    decoder = _Decoder(_encodings(source_id, url, response), lambda: allowance.check_time(source_id, url))
    body, wire = bytearray(), 0
    try:
        for raw in response.iter_raw(CHUNK):
            allowance.check_time(source_id, url)
            wire += len(raw)
            if wire > cap:
                raise SourceError(source_id, ErrorKind.TOO_LARGE, f"{url} sent more than {cap:,} bytes (the cap)")
            for piece in decoder.feed(raw):
                body += piece
                if len(body) > cap:
                    detail = f"{url} decompresses to more than {cap:,} bytes (the cap; {wire:,} bytes on the wire)"
                    raise SourceError(source_id, ErrorKind.TOO_LARGE, detail)
    except zlib.error as exc:
        raise SourceError(source_id, ErrorKind.MALFORMED, f"{url}: the compressed body is corrupt ({exc})") from None
    allowance.spend(source_id, len(body), url)
    return bytes(body)


# --- fetching ------------------------------------------------------------------------------------------


def _origin(url: httpx.URL) -> tuple[str, int]:
    """Host (ASCII, as sockets see it) and port."""
    port = url.port or (443 if url.scheme == "https" else 80)
    return url.raw_host.decode("ascii").lower(), port


def _send(
    source_id: str, http: httpx.Client, guard: _Guard, url: str, headers: dict[str, str]
) -> contextlib.AbstractContextManager[httpx.Response]:
    """GET ``url``, following redirects hop by hop under the guard; the final response, streaming."""

    @contextlib.contextmanager
    def final() -> Iterator[httpx.Response]:
        target = first = httpx.URL(url)
        for _ in range(MAX_REDIRECTS + 1):
            left = guard.allowance.check_time(source_id, str(target))
            request = http.build_request("GET", target, headers=headers, timeout=min(guard.timeout, left))
            response = _send_one(source_id, http, request)
            try:
                if not response.has_redirect_location:
                    yield response
                    return
                location = response.headers["location"]
            finally:
                response.close()
            target = _redirect_target(source_id, guard, first, target, location)
        raise SourceError(source_id, ErrorKind.REDIRECT_LOOP, f"{url}: more than {MAX_REDIRECTS} redirects")

    return final()


def _trusted(configured: httpx.URL) -> frozenset[tuple[str, int]]:
    """The configured URL's host and port; on a default port, the other default port too (http -> https)."""
    host, port = _origin(configured)
    return frozenset({(host, port), (host, 80), (host, 443)} if port in (80, 443) else {(host, port)})


def _send_one(source_id: str, http: httpx.Client, request: httpx.Request) -> httpx.Response:
    """One request, streaming. httpx builds the next request of a redirect even when not following it, so
    a Location that is no URL at all surfaces here."""
    try:
        return http.send(request, stream=True, follow_redirects=False)
    except httpx.InvalidURL as exc:
        raise _bad_location(source_id, request.url, exc) from None
    except httpx.RemoteProtocolError as exc:
        if "location header" not in str(exc).lower():
            raise
        raise _bad_location(source_id, request.url, exc) from None


def _bad_location(source_id: str, url: httpx.URL, exc: Exception) -> SourceError:
    detail = f"{url} redirected to something that is not an http(s) URL ({excerpt(str(exc), 80)})"
    return SourceError(source_id, ErrorKind.REDIRECT_REFUSED, detail)


def _redirect_target(source_id: str, guard: _Guard, first: httpx.URL, current: httpx.URL, location: str) -> httpx.URL:
    """Where a redirect leads, when it may be followed: http(s) only, and to a non-public host only when it
    is the configured one (or the source allows it)."""
    where = f"{first} redirected to {excerpt(location, 80)}"
    try:
        target = current.join(location)
    except httpx.InvalidURL:
        raise SourceError(source_id, ErrorKind.MALFORMED, f"{where}: not a URL") from None
    if target.scheme not in ("http", "https") or not target.host:
        raise SourceError(source_id, ErrorKind.REDIRECT_REFUSED, f"{where}: only http(s) redirects are followed")
    try:
        guard.address(*_origin(target))  # pooled connections skip connect_tcp: check the hop itself too
    except RedirectRefused as exc:
        detail = f"{where}: {exc} (allow with fetch.allow_private_redirects)"
        raise SourceError(source_id, ErrorKind.REDIRECT_REFUSED, detail) from None
    except OSError:
        pass  # not resolvable here (behind a proxy, say): the connection decides, checked again if it is ours
    return target


def fetch(
    source_id: str,
    url: str,
    settings: FetchSettings,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    accept: str = "*/*",
    client: httpx.Client | None = None,
    resolve: Resolver = system_resolver,
) -> Response:
    """GET ``url``, conditionally when we hold validators; raise :class:`SourceError` on failure.

    ``url``'s own host is trusted whatever its address (the user configured it: a loopback test server,
    an internal gateway), on its port (both 80 and 443 when it is one of them: http to https is common);
    any other host or port a redirect leads to must resolve to public addresses.
    """
    settings = settings.begun()
    headers = {"User-Agent": settings.user_agent, "Accept": accept, "Accept-Encoding": "gzip, deflate"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    http = client or shared_client()
    token = None
    try:
        trusted = _trusted(httpx.URL(url))
        guard = _Guard(settings.budget, settings.timeout, trusted, settings.allow_private_redirects, resolve)
        token = _GUARD.set(guard)
        with _send(source_id, http, guard, url, headers) as response:
            if response.status_code == 304:
                return Response(str(response.url), 304, dict(response.headers))
            _raise_for_status(source_id, response)
            body = _read_body(source_id, url, response, settings)
            return Response(str(response.url), response.status_code, dict(response.headers), body)
    except SourceError:
        raise
    except RedirectRefused as exc:  # a connection the guard refused (the name resolved otherwise at the hop)
        raise SourceError(source_id, ErrorKind.REDIRECT_REFUSED, f"{url}: {exc}") from None
    except httpx.TimeoutException as exc:
        if settings.budget.seconds_left() <= 0:
            raise settings.budget.expired(source_id, url) from None
        detail = f"{url}: no answer within {settings.timeout:g}s ({type(exc).__name__})"
        raise SourceError(source_id, ErrorKind.TIMEOUT, detail) from None
    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
        raise SourceError(source_id, ErrorKind.TRUNCATED, f"{url}: body cut off ({excerpt(str(exc), 120)})") from None
    except httpx.ConnectError as exc:
        detail = f"{url}: cannot connect ({excerpt(str(exc), 120)})"
        raise SourceError(source_id, ErrorKind.CONNECTION, detail) from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise SourceError(source_id, ErrorKind.CONNECTION, f"{url}: {excerpt(repr(exc), 120)}") from None
    finally:
        if token is not None:
            _GUARD.reset(token)


def _raise_for_status(source_id: str, response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    where = f"{response.request.url} answered HTTP {status}"
    if status == 429:
        wait = retry_after_seconds(response.headers.get("retry-after"))
        hint = f"; Retry-After {wait:.0f}s" if wait is not None else ""
        raise SourceError(source_id, ErrorKind.RATE_LIMITED, where + hint, retry_after=wait)
    if status >= 500:
        raise SourceError(source_id, ErrorKind.HTTP_SERVER, where)
    raise SourceError(source_id, ErrorKind.HTTP_CLIENT, where)
