"""The warehouse on DuckLake: catalog in PostgreSQL, data as Parquet files, several writers at once.

Selected by the environment (``EARSHOT_CATALOG`` or ``EARSHOT_CATALOG_CONN_ID``, see ``earshot.paths``);
without it earshot keeps its single DuckDB file. DuckLake commits optimistically: two transactions that
change the same table in incompatible ways conflict at COMMIT, and the loser is retried by
``warehouse.connection.retrying``. That replaces the single-file writer lock.

DuckLake has no PRIMARY KEY or UNIQUE constraints and no indexes, so migrations are translated
(:func:`to_lake_sql`) and uniqueness is kept by ``warehouse.upsert`` (MERGE on the key). Two transactions
that only *insert* never conflict in DuckLake, so two writers could each insert the same new key; every
upsert therefore also bumps a one-row guard table for its target (:func:`guard`), which turns
"two writers upserting one table at once" into a commit conflict and a retry, as a key constraint would.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from earshot.paths import Paths, catalog_conn_id, catalog_from_env, lake_data
from earshot.settings import SettingsError
from warehouse.extensions import load_extensions

ALIAS = "lake"  # the attached DuckLake's name: `USE lake`, and what analysts ATTACH it as in the docs
GUARD_SCHEMA = "earshot_guards"  # one single-row table per upserted table; see guard()
OBJECT_STORES = ("s3://", "s3a://", "gs://", "gcs://", "r2://", "az://", "azure://", "abfss://", "http://", "https://")
_LIBPQ_EXTRAS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "application_name", "options")


class LakeConfigError(SettingsError):
    """The lake settings in the environment (or the Airflow connection) are unusable; says which and why."""


@dataclass(frozen=True)
class LakeSettings:
    """Where the lake lives. ``password`` comes only from an Airflow connection and is never shown."""

    catalog: str  # DuckLake metadata string, e.g. "postgres:dbname=earshot host=db user=earshot"
    data_path: str  # a directory, or an object-store URL (s3://bucket/prefix/)
    origin: str  # where the catalog came from, for error messages: "EARSHOT_CATALOG" or "Airflow connection 'x'"
    password: str | None = field(default=None, repr=False)

    @property
    def on_postgres(self) -> bool:
        return self.catalog.startswith("postgres:")

    @property
    def in_object_store(self) -> bool:
        return self.data_path.lower().startswith(OBJECT_STORES)


def is_lake(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment selects DuckLake (else: the single DuckDB file, as always)."""
    return bool(catalog_from_env(environ) or catalog_conn_id(environ))


def settings_from_env(environ: Mapping[str, str] | None = None) -> LakeSettings | None:
    """The lake settings from ``EARSHOT_CATALOG`` / ``EARSHOT_CATALOG_CONN_ID`` and ``EARSHOT_LAKE_DATA``;
    ``None`` when neither catalog variable is set.

    The catalog password is never read from a file or from ``EARSHOT_CATALOG``: it comes from libpq's own
    environment (``PGPASSWORD``, ``PGPASSFILE``) or from the Airflow connection.
    """
    env = environ
    catalog, conn_id = catalog_from_env(env), catalog_conn_id(env)
    if not (catalog or conn_id):
        return None
    data_path = lake_data(Paths.from_env(env).home, env)
    if catalog and conn_id:
        raise LakeConfigError(
            "EARSHOT_CATALOG and EARSHOT_CATALOG_CONN_ID are both set: set one (the connection supplies the whole "
            "catalog, password included)"
        )
    if conn_id:
        catalog, password = _catalog_from_airflow(conn_id)
        return LakeSettings(catalog, data_path, f"Airflow connection {conn_id!r}", password)
    assert catalog is not None
    if re.search(r"(^|[\s:])password\s*=", catalog, re.IGNORECASE) or re.search(r"://[^/@\s]*:[^/@\s]*@", catalog):
        raise LakeConfigError(
            "EARSHOT_CATALOG: contains a password; put it in PGPASSWORD (or ~/.pgpass) or an Airflow connection "
            "named by EARSHOT_CATALOG_CONN_ID, never in the catalog string"
        )
    if catalog.startswith("ducklake:"):
        catalog = catalog.removeprefix("ducklake:")
    if not catalog.strip():
        raise LakeConfigError("EARSHOT_CATALOG: is empty; e.g. 'postgres:dbname=earshot host=127.0.0.1 user=earshot'")
    return LakeSettings(catalog, data_path, "EARSHOT_CATALOG")


