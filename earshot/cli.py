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
    from earshot import listen, report, themes
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
        clustered = themes.cluster(ctx)
        print(
            f"themes: embedded {embedded['embedded']} new texts with {embedded['model']}; "
            f"{clustered['themes']} themes over {clustered['mentions']} mentions, "
            f"{clustered['noise_share']:.0%} unassigned"
        )
    if "report" in stages:
        written = report.report(ctx)
        print(f"report: {written['html']}")
    return 3 if failed_sources else 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Rebuild the mentions of an empty warehouse from the landing zone."""
    from earshot.replay import ReplayError, replay
    from earshot.runs import RunContext

    if args.config:
        os.environ["EARSHOT_CONFIG"] = str(Path(args.config).resolve())
    try:
        totals = replay(RunContext.create())
    except ReplayError as exc:
        print(f"earshot replay: {exc}", file=sys.stderr)
        return 1
    print(f"replay: {totals['runs']} runs, {totals['fetches']} fetches, {totals['items']} items re-loaded")
    return 0


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
    from models.embedding_onnx import export_onnx

    if args.out:
        target = Path(args.out)
    else:
        from earshot.paths import Paths

        target = Paths.from_env().home / "models" / ("onnx-fp32" if args.fp32 else "onnx-int8")
    path = export_onnx(target, model=args.model, quantize=not args.fp32)
    print(f"exported {path}; set themes.backend: onnx (and themes.onnx_path: {target} if not the default)")
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="earshot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run pipeline stages now, without Airflow")
    run.add_argument("--config", help="listening plan (default: $EARSHOT_CONFIG or ./market.yaml)")
    run.add_argument("--stage", choices=(*STAGES, "all"), default="all")
    run.add_argument("--workers", type=int, default=8, help="sources fetched in parallel")
    run.set_defaults(func=cmd_run)

    sources = sub.add_parser("sources", help="source health: last success, errors, items per run")
    sources.set_defaults(func=cmd_sources)

    replay = sub.add_parser("replay", help="rebuild an empty warehouse's mentions from the landing zone")
    replay.add_argument("--config", help="listening plan (default: $EARSHOT_CONFIG or ./market.yaml)")
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

    demo = sub.add_parser("demo", help="run the whole pipeline offline on the bundled demo market")
    demo.add_argument(
        "--home", default=os.environ.get("EARSHOT_DEMO_HOME", "data/demo"), help="data directory for the demo"
    )
    demo.set_defaults(func=cmd_demo)

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


if __name__ == "__main__":
    sys.exit(main())
