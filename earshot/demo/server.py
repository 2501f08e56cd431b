"""A loopback HTTP server for the demo feeds, so the demo exercises the real fetch path offline.

It behaves like a well-run feed host: correct ``Content-Type``, a strong ``ETag`` and a fixed
``Last-Modified`` per feed, and ``304 Not Modified`` for conditional requests, which lets the listener's
caching be seen working. Bodies are rendered once, at construction, so every response is identical.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import cast

from earshot.demo.market_data import DemoFeed, anchor_for, build_demo_feeds, render_feed


@dataclass(frozen=True)
class _Document:
    body: bytes
    content_type: str
    etag: str
    last_modified: datetime

    @classmethod
    def of(cls, feed: DemoFeed) -> _Document:
        body = render_feed(feed)
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        return cls(body, feed.content_type, etag, feed.last_modified.replace(microsecond=0))

    def not_modified(self, if_none_match: str | None, if_modified_since: str | None) -> bool:
        """RFC 9110: ``If-None-Match`` wins when present; otherwise compare ``If-Modified-Since``."""
        if if_none_match is not None:
            tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
            return "*" in tags or self.etag in tags
        if if_modified_since is not None:
            try:
                since = parsedate_to_datetime(if_modified_since)
            except (TypeError, ValueError):
                return False  # an unreadable date is ignored, as the RFC says
            return since.tzinfo is not None and since >= self.last_modified
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    demo: DemoServer


class _Handler(BaseHTTPRequestHandler):
    server_version = "earshot-demo/1"

    def do_GET(self) -> None:
        self._respond(with_body=True)

    def do_HEAD(self) -> None:
        self._respond(with_body=False)

    def log_message(self, format: str, *args: object) -> None:
        """Silenced: the demo's output should be the pipeline's, not an access log."""

    def _respond(self, with_body: bool) -> None:
        demo = cast(_Server, self.server).demo
        document = demo.documents.get(self.path.split("?", 1)[0])
        if document is None:
            status, body = HTTPStatus.NOT_FOUND, b"not found\n"
            headers = {"Content-Type": "text/plain; charset=utf-8"}
        else:
            headers = {
                "Content-Type": document.content_type,
                "ETag": document.etag,
                "Last-Modified": format_datetime(document.last_modified, usegmt=True),
                "Cache-Control": "no-cache",
            }
            etags, since = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
            if document.not_modified(etags, since):
                status, body = HTTPStatus.NOT_MODIFIED, b""
            else:
                status, body = HTTPStatus.OK, document.body
        demo.record(self.path, status)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != HTTPStatus.NOT_MODIFIED:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body and body:
            self.wfile.write(body)


class DemoServer:
    """Serves ``GET``/``HEAD /feeds/<name>.xml`` for the demo feeds on 127.0.0.1.

    Use it as a context manager::

        with DemoServer() as server:
            fetch(server.base_url + "/feeds/backupwire.xml")

    ``port=0`` (the default) picks a free ephemeral port. ``requests`` lists ``(path, status)`` for every
    request served, so tests can see what the listener asked for.
    """

    def __init__(self, feeds: Sequence[DemoFeed] | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        feeds = build_demo_feeds() if feeds is None else feeds
        self.documents: dict[str, _Document] = {feed.path: _Document.of(feed) for feed in feeds}
        self.requests: list[tuple[str, int]] = []
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """Where the server listens, e.g. ``http://127.0.0.1:43125`` (no trailing slash)."""
        if self._httpd is None:
            raise RuntimeError("the demo server is not running; call start() first")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> DemoServer:
        """Bind and serve from a daemon thread, so a forgotten server never keeps the process alive."""
        if self._httpd is not None:
            return self
        httpd = _Server((self._host, self._port), _Handler)
        httpd.demo = self
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="earshot-demo-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port. Safe to call twice."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd, self._thread = None, None

    def record(self, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((path, int(status)))

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main() -> None:
    """``python -m earshot.demo.server``: serve the demo feeds, dated up to today, until Ctrl-C, for poking at
    them by hand."""
    with DemoServer(build_demo_feeds(anchor=anchor_for(datetime.now(UTC)))) as server:
        print(f"EARSHOT_DEMO_URL={server.base_url}")
        for path in server.documents:
            print(f"  {server.base_url}{path}")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