def _libpq_value(value: object) -> str:
    """A libpq keyword value, quoted when it needs to be (spaces, quotes, backslashes, empty)."""
    text = str(value)
    if text and not re.search(r"[\s'\\]", text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _catalog_from_airflow(conn_id: str) -> tuple[str, str | None]:
    """``postgres:<libpq keywords>`` and the password from Airflow connection ``conn_id`` (host, port,
    schema = database, login, password; extra may carry sslmode and other libpq options)."""
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
    except Exception as exc:
        raise LakeConfigError(
            f"EARSHOT_CATALOG_CONN_ID: Airflow connection {conn_id!r} is not available ({type(exc).__name__})"
        ) from None
    if not (conn.host and conn.schema):
        raise LakeConfigError(
            f"EARSHOT_CATALOG_CONN_ID: Airflow connection {conn_id!r} needs host and schema (the catalog database)"
        )
    parts = {"dbname": conn.schema, "host": conn.host, "port": conn.port, "user": conn.login}
    extra = conn.extra_dejson or {}
    parts.update({key: extra[key] for key in _LIBPQ_EXTRAS if extra.get(key) is not None})
    keywords = " ".join(f"{key}={_libpq_value(value)}" for key, value in parts.items() if value not in (None, ""))
    return f"postgres:{keywords}", conn.password or None


# --- dialect: the migrations as DuckLake accepts them ------------------------------------------------------

_LEXEME = re.compile(
    r"""(?P<string>'(?:[^']|'')*')|(?P<ident>"(?:[^"]|"")*")|(?P<line>--[^\n]*)|(?P<block>/\*.*?\*/)""", re.DOTALL
)
_TABLE_KEY = re.compile(
    r",\s*(?:CONSTRAINT\s+\w+\s+)?(?:PRIMARY\s+KEY|UNIQUE)\s*\([^()]*\)", re.IGNORECASE
)  # `, PRIMARY KEY (a, b)` / `, UNIQUE (a)` / `, CONSTRAINT name PRIMARY KEY (a)` inside CREATE TABLE
_COLUMN_KEY = re.compile(r"\s+(?:PRIMARY\s+KEY|UNIQUE)\b", re.IGNORECASE)  # `id VARCHAR PRIMARY KEY`
_INDEX = re.compile(r"\bCREATE\s+(?:UNIQUE\s+)?INDEX\b[^;]*;?", re.IGNORECASE)
_LIST_DEFAULT = re.compile(r"\s+DEFAULT\s+\[[^\[\]]*\]", re.IGNORECASE)  # `flags VARCHAR[] DEFAULT []`
_VIEW = re.compile(r"\bCREATE\s+(?:OR\s+REPLACE\s+)?VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.IGNORECASE)
_COLUMN_COMMENT = re.compile(r"\bCOMMENT\s+ON\s+COLUMN\s+(\w+)\.\w+\s+IS\s+(?:\x00\d+\x00|NULL)\s*;?", re.IGNORECASE)


def to_lake_sql(sql: str, views: Collection[str] = ()) -> str:
    """``sql`` (a migration, in DuckDB's dialect) as DuckLake accepts it.

    DuckLake rejects PRIMARY KEY and UNIQUE constraints, indexes, defaults on LIST columns and comments on a
    view's columns, so they are removed (``views``: the views that exist already; views the SQL creates are
    found in it). Everything else is kept: NOT NULL, scalar defaults, views, comments on tables, columns and
    views, JSON and LIST columns. Uniqueness is then the upserts' job (``warehouse.upsert``). A LIST column
    keeps NOT NULL, so an insert that leaves it out fails loudly instead of storing NULL. SQL comments are
    dropped; string literals (COMMENT ON texts) and quoted identifiers are left exactly as written.
    """
    literals: list[str] = []

    def mask(match: re.Match[str]) -> str:
        if match.group("line") or match.group("block"):
            return " "
        literals.append(match.group(0))
        return f"\x00{len(literals) - 1}\x00"

    code = _LEXEME.sub(mask, sql)
    code = _INDEX.sub("", code)
    code = _TABLE_KEY.sub("", code)
    code = _COLUMN_KEY.sub("", code)
    code = _LIST_DEFAULT.sub("", code)
    known = {v.lower() for v in views} | {m.group(1).lower() for m in _VIEW.finditer(code)}
    code = _COLUMN_COMMENT.sub(lambda m: "" if m.group(1).lower() in known else m.group(0), code)
    return re.sub(r"\x00(\d+)\x00", lambda m: literals[int(m.group(1))], code)


# --- connecting ---------------------------------------------------------------------------------------------


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _object_store(con: duckdb.DuckDBPyConnection, settings: LakeSettings) -> None:
    """httpfs and credentials for an object-store data path, from the standard AWS variables when set."""
    try:
        load_extensions(con, "httpfs")
    except (RuntimeError, ValueError) as exc:
        raise LakeConfigError(
            f"EARSHOT_LAKE_DATA: {settings.data_path} is in object storage, which needs DuckDB's httpfs extension: "
            f"pip install -e .[lake-s3] ({exc})"
        ) from None
    env = os.environ
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        options = {"KEY_ID": env["AWS_ACCESS_KEY_ID"], "SECRET": env["AWS_SECRET_ACCESS_KEY"]}
        for option, variable in (("SESSION_TOKEN", "AWS_SESSION_TOKEN"), ("REGION", "AWS_REGION")):
            if env.get(variable):
                options[option] = env[variable]
        if env.get("AWS_ENDPOINT_URL"):  # MinIO, R2 and other S3-compatible stores
            endpoint = env["AWS_ENDPOINT_URL"]
            options["ENDPOINT"] = re.sub(r"^https?://", "", endpoint)
            options["URL_STYLE"] = "path"
            options["USE_SSL"] = "false" if endpoint.startswith("http://") else "true"
        body = ", ".join(
            f"{key} {value}" if key == "USE_SSL" else f"{key} {_sql_text(value)}" for key, value in options.items()
        )
        con.execute(f"CREATE OR REPLACE TEMPORARY SECRET earshot_lake_store (TYPE s3, {body})")


def attach(con: duckdb.DuckDBPyConnection, settings: LakeSettings, read_only: bool = False) -> None:
    """Load ducklake (and postgres) from their wheels, ATTACH the lake as ``lake`` and make it current."""
    load_extensions(con, "ducklake", *(("postgres",) if settings.on_postgres else ()))
    if settings.password is not None:  # an unnamed secret is what DuckLake's PostgreSQL catalog picks up
        con.execute(f"CREATE OR REPLACE TEMPORARY SECRET (TYPE postgres, PASSWORD {_sql_text(settings.password)})")
    if settings.in_object_store:
        _object_store(con, settings)
    else:
        Path(settings.data_path).mkdir(parents=True, exist_ok=True)
    options = [f"DATA_PATH {_sql_text(settings.data_path)}"] + (["READ_ONLY"] if read_only else [])
    try:
        con.execute(f"ATTACH {_sql_text('ducklake:' + settings.catalog)} AS {ALIAS} ({', '.join(options)})")
    except duckdb.Error as exc:
        message = str(exc).replace(settings.password, "***") if settings.password else str(exc)
        raise duckdb.IOException(
            f"DuckLake catalog from {settings.origin} ({settings.catalog}), data at {settings.data_path}: "
            f"cannot attach: {message}"
        ) from None
    con.execute(f"USE {ALIAS}")


def connect(settings: LakeSettings, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake attached and current; the caller closes it."""
    con = duckdb.connect()
    try:
        attach(con, settings, read_only=read_only)
    except BaseException:
        con.close()
        raise
    return con


def is_lake_connection(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether ``con``'s current database is a DuckLake (so upserts must be guarded)."""
    row = con.execute("SELECT type FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    return bool(row and row[0] == "ducklake")


def guard(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Make this transaction conflict with any concurrent one that guards ``table`` too.

    DuckLake detects conflicts per table, and deletes (an UPDATE is a delete and an insert) conflict with
    every concurrent change to the same table, while inserts never conflict with inserts. Updating the one
    row of ``earshot_guards.<table>`` is such a delete: of two writers upserting ``table`` at once, the
    second to commit fails, is retried on the newer snapshot, and its MERGE then sees the first one's keys.
    The guard table is created on first use, inside the caller's transaction (two first users conflict on
    the creation instead).
    """
    name = f'{GUARD_SCHEMA}."{table.replace(chr(34), "")}"'
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {GUARD_SCHEMA}")
    con.execute(f"CREATE TABLE IF NOT EXISTS {name} AS SELECT 0::BIGINT AS writes")
    con.execute(f"UPDATE {name} SET writes = writes + 1")


def data_files(con: duckdb.DuckDBPyConnection, table: str) -> list[dict[str, Any]]:
    """The Parquet files holding ``table`` now (``path``, ``bytes``), from the lake's own catalog."""
    rows = con.execute(f"SELECT data_file, data_file_size_bytes FROM ducklake_list_files('{ALIAS}', ?)", [table])
    return [{"path": path, "bytes": size} for path, size in rows.fetchall()]
