"""The listen stage: plan, fetch each source, load everything in one transaction.

Fetching runs in parallel and never touches the warehouse. Each fetch lands its raw payloads (with a
manifest line) and leaves an *outcome* file plus the parsed mentions under ``outcomes/<run>/``.
Loading is the only writer. This is how a fetch task that failed in Airflow still gets its error
recorded against its source, and why re-running the load step is safe.
"""

from __future__ import annotations

import gzip
import json
import logging
import shutil
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from earshot.config import AnySource, Market
from earshot.logs import logged_stage
from earshot.monitoring import alert_sender, notify_alerts, update_source_alerts
from earshot.progress import Progress
from earshot.runs import RunContext
from listeners.base import Fetched, FetchSettings, Listener, Payload
from listeners.errors import ErrorKind, SourceError
from listeners.landing import append_manifest, atomic_write, store_payload
from listeners.mention import Mention
from listeners.registry import listener_for
from listeners.retry import fetch_with_retries
from listeners.text import excerpt
from reports.render import safe_run_id
from warehouse.connection import writer
from warehouse.load import FetchRecord, SourceRow, cursors, record_fetches, record_run, sync_sources

OUTCOME_RETENTION = timedelta(days=14)
log = logging.getLogger(__name__)


def _outcome_dir(ctx: RunContext) -> Path:
    return ctx.paths.outcomes / safe_run_id(ctx.run_id)


def source_row(source: AnySource) -> SourceRow:
    name = source.name or source.id
    return SourceRow(
        source.id, source.kind, source.audience.value, name, source.locator, source.influencer, source.enabled
    )


@logged_stage("listen.plan")
def plan(ctx: RunContext) -> list[dict[str, Any]]:
    """Register the configured sources and hand each fetch a reference to its cursor."""
    with writer(ctx.paths.warehouse) as con:
        sync_sources(con, [source_row(s) for s in ctx.market.sources])
        state = cursors(con)
    _prune_outcomes(ctx.paths.outcomes, ctx.run_at)
    specs = []
    for source in ctx.market.enabled_sources:
        path = _outcome_dir(ctx) / f"{source.id}.cursor.json"
        _write_json(path, {"cursor": state.get(source.id)})
        specs.append({"source_id": source.id, "cursor_file": str(path)})
    return specs


def fetch_settings(market: Market, source: AnySource) -> FetchSettings:
    """The bounds one source's fetch runs under: the market's ``fetch`` block, the source's overrides applied."""
    config = market.fetch_for(source)
    return FetchSettings(
        timeout=config.timeout_seconds,
        max_bytes=config.max_bytes,
        user_agent=config.user_agent,
        deadline=config.deadline_seconds,
        max_source_bytes=config.max_source_bytes,
        max_files=config.max_files,
        allow_private_redirects=config.allow_private_redirects,
    )


def make_listener(source: AnySource) -> Listener:
    if source.kind == "reddit":
        from earshot.credentials import reddit_credentials

        return listener_for("reddit", credentials=reddit_credentials)
    return listener_for(source.kind)


