"""The analysts' copy of the warehouse: a read-only snapshot with search indexes, refreshed after each run.

DuckDB lets one process open a database file read-write, and while it does no other process can open
the file at all, not even read-only. The pipeline writes in short bursts, so an analyst holding a
connection to the live file would block the pipeline (and be blocked by it). Analysts therefore query
``analyst.duckdb``: a copy taken while no writer is active (under the warehouse's shared lock), with a
full-text index over mentions (fts, BM25) and an HNSW similarity index over embeddings (vss) built into
it. The copy is written beside the old one and swapped in with an atomic rename, so an analyst's open
connection keeps reading the previous snapshot until it reconnects. On DuckLake (``EARSHOT_CATALOG``) the
snapshot is one consistent lake snapshot copied into a local file, indexed the same way.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from warehouse.connection import is_lake, reader
from warehouse.extensions import load_extensions

SNAPSHOT_NAME = "analyst.duckdb"


@dataclass(frozen=True)
class SnapshotSummary:
    path: Path
    mentions: int
    vectors: int
    model: str | None


def snapshot_path(db_path: Path) -> Path:
    """``EARSHOT_ANALYST_SNAPSHOT`` or ``analyst.duckdb`` beside the warehouse."""
    from earshot.settings import settings

    return settings().analyst_snapshot or Path(db_path).with_name(SNAPSHOT_NAME)


def refresh_snapshot(db_path: Path, model: str | None = None, target: Path | None = None) -> SnapshotSummary:
    """Copy the warehouse while no writer is active, index the copy, swap it in atomically.

    ``model`` picks which embedding model's vectors are indexed for similarity search (default: the
    model of the latest successful themes run, else the most common one).
    """
    target = Path(target or snapshot_path(db_path))
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    scratch_wal = Path(f"{scratch}.wal")
    for leftover in (scratch, scratch_wal):
        leftover.unlink(missing_ok=True)
    _remove_stale_scratch(target)
    if is_lake():  # DuckLake: copy one consistent lake snapshot into a local file
        with reader(db_path) as lake_con:
            lake_con.execute(f"ATTACH '{_sql_path(scratch)}' AS analyst_copy")
            try:
                lake_con.execute("COPY FROM DATABASE lake TO analyst_copy")
            finally:
                lake_con.execute("DETACH analyst_copy")
    else:
        with reader(db_path):  # shared lock, no writer active, and any log a killed writer left folded in
            shutil.copyfile(db_path, scratch)
    try:
        con = duckdb.connect(str(scratch))
        try:
            summary = _index(con, model)
        finally:
            con.close()
        scratch.replace(target)
    finally:
        scratch.unlink(missing_ok=True)
        scratch_wal.unlink(missing_ok=True)
    return SnapshotSummary(target, *summary)


def _remove_stale_scratch(target: Path) -> None:
    """Copies left by a refresh that was killed (an hour old: no refresh takes that long)."""
    cutoff = time.time() - 3600
    for leftover in target.parent.glob(f".{target.name}.*.tmp*"):
        with contextlib.suppress(OSError):
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _index(con: duckdb.DuckDBPyConnection, model: str | None) -> tuple[int, int, str | None]:
    load_extensions(con, "fts", "vss")
    mentions = int(con.execute("SELECT count(*) FROM mentions").fetchone()[0])  # type: ignore[index]
    if mentions:
        con.execute(
            "PRAGMA create_fts_index('mentions', 'mention_id', 'title', 'text', "
            "stemmer = 'english', stopwords = 'english', strip_accents = 1, lower = 1, overwrite = 1)"
        )
    model = model or _current_model(con)
    vectors = 0
    con.execute("DROP TABLE IF EXISTS mention_vectors")
    if model:
        dims = con.execute("SELECT max(dims) FROM embeddings WHERE model = ?", [model]).fetchone()
        if dims and dims[0]:
            # HNSW needs fixed-size arrays; the warehouse keeps FLOAT[] so models of any size fit.
            con.execute(
                f"""
                CREATE TABLE mention_vectors AS
                SELECT m.mention_id, e.model, e.vector::FLOAT[{int(dims[0])}] AS vector
                FROM mentions m JOIN embeddings e ON e.content_hash = m.content_hash AND e.model = ?
                """,
                [model],
            )
            con.execute(
                "COMMENT ON TABLE mention_vectors IS 'Analyst snapshot only: one embedding per mention "
                "(the themes model), fixed-size for the HNSW similarity index mention_vectors_hnsw.'"
            )
            # Experimental persistence is safe here: the snapshot is rebuilt from scratch, never edited in place.
            con.execute("SET hnsw_enable_experimental_persistence = true")
            con.execute(
                "CREATE INDEX mention_vectors_hnsw ON mention_vectors USING HNSW (vector) WITH (metric = 'cosine')"
            )
            vectors = int(con.execute("SELECT count(*) FROM mention_vectors").fetchone()[0])  # type: ignore[index]
    con.execute("CHECKPOINT")
    return mentions, vectors, model


def _current_model(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute(
        """
        SELECT details->>'model' FROM runs WHERE stage = 'themes' AND status = 'success'
        ORDER BY finished_at DESC LIMIT 1
        """
    ).fetchone()
    if row and row[0]:
        return str(row[0])
    row = con.execute("SELECT model FROM embeddings GROUP BY model ORDER BY count(*) DESC LIMIT 1").fetchone()
    return str(row[0]) if row else None


def open_snapshot(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the analysts' snapshot with fts and vss loaded."""
    if not Path(path).exists():
        raise FileNotFoundError(f"no analyst snapshot at {path}: run `earshot snapshot` (or any pipeline run) first")
    con = duckdb.connect(str(path), read_only=True)
    load_extensions(con, "fts", "vss")
    return con
