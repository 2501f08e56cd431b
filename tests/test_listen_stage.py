"""The listen stage over real HTTP on loopback: isolation of failures, conditional GET, idempotency."""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from pathlib import Path

import pytest
import yaml

from earshot import listen
from earshot.cli import main
from earshot.runs import RunContext
from tests.conftest import LoopbackServer, Reply, rss
from warehouse.connection import reader


def stories(count: int, description: str) -> bytes:
    """A feed of ``count`` restore stories; ``description`` is formatted with the story number ``i``."""
    return rss(
        [
            {"guid": f"g{i}", "title": f"Backup restore story {i}", "link": f"https://f.example/{i}",
             "description": description.format(i=i)}
            for i in range(count)
        ]
    )  # fmt: skip


GOOD = stories(5, "&lt;p&gt;We restored client {i} in &lt;b&gt;two hours&lt;/b&gt;.&lt;/p&gt;")
BOZO = rss([{"guid": "b1", "title": "Tips & tricks"}, {"guid": "b2", "title": "Second post"}])


def conditional(body: bytes) -> object:
    etag = '"' + hashlib.sha256(body).hexdigest()[:12] + '"'

    def reply(handler) -> Reply:  # type: ignore[no-untyped-def]
        if handler.headers.get("If-None-Match") == etag:
            return Reply(304)
        return Reply(200, body, {"ETag": etag, "Content-Type": "application/rss+xml"})

    return reply


def write_market(path: Path, server: LoopbackServer, routes: dict[str, str], retries: int = 0) -> Path:
    audiences = ["customers", "customers_customers", "influencers"]
    plan = {
        "company": {"name": "Testco"},
        "offer": {"summary": "Backups"},
        "audiences": {a: {} for a in audiences},
        "fetch": {"timeout_seconds": 2, "retries": retries},
        "sources": [
            {"id": source_id, "kind": "feed", "audience": audiences[i % 3], "url": server.url(route)}
            for i, (source_id, route) in enumerate(routes.items())
        ],
    }
    path.write_text(yaml.safe_dump(plan))
    return path


