"""earshot's log lines: one INFO line when a stage starts and one when it ends, and the CLI's logging setup.

Stages log through the standard ``logging`` module under their module's name (``earshot.listen`` ...). In
an Airflow task those lines land in the task's log (Airflow captures the root logger at its
``[logging] logging_level``, INFO for ``earshot airflow``); on the command line :func:`configure_cli` sends
them to stderr, and stdout keeps the command's own output.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

EARSHOT_LOGGERS = ("earshot", "listeners", "warehouse", "models", "reports")
"""The packages whose lines the CLI shows at ``EARSHOT_LOG_LEVEL``; everything else only from WARNING."""
COUNTED = frozenset({"errors", "emerging", "proposed", "status_changes", "briefs", "alerts", "resolved"})
"""Result entries worth a count in the log line (the full lists are in XCom and the warehouse)."""


def summarise(result: Any, limit: int = 12) -> str:
    """A stage's result as ``key=value`` pairs: scalars only (XCom-sized dicts carry lists and dicts too)."""
    if isinstance(result, list | tuple):
        return f"{len(result)} written"
    if not isinstance(result, Mapping):
        return "" if result is None else str(result)[:200]
    pairs = []
    for key, value in result.items():
        if isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) <= 300):
            pairs.append(f"{key}={value}")
        elif isinstance(value, list | dict) and key in COUNTED:
            pairs.append(f"{key}={len(value)}")
    return " ".join(pairs[:limit])


def logged_stage(name: str, *, rate: str | None = None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Log ``name`` starting and finishing (seconds and the result's figures); ``rate`` names the count
    to report per second (``embedded`` → ``41.2 embedded/s``). Failures are left to the caller's log."""

    def decorate(stage: Callable[P, R]) -> Callable[P, R]:
        log = logging.getLogger(stage.__module__)

        @functools.wraps(stage)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            log.info("%s: started", name)
            started = time.monotonic()
            result = stage(*args, **kwargs)
            seconds = time.monotonic() - started
            speed = ""
            if rate and isinstance(result, Mapping) and isinstance(result.get(rate), int | float) and seconds > 0:
                speed = f" ({result[rate] / seconds:.1f} {rate}/s)"
            log.info("%s: done in %.1fs%s: %s", name, seconds, speed, summarise(result))
            return result

        return run

    return decorate


def configure_cli(level: str = "WARNING", stream: Any = None, progress: bool = True) -> None:
    """Logging for the command line: earshot's lines at ``level`` on stderr (stdout is the command's own
    output), other libraries' from WARNING, and progress lines (``earshot.progress``, where no bar is drawn)
    unless ``progress`` is false; rich's handler on a terminal, plain lines otherwise."""
    stream = stream or sys.stderr
    handler: logging.Handler
    if is_terminal(stream):
        from rich.console import Console
        from rich.logging import RichHandler

        handler = RichHandler(console=Console(file=stream), show_path=False, markup=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(message)s", datefmt="%H:%M:%S"))
    else:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_earshot", False)]:
        root.removeHandler(old)
    handler._earshot = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for name in EARSHOT_LOGGERS:
        logging.getLogger(name).setLevel(level)
    logging.getLogger("earshot.progress").setLevel(
        min(logging.INFO, logging.getLevelName(level)) if progress else level
    )


def is_terminal(stream: Any) -> bool:
    """Whether ``stream`` is a terminal a person watches (bars and colours), not a file or a pipe."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
