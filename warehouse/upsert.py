"""One upsert for every keyed write, on a single DuckDB file and on DuckLake alike.

``INSERT ... ON CONFLICT`` needs a PRIMARY KEY or UNIQUE constraint to conflict with, and DuckLake has
neither, so every keyed write is a ``MERGE INTO`` on the key columns instead: the same statement in both
modes, one code path. The source is bound as ``excluded``, the target keeps its table name, so update
expressions read as they did under ON CONFLICT (``coalesce(runs.error || '; ', '') || excluded.error``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb

from warehouse.lake import guard, is_lake_connection

_RELATION = re.compile(r"^\s*(\(|SELECT\b|WITH\b|VALUES\b|FROM\b)", re.IGNORECASE)
_ORDINAL = "__earshot_ordinal"
_NAMED = re.compile(r"\$([A-Za-z_]\w*)")


def merge_sql(
    table: str, source: str, keys: Sequence[str], update: Sequence[str] | Mapping[str, str] | None = None
) -> str:
    """The MERGE statement :func:`upsert` runs (see there); pure, so it can be read and tested on its own."""
    if not keys:
        raise ValueError(f"upsert into {table}: no key columns given")
    relation = f"({source})" if _RELATION.match(source) else source
    key_list = ", ".join(keys)
    # One row per key, the first in source order: what INSERT ... ON CONFLICT does with duplicates in its input
    # (DuckDB keeps the first and ignores the rest, measured), and on DuckLake, where nothing else
    # would stop it, a duplicate key in one batch must never become two rows.
    deduplicated = (
        f"SELECT * EXCLUDE ({_ORDINAL}) FROM (SELECT *, row_number() OVER () AS {_ORDINAL} FROM {relation}) "
        f"QUALIFY row_number() OVER (PARTITION BY {key_list} ORDER BY {_ORDINAL}) = 1"
    )
    on = " AND ".join(f"{table}.{key} = excluded.{key}" for key in keys)
    sql = f"MERGE INTO {table} USING ({deduplicated}) AS excluded ON ({on})"
    if update:
        assignments = update.items() if isinstance(update, Mapping) else ((c, f"excluded.{c}") for c in update)
        sql += " WHEN MATCHED THEN UPDATE SET " + ", ".join(f"{column} = {expr}" for column, expr in assignments)
    return sql + " WHEN NOT MATCHED THEN INSERT BY NAME"


def upsert(
    con: duckdb.DuckDBPyConnection,
    table: str,
    source: str,
    keys: Sequence[str],
    update: Sequence[str] | Mapping[str, str] | None = None,
    params: Sequence[Any] | Mapping[str, Any] | None = None,
) -> None:
    """Insert the rows of ``source`` into ``table``; rows whose ``keys`` exist already are left alone
    (``update=None``: ON CONFLICT DO NOTHING) or have the listed columns set from the new row
    (``update=["a", "b"]``), or set by expressions over ``excluded.<column>`` and ``<table>.<column>``
    (``update={"error": "coalesce(runs.error || '; ', '') || excluded.error"}``).

    ``source`` is a table name or a query (``SELECT ...``) whose columns are named as ``table``'s; columns it
    lacks get their defaults. ``params`` are bound to the statement (``?``, or ``$name`` in ``source``; named
    ones it does not use are left out). Run it inside the caller's transaction; on DuckLake it also takes the
    table's guard (``warehouse.lake.guard``), so two writers upserting one table at once conflict and one is
    retried instead of both inserting a key.
    """
    sql = merge_sql(table, source, keys, update)
    if isinstance(params, Mapping):  # DuckDB rejects named parameters the statement does not use
        used = set(_NAMED.findall(sql))
        params = {name: value for name, value in params.items() if name in used}
    if is_lake_connection(con):
        guard(con, table)
    con.execute(sql, params)
