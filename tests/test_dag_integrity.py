"""DagBag integrity: the DAG files parse fast, cleanly, and as wiring only."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from earshot.airflow_runner import PIPELINE, airflow_env

HEAVY = [
    "torch",
    "sentence_transformers",
    "transformers",
    "hdbscan",
    "sklearn",
    "duckdb",
    "feedparser",
    "praw",
    "numpy",
    "listeners",
    "models",
    "warehouse",
    "reports",
]

PARSE = textwrap.dedent(
    """
    import json, sys, time
    from airflow.sdk import BaseHook, Variable

    def refuse(*args, **kwargs):
        raise RuntimeError("looked up a connection or variable while parsing")

    BaseHook.get_connection = refuse
    Variable.get = refuse
    from airflow.dag_processing.dagbag import DagBag
    started = time.monotonic()
    bag = DagBag(dag_folder=sys.argv[1])
    elapsed = time.monotonic() - started
    heavy = sorted(m for m in json.loads(sys.argv[2]) if m in sys.modules)
    def cron(dag):
        timetable = getattr(dag.timetable, "timetable", dag.timetable)  # AssetOrTimeSchedule wraps a cron one
        return getattr(timetable, "expression", None)

    def consumes(dag):
        condition = getattr(dag.timetable, "asset_condition", None)
        return sorted(a.uri for a in getattr(condition, "objects", [])) if condition else []

    dags = {
        dag_id: {
            "tags": sorted(dag.tags),
            "retries": dag.default_args.get("retries"),
            "catchup": dag.catchup,
            "schedule": cron(dag),
            "timetable": type(dag.timetable).__name__,
            "consumes": consumes(dag),
            "produces": sorted(o.uri for t in dag.tasks for o in t.outlets),
            "doc_md": bool(dag.doc_md and dag.doc_md.strip()),
            "dagrun_timeout": dag.dagrun_timeout.total_seconds() if dag.dagrun_timeout else None,
            "tasks": {
                t.task_id: {
                    "retries": t.retries,
                    "pool": t.pool,
                    "timeout": t.execution_timeout.total_seconds() if t.execution_timeout else None,
                    "backoff": t.retry_exponential_backoff,
                    "retry_policy": type(t.retry_policy).__name__ if t.retry_policy else None,
                }
                for t in dag.tasks
            },
        }
        for dag_id, dag in bag.dags.items()
    }
    print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()}, "seconds": elapsed,
                      "heavy": heavy, "dags": dags}))
    """
)


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    import dags

    env = airflow_env(tmp_path_factory.mktemp("airflow"))
    proc = subprocess.run(
        [sys.executable, "-c", PARSE, str(Path(dags.__file__).parent), json.dumps(HEAVY)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_no_import_errors_and_every_pipeline_dag_is_there(parsed: dict) -> None:
    assert parsed["errors"] == {}
    assert set(PIPELINE) <= set(parsed["dags"])


def test_dag_files_import_nothing_heavy_at_parse_time(parsed: dict) -> None:
    assert parsed["heavy"] == []


def test_parsing_is_fast(parsed: dict) -> None:
    assert parsed["seconds"] < 5.0


@pytest.mark.parametrize("dag_id", PIPELINE)
def test_dag_conventions(parsed: dict, dag_id: str) -> None:
    dag = parsed["dags"][dag_id]
    assert "earshot" in dag["tags"] and len(dag["tags"]) >= 2
    assert dag["retries"] and dag["retries"] >= 1
    assert all(task["retries"] >= 1 for task in dag["tasks"].values())
    assert dag["catchup"] is False
    assert dag["doc_md"]
    assert dag["schedule"] or dag["consumes"]  # an explicit schedule: cron or assets


def test_pipeline_is_connected_by_assets(parsed: dict) -> None:
    dags = parsed["dags"]
    assert dags["earshot_listen"]["schedule"] == "0 */6 * * *"
    assert dags["earshot_listen"]["produces"] == dags["earshot_themes"]["consumes"] == ["earshot://warehouse/mentions"]
    assert dags["earshot_themes"]["produces"] == dags["earshot_report"]["consumes"] == ["earshot://warehouse/themes"]
    # weekly (EARSHOT_REPORT_SCHEDULE) *or* when the themes changed
    report = dags["earshot_report"]
    assert (report["timetable"], report["schedule"]) == ("AssetOrTimeSchedule", "0 7 * * 1")


def test_every_dag_and_task_has_a_time_limit_and_real_backoff(parsed: dict) -> None:
    for dag_id, dag in parsed["dags"].items():
        assert dag["dagrun_timeout"], dag_id
        for task_id, task in dag["tasks"].items():
            assert task["timeout"] and task["timeout"] <= dag["dagrun_timeout"], (dag_id, task_id)
            assert task["backoff"] == 2.0, (dag_id, task_id)  # a real multiplier (True means 1.0 in Airflow 3.3)
            assert task["retry_policy"] == "FailFast", (dag_id, task_id)  # configuration errors are not retried
    listen = parsed["dags"]["earshot_listen"]
    assert listen["dagrun_timeout"] < 6 * 3600  # shorter than the schedule's interval


def test_warehouse_writers_share_the_single_slot_pool(parsed: dict) -> None:
    listen = parsed["dags"]["earshot_listen"]["tasks"]
    assert listen["plan"]["pool"] == listen["load"]["pool"] == "earshot_warehouse"
    assert listen["fetch"]["pool"] != "earshot_warehouse"  # fetching runs in parallel, without the warehouse
    assert parsed["dags"]["earshot_themes"]["tasks"]["cluster"]["pool"] == "earshot_warehouse"