@logged_stage("listen.fetch")
def fetch(ctx: RunContext, spec: dict[str, Any]) -> dict[str, Any]:
    """Fetch, land and parse one source. Never raises for source problems: the outcome says."""
    source = ctx.market.source(spec["source_id"])
    started = time.monotonic()
    fetched_at = datetime.now(UTC)
    outcome: dict[str, Any] = {"source_id": source.id, "fetched_at": fetched_at.isoformat(), "status": "ok"}
    attempts = 0
    try:
        listener = make_listener(source)
        cursor = json.loads(Path(spec["cursor_file"]).read_text())["cursor"] if spec.get("cursor_file") else None

        def attempt(settings: FetchSettings) -> Fetched:
            nonlocal attempts
            attempts += 1
            return listener.fetch(source, cursor, settings)

        config = ctx.market.fetch_for(source)
        fetched = fetch_with_retries(
            attempt, fetch_settings(ctx.market, source), retries=config.retries, max_wait=config.max_retry_wait
        )
        outcome.update(http_status=fetched.http_status, attempts=attempts, payloads=len(fetched.payloads))
        if fetched.not_modified:
            outcome["status"] = "not_modified"
        else:
            outcome["landed"] = _land(ctx, source, fetched, fetched_at)
            outcome.update(_parse(ctx, source, listener, fetched))
    except SourceError as exc:
        outcome.update(status="error", error_kind=exc.kind.value, error=str(exc), retryable=exc.retryable)
        outcome["attempts"] = max(attempts, 1)
    except Exception as exc:  # a bug in a listener must not stop the other sources
        detail = excerpt(repr(exc), 300)  # an exception's repr can carry its input whole (UnicodeDecodeError)
        outcome.update(status="error", error_kind=ErrorKind.INTERNAL.value, error=f"source {source.id!r}: {detail}")
        outcome.update(retryable=False, attempts=max(attempts, 1))
    if outcome["status"] != "error" or outcome.get("landed"):
        _manifest(ctx, source, fetched_at, outcome)
    outcome["duration_s"] = round(time.monotonic() - started, 3)
    if outcome.get("warning"):
        log.warning("source %s: %s", source.id, outcome["warning"])
    _write_json(_outcome_dir(ctx) / f"{source.id}.json", outcome)
    return {k: outcome.get(k) for k in ("source_id", "status", "items", "error_kind", "error", "retryable")}


def _land(ctx: RunContext, source: AnySource, fetched: Fetched, fetched_at: datetime) -> list[dict[str, Any]]:
    """Keep every payload before parsing it: a parse error loses nothing."""
    return [
        {"file": store_payload(ctx.paths.landing, source.id, fetched_at, payload.body).name, "meta": payload.meta}
        for payload in fetched.payloads
    ]


def _parse(ctx: RunContext, source: AnySource, listener: Listener, fetched: Fetched) -> dict[str, Any]:
    mentions, warnings = parse_payloads(source, listener, fetched.payloads)
    warnings = list(fetched.warnings) + warnings
    result: dict[str, Any] = {
        "landing_path": str(ctx.paths.landing / f"source={source.id}"),
        "cursor": fetched.cursor,
        "items": len(mentions),
        "mentions_file": _write_mentions(_outcome_dir(ctx) / f"{source.id}.mentions.jsonl.gz", mentions),
    }
    if warnings:
        result.update(status="warning", warning="; ".join(dict.fromkeys(warnings)))
    return result


def parse_payloads(
    source: AnySource, listener: Listener, payloads: Iterable[Payload]
) -> tuple[list[Mention], list[str]]:
    """Mentions from raw payloads, influencers marked: the one path shared by listen and replay."""
    mentions: list[Mention] = []
    warnings: list[str] = []
    for payload in payloads:
        parsed = listener.parse(source, payload)
        mentions.extend(parsed.mentions)
        if parsed.warning:
            warnings.append(parsed.warning)
    return mark_influencers(source, mentions), warnings


def mark_influencers(source: AnySource, mentions: list[Mention]) -> list[Mention]:
    """A mention is an influencer's when its source is one, or its author is named as one."""
    named = {a.casefold() for a in source.influencer_authors}
    return [
        replace(m, influencer=True) if source.influencer or (m.author and m.author.casefold() in named) else m
        for m in mentions
    ]


def _manifest(ctx: RunContext, source: AnySource, fetched_at: datetime, outcome: dict[str, Any]) -> None:
    entry = {
        "run_id": ctx.run_id,
        "run_at": ctx.run_at.isoformat(),
        "fetched_at": outcome["fetched_at"],
        "source": source.model_dump(mode="json"),
        "status": outcome["status"],
        "error": outcome.get("error"),
        "http_status": outcome.get("http_status"),
        "payloads": outcome.get("landed", []),
        "cursor": outcome.get("cursor"),
        "warning": outcome.get("warning"),
    }
    append_manifest(ctx.paths.landing, source.id, fetched_at, entry)


