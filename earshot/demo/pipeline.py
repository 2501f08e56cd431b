"""``earshot demo``: the bundled demo market served on 127.0.0.1, run through real Airflow DAGs."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from earshot.airflow_runner import DagRunFailed, run_dags
from earshot.paths import Paths


def run_demo(home: Path) -> int:
    """Serve the demo feeds, run listen → themes → report with ``dag.test()``, print where the report is.

    Safe to re-run: the second run fetches with conditional GET (nothing new), re-clusters the same
    mentions into the same theme ids and writes a new report.
    """
    from earshot.demo import DEMO_URL_ENV, MARKET_PATH, DemoServer, build_demo_feeds

    paths = Paths(home).ensure()
    started = time.monotonic()
    with DemoServer(build_demo_feeds()) as server:
        print(f"demo market: {server.base_url} (serving the bundled demo feeds on loopback)")
        env = {
            **os.environ,
            "EARSHOT_HOME": str(paths.home),
            "EARSHOT_CONFIG": str(MARKET_PATH),
            DEMO_URL_ENV: server.base_url,
            "EARSHOT_RETRY_DELAY_SECONDS": os.environ.get("EARSHOT_RETRY_DELAY_SECONDS", "2"),
        }
        try:
            runs = run_dags(paths.airflow_home, env=env)
        except DagRunFailed as exc:
            print(f"earshot demo: {exc}", file=sys.stderr)
            return 1
    for run in runs:
        states = sorted(set(run["tasks"].values()))
        print(f"airflow: {run['dag_id']} {run['state']} ({len(run['tasks'])} task instances: {', '.join(states)})")
    print_summary(paths)
    print(f"done in {time.monotonic() - started:.0f}s")
    return 0


def print_summary(paths: Paths) -> None:
    """What the pipeline heard and found, from the warehouse."""
    from warehouse.connection import reader

    with reader(paths.warehouse) as con:
        statuses = dict(con.execute("SELECT last_status, count(*) FROM sources WHERE enabled GROUP BY 1").fetchall())
        problems = con.execute(
            """
            SELECT f.source_id, f.status, coalesce(f.error, f.warning) FROM fetches f
            WHERE f.status IN ('warning', 'error')
              AND f.run_id = (SELECT run_id FROM runs WHERE stage = 'listen' ORDER BY finished_at DESC LIMIT 1)
            ORDER BY 1
            """
        ).fetchall()
        mentions = dict(con.execute("SELECT audience, count(*) FROM mentions GROUP BY 1 ORDER BY 1").fetchall())
        report_row = con.execute(
            "SELECT details FROM runs WHERE stage = 'report' AND status = 'success' ORDER BY finished_at DESC LIMIT 1"
        ).fetchone()
        themes = con.execute(
            """
            SELECT t.label, count(*) FROM theme_members tm JOIN themes t USING (theme_id)
            WHERE tm.run_id = (SELECT run_id FROM runs WHERE stage = 'themes' AND status = 'success'
                               ORDER BY finished_at DESC LIMIT 1)
            GROUP BY 1 ORDER BY 2 DESC, 1
            """
        ).fetchall()
    print(f"sources: {', '.join(f'{n} {s}' for s, n in sorted(statuses.items(), key=lambda x: str(x[0])))}")
    for source_id, status, message in problems:
        print(f"  {status}: {source_id}: {message}")
    print(f"mentions: {sum(mentions.values())} ({', '.join(f'{a} {n}' for a, n in mentions.items())})")
    print(f"themes: {len(themes)}")
    for label, volume in themes:
        print(f"  {volume:4d}  {label}")
    if report_row:
        details = json.loads(report_row[0])
        print(f"report: {details['html']}")
        print(f"        {details['markdown']}")
