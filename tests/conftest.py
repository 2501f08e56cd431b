"""Shared fixtures: a scriptable HTTP server on 127.0.0.1 and an isolated earshot home."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

OMIT = "<omit>"  # a header value meaning "do not send this header" (e.g. no Content-Length)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Route = Reply | Callable[[BaseHTTPRequestHandler], Reply]


class LoopbackServer:
    """Answers each path from ``routes``; records every request (path and headers) it saw."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.seen.append((self.path, dict(self.headers)))
                route = server.routes.get(self.path, Reply(404, b"not found"))
                reply = route(self) if callable(route) else route
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    if value != OMIT:
                        self.send_header(name, value)
                if "Content-Length" not in reply.headers:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(reply.body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path


@pytest.fixture
def http_server() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def earshot_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("EARSHOT_HOME", str(home))
    for name in ("EARSHOT_WAREHOUSE", "EARSHOT_CATALOG", "EARSHOT_CATALOG_CONN_ID", "EARSHOT_LAKE_DATA"):
        monkeypatch.delenv(name, raising=False)  # a developer's lake settings must not leak into the tests
    return home


def rss(items: list[dict[str, str]], title: str = "Test feed") -> bytes:
    """A small RSS 2.0 document; item values are inserted verbatim (tests control escaping)."""
    body = "".join("<item>" + "".join(f"<{k}>{v}</{k}>" for k, v in item.items()) + "</item>" for item in items)
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>http://example.test/</link><description>t</description>{body}</channel></rss>"
    ).encode()


def run_demo(home: Path) -> str:
    """`earshot demo` in a child process, as a user runs it; its stdout."""
    proc = subprocess.run(
        [sys.executable, "-m", "earshot.cli", "demo", "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def latest_themes(db: Path) -> list[tuple[str, str, list[str], int]]:
    from warehouse.connection import reader

    with reader(db) as con:
        return con.execute(
            """
            SELECT t.theme_id, t.label, t.keywords, count(*) FROM theme_members tm JOIN themes t USING (theme_id)
            WHERE tm.run_id = (SELECT run_id FROM runs WHERE stage = 'themes' ORDER BY finished_at DESC LIMIT 1)
            GROUP BY ALL ORDER BY 4 DESC
            """
        ).fetchall()


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, list, str]:
    """The demo run twice in one home (the second run must change nothing): home, first stdout, the first
    run's themes, second stdout. Session-wide: the end-to-end and the analyst-docs tests share it."""
    home = tmp_path_factory.mktemp("demo")
    first_out = run_demo(home)
    first_themes = latest_themes(home / "earshot.duckdb")
    second_out = run_demo(home)
    return home, first_out, first_themes, second_out
