"""
### earshot · listen

Pulls every enabled source in `market.yaml` (one mapped task per source, so each source is visible,
retried and diagnosed on its own), keeps each raw payload in the landing zone, and commits all
mentions plus fetch state and source health to the warehouse in **one transaction**.

* A source that fails shows as a failed `fetch` task instance; the error is also recorded against the
  source in the `sources` and `fetches` tables, and the other sources load normally.
* Errors a retry can help with (timeouts, 5xx, 429) are retried with backoff; the others fail at once.
* On success it updates the `earshot://warehouse/mentions` asset, which triggers **earshot_themes**.
"""

from __future__ import annotations

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
    doc_md=__doc__,
)
def earshot_listen() -> None:
    @task(pool=WAREHOUSE_POOL)
    def plan(**context: object) -> list[dict]:
        """Register the configured sources; hand each fetch its conditional-GET validators."""
        from earshot import listen
        from earshot.airflow_support import run_context

        return listen.plan(run_context(context))

    @task(map_index_template="{{ spec['source_id'] }}")
    def fetch(spec: dict, **context: object) -> dict:
        """Fetch, land and parse one source (no warehouse access)."""
        from earshot import listen
        from earshot.airflow_support import fail_for, run_context

        outcome = listen.fetch(run_context(context), spec)
        fail_for(outcome)
        return outcome

    @task(pool=WAREHOUSE_POOL, trigger_rule="all_done", outlets=[MENTIONS])
    def load(specs: list[dict], **context: object) -> dict:
        """Commit every source's outcome, failures included, in one transaction."""
        from earshot import listen
        from earshot.airflow_support import run_context

        return listen.load(run_context(context), [spec["source_id"] for spec in specs])

    specs = plan()
    fetch.expand(spec=specs) >> load(specs)


earshot_listen()
