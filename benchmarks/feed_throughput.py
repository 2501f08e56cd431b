"""Throughput: N feed sources on a loopback server; a first run, then a second run answered with 304s.
Prints seconds per run and items/s, median of ``--repeats`` fresh warehouses, for 8 parallel fetch
workers against the sequential baseline (1 worker), side by side.

    python -m benchmarks.feed_throughput --sources 500 --items 20 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks._loopback import serve

AUDIENCES = ("customers", "customers_customers", "influencers")


def feed(index: int, items: int) -> bytes:
    entries = "".join(
        f"<item><guid>f{index}-{i}</guid><title>Feed {index} post {i} about backups</title>"
        f"<link>https://feed{index}.example/{i}</link><pubDate>Mon, 16 Nov 2026 10:{i % 60:02d}:00 GMT</pubDate>"
        f"<description>&lt;p&gt;Post {i} of feed {index}: restores, ransomware and cyber insurance.&lt;/p&gt;"
        "</description></item>"
        for i in range(items)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {index}</title>'
        f"<link>https://feed{index}.example/</link><description>x</description>{entries}</channel></rss>"
    ).encode()


def one_repeat(base_url: str, sources: int, workers: int) -> tuple[float, float, int]:
    from earshot import listen
    from earshot.runs import RunContext

    with tempfile.TemporaryDirectory() as home:
        os.environ.update(EARSHOT_HOME=home, EARSHOT_CONFIG=str(Path(home) / "market.yaml"))
        plan = {
            "company": {"name": "Throughput"},
            "offer": {"summary": "x"},
            "audiences": {a: {} for a in AUDIENCES},
            "fetch": {"retries": 0},
            "sources": [
                {"id": f"feed-{i}", "kind": "feed", "audience": AUDIENCES[i % 3], "url": f"{base_url}/f/{i}.xml"}
                for i in range(sources)
            ],
        }
        Path(os.environ["EARSHOT_CONFIG"]).write_text(yaml.safe_dump(plan))
        t0 = time.perf_counter()
        first = listen.listen(RunContext.create(), workers=workers)
        t1 = time.perf_counter()
        second = listen.listen(RunContext.create(), workers=workers)
        t2 = time.perf_counter()
        assert first["failed"] == second["failed"] == 0 and second["items"] == 0
        return t1 - t0, t2 - t1, first["items"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=500)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    documents = {}
    for i in range(args.sources):
        body = feed(i, args.items)
        documents[f"/f/{i}.xml"] = (body, {"Content-Type": "application/rss+xml", "ETag": f'"v1-{i}"'})
    with serve(documents) as base_url:
        results = {}
        for workers in (1, 8):
            runs = [one_repeat(base_url, args.sources, workers) for _ in range(args.repeats)]
            results[workers] = (
                statistics.median(r[0] for r in runs),
                statistics.median(r[1] for r in runs),
                runs[0][2],
            )
            first, second, items = results[workers]
            print(
                f"workers {workers}: first run {first:6.2f}s ({items / first:7.0f} items/s, {items} items); "
                f"second run (304s) {second:5.2f}s  [runs: {', '.join(f'{r[0]:.2f}/{r[1]:.2f}' for r in runs)}]"
            )
    base, fast = results[1], results[8]
    print(
        f"ratio, 8 workers vs 1: first run {base[0] / fast[0]:.2f}x faster, second run {base[1] / fast[1]:.2f}x faster"
    )
    print(f"ratio, second (304) vs first run with 8 workers: {fast[0] / fast[1]:.1f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
