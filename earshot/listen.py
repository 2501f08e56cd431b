"""The listen stage: plan, fetch each source, load everything in one transaction.

Fetching runs in parallel and never touches the warehouse; each fetch leaves an *outcome* file (and
the normalised mentions) under ``outcomes/<run>/``. Loading is the only writer. This is how a fetch
task that failed in Airflow still gets its error recorded against its source, and why re-running the
load step is safe.
"""

from __future__ import annotations

import gzip
import json
import shutil
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from earshot.runs import RunContext, safe_name
from listeners import http
from listeners.errors import ErrorKind, SourceError
from listeners.feeds import ACCEPT, parse_feed
from listeners.landing import atomic_write, land
from listeners.mention import Mention
from warehouse.connection import writer
from warehouse.load import FetchRecord, SourceRow, fetch_state, record_fetches, record_run, sync_sources

OUTCOME_RETENTION = timedelta(days=14)


def _outcome_dir(ctx: RunContext) -> Path:
    return ctx.paths.outcomes / safe_name(ctx.run_id)


def plan(ctx: RunContext) -> list[dict[str, Any]]:
    """Register the configured sources and return what each fetch needs (small: fits in XCom)."""
    rows = [
        SourceRow(s.id, s.kind, s.audience.value, s.name or s.id, s.url, s.influencer, s.enabled)
        for s in ctx.market.sources
    ]
    with writer(ctx.paths.warehouse) as con:
        sync_sources(con, rows)
        state = fetch_state(con)
    _prune_outcomes(ctx.paths.outcomes, ctx.run_at)
    return [
        {
            "source_id": s.id,
            "etag": state.get(s.id, (None, None))[0],
            "last_modified": state.get(s.id, (None, None))[1],
        }
        for s in ctx.market.enabled_sources
    ]


def fetch(ctx: RunContext, spec: dict[str, Any]) -> dict[str, Any]:
    """Fetch, land and parse one source. Never raises for source problems: the outcome says."""
    source = ctx.market.source(spec["source_id"])
    settings = ctx.market.fetch
    started = time.monotonic()
    fetched_at = datetime.now(UTC)
    outcome: dict[str, Any] = {"source_id": source.id, "fetched_at": fetched_at.isoformat(), "status": "ok"}
    try:
        response = http.fetch(
            source.id,
            source.url,
            timeout=settings.timeout_seconds,
            max_bytes=settings.max_bytes,
            user_agent=settings.user_agent,
            etag=spec.get("etag"),
            last_modified=spec.get("last_modified"),
            accept=ACCEPT,
        )
        outcome.update(http_status=response.status, etag=response.etag, last_modified=response.last_modified)
        if response.not_modified:
            outcome["status"] = "not_modified"
        else:
            meta = {"url": response.url, "status": response.status, "headers": response.headers}
            outcome["landing_path"] = str(land(ctx.paths.landing, source.id, fetched_at, response.body, meta))
            parsed = parse_feed(source.id, source.audience.value, response.body, response.headers)
            outcome["mentions_file"] = _write_mentions(
                _outcome_dir(ctx) / f"{source.id}.mentions.jsonl.gz", parsed.mentions
            )
            outcome["items"] = len(parsed.mentions)
            if parsed.warning:
                outcome.update(status="warning", warning=parsed.warning)
    except SourceError as exc:
        outcome.update(status="error", error_kind=exc.kind.value, error=str(exc), retryable=exc.retryable)
        if exc.retry_after is not None:
            outcome["retry_after"] = exc.retry_after
    except Exception as exc:  # a bug in a listener must not stop the other sources
        outcome.update(status="error", error_kind=ErrorKind.INTERNAL.value, error=f"source {source.id!r}: {exc!r}")
        outcome["retryable"] = False
    outcome["duration_s"] = round(time.monotonic() - started, 3)
    _write_json(_outcome_dir(ctx) / f"{source.id}.json", outcome)
    return {k: outcome.get(k) for k in ("source_id", "status", "items", "error_kind", "error", "retryable")}


def load(ctx: RunContext, source_ids: Iterable[str]) -> dict[str, Any]:
    """Commit every planned source's outcome in one transaction; a missing outcome is an error too."""
    records = [_record_for(ctx, source_id) for source_id in source_ids]
    with writer(ctx.paths.warehouse) as con:
        totals = record_fetches(con, ctx.run_id, ctx.run_at, records)
        status = "success" if not totals["failed"] else "partial"
        errors = {r.source_id: r.error for r in records if r.failed}
        record_run(con, ctx.run_id, "listen", ctx.run_at, datetime.now(UTC), status, {**totals, "errors": errors})
    return {**totals, "status": status, "errors": errors}


def listen(ctx: RunContext, workers: int = 8) -> dict[str, Any]:
    """The whole stage without a scheduler (the CLI): same code as the DAG's tasks."""
    specs = plan(ctx)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(lambda spec: fetch(ctx, spec), specs))
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
    mentions: list[Mention] = []
    if outcome.get("mentions_file"):
        mentions = _read_mentions(Path(outcome["mentions_file"]))
    return FetchRecord(
        source_id=source_id,
        status=outcome["status"],
        fetched_at=datetime.fromisoformat(outcome["fetched_at"]),
        http_status=outcome.get("http_status"),
        etag=outcome.get("etag"),
        last_modified=outcome.get("last_modified"),
        warning=outcome.get("warning"),
        error_kind=outcome.get("error_kind"),
        error=outcome.get("error"),
        landing_path=outcome.get("landing_path"),
        duration_s=outcome.get("duration_s", 0.0),
        mentions=mentions,
    )


def _write_mentions(path: Path, mentions: list[Mention]) -> str:
    lines = "".join(json.dumps(asdict(m), default=_iso) + "\n" for m in mentions)
    atomic_write(path, gzip.compress(lines.encode("utf-8"), mtime=0))
    return str(path)


def _read_mentions(path: Path) -> list[Mention]:
    out = []
    for line in gzip.decompress(path.read_bytes()).decode("utf-8").splitlines():
        row = json.loads(line)
        if row["published_at"]:
            row["published_at"] = datetime.fromisoformat(row["published_at"])
        out.append(Mention(**row))
    return out


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
