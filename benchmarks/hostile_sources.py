"""Hostile sources, one at a time, each beside a normal feed and a normal file drop: one listen run per case
in a child process. Prints, per case, the bound that stops it, the hostile source's status and error kind,
its fetch seconds, the run's peak memory (the child's VmHWM, imports included: compare with the
``control only`` row), and whether the normal sources loaded. Then the fetch settings the run used.

    python -m benchmarks.hostile_sources                     # every case, market defaults, 10 s deadline
    python -m benchmarks.hostile_sources --deadline 120      # the default deadline: the drip cases take 120 s
    python -m benchmarks.hostile_sources --case gzip-bomb-layered --case drip-headers

The payloads and servers are the ones the tests use (tests/hostile.py): needs the dev install (pytest).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import LoopbackServer, Reply, rss
from tests.hostile import (
    RawServer,
    billion_laughs_feed,
    deep_json,
    drip_body,
    drip_headers,
    endless_chunked,
    internal_service,
    layered_gzip_bomb,
    listen_in_child,
    quadratic_entity_feed,
    stored_bytes,
    xxe_feed,
)

PLANTED = "hostile-benchmark-planted-51e0"  # set in the environment; must end up nowhere
AUDIENCES = ("customers", "customers_customers", "influencers")
GOOD = rss([{"guid": f"g{i}", "title": f"Restore story {i}", "description": f"Client {i} restored"} for i in range(5)])
HN_ODD = (
    b'{"nbPages": 1, "hits": [{"objectID": "1", "title": "Fine", "created_at_i": 100000000000000000000, '
    b'"points": 99999999999999}, {"objectID": "2", "comment_text": ["a", "list"]}]}'
)


@dataclass(frozen=True)
class Case:
    name: str
    bound: str
    source: Callable[[dict[str, str], Path], dict[str, Any]]  # (urls, scratch folder) -> the source block


def feed(path: str) -> Callable[[dict[str, str], Path], dict[str, Any]]:
    return lambda urls, _: {"kind": "feed", "url": urls["http"] + path}


def raw(name: str) -> Callable[[dict[str, str], Path], dict[str, Any]]:
    return lambda urls, _: {"kind": "feed", "url": urls[name] + "/feed.xml"}


def hn(path: str) -> Callable[[dict[str, str], Path], dict[str, Any]]:
    return lambda urls, _: {"kind": "hackernews", "queries": ["x"], "base_url": urls["http"] + path}


def drop(fill: Callable[[Path], None]) -> Callable[[dict[str, str], Path], dict[str, Any]]:
    def source(_: dict[str, str], scratch: Path) -> dict[str, Any]:
        folder = scratch / "hostile-drop"
        folder.mkdir()
        fill(folder)
        return {"kind": "filedrop", "folder": str(folder), "columns": {"text": "answer"}}

    return source


def _links_out(folder: Path) -> None:
    outside = folder.parent / "outside.csv"
    outside.write_text(f"answer\n{PLANTED}\n")
    (folder / "environ.csv").symlink_to("/proc/self/environ")
    (folder / "passwd.csv").symlink_to("/etc/passwd")
    (folder / "outside.csv").symlink_to(outside)


CASES = [
    Case("quadratic-entities", "DTD removed before parsing", feed("/quadratic.xml")),
    Case("billion-laughs", "DTD removed before parsing", feed("/laughs.xml")),
    Case("xxe-file", "DTD removed before parsing", feed("/xxe.xml")),
    Case("gzip-bomb-layered", "max_bytes, counted as it inflates", feed("/bomb-layered.xml")),
    Case("gzip-bomb", "max_bytes, counted as it inflates", feed("/bomb.xml")),
    Case("endless-chunked", "max_bytes on the wire", raw("endless")),
    Case("drip-headers", "deadline_seconds", raw("drip-headers")),
    Case("drip-body", "deadline_seconds", raw("drip-body")),
    Case("redirect-loopback-port", "redirects: configured host only", feed("/to-internal.xml")),
    Case("redirect-metadata", "redirects: no link-local", feed("/to-metadata.xml")),
    Case("redirect-file-scheme", "redirects: http(s) only", feed("/to-file.xml")),
    Case("json-100k-deep", "JSON depth 200", hn("/deep")),
    Case("json-odd-types", "types checked per field", hn("/odd")),
    Case("drop-links-out", "regular files inside the folder", drop(_links_out)),
    Case("drop-fifo", "regular files inside the folder", drop(lambda f: os.mkfifo(f / "pipe.csv"))),
    Case(
        "drop-name-not-utf8",
        "names escaped",
        drop(lambda f: (f / os.fsdecode(b"r\xe9sum\xe9 \x1b[2J.csv")).write_bytes(b"answer\nfine\n")),
    ),
    Case(
        "drop-million-columns",
        "messages quote short excerpts",
        drop(lambda f: (f / "wide.csv").write_text(",".join(f"c{i}" for i in range(1_000_000)) + "\n1\n")),
    ),
    Case(
        "drop-deep-jsonl-line",
        "JSON depth 200, bad lines counted",
        drop(lambda f: (f / "x.jsonl").write_bytes(deep_json(100_000) + b'\n{"answer": "kept"}\n')),
    ),
]


class _Prefixed(dict):
    """Routes matched on the path without its query string."""

    def get(self, path: str, default: object = None) -> object:  # type: ignore[override]
        return super().get(path.split("?", 1)[0], default)


def serve(internal: LoopbackServer) -> LoopbackServer:
    server = LoopbackServer()
    server.routes = _Prefixed(  # type: ignore[assignment]
        {
            "/good.xml": Reply(200, GOOD, {"Content-Type": "application/rss+xml"}),
            "/quadratic.xml": Reply(200, quadratic_entity_feed()),
            "/laughs.xml": Reply(200, billion_laughs_feed()),
            "/xxe.xml": Reply(200, xxe_feed()),
            "/bomb-layered.xml": Reply(200, layered_gzip_bomb(), {"Content-Encoding": "gzip, gzip"}),
            "/bomb.xml": Reply(200, _plain_bomb(), {"Content-Encoding": "gzip"}),
            "/to-internal.xml": Reply(302, headers={"Location": internal.url("/secret")}),
            "/to-metadata.xml": Reply(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}),
            "/to-file.xml": Reply(302, headers={"Location": "file:///etc/passwd"}),
            "/deep/search_by_date": Reply(200, deep_json(100_000)),
            "/odd/search_by_date": Reply(200, HN_ODD),
        }
    )  # fmt: skip
    server.thread.start()
    return server


def _plain_bomb(decoded: int = 1_000_000_000, member: int = 10_000_000) -> bytes:
    """One layer of gzip: 1 GB of zeros as repeated 10 MB members, about 1 MB on the wire."""
    import gzip

    return gzip.compress(b"\0" * member, compresslevel=9, mtime=0) * (decoded // member)


def run_case(case: Case | None, urls: dict[str, str], deadline: float) -> dict[str, Any]:
    """One listen run: the control feed, the control drop and ``case``'s source (none: controls only)."""
    from warehouse.connection import reader

    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        control = scratch / "control-drop"
        control.mkdir()
        (control / "survey.csv").write_text("answer\nWe lost a day of sales\nBackups saved us\n")
        sources = [
            {"id": "control-feed", "kind": "feed", "audience": "customers", "url": urls["http"] + "/good.xml"},
            {"id": "control-drop", "kind": "filedrop", "audience": "customers_customers", "folder": str(control),
             "columns": {"text": "answer"}},
        ]  # fmt: skip
        if case is not None:
            sources.append({"id": "hostile", "audience": "influencers", **case.source(urls, scratch)})
        plan = {
            "company": {"name": "Hostile"},
            "offer": {"summary": "bounds"},
            "audiences": {a: {} for a in AUDIENCES},
            "fetch": {"retries": 0, "deadline_seconds": deadline},
            "sources": sources,
        }
        config = scratch / "market.yaml"
        config.write_text(yaml.safe_dump(plan))
        home = scratch / "home"
        done, seconds, peak = listen_in_child(home, config, {"EARSHOT_BENCH_PLANTED": PLANTED})
        with reader(home / "earshot.duckdb") as con:
            rows = con.execute("SELECT source_id, status, error_kind, duration_s, items FROM fetches").fetchall()
        fetches = {r[0]: r[1:] for r in rows}
        leaked = PLANTED.encode() in stored_bytes(home) or PLANTED in done.stdout + done.stderr
    status, kind, fetch_seconds, items = fetches.get("hostile", ("-", None, None, None))
    controls = fetches["control-feed"][3] == 5 and fetches["control-drop"][3] == 2
    return {
        "case": case.name if case else "control only",
        "bound": case.bound if case else "-",
        "status": status,
        "kind": kind or "-",
        "items": items if items is not None else "-",
        "fetch_s": f"{fetch_seconds:.2f}" if fetch_seconds is not None else "-",
        "run_s": f"{seconds:.2f}",
        "peak_mib": f"{peak / 2**20:.0f}",
        "controls": "loaded" if controls else "NOT LOADED",
        "env value": "LEAKED" if leaked else "nowhere",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deadline", type=float, default=10.0, help="fetch.deadline_seconds for every run")
    parser.add_argument("--case", action="append", choices=[c.name for c in CASES], help="run only these cases")
    args = parser.parse_args()
    chosen = [c for c in CASES if not args.case or c.name in args.case]
    drip, slow, endless = RawServer(drip_headers()), RawServer(drip_body()), RawServer(endless_chunked())
    with internal_service() as internal:
        server = serve(internal)
        urls = {"http": server.base_url, "drip-headers": drip.url, "drip-body": slow.url, "endless": endless.url}
        try:
            rows = [run_case(None, urls, args.deadline)] + [run_case(c, urls, args.deadline) for c in chosen]
        finally:
            for raw_server in (drip, slow, endless):
                raw_server.close()
            server.httpd.shutdown()
            server.httpd.server_close()
        internal_contacted = len(internal.seen)
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print(" | ".join(c.ljust(widths[c]) for c in columns))
    print("-|-".join("-" * widths[c] for c in columns))
    for row in rows:
        print(" | ".join(str(row[c]).ljust(widths[c]) for c in columns))
    print(f"\ninternal service contacted by a redirect: {internal_contacted} time(s)")
    print(f"settings: market defaults (see the README's fetch table), retries 0, deadline_seconds {args.deadline:g}")
    from earshot.config import FetchSettings

    for name, value in FetchSettings().model_dump().items():
        print(f"  fetch.{name}: {value!r}")
    return 0 if all(r["controls"] == "loaded" and r["env value"] == "nowhere" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
