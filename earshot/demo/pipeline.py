"""``earshot demo``: the bundled demo market served on 127.0.0.1, run through real Airflow DAGs."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from earshot.airflow_runner import DagRunFailed, run_dags
from earshot.paths import Paths
from earshot.settings import settings

ANCHOR_FILE = "demo-anchor.txt"
"""Under the demo's home: the anchor its data was dated to, so re-runs serve the very same feeds."""
ANCHOR_REUSE = timedelta(days=2)
"""How long a home keeps its anchor: a re-run just after midnight still gets ``304 Not Modified``, while a
demo run days later gets fresh dates (its trends windows end at the run, so old data would look quiet)."""


def demo_anchor(home: Path, now: datetime) -> datetime:
    """Where the demo's data ends for a run at ``now``: the anchor this home used last while it is under
    :data:`ANCHOR_REUSE` old, else the start of ``now``'s UTC day (remembered for the next run)."""
    from earshot.demo.market_data import anchor_for

    marker = Path(home) / ANCHOR_FILE
    try:
        kept = datetime.fromisoformat(marker.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        kept = None
    if kept is not None and kept.tzinfo is not None and timedelta(0) <= now - kept < ANCHOR_REUSE:
        return kept.astimezone(UTC)
    anchor = anchor_for(now)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(anchor.isoformat() + "\n", encoding="utf-8")
    return anchor


def run_demo(home: Path, anchor: datetime | None = None) -> int:
    """Serve the demo feeds, run listen → themes → report with ``dag.test()``, print where the report is.

    The demo's data ends at ``anchor`` (default :func:`demo_anchor` for the current time), because the DAG
    runs happen now and trend windows end at the run. Safe to re-run: the second run fetches with
    conditional GET (nothing new), re-clusters the same mentions into the same theme ids and writes a new
    report.
    """
    from earshot.demo import DEMO_URL_ENV, MARKET_PATH, DemoServer, build_demo_feeds

    paths = Paths(home).ensure()
    chosen = settings()
    retry_delay = chosen.retry_delay_seconds if "retry_delay_seconds" in chosen.model_fields_set else 2.0  # offline
    started = time.monotonic()
    anchor = anchor or demo_anchor(paths.home, datetime.now(UTC))
    with DemoServer(build_demo_feeds(anchor=anchor)) as server:
        print(
            f"demo market: {server.base_url} (serving the bundled demo feeds on loopback, "
            f"dated up to {anchor:%Y-%m-%d %H:%M} UTC)"
        )
        env = {
            **os.environ,
            "EARSHOT_HOME": str(paths.home),
            "EARSHOT_CONFIG": str(MARKET_PATH),
            DEMO_URL_ENV: server.base_url,
            "EARSHOT_RETRY_DELAY_SECONDS": str(retry_delay),
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
        emerging = con.execute(
            """
            SELECT t.label, s.recent, s.baseline, s.p_value
            FROM theme_snapshots s JOIN themes t USING (theme_id)
            WHERE s.emerging AND s.audience = 'all'
              AND s.run_id = (SELECT run_id FROM runs WHERE stage = 'themes' AND status = 'success'
                              ORDER BY finished_at DESC LIMIT 1)
            ORDER BY s.p_value
            """
        ).fetchall()
        hypotheses = con.execute(
            "SELECT hypothesis_id, status, statement FROM hypotheses ORDER BY rank_score DESC, hypothesis_id LIMIT 3"
        ).fetchall()
    print(f"sources: {', '.join(f'{n} {s}' for s, n in sorted(statuses.items(), key=lambda x: str(x[0])))}")
    for source_id, status, message in problems:
        print(f"  {status}: {source_id}: {message}")
    print(f"mentions: {sum(mentions.values())} ({', '.join(f'{a} {n}' for a, n in mentions.items())})")
    print(f"themes: {len(themes)}")
    for label, volume in themes:
        print(f"  {volume:4d}  {label}")
    for label, recent, baseline, p_value in emerging:
        print(f"emerging: {label}: {recent} mentions in the last 7 days vs {baseline} in the 28 before "
              f"(p = {p_value:.4f})")  # fmt: skip
    if hypotheses:
        print("hypotheses to test first:")
        for hypothesis_id, status, statement in hypotheses:
            print(f"  {hypothesis_id} [{status}] {statement}")
        print("  (earshot hypotheses list | show ID | record ID ... | brief ID)")
    if report_row:
        details = json.loads(report_row[0])
        print(f"report: {details['html']}")
        print(f"        {details['markdown']}")
        if details.get("index"):
            print(f"archive: {details['index']}")
    snapshot = paths.warehouse.with_name("analyst.duckdb")
    if snapshot.exists():
        print(f"analysts: {snapshot} (read-only snapshot with full-text and similarity search; `earshot sql`)")
