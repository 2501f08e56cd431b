"""``earshot``: run the pipeline without a scheduler, start the offline demo, write a starter plan."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from earshot.config import ConfigError
from earshot.paths import HomeError
from earshot.settings import SettingsError
from warehouse.errors import WarehouseBusyError, WarehouseDamagedError

STAGES = ("listen", "themes", "report")
CONFIG_HELP = "listening plan (default: $EARSHOT_CONFIG or ./market.yaml)"

COMMAND_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Run the pipeline", ("run", "sources", "deliver", "replay")),
    ("Hypotheses and sales briefs", ("hypotheses",)),
    ("Analysts", ("sql", "export", "snapshot", "dictionary")),
    ("Airflow and operations", ("airflow", "doctor", "backup", "restore", "demo", "init")),
    ("Measure and tune", ("eval-themes", "eval-signals", "export-onnx")),
)
"""How ``earshot --help`` groups the commands: add a new command's name to its group here."""

EXAMPLES = """examples:
  earshot init market.yaml                     a commented starter listening plan
  earshot run --config market.yaml             listen, themes, report, without a scheduler
  earshot sources --json                       source health for a script or a dashboard
  earshot hypotheses list                      what to test first, ranked, with reasons
  earshot sql "SELECT * FROM theme_trends WHERE emerging"
  earshot airflow --port 8080                  the pipeline on a schedule, with Airflow's UI

Settings come from the environment: EARSHOT_HOME (data folder, default ./data), EARSHOT_CONFIG (the plan,
default ./market.yaml) and the others listed in the README. Exit status: 0 ok, 2 configuration or usage
error, 3 the run finished but a source or a delivery failed, 4 a source is failing."""


def _use_config(args: argparse.Namespace) -> None:
    """``--config`` wins over ``EARSHOT_CONFIG``, here and in every process this one starts."""
    if args.config:
        os.environ["EARSHOT_CONFIG"] = str(Path(args.config).resolve())


def _print_listen(summary: dict[str, Any]) -> None:
    print(
        f"listen: {summary['sources']} sources, {summary['items']} items ({summary['new']} new, "
        f"{summary['merged']} heard elsewhere too), {summary['failed']} failed"
    )
    for source_id, error in sorted(summary.get("errors", {}).items()):
        print(f"  ! {source_id}: {error}", file=sys.stderr)


def _failing(db: Path) -> list[tuple[str, int, str | None]]:
    from warehouse.connection import reader

    with reader(db) as con:
        rows = con.execute(
            "SELECT source_id, consecutive_failures, last_error FROM source_health "
            "WHERE enabled AND status = 'failing' ORDER BY 1"
        ).fetchall()
    return rows


def _warn_failing(db: Path) -> int:
    """Print every failing source to stderr; return how many there are."""
    failing = _failing(db)
    for source_id, failures, error in failing:
        print(f"FAILING: {source_id} has failed {failures} runs in a row; last error: {error}", file=sys.stderr)
    return len(failing)


SOURCE_FIELDS = ("source_id", "kind", "audience", "status", "items_last_run", "items_total", "consecutive_failures",
                 "last_success_at", "last_error_kind", "last_error")  # fmt: skip


def source_health(db: Path, config: Path | None) -> list[dict[str, Any]]:
    """Each enabled source's health from the warehouse, plus the plan's sources it has not heard yet
    (status ``never fetched``) when a plan is given; failing sources first."""
    from earshot.config import load_market
    from warehouse.connection import reader

    rows: list[dict[str, Any]] = []
    if db.exists():
        with reader(db) as con:
            found = con.execute(f"SELECT {', '.join(SOURCE_FIELDS)} FROM source_health WHERE enabled").fetchall()
        rows = [dict(zip(SOURCE_FIELDS, row, strict=True)) for row in found]
    if config is not None:
        known = {row["source_id"] for row in rows}
        rows += [
            {**dict.fromkeys(SOURCE_FIELDS), "source_id": s.id, "kind": s.kind, "audience": s.audience.value,
             "status": "never fetched", "items_last_run": 0, "items_total": 0, "consecutive_failures": 0}
            for s in load_market(config, fetching=False).enabled_sources
            if s.id not in known
        ]  # fmt: skip
    return sorted(rows, key=lambda row: (row["status"] != "failing", row["source_id"]))


