"""The warehouse on DuckLake: catalog in a real PostgreSQL server this test starts, data as Parquet.

PostgreSQL's server binaries must be installed (Debian: ``postgresql``; ``make test`` installs them). Without
them the PostgreSQL tests skip, or fail under ``EARSHOT_REQUIRE_POSTGRES=1`` (as in CI). The concurrency
figures (rows written, commit conflicts, retries) are printed and kept in ``test-artifacts/ducklake.json``.
"""

from __future__ import annotations

import contextlib
import glob
import json
import multiprocessing
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from listeners.mention import Mention, canonical_url, make_mention
from warehouse import lake
from warehouse.connection import WriteStats, is_conflict, reader, retrying, transaction, writer
from warehouse.lake import LakeConfigError, settings_from_env, to_lake_sql
from warehouse.load import FetchRecord, SourceRow, record_fetches, sync_sources
from warehouse.migrate import available, migrate
from warehouse.upsert import merge_sql, upsert

REQUIRE_ENV = "EARSHOT_REQUIRE_POSTGRES"  # "1" in CI: no PostgreSQL server fails instead of skipping
RUN_AT = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
PASSWORD = "lake-Secret-4711"  # the catalog user's password: must never show up in errors or logs
WRITERS = 4
PRIVATE = 60  # items of each writer's own source
SHARED = 25  # items of the source every writer loads (same ids, same rows)
COMMON_URL = "https://forum.example.test/t/immutable-backups?utm_source=x"  # one thread heard by every writer


# --- PostgreSQL, started by the test ------------------------------------------------------------------------


def _server_binaries() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    on_path = shutil.which("pg_ctl")
    for folder in [*candidates, *([str(Path(on_path).resolve().parent)] if on_path else [])]:
        if all((Path(folder) / tool).exists() for tool in ("initdb", "pg_ctl", "postgres", "psql")):
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Postgres:
    bin: Path
    port: int
    socket_dir: str
    user: str | None  # the OS user the server runs as (root may not run initdb)

    def psql(self, sql: str, database: str = "postgres") -> None:
        subprocess.run(
            [str(self.bin / "psql"), "-h", self.socket_dir, "-p", str(self.port), "-U", "earshot", "-d", database,
             "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
            check=True, capture_output=True, text=True, user=self.user,
        )  # fmt: skip

    def create_database(self, name: str) -> str:
        self.psql(f"CREATE DATABASE {name}")
        return f"postgres:dbname={name} host=127.0.0.1 port={self.port} user=earshot"


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    binaries = _server_binaries()
    if binaries is None:
        message = "no PostgreSQL server binaries (initdb, pg_ctl, postgres, psql); Debian: apt-get install postgresql"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"PostgreSQL is required ({REQUIRE_ENV}=1): {message}", pytrace=False)
        pytest.skip(message)
    shm = Path("/dev/shm")  # memory-backed where there is one: the server's files cost no disk I/O
    root = tempfile.mkdtemp(prefix="earshot-pg-", dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else None)
    user = None
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as the postgres system user
        user = "postgres"
        shutil.chown(root, user=user)
    data, port = f"{root}/data", _free_port()
    run = {"check": True, "capture_output": True, "text": True, "user": user}
    subprocess.run(
        [str(binaries / "initdb"), "-D", data, "-U", "earshot", "--auth-local=trust", "--auth-host=scram-sha-256",
         "-E", "UTF8", "--no-sync"], **run,
    )  # fmt: skip
    options = f"-k {root} -p {port} -h 127.0.0.1 -F -c max_connections=60"
    subprocess.run([str(binaries / "pg_ctl"), "-D", data, "-l", f"{root}/log", "-o", options, "-w", "start"], **run)
    server = Postgres(binaries, port, root, user)
    try:
        server.psql(f"ALTER USER earshot PASSWORD '{PASSWORD}'")  # TCP logins need it (scram-sha-256)
        yield server
    finally:
        subprocess.run([str(binaries / "pg_ctl"), "-D", data, "-m", "immediate", "stop"], **{**run, "check": False})
        shutil.rmtree(root, ignore_errors=True)


