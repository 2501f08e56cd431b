"""Run earshot's DAGs through real Airflow without a scheduler: ``dag.test()`` on an embedded SQLite
metadata database under the data directory.

Airflow reads its configuration when first imported, so the DAGs run in a child process whose
environment is prepared here; its verbose log goes to a file, and a JSON summary comes back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

PIPELINE = ("earshot_listen", "earshot_themes", "earshot_report")


def dags_folder() -> Path:
    import dags

    return Path(dags.__file__).parent


def airflow_env(airflow_home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for an embedded Airflow: SQLite metadata under ``airflow_home``, no examples, and task logs
    at INFO, where earshot's stages say what they did."""
    env = dict(os.environ if base is None else base)
    airflow_home.mkdir(parents=True, exist_ok=True)
    env["AIRFLOW_HOME"] = str(airflow_home)
    env.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{airflow_home / 'airflow.db'}")
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags_folder())
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    env.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")
    return env


class DagRunFailed(RuntimeError):
    """A DAG run did not succeed; the message says which tasks failed and where the log is."""

    def __init__(self, message: str, results: list[dict[str, Any]], log_path: Path) -> None:
        super().__init__(message)
        self.results, self.log_path = results, log_path


def run_dags(
    airflow_home: Path, dag_ids: tuple[str, ...] = PIPELINE, env: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Run each DAG once, in order, in a child process; return one summary per DAG run."""
    env = airflow_env(airflow_home, env)
    log_path = airflow_home / "logs" / "earshot-dag-test.log"
    result_path = airflow_home / "earshot-dag-test.json"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    result_path.unlink(missing_ok=True)
    with log_path.open("w") as log:
        proc = subprocess.run(  # noqa: S603 (our own interpreter and module, no shell)
            [sys.executable, "-m", "earshot.airflow_runner", str(result_path), *dag_ids],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    results: list[dict[str, Any]] = json.loads(result_path.read_text()) if result_path.exists() else []
    failed = [r for r in results if r["state"] != "success"]
    if proc.returncode != 0 or failed or len(results) != len(dag_ids):
        tail = "".join(log_path.read_text(errors="replace").splitlines(keepends=True)[-40:])
        detail = "; ".join(f"{r['dag_id']}: {r['state']} (failed tasks: {r['failed_tasks']})" for r in failed)
        raise DagRunFailed(
            f"Airflow DAG runs did not all succeed: {detail or 'runner exited ' + str(proc.returncode)}"
            f"\nfull log: {log_path}\n--- last lines ---\n{tail}",
            results,
            log_path,
        )
    return results


def _child(result_path: Path, dag_ids: list[str]) -> int:
    """Inside the child process: migrate the metadata DB, create the pool, test each DAG."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.pool import Pool
    from airflow.utils.db import upgradedb

    from earshot.airflow_support import WAREHOUSE_POOL

    upgradedb()
    Pool.create_or_update_pool(WAREHOUSE_POOL, 1, "earshot: one writer on the DuckDB warehouse", False)
    bag = DagBag(dag_folder=str(dags_folder()))
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    results = []
    for dag_id in dag_ids:
        dag_run = bag.get_dag(dag_id).test()
        instances = {_name(ti): ti for ti in dag_run.get_task_instances()}
        results.append(
            {
                "dag_id": dag_id,
                "run_id": dag_run.run_id,
                "state": str(dag_run.state),
                "tasks": {name: str(ti.state) for name, ti in instances.items()},
                "tries": {name: ti.try_number for name, ti in instances.items()},
                "failed_tasks": sorted(
                    n for n, ti in instances.items() if str(ti.state) in {"failed", "upstream_failed"}
                ),
            }
        )
        result_path.write_text(json.dumps(results, indent=1))
        if str(dag_run.state) != "success":
            break
    return 0


def _name(ti: Any) -> str:
    """``task`` or ``task[label]`` for a mapped instance (its rendered map index, e.g. the source id)."""
    if ti.map_index < 0:
        return str(ti.task_id)
    return f"{ti.task_id}[{ti.rendered_map_index or ti.map_index}]"


if __name__ == "__main__":
    sys.exit(_child(Path(sys.argv[1]), sys.argv[2:]))
