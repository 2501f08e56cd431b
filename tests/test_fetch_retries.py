"""The in-run retry policy (tenacity) and the one Retry-After reader, on an injected clock: no real waits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from listeners.base import FetchSettings
from listeners.errors import ErrorKind, SourceError
from listeners.retry import fetch_with_retries, retry_after_seconds

NOW = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)


class Clock:
    """A monotonic clock that only moves when the retry policy sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def failing(*errors: SourceError, result: str = "ok") -> tuple[list[FetchSettings], object]:
    """An attempt function raising ``errors`` in turn, then returning ``result``; records its settings."""
    seen: list[FetchSettings] = []
    pending = list(errors)

    def attempt(settings: FetchSettings) -> str:
        seen.append(settings)
        if pending:
            raise pending.pop(0)
        return result

    return seen, attempt


def error(kind: ErrorKind, retry_after: float | None = None) -> SourceError:
    return SourceError("s", kind, "detail", retry_after=retry_after)


SETTINGS = FetchSettings(timeout=5, max_bytes=1000, user_agent="t", deadline=120, max_source_bytes=5000)


def run(attempt: object, clock: Clock, retries: int = 3, max_wait: float = 60, **fields: object) -> str:
    settings = FetchSettings(**(SETTINGS.__dict__ | {"allowance": None} | fields))  # type: ignore[arg-type]
    return fetch_with_retries(
        attempt,  # type: ignore[arg-type]
        settings,
        retries=retries,
        max_wait=max_wait,
        sleep=clock.sleep,
        clock=clock,
    )


def test_backoff_grows_with_jitter_and_each_attempt_gets_a_fresh_byte_budget() -> None:
    clock = Clock()
    seen, attempt = failing(error(ErrorKind.HTTP_SERVER), error(ErrorKind.TIMEOUT), error(ErrorKind.CONNECTION))
    assert run(attempt, clock) == "ok" and len(seen) == 4
    for wait, base in zip(clock.waits, (1, 2, 4), strict=True):
        assert base <= wait <= base + 1  # exponential, plus up to a second of jitter
    assert len(set(clock.waits)) == 3
    deadlines = {s.budget.deadline for s in seen}
    assert deadlines == {1000.0 + 120}  # one deadline for the whole fetch, retries included
    assert len({id(s.budget) for s in seen}) == 4 and all(s.budget.bytes_left == 5000 for s in seen)


def test_retry_after_is_honoured_exactly() -> None:
    clock = Clock()
    _, attempt = failing(error(ErrorKind.RATE_LIMITED, retry_after=17))
    assert run(attempt, clock) == "ok" and clock.waits == [17]


@pytest.mark.parametrize(
    ("errors", "options", "attempts", "waits"),
    [
        ([error(ErrorKind.HTTP_CLIENT)], {}, 1, 0),  # a retry cannot fix a 404
        ([error(ErrorKind.REDIRECT_REFUSED)], {}, 1, 0),
        ([error(ErrorKind.TOO_LARGE)], {}, 1, 0),
        ([error(ErrorKind.HTTP_SERVER)] * 5, {"retries": 2}, 3, 2),  # out of retries
        ([error(ErrorKind.RATE_LIMITED, retry_after=600)], {}, 1, 0),  # asks for longer than max_retry_wait
        ([error(ErrorKind.RATE_LIMITED, retry_after=50)], {"deadline": 30}, 1, 0),  # would end past the deadline
    ],
)
def test_when_retrying_stops_the_last_error_is_raised(
    errors: list[SourceError], options: dict, attempts: int, waits: int
) -> None:
    clock = Clock()
    seen, attempt = failing(*errors)
    with pytest.raises(SourceError) as caught:
        run(attempt, clock, **options)
    assert caught.value is errors[min(attempts, len(errors)) - 1]
    assert (len(seen), len(clock.waits)) == (attempts, waits)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("Mon, 16 Nov 2026 10:01:30 GMT", 90.0),
        ("Mon, 16 Nov 2026 09:00:00 GMT", 0.0),  # already past: no wait
        ("", None),
        (None, None),
        ("soon", None),
        ("-5", None),
        ("²", None),  # a Unicode digit is not a number of seconds
        ("Mon, 99 Foo 2026 25:61:61 GMT", None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, now=lambda: NOW) == seconds
