"""100,000 mentions through embedding and clustering: seconds and peak memory per stage.

    python -m benchmarks.themes_scale ../shared/eval/corpora/*.jsonl --n 100000 --backend onnx

Builds ``--n`` distinct mentions from labelled corpora (each one the first half of a text spliced to the
second half of another text with the same label: distinct, on-topic, realistic length), loads them into a
fresh warehouse, then runs each stage in its own process — embed, signals, cluster (a refit: the first run),
then ``--daily`` new mentions and cluster again (an assign run, as every day between refits) — and prints
wall seconds and the stage process's peak resident memory. Stages are the same functions the DAG tasks call.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

STAGES = ("embed", "signals", "cluster")


def spliced_texts(corpora: list[Path], n: int, seed: int = 7) -> list[str]:
    """``n`` distinct texts: halves of two same-label texts joined; the originals first."""
    by_label: dict[str, list[str]] = defaultdict(list)
    for corpus in corpora:
        for line in corpus.open():
            row = json.loads(line)
            by_label[f"{corpus.stem}:{row['label']}"].append(row["text"])
    rng = random.Random(seed)
    labels = sorted(by_label)
    out, seen = [], set()
    for label in labels:
        for text in by_label[label]:
            if text not in seen:
                seen.add(text)
                out.append(text)
    while len(out) < n:
        pool = by_label[rng.choice(labels)]
        a, b = rng.choice(pool).split(), rng.choice(pool).split()
        text = " ".join(a[: max(1, len(a) // 2)] + b[len(b) // 2 :])
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out[:n]


def load_mentions(home: Path, texts: list[str], run_id: str, at: datetime) -> None:
    """Insert mentions directly (the listen stage is benchmarked elsewhere), one bulk transaction."""
    import hashlib

    from warehouse.bulk import staged
    from warehouse.connection import transaction, writer

    audiences = ("customers", "customers_customers", "influencers")
    types = {"mention_id": "VARCHAR", "source_id": "VARCHAR", "audience": "VARCHAR", "text": "VARCHAR",
             "content_hash": "VARCHAR", "published_at": "TIMESTAMPTZ"}  # fmt: skip
    rows = []
    for i, text in enumerate(texts):
        digest = hashlib.sha256(text.encode()).hexdigest()
        rows.append(
            (f"m_{digest[:16]}", f"src{i % 3}", audiences[i % 3], text, digest, at - timedelta(minutes=i % 50_000))
        )
    with writer(home / "earshot.duckdb") as con, transaction(con), staged(con, "staged_bench", types, rows):
        con.execute(
            """
            INSERT INTO sources (source_id, kind, audience, name, url)
            SELECT DISTINCT source_id, 'feed', audience, source_id, 'http://127.0.0.1/' || source_id FROM staged_bench
            ON CONFLICT DO NOTHING
            """
        )
        con.execute(
            """
            INSERT INTO mentions (mention_id, source_id, audience, text, content_hash, published_at, first_seen_run,
                last_seen_run, first_seen_at, last_seen_at)
            SELECT mention_id, source_id, audience, text, content_hash, published_at, $run, $run, $at, $at
            FROM staged_bench ON CONFLICT DO NOTHING
            """,
            {"run": run_id, "at": at},
        )
        con.execute(
            """
            INSERT INTO mention_sources (source_id, item_id, mention_id, audience, first_seen_run, last_seen_run,
                first_seen_at, last_seen_at)
            SELECT source_id, mention_id, mention_id, audience, $run, $run, $at, $at FROM staged_bench
            ON CONFLICT DO NOTHING
            """,
            {"run": run_id, "at": at},
        )


def peak_rss_kb() -> int:
    """This process's own high-water mark (VmHWM): ``ru_maxrss`` would carry the parent's over ``exec``."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: an upper bound


