"""``earshot``: run the pipeline without a scheduler, start the offline demo, write a starter plan."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from earshot.config import ConfigError
from warehouse.errors import WarehouseBusyError, WarehouseDamagedError

STAGES = ("listen", "themes", "report")


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


def cmd_sources(args: argparse.Namespace) -> int:
    """Source health: what each source yielded, when it last worked, and what went wrong."""
    from earshot.paths import Paths
    from warehouse.connection import reader

    db = Paths.from_env().warehouse
    with reader(db) as con:
        rows = con.execute(
            """
            SELECT source_id, kind, audience, status, items_last_run, items_total, consecutive_failures,
                   strftime(last_success_at, '%Y-%m-%d %H:%M'), coalesce(last_error_kind, '')
            FROM source_health WHERE enabled ORDER BY status = 'failing' DESC, source_id
            """
        ).fetchall()
    header = ("source", "kind", "audience", "status", "last run", "total", "fails", "last success", "last error")
    table = [header, *[tuple("" if v is None else str(v) for v in row) for row in rows]]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 4 if _warn_failing(db) else 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run stages in-process: the same task code the DAGs call."""
    from earshot import hypotheses, listen, report, themes, trends
    from earshot.runs import RunContext

    if args.config:
        os.environ["EARSHOT_CONFIG"] = str(Path(args.config).resolve())
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
    if "report" in stages:
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

    if args.config:
        os.environ["EARSHOT_CONFIG"] = str(Path(args.config).resolve())
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

    return run_demo(Path(args.home).resolve())


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
    market = load_market(Path(args.config) if args.config else config_path())
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

    if args.config:
        os.environ["EARSHOT_CONFIG"] = str(Path(args.config).resolve())
    return run_standalone(port=args.port)


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check the installation; exit 1 when any check failed. ``--repair``: repair the warehouse instead."""
    from earshot.doctor import FAIL, render, run_checks

    if args.config:
        os.environ["EARSHOT_CONFIG"] = str(Path(args.config).resolve())
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
        backup = create(db, at=datetime.now(UTC), keep=args.keep, folder=folder)
    except BackupError as exc:
        print(f"earshot backup: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(backup.as_json()))
    else:
        print(f"backup: {backup.path} ({backup.bytes / 1e6:.1f} MB, schema {backup.schema_version}, "
              f"{backup.mentions} mentions); keeping the newest {args.keep}")  # fmt: skip
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
            import csv

            writer_ = csv.writer(sys.stdout)
            writer_.writerow(relation.columns)
            writer_.writerows(relation.fetchall())
        else:
            relation.show(max_rows=args.limit, max_width=200)
    except duckdb.Error as exc:
        print(f"earshot sql: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    finally:
        con.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="earshot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run pipeline stages now, without Airflow")
    run.add_argument("--config", help="listening plan (default: $EARSHOT_CONFIG or ./market.yaml)")
    run.add_argument("--stage", choices=(*STAGES, "all"), default="all")
    run.add_argument("--workers", type=int, default=8, help="sources fetched in parallel")
    run.add_argument(
        "--refit", action="store_true", help="recluster every mention now instead of assigning new ones to themes"
    )
    run.set_defaults(func=cmd_run)

    sources = sub.add_parser("sources", help="source health: last success, errors, items per run")
    sources.set_defaults(func=cmd_sources)

    replay = sub.add_parser("replay", help="rebuild an empty warehouse's mentions from the landing zone")
    replay.add_argument("--config", help="not needed: each source's settings are read from the landing zone")
    replay.add_argument(
        "--missing", action="store_true", help="load only the runs the warehouse lacks (after a restore or repair)"
    )
    replay.set_defaults(func=cmd_replay)

    evaluate = sub.add_parser("eval-themes", help="theme quality on a labelled JSONL corpus")
    evaluate.add_argument("corpus", help='JSON lines: {"id", "text", "label"}')
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a table")
    evaluate.add_argument("--against", choices=("bertopic",), help="run BERTopic's default pipeline too")
    evaluate.add_argument("--model", default="default", help="embedding model (default: packaged MiniLM)")
    evaluate.add_argument("--no-stability", action="store_true", help="skip the shuffled re-run")
    evaluate.set_defaults(func=cmd_eval_themes)

    signals = sub.add_parser("eval-signals", help="sentiment and intent accuracy on a labelled JSONL corpus")
    signals.add_argument("corpus", help='JSON lines: {"text", "label"}; label = a sentiment or an intent name')
    signals.add_argument("--json", action="store_true", help="print JSON instead of a report")
    signals.add_argument("--competitor", action="append", default=[], metavar="NAME", help="a competitor name")
    signals.set_defaults(func=cmd_eval_signals)

    export = sub.add_parser("export-onnx", help="export the embedding model to ONNX int8 for themes.backend: onnx")
    export.add_argument("--out", help="folder (default: $EARSHOT_HOME/models/onnx-int8)")
    export.add_argument("--model", default="default", help="sentence-transformers name or path (default: packaged)")
    export.add_argument("--fp32", action="store_true", help="skip int8 quantization (exact, slower)")
    export.set_defaults(func=cmd_export_onnx)

    deliver = sub.add_parser("deliver", help="send a written report by e-mail / webhook (retries what failed)")
    deliver.add_argument("run_id", nargs="?", metavar="RUN_ID", help="the report's run (default: the latest report)")
    deliver.add_argument("--config", help="listening plan (default: $EARSHOT_CONFIG or ./market.yaml)")
    deliver.set_defaults(func=cmd_deliver)

    demo = sub.add_parser("demo", help="run the whole pipeline offline on the bundled demo market")
    demo.add_argument(
        "--home", default=os.environ.get("EARSHOT_DEMO_HOME", "data/demo"), help="data directory for the demo"
    )
    demo.set_defaults(func=cmd_demo)

    hypotheses = sub.add_parser("hypotheses", help="hypotheses from the evidence: list, show, record results")
    hyp = hypotheses.add_subparsers(dest="action", required=True)
    listing = hyp.add_parser("list", help="to test first (ranked), under test, validated, the rest")
    listing.add_argument("--status", choices=("proposed", "testing", "validated", "rejected", "expired", "handed_off"))
    listing.add_argument("--json", action="store_true", help="print JSON (evidence, baseline, series, results...)")
    listing.set_defaults(func=cmd_hypotheses_list)
    show = hyp.add_parser("show", help="one hypothesis in full")
    show.add_argument("id", help="hypothesis id (or a unique prefix of it)")
    show.add_argument("--json", action="store_true", help="print JSON instead of text")
    show.set_defaults(func=cmd_hypotheses_show)
    record = hyp.add_parser("record", help="record the result of a test you ran; the verdict follows the criteria")
    record.add_argument("id", help="hypothesis id (or a unique prefix of it)")
    record.add_argument("--kind", required=True, choices=("message_test", "survey", "content", "interview"))
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
    status.add_argument("status", choices=("proposed", "testing", "validated", "rejected", "expired"))
    status.add_argument("--by", required=True, help="who decides")
    status.add_argument("--why", required=True, help="why, in words (kept in the history)")
    status.set_defaults(func=cmd_hypotheses_set_status)
    brief = hyp.add_parser("brief", help="sales brief of a validated hypothesis (HTML, MD, CSV, JSON); hands it off")
    brief.add_argument("id", help="hypothesis id (or a unique prefix of it)")
    brief.add_argument("--out", help="folder for the files (default: $EARSHOT_HOME/reports/briefs/<hypothesis id>)")
    brief.add_argument("--by", default="earshot", help="who hands it off to sales (kept in the status history)")
    brief.add_argument("--config", help="listening plan (default: $EARSHOT_CONFIG or ./market.yaml)")
    brief.set_defaults(func=cmd_hypotheses_brief)

    airflow = sub.add_parser("airflow", help="Airflow on this machine (airflow standalone) with earshot's DAGs")
    airflow.add_argument("--port", type=int, default=8080, help="UI and REST API port (default 8080)")
    airflow.add_argument("--config", help="listening plan (default: $EARSHOT_CONFIG or ./market.yaml)")
    airflow.set_defaults(func=cmd_airflow)

    doctor = sub.add_parser("doctor", help="check the installation and say what to fix")
    doctor.add_argument("--config", help="listening plan (default: $EARSHOT_CONFIG or ./market.yaml)")
    doctor.add_argument("--offline", action="store_true", help="do not probe the sources over the network")
    doctor.add_argument("--quick", action="store_true", help="do not load the embedding model")
    doctor.add_argument("--timeout", type=float, default=10.0, help="seconds per source probe")
    doctor.add_argument(
        "--repair",
        action="store_true",
        help="repair a warehouse whose write-ahead log cannot be replayed: replay it safely, or set it aside "
        "and re-load the mentions from the landing zone (stop the scheduler first)",
    )
    doctor.set_defaults(func=cmd_doctor)

    backup = sub.add_parser("backup", help="consistent backup of the warehouse beside it, kept N deep")
    backup.add_argument("--keep", type=int, default=int(os.environ.get("EARSHOT_BACKUP_KEEP", "7")),
                        help="backups to keep, newest first (default $EARSHOT_BACKUP_KEEP or 7)")  # fmt: skip
    backup.add_argument("--dir", help="backup folder (default $EARSHOT_BACKUP_DIR or backups/ beside the warehouse)")
    backup.add_argument("--list", action="store_true", help="list the backups, newest first, instead")
    backup.add_argument("--json", action="store_true", help="print JSON")
    backup.set_defaults(func=cmd_backup)

    restore = sub.add_parser("restore", help="put a backup in place of the warehouse, then re-load newer runs")
    restore.add_argument("backup", nargs="?", help="backup file name or path (default: the newest)")
    restore.add_argument("--dir", help="backup folder (default $EARSHOT_BACKUP_DIR or backups/ beside the warehouse)")
    restore.add_argument("--no-replay", action="store_true", help="do not re-load listen runs newer than the backup")
    restore.set_defaults(func=cmd_restore)

    snapshot = sub.add_parser("snapshot", help="refresh the analysts' read-only copy with search indexes")
    snapshot.set_defaults(func=cmd_snapshot)

    parquet = sub.add_parser("export", help="tables or views to Parquet (from the analysts' snapshot)")
    parquet.add_argument("tables", nargs="*", help="names (default: every table and view)")
    parquet.add_argument("--to", default="parquet", help="folder (default: ./parquet)")
    parquet.set_defaults(func=cmd_export)

    dictionary = sub.add_parser("dictionary", help="print the data dictionary (Markdown) from the schema's comments")
    dictionary.add_argument("--out", help="write it to this file")
    dictionary.set_defaults(func=cmd_dictionary)

    sql = sub.add_parser("sql", help="run SQL on the analysts' snapshot (read-only; fts and vss loaded)")
    sql.add_argument("query")
    sql.add_argument("--csv", action="store_true", help="CSV on stdout instead of a table")
    sql.add_argument("--limit", type=int, default=40, help="rows shown in the table (default 40)")
    sql.set_defaults(func=cmd_sql)

    init = sub.add_parser("init", help="write a commented starter market.yaml")
    init.add_argument("path", nargs="?", default="market.yaml")
    init.add_argument("--force", action="store_true")
    init.set_defaults(func=cmd_init)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"earshot: configuration error: {exc}", file=sys.stderr)
        return 2
    except (WarehouseDamagedError, WarehouseBusyError) as exc:
        print(f"earshot: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
