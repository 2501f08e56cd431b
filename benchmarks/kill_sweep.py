"""Kill ``earshot run`` at many instants; each time the warehouse must open and the next run must complete
with the counts of a clean run.

    python -m benchmarks.kill_sweep                        # every scenario, 24 kill points each
    python -m benchmarks.kill_sweep --scenarios fresh,upgrade --points 60 --json sweep.json
    python -m benchmarks.kill_sweep --repo ../earshot-old  # the same sweep against another checkout

Scenarios, each on its own template ``EARSHOT_HOME`` (the demo market's feeds, served on loopback):

- ``fresh``: ``earshot run --stage listen`` on an empty home (every migration, then the first load);
- ``upgrade``: the same on a warehouse at schema version 8 holding mentions, as an older earshot left it
  (migration 9: the analyst views and a ``COMMENT ON`` for every column), with two more feeds to load;
- ``themes``: ``earshot run --stage themes`` after a listen run (embeddings, signals, themes, trends, hypotheses);
- ``refit``: ``earshot run --stage themes --refit`` after listen and themes (every theme write again, without
  the minute of embedding: the CI test's themes scenario);
- ``report``: ``earshot run --stage report`` after listen and themes (the report, then the analyst snapshot).

A clean run of each scenario is watched from outside to find its phase boundaries: the write-ahead log
appearing and going, the database file growing (checkpoints), the first landed payload and fetch outcome, the
lines the run prints, the report file and the analyst snapshot. Kill points are placed at and between those
boundaries as (boundary, delay after it). For each point a fresh copy of the template is taken, a real
``earshot`` process is started and SIGKILLed at that instant, and then (1) the warehouse is opened with plain
DuckDB in a child process, (2) the same command is run to completion, (3) its counts are compared with the
clean run's. One line per kill point, then a summary; ``--json`` keeps everything. ``--repo`` runs another
checkout's code (``python -m earshot.cli`` with that checkout first on ``PYTHONPATH``), e.g. the commit before
a fix, to compare before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import yaml

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = ("fresh", "upgrade", "themes", "refit", "report")
COMMANDS = {
    "fresh": ("--stage", "listen"),
    "upgrade": ("--stage", "listen"),
    "themes": ("--stage", "themes"),
    "refit": ("--stage", "themes", "--refit"),
    "report": ("--stage", "report"),
}
FEEDS = ("mspguild-forum", "mainstreet-owners", "backupwire", "msp-threads", "practice-owners", "secops-weekly")
ANCHOR = datetime(2026, 5, 4, 12, tzinfo=UTC)  # the demo market's data ends here: same feeds every time
OPEN_CHECK = (
    "import duckdb, sys\n"
    "con = duckdb.connect(sys.argv[1], read_only=True)\n"
    "print(con.execute('SELECT count(*) FROM duckdb_tables() WHERE NOT internal').fetchone()[0])\n"
)


# --- the market and the templates ---------------------------------------------------------------------------


@contextlib.contextmanager
def demo_market(workdir: Path, feeds: int, items: int | None = None) -> Iterator[dict[str, Path]]:
    """The demo feeds on loopback (``items``: the first so many of each), and two listening plans: the first
    ``feeds - 2`` sources, and all ``feeds``."""
    from earshot.demo import MARKET_PATH, DemoServer, build_demo_feeds

    plan = yaml.safe_load(MARKET_PATH.read_text(encoding="utf-8"))
    wanted = FEEDS[: max(3, feeds)]
    served = [dataclasses.replace(feed, items=feed.items[:items]) for feed in build_demo_feeds(anchor=ANCHOR)]
    with DemoServer(served) as server:
        paths = {}
        for name, ids in (("small", wanted[:-2]), ("full", wanted)):
            market = dict(plan)
            market["sources"] = [
                {**s, "url": s["url"].replace("${EARSHOT_DEMO_URL}", server.base_url)}
                for s in plan["sources"]
                if s["id"] in ids
            ]
            market.pop("delivery", None)
            paths[name] = workdir / f"market-{name}.yaml"
            paths[name].write_text(yaml.safe_dump(market, sort_keys=False), encoding="utf-8")
        yield paths


def environment(repo: Path, home: Path, market: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EARSHOT_", "AIRFLOW"))}
    env.update(
        EARSHOT_HOME=str(home), EARSHOT_CONFIG=str(market), EARSHOT_WAREHOUSE_LOCK_WAIT="60",
        PYTHONPATH=os.pathsep.join(p for p in (str(repo), os.environ.get("PYTHONPATH")) if p),
        PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
    )  # fmt: skip
    return env


def run_cli(
    repo: Path, home: Path, market: Path, args: tuple[str, ...], timeout: float = 900
) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 (our own interpreter and module, no shell)
        [sys.executable, "-m", "earshot.cli", "run", *args],
        env=environment(repo, home, market), cwd=repo, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def _checked(proc: subprocess.CompletedProcess, what: str) -> None:
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")


def build_templates(repo: Path, workdir: Path, markets: dict[str, Path], scenarios: list[str]) -> dict[str, Path]:
    """One template home per scenario, built with the code under test."""
    templates: dict[str, Path] = {}
    if "fresh" in scenarios:
        templates["fresh"] = workdir / "template-fresh"
        templates["fresh"].mkdir()
    if "upgrade" in scenarios:
        home = workdir / "template-upgrade"
        _checked(run_cli(repo, home, markets["small"], COMMANDS["fresh"]), "the upgrade template's listen run")
        downgrade_to_version_8(home / "earshot.duckdb")
        templates["upgrade"] = home
    if {"themes", "refit", "report"} & set(scenarios):
        home = workdir / "template-themes"
        _checked(run_cli(repo, home, markets["full"], COMMANDS["fresh"]), "the themes template's listen run")
        templates["themes"] = home
        if {"refit", "report"} & set(scenarios):
            report_home = workdir / "template-report"
            shutil.copytree(home, report_home)
            _checked(run_cli(repo, report_home, markets["full"], COMMANDS["themes"]), "the report template's themes")
            templates["refit"] = templates["report"] = report_home
    return templates


def downgrade_to_version_8(db: Path) -> None:
    """Make a warehouse look like one an earshot before migration 9 left: no analyst views, version 8."""
    con = duckdb.connect(str(db))
    try:
        views = [v for (v,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()]
        for view in ("hypotheses_evidence", "theme_trends", "mentions_enriched", "latest_themes_run"):
            if view in views:
                con.execute(f"DROP VIEW {view}")
        con.execute("DELETE FROM schema_migrations WHERE version >= 9")
        con.execute("CHECKPOINT")
    finally:
        con.close()


# --- watching a run from outside ----------------------------------------------------------------------------


@dataclass
class Watcher:
    """Phase boundaries of one run, seen from outside: files appearing, growing, going; lines printed."""

    home: Path
    started: float
    events: list[tuple[float, str]] = field(default_factory=list)
    _counts: dict[str, int] = field(default_factory=dict)
    _state: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str) -> str:
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + 1
            label = f"{name}#{self._counts[name]}"
            self.events.append((time.monotonic() - self.started, label))
            return label

    def poll(self, slow: bool) -> None:
        db = self.home / "earshot.duckdb"
        wal = self.home / "earshot.duckdb.wal"
        self._edge("wal", wal.exists(), "wal+", "wal-")
        # A writer session starts: the lock's holder note appears (or, in earshot before filelock, the lock
        # file is rewritten with the holder's pid).
        holder = self.home / "earshot.duckdb.rwlock.holder"
        self._edge("holder", holder.exists(), "writer+", "writer-")
        legacy = self.home / "earshot.duckdb.lock"
        stamp = legacy.stat().st_mtime_ns if legacy.exists() else 0
        if stamp != self._state.setdefault("legacy", stamp):
            self.add("writer+")
            self._state["legacy"] = stamp
        size = db.stat().st_size if db.exists() else 0
        if size != self._state.get("db_size", 0):
            self.add("db-grew" if size > self._state.get("db_size", 0) else "db-shrank")
            self._state["db_size"] = size
        analyst = self.home / "analyst.duckdb"
        mtime = analyst.stat().st_mtime_ns if analyst.exists() else 0
        if mtime != self._state.setdefault("analyst", mtime):
            self.add("snapshot-swapped")
            self._state["analyst"] = mtime
        if slow:
            scratch = any(p.name.startswith(".analyst.duckdb.") for p in self.home.glob(".analyst.duckdb.*"))
            self._edge("scratch", scratch, "snapshot-copy", "snapshot-copy-gone")
            for name, pattern in (("landed", "landing/*/*/manifest.jsonl"), ("outcome", "outcomes/*/*.json"),
                                  ("report-file", "reports/*/report.html")):  # fmt: skip
                count = len(list(self.home.glob(pattern)))
                if count > self._state.setdefault(name, count):
                    self.add(name)
                self._state[name] = count

    def _edge(self, key: str, now: bool, rise: str, fall: str) -> None:
        before = self._state.get(key, False)
        if now != before:
            self.add(rise if now else fall)
            self._state[key] = now

    def listen_to(self, stream: Any) -> threading.Thread:
        def read() -> None:
            for line in stream:
                word = line.split(":", 1)[0].strip().split(" ")[0] if ":" in line else ""
                if word:
                    self.add(f"said-{word}")

        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        return thread


@dataclass(frozen=True)
class KillPoint:
    anchor: str  # a boundary label ("wal+#2") or "start"
    delay: float  # seconds after it
    fallback: float  # seconds after start, if the anchor never shows

    @property
    def label(self) -> str:
        return f"{self.anchor}+{self.delay * 1000:.0f}ms"


def calibrate(
    repo: Path, template: Path, market: Path, args: tuple[str, ...], workdir: Path
) -> tuple[list, float, dict]:
    """A clean, watched run on a copy of ``template``: its boundaries, its duration and its counts."""
    home = workdir / "calibration"
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(template, home)
    events, elapsed, proc = watched_run(repo, home, market, args, kill=None)
    if proc.returncode != 0:
        raise RuntimeError(f"the clean run ({' '.join(args)}) failed:\n{proc.stderr[-4000:]}")
    counts = warehouse_counts(home)
    shutil.rmtree(home, ignore_errors=True)
    return events, elapsed, counts


def watched_run(
    repo: Path, home: Path, market: Path, args: tuple[str, ...], kill: KillPoint | None
) -> tuple[list[tuple[float, str]], float, subprocess.CompletedProcess]:
    """Start ``earshot run ARGS``, watch it, and SIGKILL it at ``kill`` (None: let it finish)."""
    started = time.monotonic()
    proc = subprocess.Popen(  # noqa: S603 (our own interpreter and module, no shell)
        [sys.executable, "-m", "earshot.cli", "run", *args],
        env=environment(repo, home, market), cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    watcher = Watcher(home, started)
    reader_thread = watcher.listen_to(proc.stdout)
    err: list[str] = []
    err_thread = threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)
    err_thread.start()
    deadline: float | None = None if kill is None else started + kill.fallback
    if kill is not None and kill.anchor == "start":
        deadline = started + kill.delay
    polls = 0
    while proc.poll() is None:
        watcher.poll(slow=polls % 5 == 0)
        polls += 1
        if kill is not None:
            if deadline is not None and kill.anchor != "start":
                seen = [t for t, label in watcher.events if label == kill.anchor]
                if seen:
                    deadline = min(deadline, started + seen[0] + kill.delay)
            if deadline is not None and time.monotonic() >= deadline:
                watcher.add("KILL")
                proc.send_signal(signal.SIGKILL)
                break
        time.sleep(0.002)
    proc.wait()
    reader_thread.join(5)
    err_thread.join(5)
    watcher.poll(slow=True)
    completed = subprocess.CompletedProcess(proc.args, proc.returncode, "", "".join(err))
    return watcher.events, time.monotonic() - started, completed


ANCHORS = ("wal+", "wal-", "writer+", "landed#1", "outcome#1", "said-", "report-file#1", "snapshot-copy#1",
           "snapshot-swapped#1")  # fmt: skip


def kill_points(events: list[tuple[float, str]], elapsed: float, limit: int) -> list[KillPoint]:
    """At each boundary and at fractions of the way to the next; then ``limit`` of them, spread evenly.

    Boundaries that happen once or in a fixed order (the log appearing and going, the first landed payload, a
    printed line, the report file) anchor their kill points, which then follow them when a run is slower;
    the others (the file growing at each checkpoint) are kill times from the start.
    """
    marks = [(0.0, "start"), *[(t, label) for t, label in events if not label.startswith("KILL")], (elapsed, "end")]
    candidates = []
    for (t, label), (t_next, _) in itertools.pairwise(marks):
        gap = max(0.0, t_next - t)
        anchored = label.startswith(ANCHORS)
        for share in (0, 1 / 6, 1 / 3, 1 / 2, 2 / 3, 5 / 6) if anchored else (0, 1 / 3, 2 / 3):
            delay = round(gap * share, 4)
            if anchored:
                candidates.append(KillPoint(label, delay, t + delay + 0.25 * elapsed))
            else:
                candidates.append(KillPoint("start", round(t + delay, 4), t + delay))
    if len(candidates) <= limit:
        return candidates
    step = len(candidates) / limit
    return [candidates[int(i * step)] for i in range(limit)]


# --- what the warehouse holds -------------------------------------------------------------------------------

COUNTS = {
    "mentions": "SELECT count(*) FROM mentions",
    "provenance": "SELECT count(*) FROM mention_sources",
    "sources with a cursor": "SELECT count(*) FROM sources WHERE cursor IS NOT NULL",
    "embeddings": "SELECT count(*) FROM embeddings",
    "signals": "SELECT count(*) FROM mention_signals",
    "active themes": "SELECT count(*) FROM themes WHERE active",
    "members of the latest themes run": "SELECT count(*) FROM theme_members WHERE run_id = (SELECT run_id FROM runs "
    "WHERE stage = 'themes' AND status = 'success' ORDER BY finished_at DESC LIMIT 1)",
    "hypotheses": "SELECT count(*) FROM hypotheses",
    "listen runs without mentions' run row": "SELECT count(DISTINCT last_seen_run) FROM mentions WHERE last_seen_run "
    "NOT IN (SELECT run_id FROM runs WHERE stage = 'listen')",
}


def warehouse_counts(home: Path) -> dict[str, Any]:
    """Counts that a clean run and a killed-then-rerun run must agree on (run ids and times aside)."""
    con = duckdb.connect(str(home / "earshot.duckdb"), read_only=True)
    try:
        counts: dict[str, Any] = {name: con.execute(sql).fetchone()[0] for name, sql in COUNTS.items()}
    finally:
        con.close()
    counts["analyst snapshot"] = (home / "analyst.duckdb").exists()
    counts["report written"] = any(home.glob("reports/*/report.html"))
    return counts


def opens(home: Path) -> tuple[bool, str]:
    """Does plain DuckDB open the warehouse (read-only, in a child: a native crash must not take us down)?"""
    db = home / "earshot.duckdb"
    if not db.exists():
        return True, "no file yet"
    command = [sys.executable, "-c", OPEN_CHECK, str(db)]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 (our own script)
    if proc.returncode == 0:
        return True, f"{proc.stdout.strip()} tables"
    lines = [line for line in proc.stderr.splitlines() if "Error" in line] or proc.stderr.splitlines()[-1:]
    return False, (lines[0] if lines else f"exit {proc.returncode}")[:200]


# --- the sweep ----------------------------------------------------------------------------------------------


@dataclass
class Result:
    scenario: str
    point: str
    killed_at_s: float | None  # None: the run finished before the kill point
    last_boundary: str
    plain_open: bool
    open_detail: str
    rerun_exit: int | None
    rerun_error: str
    counts_match: bool
    differences: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.rerun_exit == 0 and self.counts_match

    def line(self) -> str:
        at = f"killed at {self.killed_at_s:6.3f}s" if self.killed_at_s is not None else "finished before the kill"
        verdict = "ok" if self.ok else "FAILED"
        opened = "opens" if self.plain_open else f"does NOT open ({self.open_detail})"
        rerun = f"rerun exit {self.rerun_exit}" + (f" ({self.rerun_error})" if self.rerun_error else "")
        diff = "" if self.counts_match else f" counts differ: {self.differences}"
        where = f"{self.scenario:8s} {self.point:24s} {at:26s} after {self.last_boundary:20s}"
        return f"{where} {opened}; {rerun}{diff} {verdict}"


def sweep_one(repo: Path, template: Path, market: Path, scenario: str, point: KillPoint, clean: dict,
              workdir: Path, keep: Path | None = None) -> Result:  # fmt: skip
    """One kill point on a fresh copy of ``template``; ``keep``: copy the killed home there when it fails."""
    home = workdir / "run"
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(template, home)
    args = COMMANDS[scenario]
    events, _, _ = watched_run(repo, home, market, args, kill=point)
    killed = [t for t, label in events if label.startswith("KILL")]
    before = [label for t, label in events if killed and t < killed[0]]
    if keep is not None:
        shutil.copytree(home, workdir / "killed", dirs_exist_ok=False)
    plain_open, detail = opens(home)
    rerun = run_cli(repo, home, market, args)
    error = ""
    if rerun.returncode != 0:
        lines = [line for line in rerun.stderr.splitlines() if "Error" in line or line.startswith("earshot:")]
        error = (lines[0] if lines else f"killed by signal {-rerun.returncode}" if rerun.returncode < 0 else "")[:200]
    counts = warehouse_counts(home) if rerun.returncode == 0 else {}
    differences = {k: (clean.get(k), v) for k, v in counts.items() if clean.get(k) != v}
    result = Result(scenario, point.label, killed[0] if killed else None, before[-1] if before else "start",
                    plain_open, detail, rerun.returncode, error, rerun.returncode == 0 and not differences,
                    differences)  # fmt: skip
    shutil.rmtree(home, ignore_errors=True)
    if keep is not None:
        if not (result.ok and result.plain_open):  # the home as the kill left it, for a bug report
            kept = keep / f"{scenario}-{point.label.replace('#', '').replace('+', '-')}"
            shutil.rmtree(kept, ignore_errors=True)
            shutil.move(workdir / "killed", kept)
        shutil.rmtree(workdir / "killed", ignore_errors=True)
    return result


def sweep(repo: Path, scenarios: list[str], points: int, feeds: int, items: int | None, workdir: Path,
          echo: bool = True, keep: Path | None = None) -> dict:  # fmt: skip
    """Calibrate, then kill at ``points`` instants per scenario; everything measured, as a dict."""
    out: dict[str, Any] = {"repo": str(repo), "scenarios": {}}
    with demo_market(workdir, feeds, items) as markets:
        templates = build_templates(repo, workdir, markets, scenarios)
        for scenario in scenarios:
            market = markets["small"] if scenario == "fresh" else markets["full"]
            events, elapsed, clean = calibrate(repo, templates[scenario], market, COMMANDS[scenario], workdir)
            chosen = kill_points(events, elapsed, points)
            if echo:
                print(f"{scenario}: clean run {elapsed:.2f}s, {len(events)} boundaries: "
                      + ", ".join(f"{label}@{t:.3f}" for t, label in events), flush=True)  # fmt: skip
            results = []
            for point in chosen:
                result = sweep_one(repo, templates[scenario], market, scenario, point, clean, workdir, keep)
                results.append(result)
                if echo:
                    print(result.line(), flush=True)
            out["scenarios"][scenario] = {
                "clean_seconds": elapsed, "boundaries": events, "clean_counts": clean,
                "results": [asdict(r) | {"ok": r.ok} for r in results],
            }  # fmt: skip
    return out


def summary(out: dict) -> str:
    lines = []
    for scenario, data in out["scenarios"].items():
        results = data["results"]
        broken = [r for r in results if not r["plain_open"]]
        failed = [r for r in results if not r["ok"]]
        lines.append(
            f"{scenario}: {len(results)} kill points; warehouse did not open after {len(broken)}; "
            f"next run failed or differed after {len(failed)}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma-separated: {', '.join(SCENARIOS)}")
    parser.add_argument("--points", type=int, default=24, help="kill points per scenario (default 24)")
    parser.add_argument("--feeds", type=int, default=4, help=f"demo feeds listened to (3 to {len(FEEDS)}; default 4)")
    parser.add_argument("--items", type=int, help="only the first N items of each feed (default: all)")
    parser.add_argument("--repo", type=Path, default=REPO, help="checkout whose code is run (default: this one)")
    parser.add_argument("--json", type=Path, help="write every measurement here")
    parser.add_argument("--keep-failures", type=Path, help="copy each failing kill point's home here, as killed")
    args = parser.parse_args(argv)
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory(prefix="earshot-kill-sweep-") as scratch:
        keep = args.keep_failures.resolve() if args.keep_failures else None
        if keep:
            keep.mkdir(parents=True, exist_ok=True)
        out = sweep(args.repo.resolve(), scenarios, args.points, args.feeds, args.items, Path(scratch), keep=keep)
    print(summary(out))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=str), encoding="utf-8")
    return 0 if all(r["ok"] for s in out["scenarios"].values() for r in s["results"]) else 1


if __name__ == "__main__":
    sys.exit(main())
