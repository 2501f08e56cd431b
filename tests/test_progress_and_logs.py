"""Progress on long work (a bar on a terminal, periodic lines elsewhere) and the stages' INFO lines."""

from __future__ import annotations

import io
import logging

import pytest

from earshot.logs import logged_stage, summarise
from earshot.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_progress_is_a_log_line_every_interval(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    caplog.set_level(logging.INFO, logger="earshot.progress")
    with Progress("embedding", 1000, "texts", clock=clock, stream=io.StringIO(), interval=10) as progress:
        for _ in range(10):
            clock.now += 4  # 100 texts every 4 s
            progress.advance(100)
    lines = [r.getMessage() for r in caplog.records if r.name == "earshot.progress"]
    assert lines == [
        "embedding: 300/1000 texts (30%), 25.0/s, about 28s left",  # 12 s in
        "embedding: 600/1000 texts (60%), 25.0/s, about 16s left",  # 24 s
        "embedding: 900/1000 texts (90%), 25.0/s, about 4s left",  # 36 s: the first advance 10 s after the last
        "embedding: 1000 texts in 40.0s (25.0/s)",
    ]


def test_quick_work_stays_quiet(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    caplog.set_level(logging.INFO, logger="earshot.progress")
    with Progress("fetching", 3, "sources", clock=clock, stream=io.StringIO()) as progress:
        clock.now += 1
        progress.advance(3)
    assert [r for r in caplog.records if r.name == "earshot.progress"] == []


def test_on_a_terminal_progress_is_a_bar(caplog: pytest.LogCaptureFixture) -> None:
    terminal = Terminal()
    caplog.set_level(logging.INFO, logger="earshot.progress")
    with Progress("embedding", 50, "texts", stream=terminal) as progress:
        for _ in range(5):
            progress.advance(10)
    drawn = terminal.getvalue()
    assert "embedding" in drawn and "50/50" in drawn  # rich drew (and refreshed) the bar on the terminal
    assert [r for r in caplog.records if r.name == "earshot.progress"] == []  # no log lines on top of it


def test_a_stage_logs_its_start_its_end_its_figures_and_its_rate(caplog: pytest.LogCaptureFixture) -> None:
    @logged_stage("themes.embed", rate="embedded")
    def embed() -> dict:
        return {"model": "all-MiniLM-L6-v2", "embedded": 120, "vectors": [0.1] * 3}

    caplog.set_level(logging.INFO)
    embed()
    started, done = [r.getMessage() for r in caplog.records if r.name == __name__]
    assert started == "themes.embed: started"
    assert done.startswith("themes.embed: done in ") and "embedded/s)" in done
    assert done.endswith(": model=all-MiniLM-L6-v2 embedded=120")  # scalars only: XCom-sized lists stay out


def test_summaries_count_the_lists_worth_counting() -> None:
    assert summarise({"status": "partial", "failed": 1, "errors": {"a": "x", "b": "y"}, "noise": [1]}) == (
        "status=partial failed=1 errors=2"
    )
    assert summarise([1, 2, 3]) == "3 written"
