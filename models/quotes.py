"""Representative quotes: the texts closest to a theme's centre, spread across sources."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def representative(
    similarity: np.ndarray, sources: Sequence[str], n: int = 4, max_per_source: int = 2
) -> list[int]:
    """Indices of up to ``n`` members, most central first, at most ``max_per_source`` per source so one
    loud community does not speak for the whole theme."""
    order = np.argsort(-similarity, kind="stable")
    picked: list[int] = []
    per_source: dict[str, int] = {}
    for index in order:
        source = sources[index]
        if per_source.get(source, 0) >= max_per_source:
            continue
        picked.append(int(index))
        per_source[source] = per_source.get(source, 0) + 1
        if len(picked) == n:
            return picked
    for index in order:  # too few sources: fill with the next most central
        if int(index) not in picked:
            picked.append(int(index))
            if len(picked) == n:
                break
    return picked


def excerpt(text: str, limit: int = 320) -> str:
    """Shorten at a word boundary, marking the cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:.") + " …"
