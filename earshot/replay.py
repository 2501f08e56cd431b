"""``earshot replay``: rebuild the mentions of a warehouse from the landing zone.

Every successful fetch left a manifest line (run, source configuration at the time, payload files,
cursor). Replay takes the last line per run and source (a retried fetch task wins), re-parses the
payloads with the same code the listen stage used, and commits run by run in the original order, so
mentions, provenance and cursors come out identical. Failed fetches are skipped: they committed
nothing. A fetch whose run was never loaded (a crash between fetch and load) is replayed too.

By default replay rebuilds an empty warehouse. ``missing=True`` (``earshot replay --missing``) loads
only the listen runs the warehouse does not hold: what a restored backup or a repaired warehouse (whose
write-ahead log was set aside) lost since its last checkpoint.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from pydantic import TypeAdapter

from earshot.config import Source
from earshot.listen import parse_payloads, source_row
from earshot.paths import Paths
from listeners.base import Payload
from listeners.landing import read_manifests, read_payload
from listeners.registry import listener_for
from warehouse.connection import writer
from warehouse.load import FetchRecord, record_fetches, record_run, sync_sources

REPLAYABLE = {"ok", "warning", "not_modified"}


class ReplayError(RuntimeError):
    """Replay was refused: without ``missing``, it only rebuilds an empty warehouse."""


def _runs(landing: Path) -> list[tuple[str, datetime, list[tuple[Path, dict[str, Any]]]]]:
    latest: dict[tuple[str, str], tuple[Path, dict[str, Any]]] = {}
    for folder, entry in sorted(read_manifests(landing), key=lambda item: item[1]["fetched_at"]):
        if entry["status"] in REPLAYABLE:
            latest[(entry["run_id"], entry["source"]["id"])] = (folder, entry)
    grouped: dict[str, list[tuple[Path, dict[str, Any]]]] = defaultdict(list)
    for (run_id, _), item in latest.items():
        grouped[run_id].append(item)
    runs = [(run_id, datetime.fromisoformat(items[0][1]["run_at"]), items) for run_id, items in grouped.items()]
    return sorted(runs, key=lambda run: (run[1], run[0]))


def _record(folder: Path, entry: dict[str, Any]) -> FetchRecord:
    source = TypeAdapter(Source).validate_python(entry["source"])
    payloads = [Payload(read_payload(folder / p["file"]), p["meta"]) for p in entry["payloads"]]
    mentions, _ = parse_payloads(source, listener_for(source.kind), payloads)
    return FetchRecord(
        source_id=source.id,
        status=entry["status"],
        fetched_at=datetime.fromisoformat(entry["fetched_at"]),
        http_status=entry.get("http_status"),
        cursor=entry.get("cursor"),
        warning=entry.get("warning"),
        landing_path=str(folder.parent),
        payloads=len(payloads),
        mentions=mentions,
    )


def replay(paths: Paths, missing: bool = False) -> dict[str, Any]:
    """Re-load listen runs from ``$EARSHOT_HOME/landing``: all of them into an empty warehouse, or (``missing``)
    those the warehouse does not hold. A fetch whose payload files are gone is skipped and listed."""
    with writer(paths.warehouse) as con:
        row = con.execute("SELECT count(*) FROM mentions").fetchone()
        if not missing and row and row[0]:
            raise ReplayError(
                f"replay rebuilds an empty warehouse, and {paths.warehouse} holds {row[0]} mentions; "
                "add --missing to load only the runs it lacks, or point EARSHOT_WAREHOUSE at a new file"
            )
        held = {run_id for (run_id,) in con.execute("SELECT run_id FROM runs WHERE stage = 'listen'").fetchall()}
    totals: dict[str, Any] = {"runs": 0, "fetches": 0, "items": 0, "held": 0, "unreadable": []}
    for run_id, run_at, items in _runs(paths.landing):
        if missing and run_id in held:
            totals["held"] += 1
            continue
        records, sources = [], []
        for folder, entry in items:
            try:
                records.append(_record(folder, entry))
            except FileNotFoundError as exc:  # a payload deleted from the landing zone: nothing to re-parse
                totals["unreadable"].append(f"run {run_id}, source {entry['source']['id']}: {exc.filename}")
                continue
            sources.append(TypeAdapter(Source).validate_python(entry["source"]))
        if not records:
            continue

        def run_row(
            con: duckdb.DuckDBPyConnection, counts: dict[str, int], run: tuple[str, datetime] = (run_id, run_at)
        ) -> None:
            record_run(con, run[0], "listen", run[1], datetime.now(UTC), "success", {**counts, "replayed": True})

        with writer(paths.warehouse) as con:
            sync_sources(con, [source_row(s) for s in sources], disable_others=False)
            counts = record_fetches(con, run_id, run_at, records, then=run_row)
        totals["runs"] += 1
        totals["fetches"] += len(records)
        totals["items"] += counts["items"]
    return totals
