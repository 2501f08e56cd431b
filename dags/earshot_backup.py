"""
### earshot · backup

Runs **daily, 02:30 UTC** by default (`EARSHOT_BACKUP_SCHEDULE`, read where the DAG files are parsed: a cron
string or a preset such as `@hourly`). Takes a consistent copy of the warehouse file beside it, in
`$EARSHOT_BACKUP_DIR` (default `backups/` next to `earshot.duckdb`), and keeps the newest
`EARSHOT_BACKUP_KEEP` (default 7).

The copy is taken under the warehouse's writer lock (so it waits in the `earshot_warehouse` pool like any
writer), after any log a killed writer left has been replayed, so it holds every commit. It is written under a
temporary name, flushed, opened to prove it reads, and only then renamed into place; its `.json` note records
the schema version and mention count. Restore one with `earshot restore [BACKUP]` (docs/deploy.md). On a
DuckLake warehouse the task is skipped: back up the catalog database and the data path instead.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from earshot.airflow_support import WAREHOUSE_POOL, default_args
from earshot.settings import settings

BACKUP_SCHEDULE = settings().backup_schedule


@dag(
    dag_id="earshot_backup",
    schedule=BACKUP_SCHEDULE,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=2),
    tags=["earshot", "backup"],
    default_args=default_args(),
    doc_md=__doc__,
)
def earshot_backup() -> None:
    @task(pool=WAREHOUSE_POOL, execution_timeout=timedelta(hours=1))
    def backup(**context: object) -> dict:
        """Back up the warehouse, stamped with the run's time (a retry finds the backup it already took)."""
        from earshot.paths import Paths
        from warehouse.backup import KEEP, create, is_lake

        if is_lake():
            from airflow.sdk.exceptions import AirflowSkipException

            raise AirflowSkipException("the warehouse is a DuckLake: back up its catalog and data path instead")
        taken = create(Paths.from_env().warehouse, at=context["dag_run"].run_after, keep=KEEP)  # type: ignore[attr-defined]
        return taken.as_json()

    backup()


earshot_backup()
