"""Kill migration 9 on a version-8 warehouse at random instants, committed as before and as now, and open it.

    python -m benchmarks.migration_kill [--mentions 300000] [--tries 40] [--within 0.35]

DuckDB alone, no earshot CLI: a version-8 file holding ``--mentions`` mentions; a child process commits
migration 9 (the analyst views and a COMMENT ON every column) either the old way (a transaction, then
CHECKPOINT) or the new way (``wal_autocheckpoint`` 0 and ``auto_checkpoint_skip_wal_threshold`` 0: the commit
goes straight into the file) and is SIGKILLed at a random instant within ``--within`` seconds of starting.
Each file is then opened with plain DuckDB and through ATTACH to an in-memory database, in child processes.
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from warehouse.migrate import _SCHEMA_MIGRATIONS, available

REPO = Path(__file__).resolve().parents[1]
CHILD = """
import sys
import duckdb
sys.path.insert(0, sys.argv[3])
from warehouse.migrate import available
con = duckdb.connect(sys.argv[1])
if sys.argv[2] == "new":
    con.execute("SET wal_autocheckpoint = '0KB'")
    con.execute("SET auto_checkpoint_skip_wal_threshold = 0")
print("ready", flush=True)
sys.stdin.readline()
con.execute("BEGIN")
con.execute(available()[8].sql)
con.execute("INSERT INTO schema_migrations (version, name) VALUES (9, 'analyst_views')")
con.execute("COMMIT")
if sys.argv[2] == "old":
    con.execute("CHECKPOINT")
"""
PLAIN = "import duckdb, sys; duckdb.connect(sys.argv[1], read_only=True).execute('SELECT count(*) FROM mentions')"
ATTACHED = (
    'import duckdb, sys; c = duckdb.connect(); c.execute("ATTACH \'" + sys.argv[1] + "\' AS w (READ_ONLY)"); '
    "c.execute('SELECT count(*) FROM w.mentions')"
)


def version_8(path: Path, mentions: int) -> None:
    con = duckdb.connect(str(path))
    con.execute(_SCHEMA_MIGRATIONS)
    for migration in available()[:8]:
        con.execute(migration.sql)
        con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [migration.version, migration.name])
    con.execute("INSERT INTO sources (source_id, kind, audience, name) VALUES ('s', 'feed', 'customers', 'S')")
    con.execute(
        """
        INSERT INTO mentions (mention_id, source_id, audience, title, text, content_hash, first_seen_run,
            last_seen_run, first_seen_at, last_seen_at)
        SELECT 'm' || range, 's', 'customers', 'title ' || range, 'mention ' || range || repeat(' words', 40),
            'h' || range, 'r', 'r', now(), now()
        FROM range(?)
        """,
        [mentions],
    )
    con.close()


def opens(script: str, path: Path) -> bool:
    return subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, check=False).returncode == 0  # noqa: S603


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mentions", type=int, default=300_000)
    parser.add_argument("--tries", type=int, default=40)
    parser.add_argument("--within", type=float, default=0.35, help="kill within this many seconds (default 0.35)")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="earshot-migration-kill-") as scratch:
        base = Path(scratch) / "v8.duckdb"
        version_8(base, args.mentions)
        for mode in ("old", "new"):
            plain = attached = logs = 0
            for i in range(args.tries):
                path = Path(scratch) / f"{mode}{i}.duckdb"
                path.write_bytes(base.read_bytes())
                child = subprocess.Popen(  # noqa: S603 (our own interpreter, no shell)
                    [sys.executable, "-c", CHILD, str(path), mode, str(REPO)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                )  # fmt: skip
                assert child.stdout is not None and child.stdin is not None
                child.stdout.readline()
                child.stdin.write("go\n")
                child.stdin.flush()
                time.sleep(rng.uniform(0, args.within))
                child.send_signal(signal.SIGKILL)
                child.wait()
                logs += Path(f"{path}.wal").exists()
                plain += opens(PLAIN, path)
                attached += opens(ATTACHED, path)
                path.unlink()
                Path(f"{path}.wal").unlink(missing_ok=True)
            print(f"{mode}: {args.tries} kills; a log left: {logs}; plain open: {plain} of {args.tries}; "
                  f"ATTACH: {attached} of {args.tries}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
