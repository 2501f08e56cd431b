"""Survival: every feed in feedparser's own test suite, served over loopback HTTP with its ``Header:``
lines, as the sources of one market; one listen run. Prints how many loaded, with a warning, or
failed (by error kind), and whether the run itself survived.

    python -m benchmarks.feed_survival ../shared/eval/feeds/feedparser_tests
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

from benchmarks._loopback import serve

AUDIENCES = ("customers", "customers_customers", "influencers")
_HEADER = re.compile(rb"^\s*Header:\s*([^:\r\n]+):\s*(.*?)\s*$", re.MULTILINE)


def source_id(relative: str) -> str:
    slug = re.sub(r"[^a-z0-9_.-]", "-", relative.lower())[:48].strip("-.")
    return f"{slug}-{hashlib.sha1(relative.encode()).hexdigest()[:6]}"  # noqa: S324 (a name, not security)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    files = sorted(p for p in args.folder.rglob("*") if p.is_file() and p.name != "EXPECTATIONS.jsonl")
    documents, sources = {}, []
    for index, path in enumerate(files):
        relative = path.relative_to(args.folder).as_posix()
        body = path.read_bytes()
        headers = {m.group(1).decode().strip(): m.group(2).decode("latin-1") for m in _HEADER.finditer(body[:4096])}
        documents["/" + relative] = (body, headers or {"Content-Type": "application/xml"})
        sources.append(
            {
                "id": source_id(relative),
                "kind": "feed",
                "audience": AUDIENCES[index % 3],
                "url": "${BENCH_URL}/" + relative,
            }
        )

    with tempfile.TemporaryDirectory() as home, serve(documents) as base_url:
        os.environ.update(EARSHOT_HOME=home, BENCH_URL=base_url, EARSHOT_CONFIG=str(Path(home) / "market.yaml"))
        plan = {
            "company": {"name": "Survival"},
            "offer": {"summary": "feedparser's test feeds"},
            "audiences": {a: {} for a in AUDIENCES},
            "fetch": {"retries": 0, "timeout_seconds": 5},
            "sources": sources,
        }
        Path(os.environ["EARSHOT_CONFIG"]).write_text(yaml.safe_dump(plan))
        from earshot import listen
        from earshot.runs import RunContext
        from warehouse.connection import reader

        started = time.perf_counter()
        summary = listen.listen(RunContext.create(), workers=8)
        elapsed = time.perf_counter() - started
        with reader(RunContext.create().paths.warehouse) as con:
            statuses = Counter(dict(con.execute("SELECT status, count(*) FROM fetches GROUP BY 1").fetchall()))
            kinds = con.execute(
                "SELECT error_kind, count(*) FROM fetches WHERE status = 'error' GROUP BY 1 ORDER BY 2 DESC"
            ).fetchall()
            mentions = con.execute("SELECT count(*) FROM mentions").fetchone()[0]  # type: ignore[index]
    print(f"feeds served: {len(files)}; run completed in {elapsed:.1f}s (status {summary['status']})")
    print(
        f"loaded cleanly: {statuses['ok']}; loaded with a warning: {statuses['warning']}; "
        f"errors recorded: {statuses['error']}; crashed the run: 0"
    )
    print("errors by kind: " + (", ".join(f"{k} {n}" for k, n in kinds) or "none"))
    print(f"mentions stored: {mentions}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
