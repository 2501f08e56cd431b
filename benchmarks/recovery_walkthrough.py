"""The recovery walk-through of docs/deploy.md, end to end on the demo market, with its figures.

    python -m benchmarks.recovery_walkthrough [--feeds 6] [--keep-home DIR]

1. Listen to the first feeds, run themes, record a hypothesis result: the warehouse is checkpointed here.
2. Listen to every feed (new mentions), run themes again, record a second result.
3. Crash: the file is back at step 1's checkpoint, and beside it a write-ahead log DuckDB cannot replay
   (made with the statements of duckdb issue #20543, since earshot itself no longer leaves such a log).
4. ``earshot run`` refuses with one clear line; ``earshot doctor`` finds it; ``earshot doctor --repair``
   sets the log aside and re-loads step 2's mentions from the landing zone, and says what it could not restore.
5. The same crash again, with one of step 2's payloads deleted from the landing zone: the repair counts the
   mentions it could not restore.

Every command is the real CLI in a child process; the output is printed as the operator would see it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import duckdb

from benchmarks.kill_sweep import REPO, demo_market, environment

UNREPLAYABLE = textwrap.dedent(
    """
    import os, signal, sys, duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("CREATE SCHEMA scratch")
    con.execute("CREATE TYPE scratch.tier AS ENUM ('low', 'high')")
    con.execute("CREATE TABLE scratch.tasks (id INTEGER, tier VARCHAR)")
    con.execute("ALTER TABLE scratch.tasks ALTER tier SET TYPE scratch.tier USING tier::scratch.tier")
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def earshot(home: Path, market: Path, *args: str, show: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(  # noqa: S603 (our own interpreter and module, no shell)
        [sys.executable, "-m", "earshot.cli", *args],
        env=environment(REPO, home, market), cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if show:
        print(f"$ earshot {' '.join(args)}    # exit {proc.returncode}")
        for line in (proc.stdout + proc.stderr).strip().splitlines():
            print(f"  {line.replace(str(home), '$EARSHOT_HOME')}")
    return proc


def count(db: Path, sql: str) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return int(con.execute(sql).fetchone()[0])  # type: ignore[index]
    finally:
        con.close()


def record_result(home: Path, market: Path, value: str, by: str) -> None:
    listed = json.loads(earshot(home, market, "hypotheses", "list", "--json", show=False).stdout or "[]")
    if not listed:
        print("  (no hypothesis proposed yet: no result recorded)")
        return
    hypothesis = listed[0]["hypothesis_id"]
    earshot(home, market, "hypotheses", "record", hypothesis, "--kind", "message_test", "--metric", "reply_rate",
            "--value", value, "--control", "14/400", "--by", by, show=False)  # fmt: skip


def crash(home: Path, checkpoint: Path) -> None:
    """The file as it was at the checkpoint, and a log beside it that nothing can replay."""
    db = home / "earshot.duckdb"
    shutil.copyfile(checkpoint, db)
    proc = subprocess.run([sys.executable, "-c", UNREPLAYABLE, str(db)], check=False)  # noqa: S603 (our own script)
    assert proc.returncode == -signal.SIGKILL


def walk(home: Path, feeds: int) -> dict[str, int]:
    figures: dict[str, int] = {}
    with demo_market(home.parent, feeds) as markets:
        small, full = markets["small"], markets["full"]
        db = home / "earshot.duckdb"
        print("# 1. listen (the first feeds), themes, a result recorded: the last checkpoint")
        earshot(home, small, "run", "--stage", "listen")
        earshot(home, small, "run", "--stage", "themes", show=False)
        record_result(home, small, "30/400", "dana")
        checkpoint = home.parent / "checkpoint.duckdb"
        shutil.copyfile(db, checkpoint)
        figures["checkpoint mentions"] = count(checkpoint, "SELECT count(*) FROM mentions")
        print("# 2. listen (every feed), themes, a second result: written after the checkpoint")
        earshot(home, full, "run", "--stage", "listen")
        earshot(home, full, "run", "--stage", "themes", show=False)
        record_result(home, full, "38/400", "sam")
        figures["mentions before the crash"] = count(db, "SELECT count(*) FROM mentions")
        print("# 3. the crash: the checkpoint, and a log nothing can replay")
        crash(home, checkpoint)
        earshot(home, full, "run", "--stage", "listen")
        earshot(home, full, "doctor", "--offline", "--quick")
        print("# 4. the repair")
        earshot(home, full, "doctor", "--repair")
        figures["mentions after the repair"] = count(db, "SELECT count(*) FROM mentions")
        earshot(home, full, "run", "--stage", "listen")
        print("# 5. the same crash, one of step 2's payloads deleted from the landing zone")
        step2 = [
            p for p in home.glob("landing/*/*/*.payload.gz") if p.stat().st_mtime_ns > checkpoint.stat().st_mtime_ns
        ]
        newest = max(step2, key=lambda p: p.stat().st_size)
        print(f"  deleted {newest.relative_to(home)}")
        newest.unlink()
        crash(home, checkpoint)
        earshot(home, full, "doctor", "--repair")
        figures["mentions after the repair, a payload gone"] = count(db, "SELECT count(*) FROM mentions")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=6, help="demo feeds listened to in step 2 (3 to 6; default 6)")
    parser.add_argument("--keep-home", type=Path, help="leave the walk-through's EARSHOT_HOME here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="earshot-recovery-") as scratch:
        home = Path(scratch) / "home"
        figures = walk(home, args.feeds)
        if args.keep_home:
            shutil.copytree(home, args.keep_home)
    print("# figures")
    for name, value in figures.items():
        print(f"  {name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
