"""When a report is written: never on empty data (the DAG skips it with the reason in its log), and between
weekly runs only on theme news."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from earshot.airflow_runner import run_dags
from earshot.report_triggers import nothing_to_report, theme_news
from tests.conftest import LoopbackServer
from tests.test_listen_stage import write_market
from warehouse.connection import writer
from warehouse.load import record_run

AT = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def _mention(con: object, mention_id: str, heard: datetime) -> None:
    con.execute(  # type: ignore[attr-defined]
        "INSERT INTO mentions (mention_id, source_id, audience, title, text, content_hash, first_seen_run, "
        "last_seen_run, first_seen_at, last_seen_at) VALUES (?, 'src', 'customers', 't', 'x', ?, 'r1', 'r1', ?, ?)",
        [mention_id, f"h_{mention_id}", heard, heard],
    )


def test_no_warehouse_no_mentions_or_no_themes_is_nothing_to_report(tmp_path: Path) -> None:
    db = tmp_path / "earshot.duckdb"
    assert "no warehouse" in (nothing_to_report(db, AT) or "")
    with writer(db):
        pass
    assert "no mention heard by 2026-03-02 07:00 UTC" in (nothing_to_report(db, AT) or "")
    with writer(db) as con:
        _mention(con, "later", AT + timedelta(hours=1))  # heard after the run's time: not this report's
    assert "no mention heard" in (nothing_to_report(db, AT) or "")
    with writer(db) as con:
        _mention(con, "m1", AT - timedelta(days=1))
    assert "1 mentions heard, but no themes run finished" in (nothing_to_report(db, AT) or "")
    with writer(db) as con:
        record_run(con, "themes-run", "themes", AT - timedelta(hours=2), AT - timedelta(hours=1), "success", {})
    assert nothing_to_report(db, AT) is None


@pytest.mark.parametrize(
    ("cluster", "hypotheses", "news"),
    [
        ({"mode": "assign", "lineage": {"continue": 5}}, {"proposed": [], "status_changes": {}}, None),
        ({"mode": "refit", "lineage": {"continue": 5}}, {}, None),  # a refit that kept every theme: no news
        ({"mode": "refit", "lineage": {"new": 5}}, {}, "themes new: 5"),
        (
            {"mode": "refit", "lineage": {"continue": 3, "merge": 2, "retired": 1}},
            {},
            "themes merge: 2; themes retired: 1",
        ),
        ({"mode": "assign", "lineage": {}}, {"proposed": ["h1", "h2"]}, "2 hypotheses proposed"),
        ({"mode": "assign"}, {"status_changes": {"h1": "testing → validated"}}, "1 hypotheses changed status"),
    ],
)
def test_theme_news_is_what_a_report_would_say_changed(cluster: dict, hypotheses: dict, news: str | None) -> None:
    assert theme_news(cluster, hypotheses) == news


@pytest.mark.e2e
def test_the_report_dag_skips_on_an_empty_warehouse_and_says_why(tmp_path: Path, http_server: LoopbackServer) -> None:
    """What unpausing earshot_report on a fresh installation does: no report, no mail, a skipped run."""
    market = write_market(tmp_path / "market.yaml", http_server, {"ok": "/ok.xml"})
    home = tmp_path / "home"
    env = {**os.environ, "EARSHOT_HOME": str(home), "EARSHOT_CONFIG": str(market), "EARSHOT_RETRIES": "0"}
    (run,) = run_dags(home / "airflow", ("earshot_report",), env=env)
    assert run["state"] == "success"
    assert run["tasks"] == {"write_report": "skipped", "deliver": "skipped", "analyst_snapshot": "skipped"}
    assert not any((home / "reports").glob("*/report.html"))
    log = (home / "airflow" / "logs" / "earshot-dag-test.log").read_text(errors="replace")
    assert "no report: no warehouse at" in log or "no report: no mention heard" in log
