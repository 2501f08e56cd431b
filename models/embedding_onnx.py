"""ONNX Runtime embedding backend: the packaged sentence-transformer exported once, offline, to ONNX
(optionally int8 dynamically quantized), then served without torch for a faster CPU embed.

What makes it fast on a small CPU, each measured with ``benchmarks/embed_backends.py``: int8 MatMuls; no
``SkipLayerNormalization`` (onnxruntime 1.32's CPU kernel for it took ~10x the time of the LayerNormalization +
Add it replaces, about 12% of the whole run); texts sorted by length and batched by a padded-token budget
(``BATCH_TOKENS``: every MatMul then sees a few hundred rows, which stay in cache); and whole batches run in
parallel on single-threaded sessions, one per core, instead of one batch split across cores.

The vectors are close to, but not bit-identical with, the torch ones, so the recorded model name gets a
``+onnx`` / ``+onnx-int8`` suffix: the embedding cache is keyed by name and must not mix the two.
Pure: no network, no warehouse, no Airflow.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.embedding import DEFAULT_MODEL, resolve_model

DESCRIPTOR = "earshot-onnx.json"
MODEL_FILE = "model.onnx"
OPSET = 17
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
MIN_PROBE_COSINE = 0.99
BATCH_TOKENS = 512  # padded tokens per batch: 256-512 measured best single-threaded; 1024, or 16 news texts, slower
MAX_BATCH = 64  # texts per batch, whatever their length
# Session-level fusions kept out: onnxruntime's CPU SkipLayerNormalization is far slower than what it fuses.
DISABLED_OPTIMIZERS = ("SkipLayerNormFusion",)
# (per_channel, reduce_range) in order of preference; the first accurate enough on PROBE_TEXTS is kept. Per-channel
# weights are what keeps int8 above 0.99 here; reduce-range (7-bit) guards CPUs where u8s8 products saturate.
QUANTIZATION_VARIANTS = ((True, False), (True, True), (False, False))

# Varied lengths and registers, so the quantization choice is judged on something like real traffic.
PROBE_TEXTS = (
    "battery dies after two hours",
    "love the new update!!",
    "Refund still not processed after 3 weeks, support keeps closing my ticket without an answer.",
    "The app crashes every time I try to upload a photo from the gallery on Android 14.",
    "pricing page is confusing",
    "Why is the export to CSV limited to 1000 rows? We need the full dataset for our quarterly reporting.",
    "Shipping took forever and the box arrived damaged, but customer service sent a replacement quickly.",
    "dark mode pls",
    "Stocks rallied on Tuesday as investors weighed fresh inflation data against strong corporate earnings.",
    "The city council approved a plan to expand bike lanes downtown, citing safety and congestion concerns.",
    "Login with Google fails with error 403 since yesterday's release.",
    "honestly the best budgeting tool i've used, the categories just make sense",
    "Subscription auto-renewed without any reminder email; I want my money back.",
    "Scientists report a new battery chemistry that could double the range of electric vehicles.",
    "search results are irrelevant half the time",
    "Can you add an API endpoint for bulk-updating tags? Doing it one by one in the UI takes hours.",
    "notifications arrive hours late",
    "The onboarding tutorial is great but it cannot be skipped, which is annoying on a second device.",
    "Wildfires forced thousands to evacuate as strong winds pushed flames toward residential areas "
    "overnight, officials said, adding that containment could take several more days.",
    "ok",
    "Sync between desktop and phone loses edits made offline; this has cost me a whole afternoon of notes.",
    "too many ads",
    "The team announced a partnership with a major retailer to bring its smart home devices to stores.",
    "Works as advertised. Setup took five minutes. Would buy again.",
)


def export_onnx(target_dir: Path, model: str = DEFAULT_MODEL, quantize: bool = True) -> Path:
    """Export ``model``'s transformer to ``target_dir/model.onnx`` and return that path.

    Done once, offline: the graph takes ``input_ids, attention_mask, token_type_ids`` with dynamic batch and
    sequence axes and returns ``last_hidden_state``; pooling and normalisation stay in numpy so the graph is
    the same for every pooling config. With ``quantize`` the graph is fused (bias+GELU, no SkipLayerNorm) and its
    MatMul weights become int8 (``quantize_dynamic``): the first of ``QUANTIZATION_VARIANTS`` whose mean cosine
    to the fp32 export on ``PROBE_TEXTS`` is >= 0.99 is kept, so the export is deterministic (no timing decides
    it). Tokenizer files and ``earshot-onnx.json`` are written alongside.
    """
    name, location = resolve_model(model)
    source = Path(location)
    if not source.is_dir():
        raise ValueError(f"export needs a local sentence-transformers directory, got {location!r}")
    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

    max_seq_length, pooling = _read_st_config(source)
    target = target_dir / MODEL_FILE
    with tempfile.TemporaryDirectory(prefix="earshot-onnx-") as scratch_dir:
        scratch = Path(scratch_dir)
        fp32 = scratch / "model-fp32.onnx"
        dims = _export_fp32(source, fp32)
        for file_name in TOKENIZER_FILES:
            if (source / file_name).exists():
                shutil.copy2(source / file_name, target_dir / file_name)
        quantization: dict[str, Any] | None = None
        if quantize:
            chosen, quantization = _quantize(fp32, scratch, target_dir, max_seq_length)
            shutil.move(str(chosen), target)
        else:
            shutil.move(str(fp32), target)

    descriptor = {
        "model": name,
        "name": _recorded_name(name, quantize),
        "file": MODEL_FILE,
        "max_seq_length": max_seq_length,
        "pooling": pooling,
        "normalize": True,
        "dims": dims,
        "quantized": quantize,
        "quantization": quantization,
        "fused": bool(quantization and quantization.get("fused")),
        "opset": OPSET,
        "inputs": list(INPUT_NAMES),
        "output": "last_hidden_state",
    }
    (target_dir / DESCRIPTOR).write_text(json.dumps(descriptor, indent=2) + "\n")
    return target


def _recorded_name(model_name: str, quantized: bool) -> str:
    return f"{model_name}+onnx-int8" if quantized else f"{model_name}+onnx"


def _read_st_config(source: Path) -> tuple[int, str]:
    """``(max_seq_length, pooling)`` from the sentence-transformers config; only mean pooling is served."""
    config = json.loads((source / "sentence_bert_config.json").read_text())
    max_seq_length = int(config.get("max_seq_length", 256))
    pooling_file = source / "1_Pooling" / "config.json"
    if pooling_file.exists():
        pooling_config = json.loads(pooling_file.read_text())
        if not pooling_config.get("pooling_mode_mean_tokens", False) or any(
            pooling_config.get(key, False)
            for key in ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens")
        ):
            raise ValueError(f"only mean pooling is supported by the ONNX backend: {pooling_config}")
    return max_seq_length, "mean"


def _export_fp32(source: Path, path: Path) -> int:
    """Trace the transformer to ONNX; returns the hidden size.

    The 2D padding mask is turned into the additive 4D mask here, so transformers' own mask builder (which
    bakes traced lengths in as constants) stays out of the graph; eager attention traces to plain ops.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    st: Any = SentenceTransformer(str(source), device="cpu")
    bert = st[0].auto_model
    bert.set_attn_implementation("eager")
    st.eval()
    bert.eval()  # dropout in the trace would make every export differ

    class LastHidden(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            additive = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
            return self.inner(
                input_ids=input_ids, attention_mask=additive, token_type_ids=token_type_ids
            ).last_hidden_state

    wrapper = LastHidden(bert).eval()
    input_ids = torch.full((2, 12), 1000, dtype=torch.long)
    attention_mask = torch.ones((2, 12), dtype=torch.long)
    attention_mask[1, 7:] = 0  # a padded row, so nothing mask-dependent is constant-folded away
    token_type_ids = torch.zeros_like(input_ids)
    axes = {key: {0: "batch", 1: "sequence"} for key in (*INPUT_NAMES, "last_hidden_state")}
    import warnings

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about shape-derived Python values are expected
        torch.onnx.export(
            wrapper,
            (input_ids, attention_mask, token_type_ids),
            str(path),
            input_names=list(INPUT_NAMES),
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,  # the TorchScript exporter needs no onnxscript and keeps the graph fusable
        )
    return int(bert.config.hidden_size)


def _quantize(fp32: Path, scratch: Path, tokenizer_dir: Path, max_seq_length: int) -> tuple[Path, dict[str, Any]]:
    """Fuse, then quantize with each variant in turn until one is accurate enough on ``PROBE_TEXTS``."""
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    reference = _Runner(fp32, tokenizer_dir, max_seq_length, threads=1)
    ref_vectors = reference.embed(PROBE_TEXTS)
    source = _fuse(fp32, scratch / "model-fused.onnx")
    candidates: list[dict[str, Any]] = []
    quantizer_log = logging.getLogger()  # quantize_dynamic warns on the root logger about pre-processing
    level = quantizer_log.level
    for per_channel, reduce_range in QUANTIZATION_VARIANTS:
        path = scratch / f"model-int8-pc{int(per_channel)}-rr{int(reduce_range)}.onnx"
        quantizer_log.setLevel(logging.ERROR)
        try:
            quantize_dynamic(
                source,
                path,
                weight_type=QuantType.QInt8,
                per_channel=per_channel,
                reduce_range=reduce_range,
                op_types_to_quantize=["MatMul"],  # int8 word-embedding Gathers cost accuracy and gain no speed
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},  # fused ops defeat shape inference
            )
        finally:
            quantizer_log.setLevel(level)
        cosines = np.sum(_Runner(path, tokenizer_dir, max_seq_length, threads=1).embed(PROBE_TEXTS) * ref_vectors, 1)
        candidates.append(
            {
                "per_channel": per_channel,
                "reduce_range": reduce_range,
                "probe_mean_cosine": round(float(cosines.mean()), 5),
                "probe_min_cosine": round(float(cosines.min()), 5),
                "path": path,
            }
        )
        if cosines.mean() >= MIN_PROBE_COSINE:
            break
    accurate = candidates[-1]["probe_mean_cosine"] >= MIN_PROBE_COSINE
    # Nothing passes: least harm, and say so in the descriptor.
    best = candidates[-1] if accurate else max(candidates, key=lambda c: c["probe_mean_cosine"])
    summary = {k: v for k, v in best.items() if k != "path"}
    summary["meets_min_cosine"] = accurate
    summary["fused"] = source != fp32
    summary["candidates"] = [{k: v for k, v in c.items() if k != "path"} for c in candidates]
    return best["path"], summary


