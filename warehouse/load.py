"""Idempotent writes. Loading the same thing twice leaves the same rows; a load is one transaction.

Mentions are upserted on ``mention_id``; per-run tables are replaced by partition (``run_id``); the
fetch state (ETag, Last-Modified) is committed in the same transaction as the mentions it describes,
so a crash can never advance the state past data that was not stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from listeners.mention import Mention
from warehouse.connection import transaction


@dataclass(frozen=True)
class SourceRow:
    """A source as configured in market.yaml."""

    source_id: str
    kind: str
    audience: str
    name: str
    url: str | None
    influencer: bool
    enabled: bool = True


@dataclass(frozen=True)
class FetchRecord:
    """What one source yielded in one run, ready to be committed."""

    source_id: str
    status: str  # ok | not_modified | warning | error
    fetched_at: datetime
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    warning: str | None = None
    error_kind: str | None = None
    error: str | None = None
    landing_path: str | None = None
    duration_s: float = 0.0
    mentions: Sequence[Mention] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status == "error"


def sync_sources(con: duckdb.DuckDBPyConnection, sources: Iterable[SourceRow]) -> None:
    """Make the sources table match market.yaml; fetch state and health are kept, removed sources are
    disabled (never deleted: their mentions still point at them)."""
    rows = [(s.source_id, s.kind, s.audience, s.name, s.url, s.influencer, s.enabled) for s in sources]
    with transaction(con):
        con.execute("UPDATE sources SET enabled = FALSE")
        con.executemany(
            """
            INSERT INTO sources (source_id, kind, audience, name, url, influencer, enabled)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (source_id) DO UPDATE SET
                kind = excluded.kind, audience = excluded.audience, name = excluded.name,
                url = excluded.url, influencer = excluded.influencer, enabled = excluded.enabled
            """,
            rows,
        )


def fetch_state(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str | None, str | None]]:
    """ETag and Last-Modified per source, for conditional GET."""
    rows = con.execute("SELECT source_id, etag, last_modified FROM sources").fetchall()
    return {source_id: (etag, modified) for source_id, etag, modified in rows}


_STAGED_COLUMNS = "mention_id, source_id, audience, url, author, title, text, published_at, content_hash"


def _stage_mentions(con: duckdb.DuckDBPyConnection, mentions: Sequence[Mention]) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE staged_mentions AS SELECT {_STAGED_COLUMNS} FROM mentions WHERE FALSE")
    latest: dict[str, Mention] = {m.mention_id: m for m in mentions}  # a feed may repeat an item
    con.executemany(
        f"INSERT INTO staged_mentions ({_STAGED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                m.mention_id,
                m.source_id,
                m.audience,
                m.url,
                m.author,
                m.title,
                m.text,
                m.published_at,
                m.content_hash,
            )
            for m in latest.values()
        ],
    )


def _upsert_mentions(con: duckdb.DuckDBPyConnection, run_id: str, run_at: datetime) -> int:
    """Upsert staged mentions; return how many were new."""
    new = con.execute("SELECT count(*) FROM staged_mentions s ANTI JOIN mentions m USING (mention_id)").fetchone()
    con.execute(
        f"""
        INSERT INTO mentions ({_STAGED_COLUMNS}, first_seen_run, last_seen_run, first_seen_at, last_seen_at)
        SELECT {_STAGED_COLUMNS}, $run, $run, $at, $at FROM staged_mentions
        ON CONFLICT (mention_id) DO UPDATE SET
            url = excluded.url, author = excluded.author, title = excluded.title, text = excluded.text,
            published_at = excluded.published_at, content_hash = excluded.content_hash,
            last_seen_run = excluded.last_seen_run, last_seen_at = excluded.last_seen_at
        """,
        {"run": run_id, "at": run_at},
    )
    return int(new[0]) if new else 0


def _update_source(con: duckdb.DuckDBPyConnection, record: FetchRecord, items: int) -> None:
    if record.failed:
        con.execute(
            """
            UPDATE sources SET last_fetch_at = ?, last_status = 'error', last_error_kind = ?, last_error = ?,
                consecutive_failures = consecutive_failures + 1, items_last_run = 0, updated_at = ?
            WHERE source_id = ?
            """,
            [record.fetched_at, record.error_kind, record.error, record.fetched_at, record.source_id],
        )
        return
    con.execute(
        """
        UPDATE sources SET last_fetch_at = ?, last_success_at = ?, last_status = ?,
            etag = coalesce(?, etag), last_modified = coalesce(?, last_modified),
            consecutive_failures = 0, items_last_run = ?, updated_at = ?
        WHERE source_id = ?
        """,
        [
            record.fetched_at,
            record.fetched_at,
            record.status,
            record.etag,
            record.last_modified,
            items,
            record.fetched_at,
            record.source_id,
        ],
    )


def record_fetches(
    con: duckdb.DuckDBPyConnection, run_id: str, run_at: datetime, records: Sequence[FetchRecord]
) -> dict[str, int]:
    """Commit one listen run: every source's mentions, state and health, all or nothing."""
    totals = {"sources": len(records), "failed": 0, "items": 0, "new": 0}
    with transaction(con):
        for record in records:
            new = 0
            if record.mentions:
                _stage_mentions(con, record.mentions)
                new = _upsert_mentions(con, run_id, run_at)
            items = len({m.mention_id for m in record.mentions})
            _update_source(con, record, items)
            con.execute("DELETE FROM fetches WHERE run_id = ? AND source_id = ?", [run_id, record.source_id])
            con.execute(
                """
                INSERT INTO fetches (run_id, source_id, status, http_status, items, new_items, warning,
                    error_kind, error, landing_path, fetched_at, duration_s)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    run_id,
                    record.source_id,
                    record.status,
                    record.http_status,
                    items,
                    new,
                    record.warning,
                    record.error_kind,
                    record.error,
                    record.landing_path,
                    record.fetched_at,
                    record.duration_s,
                ],
            )
            totals["failed"] += record.failed
            totals["items"] += items
            totals["new"] += new
    return totals


def record_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    stage: str,
    started_at: datetime,
    finished_at: datetime | None,
    status: str,
    details: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Upsert the bookkeeping row for one stage of one run."""
    con.execute(
        """
        INSERT INTO runs (run_id, stage, started_at, finished_at, status, details, error)
        VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (run_id, stage) DO UPDATE SET started_at = excluded.started_at,
            finished_at = excluded.finished_at, status = excluded.status, details = excluded.details,
            error = excluded.error
        """,
        [run_id, stage, started_at, finished_at, status, json.dumps(details or {}, default=str), error],
    )
