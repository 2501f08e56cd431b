"""Stable theme identities across runs.

Policy: a cluster found this run takes the id of the previous theme whose centroid is most similar,
when that cosine similarity is at least ``match_threshold`` and no closer cluster claimed it (greedy
matching, best pairs first). Otherwise it is a new theme, whose id derives from its most central
member, so the same input always yields the same ids. Themes not matched this run stay in the
warehouse, marked inactive, so their history is kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np

MATCH_THRESHOLD = 0.80


def match_themes(
    centroids: np.ndarray,
    previous: Mapping[str, np.ndarray],
    anchors: list[str],
    match_threshold: float = MATCH_THRESHOLD,
) -> list[str]:
    """Theme id for each new centroid. ``anchors[i]`` is the most central member of cluster ``i``."""
    ids: list[str | None] = [None] * len(centroids)
    if previous and len(centroids):
        prev_ids = sorted(previous)
        prev = np.stack([previous[p] for p in prev_ids])
        sims = centroids @ prev.T
        pairs = sorted(
            ((float(sims[i, j]), i, j) for i in range(sims.shape[0]) for j in range(sims.shape[1])),
            key=lambda t: (-t[0], t[1], t[2]),
        )
        used: set[int] = set()
        for sim, i, j in pairs:
            if sim < match_threshold:
                break
            if ids[i] is None and j not in used:
                ids[i] = prev_ids[j]
                used.add(j)
    return [known or new_theme_id(anchors[i]) for i, known in enumerate(ids)]


def new_theme_id(anchor: str) -> str:
    """Deterministic id for a theme first seen around ``anchor`` (its most central mention)."""
    return "t_" + hashlib.sha256(f"theme:{anchor}".encode()).hexdigest()[:12]
