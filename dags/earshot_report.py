"""
### earshot · report

Runs **weekly, Monday 07:00 UTC** by default. Set the environment variable `EARSHOT_REPORT_SCHEDULE` where
the DAG files are parsed (scheduler and dag-processor) to change it: a cron string (`0 7 * * 1-5`) or a
preset (`@daily`, `@weekly`, `@monthly`). It is read at parse time, from the environment only: a DAG's
schedule cannot wait for `market.yaml` to be read. The themes DAG keeps the warehouse fresh in between;
each report covers the period since the previous report (or the last 7 days for the first one).

Writes one self-contained HTML report (charts inline, no scripts, opens offline) and its Markdown twin under
`$EARSHOT_HOME/reports/<run id>/` with a `summary.json`, refreshes `latest.html` / `latest.md`, and rewrites
the archive index `index.html` / `index.md` listing every report. The report reads: summary, hypotheses to
test first, under test, validated (with their sales briefs), trending and emerging themes by audience with
charts, what changed since the last report, and source health. Validated hypotheses are handed off first:
their sales briefs are written under `reports/briefs/<hypothesis id>/`.

Then, side by side: **deliver** mails the report and posts the webhook configured under `delivery:` in
`market.yaml` (an outbox in the `deliveries` table: retried, never sent twice, the report never touched), and
**analyst_snapshot** refreshes `analyst.duckdb`, the read-only copy analysts query (with full-text and
similarity indexes) while the pipeline writes.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import dag, task

from earshot.airflow_support import WAREHOUSE_POOL, default_args

REPORT_SCHEDULE = os.environ.get("EARSHOT_REPORT_SCHEDULE", "").strip() or "0 7 * * 1"


@dag(
    dag_id="earshot_report",
    schedule=REPORT_SCHEDULE,
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
        """Render the report from the warehouse as it is now; returns its paths (XCom carries references)."""
        from earshot import report
        from earshot.airflow_support import run_context

        return report.report(run_context(context))

    @task
    def deliver(written: dict, **context: object) -> dict:
        """Send the report (not in the writer pool: retries must not hold the warehouse slot)."""
        from earshot import delivery
        from earshot.airflow_support import run_context

        try:
            return delivery.deliver(run_context(context), written["html"], written["markdown"], written)
        except delivery.DeliveryFailed as exc:
            if exc.retryable:
                raise
            from airflow.exceptions import AirflowFailException

            raise AirflowFailException(str(exc)) from exc

    @task
    def analyst_snapshot(**context: object) -> dict:
        """Refresh the analysts' read-only copy of the warehouse."""
        from earshot.paths import Paths
        from warehouse.analyst import refresh_snapshot

        summary = refresh_snapshot(Paths.from_env().warehouse)
        return {"path": str(summary.path), "mentions": summary.mentions, "vectors": summary.vectors}

    written = write_report()
    written >> analyst_snapshot()
    deliver(written)


earshot_report()
