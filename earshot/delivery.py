"""Delivering a written report: e-mail to each recipient and an optional webhook, through an outbox.

The report files are written first (the report stage) and only read here, so a delivery failure can never
lose a report. Each channel × target is a row in ``deliveries`` (pending → sent | failed). Transient failures
are retried within the run with backoff; what still failed stays in the outbox and is tried again by the next
delivery of the same run (an Airflow retry, ``earshot deliver RUN_ID``), while ``sent`` rows are never sent
again. Delivery is at least once: a process killed between sending and recording re-sends that one message
(mails carry a stable Message-ID, so the receiving side can tell).

The warehouse writer is held only to enqueue and to record outcomes, never while talking to a server.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

    from earshot.config import DeliverySettings
    from earshot.runs import RunContext

log = logging.getLogger(__name__)

EMAIL, WEBHOOK = "email", "webhook"
MAX_RETRY_AFTER = 60.0  # longest Retry-After a webhook receiver may impose within a run


class SendError(Exception):
    """One try at one target failed; ``transient`` says whether trying again may help."""

    def __init__(self, problem: str, *, transient: bool, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.transient = transient
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[Any, ...]:
        return _send_error, (self.problem, self.transient, self.retry_after)


def _send_error(problem: str, transient: bool, retry_after: float | None) -> SendError:
    return SendError(problem, transient=transient, retry_after=retry_after)


class DeliveryFailed(RuntimeError):
    """Some deliveries of a report failed (each named in the message); they stay in the outbox.

    Raised so that Airflow retries the task; ``retryable`` is False when every failure was permanent
    (authentication, a rejected address), which only a change of settings can fix.
    """

    def __init__(self, summary: dict[str, Any]) -> None:
        failures = summary["failures"]
        super().__init__(f"{len(failures)} of the report's deliveries failed: " + "; ".join(failures))
        self.summary = summary
        self.retryable = bool(summary.get("retryable"))

    def __reduce__(self) -> tuple[type[DeliveryFailed], tuple[dict[str, Any]]]:
        return DeliveryFailed, (self.summary,)  # survives pickling (task runners pass exceptions between processes)


@dataclass
class _Outcome:
    """What this run's tries at one target came to."""

    status: str = "pending"
    attempts: int = 0
    error: SendError | None = None
    first_tried_at: datetime | None = None
    sent_at: datetime | None = None


def _now() -> datetime:
    """When a try happened: bookkeeping of an event, not input to any decision (those use ``ctx.run_at``)."""
    return datetime.now(UTC)


def with_retries(
    attempt: Callable[[list[str]], dict[str, SendError | None]],
    targets: Sequence[str],
    retries: int,
    backoff_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, _Outcome]:
    """Try ``targets`` up to ``1 + retries`` times, each round only those that failed transiently.

    ``attempt`` returns per target ``None`` (done) or a :class:`SendError`; raising one means it concerns
    every target of the round (the server was unreachable). Waits ``backoff_seconds``, doubling, between
    rounds, or a receiver's Retry-After when longer (up to :data:`MAX_RETRY_AFTER`).
    """
    outcomes = {t: _Outcome() for t in targets}
    pending = list(targets)
    for round_ in range(retries + 1):
        if round_:
            wait = backoff_seconds * 2 ** (round_ - 1)
            hinted = [o.error.retry_after for o in (outcomes[t] for t in pending) if o.error and o.error.retry_after]
            sleep(max([wait, *(min(h, MAX_RETRY_AFTER) for h in hinted)]))
        started = _now()
        try:
            results = attempt(pending)
        except SendError as exc:
            results = dict.fromkeys(pending, exc)
        retry = []
        for t in pending:
            outcome = outcomes[t]
            outcome.attempts += 1
            outcome.first_tried_at = outcome.first_tried_at or started
            error = results.get(t, SendError("no result (internal error)", transient=True))
            outcome.error = error
            if error is None:
                outcome.status, outcome.sent_at = "sent", _now()
            elif error.transient and round_ < retries:
                retry.append(t)
            else:
                outcome.status = "failed"
        pending = retry
        if not pending:
            break
    return outcomes


