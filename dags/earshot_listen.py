"""
### earshot · listen

Pulls every enabled source in `market.yaml` (one mapped task per source, so each source is visible,
retried and diagnosed on its own), keeps each raw payload in the landing zone, and commits all
mentions plus fetch state and source health to the warehouse in **one transaction**.

* A source that fails shows as a failed `fetch` task instance; the error is also recorded against the
  source in the `sources` and `fetches` tables, and the other sources load normally.
* Errors a retry can help with (timeouts, 5xx, 429) are retried with backoff (about 2 min, then 4 min);
  the others (404, not a feed, a broken `market.yaml`) fail at once.
* `load` updates the `earshot://warehouse/mentions` asset, which triggers **earshot_themes**, with
  whatever the healthy sources brought.
* `check_sources` then fails when any source failed, so the run itself shows as **failed** on the DAG
  list and the home page; its log names each failed source and why.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from earshot.airflow_support import MENTIONS, WAREHOUSE_POOL, default_args


@dag(
    dag_id="earshot_listen",
    schedule="0 */6 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["earshot", "listen"],
    default_args=default_args(),
    dagrun_timeout=timedelta(hours=3),  # runs every 6 hours: a stuck run must not swallow the next one
    doc_md=__doc__,
)
def earshot_listen() -> None:
    @task(pool=WAREHOUSE_POOL, execution_timeout=timedelta(minutes=10))
    def plan(**context: object) -> list[dict]:
        """Register the configured sources; hand each fetch its conditional-GET validators."""
        from earshot import listen
        from earshot.airflow_support import run_context

        return listen.plan(run_context(context))

    @task(map_index_template="{{ spec['source_id'] }}", execution_timeout=timedelta(minutes=30))
    def fetch(spec: dict, **context: object) -> dict:
        """Fetch, land and parse one source (no warehouse access)."""
        from earshot import listen
        from earshot.airflow_support import fail_for, run_context

        outcome = listen.fetch(run_context(context), spec)
        fail_for(outcome)
        return outcome

    @task(pool=WAREHOUSE_POOL, trigger_rule="all_done", outlets=[MENTIONS], execution_timeout=timedelta(minutes=30))
    def load(specs: list[dict], **context: object) -> dict:
        """Commit every source's outcome, failures included, in one transaction."""
        from earshot import listen
        from earshot.airflow_support import run_context

        return listen.load(run_context(context), [spec["source_id"] for spec in specs])

    @task(on_failure_callback=None, execution_timeout=timedelta(minutes=5))
    def check_sources(loaded: dict) -> dict:
        """Fail the run when a source failed (its mentions were kept; the failure is already recorded)."""
        from earshot.airflow_support import fail_if_sources_failed

        return fail_if_sources_failed(loaded)

    specs = plan()
    loaded = load(specs)
    fetch.expand(spec=specs) >> loaded
    check_sources(loaded)


earshot_listen()
