"""What the DAG files share: assets, the warehouse pool, retry policy, and the run context.

Kept light on purpose: DAG files import this at parse time, so nothing heavy may be imported here.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from airflow.sdk import Asset

MENTIONS = Asset("earshot://warehouse/mentions", extra={"table": "mentions"})
THEMES = Asset("earshot://warehouse/themes", extra={"table": "themes"})

# One slot: only one task at a time writes the DuckDB file (DuckDB allows one writing process).
WAREHOUSE_POOL = "earshot_warehouse"


def default_args() -> dict[str, Any]:
    """Retries with exponential backoff (``EARSHOT_RETRIES`` / ``EARSHOT_RETRY_DELAY_SECONDS`` tune them;
    tests and the offline demo shorten the delay), and failures recorded in the warehouse."""
    return {
        "owner": "earshot",
        "retries": int(os.environ.get("EARSHOT_RETRIES", "2")),
        "retry_delay": timedelta(seconds=float(os.environ.get("EARSHOT_RETRY_DELAY_SECONDS", "120"))),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        "on_failure_callback": record_failure,
    }


def record_failure(context: Any) -> None:
    """Task failure callback (after the last retry): keep the failure in the warehouse's ``runs`` and
    ``task_failures`` tables. Imported lazily: DAG files load this module at parse time."""
    from earshot.monitoring import on_task_failure

    on_task_failure(context)


def run_context(context: Any) -> Any:
    """The earshot run context for an Airflow task: its run id and ``run_after`` (asset-triggered runs
    have no logical date)."""
    from earshot.runs import RunContext

    return RunContext.create(run_id=context["run_id"], run_at=context["dag_run"].run_after)


def fail_for(outcome: dict[str, Any]) -> None:
    """Turn a failed fetch outcome into the right Airflow failure: retry only where it can help."""
    if outcome.get("status") != "error":
        return
    from airflow.exceptions import AirflowFailException

    message = outcome.get("error") or f"source {outcome.get('source_id')!r} failed"
    if outcome.get("retryable"):
        raise RuntimeError(message)
    raise AirflowFailException(message)