def targets(settings: DeliverySettings) -> list[tuple[str, str]]:
    """Every (channel, target) the settings ask for, in a stable order."""
    from earshot import mail, webhook

    found = []
    if settings.email:
        found += [(EMAIL, mail.address(recipient)) for recipient in settings.email.recipients]
    if settings.webhook:
        found.append((WEBHOOK, webhook.target(settings.webhook.url)))
    return found


def deliver(
    ctx: RunContext,
    report_html: Path,
    report_md: Path,
    summary: dict[str, Any],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Deliver the report of run ``ctx.run_id`` to every configured target not yet reached.

    Returns:
        ``{"run_id", "configured", "sent", "already_sent", "failed", "failures", "retryable"}``; ``sent``
        counts this call's successes.

    Raises:
        DeliveryFailed: at least one target failed (after in-run retries); recorded before raising.
        FileNotFoundError: a report file is missing (nothing is recorded: there is nothing to deliver).
    """
    wanted = targets(ctx.market.delivery)
    result = _empty_result(ctx.run_id, configured=bool(wanted))
    if not wanted:
        log.info(result["message"])
        return result
    report_html, report_md = Path(report_html), Path(report_md)
    for path in (report_html, report_md):
        if not path.is_file():
            raise FileNotFoundError(f"report file {path} not found: the report is written before it is delivered")
    started = _now()
    status = _enqueue(ctx, wanted, report_html, report_md, summary)
    todo = [(channel, target) for channel, target in wanted if status.get((channel, target)) != "sent"]
    result["already_sent"] = len(wanted) - len(todo)
    outcomes: dict[tuple[str, str], _Outcome] = {}
    emails = [target for channel, target in todo if channel == EMAIL]
    if emails:
        outcomes |= {(EMAIL, t): o for t, o in _send_email(ctx, emails, report_html, report_md, sleep).items()}
    if any(channel == WEBHOOK for channel, _ in todo):
        outcomes |= {(WEBHOOK, t): o for t, o in _send_webhook(ctx, summary, sleep).items()}
    for (channel, target), outcome in outcomes.items():
        if outcome.status == "sent":
            result["sent"] += 1
            log.info("delivery: %s to %s sent (%d tries)", channel, target, outcome.attempts)
        else:
            message = f"{channel} to {target}: {outcome.error.problem if outcome.error else 'not sent'}"
            result["failures"].append(message)
            result["retryable"] |= bool(outcome.error and outcome.error.transient)
            log.warning("delivery failed: %s", message)
    result["failed"] = len(result["failures"])
    _record(ctx, outcomes, started, result)
    if result["failed"]:
        raise DeliveryFailed(result)
    return result


def _empty_result(run_id: str | None, *, configured: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"run_id": run_id, "configured": configured, "sent": 0, "already_sent": 0}
    result |= {"failed": 0, "failures": [], "retryable": False}
    if not configured:
        result["message"] = "delivery: nothing configured (add delivery.email or delivery.webhook to market.yaml)"
    return result


def _send_email(
    ctx: RunContext, addresses: list[str], html_path: Path, md_path: Path, sleep: Callable[[float], None]
) -> dict[str, _Outcome]:
    from earshot import mail

    settings = ctx.market.delivery
    email = settings.email
    assert email is not None
    html, markdown = mail.read_report(html_path), mail.read_report(md_path)
    subject = email.subject.format(title=ctx.market.report.title, date=f"{ctx.run_at:%Y-%m-%d}")
    by_address = {mail.address(r): r for r in email.recipients}
    messages = {
        a: mail.build_message(email, recipient=by_address[a], subject=subject, run_id=ctx.run_id, html=html,
                              markdown=markdown)
        for a in addresses
    }  # fmt: skip

    def attempt(pending: list[str]) -> dict[str, SendError | None]:
        credentials = mail.smtp_credentials(email)  # read per round: a fixed secret is picked up by the retry
        return mail.send(email, credentials, {a: messages[a] for a in pending})

    return with_retries(attempt, addresses, settings.retries, settings.backoff_seconds, sleep)


def report_link(ctx: RunContext, summary: dict[str, Any]) -> str:
    """Where a reader opens the report: ``delivery.report_url`` filled in, else the HTML file's path."""
    from reports.render import safe_run_id

    template = ctx.market.delivery.report_url
    if template:
        return template.format(run_id=safe_run_id(ctx.run_id))
    return str(summary.get("html") or ctx.paths.reports / safe_run_id(ctx.run_id) / "report.html")


def _send_webhook(ctx: RunContext, summary: dict[str, Any], sleep: Callable[[float], None]) -> dict[str, _Outcome]:
    from earshot import webhook

    settings = ctx.market.delivery
    hook = settings.webhook
    assert hook is not None
    body = webhook.payload(
        summary,
        title=ctx.market.report.title,
        date=f"{ctx.run_at:%Y-%m-%d}",
        link=report_link(ctx, summary),
        run_id=ctx.run_id,
    )
    name = webhook.target(hook.url)

    def attempt(pending: list[str]) -> dict[str, SendError | None]:
        webhook.post(hook.url, body, hook.timeout, ctx.market.fetch.user_agent)
        return dict.fromkeys(pending)

    return with_retries(attempt, [name], settings.retries, settings.backoff_seconds, sleep)


_ENQUEUE_COLUMNS = {
    "run_id": "VARCHAR", "channel": "VARCHAR", "target": "VARCHAR", "report_at": "TIMESTAMPTZ",
    "report_html": "VARCHAR", "report_md": "VARCHAR", "summary": "VARCHAR",
}  # fmt: skip
_OUTCOME_COLUMNS = {
    "run_id": "VARCHAR", "channel": "VARCHAR", "target": "VARCHAR", "status": "VARCHAR", "attempts": "INTEGER",
    "last_error": "VARCHAR", "first_tried_at": "TIMESTAMPTZ", "sent_at": "TIMESTAMPTZ", "updated_at": "TIMESTAMPTZ",
}  # fmt: skip


def _enqueue(
    ctx: RunContext, wanted: list[tuple[str, str]], html: Path, md: Path, summary: dict[str, Any]
) -> dict[tuple[str, str], str]:
    """Add a ``pending`` row for each target not yet in the outbox; return every target's status."""
    from warehouse.bulk import staged
    from warehouse.connection import transaction, writer
    from warehouse.upsert import upsert

    payload = json.dumps(summary, default=str)
    rows = [(ctx.run_id, c, t, ctx.run_at, str(html.resolve()), str(md.resolve()), payload) for c, t in wanted]
    with writer(ctx.paths.warehouse) as con, transaction(con), staged(con, "new_deliveries", _ENQUEUE_COLUMNS, rows):
        upsert(
            con,
            "deliveries",
            "SELECT run_id, channel, target, 'pending' AS status, 0 AS attempts, report_at, report_html, report_md, "
            "summary::JSON AS summary, report_at AS updated_at FROM new_deliveries",
            ["run_id", "channel", "target"],
        )
        found = con.execute("SELECT channel, target, status FROM deliveries WHERE run_id = ?", [ctx.run_id]).fetchall()
    return {(channel, target): status for channel, target, status in found}


def _record(
    ctx: RunContext, outcomes: dict[tuple[str, str], _Outcome], started: datetime, result: dict[str, Any]
) -> None:
    """This call's outcomes and the ``deliver`` stage's run row, in one transaction."""
    from warehouse.bulk import staged
    from warehouse.connection import transaction, writer
    from warehouse.load import record_run

    finished = _now()
    rows = [
        (ctx.run_id, channel, target, o.status, o.attempts,
         None if o.status == "sent" or o.error is None else f"{channel} to {target}: {o.error.problem}",
         o.first_tried_at, o.sent_at, finished)
        for (channel, target), o in outcomes.items()
    ]  # fmt: skip
    details = {k: result[k] for k in ("sent", "already_sent", "failed", "failures")}
    with writer(ctx.paths.warehouse) as con, transaction(con):
        with staged(con, "delivery_outcomes", _OUTCOME_COLUMNS, rows):
            _apply_outcomes(con)
        status = "failed" if result["failed"] else "success"
        error = "; ".join(result["failures"]) or None
        record_run(con, ctx.run_id, "deliver", started, finished, status, details, error)


def _apply_outcomes(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        UPDATE deliveries AS d
        SET status = o.status, attempts = d.attempts + o.attempts, last_error = o.last_error,
            first_tried_at = coalesce(d.first_tried_at, o.first_tried_at), sent_at = o.sent_at,
            updated_at = o.updated_at
        FROM delivery_outcomes AS o
        WHERE d.run_id = o.run_id AND d.channel = o.channel AND d.target = o.target
        """
    )


@dataclass(frozen=True)
class ReportToDeliver:
    """A written report, as the outbox (or, before its first delivery, the ``runs`` table) knows it."""

    run_id: str
    run_at: datetime
    html: Path
    markdown: Path
    summary: dict[str, Any]


def find_report(db: Path, run_id: str | None = None) -> ReportToDeliver:
    """The report of ``run_id``, or the latest one written.

    Raises:
        LookupError: no such report in the warehouse.
    """
    from warehouse.connection import reader

    with reader(db) as con:
        if run_id is None:
            row = con.execute(
                "SELECT run_id FROM runs WHERE stage = 'report' AND status = 'success' "
                "ORDER BY finished_at DESC NULLS LAST, started_at DESC LIMIT 1"
            ).fetchone()
            if not row:
                raise LookupError("no report has been written yet: run `earshot run` (or its report stage) first")
            run_id = str(row[0])
        has_outbox = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'deliveries' AND schema_name = 'main'"
        ).fetchone()
        queued = (
            con.execute(
                "SELECT report_at, report_html, report_md, summary FROM deliveries WHERE run_id = ? LIMIT 1", [run_id]
            ).fetchone()
            if has_outbox and has_outbox[0]
            else None
        )
        if queued:
            at, html, md, summary = queued
        else:
            written = con.execute(
                "SELECT started_at, details->>'html', details->>'markdown', details FROM runs "
                "WHERE run_id = ? AND stage = 'report' AND status = 'success'",
                [run_id],
            ).fetchone()
            if not written or not written[1] or not written[2]:
                raise LookupError(f"run {run_id!r} wrote no report (see `SELECT * FROM runs WHERE run_id = ...`)")
            at, html, md, summary = written
    return ReportToDeliver(run_id, at.astimezone(UTC), Path(html), Path(md), json.loads(summary) if summary else {})


def deliver_run(run_id: str | None = None, *, sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """``earshot deliver``: (re)deliver a written report, with the settings in ``EARSHOT_CONFIG`` now.

    Targets already sent are skipped; failed and pending ones, and targets added to the settings since,
    are tried.
    """
    from earshot.config import load_market
    from earshot.paths import Paths, config_path
    from earshot.runs import RunContext

    if not targets(load_market(config_path()).delivery):  # say so before looking for a report to deliver
        return _empty_result(run_id, configured=False)
    found = find_report(Paths.from_env().warehouse, run_id)
    ctx = RunContext.create(run_id=found.run_id, run_at=found.run_at)
    return deliver(ctx, found.html, found.markdown, found.summary, sleep=sleep)
