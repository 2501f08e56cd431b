"""The listen DAG through real Airflow (``dag.test()``): one task per source, failures isolated."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from earshot.airflow_runner import run_dags
from tests.conftest import LoopbackServer, Reply, rss
from tests.test_listen_stage import write_market
from warehouse.connection import reader

pytestmark = pytest.mark.e2e


def test_failed_sources_show_in_airflow_and_in_the_warehouse(tmp_path: Path, http_server: LoopbackServer) -> None:
    http_server.routes.update(
        {
            "/ok.xml": Reply(
                200,
                rss([{"guid": "1", "title": "Restores are slow"}, {"guid": "2", "title": "MFA"}]),
                {"Content-Type": "application/rss+xml"},
            ),
            "/gone": Reply(404),
            "/flaky": Reply(503),
        }
    )
    market = write_market(tmp_path / "market.yaml", http_server, {"ok": "/ok.xml", "gone": "/gone", "flaky": "/flaky"})
    home = tmp_path / "home"
    env = {
        **os.environ,
        "EARSHOT_HOME": str(home),
        "EARSHOT_CONFIG": str(market),
        "EARSHOT_RETRIES": "1",
        "EARSHOT_RETRY_DELAY_SECONDS": "1",
    }
    (run,) = run_dags(home / "airflow", ("earshot_listen",), env=env)

    assert run["state"] == "success"  # the run completes: failures are per source
    assert run["tasks"] == {
        "plan": "success",
        "fetch[ok]": "success",
        "fetch[gone]": "failed",
        "fetch[flaky]": "failed",
        "load": "success",
    }
    assert run["tries"]["fetch[gone]"] == 1  # a 404 is not retried
    assert run["tries"]["fetch[flaky]"] == 2  # a 503 is, with backoff
    assert sum(path == "/flaky" for path, _ in http_server.seen) == 2

    with reader(home / "earshot.duckdb") as con:
        health = con.execute("SELECT source_id, last_status, last_error_kind FROM sources ORDER BY 1").fetchall()
        mentions = con.execute("SELECT count(*) FROM mentions").fetchone()
        listen_run = con.execute("SELECT run_id, status FROM runs WHERE stage = 'listen'").fetchone()
        failures = con.execute("SELECT task_id, map_index, try_number, error FROM task_failures ORDER BY 2").fetchall()
    assert health == [("flaky", "error", "http_5xx"), ("gone", "error", "http_4xx"), ("ok", "ok", None)]
    assert mentions == (2,)
    assert listen_run == (run["run_id"], "partial")
    # the failure callback kept each task that failed for good, after its last try
    assert [(task, tries) for task, _, tries, _ in failures] == [("fetch", 1), ("fetch", 2)]
    assert "http_4xx" in failures[0][3] or "http_4xx" in failures[1][3]