def cmd_sources(args: argparse.Namespace) -> int:
    """Source health: what each source yielded, when it last worked, and what went wrong."""
    import json

    from earshot.paths import Paths, config_path

    db = Paths.from_env().warehouse
    config = Path(args.config).resolve() if args.config else config_path()
    if not args.config and not config.exists():
        config = None  # no plan here: the warehouse's sources only
    if not db.exists() and config is None:
        print(f"earshot sources: no warehouse at {db} and no listening plan: run `earshot run` first", file=sys.stderr)
        return 1
    rows = source_health(db, config)
    failing = sum(row["status"] == "failing" for row in rows)
    if args.json:
        print(json.dumps(rows, indent=1, default=lambda value: value.isoformat(), ensure_ascii=False))
        return 4 if failing else 0
    header = ("source", "kind", "audience", "status", "last run", "total", "fails", "last success", "last error")
    table = [header]
    for row in rows:
        success = f"{row['last_success_at']:%Y-%m-%d %H:%M}" if row["last_success_at"] else ""
        cells = ("" if row[key] is None else str(row[key]) for key in SOURCE_FIELDS[:7])
        table.append((*cells, success, row["last_error_kind"] or ""))
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    return 4 if db.exists() and _warn_failing(db) else 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run stages in-process: the same task code the DAGs call."""
    from earshot import hypotheses, listen, report, themes, trends
    from earshot.runs import RunContext

    _use_config(args)
    ctx = RunContext.create()
    stages = STAGES if args.stage == "all" else (args.stage,)
    failed_sources = 0
    if "listen" in stages:
        summary = listen.listen(ctx, workers=args.workers)
        failed_sources = summary["failed"]
        _print_listen(summary)
        _warn_failing(ctx.paths.warehouse)
    if "themes" in stages:
        embedded = themes.embed(ctx)
        themes.signals(ctx)
        clustered = themes.cluster(ctx, refit=args.refit)
        print(
            f"themes: {clustered['mode']} ({clustered['reason']}); {clustered['themes']} themes over "
            f"{clustered['mentions']} mentions, {clustered['noise_share']:.0%} unassigned; "
            f"embedded {embedded['embedded']} new texts with {embedded['model']}"
        )
        snapshot = trends.snapshot(ctx)
        emerging = ", ".join(e["label"] for e in snapshot.get("emerging", [])) or "none"
        print(f"trends: {snapshot.get('snapshots', 0)} theme × audience snapshots; emerging: {emerging}")
        proposed = hypotheses.propose_and_measure(ctx)
        print(f"hypotheses: {_brief_counts(proposed)}")
    failed_deliveries = 0
    empty = None
    if "report" in stages:
        from earshot.report_triggers import nothing_to_report

        empty = nothing_to_report(ctx.paths.warehouse, ctx.run_at)
        if empty:
            print(f"report: skipped: {empty}")
    if "report" in stages and not empty:
        from earshot import delivery
        from warehouse.analyst import refresh_snapshot

        written = report.report(ctx)
        print(f"report: {written['html']} (archive: {written['index']})")
        for brief in written.get("briefs", []):
            print(f"sales brief: {brief}")
        analyst = refresh_snapshot(ctx.paths.warehouse)
        print(f"analyst snapshot: {analyst.path}")
        try:
            sent = delivery.deliver(ctx, written["html"], written["markdown"], written)
            if sent.get("configured"):
                print(f"delivery: {sent['sent']} sent, {sent['already_sent']} already sent")
        except delivery.DeliveryFailed as exc:
            failed_deliveries = len(exc.summary["failures"])
            print(f"earshot: {exc} (kept in the outbox: `earshot deliver` retries)", file=sys.stderr)
    return 3 if failed_sources or failed_deliveries else 0


def _brief_counts(summary: dict) -> str:
    """The hypotheses stage's counts as one line (whatever counts it reports)."""
    counts = [f"{value} {key.replace('_', ' ')}" for key, value in summary.items() if isinstance(value, int)]
    return ", ".join(counts) or "nothing to do"


def cmd_replay(args: argparse.Namespace) -> int:
    """Rebuild the mentions of an empty warehouse from the landing zone."""
    from earshot.paths import Paths
    from earshot.replay import ReplayError, replay

    try:
        totals = replay(Paths.from_env().ensure(), missing=args.missing)
    except ReplayError as exc:
        print(f"earshot replay: {exc}", file=sys.stderr)
        return 1
    held = f"; {totals['held']} runs already held" if args.missing else ""
    print(f"replay: {totals['runs']} runs, {totals['fetches']} fetches, {totals['items']} items re-loaded{held}")
    for missing in totals["unreadable"]:
        print(f"  ! payload gone, not re-loaded: {missing}", file=sys.stderr)
    return 1 if totals["unreadable"] else 0


