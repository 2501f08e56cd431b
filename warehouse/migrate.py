"""Versioned schema migrations, applied automatically whenever a writer opens the warehouse.

Migrations are numbered SQL files in ``warehouse/migrations``; each applies in its own transaction
together with its row in ``schema_migrations``, so a crash never leaves a half-applied version.
On a DuckDB file each of those commits goes straight into the database file, never into the write-ahead
log: DuckDB 1.5.5 cannot replay some committed schema changes from the log (an ``ALTER`` or
``COMMENT ON COLUMN`` of a table with a non-constant default such as ``DEFAULT []`` or ``DEFAULT now()``;
docs/duckdb-wal-replay.md), so a schema change must never wait in the log for a checkpoint.
On DuckLake (``lake=True``) the same files run translated by ``warehouse.lake.to_lake_sql``, and each
version's transaction takes the ``schema_migrations`` guard, so two processes migrating one lake at once
conflict and the second (retried) finds the version applied.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources

import duckdb

from warehouse.lake import guard, to_lake_sql

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    """All migrations shipped with this version of earshot, in order."""
    folder = resources.files("warehouse") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


_SCHEMA_MIGRATIONS = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
)


def current_version(con: duckdb.DuckDBPyConnection, lake: bool = False) -> int:
    """The schema version, creating the bookkeeping table when missing (a writer's view)."""
    con.execute(to_lake_sql(_SCHEMA_MIGRATIONS) if lake else _SCHEMA_MIGRATIONS)
    return schema_version(con)


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version, read only: 0 for a database earshot has not migrated yet."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = 'schema_migrations'"
    ).fetchone()
    if not (exists and exists[0]):
        return 0
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


@contextlib.contextmanager
def _straight_to_file(con: duckdb.DuckDBPyConnection, lake: bool) -> Iterator[None]:
    """Every commit inside checkpoints at once and skips the write-ahead log (DuckDB's own path for large
    commits), so a process killed at any instant leaves the schema change applied or not, never in the log.
    A no-op on DuckLake, which has no log."""
    if lake:
        yield
        return
    con.execute("SET wal_autocheckpoint = '0KB'")
    con.execute("SET auto_checkpoint_skip_wal_threshold = 0")
    try:
        yield
    finally:
        con.execute("RESET wal_autocheckpoint")
        con.execute("RESET auto_checkpoint_skip_wal_threshold")
    con.execute("CHECKPOINT")  # in case a commit could not checkpoint (it then used the log)


def _views(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute("SELECT view_name FROM duckdb_views() WHERE database_name = current_database()").fetchall()
    return [name for (name,) in rows]


def migrate(con: duckdb.DuckDBPyConnection, lake: bool = False) -> list[int]:
    """Apply pending migrations; return the versions applied (empty when up to date). ``lake``: the
    connection's current database is a DuckLake (see the module docstring)."""
    have = schema_version(con)
    shipped = available()
    if shipped and have > shipped[-1].version:
        raise RuntimeError(
            f"warehouse schema is version {have}, newer than this earshot knows ({shipped[-1].version}); "
            "upgrade earshot before writing to it"
        )
    if shipped and have == shipped[-1].version:
        return []
    with _straight_to_file(con, lake):
        return _apply(con, shipped, current_version(con, lake=lake), lake)


def _apply(con: duckdb.DuckDBPyConnection, shipped: list[Migration], have: int, lake: bool) -> list[int]:
    applied = []
    for migration in shipped:
        if migration.version <= have:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            if lake:
                guard(con, "schema_migrations")
                if current_version(con, lake=True) >= migration.version:  # applied by a concurrent process
                    con.execute("ROLLBACK")
                    continue
            con.execute(to_lake_sql(migration.sql, _views(con)) if lake else migration.sql)
            con.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                [migration.version, migration.name],
            )
            con.execute("COMMIT")
        except Exception:
            with contextlib.suppress(duckdb.Error):  # a failed COMMIT has already ended the transaction
                con.execute("ROLLBACK")
            raise
        applied.append(migration.version)
    return applied