_databases = iter(range(1, 1000))


def _select(monkeypatch: pytest.MonkeyPatch, home: Path, catalog: str, data: Path) -> dict[str, str]:
    """Select the lake through the environment, as a user would."""
    env = {
        "EARSHOT_HOME": str(home / "earshot"),
        "EARSHOT_CATALOG": catalog,
        "EARSHOT_LAKE_DATA": str(data),
        "PGPASSWORD": PASSWORD,
        "HOME": str(home),  # DuckDB installs the extension files from the wheels under ~/.duckdb
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("EARSHOT_CATALOG_CONN_ID", raising=False)
    return env


@pytest.fixture
def empty_lake_env(postgres: Postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A new, empty catalog database and data folder."""
    return _select(monkeypatch, tmp_path, postgres.create_database(f"earshot_{next(_databases)}"), tmp_path / "lake")


@pytest.fixture(scope="module")
def migrated(postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A catalog database with every migration applied, copied for each test (PostgreSQL's CREATE DATABASE
    ... TEMPLATE): migrating a lake takes seconds. The copies share one data folder (file names are UUIDs)."""
    data = tmp_path_factory.mktemp("lake")
    with pytest.MonkeyPatch.context() as patch:
        _select(patch, data.parent, postgres.create_database("earshot_template"), data)
        with writer(Path("unused")):
            pass
    return "earshot_template", data


@pytest.fixture
def lake_env(
    postgres: Postgres, migrated: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """A migrated catalog database of this test's own."""
    template, data = migrated
    name = f"earshot_{next(_databases)}"
    postgres.psql(f"CREATE DATABASE {name} TEMPLATE {template}")
    return _select(
        monkeypatch, tmp_path, f"postgres:dbname={name} host=127.0.0.1 port={postgres.port} user=earshot", data
    )


# --- test data ---------------------------------------------------------------------------------------------------


def mention(source: str, item: str, text: str, url: str | None = None) -> Mention:
    return make_mention(
        mention_id=item, source_id=source, audience="customers", url=url or f"https://{source}.example.test/{item}",
        author="someone", title=f"Title {item}", text=text, published_at=RUN_AT,
    )  # fmt: skip


def private_items(source: str, n: int = PRIVATE) -> list[Mention]:
    return [mention(source, f"{source}-{j}", f"{source} says thing number {j} about restores") for j in range(n)]


def shared_items() -> list[Mention]:
    return [mention("shared", f"shared-{j}", f"a shared item {j} every writer carries") for j in range(SHARED)]


def sources(writers: int = WRITERS) -> list[SourceRow]:
    rows = [SourceRow(f"src{i}", "feed", "customers", f"Source {i}", None, False) for i in range(writers)]
    return [*rows, SourceRow("shared", "feed", "customers", "Shared", None, False)]


def writer_records(i: int) -> list[FetchRecord]:
    common = mention(f"src{i}", f"src{i}-common", f"writer {i} joins the thread", COMMON_URL)
    return [
        FetchRecord(f"src{i}", "ok", RUN_AT, cursor={"etag": f"e{i}"}, mentions=[*private_items(f"src{i}"), common]),
        FetchRecord("shared", "ok", RUN_AT, mentions=shared_items()),
    ]


def table_rows(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    return {
        "mentions": con.execute(
            "SELECT mention_id, source_id, url, title, text, content_hash, first_seen_run, last_seen_run "
            "FROM mentions ORDER BY ALL"
        ).fetchall(),
        "mention_sources": con.execute(
            "SELECT source_id, item_id, mention_id, first_seen_run FROM mention_sources ORDER BY ALL"
        ).fetchall(),
        "fetches": con.execute("SELECT run_id, source_id, status, items FROM fetches ORDER BY ALL").fetchall(),
        "sources": con.execute("SELECT source_id, cursor, consecutive_failures FROM sources ORDER BY ALL").fetchall(),
    }


# --- pure: the dialect and the settings --------------------------------------------------------------------------


def test_the_dialect_drops_keys_indexes_and_list_defaults_and_keeps_everything_else() -> None:
    sql = """
    CREATE TABLE a (
        id    VARCHAR PRIMARY KEY,   -- the key, PRIMARY KEY in a comment
        tags  VARCHAR[] NOT NULL DEFAULT [],
        kind  VARCHAR NOT NULL DEFAULT 'article',
        code  VARCHAR UNIQUE
    );
    CREATE TABLE b (
        run_id VARCHAR NOT NULL,
        n      INTEGER NOT NULL,     -- a count, (with parentheses)
        PRIMARY KEY (run_id, n)
    );
    CREATE TABLE c (x INTEGER, y INTEGER, CONSTRAINT c_key UNIQUE (x, y));
    CREATE UNIQUE INDEX a_code ON a (code);
    CREATE VIEW v AS SELECT id FROM a;
    COMMENT ON TABLE a IS 'Has a PRIMARY KEY; UNIQUE per id, DEFAULT [] kept';
    COMMENT ON COLUMN a.id IS 'The id';
    COMMENT ON COLUMN v.id IS 'A view''s column';
    COMMENT ON COLUMN old_view.x IS 'x';
    """
    out = to_lake_sql(sql, views=["old_view"])
    code = out.replace("'Has a PRIMARY KEY; UNIQUE per id, DEFAULT [] kept'", "")
    assert "PRIMARY" not in code and "UNIQUE" not in code and "INDEX" not in code and "DEFAULT []" not in code
    assert "'Has a PRIMARY KEY; UNIQUE per id, DEFAULT [] kept'" in out  # literals untouched
    assert "COMMENT ON COLUMN a.id IS 'The id'" in out
    assert "v.id" not in out and "old_view.x" not in out  # DuckLake keeps no comments on a view's columns
    con = duckdb.connect()
    con.execute(out)
    keys = con.execute("SELECT count(*) FROM duckdb_constraints() WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE')")
    assert keys.fetchone() == (0,)
    assert con.execute("SELECT column_name, is_nullable, column_default FROM information_schema.columns "
                       "WHERE table_name = 'a' ORDER BY ordinal_position").fetchall() == [
        ("id", "YES", None), ("tags", "NO", None), ("kind", "NO", "'article'"), ("code", "YES", None)
    ]  # fmt: skip
    assert con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'a'").fetchone() == (
        "Has a PRIMARY KEY; UNIQUE per id, DEFAULT [] kept",
    )


def test_every_shipped_migration_translates_and_native_mode_keeps_its_keys(tmp_path: Path) -> None:
    for migration in available():
        code = to_lake_sql(migration.sql)
        code = re.sub(r"'(?:[^']|'')*'", "''", code)  # COMMENT texts may say "primary key"
        assert "PRIMARY KEY" not in code.upper() and "CREATE INDEX" not in code.upper(), migration.name
    con = duckdb.connect(str(tmp_path / "native.duckdb"))
    migrate(con)  # the single file: exactly the migrations as written, keys included
    keys = con.execute(
        "SELECT count(*) FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY' AND table_name = 'mentions'"
    ).fetchone()
    assert keys == (1,)


def test_settings_come_from_the_environment(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert settings_from_env({"EARSHOT_HOME": str(home)}) is None and not lake.is_lake({})
    settings = settings_from_env({"EARSHOT_HOME": str(home), "EARSHOT_CATALOG": "postgres:dbname=e host=db"})
    assert settings is not None and lake.is_lake({"EARSHOT_CATALOG": "postgres:dbname=e"})
    assert (settings.catalog, settings.data_path, settings.origin) == (
        "postgres:dbname=e host=db",
        f"{home / 'lake'}/",
        "EARSHOT_CATALOG",
    )
    relative = settings_from_env({"EARSHOT_CATALOG": "postgres:dbname=e", "EARSHOT_LAKE_DATA": "rel/lake"})
    assert relative is not None and relative.data_path == f"{Path('rel/lake').resolve()}/"
    s3 = settings_from_env({"EARSHOT_CATALOG": "postgres:dbname=e", "EARSHOT_LAKE_DATA": "s3://bucket/earshot"})
    assert s3 is not None and s3.data_path == "s3://bucket/earshot/" and s3.in_object_store
    for secret in ("postgres:dbname=e password=hunter2", "postgres:postgresql://earshot:hunter2@db/earshot"):
        with pytest.raises(LakeConfigError, match="EARSHOT_CATALOG: contains a password; put it in PGPASSWORD"):
            settings_from_env({"EARSHOT_CATALOG": secret})
    with pytest.raises(LakeConfigError, match="both set"):
        settings_from_env({"EARSHOT_CATALOG": "postgres:dbname=e", "EARSHOT_CATALOG_CONN_ID": "c"})


AIRFLOW_CONNECTION = """
import json, sys
from warehouse.lake import LakeConfigError, settings_from_env
s = settings_from_env()
found = {"catalog": s.catalog, "origin": s.origin, "has_password": s.password == sys.argv[1], "repr": repr(s)}
print(json.dumps(found))
import os
os.environ["EARSHOT_CATALOG_CONN_ID"] = "absent"
try:
    settings_from_env()
except LakeConfigError as exc:
    print(exc)
"""


def test_the_catalog_can_come_from_an_airflow_connection(tmp_path: Path) -> None:
    conn = {"conn_type": "postgres", "host": "db.internal", "port": 5433, "schema": "earshot", "login": "lake user",
            "password": PASSWORD, "extra": {"sslmode": "require"}}  # fmt: skip
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW_CONN_EARSHOT_LAKE": json.dumps(conn),
           "EARSHOT_CATALOG_CONN_ID": "earshot_lake", "EARSHOT_HOME": str(tmp_path / "home")}  # fmt: skip
    env.pop("EARSHOT_CATALOG", None)
    proc = subprocess.run(
        [sys.executable, "-c", AIRFLOW_CONNECTION, PASSWORD], env=env, capture_output=True, text=True, check=True
    )
    first, second = proc.stdout.strip().splitlines()
    found = json.loads(first)
    assert found["catalog"] == "postgres:dbname=earshot host=db.internal port=5433 user='lake user' sslmode=require"
    assert found["origin"] == "Airflow connection 'earshot_lake'" and found["has_password"]
    assert second == "EARSHOT_CATALOG_CONN_ID: Airflow connection 'absent' is not available (AirflowNotFoundException)"
    assert PASSWORD not in found["repr"] and PASSWORD not in proc.stderr


# --- the one upsert, against ON CONFLICT on the single file -------------------------------------------------------


@pytest.mark.parametrize(
    ("on_conflict", "update"),
    [
        ("DO NOTHING", None),
        ("DO UPDATE SET v = excluded.v, note = excluded.note", ["v", "note"]),
        (
            "DO UPDATE SET note = coalesce(t.note || '; ', '') || excluded.note",
            {"note": "coalesce(t.note || '; ', '') || excluded.note"},
        ),
    ],
)  # fmt: skip
def test_upsert_does_what_on_conflict_did(on_conflict: str, update: list[str] | dict[str, str] | None) -> None:
    con = duckdb.connect()
    rows = "(VALUES ('a', 1, 'new a'), ('b', 2, 'new b'), ('b', 3, 'second b'), ('c', 4, NULL), ('c', 5, 'c2'))"
    results = []
    for how in ("on_conflict", "upsert"):
        con.execute(
            "CREATE OR REPLACE TABLE t (k VARCHAR PRIMARY KEY, v INTEGER, note VARCHAR, kept VARCHAR DEFAULT 'd')"
        )
        con.execute("INSERT INTO t VALUES ('a', 0, 'old a', 'x'), ('c', 0, NULL, 'y')")
        if how == "on_conflict":
            con.execute(f"INSERT INTO t (k, v, note) SELECT * FROM {rows} s(k, v, note) ON CONFLICT (k) {on_conflict}")
        else:
            upsert(con, "t", f"SELECT * FROM {rows} s(k, v, note)", ["k"], update)
        results.append(con.execute("SELECT * FROM t ORDER BY k").fetchall())
    assert results[0] == results[1]
    assert len(results[1]) == 3  # duplicate keys in one batch: the first row wins, as under ON CONFLICT


def test_merge_sql_reads_like_the_statement_it_replaces() -> None:
    sql = merge_sql("runs", "SELECT 1 AS run_id", ["run_id"], {"error": "coalesce(runs.error, '') || excluded.error"})
    assert sql.startswith("MERGE INTO runs USING (") and "ON (runs.run_id = excluded.run_id)" in sql
    assert sql.endswith("WHEN MATCHED THEN UPDATE SET error = coalesce(runs.error, '') || excluded.error "
                        "WHEN NOT MATCHED THEN INSERT BY NAME")  # fmt: skip
    with pytest.raises(ValueError, match="no key columns"):
        merge_sql("runs", "staged", [])


# --- on PostgreSQL ----------------------------------------------------------------------------------------------


def test_migrations_apply_on_ducklake_once(empty_lake_env: dict[str, str]) -> None:
    with writer(Path("unused.duckdb")) as con:
        versions = [v for (v,) in con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()]
        tables = {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'")
                  .fetchall()}  # fmt: skip
        views = {v for (v,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
        comment = con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'mentions'").fetchone()
        assert con.execute(
            "SELECT type FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchone() == ("ducklake",)
    assert versions == [m.version for m in available()]
    assert {"mentions", "mention_sources", "sources", "fetches", "embeddings", "themes", "runs"} <= tables
    assert "source_health" in views and comment is not None and comment[0]
    with writer(Path("unused.duckdb")) as con:  # up to date: nothing applied twice
        assert migrate(con, lake=True) == []
        assert con.execute("SELECT count(*) FROM schema_migrations").fetchone() == (len(available()),)
    assert not Path("unused.duckdb").exists()


def test_listen_loads_on_ducklake_are_idempotent_and_land_as_parquet(lake_env: dict[str, str]) -> None:
    records = writer_records(0)
    with writer(Path("unused")) as con:
        sync_sources(con, sources(1))
        first = record_fetches(con, "run-1", RUN_AT, records)
    with reader(Path("unused")) as con:
        before = table_rows(con)
    with writer(Path("unused")) as con:
        again = record_fetches(con, "run-1", RUN_AT, records)  # the same load, retried by Airflow
        after = table_rows(con)
        files = lake.data_files(con, "mentions")
    assert (first["new"], again["new"]) == (PRIVATE + 1 + SHARED, 0)
    assert (first["conflicts"], again["conflicts"]) == (0, 0)
    assert after == before
    assert len(after["mentions"]) == PRIVATE + 1 + SHARED == len({row[0] for row in after["mentions"]})
    assert files and all(f["path"].startswith(lake_env["EARSHOT_LAKE_DATA"]) for f in files)
    for f in files:
        assert Path(f["path"]).read_bytes()[:4] == b"PAR1"
    parquet = duckdb.connect().execute("SELECT count(*) FROM read_parquet(?)", [[f["path"] for f in files]]).fetchone()
    assert parquet is not None and parquet[0] >= len(after["mentions"])


def test_two_writers_inserting_one_new_key_conflict_and_the_retry_stores_it_once(lake_env: dict[str, str]) -> None:
    with writer(Path("unused")) as con:
        sync_sources(con, sources(1))
    settings = settings_from_env()
    assert settings is not None
    first, second = lake.connect(settings), lake.connect(settings)
    source = (
        "SELECT 'new-key' AS alert_id, 'k' AS kind, 's' AS subject, ? AS message, now() AS raised_at, 'r' AS raised_run"
    )
    try:
        first.execute("BEGIN")
        second.execute("BEGIN")
        upsert(first, "alerts", source, ["alert_id"], None, ["from first"])
        upsert(second, "alerts", source, ["alert_id"], None, ["from second"])
        first.execute("COMMIT")
        with pytest.raises(duckdb.TransactionException) as lost:
            second.execute("COMMIT")
        assert is_conflict(lost.value)
        stats = WriteStats()

        def again() -> None:
            with transaction(second):
                upsert(second, "alerts", source, ["alert_id"], None, ["from second"])

        retrying(again, stats=stats)
        rows = second.execute("SELECT message FROM alerts").fetchall()
        # Without the guard DuckLake lets both inserts commit: two rows for one key (the reason guard() exists).
        for con in (first, second):
            con.execute("BEGIN")
        for con, text in ((first, "a"), (second, "b")):
            con.execute("MERGE INTO alerts USING (SELECT 'bare' AS alert_id, 'k' AS kind, 's' AS subject, "
                        f"'{text}' AS message, now() AS raised_at, 'r' AS raised_run) AS excluded "
                        "ON (alerts.alert_id = excluded.alert_id) WHEN NOT MATCHED THEN INSERT BY NAME")  # fmt: skip
        first.execute("COMMIT")
        second.execute("COMMIT")
        bare = first.execute("SELECT count(*) FROM alerts WHERE alert_id = 'bare'").fetchone()
    finally:
        first.close()
        second.close()
    assert rows == [("from first",)] and (stats.attempts, stats.conflicts) == (1, 0)
    assert bare == (2,)


def _concurrent_writer(index: int, start: multiprocessing.synchronize.Event, out: multiprocessing.Queue) -> None:
    """One worker process: wait for the start signal, then load its source and the shared one."""
    start.wait(30)
    began = time.monotonic()
    try:
        with writer(Path("unused")) as con:
            totals = record_fetches(con, f"run-w{index}", RUN_AT, writer_records(index))
        out.put({"writer": index, **totals, "seconds": round(time.monotonic() - began, 2)})
    except Exception as exc:  # reported to the test, which fails with it
        out.put({"writer": index, "error": f"{type(exc).__name__}: {exc}"})


def _artifacts() -> Path:
    folder = Path(os.environ.get("EARSHOT_TEST_ARTIFACTS") or Path(__file__).parents[1] / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_concurrent_writer_processes_store_every_row_once_while_a_reader_sees_whole_commits(
    lake_env: dict[str, str],
) -> None:
    with writer(Path("unused")) as con:
        sync_sources(con, sources())
    spawn = multiprocessing.get_context("spawn")
    start, out = spawn.Event(), spawn.Queue()
    workers = [spawn.Process(target=_concurrent_writer, args=(i, start, out)) for i in range(WRITERS)]
    for process in workers:
        process.start()
    observations: list[tuple[int, ...]] = []
    done = threading.Event()

    def observe() -> None:
        """Read while the writers run: each transaction is one snapshot, and a snapshot holds whole loads."""
        with reader(Path("unused")) as con:
            while not done.is_set():
                con.execute("BEGIN")
                per_source = dict(con.execute(
                    "SELECT source_id, count(*) FROM mention_sources WHERE source_id LIKE 'src%' GROUP BY 1"
                ).fetchall())  # fmt: skip
                fetched = {s for (s,) in con.execute("SELECT source_id FROM fetches WHERE source_id LIKE 'src%'")
                           .fetchall()}  # fmt: skip
                dangling = con.execute("SELECT count(*) FROM mention_sources ANTI JOIN mentions USING (mention_id)")
                dangling_count = dangling.fetchone()[0]
                duplicates = con.execute("SELECT count(*) - count(DISTINCT mention_id) FROM mentions").fetchone()[0]
                con.execute("COMMIT")
                assert all(n == PRIVATE + 1 for n in per_source.values()), per_source  # never half a load
                assert set(per_source) == fetched  # provenance and fetch rows commit together
                assert dangling_count == 0 and duplicates == 0
                observations.append((len(per_source), *sorted(per_source.values())))
                time.sleep(0.1)  # leave the CPU to the writers

    failures: list[BaseException] = []

    def guarded() -> None:
        try:
            observe()
        except BaseException as exc:
            failures.append(exc)

    observer = threading.Thread(target=guarded)
    began = time.monotonic()
    observer.start()
    start.set()
    results = [out.get(timeout=120) for _ in workers]
    for process in workers:
        process.join(30)
    done.set()
    observer.join(30)
    seconds = round(time.monotonic() - began, 2)
    assert not failures, failures
    assert all("error" not in r for r in results), results

    with reader(Path("unused")) as con:
        counts = con.execute(
            "SELECT (SELECT count(*) FROM mentions), (SELECT count(DISTINCT mention_id) FROM mentions), "
            "(SELECT count(*) FROM mention_sources), "
            "(SELECT count(DISTINCT (source_id, item_id)) FROM mention_sources), "
            "(SELECT count(*) FROM fetches), "
            "(SELECT count(*) FROM mentions WHERE canonical_url = ?)",
            [canonical_url(COMMON_URL)],
        ).fetchone()  # fmt: skip
        common_provenance = con.execute(
            "SELECT count(*) FROM mention_sources ms JOIN mentions m USING (mention_id) WHERE m.url = ?",
            [COMMON_URL],
        ).fetchone()
        cursors = con.execute("SELECT count(*) FROM sources WHERE cursor IS NOT NULL").fetchone()
    mentions_expected = WRITERS * PRIVATE + 1 + SHARED  # each private item, the common thread once, shared once
    provenance_expected = WRITERS * (PRIVATE + 1) + SHARED
    assert counts == (mentions_expected, mentions_expected, provenance_expected, provenance_expected,
                      2 * WRITERS, 1)  # fmt: skip
    assert common_provenance == (WRITERS,) and cursors == (WRITERS,)

    figures = {
        "writers": WRITERS,
        "rows_per_writer": {"items": PRIVATE + 1 + SHARED, "of_which_shared": SHARED + 1},
        "mentions": counts[0],
        "mention_sources": counts[2],
        "duplicates": counts[0] - counts[1] + counts[2] - counts[3],
        "conflicts": sum(r["conflicts"] for r in results),
        "retries": sum(r["retries"] for r in results),
        "per_writer": sorted(results, key=lambda r: r["writer"]),
        "reader_snapshots": len(observations),
        "reader_distinct_states": len(set(observations)),
        "seconds": seconds,
    }
    (_artifacts() / "ducklake.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print("\nDuckLake concurrency:", json.dumps(figures))
    assert figures["retries"] <= figures["conflicts"] and observations


def test_a_wrong_password_is_named_without_being_shown(
    lake_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASSWORD", "not-" + PASSWORD)
    with pytest.raises(duckdb.IOException) as failure, writer(Path("unused")):
        pass
    text = str(failure.value)
    assert "DuckLake catalog from EARSHOT_CATALOG" in text and "password authentication failed" in text
    assert PASSWORD not in text
    settings = settings_from_env()
    assert settings is not None
    with contextlib.closing(duckdb.connect()) as con, pytest.raises(duckdb.IOException) as wrong:
        lake.attach(con, lake.LakeSettings(settings.catalog, settings.data_path, "Airflow connection 'x'", "s3cret-x"))
    assert "Airflow connection 'x'" in str(wrong.value) and "s3cret-x" not in str(wrong.value)


def test_the_analyst_snapshot_copies_a_lake_into_a_searchable_file(lake_env: dict[str, str], tmp_path: Path) -> None:
    from warehouse.analyst import open_snapshot, refresh_snapshot

    with writer(Path("unused")) as con:
        sync_sources(con, sources(1))
        record_fetches(con, "run-1", RUN_AT, writer_records(0))
    summary = refresh_snapshot(Path("unused"), target=tmp_path / "analyst.duckdb")
    assert summary.mentions == PRIVATE + 1 + SHARED
    con = open_snapshot(summary.path)
    try:
        assert con.execute("SELECT count(*) FROM mentions").fetchone() == (summary.mentions,)
        hits = con.execute(
            "SELECT count(*) FROM (SELECT fts_main_mentions.match_bm25(mention_id, 'restore') AS s FROM mentions) "
            "WHERE s IS NOT NULL"
        ).fetchone()
        assert hits is not None and hits[0] >= 0  # the full-text index exists and answers
        assert con.execute("SELECT count(*) FROM mentions_enriched").fetchone() == (summary.mentions,)
    finally:
        con.close()
