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

from listeners.mention import Mention, canonical_url, near_key
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
    cursor: dict[str, Any] | None = None  # None: keep the stored cursor
    warning: str | None = None
    error_kind: str | None = None
    error: str | None = None
    landing_path: str | None = None
    duration_s: float = 0.0
    attempts: int = 1
    payloads: int = 0
    mentions: Sequence[Mention] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status == "error"


def sync_sources(con: duckdb.DuckDBPyConnection, sources: Iterable[SourceRow], disable_others: bool = True) -> None:
    """Make the sources table match market.yaml; cursors and health are kept, removed sources are
    disabled (never deleted: their mentions still point at them)."""
    rows = [(s.source_id, s.kind, s.audience, s.name, s.url, s.influencer, s.enabled) for s in sources]
    with transaction(con):
        if disable_others:
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


def cursors(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any] | None]:
    """Each source's incremental state (ETag, high-water marks...), as the listener left it."""
    rows = con.execute("SELECT source_id, cursor FROM sources").fetchall()
    return {source_id: json.loads(cursor) if cursor else None for source_id, cursor in rows}


@dataclass(frozen=True)
class _Resolved:
    item: Mention
    mention_id: str  # the conversation this item belongs to

    @property
    def primary(self) -> bool:
        """The item that opened the conversation: its text is the conversation's text."""
        return self.item.mention_id == self.mention_id


def _lookup(con: duckdb.DuckDBPyConnection, sql: str, keys: list[Any]) -> dict[Any, str]:
    if not keys:
        return {}
    return dict(con.execute(sql, [keys]).fetchall())


def resolve_conversations(con: duckdb.DuckDBPyConnection, items: Sequence[Mention]) -> list[_Resolved]:
    """Decide which conversation each item belongs to, in a fixed order (so replay agrees):

    1. an item seen before stays where it was;
    2. else the conversation with the same canonical URL;
    3. else the conversation with near-identical text (same words, at least a sentence of them);
    4. else it opens a new conversation under its own id.
    """
    ordered = sorted(
        {(m.source_id, m.mention_id): m for m in items}.values(), key=lambda m: (m.source_id, m.mention_id)
    )
    known = _lookup(
        con,
        "SELECT source_id || chr(31) || item_id, mention_id FROM mention_sources "
        "WHERE source_id || chr(31) || item_id IN (SELECT unnest(?))",
        [f"{m.source_id}\x1f{m.mention_id}" for m in ordered],
    )
    urls = {m.mention_id: canonical_url(m.url) for m in ordered}
    nears = {m.mention_id: near_key(m.body) for m in ordered}
    by_url = _lookup(
        con,
        "SELECT canonical_url, min(mention_id) FROM mentions WHERE canonical_url IN (SELECT unnest(?)) GROUP BY 1",
        sorted({u for u in urls.values() if u}),
    )
    by_near = _lookup(
        con,
        "SELECT near_key, min(mention_id) FROM mentions WHERE near_key IN (SELECT unnest(?)) GROUP BY 1",
        sorted({k for k in nears.values() if k}),
    )
    resolved = []
    for item in ordered:
        url, near = urls[item.mention_id], nears[item.mention_id]
        conversation = (
            known.get(f"{item.source_id}\x1f{item.mention_id}")
            or (by_url.get(url) if url else None)
            or (by_near.get(near) if near else None)
            or item.mention_id
        )
        if url:
            by_url.setdefault(url, conversation)
        if near:
            by_near.setdefault(near, conversation)
        resolved.append(_Resolved(item, conversation))
    return resolved


_MENTION_COLUMNS = (
    "mention_id, source_id, audience, url, author, title, text, published_at, content_hash, kind, parent_id, "
    "score, comments, rating, flags, influencer, canonical_url, near_key"
)


