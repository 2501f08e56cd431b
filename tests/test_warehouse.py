"""The warehouse: migrations, idempotent loads, all-or-nothing commits, one writer at a time."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from listeners.mention import Mention, content_hash, stable_id
from warehouse.connection import WarehouseBusyError, reader, writer
from warehouse.extensions import load_extensions
from warehouse.load import FetchRecord, SourceRow, cursors, record_fetches, sync_sources
from warehouse.migrate import available, current_version

RUN_AT = datetime(2026, 11, 16, 12, tzinfo=UTC)
TABLES = (
    "sources",
    "fetches",
    "mentions",
    "mention_sources",
    "embeddings",
    "themes",
    "theme_members",
    "theme_quotes",
    "runs",
)


def mention(source: str, key: str, text: str, url: str | None = None, audience: str = "customers") -> Mention:
    return Mention(
        stable_id(source, key), source, audience, url or f"https://{source}.example/{key}", "ann", "", text,
        RUN_AT, content_hash(text),
    )  # fmt: skip


def records(n: int = 3) -> list[FetchRecord]:
    return [
        FetchRecord(
            "forum", "ok", RUN_AT, 200,
            cursor={"etag": '"e1"', "last_modified": "Mon, 16 Nov 2026 10:00:00 GMT"},
            mentions=[mention("forum", f"k{i}", f"text number {i}") for i in range(n)],
        ),
        FetchRecord("blog", "error", RUN_AT, error_kind="http_5xx", error="source 'blog': http_5xx: 503"),
    ]  # fmt: skip


def counts(db: Path) -> dict[str, int]:
    with reader(db) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}  # type: ignore[index]


def setup_sources(db: Path) -> None:
    with writer(db) as con:
        sync_sources(
            con,
            [
                SourceRow("forum", "feed", "customers", "Forum", "http://f", False),
                SourceRow("blog", "feed", "influencers", "Blog", "http://b", True),
            ],
        )


def test_migrations_apply_once_and_record_their_version(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with writer(db) as con:
        assert current_version(con) == available()[-1].version
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert set(TABLES) <= tables
    with writer(db) as con:  # re-opening applies nothing twice
        assert con.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(available())  # type: ignore[index]


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with writer(db) as con:
        con.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'future')")
    with pytest.raises(RuntimeError, match="newer than this earshot knows"), writer(db):
        pass


def test_loading_the_same_run_twice_leaves_identical_rows(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    setup_sources(db)
    with writer(db) as con:
        first = record_fetches(con, "run-1", RUN_AT, records())
    snapshot = counts(db)
    with writer(db) as con:
        again = record_fetches(con, "run-1", RUN_AT, records())
        health = con.execute("SELECT consecutive_failures FROM sources WHERE source_id = 'blog'").fetchone()
    assert counts(db) == snapshot
    assert (first["new"], again["new"]) == (3, 0)
    assert snapshot["mentions"] == snapshot["mention_sources"] == 3 and snapshot["fetches"] == 2
    assert health == (2,)  # each recorded failure counts; the rows do not multiply


def test_state_advances_only_for_successful_sources(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    setup_sources(db)
    with writer(db) as con:
        record_fetches(con, "run-1", RUN_AT, records())
        state = cursors(con)
        blog = con.execute(
            "SELECT last_status, last_error_kind, last_success_at FROM sources WHERE source_id='blog'"
        ).fetchone()
    assert state["forum"] == {"etag": '"e1"', "last_modified": "Mon, 16 Nov 2026 10:00:00 GMT"}
    assert state["blog"] is None
    assert blog == ("error", "http_5xx", None)


def test_a_second_run_updates_and_adds_without_duplicating(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    setup_sources(db)
    with writer(db) as con:
        record_fetches(con, "run-1", RUN_AT, records(3))
        record_fetches(con, "run-2", RUN_AT, records(5))
        rows = con.execute(
            "SELECT first_seen_run, last_seen_run, count(*) FROM mentions GROUP BY ALL ORDER BY 1, 2"
        ).fetchall()
    assert rows == [("run-1", "run-2", 3), ("run-2", "run-2", 2)]


def test_removed_sources_are_disabled_not_deleted(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    setup_sources(db)
    with writer(db) as con:
        sync_sources(con, [SourceRow("forum", "feed", "customers", "Forum", "http://f", False)])
        assert con.execute("SELECT source_id, enabled FROM sources ORDER BY 1").fetchall() == [
            ("blog", False),
            ("forum", True),
        ]


def test_one_conversation_from_two_sources_is_stored_once_with_both_provenances(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    setup_sources(db)
    article = "https://blog.example/why-restores-fail"
    long_text = "Immutable backups are worthless if nobody has ever tested a full restore of the office"
    forum = [
        mention("forum", "p1", "We read this and tested our restores", url=article + "?utm_source=rss"),
        mention("forum", "p2", long_text),
        mention("forum", "p3", "Thanks!"),
    ]
    blog = [
        mention(
            "blog",
            "b1",
            "Why restores fail: a field guide",
            url="https://www.blog.example/why-restores-fail/",
            audience="influencers",
        ),
        mention(
            "blog", "b2", "  immutable BACKUPS are worthless, if nobody has ever tested a full restore of the office!"
        ),
        mention("blog", "b3", "thanks"),
    ]
    records_ = [FetchRecord("forum", "ok", RUN_AT, mentions=forum), FetchRecord("blog", "ok", RUN_AT, mentions=blog)]
    with writer(db) as con:
        totals = record_fetches(con, "run-1", RUN_AT, records_)
        conversations = con.execute("SELECT count(*) FROM mentions").fetchone()
        provenance = con.execute(
            "SELECT mention_id, list(source_id ORDER BY source_id), list(audience ORDER BY source_id) "
            "FROM mention_sources GROUP BY 1 HAVING count(*) > 1 ORDER BY 1"
        ).fetchall()
        again = record_fetches(con, "run-2", RUN_AT, list(reversed(records_)))
        stable = con.execute("SELECT count(*) FROM mentions").fetchone()
    assert conversations == (4,)  # same URL (tracking and www aside) and same words merge; "Thanks!" does not
    assert totals["merged"] == 2
    assert sorted(p[1:] for p in provenance) == [
        (["blog", "forum"], ["customers", "customers"]),  # same words (b2 ~ p2)
        (["blog", "forum"], ["influencers", "customers"]),  # same URL (b1 ~ p1)
    ]
    assert again["new"] == 0 and stable == (4,)  # items stay in their conversation on later runs


def test_upgrading_a_version_1_warehouse_keeps_its_data(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
        "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    con.execute(available()[0].sql)
    con.execute("INSERT INTO schema_migrations (version, name) VALUES (1, 'init')")
    con.execute(
        "INSERT INTO sources (source_id, kind, audience, etag, last_modified) "
        "VALUES ('forum', 'feed', 'customers', '\"v7\"', 'Mon, 16 Nov 2026 10:00:00 GMT')"
    )
    con.execute(
        "INSERT INTO mentions VALUES ('m1', 'forum', 'customers', 'https://f.example/1', 'ann', 't', "
        "'text', NULL, 'h', 'run-0', 'run-0', now(), now())"
    )
    con.close()
    with writer(db) as con:
        assert current_version(con) == available()[-1].version
        assert cursors(con)["forum"] == {"etag": '"v7"', "last_modified": "Mon, 16 Nov 2026 10:00:00 GMT"}
        assert con.execute("SELECT source_id, item_id, mention_id FROM mention_sources").fetchall() == [
            ("forum", "m1", "m1")
        ]
        assert con.execute("SELECT kind, flags, influencer FROM mentions").fetchall() == [("article", [], False)]


CRASH = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import UTC, datetime
    sys.path.insert(0, {root!r})
    import warehouse.load as load
    from tests.test_warehouse import records, RUN_AT
    from warehouse.connection import writer

    real = load._record_health
    def dying(*args):
        real(*args)   # mid-transaction: mentions, provenance, cursors and health written, not committed
        os.kill(os.getpid(), signal.SIGKILL)
    load._record_health = dying
    with writer({db!r}) as con:
        load.record_fetches(con, "run-2", RUN_AT, records(6))
    """
)


