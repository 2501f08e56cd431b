"""Every kind of source through the listen stage at once, over loopback: one warehouse, one run, and
a second run that brings nothing new. Replay rebuilds the same mentions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from earshot.cli import main
from tests.conftest import LoopbackServer, Reply, rss
from warehouse.connection import reader

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def market(tmp_path: Path, http_server: LoopbackServer, earshot_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    hn = (FIXTURES / "hackernews" / "search_by_date.json").read_bytes()
    reviews = (FIXTURES / "appstore" / "customerreviews_page1.json").read_bytes()

    def route(handler) -> Reply:  # type: ignore[no-untyped-def]
        if handler.path.startswith("/hn/search_by_date"):
            return Reply(200, hn, {"Content-Type": "application/json"})
        if "/page=1/" in handler.path:
            return Reply(200, reviews, {"Content-Type": "application/json"})
        if "customerreviews" in handler.path:
            return Reply(200, b'{"feed": {}}', {"Content-Type": "application/json"})
        if handler.headers.get("If-None-Match") == '"f1"':
            return Reply(304)
        return Reply(
            200,
            rss([{"guid": "1", "title": "Restores on trial", "link": "https://blog.example/restores"}]),
            {"Content-Type": "application/rss+xml", "ETag": '"f1"'},
        )

    http_server.routes = _Everything(route)  # type: ignore[assignment]  # one handler for every path
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "survey.csv").write_text(
        "id,answer,stars,when\n1,We lost a day of sales when the till died,2,2026-11-01\n"
        "2,Backups saved us after ransomware,5,2026-11-02\n"
    )
    plan = {
        "company": {"name": "Testco"},
        "offer": {"summary": "Backups"},
        "audiences": {a: {} for a in ("customers", "customers_customers", "influencers")},
        "fetch": {"retries": 0},
        "sources": [
            {
                "id": "blog",
                "kind": "feed",
                "audience": "influencers",
                "url": http_server.url("/blog.xml"),
                "influencer": True,
            },
            {
                "id": "hn",
                "kind": "hackernews",
                "audience": "influencers",
                "queries": ["backup"],
                "base_url": http_server.url("/hn"),
            },
            {
                "id": "app",
                "kind": "appstore",
                "audience": "customers_customers",
                "app_id": "123456789",
                "pages": 2,
                "base_url": http_server.base_url,
            },
            {
                "id": "survey",
                "kind": "filedrop",
                "audience": "customers_customers",
                "folder": "drops",
                "columns": {"id": "id", "text": "answer", "rating": "stars", "date": "when"},
            },
        ],
    }
    path = tmp_path / "market.yaml"
    path.write_text(yaml.safe_dump(plan))
    monkeypatch.setenv("EARSHOT_CONFIG", str(path))
    return path


class _Everything(dict):
    """A routes mapping that answers every path with one handler."""

    def __init__(self, handler: object) -> None:
        super().__init__()
        self.handler = handler

    def get(self, key: object, default: object = None) -> object:
        return self.handler


def rows(db: Path, sql: str) -> list[tuple]:
    with reader(db) as con:
        return con.execute(sql).fetchall()


def test_every_kind_lands_in_one_warehouse_and_a_second_run_brings_nothing_new(
    market: Path, earshot_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--stage", "listen"]) == 0
    db = earshot_home / "earshot.duckdb"
    kinds = dict(rows(db, "SELECT source_id, list(DISTINCT kind ORDER BY kind) FROM mentions GROUP BY 1"))
    assert kinds["blog"] == ["article"] and kinds["app"] == ["review"] and kinds["survey"] == ["review"]
    assert set(kinds["hn"]) <= {"post", "comment"} and kinds["hn"]
    ratings = rows(db, "SELECT rating FROM mentions WHERE source_id = 'survey' ORDER BY rating")
    assert ratings == [(2.0,), (5.0,)]
    assert rows(db, "SELECT bool_and(influencer) FROM mention_sources WHERE source_id = 'blog'") == [(True,)]
    before = rows(db, "SELECT count(*) FROM mentions")

    assert main(["run", "--stage", "listen"]) == 0
    assert "0 new" in capsys.readouterr().out.splitlines()[-1]
    assert rows(db, "SELECT count(*) FROM mentions") == before
    second = dict(
        rows(
            db,
            "SELECT source_id, status FROM fetches WHERE run_id = "
            "(SELECT run_id FROM runs WHERE stage = 'listen' ORDER BY finished_at DESC LIMIT 1)",
        )
    )
    assert second["blog"] == "not_modified"
    cursor = json.loads(rows(db, "SELECT cursor FROM sources WHERE source_id = 'survey'")[0][0])
    assert list(cursor["files"]) == ["survey.csv"]

    snapshot = rows(db, "SELECT * FROM mentions ORDER BY mention_id")
    monkeypatch.setenv("EARSHOT_WAREHOUSE", str(earshot_home / "rebuilt.duckdb"))
    assert main(["replay"]) == 0
    assert rows(earshot_home / "rebuilt.duckdb", "SELECT * FROM mentions ORDER BY mention_id") == snapshot
