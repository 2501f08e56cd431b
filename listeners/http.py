"""Polite HTTP: timeouts, a User-Agent, a size cap, conditional GET, and classified failures."""

from __future__ import annotations

import email.utils
import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from listeners.errors import ErrorKind, SourceError

MAX_REDIRECTS = 5


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


@functools.cache
def shared_client() -> httpx.Client:
    """One connection pool for every fetch in this process (thread-safe). Building a client per request
    costs an SSL context and cold connections: 500 feeds answering 304 took 58 ms each that way."""
    return httpx.Client(
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
    )


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def fetch(
    source_id: str,
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    user_agent: str,
    etag: str | None = None,
    last_modified: str | None = None,
    accept: str = "*/*",
    client: httpx.Client | None = None,
) -> Response:
    """GET ``url``, conditionally when we hold validators; raise :class:`SourceError` on failure."""
    headers = {"User-Agent": user_agent, "Accept": accept, "Accept-Encoding": "gzip, deflate"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    http = client or shared_client()
    try:
        with http.stream("GET", url, headers=headers, timeout=timeout) as response:
            if response.status_code == 304:
                return Response(str(response.url), 304, dict(response.headers))
            _raise_for_status(source_id, response)
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise SourceError(
                    source_id,
                    ErrorKind.TOO_LARGE,
                    f"{url} declares {int(declared):,} bytes (cap {max_bytes:,})",
                )
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise SourceError(
                        source_id, ErrorKind.TOO_LARGE, f"{url} sent more than {max_bytes:,} bytes (the cap)"
                    )
                chunks.append(chunk)
            return Response(str(response.url), response.status_code, dict(response.headers), b"".join(chunks))
    except SourceError:
        raise
    except httpx.TooManyRedirects:
        raise SourceError(source_id, ErrorKind.REDIRECT_LOOP, f"{url}: more than {MAX_REDIRECTS} redirects") from None
    except httpx.TimeoutException as exc:
        raise SourceError(source_id, ErrorKind.TIMEOUT, f"{url}: no answer within {timeout:g}s ({exc!r})") from None
    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
        raise SourceError(source_id, ErrorKind.TRUNCATED, f"{url}: body cut off ({exc})") from None
    except httpx.ConnectError as exc:
        raise SourceError(source_id, ErrorKind.CONNECTION, f"{url}: cannot connect ({exc})") from None
    except httpx.HTTPError as exc:
        raise SourceError(source_id, ErrorKind.CONNECTION, f"{url}: {exc!r}") from None


def _raise_for_status(source_id: str, response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    where = f"{response.request.url} answered HTTP {status}"
    if status == 429:
        wait = _retry_after(response.headers.get("retry-after"))
        hint = f"; Retry-After {wait:.0f}s" if wait is not None else ""
        raise SourceError(source_id, ErrorKind.RATE_LIMITED, where + hint, retry_after=wait)
    if status >= 500:
        raise SourceError(source_id, ErrorKind.HTTP_SERVER, where)
    raise SourceError(source_id, ErrorKind.HTTP_CLIENT, where)
