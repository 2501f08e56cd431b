"""When a themes run reclusters everything (refit) and when it only assigns new mentions (assign).

Reclustering all history every day is slow past 10^5 mentions and reshuffles themes people are
following, so a run normally *assigns*: it keeps the themes, labels and centroids of the last refit,
carries the previous run's memberships forward, and places each mention no themes run has seen yet
in the nearest theme whose acceptance floor it clears (else it stays unassigned). A run *refits*
(reclusters everything, then keeps identities through ``models.identity.reconcile``) when the first
of these holds, checked in this order:

1. a refit was asked for (``earshot run --refit``);
2. there are no themes yet, or no refit has been recorded;
3. the embedding model changed since the last refit (its centroids mean nothing to the new vectors);
4. the clustering settings changed (their fingerprint differs from the last refit's, or is unknown);
5. ``themes.refit_every_days`` (7) or more days passed since the last refit (its logical time);
6. the corpus grew by ``themes.refit_growth`` (25 %) or more of the mentions the last refit saw;
7. drift: with at least ``themes.drift_min_mentions`` (50) new mentions, the share the assignment
   would leave unassigned exceeds the last refit's unassigned share by ``themes.drift_margin``
   (0.15) or more: new conversations the old themes do not describe.

Rules 1-6 need no vectors; rule 7 needs the assignment itself, so a caller decides once without the
measurement (``Facts.new_unassigned`` is None) and, when that says assign, measures and decides again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Mode = Literal["refit", "assign"]


@dataclass(frozen=True)
class LastRefit:
    """What the last refit recorded (a ``theme_fits`` row with mode 'refit')."""

    fitted_at: datetime  # the logical time of that run
    model: str
    fingerprint: str
    mentions: int
    unassigned_share: float


@dataclass(frozen=True)
class Facts:
    """What a run knows before choosing. ``new_unassigned`` is None until the assignment was measured."""

    run_at: datetime
    model: str
    fingerprint: str
    mentions: int  # embedded mentions now
    new_mentions: int  # of those, not yet seen by any themes run (or whose text changed)
    active_themes: int
    last_refit: LastRefit | None
    forced: bool = False
    new_unassigned: int | None = None


@dataclass(frozen=True)
class PolicySettings:
    refit_every_days: float = 7.0
    refit_growth: float = 0.25
    drift_margin: float = 0.15
    drift_min_mentions: int = 50


@dataclass(frozen=True)
class Decision:
    mode: Mode
    reason: str  # for people: "9 days since last refit (every 7)"

    def __str__(self) -> str:
        return f"{self.mode}: {self.reason}"


def decide(facts: Facts, settings: PolicySettings = PolicySettings()) -> Decision:
    """Refit or assign, with the reason (the first rule that applies, in the module's order)."""
    last = facts.last_refit
    if facts.forced:
        return Decision("refit", "refit requested")
    if facts.active_themes == 0:
        return Decision("refit", "no themes yet")
    if last is None:
        return Decision("refit", "no refit recorded yet")
    if last.model != facts.model:
        return Decision("refit", f"embedding model changed ({last.model} -> {facts.model})")
    if not last.fingerprint:
        return Decision("refit", "the last refit's clustering settings are unknown (recorded before fingerprints)")
    if last.fingerprint != facts.fingerprint:
        return Decision("refit", "clustering settings changed since the last refit")
    days = max(0.0, (facts.run_at - last.fitted_at).total_seconds() / 86400)
    if days >= settings.refit_every_days:
        return Decision("refit", f"{_days(days)} since last refit (every {settings.refit_every_days:g})")
    growth = (facts.mentions - last.mentions) / last.mentions if last.mentions else 0.0
    if growth >= settings.refit_growth:
        return Decision(
            "refit",
            f"corpus grew {_share(growth)} since last refit ({last.mentions} -> {facts.mentions} mentions; "
            f"refit at {_share(settings.refit_growth)})",
        )
    new = facts.new_mentions
    if facts.new_unassigned is not None and new >= settings.drift_min_mentions:
        share = facts.new_unassigned / new
        if share - last.unassigned_share >= settings.drift_margin:
            return Decision(
                "refit",
                f"drift: {_share(share)} of {new} new mentions fit no theme (last refit left "
                f"{_share(last.unassigned_share)} unassigned; margin {_share(settings.drift_margin)})",
            )
    summary = f"{_days(days)} since refit, {new} new mention{'' if new == 1 else 's'}"
    if facts.new_unassigned is not None and new:
        summary += f": {new - facts.new_unassigned} assigned"
    return Decision("assign", summary)


def fingerprint(settings: Mapping[str, Any]) -> str:
    """A short stable hash of clustering settings: a change in any of them calls for a refit."""
    text = json.dumps(dict(settings), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _days(days: float) -> str:
    whole = int(days)
    return f"{whole} day{'' if whole == 1 else 's'}"


def _share(value: float) -> str:
    return f"{value:.0%}"
