"""What the DAG files share: assets, the warehouse pool, retry policy, time limits, and the run context.

Kept light on purpose: DAG files import this at parse time, so nothing heavy may be imported here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Asset, RetryDecision, RetryPolicy

from earshot.settings import settings

MENTIONS = Asset("earshot://warehouse/mentions", extra={"table": "mentions"})
THEMES = Asset("earshot://warehouse/themes", extra={"table": "themes"})
"""Updated when the theme landscape changed (see :mod:`earshot.report_triggers`); the report consumes it."""

# One slot: only one task at a time writes the DuckDB file (DuckDB allows one writing process).
WAREHOUSE_POOL = "earshot_warehouse"

BACKOFF_MULTIPLIER = 2.0
"""Each retry waits about twice as long as the one before (Airflow adds up to one delay of jitter)."""
MAX_RETRY_DELAY = timedelta(minutes=30)
DEFAULT_TASK_TIMEOUT = timedelta(minutes=30)
"""Any task without its own ``execution_timeout`` in the DAG file."""

FATAL_ERRORS = frozenset({"earshot.config.ConfigError", "earshot.settings.SettingsError", "earshot.paths.HomeError"})
"""Errors a retry cannot fix (a broken market.yaml, an unusable environment variable or data folder); any
subclass counts too (``warehouse.lake.LakeConfigError`` is a ``SettingsError``)."""


class FailFast(RetryPolicy):
    """Fail at once on :data:`FATAL_ERRORS`; anything else retries as configured. Matches by class path
    along the exception's ancestry, so the DAG files import none of those modules while being parsed."""

    def evaluate(self, exception: BaseException, try_number: int, max_tries: int, context: Any = None) -> Any:
        ancestry = {f"{cls.__module__}.{cls.__qualname__}" for cls in type(exception).__mro__}
        if ancestry & FATAL_ERRORS:
            return RetryDecision.fail("a configuration error: fix it (market.yaml or the environment), a retry cannot")
        return RetryDecision.default()


NO_RETRY = FailFast()
"""Failures a retry cannot fix fail the task at once instead of waiting through every retry."""


def default_args() -> dict[str, Any]:
    """Retries with exponential backoff (``EARSHOT_RETRIES`` / ``EARSHOT_RETRY_DELAY_SECONDS`` tune them;
    tests and the offline demo shorten the delay), a time limit, and failures recorded in the warehouse."""
    env = settings()
    return {
        "owner": "earshot",
        "retries": env.retries,
        "retry_delay": timedelta(seconds=env.retry_delay_seconds),
        "retry_exponential_backoff": BACKOFF_MULTIPLIER,
        "max_retry_delay": MAX_RETRY_DELAY,
        "retry_policy": NO_RETRY,
        "execution_timeout": DEFAULT_TASK_TIMEOUT,
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
    from airflow.sdk.exceptions import AirflowFailException

    message = outcome.get("error") or f"source {outcome.get('source_id')!r} failed"
    if outcome.get("retryable"):
        raise RuntimeError(message)
    raise AirflowFailException(message)


def fail_if_sources_failed(loaded: dict[str, Any]) -> dict[str, Any]:
    """The listen run's verdict: fail (without retrying) when a source failed, after its healthy sources'
    mentions were loaded, so the run shows as failed on the DAG list and the home page."""
    errors: dict[str, str] = loaded.get("errors") or {}
    if not errors:
        return {"failed": 0, "sources": loaded.get("sources", 0)}
    from airflow.sdk.exceptions import AirflowFailException

    named = "; ".join(f"{source}: {error}" for source, error in sorted(errors.items()))
    raise AirflowFailException(
        f"{len(errors)} of {loaded.get('sources', '?')} sources failed (the others were loaded): {named}"
    )