def _fuse(fp32: Path, path: Path) -> Path:
    """Bias+GELU fusion before quantizing (it also lets each MatMul take its bias); no SkipLayerNormalization.

    Attention is left unfused: onnxruntime's CPU (Q)Attention measured no faster than the plain ops here.
    Falls back to the unfused graph if the optimizer cannot handle it; the fusions are a speed-up only.
    """
    try:
        from onnxruntime.transformers.fusion_options import FusionOptions
        from onnxruntime.transformers.optimizer import optimize_model

        options = FusionOptions("bert")
        options.enable_skip_layer_norm = False
        options.enable_attention = False
        # num_heads / hidden_size 0: read from the graph
        optimized = optimize_model(
            str(fp32), model_type="bert", num_heads=0, hidden_size=0, opt_level=0, optimization_options=options
        )
        optimized.save_model_to_file(str(path))
    except Exception:  # pragma: no cover - depends on the onnxruntime version
        return fp32
    return path


def plan_batches(lengths: Sequence[int], max_texts: int = MAX_BATCH, max_tokens: int = BATCH_TOKENS) -> list[list[int]]:
    """Indices of the texts in each batch: longest first, each batch at most ``max_texts`` texts and
    ``max_tokens`` padded tokens (a text longer than the budget goes alone).

    Sorting keeps padding small; the token budget keeps every MatMul near the same row count, whether the texts
    are tweets (30 a batch) or articles (2 a batch). Ties keep input order, so the plan is deterministic.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    start = 0
    while start < len(order):
        width = max(lengths[order[start]], 1)
        size = max(1, min(max_texts, max_tokens // width))
        batches.append(order[start : start + size])
        start += size
    return batches


def usable_cpus() -> int:
    """CPUs this process may run on (affinity / cgroup cpusets), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class _Runner:
    """Tokenize, run the graph, mean-pool, normalise: the shared core of export checks and ``OnnxEmbedder``.

    One session with a single intra-op thread; ``threads`` batches run at once (onnxruntime releases the GIL
    and a session may run concurrently). Whole batches per core need no per-operator barrier: on 2 idle cores
    this ran 1.86-1.90x its single-threaded docs/s, where torch's intra-op threads gave 1.68-1.79x; and a busy
    neighbour on a shared machine slows one batch, not every operator of every batch.
    """

    def __init__(
        self,
        model_path: Path,
        tokenizer_dir: Path,
        max_seq_length: int,
        batch_size: int = MAX_BATCH,
        threads: int = 0,
        batch_tokens: int = BATCH_TOKENS,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        self.threads = threads or usable_cpus()
        self._tokenizer = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
        self._tokenizer.no_padding()  # padding is per batch, after length sorting
        self._tokenizer.enable_truncation(max_length=max_seq_length)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"], disabled_optimizers=list(DISABLED_OPTIMIZERS)
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.dims = int(self._session.get_outputs()[0].shape[-1])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        batches = plan_batches([len(e.ids) for e in encodings], self.batch_size, self.batch_tokens)
        out = np.empty((len(encodings), self.dims), dtype=np.float32)

        def run(batch: list[int]) -> None:
            width = len(encodings[batch[0]].ids)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            types = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, index in enumerate(batch):
                encoding = encodings[index]
                n = len(encoding.ids)
                ids[row, :n] = encoding.ids
                types[row, :n] = encoding.type_ids
                mask[row, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            hidden = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            out[batch] = pooled  # batches are disjoint, so threads never write the same row

        workers = min(self.threads, len(batches))
        if workers <= 1:
            for batch in batches:
                run(batch)
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="earshot-onnx") as pool:
                for _ in pool.map(run, batches):  # re-raises a batch's exception here
                    pass
        return out


class OnnxEmbedder:
    """Drop-in for ``SentenceTransformerEmbedder`` backed by an ``export_onnx`` directory (or its model file).

    ``batch_size`` caps texts per batch and ``batch_tokens`` padded tokens per batch; ``threads`` is how many
    batches run at once (default: the CPUs this process may use). Vectors do not depend on ``threads``.
    """

    def __init__(
        self,
        path: str | Path,
        batch_size: int = MAX_BATCH,
        threads: int | None = None,
        batch_tokens: int = BATCH_TOKENS,
    ) -> None:
        path = Path(path)
        model_dir = path.parent if path.is_file() else path
        descriptor_path = model_dir / DESCRIPTOR
        if not descriptor_path.exists():
            raise FileNotFoundError(f"{descriptor_path} not found: run export_onnx first")
        descriptor = json.loads(descriptor_path.read_text())
        model_path = path if path.is_file() else model_dir / descriptor["file"]
        self.descriptor: dict[str, Any] = descriptor
        self.name: str = descriptor.get("name") or _recorded_name(descriptor["model"], bool(descriptor["quantized"]))
        self._runner = _Runner(
            model_path, model_dir, int(descriptor["max_seq_length"]), batch_size, threads or 0, batch_tokens
        )
        self.dims: int = int(descriptor["dims"])

    @property
    def batch_size(self) -> int:
        return self._runner.batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        self._runner.batch_size = value

    @property
    def threads(self) -> int:
        return self._runner.threads

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, in input order."""
        return self._runner.embed(texts)
