"""One ``earshot run --stage listen`` with every hostile source at once beside normal ones: each hostile
source fails (or loads) on its own with the promised error kind, the normal ones load, the run's time and
peak memory stay bounded, and a secret in the environment ends up nowhere.

The run happens in a child process, so its peak memory (VmHWM) is its own and its stdout/stderr can be
searched; the hostile servers run here, on loopback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import LoopbackServer, Reply, rss
from tests.hostile import (
    RawServer,
    deep_json,
    drip_headers,
    endless_chunked,
    internal_service,
    layered_gzip_bomb,
    listen_in_child,
    quadratic_entity_feed,
    stored_bytes,
)
from warehouse.connection import reader

SECRET = "earshot-test-secret-9c41d2"
AUDIENCES = ("customers", "customers_customers", "influencers")
GOOD = rss([{"guid": f"g{i}", "title": f"Restore story {i}", "description": f"Client {i} restored"} for i in range(5)])


@pytest.fixture
def raw_servers() -> Iterator[dict[str, RawServer]]:
    servers = {"drip": RawServer(drip_headers(0.05)), "endless": RawServer(endless_chunked())}
    yield servers
    for server in servers.values():
        server.close()


@pytest.fixture
def internal() -> Iterator[LoopbackServer]:
    with internal_service() as server:
        yield server


def feed(source_id: str, url: str, **extra: object) -> dict:
    return {"id": source_id, "kind": "feed", "audience": "customers", "url": url, **extra}


def drops(tmp_path: Path) -> dict[str, Path]:
    """The control drop, a hostile one (links out, a pipe, a name that is not UTF-8, a deep JSON line) and
    one whose header would echo whatever it holds."""
    control, hostile, columns = tmp_path / "control", tmp_path / "hostile", tmp_path / "columns"
    for folder in (control, hostile, columns):
        folder.mkdir()
    (control / "survey.csv").write_text("answer\nWe lost a day of sales\nBackups saved us\n")
    outside = tmp_path / "outside.csv"
    outside.write_text(f"answer\n{SECRET}\n")
    (hostile / "environ.csv").symlink_to("/proc/self/environ")
    (hostile / "passwd.csv").symlink_to("/etc/passwd")
    (hostile / "outside.csv").symlink_to(outside)
    os.mkfifo(hostile / "pipe.csv")
    (hostile / os.fsdecode(b"r\xe9sum\xe9 \x1b[2J.csv")).write_bytes(b"answer\nOdd name, sound content\n")
    (hostile / "deep.jsonl").write_bytes(deep_json(100_000) + b'\n{"answer": "after the deep line"}\n')
    (columns / "export.csv").write_bytes(b"\x1b]0;title\x07" + b"x" * 100_000 + b",other\n1,2\n")
    return {"control": control, "hostile": hostile, "columns": columns}


@pytest.fixture
def market(
    tmp_path: Path, http_server: LoopbackServer, internal: LoopbackServer, raw_servers: dict[str, RawServer]
) -> Path:
    hn_odd = b'{"nbPages": 1, "hits": [{"objectID": "1", "title": "Fine", "created_at_i": 100000000000000000000},' \
             b'{"objectID": "2", "comment_text": ["a", "list"]}]}'  # fmt: skip
    http_server.routes.update({
        "/good.xml": Reply(200, GOOD, {"Content-Type": "application/rss+xml"}),
        "/quadratic.xml": Reply(200, quadratic_entity_feed()),
        "/bomb.xml": Reply(200, layered_gzip_bomb(), {"Content-Encoding": "gzip, gzip"}),
        "/to-internal.xml": Reply(302, headers={"Location": internal.url("/secret")}),
        "/to-file.xml": Reply(302, headers={"Location": "file:///proc/self/environ"}),
        "/to-metadata.xml": Reply(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}),
    })  # fmt: skip

    def hn(handler) -> Reply:  # type: ignore[no-untyped-def]
        return Reply(200, deep_json(100_000) if "deep" in handler.path else hn_odd)

    for path in ("/deep/search_by_date", "/odd/search_by_date"):
        http_server.routes[path] = hn  # the query string varies: matched by prefix below
    http_server.routes = _Prefixed(http_server.routes)  # type: ignore[assignment]
    folders = drops(tmp_path)
    columns = {"text": "answer"}
    plan = {
        "company": {"name": "Testco"},
        "offer": {"summary": "Backups"},
        "audiences": {a: {} for a in AUDIENCES},
        "fetch": {"retries": 0, "timeout_seconds": 1, "deadline_seconds": 5, "max_bytes": 1_000_000},
        "sources": [
            feed("good", http_server.url("/good.xml")),
            {"id": "control-drop", "kind": "filedrop", "audience": "customers_customers",
             "folder": str(folders["control"]), "columns": columns},
            feed("quadratic", http_server.url("/quadratic.xml")),
            feed("gzip-bomb", http_server.url("/bomb.xml")),
            feed("drip", raw_servers["drip"].url + "/feed.xml", fetch={"deadline_seconds": 0.5}),
            feed("endless", raw_servers["endless"].url + "/feed.xml"),
            feed("to-internal", http_server.url("/to-internal.xml")),
            feed("to-file", http_server.url("/to-file.xml")),
            feed("to-metadata", http_server.url("/to-metadata.xml")),
            {"id": "hn-deep", "kind": "hackernews", "audience": "influencers", "queries": ["x"],
             "base_url": http_server.url("/deep")},
            {"id": "hn-odd", "kind": "hackernews", "audience": "influencers", "queries": ["x"],
             "base_url": http_server.url("/odd")},
            {"id": "hostile-drop", "kind": "filedrop", "audience": "customers", "folder": str(folders["hostile"]),
             "columns": columns},
            {"id": "columns-drop", "kind": "filedrop", "audience": "customers", "folder": str(folders["columns"]),
             "columns": columns},
        ],
    }  # fmt: skip
    path = tmp_path / "market.yaml"
    path.write_text(yaml.safe_dump(plan))
    return path


class _Prefixed(dict):
    """Routes matched on the path without its query string."""

    def get(self, path: str, default: object = None) -> object:  # type: ignore[override]
        return super().get(path.split("?", 1)[0], default)


def test_hostile_sources_fail_alone_and_leak_nothing(
    market: Path, earshot_home: Path, internal: LoopbackServer
) -> None:
    done, seconds, peak = listen_in_child(earshot_home, market, {"EARSHOT_TEST_SECRET": SECRET})
    assert done.returncode == 3, done.stderr  # finished; some sources failed
    with reader(earshot_home / "earshot.duckdb") as con:
        health = {
            r[0]: r[1:] for r in con.execute("SELECT source_id, last_status, last_error_kind FROM sources").fetchall()
        }
        items = dict(con.execute("SELECT source_id, count(*) FROM mention_sources GROUP BY 1").fetchall())
        warnings = dict(con.execute("SELECT source_id, warning FROM fetches WHERE warning IS NOT NULL").fetchall())
        errors = dict(con.execute("SELECT source_id, error FROM fetches WHERE error IS NOT NULL").fetchall())
        (cursor,) = con.execute("SELECT cursor FROM sources WHERE source_id = 'hostile-drop'").fetchone()
    assert health == {
        "good": ("ok", None),
        "control-drop": ("ok", None),
        "quadratic": ("warning", None),
        "gzip-bomb": ("error", "too_large"),
        "drip": ("error", "timeout"),
        "endless": ("error", "too_large"),
        "to-internal": ("error", "redirect_refused"),
        "to-file": ("error", "redirect_refused"),
        "to-metadata": ("error", "redirect_refused"),
        "hn-deep": ("error", "malformed"),
        "hn-odd": ("warning", None),  # one hit without text skipped
        "hostile-drop": ("warning", None),
        "columns-drop": ("error", "malformed"),
    }
    assert items == {"good": 5, "control-drop": 2, "quadratic": 1, "hn-odd": 1, "hostile-drop": 2}
    assert internal.seen == []
    assert sorted(json.loads(cursor)["files"]) == ["deep.jsonl", "r\\xe9sum\\xe9 \\x1b[2J.csv"]  # the name, escaped
    assert "1 line(s) skipped" in warnings["hostile-drop"] and "outside the folder" in warnings["hostile-drop"]
    assert "\x1b" not in errors["columns-drop"] and len(errors["columns-drop"]) < 400

    stored = stored_bytes(earshot_home)
    assert SECRET.encode() not in stored
    assert SECRET not in done.stdout and SECRET not in done.stderr
    assert b"root:x:0:0" not in stored

    print(f"listen run: {seconds:.1f}s, peak RSS {peak / 2**20:.0f} MiB")
    assert seconds < 30  # the stage alone; without the deadline the dripping source never ends
    assert peak < 400 * 2**20  # peak RSS of the whole run (about 150 MiB); the gzip bomb alone took 1.6 GB before


def test_text_that_cannot_be_utf8_still_stages() -> None:
    """A lone surrogate (a file name that is not UTF-8, ``\\ud800`` in a source's JSON) made DuckDB's reader
    refuse the staged rows, and so the whole load, run after run."""
    import duckdb

    from warehouse.bulk import staged

    con = duckdb.connect()
    rows = [("file caf\udce9.csv: skipped", "\ud800 alone"), ("fine é", "\U0001f600 paired")]
    with staged(con, "odd", {"warning": "VARCHAR", "text": "VARCHAR"}, rows) as count:
        stored = con.execute("SELECT warning, text FROM odd").fetchall()
    assert count == 2
    assert stored == [("file caf\ufffd.csv: skipped", "\ufffd alone"), ("fine é", "\U0001f600 paired")]
