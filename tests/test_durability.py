"""A crash at the wrong moment: the write-ahead log a killed writer leaves, what DuckDB 1.5.5 cannot replay,
and the way back (the log replayed safely, or set aside and the mentions re-loaded from the landing zone);
schema changes that never wait in the log; one transaction per listen load; the writer lock."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest
import yaml

from earshot.cli import main
from earshot.doctor import FAIL, run_checks
from tests.conftest import LoopbackServer, Reply, rss
from warehouse import wal
from warehouse.connection import WarehouseBusyError, WarehouseDamagedError, reader, writer
from warehouse.migrate import _SCHEMA_MIGRATIONS, available, schema_version

ROOT = Path(__file__).resolve().parents[1]

# A statement sequence whose log DuckDB 1.5.5 cannot replay even through ATTACH (a column retyped to an enum of
# another schema: duckdb issue #20543): the stand-in for "a log nothing can replay".
UNREPLAYABLE = [
    "CREATE SCHEMA scratch",
    "CREATE TYPE scratch.tier AS ENUM ('low', 'high')",
    "CREATE TABLE scratch.tasks (id INTEGER, tier VARCHAR)",
    "INSERT INTO scratch.tasks VALUES (1, 'low')",
    "ALTER TABLE scratch.tasks ALTER tier SET TYPE scratch.tier USING tier::scratch.tier",
]

KILLED_AFTER = textwrap.dedent(
    """
    import os, signal, sys, duckdb
    sys.path.insert(0, {root!r})
    con = duckdb.connect({db!r})
    for statement in {setup!r}:
        con.execute(statement)
    con.execute("CHECKPOINT")
    con.execute("BEGIN TRANSACTION")
    for statement in {logged!r}:
        con.execute(statement)
    con.execute("COMMIT")
    os.kill(os.getpid(), signal.SIGKILL)  # committed, in the log, never checkpointed
    """
)


def killed_after_commit(db: Path, logged: list[str], setup: tuple[str, ...] = ()) -> None:
    """A real process commits ``logged`` after a checkpoint and is killed before the next one."""
    script = KILLED_AFTER.format(root=str(ROOT), db=str(db), setup=list(setup), logged=logged)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert proc.returncode == -9, proc.stderr
    assert wal.has_wal(db)


def plain_open(db: Path) -> subprocess.CompletedProcess:
    """What any DuckDB client does: open the file and replay its log (in a child: it may not come back)."""
    script = "import duckdb, sys; duckdb.connect(sys.argv[1], read_only=True)"
    return subprocess.run([sys.executable, "-c", script, str(db)], capture_output=True, text=True, check=False)


def migrated_to(db: Path, version: int) -> None:
    """A warehouse as an earshot that shipped migrations up to ``version`` left it, checkpointed."""
    con = duckdb.connect(str(db))
    con.execute(_SCHEMA_MIGRATIONS)
    for migration in available()[:version]:
        con.execute(migration.sql)
        con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [migration.version, migration.name])
    con.close()


# --- what DuckDB 1.5.5 cannot replay (docs/duckdb-wal-replay.md) ------------------------------------------------


def test_duckdb_cannot_replay_a_column_comment_on_a_table_with_an_expression_default(tmp_path: Path) -> None:
    """The minimal reproduction: if DuckDB fixes this, this test fails; update docs/duckdb-wal-replay.md."""
    db = tmp_path / "repro.duckdb"
    killed_after_commit(
        db, ["COMMENT ON COLUMN t.a IS 'x'"], setup=("CREATE TABLE t (a INTEGER, f INTEGER[] DEFAULT [])",)
    )
    opened = plain_open(db)
    assert opened.returncode == 1 and "GetDefaultDatabase with no default database set" in opened.stderr
    assert wal.check(db).ok  # the same log replays when the file is attached to an in-memory database


def test_the_log_of_an_interrupted_upgrade_is_replayed_safely_and_nothing_is_lost(tmp_path: Path) -> None:
    """The issue's window: migration 9 (views, COMMENT ON every column) committed, then killed before any
    checkpoint, as earshot did before it committed migrations straight into the file."""
    db = tmp_path / "w.duckdb"
    migrated_to(db, 8)
    row = "INSERT INTO sources (source_id, kind, audience, name) VALUES ('s', 'feed', 'customers', 'S')"
    killed_after_commit(db, [available()[8].sql, "INSERT INTO schema_migrations VALUES (9, 'analyst_views', now())",
                             row])  # fmt: skip
    assert "GetDefaultDatabase" in plain_open(db).stderr  # what every open did: the warehouse was lost for good

    with reader(db) as con:  # earshot replays it in a child process, through ATTACH, and checkpoints it
        assert schema_version(con) == 9
        assert con.execute("SELECT count(*) FROM sources").fetchone() == (1,)
        comment = "SELECT comment FROM duckdb_columns() WHERE table_name = 'mentions' AND column_name = 'audience'"
        assert con.execute(comment).fetchone()[0].startswith("Audience of the source")
    assert not wal.wal_path(db).exists()
    assert plain_open(db).returncode == 0  # any DuckDB client opens it again


def test_migrations_commit_straight_into_the_file_never_into_the_log(tmp_path: Path) -> None:
    fresh, upgraded = tmp_path / "fresh.duckdb", tmp_path / "upgraded.duckdb"
    migrated_to(upgraded, 4)
    for db in (fresh, upgraded):
        with writer(db) as con:
            assert schema_version(con) == available()[-1].version
            assert not wal.wal_path(db).exists()  # every migration's commit is already in the file
            con.execute("INSERT INTO sources (source_id, kind, audience, name) VALUES ('s', 'feed', 'customers', 'S')")
            assert wal.has_wal(db)  # ordinary writes still use the log (DuckDB replays them fine)
            assert con.execute("SELECT current_setting('wal_autocheckpoint')").fetchone() == ("16.0 MiB",)


def test_a_torn_last_write_is_discarded_so_opens_stay_cheap(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    migrated_to(db, 9)
    killed_after_commit(db, ["INSERT INTO sources (source_id, kind, audience, name) SELECT 's' || range, 'feed', "
                             "'customers', 'S' FROM range(200)"])  # fmt: skip
    log = wal.wal_path(db)
    log.write_bytes(log.read_bytes()[: log.stat().st_size // 2])  # the commit cut off mid-write
    with reader(db) as con:
        assert con.execute("SELECT count(*) FROM sources").fetchone() == (0,)  # never committed: nothing to apply
    assert not log.exists()  # DuckDB would keep it until its next write, and every open would replay it again


# --- a log nothing can replay: a clear error, the doctor, the repair -------------------------------------------


WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet")


def feed(name: str, count: int) -> bytes:
    """``count`` stories, each its own conversation (own link, own words)."""
    return rss([{"guid": f"{name}{i}", "title": f"Restore story {name} {WORDS[i]}",
                 "link": f"https://{name}.example/{i}",
                 "description": f"Team {name} {WORDS[i]} restored a client from immutable backups after an outage."}
                for i in range(count)])  # fmt: skip


@pytest.fixture
def two_runs(tmp_path: Path, http_server: LoopbackServer, earshot_home: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Two listen runs on loopback feeds; the warehouse as it was after the first (its last checkpoint) kept."""
    http_server.routes.update({"/a.xml": Reply(200, feed("a", 4)), "/b.xml": Reply(200, feed("b", 3))})
    plan = {
        "company": {"name": "Testco"}, "offer": {"summary": "Backups"},
        "audiences": {a: {} for a in ("customers", "customers_customers", "influencers")},
        "sources": [{"id": "a", "kind": "feed", "audience": "customers", "url": http_server.url("/a.xml")},
                    {"id": "b", "kind": "feed", "audience": "influencers", "url": http_server.url("/b.xml")}],
    }  # fmt: skip
    (tmp_path / "market.yaml").write_text(yaml.safe_dump(plan))
    monkeypatch.setenv("EARSHOT_CONFIG", str(tmp_path / "market.yaml"))
    db = earshot_home / "earshot.duckdb"
    assert main(["run", "--stage", "listen"]) == 0
    checkpoint = tmp_path / "after-run-1.duckdb"
    shutil.copyfile(db, checkpoint)
    http_server.routes.update({"/a.xml": Reply(200, feed("a", 10)), "/b.xml": Reply(200, feed("b", 8))})
    assert main(["run", "--stage", "listen"]) == 0
    return {"db": db, "checkpoint": checkpoint, "clean": contents(db), "home": earshot_home}


