"""Representative quotes: texts close to a theme's centre, spread across sources, never repeating
each other (near-duplicate posts are common: templates, cross-posts, syndicated news)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def representative(
    similarity: np.ndarray,
    sources: Sequence[str],
    n: int = 4,
    max_per_source: int = 2,
    vectors: np.ndarray | None = None,
    max_overlap: float = 0.80,  # MiniLM: re-worded copies of one post score 0.83+, distinct voices 0.69-0.76
) -> list[int]:
    """Indices of up to ``n`` members, most central first.

    At most ``max_per_source`` per source, so one loud community does not speak for the whole theme;
    given ``vectors``, none with a cosine similarity of ``max_overlap`` or more to a quote already
    picked. Both limits are relaxed, in that order, when they leave fewer than ``n``.
    """
    order = [int(i) for i in np.argsort(-similarity, kind="stable")]
    picked: list[int] = []

    def repeats(index: int) -> bool:
        return vectors is not None and bool(picked) and float(np.max(vectors[picked] @ vectors[index])) >= max_overlap

    per_source: dict[str, int] = {}
    for index in order:
        if len(picked) >= n:
            break
        if per_source.get(sources[index], 0) < max_per_source and not repeats(index):
            picked.append(index)
            per_source[sources[index]] = per_source.get(sources[index], 0) + 1
    for relax_overlap in (False, True):
        for index in order:
            if len(picked) >= n:
                break
            if index not in picked and (relax_overlap or not repeats(index)):
                picked.append(index)
    return picked[:n]


def excerpt(text: str, limit: int = 320) -> str:
    """Shorten at a word boundary, marking the cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:.") + " …"
