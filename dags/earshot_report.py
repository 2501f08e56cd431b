"""
### earshot · report

Runs **weekly, Monday 07:00 UTC**, *or* as soon as the theme landscape changed (the
`earshot://warehouse/themes` asset, updated by **earshot_themes** only when a theme appeared, merged, split
or retired, or a hypothesis was proposed or changed status). Set the environment variable
`EARSHOT_REPORT_SCHEDULE` where the DAG files are parsed (scheduler and dag-processor) to change the weekly
time: a cron string (`0 7 * * 1-5`) or a preset (`@daily`, `@weekly`, `@monthly`). It is read at parse time,
from the environment only: a DAG's schedule cannot wait for `market.yaml` to be read. Each report covers the
period since the previous report (or the last 7 days for the first one).

**Never on empty data.** While nothing has been heard, or no themes run has finished, `write_report` is
*skipped* (and so are `deliver` and `analyst_snapshot`): its log says why, nothing is written or mailed.
Unpausing this DAG on a fresh installation therefore writes nothing until the pipeline has data.

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

from datetime import timedelta

import pendulum
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from earshot.airflow_support import THEMES, WAREHOUSE_POOL, default_args
from earshot.settings import settings

REPORT_SCHEDULE = settings().report_schedule


@dag(
    dag_id="earshot_report",
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable(REPORT_SCHEDULE, timezone="UTC"), assets=[THEMES]),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["earshot", "report"],
    default_args=default_args(),
    dagrun_timeout=timedelta(hours=3),
    doc_md=__doc__,
)
def earshot_report() -> None:
    @task(pool=WAREHOUSE_POOL, execution_timeout=timedelta(hours=1))
    def write_report(**context: object) -> dict:
        """Render the report from the warehouse as it is now; returns its paths (XCom carries references).
        Skipped, with the reason in its log, while there is nothing to report."""
        from airflow.sdk.exceptions import AirflowSkipException

        from earshot import report
        from earshot.airflow_support import run_context
        from earshot.report_triggers import nothing_to_report

        ctx = run_context(context)
        empty = nothing_to_report(ctx.paths.warehouse, ctx.run_at)
        if empty:
            raise AirflowSkipException(f"no report: {empty}")
        return report.report(ctx)

    @task(execution_timeout=timedelta(minutes=30))
    def deliver(written: dict, **context: object) -> dict:
        """Send the report (not in the writer pool: retries must not hold the warehouse slot)."""
        from earshot import delivery
        from earshot.airflow_support import run_context

        try:
            return delivery.deliver(run_context(context), written["html"], written["markdown"], written)
        except delivery.DeliveryFailed as exc:
            if exc.retryable:
                raise
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(str(exc)) from exc

    @task(execution_timeout=timedelta(minutes=30))
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
