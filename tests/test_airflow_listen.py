"""The listen DAG through real Airflow (``dag.test()``): one task per source, failures isolated but visible
in the run's state, retries that back off, and configuration errors that are not retried."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from earshot.airflow_runner import DagRunFailed, airflow_env, run_dags
from tests.conftest import LoopbackServer, Reply, rss
from tests.test_listen_stage import write_market
from warehouse.connection import reader

pytestmark = pytest.mark.e2e


def test_a_failed_source_fails_the_run_after_the_healthy_ones_are_loaded(
    tmp_path: Path, http_server: LoopbackServer
) -> None:
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
    with pytest.raises(DagRunFailed) as failed:
        run_dags(home / "airflow", ("earshot_listen",), env=env)
    (run,) = failed.value.results

    assert run["state"] == "failed"  # the run says a source failed: red on the DAG list and the home page
    assert run["tasks"] == {
        "plan": "success",
        "fetch[ok]": "success",
        "fetch[gone]": "failed",
        "fetch[flaky]": "failed",
        "load": "success",  # ...after the healthy source's mentions were committed
        "check_sources": "failed",
    }
    assert run["tries"]["fetch[gone]"] == 1  # a 404 is not retried
    assert run["tries"]["fetch[flaky]"] == 2  # a 503 is, with backoff
    assert run["tries"]["check_sources"] == 1  # the verdict is not retried either
    assert sum(path == "/flaky" for path, _ in http_server.seen) == 2

    with reader(home / "earshot.duckdb") as con:
        health = con.execute("SELECT source_id, last_status, last_error_kind FROM sources ORDER BY 1").fetchall()
        mentions = con.execute("SELECT count(*) FROM mentions").fetchone()
        listen_run = con.execute("SELECT run_id, status FROM runs WHERE stage = 'listen'").fetchone()
        failures = con.execute("SELECT task_id, map_index, try_number, error FROM task_failures ORDER BY 2").fetchall()
    assert health == [("flaky", "error", "http_5xx"), ("gone", "error", "http_4xx"), ("ok", "ok", None)]
    assert mentions == (2,)
    assert listen_run == (run["run_id"], "partial")
    # the failure callback kept each fetch that failed for good, after its last try (the verdict adds nothing)
    assert [(task, tries) for task, _, tries, _ in failures] == [("fetch", 1), ("fetch", 2)]
    assert "http_4xx" in failures[0][3] or "http_4xx" in failures[1][3]


def test_a_broken_market_yaml_fails_at_once_instead_of_being_retried(tmp_path: Path) -> None:
    market = tmp_path / "market.yaml"
    market.write_text("company: {name: Testco}\nsources: [}\n")  # not YAML
    home = tmp_path / "home"
    env = {**os.environ, "EARSHOT_HOME": str(home), "EARSHOT_CONFIG": str(market), "EARSHOT_RETRIES": "3",
           "EARSHOT_RETRY_DELAY_SECONDS": "60"}  # fmt: skip
    with pytest.raises(DagRunFailed) as failed:
        run_dags(home / "airflow", ("earshot_listen",), env=env)
    (run,) = failed.value.results
    assert run["tasks"]["plan"] == "failed"
    assert run["tries"]["plan"] == 1  # three retries allowed, none spent: a retry cannot fix the file
    log = failed.value.log_path.read_text(errors="replace")
    assert "not valid YAML" in log and "configuration error" in log  # the reason, and why it was not retried


RETRY_DELAYS = textwrap.dedent(
    """
    import json, sys, uuid
    from datetime import datetime, timezone
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.taskinstance import TaskInstance
    from airflow.serialization.serialized_objects import DagSerialization

    bag = DagBag(dag_folder=sys.argv[1])
    end = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
    delays = {}
    for dag_id, task_id in (("earshot_listen", "fetch"), ("earshot_themes", "embed")):
        # what the scheduler holds: the serialized DAG
        task = DagSerialization.from_dict(DagSerialization.to_dict(bag.dags[dag_id])).get_task(task_id)
        delays[task_id] = []
        for try_number in range(1, 7):
            ti = TaskInstance(task=task, run_id="scheduled__2026-03-02T12:00:00+00:00", dag_version_id=uuid.uuid4())
            ti.try_number, ti.end_date = try_number, end
            delays[task_id].append((ti.next_retry_datetime() - end).total_seconds())
    print(json.dumps(delays))
    """
)


def test_retry_delays_grow_exponentially_as_airflow_computes_them(tmp_path: Path) -> None:
    """Airflow's own TaskInstance.next_retry_datetime() on the serialized DAG, as the scheduler calls it."""
    import dags

    env = {**airflow_env(tmp_path / "airflow"), "EARSHOT_RETRY_DELAY_SECONDS": "120"}
    proc = subprocess.run(
        [sys.executable, "-c", RETRY_DELAYS, str(Path(dags.__file__).parent)],
        env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    delays = json.loads(proc.stdout.strip().splitlines()[-1])
    for task_id, seconds in delays.items():
        for try_number, delay in enumerate(seconds, start=1):
            floor = min(120 * 2 ** (try_number - 1), 1800)  # doubles each try (jitter adds up to one more)...
            assert floor <= delay <= min(2 * floor, 1800), (task_id, try_number, delay)
        assert seconds[-2:] == [1800, 1800]  # ...up to the 30-minute cap
