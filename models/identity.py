"""Stable theme identities across runs: who continues, merges, splits, is new or retires.

A refit reclusters everything, so its clusters must be matched to the themes of the previous run.
The evidence is first the members they share: ``parent_share[i, j]`` is the share of previous theme
``j``'s members that landed in new cluster ``i``. A link is *substantial* when that share is at
least ``SUBSTANTIAL`` (30 %). Then, best links first (most shared members, then closest centroids):

- each new cluster takes the id of the previous theme it shares most members with, if that theme's
  id is still free; a merged cluster (substantial links from two or more themes) therefore keeps the
  id of the parent that gave it most members, and a split theme (substantial links to two or more
  clusters) lives on in the child that took most of its members; the other children get new ids;
- then, for a theme without a substantial link (it shrank, or its members scattered), a cluster made
  of that theme's members for ``SUBSTANTIAL`` or more of its own (the theme's core) takes its id;
- last, for themes still without a link, e.g. with no members in this corpus, a cluster whose centroid
  has cosine >= ``MATCH_THRESHOLD`` (0.80) to it takes its id (the rule ids followed before member
  overlap was recorded).

Lineage records every substantial link as 'merge' (the child has two or more substantial parents),
'split' (the parent has two or more substantial children) or 'continue', and the two fallbacks as
'continue'; a cluster with no parent is 'new' (parent ''), a previous theme with no child 'retired'
(child ''). Themes whose id was not taken are retired in the warehouse (inactive), and their lineage
says what absorbed them, if anything. New ids derive from the cluster's most central member
(``new_theme_id``), so the same input always yields the same ids; should that id be taken, the next
most central member's is used.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

MATCH_THRESHOLD = 0.80
SUBSTANTIAL = 0.30


@dataclass(frozen=True)
class Link:
    """One lineage row: ``parent`` ('' for a new theme) became, or fed, ``child`` ('' when retired)."""

    parent: str
    child: str
    kind: str  # continue | merge | split | new | retired
    share: float  # of the parent's members that went to the child (new: of the child's members that
    # belonged to no previous theme; retired: of the parent's members now in no theme)


@dataclass(frozen=True)
class Identities:
    ids: list[str]  # theme id of each new cluster
    lineage: list[Link]


def reconcile(
    labels: np.ndarray,
    parents: np.ndarray,
    previous_ids: Sequence[str],
    centroids: np.ndarray,
    previous_centroids: np.ndarray | None,
    candidates: Sequence[Sequence[str]],
    substantial: float = SUBSTANTIAL,
    match_threshold: float = MATCH_THRESHOLD,
) -> Identities:
    """Ids and lineage for the clusters of a refit.

    ``labels[m]`` is the new cluster of mention ``m`` (negative: none), ``parents[m]`` the index into
    ``previous_ids`` of the theme it belonged to in the previous run (negative: none, or not seen).
    ``previous_centroids`` may be None (e.g. another embedding model): overlap alone then decides.
    ``candidates[i]`` lists cluster ``i``'s members, most central first, to derive a new id from.
    """
    k, p = len(centroids), len(previous_ids)
    labels, parents = np.asarray(labels, dtype=np.int64), np.asarray(parents, dtype=np.int64)
    both = (labels >= 0) & (parents >= 0)
    counts = np.bincount(labels[both] * p + parents[both], minlength=k * p).reshape(k, p)  # shared members
    parent_sizes = np.bincount(parents[parents >= 0], minlength=p)
    child_sizes = np.bincount(labels[labels >= 0], minlength=k)
    parent_share = counts / np.maximum(parent_sizes, 1)
    comparable = previous_centroids is not None and previous_centroids.shape[1:] == centroids.shape[1:]
    sims = centroids @ np.asarray(previous_centroids).T if comparable and k and p else np.zeros((k, p))
    linked = (parent_share >= substantial) & (counts > 0)

    ids: list[str | None] = [None] * k
    claimed: set[int] = set()
    strong = sorted(zip(*np.nonzero(linked), strict=True), key=lambda ij: (-counts[ij], -sims[ij], ij[0], ij[1]))
    unlinked = ~linked.any(axis=0)  # previous themes with no substantial child
    child_share = counts / np.maximum(child_sizes, 1)[:, None]
    core = sorted(
        zip(*np.nonzero((child_share >= substantial) & (counts > 0) & unlinked), strict=True),
        key=lambda ij: (-counts[ij], -sims[ij], ij[0], ij[1]),
    )
    close = sorted(zip(*np.nonzero((sims >= match_threshold) & unlinked), strict=True), key=lambda ij: (-sims[ij], *ij))
    for i, j in [*strong, *core, *close]:
        if ids[i] is None and j not in claimed:
            ids[i] = previous_ids[j]
            claimed.add(j)
    taken = set(previous_ids) | {known for known in ids if known}
    for i in sorted(range(k), key=lambda i: (candidates[i][0] if candidates[i] else "", i)):
        if ids[i] is None:
            ids[i] = _fresh_id(candidates[i], taken)
            taken.add(ids[i])
    final = [known or "" for known in ids]

    lineage: list[Link] = []
    parents_of = linked.sum(axis=1)
    children_of = linked.sum(axis=0)
    for i, j in sorted(zip(*np.nonzero(linked), strict=True)):
        kind = "merge" if parents_of[i] > 1 else "split" if children_of[j] > 1 else "continue"
        lineage.append(Link(previous_ids[j], final[i], kind, round(float(parent_share[i, j]), 6)))
    for j in sorted(claimed):
        i = final.index(previous_ids[j])
        if not linked[i, j]:  # the theme's core, or a centroid match
            lineage.append(Link(previous_ids[j], final[i], "continue", round(float(parent_share[i, j]), 6)))
    inherited = set(previous_ids)
    for i in range(k):
        if not parents_of[i] and final[i] not in inherited:
            fresh = 1.0 - counts[i].sum() / max(int(child_sizes[i]), 1)
            lineage.append(Link("", final[i], "new", round(float(fresh), 6)))
    for j in range(p):
        if not children_of[j] and j not in claimed:
            lost = 1.0 - counts[:, j].sum() / max(int(parent_sizes[j]), 1)
            lineage.append(Link(previous_ids[j], "", "retired", round(float(lost), 6)))
    return Identities(final, lineage)


def _fresh_id(candidates: Sequence[str], taken: set[str]) -> str:
    for anchor in candidates:
        theme_id = new_theme_id(anchor)
        if theme_id not in taken:
            return theme_id
    anchor = candidates[0] if candidates else "empty"
    n = 1
    while new_theme_id(f"{anchor}#{n}") in taken:
        n += 1
    return new_theme_id(f"{anchor}#{n}")


def match_themes(
    centroids: np.ndarray,
    previous: Mapping[str, np.ndarray],
    anchors: list[str],
    match_threshold: float = MATCH_THRESHOLD,
) -> list[str]:
    """Centroid matching alone (no member overlap): each new centroid takes the id of the most similar
    previous centroid with cosine >= ``match_threshold`` that no closer pair claimed, else a new id
    from ``anchors[i]``, cluster ``i``'s most central member."""
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
