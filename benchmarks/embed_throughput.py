"""Embedding throughput of the default embedder: documents per second, median of several runs.

    python -m benchmarks.embed_throughput ../shared/eval/corpora/agnews.jsonl --docs 1000 --runs 3

Reads ``{"text": ...}`` JSON lines (the public eval corpora); prints one line per batch size. Model
load time is reported separately and excluded from docs/s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-sizes", default="32,64,128")
    parser.add_argument("--model", default="default")
    args = parser.parse_args()

    texts = [json.loads(line)["text"] for line in args.corpus.open()][: args.docs]
    started = time.perf_counter()
    from models.embedding import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(args.model)
    print(f"model {embedder.name}: loaded in {time.perf_counter() - started:.1f}s; {len(texts)} docs")
    embedder.embed(texts[:64])  # warm-up
    mean_words = statistics.mean(len(t.split()) for t in texts)
    for batch_size in (int(b) for b in args.batch_sizes.split(",")):
        embedder.batch_size = batch_size
        rates = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            embedder.embed(texts)
            rates.append(len(texts) / (time.perf_counter() - t0))
        print(
            f"batch {batch_size:4d}: median {statistics.median(rates):7.1f} docs/s "
            f"(runs: {', '.join(f'{r:.1f}' for r in rates)}; mean {mean_words:.0f} words/doc)"
        )


if __name__ == "__main__":
    main()
