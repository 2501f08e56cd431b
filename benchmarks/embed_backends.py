"""Torch vs ONNX (fp32, int8) embedding backends side by side: docs/s and agreement with torch.

    python -m benchmarks.embed_backends ../shared/eval/corpora/agnews.jsonl --docs 1000 --runs 3

Exports the packaged model to a temporary directory (or reuses ``--onnx-dir``, which then holds ``fp32/``
and ``int8/`` exports), warms every backend up, then reports the median docs/s over ``--runs``, the ratio to
torch, and the mean / min cosine of each backend's vectors to the torch ones. Export and load time are
excluded from docs/s. Backends are timed in turns within each run so background load hits them alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--onnx-dir", type=Path, default=None, help="reuse / create exports here")
    parser.add_argument("--torch-batch-size", type=int, default=32)
    parser.add_argument("--onnx-batch-size", type=int, default=16)
    args = parser.parse_args()

    import numpy as np

    from models.embedding import SentenceTransformerEmbedder
    from models.embedding_onnx import DESCRIPTOR, OnnxEmbedder, export_onnx

    texts = [json.loads(line)["text"] for line in args.corpus.open()][: args.docs]
    mean_words = statistics.mean(len(t.split()) for t in texts)
    with tempfile.TemporaryDirectory(prefix="earshot-bench-onnx-") as scratch:
        base = args.onnx_dir or Path(scratch)
        for sub, quantize in (("fp32", False), ("int8", True)):
            if not (base / sub / DESCRIPTOR).exists():
                started = time.perf_counter()
                export_onnx(base / sub, quantize=quantize)
                print(f"exported {sub} in {time.perf_counter() - started:.1f}s")
        backends: dict[str, Any] = {
            "torch": SentenceTransformerEmbedder(batch_size=args.torch_batch_size),
            "onnx-fp32": OnnxEmbedder(base / "fp32", batch_size=args.onnx_batch_size),
            "onnx-int8": OnnxEmbedder(base / "int8", batch_size=args.onnx_batch_size),
        }
        quantization = backends["onnx-int8"].descriptor.get("quantization") or {}
        vectors = {}
        for label, embedder in backends.items():
            embedder.embed(texts[:64])  # warm-up
            vectors[label] = embedder.embed(texts)
        rates: dict[str, list[float]] = {label: [] for label in backends}
        for _ in range(args.runs):
            for label, embedder in backends.items():
                started = time.perf_counter()
                embedder.embed(texts)
                rates[label].append(len(texts) / (time.perf_counter() - started))

    print(
        f"{args.corpus.name}: {len(texts)} docs, mean {mean_words:.0f} words/doc, {args.runs} runs; "
        f"int8 variant per_channel={quantization.get('per_channel')} reduce_range={quantization.get('reduce_range')} "
        f"fused={quantization.get('fused')}"
    )
    print(f"{'backend':<11} {'name':<28} {'batch':>5} {'docs/s':>8} {'x torch':>8} {'mean cos':>9} {'min cos':>8}")
    torch_rate = statistics.median(rates["torch"])
    for label, embedder in backends.items():
        rate = statistics.median(rates[label])
        cosines = np.sum(vectors[label] * vectors["torch"], axis=1)
        print(
            f"{label:<11} {embedder.name:<28} {embedder.batch_size:>5} {rate:>8.1f} {rate / torch_rate:>7.2f}x "
            f"{cosines.mean():>9.4f} {cosines.min():>8.4f}   runs: {', '.join(f'{r:.1f}' for r in rates[label])}"
        )


if __name__ == "__main__":
    main()
