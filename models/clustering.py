"""Grouping embeddings into themes: reduce, cluster densely, then assign what is close enough.

Raw 384-d vectors are slow for HDBSCAN and blur density, so they are first projected with PCA to 30
dimensions (deterministic, order-independent, fast enough for 10^5 texts; 5-10 dimensions could not
separate 150 fine topics: Google News NMI 0.67 at 10 vs 0.87 at 30) and re-normalised: texts that
belong to no theme project near the origin, where they would look falsely dense; on the unit sphere
they scatter instead (AG News sample: NMI 0.19 → 0.49). HDBSCAN then finds dense groups. A group far
looser than its siblings (coherence under ``catch_all_ratio`` × the median) is a catch-all, not a
theme, and is dissolved; likewise a member far looser than its cluster (similarity under
``member_ratio`` × the cluster's coherence) is ejected. Outliers are attached to the nearest theme
only when their cosine similarity to its centroid clears ``assign_threshold``: noise is never forced
into a theme.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NOISE = -1


@dataclass(frozen=True)
class ClusterSettings:
    min_cluster_size: int | None = None  # None: scale with the corpus
    reduce_to: int = 30
    assign_threshold: float = 0.35
    catch_all_ratio: float = 0.5
    member_ratio: float = 0.5
    seed: int = 42


@dataclass(frozen=True)
class Clustering:
    """``labels[i]`` is the cluster of text ``i`` (``NOISE`` for none); ``similarity[i]`` its cosine to
    that cluster's centroid; ``centroids`` are unit vectors in the original embedding space;
    ``coherence[k]`` is the mean similarity of cluster ``k``'s members to its centroid."""

    labels: np.ndarray
    similarity: np.ndarray
    centroids: np.ndarray
    coherence: np.ndarray

    @property
    def n_clusters(self) -> int:
        return int(self.centroids.shape[0])

    @property
    def noise_share(self) -> float:
        return float(np.mean(self.labels == NOISE)) if self.labels.size else 0.0


def auto_min_cluster_size(n: int) -> int:
    """10 (BERTopic's default, and what labelled corpora reward) up to 20,000 texts, then one per 2,000
    texts, at most 100, so 10^5 mentions give tens of themes a person can read, not thousands."""
    return int(min(100, max(10, round(n / 2000))))


def reduce(vectors: np.ndarray, dims: int, seed: int) -> np.ndarray:
    """PCA to ``dims`` dimensions (or fewer when there are fewer texts), back on the unit sphere."""
    from sklearn.decomposition import PCA

    k = min(dims, vectors.shape[0] - 1, vectors.shape[1])
    if k < 2:
        return vectors
    reduced = PCA(n_components=k, svd_solver="full", random_state=seed).fit_transform(vectors)
    return reduced / np.maximum(np.linalg.norm(reduced, axis=1, keepdims=True), 1e-9)


def _centroids(vectors: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    centroids = np.zeros((n, vectors.shape[1]), dtype=np.float32)
    for cluster in range(n):
        mean = vectors[labels == cluster].mean(axis=0)
        centroids[cluster] = mean / (np.linalg.norm(mean) or 1.0)
    return centroids


def cluster(vectors: np.ndarray, settings: ClusterSettings = ClusterSettings()) -> Clustering:
    """Cluster unit-length ``vectors``; the result does not depend on their order."""
    n = vectors.shape[0]
    dims = vectors.shape[1] if n else 0
    empty = Clustering(np.full(n, NOISE), np.zeros(n, dtype=np.float32), np.zeros((0, dims)), np.zeros(0))
    min_size = settings.min_cluster_size or auto_min_cluster_size(n)
    if n < 2 * min_size:
        return empty
    import hdbscan

    reduced = reduce(vectors, settings.reduce_to, settings.seed)
    model = hdbscan.HDBSCAN(
        min_cluster_size=min_size,
        min_samples=max(2, min_size // 2),
        metric="euclidean",
        cluster_selection_method="eom",
        core_dist_n_jobs=1,
    )
    raw = _dissolve_catch_alls(vectors, model.fit_predict(reduced), settings.catch_all_ratio)
    n_clusters = int(raw.max()) + 1
    if n_clusters == 0:
        return empty
    centroids = _centroids(vectors, raw, n_clusters)
    sims = vectors @ centroids.T
    own_raw = sims[np.arange(n), np.maximum(raw, 0)]
    floor = settings.member_ratio * np.array([own_raw[raw == k].mean() for k in range(n_clusters)])
    raw = np.where((raw != NOISE) & (own_raw < floor[np.maximum(raw, 0)]), NOISE, raw)
    nearest = sims.argmax(axis=1)
    best = sims[np.arange(n), nearest]
    labels = np.where(raw != NOISE, raw, np.where(best >= settings.assign_threshold, nearest, NOISE))
    own = np.where(labels != NOISE, sims[np.arange(n), np.maximum(labels, 0)], best)
    coherence = np.array([own[labels == k].mean() for k in range(n_clusters)], dtype=np.float32)
    return Clustering(labels.astype(int), own.astype(np.float32), centroids, coherence)


def _dissolve_catch_alls(vectors: np.ndarray, raw: np.ndarray, ratio: float) -> np.ndarray:
    """Turn clusters much looser than their siblings back into noise, renumbering the rest."""
    n_clusters = int(raw.max()) + 1
    if n_clusters < 3 or ratio <= 0:
        return raw
    centroids = _centroids(vectors, raw, n_clusters)
    coherence = np.array([(vectors[raw == k] @ centroids[k]).mean() for k in range(n_clusters)])
    keep = coherence >= ratio * np.median(coherence)
    renumber = np.full(n_clusters + 1, NOISE)  # index -1 (noise) maps to the last slot: stays noise
    renumber[np.flatnonzero(keep)] = np.arange(int(keep.sum()))
    return renumber[raw]