def _upsert(con: duckdb.DuckDBPyConnection, resolved: Sequence[_Resolved], run_id: str, run_at: datetime) -> int:
    """Write conversations and provenance; return how many items were new to their source."""
    new = _lookup(
        con,
        "SELECT k, k FROM (SELECT unnest(?) AS k) ANTI JOIN mention_sources ON k = source_id || chr(31) || item_id",
        [f"{r.item.source_id}\x1f{r.item.mention_id}" for r in resolved],
    )
    primaries = [r.item for r in resolved if r.primary]
    con.executemany(
        f"""
        INSERT INTO mentions ({_MENTION_COLUMNS}, first_seen_run, last_seen_run, first_seen_at, last_seen_at)
        VALUES ({", ".join(["?"] * 22)})
        ON CONFLICT (mention_id) DO UPDATE SET
            url = excluded.url, author = excluded.author, title = excluded.title, text = excluded.text,
            published_at = excluded.published_at, content_hash = excluded.content_hash, kind = excluded.kind,
            parent_id = excluded.parent_id, score = excluded.score, comments = excluded.comments,
            rating = excluded.rating, flags = excluded.flags, influencer = excluded.influencer,
            canonical_url = excluded.canonical_url, near_key = excluded.near_key,
            last_seen_run = excluded.last_seen_run, last_seen_at = excluded.last_seen_at
        """,
        [
            (
                m.mention_id, m.source_id, m.audience, m.url, m.author, m.title, m.text, m.published_at,
                m.content_hash, m.kind, m.parent_id, m.score, m.comments, m.rating, list(m.flags), m.influencer,
                canonical_url(m.url), near_key(m.body), run_id, run_id, run_at, run_at,
            )
            for m in primaries
        ],
    )  # fmt: skip
    con.executemany(
        """
        INSERT INTO mention_sources VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (source_id, item_id) DO UPDATE SET
            audience = excluded.audience, url = excluded.url, author = excluded.author,
            influencer = excluded.influencer, last_seen_run = excluded.last_seen_run,
            last_seen_at = excluded.last_seen_at
        """,
        [
            (
                r.item.source_id, r.item.mention_id, r.mention_id, r.item.audience, r.item.url, r.item.author,
                r.item.influencer, run_id, run_id, run_at, run_at,
            )
            for r in resolved
        ],
    )  # fmt: skip
    return len(new)


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
            cursor = coalesce(?::JSON, cursor), consecutive_failures = 0, items_last_run = ?, updated_at = ?
        WHERE source_id = ?
        """,
        [
            record.fetched_at, record.fetched_at, record.status,
            json.dumps(record.cursor, sort_keys=True) if record.cursor is not None else None,
            items, record.fetched_at, record.source_id,
        ],
    )  # fmt: skip


def record_fetches(
    con: duckdb.DuckDBPyConnection, run_id: str, run_at: datetime, records: Sequence[FetchRecord]
) -> dict[str, int]:
    """Commit one listen run: every source's mentions, cursor and health, all or nothing.

    Sources are committed in id order, so the same fetches always resolve into the same
    conversations (live, retried or replayed).
    """
    totals = {"sources": len(records), "failed": 0, "items": 0, "new": 0, "merged": 0}
    with transaction(con):
        for record in sorted(records, key=lambda r: r.source_id):
            resolved = resolve_conversations(con, record.mentions)
            new = _upsert(con, resolved, run_id, run_at) if resolved else 0
            items = len(resolved)
            _update_source(con, record, items)
            con.execute("DELETE FROM fetches WHERE run_id = ? AND source_id = ?", [run_id, record.source_id])
            con.execute(
                """
                INSERT INTO fetches (run_id, source_id, status, http_status, items, new_items, warning,
                    error_kind, error, landing_path, fetched_at, duration_s, attempts, payloads)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    run_id, record.source_id, record.status, record.http_status, items, new, record.warning,
                    record.error_kind, record.error, record.landing_path, record.fetched_at, record.duration_s,
                    record.attempts, record.payloads,
                ],
            )  # fmt: skip
            totals["failed"] += record.failed
            totals["items"] += items
            totals["new"] += new
            totals["merged"] += sum(not r.primary for r in resolved)  # joined a conversation heard elsewhere
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