@logged_stage("listen.load")
def load(ctx: RunContext, source_ids: Iterable[str]) -> dict[str, Any]:
    """Commit every planned source's outcome in one transaction; a missing outcome is an error too."""
    records = [_record_for(ctx, source_id) for source_id in source_ids]
    errors = {r.source_id: r.error for r in records if r.failed}
    outcome: dict[str, Any] = {}

    def run_row(con: duckdb.DuckDBPyConnection, totals: dict[str, int]) -> None:  # same transaction as the mentions
        raised, resolved = update_source_alerts(con, ctx.run_id, ctx.run_at)
        status = "success" if not totals["failed"] else "partial"
        details = {**totals, "errors": errors, "alerts": [a.subject for a in raised]}
        record_run(con, ctx.run_id, "listen", ctx.run_at, datetime.now(UTC), status, details)
        outcome.update(status=status, raised=raised, resolved=resolved)

    with writer(ctx.paths.warehouse) as con:
        totals = record_fetches(con, ctx.run_id, ctx.run_at, records, then=run_row)
    status, raised, resolved = outcome["status"], outcome["raised"], outcome["resolved"]
    notified = notify_alerts(ctx.paths.warehouse, raised, alert_sender(ctx), ctx.run_at) if raised else {}
    return {
        **totals,
        "status": status,
        "errors": errors,
        "alerts": [a.message for a in raised],
        "resolved": [a.subject for a in resolved],
        "notified": notified.get("notified", 0),
    }


def listen(ctx: RunContext, workers: int = 8) -> dict[str, Any]:
    """The whole stage without a scheduler (the CLI): same code as the DAG's tasks."""
    specs = plan(ctx)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool, Progress("fetching", len(specs), "sources") as done:
        for _ in pool.map(lambda spec: fetch(ctx, spec), specs):
            done.advance()
    return load(ctx, [spec["source_id"] for spec in specs])


def _record_for(ctx: RunContext, source_id: str) -> FetchRecord:
    path = _outcome_dir(ctx) / f"{source_id}.json"
    if not path.exists():
        return FetchRecord(
            source_id=source_id,
            status="error",
            fetched_at=ctx.run_at,
            error_kind=ErrorKind.INTERNAL.value,
            error=f"source {source_id!r}: no fetch outcome recorded (the fetch task died; see its log)",
        )
    outcome = json.loads(path.read_text(encoding="utf-8"))
    mentions = _read_mentions(Path(outcome["mentions_file"])) if outcome.get("mentions_file") else []
    return FetchRecord(
        source_id=source_id,
        status=outcome["status"],
        fetched_at=datetime.fromisoformat(outcome["fetched_at"]),
        http_status=outcome.get("http_status"),
        cursor=outcome.get("cursor"),
        warning=outcome.get("warning"),
        error_kind=outcome.get("error_kind"),
        error=outcome.get("error"),
        landing_path=outcome.get("landing_path"),
        duration_s=outcome.get("duration_s", 0.0),
        attempts=outcome.get("attempts", 1),
        payloads=outcome.get("payloads", 0),
        mentions=mentions,
    )


def _write_mentions(path: Path, mentions: list[Mention]) -> str:
    lines = "".join(json.dumps(asdict(m), default=_iso) + "\n" for m in mentions)
    atomic_write(path, gzip.compress(lines.encode("utf-8"), mtime=0))
    return str(path)


def mention_from_json(row: dict[str, Any]) -> Mention:
    if row.get("published_at"):
        row["published_at"] = datetime.fromisoformat(row["published_at"])
    row["flags"] = tuple(row.get("flags") or ())
    return Mention(**row)


def _read_mentions(path: Path) -> list[Mention]:
    text = gzip.decompress(path.read_bytes()).decode("utf-8")
    return [mention_from_json(json.loads(line)) for line in text.splitlines()]


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write(path, json.dumps(data, indent=1, default=str).encode("utf-8"))


def _prune_outcomes(root: Path, now: datetime) -> None:
    """Outcomes are scratch (the landing zone keeps the raw payloads); keep two weeks for debugging."""
    if not root.exists():
        return
    cutoff = (now - OUTCOME_RETENTION).timestamp()
    for folder in root.iterdir():
        if folder.is_dir() and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