def run_stage(stage: str, home: Path, run_id: str, at: datetime, refit: bool = False) -> dict:
    """Inside the child process: one stage, timed; peak memory of this process."""
    from earshot import themes
    from earshot.runs import RunContext

    ctx = RunContext.create(run_id=run_id, run_at=at)
    started = time.perf_counter()
    details = themes.cluster(ctx, refit=refit) if stage == "cluster" else getattr(themes, stage)(ctx)
    return {
        "stage": stage,
        "seconds": round(time.perf_counter() - started, 1),
        "peak_mb": round(peak_rss_kb() / 1024),
        "details": {k: v for k, v in details.items() if isinstance(v, (int, float, str))},
    }


def child(stage: str, home: Path, run_id: str, at: datetime, refit: bool = False) -> dict:
    env = {**os.environ, "EARSHOT_HOME": str(home), "EARSHOT_CONFIG": str(home / "market.yaml")}
    command = [sys.executable, "-m", "benchmarks.themes_scale", "--child", stage, "--home", str(home),
               "--run-id", run_id, "--at", at.isoformat(), *(["--refit"] if refit else [])]  # fmt: skip
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True)  # noqa: S603
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpora", type=Path, nargs="*")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--daily", type=int, default=1_000, help="new mentions for the assign run")
    parser.add_argument("--backend", choices=("torch", "onnx"), default="onnx")
    parser.add_argument("--home", type=Path, default=Path(tempfile.gettempdir()) / "earshot-scale")
    parser.add_argument("--child", choices=STAGES)
    parser.add_argument("--run-id")
    parser.add_argument("--at")
    parser.add_argument("--refit", action="store_true", help="(child) force a refit")
    parser.add_argument("--cluster-only", action="store_true", help="re-time the day-1 refit on an existing --home")
    args = parser.parse_args()
    if args.child:
        at = datetime.fromisoformat(args.at)
        print(json.dumps(run_stage(args.child, args.home, args.run_id, at, refit=args.refit)))
        return
    if args.cluster_only:
        result = child("cluster", args.home, "bench_refit", datetime(2026, 11, 25, 6, tzinfo=UTC), refit=True)
        print(f"refit of {result['details'].get('mentions')} mentions: {result['seconds']:.1f}s, "
              f"peak {result['peak_mb']} MB; {result['details']}")  # fmt: skip
        return

    home = args.home
    home.mkdir(parents=True, exist_ok=True)
    (home / "earshot.duckdb").unlink(missing_ok=True)
    (home / "market.yaml").write_text(
        "company: {name: Bench}\noffer: {summary: Bench}\n"
        "audiences: {customers: {}, customers_customers: {}, influencers: {}}\n"
        "sources: [{id: src0, kind: feed, audience: customers, url: 'http://127.0.0.1/src0'}]\n"
        f"themes: {{backend: {args.backend}}}\n"
    )
    if args.backend == "onnx" and not (home / "models" / "onnx-int8").exists():
        from models.embedding_onnx import export_onnx

        export_onnx(home / "models" / "onnx-int8")
    texts = spliced_texts(args.corpora, args.n + args.daily)
    day1 = datetime(2026, 11, 23, 6, tzinfo=UTC)
    day2 = day1 + timedelta(days=1)
    started = time.perf_counter()
    load_mentions(home, texts[: args.n], "bench_day1", day1)
    print(f"{args.n} mentions loaded in {time.perf_counter() - started:.1f}s ({args.backend} backend)")
    results = [child(stage, home, "bench_day1", day1) for stage in STAGES]
    load_mentions(home, texts[args.n :], "bench_day2", day2)
    results += [child(stage, home, "bench_day2", day2) for stage in STAGES]
    print(f"{'run':<6} {'stage':<8} {'seconds':>8} {'peak MB':>8}  details")
    for day, result in zip(["day 1"] * 3 + ["day 2"] * 3, results, strict=True):
        print(f"{day:<6} {result['stage']:<8} {result['seconds']:8.1f} {result['peak_mb']:8d}  {result['details']}")
    total = sum(r["seconds"] for r in results[:3])
    print(f"day 1 (all {args.n} mentions) embed + signals + cluster: {total:.0f}s; "
          f"day 2 (+{args.daily}): {sum(r['seconds'] for r in results[3:]):.0f}s")  # fmt: skip


if __name__ == "__main__":
    main()