def contents(db: Path) -> dict[str, list[tuple]]:
    with reader(db) as con:
        return {
            "mentions": con.execute("SELECT * FROM mentions ORDER BY mention_id").fetchall(),
            "provenance": con.execute("SELECT * FROM mention_sources ORDER BY source_id, item_id").fetchall(),
            "cursors": con.execute("SELECT source_id, cursor FROM sources ORDER BY 1").fetchall(),
            "listen runs": con.execute("SELECT run_id FROM runs WHERE stage = 'listen' ORDER BY 1").fetchall(),
        }


def crash_with_an_unreplayable_log(db: Path, checkpoint: Path) -> None:
    """The second run's writes are lost with a log that cannot be replayed; the file is the first checkpoint."""
    shutil.copyfile(checkpoint, db)
    killed_after_commit(db, UNREPLAYABLE)
    assert not wal.fold(db).ok


def test_an_unreplayable_log_is_one_clear_error_and_the_repair_restores_every_landed_mention(
    two_runs: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    db, clean = two_runs["db"], two_runs["clean"]
    assert len(clean["mentions"]) == 18
    crash_with_an_unreplayable_log(db, two_runs["checkpoint"])
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    capsys.readouterr()

    assert main(["run", "--stage", "listen"]) == 1  # the error, not a native crash: this process is still here
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"warehouse {db} cannot be opened" in err and str(wal.wal_path(db)) in err
    assert "earshot doctor --repair" in err
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before and wal.has_wal(db)  # nothing touched
    with pytest.raises(WarehouseDamagedError):
        writer(db).__enter__()

    checks = {c.name: c for c in run_checks(probe_sources=False, load_model=False)}
    assert checks["warehouse"].status == FAIL and "--repair" in checks["warehouse"].fix

    assert main(["doctor", "--repair"]) == 0
    out = capsys.readouterr().out
    assert "the last checkpoint held 7 mentions" in out
    assert "re-loaded 1 listen run(s) from the landing zone: 11 mentions restored, 18 now" in out
    assert "0 mentions lost" in out
    kept = list(db.parent.glob("earshot.duckdb.wal.unreplayable-*"))
    assert len(kept) == 1 and kept[0].stat().st_size > 0  # kept for a bug report
    assert contents(db) == clean  # identical to the warehouse the crash lost: run ids, cursors, provenance
    assert main(["run", "--stage", "listen"]) == 0


def test_the_repair_counts_what_the_landing_zone_no_longer_holds(
    two_runs: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    db, home = two_runs["db"], two_runs["home"]
    crash_with_an_unreplayable_log(db, two_runs["checkpoint"])
    newest = max((home / "landing" / "source=a").glob("date=*/*.payload.gz"), key=lambda p: p.stat().st_mtime_ns)
    newest.unlink()  # source a's second payload (items 4 to 9) was deleted from the landing zone
    capsys.readouterr()

    assert main(["doctor", "--repair"]) == 1
    out = capsys.readouterr().out
    assert "5 mentions restored, 12 now" in out  # source b's new items came back
    assert "6 item(s) heard after the checkpoint could not be restored" in out


def test_a_log_that_replays_is_folded_in_by_the_repair(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       earshot_home: Path) -> None:  # fmt: skip
    db = earshot_home / "earshot.duckdb"
    db.parent.mkdir(parents=True)
    migrated_to(db, 8)
    killed_after_commit(db, [available()[8].sql, "INSERT INTO schema_migrations VALUES (9, 'analyst_views', now())"])
    checks = {c.name: c for c in run_checks(probe_sources=False, load_model=False)}
    assert checks["warehouse"].status == "warning" and "replays" in checks["warehouse"].detail
    assert main(["doctor", "--repair"]) == 0
    assert "nothing lost" in capsys.readouterr().out
    assert plain_open(db).returncode == 0


# --- one transaction per listen load ---------------------------------------------------------------------------

KILLED_BEFORE_RUN_ROW = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {root!r})
    import earshot.listen
    def dying(*args, **kwargs):  # mentions, provenance and health written, the run's row not yet
        os.kill(os.getpid(), signal.SIGKILL)
    earshot.listen.record_run = dying
    from earshot.cli import main
    main(["run", "--stage", "listen"])
    """
)


def test_a_listen_load_commits_its_mentions_and_its_run_row_together(two_runs: dict) -> None:
    db = two_runs["db"]
    shutil.copyfile(two_runs["checkpoint"], db)
    before = contents(db)
    proc = subprocess.run([sys.executable, "-c", KILLED_BEFORE_RUN_ROW.format(root=str(ROOT))],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == -9, proc.stderr
    assert contents(db) == before  # no mentions without their run: the second run's items are not there


# --- the writer lock (filelock) --------------------------------------------------------------------------------


HOLDS_THE_LOCK = textwrap.dedent(
    """
    import os, signal, sys, time
    sys.path.insert(0, {root!r})
    from warehouse.connection import writer
    with writer({db!r}):
        print("holding", flush=True)
        time.sleep(60)
    """
)


def test_a_writer_killed_while_holding_the_lock_releases_it_at_once(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLDS_THE_LOCK.format(root=str(ROOT), db=str(db))],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    with pytest.raises(WarehouseBusyError, match=f"pid {holder.pid}"), writer(db, wait_seconds=0.3):
        pass
    holder.kill()
    holder.wait()
    started = time.monotonic()
    with writer(db, wait_seconds=5) as con:
        assert schema_version(con) == available()[-1].version
    assert time.monotonic() - started < 3


def test_a_file_duckdb_cannot_read_is_one_clear_error_pointing_at_the_backups(
    two_runs: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    db = two_runs["db"]
    damaged = bytearray(db.read_bytes())
    damaged[: 4096 * 3] = b"\x00" * (4096 * 3)  # both headers gone
    db.write_bytes(bytes(damaged))
    capsys.readouterr()
    assert main(["run", "--stage", "listen"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"warehouse {db} cannot be opened" in err and "earshot restore" in err
