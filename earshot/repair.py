"""``earshot doctor --repair``: bring back a warehouse whose write-ahead log cannot be replayed.

1. Under the writer lock, fold the log in from a child process (``warehouse.wal``): the logs DuckDB 1.5.5
   refuses on a plain open replay this way, and then nothing is lost.
2. Otherwise set the log aside (``<file>.wal.unreplayable-<time>``, kept for a bug report or a later DuckDB)
   and check that the last checkpoint opens.
3. Re-load from the landing zone every listen run the checkpoint lacks (``earshot replay --missing``).
4. Say what came back and what did not: mentions restored; items heard after the checkpoint whose payloads
   are gone (counted from the fetch outcomes kept under ``outcomes/``); and what the landing zone cannot
   give back, with the checkpoint's latest of each (derived tables, which the next run recomputes, and
   results entered by hand, which must be entered again).

Stop the scheduler first: a listen run loaded between the repair's steps would be re-ordered.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from earshot.paths import Paths
from earshot.replay import replay
from warehouse import wal
from warehouse.connection import held, reader

# What the landing zone cannot rebuild: (what, SQL for the checkpoint's latest, what to do about it).
_NOT_IN_LANDING = (
    ("themes runs", "SELECT max(finished_at) FROM runs WHERE stage = 'themes'",
     "recomputed by the next `earshot run --stage themes` (or the themes DAG)"),
    ("reports", "SELECT max(finished_at) FROM runs WHERE stage = 'report'",
     "written again by the next `earshot run --stage report`; files already written under reports/ are kept"),
    ("hypothesis results", "SELECT max(recorded_at) FROM hypothesis_results",
     "entered by hand: record again any result recorded after this (`earshot hypotheses record`)"),
    ("hypothesis status changes", "SELECT max(changed_at) FROM hypothesis_events",
     "made by hand after this must be made again (`earshot hypotheses set-status`)"),
    ("deliveries", "SELECT max(sent_at) FROM deliveries",
     "a report sent after this is not known as sent: `earshot deliver` would send it again"),
)  # fmt: skip


@dataclass
class RepairReport:
    db: Path
    action: str  # nothing | folded | rebuilt | failed
    detail: str = ""
    wal_kept: Path | None = None
    mentions_checkpoint: int = 0
    mentions_after: int = 0
    runs_replayed: int = 0
    unreadable: list[str] = field(default_factory=list)
    lost_items: int = 0
    lost_examples: list[str] = field(default_factory=list)
    not_restored: list[tuple[str, str, str]] = field(default_factory=list)  # (what, checkpoint's latest, to do)

    @property
    def mentions_restored(self) -> int:
        return self.mentions_after - self.mentions_checkpoint

    @property
    def ok(self) -> bool:
        return self.action in ("nothing", "folded", "rebuilt")


def repair(paths: Paths, at: datetime) -> RepairReport:
    """Fold the log in, or set it aside and rebuild from the landing zone; ``at`` stamps the kept log."""
    db = paths.warehouse
    if not db.exists():
        return RepairReport(db, "nothing", f"no warehouse at {db}: nothing to repair")
    with held(db):  # the writer lock: no task writes while the log is replayed or moved
        if not wal.has_wal(db):
            opened = wal.check(db)
            if opened.ok:
                return RepairReport(db, "nothing", f"{db} opens; no write-ahead log is waiting: nothing to repair")
            return RepairReport(db, "failed", f"{db} does not open ({opened.error}): `earshot restore` a backup")
        folded = wal.fold(db)
        if folded.ok:
            mentions = int(folded.facts.get("mentions", 0))
            return RepairReport(db, "folded", f"replayed {wal.wal_path(db).name} into {db.name}: nothing lost",
                                mentions_checkpoint=mentions, mentions_after=mentions)  # fmt: skip
        kept = wal.set_aside(db, at)
        checkpoint = wal.check(db)
        if not checkpoint.ok:
            detail = f"the last checkpoint of {db} does not open either ({checkpoint.error})"
            return RepairReport(db, "failed", f"{detail}: `earshot restore` a backup", wal_kept=kept)
    report = RepairReport(db, "rebuilt", f"{wal.wal_path(db).name} could not be replayed ({folded.error})", kept)
    report.mentions_checkpoint = int(checkpoint.facts.get("mentions", 0))
    totals = replay(paths, missing=True)  # migrates an older checkpoint first; touches listen tables only
    report.runs_replayed, report.unreadable = totals["runs"], totals["unreadable"]
    with reader(db) as con:
        report.not_restored = [
            (what, f"{latest.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC", todo)
            for what, sql, todo in _NOT_IN_LANDING
            if (latest := con.execute(sql).fetchone()[0]) is not None  # type: ignore[index]
        ]
        report.mentions_after = int(con.execute("SELECT count(*) FROM mentions").fetchone()[0])  # type: ignore[index]
        held_items = set(con.execute("SELECT source_id, item_id FROM mention_sources").fetchall())
    lost = [f"{source} {item}" for source, item in _heard(paths.outcomes) if (source, item) not in held_items]
    report.lost_items, report.lost_examples = len(lost), lost[:5]
    return report


def _heard(outcomes: Path) -> set[tuple[str, str]]:
    """Every (source, item) a fetch parsed in the runs whose outcomes are still kept (two weeks)."""
    heard: set[tuple[str, str]] = set()
    for path in outcomes.glob("*/*.mentions.jsonl.gz"):
        try:
            lines = gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()
        except (OSError, EOFError):
            continue  # a half-written outcome of a killed fetch: it was never loaded either
        for line in lines:
            if line.strip():
                row = json.loads(line)
                heard.add((row["source_id"], row["mention_id"]))
    return heard


def render(report: RepairReport) -> str:
    """What was done, what came back and what did not, for a person."""
    if report.action in ("nothing", "folded", "failed"):
        mark = {"nothing": "✓", "folded": "✓", "failed": "✗"}[report.action]
        lines = [f"{mark} {report.detail}"]
        if report.wal_kept:
            lines.append(f"  the log is kept at {report.wal_kept}")
        return "\n".join(lines)
    lines = [
        f"! {report.detail}",
        f"  set aside: {report.wal_kept}",
        f"  the last checkpoint held {report.mentions_checkpoint} mentions",
        f"✓ re-loaded {report.runs_replayed} listen run(s) from the landing zone: {report.mentions_restored} mentions "
        f"restored, {report.mentions_after} now",
    ]
    if report.lost_items or report.unreadable:
        lines.append(f"✗ {report.lost_items} item(s) heard after the checkpoint could not be restored (payloads gone):")
        lines += [f"    {example}" for example in report.lost_examples]
        lines += [f"    payload gone: {missing}" for missing in report.unreadable[:5]]
    else:
        lines.append("✓ 0 mentions lost: every item heard in the kept fetch outcomes is back")
    if report.not_restored:
        lines.append("  not in the landing zone (the checkpoint's latest; anything after it is gone):")
        width = max(len(what) for what, _, _ in report.not_restored)
        lines += [f"    {what.ljust(width)}  {latest}: {todo}" for what, latest, todo in report.not_restored]
    lines.append("  next: `earshot run --stage themes` then `earshot run --stage report` (or let the DAGs run)")
    return "\n".join(lines)
