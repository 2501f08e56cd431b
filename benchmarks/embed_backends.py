"""Torch vs ONNX embedding backends side by side: docs/s, the median speed ratio, agreement with torch.

    python -m benchmarks.embed_backends ../shared/eval/corpora/agnews.jsonl ../shared/eval/corpora/tweet.jsonl

Exports the packaged model to a temporary directory (or reuses ``--onnx-dir``, which then holds ``int8/`` and,
with ``--fp32``, ``fp32/`` exports) and warms every backend up; export and load time are excluded. Each run
walks the corpus in chunks of ``--chunk`` texts, and every chunk is embedded by every backend in turn (the
order rotates), so background load on a shared machine hits torch and the candidate alike. The headline is
the median over all (run, chunk) pairs of torch's wall time / the candidate's wall time on the same texts;
docs/s is total docs over total time. ``cpu x`` is the same median on process CPU time: with ``--threads 1``
it is the figure least moved by other processes (with more threads, torch's OpenMP spin-waits count as CPU).
Cosine is against the torch vectors of the same texts. The load average is printed before and after: a ratio
taken while other jobs hold the cores is not the ratio on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpora", type=Path, nargs="+", help='JSON lines with a "text" field')
    parser.add_argument("--docs", type=int, default=1000, help="first N texts of each corpus")
    parser.add_argument("--runs", type=int, default=3, help="passes over the corpus (each one chunk by chunk)")
    parser.add_argument("--chunk", type=int, default=200, help="texts embedded by each backend in turn")
    parser.add_argument("--threads", type=int, default=0, help="torch threads and ONNX workers (0: all usable CPUs)")
    parser.add_argument("--onnx-dir", type=Path, default=None, help="reuse / create exports here")
    parser.add_argument("--fp32", action="store_true", help="also time the unquantized ONNX export")
    parser.add_argument("--torch-batch-size", type=int, default=32)
    parser.add_argument("--onnx-batch-size", type=int, default=None, help="max texts per ONNX batch")
    parser.add_argument("--onnx-batch-tokens", type=int, default=None, help="padded tokens per ONNX batch")
    args = parser.parse_args()

    import numpy as np
    import torch

    from models.embedding import SentenceTransformerEmbedder
    from models.embedding_onnx import BATCH_TOKENS, DESCRIPTOR, MAX_BATCH, OnnxEmbedder, export_onnx, usable_cpus

    threads = args.threads or usable_cpus()
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="earshot-bench-onnx-") as scratch:
        base = args.onnx_dir or Path(scratch)
        exports = (("int8", True), ("fp32", False)) if args.fp32 else (("int8", True),)
        for sub, quantize in exports:
            if not (base / sub / DESCRIPTOR).exists():
                started = time.perf_counter()
                export_onnx(base / sub, quantize=quantize)
                print(f"exported {sub} in {time.perf_counter() - started:.1f}s")
        onnx_options = {
            "batch_size": args.onnx_batch_size or MAX_BATCH,
            "batch_tokens": args.onnx_batch_tokens or BATCH_TOKENS,
            "threads": threads,
        }
        backends: dict[str, Any] = {"torch": SentenceTransformerEmbedder(batch_size=args.torch_batch_size)}
        for sub, _ in exports:
            backends[f"onnx-{sub}"] = OnnxEmbedder(base / sub, **onnx_options)
        quantization = backends["onnx-int8"].descriptor.get("quantization") or {}
        print(
            f"threads {threads}; torch batch {args.torch_batch_size}; onnx batches <= {onnx_options['batch_size']} "
            f"texts, <= {onnx_options['batch_tokens']} tokens; int8 per_channel={quantization.get('per_channel')} "
            f"reduce_range={quantization.get('reduce_range')} fused={quantization.get('fused')}"
        )
        for corpus in args.corpora:
            texts = [json.loads(line)["text"] for line in corpus.open()][: args.docs]
            _bench(corpus.name, texts, backends, args.runs, args.chunk, np)


def _bench(label: str, texts: list[str], backends: dict[str, Any], runs: int, chunk: int, np: Any) -> None:
    load_before = os.getloadavg()
    vectors = {}
    for name, embedder in backends.items():
        embedder.embed(texts[:64])  # warm-up
        vectors[name] = embedder.embed(texts)
    wall: dict[str, list[float]] = {name: [] for name in backends}
    cpu: dict[str, list[float]] = {name: [] for name in backends}
    names = list(backends)
    turn = 0
    for _ in range(runs):
        for start in range(0, len(texts), chunk):
            part = texts[start : start + chunk]
            turn += 1
            for name in names[turn % len(names) :] + names[: turn % len(names)]:
                started, cpu_started = time.perf_counter(), time.process_time()
                backends[name].embed(part)
                wall[name].append(time.perf_counter() - started)
                cpu[name].append(time.process_time() - cpu_started)
    load_after = os.getloadavg()
    words = statistics.mean(len(t.split()) for t in texts)
    print(
        f"\n{label}: {len(texts)} docs, mean {words:.0f} words/doc, {runs} runs x {len(wall['torch']) // runs} chunks; "
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after (1 min)"
    )
    header = ("backend", "name", "docs/s", "x torch", "q25-q75", "cpu x", "mean cos", "min cos")
    print("{:<10} {:<27} {:>8} {:>8} {:>11} {:>6} {:>9} {:>8}".format(*header))
    for name, embedder in backends.items():
        ratios = [t / c for t, c in zip(wall["torch"], wall[name], strict=True)]
        cpu_ratio = statistics.median(t / max(c, 1e-9) for t, c in zip(cpu["torch"], cpu[name], strict=True))
        q25, q75 = np.percentile(ratios, [25, 75])
        cosines = np.sum(vectors[name] * vectors["torch"], axis=1)
        rate = runs * len(texts) / sum(wall[name])
        print(
            f"{name:<10} {embedder.name:<27} {rate:>8.1f} {statistics.median(ratios):>7.2f}x {q25:>5.2f}-{q75:<5.2f} "
            f"{cpu_ratio:>5.2f}x {cosines.mean():>9.4f} {cosines.min():>8.4f}"
        )


if __name__ == "__main__":
    main()