def test_a_load_killed_midway_leaves_the_warehouse_as_before(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    setup_sources(db)
    with writer(db) as con:
        record_fetches(con, "run-1", RUN_AT, records(3))
    before = counts(db)
    script = CRASH.format(root=str(Path(__file__).parents[1]), db=str(db))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert proc.returncode == -9, proc.stderr
    assert counts(db) == before
    with reader(db) as con:
        assert con.execute("SELECT count(*) FROM fetches WHERE run_id = 'run-2'").fetchone() == (0,)


def waiting_order(
    holding: contextlib.AbstractContextManager, waiting: Callable[[], contextlib.AbstractContextManager]
) -> list[str]:
    """Which finishes first: the holder (released after 0.5 s), or ``waiting`` started in another thread."""
    order: list[str] = []

    def second() -> None:
        with waiting():
            order.append("second")

    with holding:
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)
        order.append("first")
    thread.join(10)
    return order


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    setup_sources(db)
    assert waiting_order(writer(db), lambda: writer(db)) == ["first", "second"]
    with writer(db), pytest.raises(WarehouseBusyError, match="is busy"), writer(db, wait_seconds=0.3):
        pass


def test_readers_share_the_warehouse_and_a_writer_waits_for_them(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    setup_sources(db)
    with reader(db), reader(db, wait_seconds=1):  # two readers at once
        pass
    assert waiting_order(reader(db), lambda: writer(db)) == ["first", "second"]
    assert waiting_order(writer(db), lambda: reader(db)) == ["first", "second"]


def test_extensions_load_from_their_wheels() -> None:
    con = duckdb.connect()
    load_extensions(con, "fts", "vss")
    loaded = {r[0] for r in con.execute("SELECT extension_name FROM duckdb_extensions() WHERE loaded").fetchall()}
    assert {"fts", "vss"} <= loaded
    con.execute("CREATE TABLE v (id INT, vec FLOAT[3])")
    con.execute("INSERT INTO v VALUES (1, [1, 0, 0]), (2, [0, 1, 0])")
    con.execute("CREATE INDEX v_hnsw ON v USING HNSW (vec)")
    nearest = con.execute("SELECT id FROM v ORDER BY array_distance(vec, [0.9, 0.1, 0]::FLOAT[3]) LIMIT 1").fetchone()
    assert nearest == (1,)


def test_a_source_whose_every_item_was_heard_elsewhere_loads(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    setup_sources(db)
    text = "Our insurer now asks for immutable backups and tested restores before renewing the policy"
    with writer(db) as con:
        record_fetches(
            con, "run-1", RUN_AT, [FetchRecord("forum", "ok", RUN_AT, mentions=[mention("forum", "a", text)])]
        )
        totals = record_fetches(
            con, "run-2", RUN_AT, [FetchRecord("blog", "ok", RUN_AT, mentions=[mention("blog", "b", text)])]
        )
        rows = con.execute("SELECT count(*), (SELECT count(*) FROM mention_sources) FROM mentions").fetchone()
    assert (totals["new"], totals["merged"]) == (1, 1)
    assert rows == (1, 2)
