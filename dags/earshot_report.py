"""
### earshot · report

Runs whenever themes are updated (asset `earshot://warehouse/themes`) and writes one self-contained
HTML report and its Markdown twin under `$EARSHOT_HOME/reports/<run id>/`, plus `latest.html` and
`latest.md`: themes ranked by volume with keywords, audience mix and linked quotes, and source health.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from earshot.airflow_support import THEMES, WAREHOUSE_POOL, default_args


@dag(
    dag_id="earshot_report",
    schedule=[THEMES],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["earshot", "report"],
    default_args=default_args(),
    doc_md=__doc__,
)
def earshot_report() -> None:
    @task(pool=WAREHOUSE_POOL)
    def write_report(**context: object) -> dict:
        """Render the report from the latest themes; returns its paths (XCom carries references)."""
        from earshot import report
        from earshot.airflow_support import run_context

        return report.report(run_context(context))

    write_report()


earshot_report()
