"""Progress on long work: a bar on a terminal, a log line every few seconds everywhere else.

Embedding thousands of texts takes minutes on a CPU; silence for that long looks like a hang. On a
terminal (stderr is a TTY) rich draws a bar; in an Airflow task log, a cron mail or an embedding host,
where a bar would be noise, a line such as ``embedding: 1200/3500 texts (34%), 41.2/s, about 56s left``
is logged at most every ``interval`` seconds, and once at the end when the work took that long.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from earshot.logs import is_terminal

log = logging.getLogger(__name__)

LOG_INTERVAL_S = 10.0


class Progress:
    """Counts work done out of ``total`` and shows it; use as a context manager, call :meth:`advance`."""

    def __init__(
        self,
        what: str,
        total: int,
        unit: str = "items",
        *,
        logger: logging.Logger | None = None,
        interval: float = LOG_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        stream: Any = None,
        bar: bool | None = None,
    ) -> None:
        self.what, self.total, self.unit = what, max(0, total), unit
        self.done = 0
        self._log = logger or log
        self._interval, self._clock = interval, clock
        self._stream = stream or sys.stderr
        self._bar_wanted = is_terminal(self._stream) if bar is None else bar
        self._bar: Any = None
        self._task: Any = None
        self._started = self._last = 0.0

    def __enter__(self) -> Progress:
        self._started = self._last = self._clock()
        if self._bar_wanted and self.total:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(self.unit),
                TimeRemainingColumn(), console=Console(file=self._stream), transient=True,
            )  # fmt: skip
            self._bar.start()
            self._task = self._bar.add_task(self.what, total=self.total)
        return self

    def advance(self, count: int = 1) -> None:
        self.done += count
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)
            return
        now = self._clock()
        if now - self._last >= self._interval and self.done < self.total:
            self._last = now
            self._log.info("%s", self.line(now))

    def line(self, now: float | None = None) -> str:
        """Where the work stands, in words: done/total, share, rate, and time left when it can be told."""
        elapsed = max((self._clock() if now is None else now) - self._started, 1e-9)
        rate = self.done / elapsed
        share = f" ({self.done / self.total:.0%})" if self.total else ""
        text = f"{self.what}: {self.done}/{self.total} {self.unit}{share}, {rate:.1f}/s"
        if 0 < self.done < self.total and rate > 0:
            text += f", about {(self.total - self.done) / rate:.0f}s left"
        return text

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
        elapsed = max(self._clock() - self._started, 1e-9)
        if kind is None and self._bar is None and self.total and elapsed >= self._interval:  # quick work stays quiet
            self._log.info("%s: %d %s in %.1fs (%.1f/s)", self.what, self.done, self.unit, elapsed, self.done / elapsed)
