"""Backups an operator can schedule: consistent, written atomically beside the data, kept N deep, restored
with one command (which also re-loads the listen runs landed since), from the CLI and the Airflow DAG."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from earshot.airflow_runner import run_dags
from earshot.cli import main
from tests.conftest import LoopbackServer, Reply, rss
from warehouse import wal
from warehouse.backup import backup_dir, create, list_backups
from warehouse.connection import reader

T0 = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]


def feed(count: int) -> bytes:
    words = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")
    return rss([{"guid": f"g{i}", "title": f"Restore story {words[i]}", "link": f"https://f.example/{i}",
                 "description": f"Crew {words[i]} restored a client from immutable backups after an outage."}
                for i in range(count)])  # fmt: skip


@pytest.fixture
def market(tmp_path: Path, http_server: LoopbackServer, earshot_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    http_server.routes["/f.xml"] = Reply(200, feed(3))
    plan = {
        "company": {"name": "Testco"}, "offer": {"summary": "Backups"},
        "audiences": {a: {} for a in ("customers", "customers_customers", "influencers")},
        "sources": [{"id": "f", "kind": "feed", "audience": "customers", "url": http_server.url("/f.xml")}],
    }  # fmt: skip
    path = tmp_path / "market.yaml"
    path.write_text(yaml.safe_dump(plan))
    monkeypatch.setenv("EARSHOT_CONFIG", str(path))
    monkeypatch.delenv("EARSHOT_BACKUP_DIR", raising=False)
    assert main(["run", "--stage", "listen"]) == 0
    return path


def mentions(db: Path) -> list[tuple]:
    with reader(db) as con:
        return con.execute("SELECT mention_id, title, last_seen_run FROM mentions ORDER BY 1").fetchall()


KILLED_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {root!r})
    from warehouse.connection import writer
    with writer({db!r}) as con:
        con.execute("UPDATE mentions SET title = 'edited after the last checkpoint'")
        os.kill(os.getpid(), signal.SIGKILL)  # committed, in the log only
    """
)


def test_a_backup_holds_every_commit_and_only_the_newest_are_kept(market: Path, earshot_home: Path) -> None:
    db = earshot_home / "earshot.duckdb"
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITER.format(root=str(ROOT), db=str(db))], check=False)
    assert proc.returncode == -9 and wal.has_wal(db)

    taken = [create(db, at=T0 + timedelta(hours=h), keep=2) for h in range(3)]
    kept = list_backups(db)
    assert [b.path for b in kept] == [taken[2].path, taken[1].path]  # newest first, the oldest deleted
    assert not taken[0].path.exists() and not Path(f"{taken[0].path}.json").exists()
    assert kept[0].path.parent == backup_dir(db) == earshot_home / "backups"
    assert kept[0].path.name == "earshot-20260504T140000Z.duckdb"
    note = json.loads(Path(f"{kept[0].path}.json").read_text())
    assert (note["schema_version"], note["mentions"]) == (9, 3)
    assert create(db, at=T0 + timedelta(hours=2), keep=2).path == taken[2].path  # a retried run takes none
    assert not list((earshot_home / "backups").glob(".*.tmp"))  # nothing half-written left

    copy = earshot_home / "copy.duckdb"
    copy.write_bytes(kept[0].path.read_bytes())
    assert {title for _, title, _ in mentions(copy)} == {"edited after the last checkpoint"}  # the log's commit


def test_restore_puts_a_backup_back_and_reloads_the_runs_landed_since(
    market: Path, earshot_home: Path, http_server: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    db = earshot_home / "earshot.duckdb"
    assert main(["backup", "--keep", "3"]) == 0
    http_server.routes["/f.xml"] = Reply(200, feed(8))
    assert main(["run", "--stage", "listen"]) == 0
    after_second_run = mentions(db)
    assert len(after_second_run) == 8
    wal.wal_path(db).write_bytes(b"not a log DuckDB can replay")  # whatever state the file is in
    capsys.readouterr()

    assert main(["restore"]) == 0  # the newest backup, then `replay --missing`
    out = capsys.readouterr().out
    assert "restored " in out and "replay: 1 newer listen run(s) re-loaded from the landing zone (8 items)" in out
    assert mentions(db) == after_second_run
    replaced = list(earshot_home.glob("earshot.duckdb.replaced-*"))
    assert len(replaced) == 2  # the file it replaced and its log, kept beside it
    assert main(["backup", "--list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["mentions"] == 3


def test_stale_half_written_backups_are_cleaned_up_and_never_listed(market: Path, earshot_home: Path) -> None:
    db = earshot_home / "earshot.duckdb"
    folder = backup_dir(db)
    folder.mkdir()
    leftover = folder / ".earshot-20260501T000000Z.duckdb.4242.tmp"  # a backup killed mid-copy
    leftover.write_bytes(b"half")
    os.utime(leftover, (T0.timestamp() - 2 * 86_400,) * 2)
    assert list_backups(db) == []
    create(db, at=T0, keep=7)
    assert not leftover.exists() and len(list_backups(db)) == 1


@pytest.mark.e2e
def test_the_backup_dag_takes_a_backup_named_after_its_run(market: Path, earshot_home: Path) -> None:
    env = {**os.environ, "EARSHOT_RETRY_DELAY_SECONDS": "1"}
    (run,) = run_dags(earshot_home / "airflow", ("earshot_backup",), env=env)
    assert run["state"] == "success" and run["tasks"] == {"backup": "success"}
    (taken,) = list_backups(earshot_home / "earshot.duckdb")
    assert taken.mentions == 3 and taken.schema_version == 9
