"""What an attacker serves or drops, for the hostile-input tests and ``benchmarks/hostile_sources.py``.

Payload builders are cheap to run (a 1.6 GB gzip bomb is built from one 8 MB member repeated), and
:class:`RawServer` does on loopback what a polite HTTP server cannot: drip a byte at a time, or send a
body that never ends. :func:`listen_in_child` runs the listen stage in a child process so that its peak
memory is its own.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from tests.conftest import LoopbackServer, Reply

Handler = Callable[[socket.socket, threading.Event], None]


def quadratic_entity_feed(entity_bytes: int = 100_000, references: int = 10_000) -> bytes:
    """One large internal entity referenced many times: 130 kB that expand to ``entity_bytes * references``."""
    refs = "&big;" * references
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY big "{"x" * entity_bytes}">]>\n'
        f'<rss version="2.0"><channel><title>Quadratic</title><item><guid>q1</guid><title>Blowup</title>'
        f"<description>{refs}</description></item></channel></rss>"
    ).encode()


def billion_laughs_feed(levels: int = 9) -> bytes:
    """Nested entities, each ten of the one before: ``10 ** levels`` laughs from under 1 kB."""
    entities = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels + 1)]
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [{"".join(entities)}]>\n<rss version="2.0"><channel>'
        f"<title>Laughs</title><item><guid>l1</guid><title>Laughs</title><description>&lol{levels};</description>"
        "</item></channel></rss>"
    ).encode()


def xxe_feed(target: str = "file:///etc/passwd") -> bytes:
    """An external entity pointing at a local file (or a URL)."""
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{target}">]>\n<rss version="2.0"><channel>'
        "<title>XXE</title><item><guid>x1</guid><title>Exfiltrate</title><description>&xxe;</description></item>"
        "</channel></rss>"
    ).encode()


def layered_gzip_bomb(decoded: int = 1_600_000_000, member: int = 8_000_000) -> bytes:
    """``Content-Encoding: gzip, gzip``: zeros gzipped (as repeated members), then gzipped again. A few kB on
    the wire; ``decoded`` bytes once both layers are undone."""
    inner = gzip.compress(b"\0" * member, compresslevel=9, mtime=0) * (decoded // member)
    return gzip.compress(inner, compresslevel=9, mtime=0)


def deep_json(levels: int = 100_000) -> bytes:
    """An array nested ``levels`` deep: a few hundred kB that crash a recursive reader."""
    return b"[" * levels + b"]" * levels


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk


def drip(head: bytes, interval: float = 0.05) -> Handler:
    """``head``, then one more byte every ``interval`` seconds, for ever: each read is answered in time,
    only an overall deadline can end it."""

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(head)
        while not stop.wait(interval):
            conn.sendall(b" ")

    return handle


def drip_headers(interval: float = 0.05) -> Handler:
    """A status line, then a header that never ends."""
    return drip(b"HTTP/1.1 200 OK\r\nX-Slow: a", interval)


def drip_body(interval: float = 0.05) -> Handler:
    """Complete headers announcing 1 MB, then the body a byte at a time."""
    return drip(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 1000000\r\n\r\n<", interval)


def endless_chunked(chunk: int = 65536) -> Handler:
    """A chunked body that never ends, as fast as the client reads."""

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nTransfer-Encoding: chunked\r\n\r\n")
        piece = f"{chunk:x}\r\n".encode() + b"x" * chunk + b"\r\n"
        while not stop.is_set():
            conn.sendall(piece)

    return handle


class RawServer:
    """A TCP server on 127.0.0.1 that reads each request's head, then hands the socket to ``handler``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.stop = threading.Event()
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            _read_request(conn)
            self.handler(conn, self.stop)

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        self.thread.join(timeout=1)


@contextlib.contextmanager
def raw_server(handler: Handler) -> Iterator[RawServer]:
    server = RawServer(handler)
    try:
        yield server
    finally:
        server.close()


@contextlib.contextmanager
def internal_service() -> Iterator[LoopbackServer]:
    """Another loopback server standing for an internal service that no feed may reach by redirect."""
    server = LoopbackServer()
    server.thread.start()
    server.routes["/secret"] = Reply(200, b"internal data")
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


_CHILD = """
import sys, time
from pathlib import Path
from earshot.cli import main
started = time.monotonic()
rc = main(["run", "--stage", "listen"])
seconds = time.monotonic() - started
hwm = next(line.split()[1] for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM"))
Path(sys.argv[1]).write_text(f"{seconds} {hwm}")
sys.exit(rc)
"""


def listen_in_child(
    home: Path, config: Path, env: Mapping[str, str] | None = None, timeout: float = 600
) -> tuple[subprocess.CompletedProcess[str], float, int]:
    """``earshot run --stage listen`` in a child process: its result, the stage's seconds (imports aside)
    and the child's peak resident memory in bytes (VmHWM: its own, not inherited over exec)."""
    figures = home.parent / f".listen-figures-{time.monotonic_ns()}"
    environ = {**os.environ, **(env or {}), "EARSHOT_HOME": str(home), "EARSHOT_CONFIG": str(config)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(figures)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=Path(__file__).parents[1],
        check=False,
    )
    seconds, peak_kb = figures.read_text().split()
    figures.unlink()
    return done, float(seconds), int(peak_kb) * 1024


def stored_bytes(home: Path) -> bytes:
    """Every byte under an earshot home, gzip payloads inflated, plus every warehouse value as text."""
    from warehouse.connection import reader

    blobs = []
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            blobs.append(gzip.decompress(data) if path.suffix == ".gz" else data)
    with reader(home / "earshot.duckdb") as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT internal").fetchall()]
        for table in tables:
            blobs.extend(str(row).encode() for row in con.execute(f"SELECT * FROM {table}").fetchall())
    return b"\n".join(blobs)
