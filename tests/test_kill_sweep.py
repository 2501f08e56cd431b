"""The real CLI killed with SIGKILL at instants taken from a clean run's phase boundaries: every time, the
warehouse opens with plain DuckDB and the next run completes with the counts of a clean run.

A small version of ``python -m benchmarks.kill_sweep`` (which prints every kill point; the longer sweep and
the before/after figures are in docs/duckdb-wal-replay.md): the demo market's feeds on loopback, a fresh
warehouse and one being upgraded from schema version 8 (listen: migrations and the load), a themes refit
(every theme write) and the report with the analyst snapshot.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.kill_sweep import COMMANDS, build_templates, calibrate, demo_market, kill_points, sweep_one

POINTS = {"fresh": 8, "upgrade": 6, "refit": 2, "report": 4}  # 20 kill points
ITEMS = 20  # per demo feed: 20 mentions to load fresh, 60 after the upgrade


@pytest.fixture(scope="module")
def sweep_setup(tmp_path_factory: pytest.TempPathFactory) -> dict:
    workdir = tmp_path_factory.mktemp("kill-sweep")
    repo = Path(__file__).resolve().parents[1]
    with demo_market(workdir, feeds=3, items=ITEMS) as markets:
        templates = build_templates(repo, workdir, markets, list(POINTS))
        yield {"repo": repo, "workdir": workdir, "markets": markets, "templates": templates}


@pytest.mark.parametrize("scenario", list(POINTS))
def test_a_run_killed_at_any_instant_leaves_a_warehouse_the_next_run_completes(
    sweep_setup: dict, scenario: str
) -> None:
    repo, workdir, templates = sweep_setup["repo"], sweep_setup["workdir"], sweep_setup["templates"]
    market = sweep_setup["markets"]["small" if scenario == "fresh" else "full"]
    events, elapsed, clean = calibrate(repo, templates[scenario], market, COMMANDS[scenario], workdir)
    assert clean["mentions"] > 0 and clean["listen runs without mentions' run row"] == 0
    points = kill_points(events, elapsed, POINTS[scenario])
    assert len(points) == POINTS[scenario]
    results = [sweep_one(repo, templates[scenario], market, scenario, point, clean, workdir) for point in points]
    assert sum(r.killed_at_s is not None for r in results) >= len(results) // 2, [r.line() for r in results]
    failed = [r.line() for r in results if not (r.ok and r.plain_open)]
    assert not failed, "\n".join(failed)
