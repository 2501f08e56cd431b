"""Failures are kept in the warehouse; a source that stays failed raises one alert, not one per run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from earshot import listen
from earshot.monitoring import record_task_failure
from earshot.runs import RunContext
from tests.conftest import LoopbackServer, Reply
from tests.test_delivery import Receiver, SmtpServer, email_block, receiver, smtp  # noqa: F401 (fixtures)
from tests.test_listen_stage import GOOD, conditional, write_market
from warehouse.connection import reader, writer
from warehouse.load import record_run


@pytest.fixture
def flaky(tmp_path: Path, http_server: LoopbackServer, earshot_home: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    routes = {"/good.xml": conditional(GOOD), "/flaky.xml": Reply(503)}
    http_server.routes.update(routes)
    path = write_market(tmp_path / "market.yaml", http_server, {"good": "/good.xml", "flaky": "/flaky.xml"})
    monkeypatch.setenv("EARSHOT_CONFIG", str(path))
    return http_server.routes


def alerts(db: Path) -> list[tuple]:
    with reader(db) as con:
        return con.execute(
            "SELECT subject, raised_run, resolved_run IS NOT NULL, notify_error FROM alerts ORDER BY raised_at"
        ).fetchall()


def run(n: int) -> dict:
    return listen.listen(RunContext.create(run_id=f"run{n:02d}"), workers=2)


def test_a_failing_source_alerts_once_then_resolves_then_can_alert_again(flaky: dict, earshot_home: Path) -> None:
    db = earshot_home / "earshot.duckdb"
    raised = [run(n)["alerts"] for n in range(1, 6)]
    assert raised[:2] == [[], []]  # two failures: not yet a pattern
    assert len(raised[2]) == 1 and raised[2][0].startswith("Source flaky has failed 3 runs in a row")
    assert raised[3:] == [[], []]  # still failing: silent
    assert alerts(db) == [("flaky", "run03", False, "no notification channel configured")]

    flaky["/flaky.xml"] = Reply(200, GOOD.replace(b"g", b"h"))
    assert run(6)["resolved"] == ["flaky"]
    assert alerts(db)[0][2] is True

    flaky["/flaky.xml"] = Reply(503)
    for n in range(7, 10):
        summary = run(n)
    assert len(summary["alerts"]) == 1
    assert [(a[0], a[1], a[2]) for a in alerts(db)] == [("flaky", "run03", True), ("flaky", "run09", False)]


def test_task_failures_are_kept_and_mark_the_stage_failed_unless_it_reported_itself(earshot_home: Path) -> None:
    db = earshot_home / "earshot.duckdb"
    at = datetime(2026, 11, 20, tzinfo=UTC)
    with writer(db) as con:
        record_run(con, "r1", "listen", at, at, "partial", {})
        record_run(con, "r2", "themes", at, None, "running", {})
    record_task_failure(db, "r1", "earshot_listen", "fetch", 3, 2, "source 'down': http_5xx", at)
    record_task_failure(db, "r2", "earshot_themes", "cluster", -1, 3, "MemoryError", at)
    record_task_failure(db, "r3", "earshot_report", "write_report", -1, 1, "disk full", at)
    record_task_failure(db, "r3", "earshot_report", "write_report", -1, 2, "disk full", at)  # re-run: one row
    with reader(db) as con:
        runs = con.execute("SELECT run_id, stage, status, error FROM runs ORDER BY 1").fetchall()
        failures = con.execute("SELECT run_id, task_id, map_index, try_number FROM task_failures ORDER BY 1").fetchall()
    assert runs[0][:3] == ("r1", "listen", "partial") and "earshot_listen.fetch[3]: source 'down'" in runs[0][3]
    assert runs[1][:3] == ("r2", "themes", "failed") and "cluster: MemoryError" in runs[1][3]
    assert runs[2][:3] == ("r3", "report", "failed")
    assert failures == [("r1", "fetch", 3, 2), ("r2", "cluster", -1, 3), ("r3", "write_report", -1, 2)]


def test_the_alert_is_sent_once_by_webhook_and_mail(
    flaky: dict,
    earshot_home: Path,
    smtp: SmtpServer,  # noqa: F811 (the fixture)
    receiver: Receiver,  # noqa: F811 (the fixture)
) -> None:
    import os

    import yaml

    config = Path(os.environ["EARSHOT_CONFIG"])
    plan = yaml.safe_load(config.read_text())
    plan["delivery"] = {"webhook": {"url": receiver.url}, "email": email_block(smtp.port, ["ops@vaultline.example"])}
    config.write_text(yaml.safe_dump(plan))
    for n in range(1, 6):
        run(n)
    assert len(receiver.posts) == 1 and "Source flaky has failed 3 runs in a row" in receiver.bodies()[0]["text"]
    assert [(to, message["Subject"]) for _, to, message in smtp.mailbox.messages] == [
        (["ops@vaultline.example"], "earshot alert: flaky")
    ]
    with reader(earshot_home / "earshot.duckdb") as con:
        assert con.execute("SELECT notified_at IS NOT NULL, notify_error FROM alerts").fetchall() == [(True, None)]
