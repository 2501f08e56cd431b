"""The write-ahead log a killed writer leaves behind: replayed in a child process, or set aside.

DuckDB commits into ``<db>.wal`` and folds the log into the file at the next checkpoint (a clean close,
``CHECKPOINT``, a large commit). A writer killed in between leaves the log, and the next open replays it.
DuckDB 1.5.5 fails that replay for some committed schema changes when it opens the file directly (an
INTERNAL error, "GetDefaultDatabase with no default database set": docs/duckdb-wal-replay.md), yet replays
the same log when the file is ATTACHed to an in-memory database. Other replay faults may abort the process
natively. So earshot never replays a log in its own process: a child attaches the file and checkpoints it
(:func:`fold`), and only when that fails too is the log unreplayable, for ``earshot doctor --repair`` to
set aside (:func:`set_aside`). A torn last write (a commit cut off mid-write) is not replayed by DuckDB, and
stays in the file until its next write: folding discards it. Run as ``python -m warehouse.wal fold|check DB``,
this module is that child.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

CHILD_TIMEOUT_SECONDS = 900.0  # a large log replays in seconds; this only bounds a replay that hangs
_ALIAS = "earshot_replay"


def wal_path(db: Path) -> Path:
    return Path(db).with_name(Path(db).name + ".wal")


def has_wal(db: Path) -> bool:
    """Whether a log with content is waiting to be replayed (an empty one is harmless)."""
    path = wal_path(db)
    return path.exists() and path.stat().st_size > 0


@dataclass(frozen=True)
class Replay:
    """What a child made of the log: ``ok``, or why not (``error``); ``facts`` read from the replayed file."""

    ok: bool
    error: str = ""
    crashed: bool = False  # the child died of a signal: a native abort inside DuckDB
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def busy(self) -> bool:
        """Another process (not earshot's writer queue) has the file open."""
        return "lock" in self.error.lower() and "conflicting" in self.error.lower()


def fold(db: Path) -> Replay:
    """Replay the log into the file and checkpoint it, in a child process; on success the log is gone."""
    return _child("fold", db)


def check(db: Path) -> Replay:
    """Replay the log read-only in a child process (nothing written): can it be replayed, and what is there."""
    return _child("check", db)


def set_aside(db: Path, at: datetime) -> Path:
    """Move the log out of DuckDB's way, kept beside the file with a timestamp, and return where it went."""
    target = wal_path(db).with_name(f"{wal_path(db).name}.unreplayable-{at:%Y%m%dT%H%M%SZ}")
    wal_path(db).replace(target)
    return target


def _child(mode: str, db: Path) -> Replay:
    package_root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)}
    try:
        proc = subprocess.run(  # noqa: S603 (our own interpreter and module, no shell)
            [sys.executable, "-m", "warehouse.wal", mode, str(db)],
            capture_output=True, text=True, env=env, timeout=CHILD_TIMEOUT_SECONDS, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return Replay(False, f"replaying the log took more than {CHILD_TIMEOUT_SECONDS:.0f}s")
    if proc.returncode < 0:
        return Replay(False, f"DuckDB crashed (signal {-proc.returncode}) while replaying the log", crashed=True)
    lines = proc.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        answer = {}
    if proc.returncode == 0 and answer.get("ok"):
        return Replay(True, facts=answer.get("facts", {}))
    error = answer.get("error") or " ".join(proc.stderr.split())[-500:] or f"exit status {proc.returncode}"
    return Replay(False, error)


def _facts(con: Any) -> dict[str, Any]:
    """Schema version and mention count of the attached file, when it has those tables."""
    tables = {
        name
        for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main'", [_ALIAS]
        ).fetchall()
    }
    facts: dict[str, Any] = {}
    if "schema_migrations" in tables:
        facts["version"] = con.execute(f"SELECT coalesce(max(version), 0) FROM {_ALIAS}.schema_migrations").fetchone()[
            0
        ]
    if "mentions" in tables:
        facts["mentions"] = con.execute(f"SELECT count(*) FROM {_ALIAS}.mentions").fetchone()[0]
    return facts


def _main(argv: list[str]) -> int:
    mode, path = argv
    import duckdb

    con = duckdb.connect()
    try:
        options = " (READ_ONLY)" if mode == "check" else ""
        con.execute(f"ATTACH '{path.replace(chr(39), chr(39) * 2)}' AS {_ALIAS}{options}")
        facts = _facts(con)
        if mode == "fold":
            con.execute(f"CHECKPOINT {_ALIAS}")
        con.execute(f"DETACH {_ALIAS}")
        leftover = wal_path(Path(path))
        if mode == "fold" and leftover.exists():  # a torn last write: replay applied everything before it
            facts["discarded_bytes"] = leftover.stat().st_size
            leftover.unlink()  # what DuckDB itself does at its next write; until then every open would retry
    except duckdb.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(json.dumps({"ok": False, "error": first_line[:2000]}))  # not DuckDB's stack trace
        return 1
    finally:
        con.close()
    print(json.dumps({"ok": True, "facts": facts}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
