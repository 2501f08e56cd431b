"""When a report is worth writing: never on empty data, and on theme news between the weekly runs.

The report DAG runs weekly *or* when the ``earshot://warehouse/themes`` asset is updated. The themes DAG
updates that asset only when the theme landscape changed (:func:`theme_news`), not after every listen
cycle, so a report between two weekly ones means something happened. Either way the report is skipped,
with the reason in the task log, while there is nothing to report (:func:`nothing_to_report`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any


def nothing_to_report(db: Path, at: datetime) -> str | None:
    """Why a report as of ``at`` would be empty (no warehouse, no mention heard by then, no themes yet);
    ``None`` when there is something to report."""
    from warehouse.connection import reader

    if not db.exists():
        return f"no warehouse at {db} yet: nothing has been heard (earshot_listen runs first)"
    with reader(db) as con:
        (heard,) = con.execute("SELECT count(*) FROM mentions WHERE first_seen_at <= ?", [at]).fetchone()
        (themed,) = con.execute(
            "SELECT count(*) FROM runs WHERE stage = 'themes' AND status = 'success' AND started_at <= ?", [at]
        ).fetchone()
    if not heard:
        return f"no mention heard by {at:%Y-%m-%d %H:%M} UTC: nothing to report (earshot_listen runs first)"
    if not themed:
        return f"{heard} mentions heard, but no themes run finished by {at:%Y-%m-%d %H:%M} UTC (earshot_themes first)"
    return None


def theme_news(cluster: dict[str, Any], hypotheses: dict[str, Any]) -> str | None:
    """What changed in the theme landscape in one themes run, in words; ``None`` when nothing did.

    News: a theme appeared, merged, split or retired (the run's lineage), or a hypothesis was proposed or
    changed status. Mentions assigned to the themes that already exist are not news.
    """
    lineage = {kind: count for kind, count in (cluster.get("lineage") or {}).items() if kind != "continue" and count}
    news = [f"themes {kind}: {count}" for kind, count in sorted(lineage.items())]
    if hypotheses.get("proposed"):
        news.append(f"{len(hypotheses['proposed'])} hypotheses proposed")
    if hypotheses.get("status_changes"):
        news.append(f"{len(hypotheses['status_changes'])} hypotheses changed status")
    return "; ".join(news) or None
