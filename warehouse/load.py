"""Idempotent writes. Loading the same thing twice leaves the same rows; a load is one transaction.

Mentions are upserted on ``mention_id``; per-run tables are replaced by partition (``run_id``); the
fetch state (ETag, Last-Modified) is committed in the same transaction as the mentions it describes,
so a crash can never advance the state past data that was not stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from listeners.mention import Mention, canonical_url, near_key
from warehouse.bulk import staged
from warehouse.connection import WriteStats, retrying, transaction
from warehouse.upsert import upsert


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


_SOURCE_TYPES = {
    "source_id": "VARCHAR", "kind": "VARCHAR", "audience": "VARCHAR", "name": "VARCHAR", "url": "VARCHAR",
    "influencer": "BOOLEAN", "enabled": "BOOLEAN",
}  # fmt: skip


def sync_sources(con: duckdb.DuckDBPyConnection, sources: Iterable[SourceRow], disable_others: bool = True) -> None:
    """Make the sources table match market.yaml; cursors and health are kept, removed sources are
    disabled (never deleted: their mentions still point at them)."""
    rows = ((s.source_id, s.kind, s.audience, s.name, s.url, s.influencer, s.enabled) for s in sources)
    with transaction(con), staged(con, "staged_config", _SOURCE_TYPES, rows):
        if disable_others:
            con.execute("UPDATE sources SET enabled = FALSE")
        kept = ["kind", "audience", "name", "url", "influencer", "enabled"]  # cursors and health stay as they are
        upsert(con, "sources", "staged_config", ["source_id"], kept)


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


def _lookup(con: duckdb.DuckDBPyConnection, sql: str, keys: Sequence[str]) -> dict[str, str]:
    """``{key: mention_id}`` for ``keys`` present, by ``sql`` over a staged table ``keys(k)``."""
    if not keys:
        return {}
    with staged(con, "keys", {"k": "VARCHAR"}, ((k,) for k in keys)):
        return dict(con.execute(sql).fetchall())


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
        "SELECT k, mention_id FROM keys JOIN mention_sources ON k = source_id || chr(31) || item_id",
        [f"{m.source_id}\x1f{m.mention_id}" for m in ordered],
    )
    urls = {m.mention_id: canonical_url(m.url) for m in ordered}
    nears = {m.mention_id: near_key(m.body) for m in ordered}
    by_url = _lookup(
        con,
        "SELECT k, min(mention_id) FROM keys JOIN mentions ON canonical_url = k GROUP BY 1",
        sorted({u for u in urls.values() if u}),
    )
    by_near = _lookup(
        con,
        "SELECT k, min(mention_id) FROM keys JOIN mentions ON near_key = k GROUP BY 1",
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


_MENTION_TYPES = {
    "mention_id": "VARCHAR", "source_id": "VARCHAR", "audience": "VARCHAR", "url": "VARCHAR", "author": "VARCHAR",
    "title": "VARCHAR", "text": "VARCHAR", "published_at": "TIMESTAMPTZ", "content_hash": "VARCHAR",
    "kind": "VARCHAR", "parent_id": "VARCHAR", "score": "INTEGER", "comments": "INTEGER", "rating": "DOUBLE",
    "flags": "VARCHAR[]", "influencer": "BOOLEAN", "canonical_url": "VARCHAR", "near_key": "VARCHAR",
}  # fmt: skip
_PROVENANCE_TYPES = {
    "source_id": "VARCHAR", "item_id": "VARCHAR", "mention_id": "VARCHAR", "audience": "VARCHAR",
    "url": "VARCHAR", "author": "VARCHAR", "influencer": "BOOLEAN",
}  # fmt: skip


def _upsert(
    con: duckdb.DuckDBPyConnection, resolved: Sequence[_Resolved], run_id: str, run_at: datetime
) -> dict[str, int]:
    """Write conversations and provenance; return, per source, how many items were new to it."""
    primaries = [r.item for r in resolved if r.primary]
    mention_rows = (
        (m.mention_id, m.source_id, m.audience, m.url, m.author, m.title, m.text, m.published_at, m.content_hash,
         m.kind, m.parent_id, m.score, m.comments, m.rating, list(m.flags), m.influencer, canonical_url(m.url),
         near_key(m.body))
        for m in primaries
    )  # fmt: skip
    with staged(con, "staged_mentions", _MENTION_TYPES, mention_rows) as count:
        if count:  # every item may have joined conversations heard elsewhere
            upsert(
                con,
                "mentions",
                "SELECT *, $run AS first_seen_run, $run AS last_seen_run, $at AS first_seen_at, $at AS last_seen_at "
                "FROM staged_mentions",
                ["mention_id"],
                ["url", "author", "title", "text", "published_at", "content_hash", "kind", "parent_id", "score",
                 "comments", "rating", "flags", "influencer", "canonical_url", "near_key", "last_seen_run",
                 "last_seen_at"],
                {"run": run_id, "at": run_at},
            )  # fmt: skip
    provenance_rows = (
        (r.item.source_id, r.item.mention_id, r.mention_id, r.item.audience, r.item.url, r.item.author,
         r.item.influencer)
        for r in resolved
    )  # fmt: skip
    with staged(con, "staged_sources", _PROVENANCE_TYPES, provenance_rows):
        new = con.execute(
            "SELECT source_id, count(*) FROM staged_sources ANTI JOIN mention_sources USING (source_id, item_id) "
            "GROUP BY 1"
        ).fetchall()
        upsert(
            con,
            "mention_sources",
            "SELECT *, $run AS first_seen_run, $run AS last_seen_run, $at AS first_seen_at, $at AS last_seen_at "
            "FROM staged_sources",
            ["source_id", "item_id"],
            ["audience", "url", "author", "influencer", "last_seen_run", "last_seen_at"],
            {"run": run_id, "at": run_at},
        )
    return dict(new)


_FETCH_TYPES = {
    "source_id": "VARCHAR", "status": "VARCHAR", "fetched_at": "TIMESTAMPTZ", "http_status": "INTEGER",
    "cursor": "VARCHAR", "warning": "VARCHAR", "error_kind": "VARCHAR", "error": "VARCHAR",
    "landing_path": "VARCHAR", "duration_s": "DOUBLE", "attempts": "INTEGER", "payloads": "INTEGER",
    "items": "INTEGER", "new_items": "INTEGER",
}  # fmt: skip


def _record_health(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    records: Sequence[FetchRecord],
    items: dict[str, int],
    new: dict[str, int],
) -> None:
    """Per source: health, the new cursor (successes only) and this run's fetch row."""
    rows = (
        (r.source_id, r.status, r.fetched_at, r.http_status,
         json.dumps(r.cursor, sort_keys=True) if r.cursor is not None else None, r.warning, r.error_kind, r.error,
         r.landing_path, r.duration_s, r.attempts, r.payloads, items.get(r.source_id, 0), new.get(r.source_id, 0))
        for r in records
    )  # fmt: skip
    with staged(con, "staged_fetches", _FETCH_TYPES, rows):
        con.execute(
            """
            UPDATE sources SET last_fetch_at = f.fetched_at, last_status = 'error', last_error_kind = f.error_kind,
                last_error = f.error, consecutive_failures = consecutive_failures + 1, items_last_run = 0,
                updated_at = f.fetched_at
            FROM staged_fetches f WHERE sources.source_id = f.source_id AND f.status = 'error'
            """
        )
        con.execute(
            """
            UPDATE sources SET last_fetch_at = f.fetched_at, last_success_at = f.fetched_at, last_status = f.status,
                cursor = coalesce(f.cursor::JSON, sources.cursor), consecutive_failures = 0,
                items_last_run = f.items, updated_at = f.fetched_at
            FROM staged_fetches f WHERE sources.source_id = f.source_id AND f.status <> 'error'
            """
        )
        con.execute(
            "DELETE FROM fetches WHERE run_id = ? AND source_id IN (SELECT source_id FROM staged_fetches)", [run_id]
        )
        columns = ", ".join(c for c in _FETCH_TYPES if c != "cursor")
        con.execute(f"INSERT INTO fetches (run_id, {columns}) SELECT ?, {columns} FROM staged_fetches", [run_id])


