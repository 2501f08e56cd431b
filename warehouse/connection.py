"""Opening the warehouse: one writer at a time, readers never see a half-written load, a crash never locks us out.

DuckDB lets one process hold a database file read-write, and then no other process may open it.
earshot adds a read-write lock file beside the database (``filelock``: shared for readers, exclusive for
the writer) so that concurrent tasks (Airflow workers, the CLI) queue for the writer instead of failing on
DuckDB's own lock. The Airflow pool ``earshot_warehouse`` (one slot) keeps tasks from even occupying a
worker while they wait.

A writer killed before its last checkpoint leaves a write-ahead log. It is replayed in a child process
(``warehouse.wal``) before anything opens the file, so a log DuckDB cannot replay is a clear
:class:`WarehouseDamagedError` naming the file and the way back, never a native crash of this process.

With ``EARSHOT_CATALOG`` (or ``EARSHOT_CATALOG_CONN_ID``) set, the warehouse is a DuckLake instead
(``warehouse.lake``): no lock file, several writers at once, and a commit that conflicts with another
writer's is retried by :func:`retrying`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import duckdb
import filelock

from earshot.settings import settings
from warehouse import lake, wal
from warehouse.errors import WarehouseBusyError, WarehouseDamagedError
from warehouse.lake import is_lake
from warehouse.migrate import migrate

__all__ = [
    "WarehouseBusyError",
    "WarehouseDamagedError",
    "WriteStats",
    "exclusive",
    "held",
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


def lock_path(db_path: Path) -> Path:
    """The read-write lock beside the database (a small SQLite file that ``filelock`` manages)."""
    return Path(db_path).with_name(Path(db_path).name + ".rwlock")


def _holder_path(db_path: Path) -> Path:
    return Path(db_path).with_name(Path(db_path).name + ".rwlock.holder")


@contextlib.contextmanager
def held(db_path: Path, wait_seconds: float = LOCK_WAIT_SECONDS, *, shared: bool = False) -> Iterator[None]:
    """The writer lock (``shared``: a reader's), nothing more: no log replayed, nothing opened."""
    db_path = Path(db_path)
    exclusive = not shared
    db_path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.ReadWriteLock(str(lock_path(db_path)), is_singleton=False)  # own instance: threads queue too
    try:
        if exclusive:
            lock.acquire_write(timeout=wait_seconds)
        else:
            lock.acquire_read(timeout=wait_seconds)
    except filelock.Timeout:
        lock.close()
        holder = _holder_path(db_path)
        who = holder.read_text(encoding="utf-8").strip() if holder.exists() else "another earshot process"
        raise WarehouseBusyError(
            f"warehouse {db_path} is busy: the writer ({who}) has held it for more than {wait_seconds:.0f}s"
        ) from None
    try:
        if exclusive:
            _holder_path(db_path).write_text(f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC")
        yield
    finally:
        if exclusive:
            _holder_path(db_path).unlink(missing_ok=True)
        lock.release()
        lock.close()


def _replay_leftover_log(db_path: Path) -> None:
    """With the write lock held: fold a log a killed writer left into the file, or say why it cannot be."""
    if not wal.has_wal(db_path):
        return
    replay = wal.fold(db_path)
    if replay.ok:
        log.warning("warehouse %s: replayed the write-ahead log a killed writer left behind", db_path)
        return
    if replay.busy:
        raise WarehouseBusyError(f"warehouse {db_path} is open in another program: {replay.error}")
    raise WarehouseDamagedError(
        f"warehouse {db_path} cannot be opened: DuckDB cannot replay its write-ahead log {wal.wal_path(db_path)} "
        f"({replay.error}). Nothing was changed. Run `earshot doctor --repair`: it sets the log aside, opens the "
        'last checkpoint and re-loads the mentions from the landing zone (docs/deploy.md, "Recovering a warehouse").'
    )


def _connect(db_path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the file (no log is waiting: see ``_replay_leftover_log``); a file DuckDB cannot read is one clear
    error with the way back, and another program holding it is a busy warehouse."""
    try:
        return duckdb.connect(str(db_path), read_only=read_only)
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "lock" in first.lower():
            raise WarehouseBusyError(f"warehouse {db_path} is open in another program: {first}") from None
        raise WarehouseDamagedError(
            f"warehouse {db_path} cannot be opened: {first}. Nothing was changed. Put a backup back with "
            "`earshot restore` (`earshot backup --list` shows them): it also re-loads the listen runs landed since."
        ) from None


@contextlib.contextmanager
def exclusive(db_path: Path, wait_seconds: float = LOCK_WAIT_SECONDS) -> Iterator[Path]:
    """The writer lock, and a database file that holds everything committed (no log left to replay).

    For work on the file itself (backups, restores, repairs); yields the file's path, opens nothing.
    """
    db_path = Path(db_path)
    with held(db_path, wait_seconds):
        _replay_leftover_log(db_path)
        yield db_path


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
    with exclusive(Path(db_path), wait_seconds) as path:
        con = _connect(path)
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
    for _ in range(3):  # a writer killed between our two locks leaves a new log: fold that one too
        if wal.has_wal(db_path):
            with exclusive(db_path, wait_seconds):
                pass
        with held(db_path, wait_seconds, shared=True):
            if wal.has_wal(db_path):
                continue
            con = _connect(db_path, read_only=True)
            try:
                yield con
            finally:
                con.close()
            return
    raise WarehouseBusyError(f"warehouse {db_path}: writers keep being killed mid-write; see their logs")


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
