"""Retrying what a retry can fix, inside the fetch's deadline (tenacity), and reading ``Retry-After``.

One policy for every source: exponential backoff with jitter (so sources that failed together do not
retry in step), or exactly the server's ``Retry-After`` when it gave one; no wait longer than
``fetch.max_retry_wait`` and none that would end past the fetch's deadline. Longer outages are the
scheduler's to retry (Airflow retries the task with backoff).
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import tenacity

from listeners.base import FetchSettings
from listeners.errors import SourceError

T = TypeVar("T")
_SECONDS = re.compile(r"\d{1,9}(?:\.\d+)?", re.ASCII)


def retry_after_seconds(value: str | None, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> float | None:
    """``Retry-After`` as seconds to wait: delta-seconds (``120``) or an HTTP date; ``None`` when absent or
    unreadable (the backoff then decides)."""
    value = (value or "").strip()
    if not value:
        return None
    if _SECONDS.fullmatch(value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when
    return max(0.0, (when - now()).total_seconds())


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, SourceError) and exc.retryable


def fetch_with_retries(
    attempt: Callable[[FetchSettings], T],
    settings: FetchSettings,
    *,
    retries: int,
    max_wait: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """``attempt(settings)`` until it succeeds or a retry cannot help; then its last error is raised.

    Every attempt gets a fresh byte budget and the same deadline: the deadline bounds the whole fetch,
    retry waits included.
    """
    begun = settings.begun(clock=clock)
    deadline = begun.budget.deadline
    backoff = tenacity.wait_exponential_jitter(initial=1, max=max(max_wait, 1), jitter=1)

    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        asked = error.retry_after if isinstance(error, SourceError) else None
        return asked if asked is not None else backoff(state)

    def too_long(state: tenacity.RetryCallState) -> bool:
        return state.upcoming_sleep > max_wait or clock() + state.upcoming_sleep >= deadline

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(_retryable),
        wait=wait,
        stop=tenacity.stop_after_attempt(retries + 1) | too_long,
        sleep=sleep,
        reraise=True,
    )
    for state in retrying:
        with state:
            current = begun if state.retry_state.attempt_number == 1 else settings.begun(deadline, clock)
            result = attempt(current)
    return result