def record_fetches(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    run_at: datetime,
    records: Sequence[FetchRecord],
    then: Callable[[duckdb.DuckDBPyConnection, dict[str, int]], None] | None = None,
) -> dict[str, int]:
    """Commit one listen run: every source's mentions, cursor and health, all or nothing.

    ``then(con, totals)`` runs inside the same transaction, for what must commit with the mentions or not at
    all (the run's row in ``runs``, its alerts): a crash can never leave mentions without their run.
    Items are resolved into conversations in (source id, item id) order, so the same fetches always
    resolve the same way, live, retried or replayed. On DuckLake a commit that conflicts with another
    writer's is retried from the resolution on (``retrying``): the retry sees what the other committed, so
    a conversation both heard is stored once. ``conflicts`` and ``retries`` say how often that happened.
    """

    def once() -> dict[str, int]:
        with transaction(con):
            resolved = resolve_conversations(con, [m for r in records for m in r.mentions])
            new = _upsert(con, resolved, run_id, run_at) if resolved else {}
            items: dict[str, int] = {}
            for r in resolved:
                items[r.item.source_id] = items.get(r.item.source_id, 0) + 1
            _record_health(con, run_id, records, items, new)
            totals = {
                "sources": len(records),
                "failed": sum(r.failed for r in records),
                "items": len(resolved),
                "new": sum(new.values()),
                "merged": sum(not r.primary for r in resolved),  # joined a conversation heard elsewhere
            }
            if then is not None:
                then(con, totals)
        return totals

    stats = WriteStats()
    totals = retrying(once, stats=stats, what=f"listen load of run {run_id}")
    return {**totals, "conflicts": stats.conflicts, "retries": stats.retries}


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
    upsert(
        con,
        "runs",
        "SELECT ?::VARCHAR AS run_id, ?::VARCHAR AS stage, ?::TIMESTAMPTZ AS started_at, "
        "?::TIMESTAMPTZ AS finished_at, ?::VARCHAR AS status, ?::JSON AS details, ?::VARCHAR AS error",
        ["run_id", "stage"],
        ["started_at", "finished_at", "status", "details", "error"],
        [run_id, stage, started_at, finished_at, status, json.dumps(details or {}, default=str), error],
    )
