"""Opening the warehouse: one writer at a time, readers never see a half-written load.

DuckDB lets one process hold a database file read-write, and then no other process may open it.
earshot adds an advisory lock file beside the database so that concurrent tasks (Airflow workers,
the CLI) queue for the writer instead of failing on DuckDB's own lock. The Airflow pool
``earshot_warehouse`` (one slot) keeps tasks from even occupying a worker while they wait.

With ``EARSHOT_CATALOG`` (or ``EARSHOT_CATALOG_CONN_ID``) set, the warehouse is a DuckLake instead
(``warehouse.lake``): no lock file, several writers at once, and a commit that conflicts with another
writer's is retried by :func:`retrying`.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import duckdb

from earshot.settings import settings
from warehouse import lake
from warehouse.lake import is_lake
from warehouse.migrate import migrate

__all__ = [
    "WarehouseBusyError",
    "WriteStats",
    "is_conflict",
    "is_lake",
    "reader",
    "retrying",
    "transaction",
    "writer",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

LOCK_WAIT_SECONDS = settings().warehouse_lock_wait
LAKE_ATTEMPTS = settings().lake_attempts  # tries of one unit of work on commit conflicts


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
    """The single read-write connection, with migrations applied. Hold it briefly.

    On DuckLake (``is_lake()``): a connection of this process's own, with the lake attached and migrated;
    ``db_path`` and ``wait_seconds`` do not apply (there is no file and no lock to wait for).
    """
    settings = lake.settings_from_env()
    if settings is not None:
        with _lake_connection(settings, read_only=False) as con:
            retrying(lambda: migrate(con, lake=True), what="migrations")
            yield con
        return
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
    """A read-only connection; waits while an earshot writer is active.

    On DuckLake: the lake attached read-only. Nothing waits: each query (or transaction) reads one committed
    snapshot, whatever writers are doing meanwhile.
    """
    settings = lake.settings_from_env()
    if settings is not None:
        with _lake_connection(settings, read_only=True) as con:
            if not con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                "AND schema_name = 'main' AND table_name = 'schema_migrations'"
            ).fetchone()[0]:
                raise FileNotFoundError(
                    f"no warehouse in the DuckLake catalog from {settings.origin}: "
                    "run `earshot run --stage listen` first"
                )
            yield con
        return
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


@contextlib.contextmanager
def _lake_connection(settings: lake.LakeSettings, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
    con = lake.connect(settings, read_only=read_only)
    try:
        yield con
    finally:
        con.close()


@dataclass
class WriteStats:
    """What it took to commit units of work: tries, commit conflicts met, retries made after them, and the
    time spent backing off. A unit that still conflicted on its last try counts a conflict but no retry."""

    attempts: int = 0
    conflicts: int = 0
    retries: int = 0
    waited_s: float = 0.0


def is_conflict(exc: BaseException) -> bool:
    """A commit that lost to a concurrent writer (DuckLake's optimistic concurrency, or DuckDB's own
    write-write conflict): retrying the whole unit of work on a fresh snapshot can succeed."""
    if not isinstance(exc, duckdb.TransactionException | duckdb.CatalogException):
        return False
    text = str(exc)
    markers = ("Transaction conflict", "Failed to commit DuckLake transaction", "write-write conflict", "Conflict on")
    return any(marker in text for marker in markers)


def retrying(
    work: Callable[[], T],
    *,
    attempts: int | None = None,
    base_delay: float = 0.05,
    max_delay: float = 2.0,
    stats: WriteStats | None = None,
    what: str = "unit of work",
) -> T:
    """Run ``work`` (a whole unit of work: its reads, its writes and its transaction) until it commits.

    On a commit conflict the unit is run again from the start, so it re-reads what the other writer
    committed, after an exponential backoff with full jitter (``base_delay`` doubling up to ``max_delay``),
    at most ``attempts`` times (``EARSHOT_LAKE_ATTEMPTS``, default 8); then the last conflict is raised.
    Any other error is raised at once. Conflicts are logged and counted in ``stats``.
    """
    limit = max(1, attempts if attempts is not None else LAKE_ATTEMPTS)
    stats = stats if stats is not None else WriteStats()
    for attempt in range(1, limit + 1):
        stats.attempts += 1
        try:
            return work()
        except Exception as exc:
            if not is_conflict(exc):
                raise
            stats.conflicts += 1
            if attempt == limit:
                log.error("warehouse: %s still conflicts after %d attempts: %s", what, attempt, exc)
                raise
            stats.retries += 1
            delay = random.uniform(0, min(max_delay, base_delay * 2 ** (attempt - 1)))  # jitter, not security
            log.warning(
                "warehouse: %s conflicted with a concurrent writer (attempt %d of %d); retrying in %.2fs: %s",
                what, attempt, limit, delay, str(exc).splitlines()[-1][:200],
            )  # fmt: skip
            stats.waited_s += delay
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