@pytest.fixture
def market(tmp_path: Path, http_server: LoopbackServer, earshot_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    http_server.routes.update(
        {
            "/good.xml": conditional(GOOD),
            "/bozo.xml": Reply(200, BOZO),
            "/html": Reply(200, b"<!doctype html><html><body>Log in</body></html>", {"Content-Type": "text/html"}),
            "/down": Reply(503),
        }
    )
    path = write_market(
        tmp_path / "market.yaml",
        http_server,
        {
            "good": "/good.xml",
            "bozo": "/bozo.xml",
            "login-page": "/html",
            "down": "/down",
            "missing": "/nope",
        },
    )
    monkeypatch.setenv("EARSHOT_CONFIG", str(path))
    return path


def table(db: Path, sql: str) -> list[tuple]:
    with reader(db) as con:
        return con.execute(sql).fetchall()


def test_broken_sources_never_stop_the_others(
    market: Path, earshot_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--stage", "listen"]) == 3  # finished, but some sources failed
    db = earshot_home / "earshot.duckdb"
    health = {
        r[0]: r[1:]
        for r in table(
            db,
            "SELECT source_id, last_status, last_error_kind, consecutive_failures, items_last_run FROM sources",
        )
    }
    assert health == {
        "good": ("ok", None, 0, 5),
        "bozo": ("warning", None, 0, 2),
        "login-page": ("error", "not_a_feed", 1, 0),
        "down": ("error", "http_5xx", 1, 0),
        "missing": ("error", "http_4xx", 1, 0),
    }
    errors = dict(table(db, "SELECT source_id, error FROM fetches WHERE status = 'error'"))
    assert errors["login-page"] == "source 'login-page': not_a_feed: the URL returned an HTML page, not a feed"
    assert "source 'down': http_5xx:" in errors["down"] and "answered HTTP 503" in errors["down"]
    err = capsys.readouterr().err
    assert "! missing: source 'missing': http_4xx" in err
    mentions = table(db, "SELECT source_id, count(*) FROM mentions GROUP BY 1 ORDER BY 1")
    assert mentions == [("bozo", 2), ("good", 5)]
    texts = table(db, "SELECT text FROM mentions WHERE source_id = 'good' ORDER BY mention_id LIMIT 1")
    assert "<" not in texts[0][0] and "two hours" in texts[0][0]


def test_second_run_uses_conditional_get_and_changes_nothing(
    market: Path, earshot_home: Path, http_server: LoopbackServer
) -> None:
    db = earshot_home / "earshot.duckdb"
    stable = "SELECT * EXCLUDE (last_seen_run, last_seen_at) FROM mentions ORDER BY mention_id"
    main(["run", "--stage", "listen"])
    before = table(db, stable)
    main(["run", "--stage", "listen"])
    assert table(db, stable) == before and len(before) == 7
    good_requests = [headers for path, headers in http_server.seen if path == "/good.xml"]
    assert "If-None-Match" not in good_requests[0] and good_requests[1]["If-None-Match"].startswith('"')
    statuses = table(db, "SELECT status, http_status, items FROM fetches WHERE source_id = 'good' ORDER BY fetched_at")
    assert statuses == [("ok", 200, 5), ("not_modified", 304, 0)]
    assert table(db, "SELECT consecutive_failures FROM sources WHERE source_id = 'down'") == [(2,)]
    assert table(db, "SELECT count(*) FROM runs WHERE stage = 'listen' AND status = 'partial'") == [(2,)]


def test_raw_payloads_are_landed_once_with_a_manifest_of_every_fetch(market: Path, earshot_home: Path) -> None:
    main(["run", "--stage", "listen"])
    main(["run", "--stage", "listen"])  # 304 for good; bozo is re-sent unchanged
    landed = sorted((earshot_home / "landing").rglob("*.payload.gz"))
    # every body received is kept once, a non-feed too (for diagnosis); 304s and HTTP errors land nothing
    assert [p.parent.parent.name for p in landed] == ["source=bozo", "source=good", "source=login-page"]
    assert gzip.decompress(landed[1].read_bytes()) == GOOD
    manifests = {
        p.parent.parent.name: [json.loads(line) for line in p.read_text().splitlines()]
        for p in (earshot_home / "landing").rglob("manifest.jsonl")
    }
    assert [e["status"] for e in manifests["source=good"]] == ["ok", "not_modified"]
    assert [e["status"] for e in manifests["source=bozo"]] == ["warning", "warning"]
    assert [e["status"] for e in manifests["source=login-page"]] == ["error", "error"]
    first = manifests["source=good"][0]
    assert first["payloads"][0]["file"] == landed[1].name
    assert first["source"]["url"].endswith("/good.xml") and first["cursor"]["etag"].startswith('"')
    assert "source=down" not in manifests  # nothing was received


def test_reloading_a_run_is_idempotent(market: Path, earshot_home: Path) -> None:
    ctx = RunContext.create(run_id="fixed-run")
    specs = listen.plan(ctx)
    for spec in specs:
        listen.fetch(ctx, spec)
    ids = [s["source_id"] for s in specs]
    first = listen.load(ctx, ids)
    db = earshot_home / "earshot.duckdb"
    snapshot = table(db, "SELECT (SELECT count(*) FROM mentions), (SELECT count(*) FROM fetches)")
    second = listen.load(ctx, ids)  # a retried load task
    assert table(db, "SELECT (SELECT count(*) FROM mentions), (SELECT count(*) FROM fetches)") == snapshot
    assert (first["new"], second["new"]) == (7, 0)


def test_a_fetch_that_died_is_recorded_as_an_error(market: Path, earshot_home: Path) -> None:
    ctx = RunContext.create(run_id="crashed-fetch")
    listen.plan(ctx)  # no fetch ever ran for any source
    summary = listen.load(ctx, ["good"])
    assert summary["failed"] == 1
    assert "no fetch outcome recorded" in summary["errors"]["good"]


def snapshot(db: Path) -> dict[str, list[tuple]]:
    return {
        "mentions": table(db, "SELECT * FROM mentions ORDER BY mention_id"),
        "mention_sources": table(db, "SELECT * FROM mention_sources ORDER BY source_id, item_id"),
        "cursors": table(db, "SELECT source_id, cursor FROM sources WHERE cursor IS NOT NULL ORDER BY 1"),
    }


def test_replay_rebuilds_identical_mentions_from_the_landing_zone(
    market: Path,
    earshot_home: Path,
    http_server: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["run", "--stage", "listen"])
    grown = stories(7, "Edited: client {i} restored.")
    http_server.routes["/good.xml"] = conditional(grown)  # new items, an edited one, a new ETag
    main(["run", "--stage", "listen"])
    live = snapshot(earshot_home / "earshot.duckdb")
    assert len(live["mentions"]) == 9 and live["cursors"]

    assert main(["replay"]) == 1  # refuses to touch a warehouse that holds mentions
    assert "replay rebuilds an empty warehouse" in capsys.readouterr().err

    monkeypatch.setenv("EARSHOT_WAREHOUSE", str(earshot_home / "rebuilt.duckdb"))
    assert main(["replay"]) == 0
    assert "replay: 2 runs" in capsys.readouterr().out
    assert snapshot(earshot_home / "rebuilt.duckdb") == live


def test_a_source_that_keeps_failing_is_flagged_loudly(
    market: Path, earshot_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(3):
        main(["run", "--stage", "listen"])
    err = capsys.readouterr().err
    assert "FAILING: down has failed 3 runs in a row; last error: source 'down': http_5xx" in err
    assert main(["sources"]) == 4
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert lines["down"][3] == "failing" and lines["good"][3] == "not_modified"
    assert lines["good"][4:6] == ["0", "5"]  # items last run, items in all
    health = table(
        earshot_home / "earshot.duckdb", "SELECT items_recent_runs FROM source_health WHERE source_id = 'good'"
    )
    assert health == [([0, 0, 5],)]


def test_rate_limits_are_honoured_within_the_run(
    tmp_path: Path, http_server: LoopbackServer, earshot_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def limited(handler) -> Reply:  # type: ignore[no-untyped-def]
        calls.append(time.monotonic())
        ok = Reply(200, GOOD, {"Content-Type": "application/rss+xml"})
        return Reply(429, headers={"Retry-After": "1"}) if len(calls) == 1 else ok

    http_server.routes["/limited.xml"] = limited
    monkeypatch.setenv(
        "EARSHOT_CONFIG", str(write_market(tmp_path / "m.yaml", http_server, {"limited": "/limited.xml"}, retries=2))
    )
    assert main(["run", "--stage", "listen"]) == 0
    assert len(calls) == 2 and calls[1] - calls[0] >= 0.95  # waited as asked, then succeeded
    fetch = table(earshot_home / "earshot.duckdb", "SELECT status, attempts, items FROM fetches")
    assert fetch == [("ok", 2, 5)]
