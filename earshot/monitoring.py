"""Failures and alerts: what the operator must hear about, said once.

Airflow already shows every failed task instance; earshot also keeps them in the warehouse beside the
data (``task_failures``, and the stage's row in ``runs``) so that a report or an analyst sees them too.
Alerts are for problems that need a person: a source that has failed several runs in a row
(``source_health.status = 'failing'``). An alert is raised on the run the source crosses the threshold,
notified once, stays open (silently) while the source keeps failing, and is resolved when the source
succeeds again; failing again later raises a new alert.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from warehouse.connection import transaction, writer
from warehouse.upsert import upsert

log = logging.getLogger(__name__)

CALLBACK_LOCK_WAIT_SECONDS = 60.0  # a callback must not hang a worker waiting for the warehouse
_STAGE_OF_DAG = {"earshot_listen": "listen", "earshot_themes": "themes", "earshot_report": "report"}


@dataclass(frozen=True)
class Alert:
    alert_id: str
    kind: str
    subject: str
    message: str


def record_task_failure(
    db_path: Path, run_id: str, dag_id: str, task_id: str, map_index: int, try_number: int, error: str, at: datetime
) -> None:
    """Keep a task that failed for good, and mark its stage's run as failed unless the stage already
    recorded its own outcome (a failed fetch of one source leaves the listen run 'partial', not failed)."""
    stage = _STAGE_OF_DAG.get(dag_id, dag_id)
    message = f"{dag_id}.{task_id}" + (f"[{map_index}]" if map_index >= 0 else "") + f": {error}"
    with writer(db_path, wait_seconds=CALLBACK_LOCK_WAIT_SECONDS) as con, transaction(con):
        upsert(
            con,
            "task_failures",
            "SELECT ?::VARCHAR AS run_id, ?::VARCHAR AS dag_id, ?::VARCHAR AS task_id, ?::INTEGER AS map_index, "
            "?::INTEGER AS try_number, ?::TIMESTAMPTZ AS failed_at, ?::VARCHAR AS error",
            ["run_id", "dag_id", "task_id", "map_index"],
            ["try_number", "failed_at", "error"],
            [run_id, dag_id, task_id, map_index, try_number, at, error[:2000]],
        )
        upsert(
            con,
            "runs",
            "SELECT ?::VARCHAR AS run_id, ?::VARCHAR AS stage, ?::TIMESTAMPTZ AS started_at, "
            "?::TIMESTAMPTZ AS finished_at, 'failed' AS status, '{}'::JSON AS details, ?::VARCHAR AS error",
            ["run_id", "stage"],
            {
                "error": "coalesce(runs.error || '; ', '') || excluded.error",
                "status": "CASE WHEN runs.status = 'running' THEN 'failed' ELSE runs.status END",
            },
            [run_id, stage, at, at, message[:2000]],
        )


def on_task_failure(context: Any) -> None:
    """Airflow ``on_failure_callback``: record the failure; never raise (a callback error hides the real one)."""
    try:
        from earshot.paths import Paths

        ti = context["ti"]
        exception = context.get("exception")
        record_task_failure(
            Paths.from_env().warehouse,
            run_id=context["run_id"],
            dag_id=ti.dag_id,
            task_id=ti.task_id,
            map_index=int(getattr(ti, "map_index", -1) if getattr(ti, "map_index", None) is not None else -1),
            try_number=int(getattr(ti, "try_number", 0) or 0),
            error=" ".join(str(exception or "failed").split()),
            at=datetime.now(UTC),
        )
    except Exception:  # pragma: no cover - logged for the operator, must not mask the task's own error
        log.exception("earshot: could not record the task failure in the warehouse")


def update_source_alerts(con: duckdb.DuckDBPyConnection, run_id: str, at: datetime) -> tuple[list[Alert], list[Alert]]:
    """Raise an alert for each source newly failing, resolve those that recovered; return (raised, resolved).

    Call inside the transaction that committed the run's source health, so alerts match it exactly.
    """
    raised = [
        Alert(f"source_failing:{source_id}:{run_id}", "source_failing", source_id,
              f"Source {source_id} has failed {failures} runs in a row; last error: {error or 'unknown'}")
        for source_id, failures, error in con.execute(
            """
            SELECT h.source_id, h.consecutive_failures, h.last_error FROM source_health h
            WHERE h.enabled AND h.status = 'failing' AND NOT EXISTS (
                SELECT 1 FROM alerts a WHERE a.kind = 'source_failing' AND a.subject = h.source_id
                  AND a.resolved_at IS NULL)
            ORDER BY 1
            """
        ).fetchall()
    ]  # fmt: skip
    for alert in raised:
        upsert(
            con,
            "alerts",
            "SELECT ?::VARCHAR AS alert_id, ?::VARCHAR AS kind, ?::VARCHAR AS subject, ?::VARCHAR AS message, "
            "?::TIMESTAMPTZ AS raised_at, ?::VARCHAR AS raised_run",
            ["alert_id"],
            None,
            [alert.alert_id, alert.kind, alert.subject, alert.message, at, run_id],
        )
    resolved = [
        Alert(alert_id, kind, subject, f"Source {subject} is healthy again.")
        for alert_id, kind, subject in con.execute(
            """
            SELECT a.alert_id, a.kind, a.subject FROM alerts a JOIN source_health h ON h.source_id = a.subject
            WHERE a.kind = 'source_failing' AND a.resolved_at IS NULL AND h.status <> 'failing'
            ORDER BY 1
            """
        ).fetchall()
    ]
    for alert in resolved:
        con.execute(
            "UPDATE alerts SET resolved_at = ?, resolved_run = ? WHERE alert_id = ?", [at, run_id, alert.alert_id]
        )
    return raised, resolved


def notify_alerts(
    db_path: Path, alerts: list[Alert], send: Callable[[str, str], None] | None, at: datetime
) -> dict[str, int]:
    """Send each newly raised alert once through ``send(subject, text)``; record the outcome per alert.

    With no channel configured (``send`` is None) alerts stay in the warehouse, the report and
    ``earshot sources``; nothing is lost.
    """
    sent = failed = 0
    outcomes = []
    for alert in alerts:
        if send is None:
            outcomes.append((None, "no notification channel configured", alert.alert_id))
            continue
        try:
            send(f"earshot alert: {alert.subject}", alert.message)
        except Exception as exc:  # one bad channel must not lose the others or the alert itself
            failed += 1
            outcomes.append((None, " ".join(str(exc).split())[:500], alert.alert_id))
        else:
            sent += 1
            outcomes.append((at, None, alert.alert_id))
    if outcomes:
        with writer(db_path) as con, transaction(con):
            for notified_at, error, alert_id in outcomes:
                con.execute(
                    "UPDATE alerts SET notified_at = ?, notify_error = ? WHERE alert_id = ?",
                    [notified_at, error, alert_id],
                )
    return {"alerts": len(alerts), "notified": sent, "failed": failed}


def alert_sender(ctx: Any) -> Callable[[str, str], None] | None:
    """How alerts reach a person: the channels configured under ``delivery:`` (webhook and/or mail to the
    report's recipients), or None when none is. Raises the first channel's error after trying them all."""
    settings = ctx.market.delivery
    if settings.email is None and settings.webhook is None:
        return None

    def send(subject: str, text: str) -> None:
        from email.message import EmailMessage
        from email.utils import formatdate

        from earshot import mail, webhook

        problems = []
        if settings.webhook is not None:
            try:
                body = {"text": f"*{subject}*\n{text}"}
                webhook.post(settings.webhook.url, body, settings.webhook.timeout, ctx.market.fetch.user_agent)
            except Exception as exc:
                problems.append(f"webhook {webhook.target(settings.webhook.url)}: {exc}")
        if settings.email is not None:
            messages = {}
            for recipient in settings.email.recipients:
                message = EmailMessage()
                message["From"], message["To"], message["Subject"] = settings.email.sender, recipient, subject
                message["Date"] = formatdate(localtime=False)
                message["Auto-Submitted"] = "auto-generated"
                message.set_content(text)
                messages[mail.address(recipient)] = message
            try:
                failed = mail.send(settings.email, mail.smtp_credentials(settings.email), messages)
                problems += [f"email {to}: {error}" for to, error in failed.items() if error is not None]
            except Exception as exc:
                problems.append(f"email: {exc}")
        if problems:
            raise RuntimeError("; ".join(problems))

    return send
