"""Any warehouse table or view to Parquet, for tools that do not speak DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb


def relations(con: duckdb.DuckDBPyConnection) -> list[str]:
    """User tables and views of the main schema, sorted."""
    rows = con.execute(
        """
        SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND NOT internal
        UNION SELECT view_name FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal
        ORDER BY 1
        """
    ).fetchall()
    return [name for (name,) in rows if not name.startswith("fts_")]


def export_parquet(con: duckdb.DuckDBPyConnection, names: list[str], folder: Path) -> dict[str, int]:
    """Write each named relation to ``folder/<name>.parquet`` (zstd); return rows written per name.

    Unknown names are rejected before anything is written, naming what exists.
    """
    known = set(relations(con))
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown table or view {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in names:
        target = folder / f"{name}.parquet"
        scratch = target.with_name(f".{target.name}.tmp")
        con.execute(f"COPY (SELECT * FROM \"{name}\") TO '{_sql_string(scratch)}' (FORMAT parquet, COMPRESSION zstd)")
        scratch.replace(target)
        row = con.execute(f"SELECT count(*) FROM read_parquet('{_sql_string(target)}')").fetchone()
        written[name] = int(row[0]) if row else 0
    return written


def _sql_string(path: Path) -> str:
    return str(path).replace("'", "''")
