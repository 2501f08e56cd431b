"""Opening the warehouse: one writer at a time, readers never see a half-written load.

DuckDB lets one process hold a database file read-write, and then no other process may open it.
earshot adds an advisory lock file beside the database so that concurrent tasks (Airflow workers,
the CLI) queue for the writer instead of failing on DuckDB's own lock. The Airflow pool
``earshot_warehouse`` (one slot) keeps tasks from even occupying a worker while they wait.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from warehouse.migrate import migrate

LOCK_WAIT_SECONDS = float(os.environ.get("EARSHOT_WAREHOUSE_LOCK_WAIT", "600"))


class WarehouseBusyError(RuntimeError):
    """Another process holds the warehouse writer lock for longer than we are willing to wait."""


@contextlib.contextmanager
def _file_lock(lock_path: Path, exclusive: bool, wait_seconds: float) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+") as handle:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "unknown"
                    raise WarehouseBusyError(
                        f"warehouse {lock_path.with_suffix('')} is busy: another writer ({holder}) has held "
                        f"it for more than {wait_seconds:.0f}s"
                    ) from None
                time.sleep(0.2)
        if exclusive:
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}")
            handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


@contextlib.contextmanager
def writer(db_path: Path, wait_seconds: float = LOCK_WAIT_SECONDS) -> Iterator[duckdb.DuckDBPyConnection]:
    """The single read-write connection, with migrations applied. Hold it briefly."""
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(_lock_path(db_path), exclusive=True, wait_seconds=wait_seconds):
        con = duckdb.connect(str(db_path))
        try:
            migrate(con)
            yield con
        finally:
            con.close()


@contextlib.contextmanager
def reader(db_path: Path, wait_seconds: float = LOCK_WAIT_SECONDS) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection; waits while an earshot writer is active."""
    db_path = Path(db_path)
    if not db_path.exists():
        raise FileNotFoundError(f"no warehouse at {db_path}: run `earshot run --stage listen` first")
    with _file_lock(_lock_path(db_path), exclusive=False, wait_seconds=wait_seconds):
        con = duckdb.connect(str(db_path), read_only=True)
        try:
            yield con
        finally:
            con.close()


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: a failure, or a process killed midway, leaves the warehouse as before."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