def cmd_eval_themes(args: argparse.Namespace) -> int:
    """Theme quality on a labelled corpus (and BERTopic's, side by side, with --against bertopic)."""
    from earshot import eval_themes
    from earshot.paths import Paths

    cache = Paths.from_env().home / "cache" / "embeddings"
    try:
        rows = eval_themes.run(Path(args.corpus), cache, args.model, args.against, stability=not args.no_stability)
    except (ValueError, RuntimeError) as exc:
        print(f"earshot eval-themes: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(eval_themes.as_json(Path(args.corpus), rows))
    else:
        print(eval_themes.format_rows(Path(args.corpus).stem, rows))
    return 0


def cmd_eval_signals(args: argparse.Namespace) -> int:
    """Sentiment and intent signals against a hand-labelled JSONL corpus."""
    from earshot import eval_signals

    try:
        result = eval_signals.evaluate(Path(args.corpus), competitors=args.competitor)
    except ValueError as exc:
        print(f"earshot eval-signals: {exc}", file=sys.stderr)
        return 2
    print(eval_signals.as_json(result) if args.json else eval_signals.format_report(result))
    return 0


def cmd_export_onnx(args: argparse.Namespace) -> int:
    """Export the embedding model to ONNX (int8 by default), offline, for `themes.backend: onnx`."""
    import json

    from models.embedding_onnx import DESCRIPTOR, export_onnx

    if args.out:
        target = Path(args.out)
    else:
        from earshot.paths import Paths

        target = Paths.from_env().home / "models" / ("onnx-fp32" if args.fp32 else "onnx-int8")
    path = export_onnx(target, model=args.model, quantize=not args.fp32)
    print(f"exported {path}; set themes.backend: onnx (and themes.onnx_path: {target} if not the default)")
    quantization = json.loads((target / DESCRIPTOR).read_text()).get("quantization")
    if quantization:
        print(
            f"int8 vs fp32 on the probe texts: mean cosine {quantization['probe_mean_cosine']}, "
            f"min {quantization['probe_min_cosine']}"
        )
        if not quantization["meets_min_cosine"]:
            print("warning: no int8 variant reached mean cosine 0.99; kept the closest, or export with --fp32")
    return 0


def cmd_deliver(args: argparse.Namespace) -> int:
    """Deliver a written report (default: the latest) to targets it has not reached yet."""
    from earshot.delivery import DeliveryFailed, deliver_run

    _use_config(args)
    try:
        result = deliver_run(args.run_id)
    except (LookupError, FileNotFoundError) as exc:  # no such report, no warehouse, report file gone
        print(f"earshot deliver: {exc}", file=sys.stderr)
        return 1
    except DeliveryFailed as exc:
        result = exc.summary
    if not result["configured"]:
        print(result["message"])
        return 0
    print(
        f"deliver {result['run_id']}: {result['sent']} sent, {result['already_sent']} sent before, "
        f"{result['failed']} failed"
    )
    for failure in result["failures"]:
        print(f"  ! {failure}", file=sys.stderr)
    return 3 if result["failed"] else 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Serve the bundled demo market on 127.0.0.1 and run the three DAGs through real Airflow."""
    from earshot.demo.pipeline import run_demo
    from earshot.settings import settings

    return run_demo(Path(args.home or settings().demo_home).resolve())


def cmd_init(args: argparse.Namespace) -> int:
    target = Path(args.path)
    if target.exists() and not args.force:
        print(f"{target} already exists; use --force to overwrite it", file=sys.stderr)
        return 1
    starter = resources.files("earshot") / "starter_market.yaml"
    with resources.as_file(starter) as source:
        shutil.copyfile(source, target)
    print(f"wrote {target}: describe your company, audiences and sources, then `earshot run`")
    return 0


def _hypotheses_failed(exc: Exception) -> int:
    print(f"earshot hypotheses: {exc}", file=sys.stderr)
    return 2


def cmd_hypotheses_list(args: argparse.Namespace) -> int:
    """Hypotheses to test first (ranked), under test, validated, then the rest."""
    import json

    from earshot.hypotheses import HypothesisError, format_list, read_hypotheses
    from earshot.paths import Paths

    try:
        views = read_hypotheses(Paths.from_env().warehouse, status=args.status)
    except HypothesisError as exc:
        return _hypotheses_failed(exc)
    print(json.dumps([v.as_json() for v in views], indent=1, ensure_ascii=False) if args.json else format_list(views))
    return 0


def cmd_hypotheses_show(args: argparse.Namespace) -> int:
    """One hypothesis: evidence, baseline and series, test plan, criteria, results, history, quotes."""
    import json

    from earshot.hypotheses import HypothesisError, format_view, read_hypotheses
    from earshot.paths import Paths

    try:
        (view,) = read_hypotheses(Paths.from_env().warehouse, hypothesis=args.id)
    except HypothesisError as exc:
        return _hypotheses_failed(exc)
    print(json.dumps(view.as_json(), indent=1, ensure_ascii=False) if args.json else format_view(view))
    return 0


def _hypotheses_writer() -> Any:
    from earshot.hypotheses import HypothesisError
    from earshot.paths import Paths
    from warehouse.connection import writer

    db = Paths.from_env().warehouse
    if not db.exists():
        raise HypothesisError(f"no warehouse at {db}: run `earshot run` first")
    return writer(db)


def cmd_hypotheses_record(args: argparse.Namespace) -> int:
    """Record a test marketing ran; the verdict follows the hypothesis's success criteria."""
    from datetime import UTC, datetime

    from earshot.hypotheses import HypothesisError, record_result

    try:
        with _hypotheses_writer() as con:
            outcome = record_result(
                con, args.id, kind=args.kind, metric=args.metric, value=args.value, sample=args.sample,
                control=args.control, control_sample=args.control_sample, recorded_by=args.by, note=args.note,
                at=datetime.now(UTC), source="cli",
            )  # fmt: skip
    except HypothesisError as exc:
        return _hypotheses_failed(exc)
    print(f"recorded {outcome.result_id} for {outcome.hypothesis_id}: {outcome.verdict}: {outcome.verdict_why}")
    moved = f"{outcome.status_before} → {outcome.status_after}" if outcome.status_before != outcome.status_after else ""
    print(f"status: {moved or outcome.status_after}" + (f" ({outcome.status_why})" if outcome.status_why else ""))
    return 0


def cmd_hypotheses_set_status(args: argparse.Namespace) -> int:
    """Change a status by hand; kept in the history with who and why."""
    from datetime import UTC, datetime

    from earshot.hypotheses import HypothesisError, set_status

    try:
        with _hypotheses_writer() as con:
            event = set_status(con, args.id, args.status, by=args.by, why=args.why, at=datetime.now(UTC))
    except HypothesisError as exc:
        return _hypotheses_failed(exc)
    if event is None:
        print(f"{args.id}: already {args.status}; nothing changed")
    else:
        print(f"{args.id}: {event.from_status} → {event.to_status} (by {event.by}: {event.why})")
    return 0


def cmd_hypotheses_brief(args: argparse.Namespace) -> int:
    """Write the sales brief of a validated hypothesis (HTML, Markdown, CSV, JSON) and record the hand-off."""
    from datetime import UTC, datetime

    from earshot.briefs import BriefError, write_brief
    from earshot.config import load_market
    from earshot.hypotheses import HypothesisError
    from earshot.paths import Paths, config_path

    paths = Paths.from_env()
    market = load_market(Path(args.config) if args.config else config_path(), fetching=False)
    try:
        written = write_brief(paths.warehouse, paths.reports, args.id, market, at=datetime.now(UTC), by=args.by,
                              out=Path(args.out) if args.out else None)  # fmt: skip
    except (BriefError, HypothesisError) as exc:
        return _hypotheses_failed(exc)
    done = "handed off to sales" if written.handed_off_now else "already handed off; brief rewritten"
    print(f"{written.hypothesis_id}: {done}")
    for path in (written.html, written.markdown, written.csv, written.json):
        print(f"  {path}")
    return 0


def cmd_airflow(args: argparse.Namespace) -> int:
    """Airflow on this machine (``airflow standalone``) with earshot's DAGs and pool."""
    from earshot.standalone import run_standalone

    _use_config(args)
    return run_standalone(port=args.port, host=args.host, workers=args.workers)


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check the installation; exit 1 when any check failed. ``--repair``: repair the warehouse instead."""
    from earshot.doctor import FAIL, render, run_checks

    _use_config(args)
    if args.repair:
        from datetime import UTC, datetime

        from earshot import repair
        from earshot.paths import Paths

        report = repair.repair(Paths.from_env().ensure(), at=datetime.now(UTC))
        print(repair.render(report))
        return 0 if report.ok and not report.lost_items else 1
    checks = run_checks(probe_sources=not args.offline, load_model=not args.quick, timeout=args.timeout)
    print(render(checks))
    return 1 if any(c.status == FAIL for c in checks) else 0


def cmd_backup(args: argparse.Namespace) -> int:
    """Take a consistent backup of the warehouse beside it, keeping the newest N (or list them)."""
    import json
    from datetime import UTC, datetime

    from earshot.paths import Paths
    from warehouse.backup import BackupError, create, list_backups

    db = Paths.from_env().warehouse
    folder = Path(args.dir) if args.dir else None
    try:
        if args.list:
            backups = list_backups(db, folder)
            if args.json:
                print(json.dumps([b.as_json() for b in backups], indent=1))
            for b in [] if args.json else backups:
                print(f"{b.path}  {b.created_at:%Y-%m-%d %H:%M:%S} UTC  {b.bytes / 1e6:.1f} MB  "
                      f"schema {b.schema_version}  {b.mentions} mentions")  # fmt: skip
            return 0
        from earshot.settings import settings

        keep = args.keep or settings().backup_keep
        backup = create(db, at=datetime.now(UTC), keep=keep, folder=folder)
    except BackupError as exc:
        print(f"earshot backup: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(backup.as_json()))
    else:
        print(f"backup: {backup.path} ({backup.bytes / 1e6:.1f} MB, schema {backup.schema_version}, "
              f"{backup.mentions} mentions); keeping the newest {keep}")  # fmt: skip
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Put a backup in place of the warehouse (the replaced file is kept), then re-load newer listen runs."""
    from datetime import UTC, datetime

    from earshot.paths import Paths
    from earshot.replay import replay
    from warehouse.backup import BackupError, restore

    paths = Paths.from_env().ensure()
    try:
        restored = restore(paths.warehouse, at=datetime.now(UTC), name=args.backup,
                           folder=Path(args.dir) if args.dir else None)  # fmt: skip
    except BackupError as exc:
        print(f"earshot restore: {exc}", file=sys.stderr)
        return 1
    print(f"restored {restored.backup.path} (taken {restored.backup.created_at:%Y-%m-%d %H:%M:%S} UTC) "
          f"to {paths.warehouse}")  # fmt: skip
    if restored.replaced:
        print(f"  the file it replaced is kept at {restored.replaced}")
    if args.no_replay:
        print("  listen runs newer than the backup are not re-loaded: `earshot replay --missing` does it")
        return 0
    totals = replay(paths, missing=True)
    print(f"replay: {totals['runs']} newer listen run(s) re-loaded from the landing zone ({totals['items']} items); "
          "the next `earshot run` recomputes themes and the report")  # fmt: skip
    for missing in totals["unreadable"]:
        print(f"  ! payload gone, not re-loaded: {missing}", file=sys.stderr)
    return 1 if totals["unreadable"] else 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    """Refresh the analysts' read-only copy (with search indexes)."""
    from earshot.paths import Paths
    from warehouse.analyst import refresh_snapshot

    summary = refresh_snapshot(Paths.from_env().warehouse)
    print(f"analyst snapshot: {summary.path} ({summary.mentions} mentions full-text indexed, "
          f"{summary.vectors} vectors in the HNSW index, model {summary.model or '-'})")  # fmt: skip
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Tables or views to Parquet, read from the analysts' snapshot (never blocks the pipeline)."""
    from earshot.paths import Paths
    from warehouse.analyst import open_snapshot, snapshot_path
    from warehouse.export import export_parquet, relations

    con = open_snapshot(snapshot_path(Paths.from_env().warehouse))
    try:
        names = args.tables or relations(con)
        try:
            written = export_parquet(con, names, Path(args.to))
        except ValueError as exc:
            print(f"earshot export: {exc}", file=sys.stderr)
            return 2
    finally:
        con.close()
    for name, rows in written.items():
        print(f"{Path(args.to) / (name + '.parquet')}  {rows} rows")
    return 0


def cmd_dictionary(args: argparse.Namespace) -> int:
    """The data dictionary, from the database's own comments."""
    import duckdb

    from warehouse.dictionary import data_dictionary
    from warehouse.migrate import migrate

    con = duckdb.connect()  # a fresh in-memory warehouse at the current schema: no data needed
    try:
        migrate(con)
        text = data_dictionary(con)
    finally:
        con.close()
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    """Run SQL on the analysts' snapshot (read-only, fts and vss loaded) and print the result."""
    import duckdb

    from earshot.paths import Paths
    from warehouse.analyst import open_snapshot, snapshot_path

    con = open_snapshot(snapshot_path(Paths.from_env().warehouse))
    try:
        relation = con.sql(args.query)
        if relation is None:
            return 0
        if args.csv:
            from reports.safe_csv import write_csv

            write_csv(sys.stdout, relation.columns, relation.fetchall())
        else:
            relation.show(max_rows=args.limit, max_width=200)
    except duckdb.Error as exc:
        print(f"earshot sql: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    finally:
        con.close()
    return 0


def _version() -> str:
    try:
        return metadata.version("earshot")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        return "unknown"


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def _command(sub: Any, name: str, summary: str, *examples: str, home: bool = True) -> argparse.ArgumentParser:
    """A subcommand with its one-line summary and examples; ``home=False`` for commands that never touch
    ``$EARSHOT_HOME`` (its check is skipped for them)."""
    parser = sub.add_parser(
        name,
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        epilog=_examples(*examples) if examples else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(needs_home=home)
    return parser


def _grouped(sub: Any) -> str:
    """The commands, by :data:`COMMAND_GROUPS`, each with its summary."""
    summaries = {action.dest: action.help for action in sub._choices_actions}
    width = max(len(name) for name in summaries) + 2
    blocks = []
    for title, names in COMMAND_GROUPS:
        lines = [f"  {name.ljust(width)}{summaries[name]}" for name in names]
        blocks.append(f"{title.lower()}:\n" + "\n".join(lines))
    return "\n\n".join(blocks)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="earshot",
        usage="earshot [-h] [--version] [-v | -q] COMMAND [options]",
        description="Market listening: hear customers, their customers and influencers; find themes;\n"
        "test hypotheses against a baseline; hand what holds to sales.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"earshot {_version()}", help="print the version")
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-v", "--verbose", action="store_true", help="what each stage did, on stderr (INFO)")
    loudness.add_argument("-q", "--quiet", action="store_true", help="errors only on stderr, no progress")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands", prog="earshot")
    _add_commands(sub)
    unlisted = {action.dest for action in sub._choices_actions} - {n for _, names in COMMAND_GROUPS for n in names}
    if unlisted:
        raise AssertionError(f"commands missing from COMMAND_GROUPS: {sorted(unlisted)}")
    parser.epilog = _grouped(sub) + "\n\n" + EXAMPLES
    sub.help = argparse.SUPPRESS  # listed by group in the epilog instead
    return parser


def _add_commands(sub: Any) -> None:
    run = _command(sub, "run", "run pipeline stages now, without Airflow", "earshot run --config market.yaml",
                   "earshot run --stage listen", "earshot run --stage themes --refit")  # fmt: skip
    run.add_argument("--config", help=CONFIG_HELP)
    run.add_argument("--stage", choices=(*STAGES, "all"), default="all", help="one stage, or all of them (default)")
    run.add_argument("--workers", type=int, default=8, help="sources fetched in parallel (default 8)")
    run.add_argument(
        "--refit", action="store_true", help="recluster every mention now instead of assigning new ones to themes"
    )
    run.set_defaults(func=cmd_run)

    sources = _command(sub, "sources", "source health: last success, errors, items per run",
                       "earshot sources", "earshot sources --config market.yaml --json")  # fmt: skip
    sources.add_argument("--config", help=CONFIG_HELP + "; its sources not heard yet are listed too")
    sources.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sources.set_defaults(func=cmd_sources)

    replay = _command(sub, "replay", "rebuild an empty warehouse's mentions from the landing zone",
                      "EARSHOT_WAREHOUSE=new.duckdb earshot replay", "earshot replay --missing")  # fmt: skip
    replay.add_argument("--config", help="not needed: each source's settings are read from the landing zone")
    replay.add_argument(
        "--missing", action="store_true", help="load only the runs the warehouse lacks (after a restore or repair)"
    )
    replay.set_defaults(func=cmd_replay)

    evaluate = _command(sub, "eval-themes", "theme quality on a labelled JSONL corpus",
                        "earshot eval-themes corpus.jsonl --against bertopic")  # fmt: skip
    evaluate.add_argument("corpus", help='JSON lines: {"id", "text", "label"}')
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a table")
    evaluate.add_argument("--against", choices=("bertopic",), help="run BERTopic's default pipeline too")
    evaluate.add_argument("--model", default="default", help="embedding model (default: packaged MiniLM)")
    evaluate.add_argument("--no-stability", action="store_true", help="skip the shuffled re-run")
    evaluate.set_defaults(func=cmd_eval_themes)

    signals = _command(sub, "eval-signals", "sentiment and intent accuracy on a labelled JSONL corpus",
                       "earshot eval-signals labelled.jsonl --competitor Acme", home=False)  # fmt: skip
    signals.add_argument("corpus", help='JSON lines: {"text", "label"}; label = a sentiment or an intent name')
    signals.add_argument("--json", action="store_true", help="print JSON instead of a report")
    signals.add_argument("--competitor", action="append", default=[], metavar="NAME", help="a competitor name")
    signals.set_defaults(func=cmd_eval_signals)

    export = _command(sub, "export-onnx", "export the embedding model to ONNX int8 for themes.backend: onnx",
                      "earshot export-onnx", "earshot export-onnx --fp32 --out models/onnx-fp32")  # fmt: skip
    export.add_argument("--out", help="folder (default: $EARSHOT_HOME/models/onnx-int8)")
    export.add_argument("--model", default="default", help="sentence-transformers name or path (default: packaged)")
    export.add_argument("--fp32", action="store_true", help="skip int8 quantization (exact, slower)")
    export.set_defaults(func=cmd_export_onnx)

    deliver = _command(sub, "deliver", "send a written report by e-mail or webhook (retries what failed)",
                       "earshot deliver", "earshot deliver manual__2026-03-02T07:00:00+00:00")  # fmt: skip
    deliver.add_argument("run_id", nargs="?", metavar="RUN_ID", help="the report's run (default: the latest report)")
    deliver.add_argument("--config", help=CONFIG_HELP)
    deliver.set_defaults(func=cmd_deliver)

    demo = _command(sub, "demo", "run the whole pipeline offline on the bundled demo market",
                    "earshot demo", "earshot demo --home /tmp/earshot-demo", home=False)  # fmt: skip
    demo.add_argument("--home", help="data folder for the demo (default: $EARSHOT_DEMO_HOME or data/demo)")
    demo.set_defaults(func=cmd_demo)

    hypotheses = _command(sub, "hypotheses", "hypotheses from the evidence: list, show, record results, briefs",
                          "earshot hypotheses list", "earshot hypotheses show h_ab9a037f70",
                          "earshot hypotheses record h_ab9a037f70 --kind message_test --metric reply_rate "
                          "--value 38/400 --control 14/400 --by dana",
                          "earshot hypotheses brief h_ab9a037f70")  # fmt: skip
    hyp = hypotheses.add_subparsers(dest="action", required=True, metavar="ACTION", title="actions")
    listing = hyp.add_parser("list", help="to test first (ranked), under test, validated, the rest")
    listing.add_argument(
        "--status",
        choices=("proposed", "testing", "validated", "rejected", "expired", "handed_off"),
        help="only hypotheses with this status",
    )
    listing.add_argument("--json", action="store_true", help="print JSON (evidence, baseline, series, results...)")
    listing.set_defaults(func=cmd_hypotheses_list)
    show = hyp.add_parser("show", help="one hypothesis in full")
    show.add_argument("id", help="hypothesis id (or a unique prefix of it)")
    show.add_argument("--json", action="store_true", help="print JSON instead of text")
    show.set_defaults(func=cmd_hypotheses_show)
    record = hyp.add_parser("record", help="record the result of a test you ran; the verdict follows the criteria")
    record.add_argument("id", help="hypothesis id (or a unique prefix of it)")
    record.add_argument(
        "--kind", required=True, choices=("message_test", "survey", "content", "interview"), help="what kind of test"
    )
    record.add_argument("--metric", required=True, help="what was measured: reply_rate, click_rate, agree ...")
    record.add_argument("--value", required=True, help="the rate or share: 0.052, 5.2%% or 21/400 (gives the sample)")
    record.add_argument("--sample", type=int, help="how many were reached or asked")
    record.add_argument("--control", help="the control group's rate (message test, content): 0.031, 3.1%% or 12/400")
    record.add_argument("--control-sample", type=int, help="the control group's size (default: --sample)")
    record.add_argument("--by", required=True, help="who ran or recorded the test")
    record.add_argument("--note", default="", help="anything worth keeping with the result")
    record.set_defaults(func=cmd_hypotheses_record)
    status = hyp.add_parser("set-status", help="change a status by hand (kept in the history)")
    status.add_argument("id", help="hypothesis id (or a unique prefix of it)")
    status.add_argument(
        "status", choices=("proposed", "testing", "validated", "rejected", "expired"), help="the new status"
    )
    status.add_argument("--by", required=True, help="who decides")
    status.add_argument("--why", required=True, help="why, in words (kept in the history)")
    status.set_defaults(func=cmd_hypotheses_set_status)
    brief = hyp.add_parser("brief", help="sales brief of a validated hypothesis (HTML, MD, CSV, JSON); hands it off")
    brief.add_argument("id", help="hypothesis id (or a unique prefix of it)")
    brief.add_argument("--out", help="folder for the files (default: $EARSHOT_HOME/reports/briefs/<hypothesis id>)")
    brief.add_argument("--by", default="earshot", help="who hands it off to sales (kept in the status history)")
    brief.add_argument("--config", help=CONFIG_HELP + "; its feed URLs are not needed")
    brief.set_defaults(func=cmd_hypotheses_brief)

    airflow = _command(sub, "airflow", "Airflow on this machine (airflow standalone) with earshot's DAGs",
                       "earshot airflow", "earshot airflow --port 9090 --host 0.0.0.0 --workers 4")  # fmt: skip
    airflow.add_argument("--port", type=int, default=8080, help="UI and REST API port (default 8080)")
    airflow.add_argument(
        "--host", default="127.0.0.1", help="address the UI listens on (default 127.0.0.1: this machine only)"
    )
    airflow.add_argument("--workers", type=int, help="tasks run at once (default: one per CPU, at least 2)")
    airflow.add_argument("--config", help=CONFIG_HELP)
    airflow.set_defaults(func=cmd_airflow)

    doctor = _command(sub, "doctor", "check the installation and say what to fix",
                      "earshot doctor", "earshot doctor --offline --quick")  # fmt: skip
    doctor.add_argument("--config", help=CONFIG_HELP)
    doctor.add_argument("--offline", action="store_true", help="do not probe the sources over the network")
    doctor.add_argument("--quick", action="store_true", help="do not load the embedding model")
    doctor.add_argument("--timeout", type=float, default=10.0, help="seconds per source probe (default 10)")
    doctor.add_argument(
        "--repair",
        action="store_true",
        help="repair a warehouse whose write-ahead log cannot be replayed: replay it safely, or set it aside "
        "and re-load the mentions from the landing zone (stop the scheduler first)",
    )
    doctor.set_defaults(func=cmd_doctor)

    backup = _command(sub, "backup", "consistent backup of the warehouse beside it, kept N deep",
                      "earshot backup", "earshot backup --list")  # fmt: skip
    backup.add_argument("--keep", type=int, default=None,
                        help="backups to keep, newest first (default $EARSHOT_BACKUP_KEEP or 7)")  # fmt: skip
    backup.add_argument("--dir", help="backup folder (default $EARSHOT_BACKUP_DIR or backups/ beside the warehouse)")
    backup.add_argument("--list", action="store_true", help="list the backups, newest first, instead")
    backup.add_argument("--json", action="store_true", help="print JSON")
    backup.set_defaults(func=cmd_backup)

    restore = _command(sub, "restore", "put a backup in place of the warehouse, then re-load newer runs",
                       "earshot restore")  # fmt: skip
    restore.add_argument("backup", nargs="?", help="backup file name or path (default: the newest)")
    restore.add_argument("--dir", help="backup folder (default $EARSHOT_BACKUP_DIR or backups/ beside the warehouse)")
    restore.add_argument("--no-replay", action="store_true", help="do not re-load listen runs newer than the backup")
    restore.set_defaults(func=cmd_restore)

    snapshot = _command(sub, "snapshot", "refresh the analysts' read-only copy with search indexes", "earshot snapshot")
    snapshot.set_defaults(func=cmd_snapshot)

    parquet = _command(sub, "export", "tables or views to Parquet (from the analysts' snapshot)",
                       "earshot export --to parquet/", "earshot export mentions themes --to parquet/")  # fmt: skip
    parquet.add_argument("tables", nargs="*", help="names (default: every table and view)")
    parquet.add_argument("--to", default="parquet", help="folder (default: ./parquet)")
    parquet.set_defaults(func=cmd_export)

    dictionary = _command(sub, "dictionary", "print the data dictionary (Markdown) from the schema's comments",
                          "earshot dictionary --out docs/data-dictionary.md", home=False)  # fmt: skip
    dictionary.add_argument("--out", help="write it to this file")
    dictionary.set_defaults(func=cmd_dictionary)

    sql = _command(sub, "sql", "run SQL on the analysts' snapshot (read-only; fts and vss loaded)",
                   'earshot sql "SELECT audience, count(*) FROM mentions GROUP BY 1"',
                   'earshot sql --csv "SELECT * FROM theme_trends WHERE emerging" > emerging.csv')  # fmt: skip
    sql.add_argument("query", help="one SQL statement (quote it for the shell)")
    sql.add_argument("--csv", action="store_true", help="CSV on stdout, safe to open in a spreadsheet")
    sql.add_argument("--limit", type=int, default=40, help="rows shown in the table (default 40)")
    sql.set_defaults(func=cmd_sql)

    init = _command(sub, "init", "write a commented starter market.yaml", "earshot init market.yaml", home=False)
    init.add_argument("path", nargs="?", default="market.yaml", help="where to write it (default ./market.yaml)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(func=cmd_init)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from earshot.logs import configure_cli
        from earshot.paths import check_home
        from earshot.settings import settings

        env = settings()
        configure_cli("INFO" if args.verbose else "ERROR" if args.quiet else env.log_level, progress=not args.quiet)
        if getattr(args, "needs_home", True):
            check_home(env.home.resolve())
        return int(args.func(args))
    except ConfigError as exc:
        print(f"earshot: configuration error: {exc}", file=sys.stderr)
        return 2
    except (SettingsError, HomeError) as exc:
        print(f"earshot: {exc}", file=sys.stderr)
        return 2
    except (WarehouseDamagedError, WarehouseBusyError) as exc:
        print(f"earshot: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
