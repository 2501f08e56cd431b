"""``earshot eval-themes``: theme quality on a labelled corpus, optionally against BERTopic.

Reads ``{"id", "text", "label"}`` JSON lines, embeds each text once (cached on disk, so repeated runs
cost only clustering), clusters with earshot's own pipeline and reports: texts, themes, outlier share,
NMI / ARI / homogeneity against the labels (outliers count as one group, as they would in a report),
seconds spent embedding and clustering, and the ARI between a run on the corpus and a run on the same
corpus shuffled (stability). ``--against bertopic`` runs BERTopic's default clustering (UMAP to 5
cosine dimensions, then HDBSCAN with min_cluster_size 10) on the same embeddings, side by side.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Corpus:
    ids: list[str]
    texts: list[str]
    labels: list[str]


@dataclass(frozen=True)
class Row:
    """One method's figures on one corpus."""

    method: str
    n: int
    themes: int
    outlier_share: float
    nmi: float
    ari: float
    homogeneity: float
    embed_seconds: float
    cluster_seconds: float
    shuffled_ari: float | None


def read_corpus(path: Path) -> Corpus:
    ids, texts, labels = [], [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            ids.append(str(row.get("id", number)))
            texts.append(str(row["text"]))
            labels.append(str(row["label"]))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: expected {{'id', 'text', 'label'}} JSON ({exc})") from None
    if not texts:
        raise ValueError(f"{path}: no texts")
    return Corpus(ids, texts, labels)


def embeddings(corpus: Corpus, model: str, cache: Path) -> tuple[np.ndarray, float]:
    """Vectors for the corpus, from the cache when the same texts were embedded with the same model;
    returns the seconds spent embedding this time (0 on a cache hit)."""
    from models.embedding import SentenceTransformerEmbedder, resolve_model

    name, _ = resolve_model(model)
    digest = hashlib.sha256("\x1e".join([name, *corpus.texts]).encode("utf-8")).hexdigest()[:24]
    path = cache / f"{digest}.npy"
    if path.exists():
        return np.load(path), 0.0
    started = time.perf_counter()
    vectors = SentenceTransformerEmbedder(model).embed(corpus.texts)
    seconds = time.perf_counter() - started
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors, seconds


def _scores(labels: list[str], found: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import adjusted_rand_score, homogeneity_score, normalized_mutual_info_score

    return {
        "nmi": float(normalized_mutual_info_score(labels, found)),
        "ari": float(adjusted_rand_score(labels, found)),
        "homogeneity": float(homogeneity_score(labels, found)),
    }


ClusterFn = Callable[[np.ndarray], np.ndarray]
"""Labels (-1 = outlier) for the texts at the given indices, in that order."""


def _measure(method: str, cluster: ClusterFn, corpus: Corpus, embed_seconds: float, stability: bool) -> Row:
    from sklearn.metrics import adjusted_rand_score

    everything = np.arange(len(corpus.texts))
    started = time.perf_counter()
    found = cluster(everything)
    seconds = time.perf_counter() - started
    shuffled_ari = None
    if stability:  # same texts, another order: a stable method finds the same themes
        order = np.random.default_rng(1).permutation(len(everything))
        back = np.empty_like(found)
        back[order] = cluster(order)
        shuffled_ari = float(adjusted_rand_score(found, back))
    return Row(
        method=method,
        n=len(found),
        themes=int(found.max()) + 1 if found.size else 0,
        outlier_share=float(np.mean(found == -1)),
        **_scores(corpus.labels, found),
        embed_seconds=embed_seconds,
        cluster_seconds=seconds,
        shuffled_ari=shuffled_ari,
    )


def evaluate_earshot(corpus: Corpus, vectors: np.ndarray, embed_seconds: float, stability: bool = True) -> Row:
    from models.clustering import cluster

    return _measure("earshot", lambda idx: cluster(vectors[idx]).labels, corpus, embed_seconds, stability)


def evaluate_bertopic(corpus: Corpus, vectors: np.ndarray, embed_seconds: float, stability: bool = True) -> Row:
    """BERTopic's default clustering on the same embeddings (an optional extra: `pip install bertopic`)."""
    try:
        from bertopic import BERTopic
        from hdbscan import HDBSCAN
        from umap import UMAP
    except ImportError as exc:
        raise RuntimeError(f"--against bertopic needs BERTopic installed (pip install bertopic): {exc}") from None

    def cluster(idx: np.ndarray) -> np.ndarray:
        umap = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=42)
        clusterer = HDBSCAN(min_cluster_size=10, metric="euclidean", cluster_selection_method="eom",
                            prediction_data=True)  # fmt: skip
        texts = [corpus.texts[i] for i in idx]
        topics, _ = BERTopic(umap_model=umap, hdbscan_model=clusterer).fit_transform(texts, vectors[idx])
        return np.asarray(topics)

    return _measure("bertopic", cluster, corpus, embed_seconds, stability)


def format_rows(corpus_name: str, rows: list[Row]) -> str:
    header = f"{'corpus':<18} {'method':<9} {'n':>6} {'themes':>6} {'outliers':>8} {'NMI':>6} {'ARI':>6} " \
             f"{'homog':>6} {'embed s':>8} {'cluster s':>9} {'shuffled ARI':>12}"  # fmt: skip
    lines = [header]
    for r in rows:
        shuffled = f"{r.shuffled_ari:.3f}" if r.shuffled_ari is not None else "-"
        lines.append(
            f"{corpus_name:<18} {r.method:<9} {r.n:>6} {r.themes:>6} {r.outlier_share:>8.1%} {r.nmi:>6.3f} "
            f"{r.ari:>6.3f} {r.homogeneity:>6.3f} {r.embed_seconds:>8.1f} {r.cluster_seconds:>9.1f} {shuffled:>12}"
        )
    return "\n".join(lines)


def run(corpus_path: Path, cache: Path, model: str = "default", against: str | None = None,
        stability: bool = True) -> list[Row]:  # fmt: skip
    corpus = read_corpus(corpus_path)
    vectors, embed_seconds = embeddings(corpus, model, cache)
    rows = [evaluate_earshot(corpus, vectors, embed_seconds, stability)]
    if against == "bertopic":
        rows.append(evaluate_bertopic(corpus, vectors, embed_seconds, stability))
    return rows


def as_json(corpus_path: Path, rows: list[Row]) -> str:
    return json.dumps({"corpus": str(corpus_path), "rows": [asdict(r) for r in rows]}, indent=1)
