"""The data dictionary, generated from the database itself (``COMMENT ON``), so it cannot drift."""

from __future__ import annotations

import duckdb

_INTERNAL_PREFIXES = ("fts_", "schema_migrations")


def undocumented(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Tables, views and columns without a comment: ``table`` or ``table.column``."""
    missing = [
        name
        for name, comment in con.execute(
            """
            SELECT table_name, comment FROM duckdb_tables() WHERE schema_name = 'main' AND NOT internal
            UNION ALL SELECT view_name, comment FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal
            """
        ).fetchall()
        if not _internal(name) and not (comment or "").strip()
    ]
    missing += [
        f"{table}.{column}"
        for table, column, comment in con.execute(
            "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE schema_name = 'main' AND NOT internal"
        ).fetchall()
        if not _internal(table) and not (comment or "").strip()
    ]
    return sorted(missing)


def _internal(name: str) -> bool:
    return name.startswith(_INTERNAL_PREFIXES)


def data_dictionary(con: duckdb.DuckDBPyConnection) -> str:
    """Markdown: every table and view with its comment, then its columns with type and comment."""
    relations = con.execute(
        """
        SELECT table_name AS name, 'table' AS kind, comment FROM duckdb_tables()
        WHERE schema_name = 'main' AND NOT internal
        UNION ALL SELECT view_name, 'view', comment FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal
        ORDER BY kind, name
        """
    ).fetchall()
    version = con.execute("SELECT max(version) FROM schema_migrations").fetchone()
    lines = [
        "# earshot data dictionary",
        "",
        "Generated from the warehouse's own `COMMENT ON` metadata by `earshot dictionary` "
        f"(schema version {version[0] if version else '?'}). Do not edit by hand: change the comment in a "
        "migration and regenerate.",
        "",
        "| relation | kind | what it holds |",
        "|---|---|---|",
    ]
    shown = [(name, kind, comment) for name, kind, comment in relations if not _internal(name)]
    lines += [f"| [`{name}`](#{name}) | {kind} | {_cell(comment)} |" for name, kind, comment in shown]
    for name, kind, comment in shown:
        lines += ["", f"## {name}", "", f"*{kind}* — {_cell(comment)}", ""]
        lines += ["| column | type | meaning |", "|---|---|---|"]
        for column, data_type, column_comment in con.execute(
            """
            SELECT column_name, data_type, comment FROM duckdb_columns()
            WHERE schema_name = 'main' AND table_name = ? ORDER BY column_index
            """,
            [name],
        ).fetchall():
            lines.append(f"| `{column}` | {data_type} | {_cell(column_comment)} |")
    return "\n".join(lines) + "\n"


def _cell(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|") or "—"
