"""The report stage: read the latest themes from the warehouse, write HTML and Markdown."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import duckdb

from earshot.runs import RunContext
from models.quotes import excerpt
from reports.content import Quote, ReportContent, SourceHealth, ThemeView
from warehouse.connection import reader, writer
from warehouse.load import record_run


def latest_themes_run(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute(
        "SELECT run_id FROM runs WHERE stage = 'themes' AND status = 'success' ORDER BY finished_at DESC LIMIT 1"
    ).fetchone()
    return row[0] if row else None


def build_content(ctx: RunContext, con: duckdb.DuckDBPyConnection) -> ReportContent:
    """Everything the report says, read in one consistent snapshot."""
    market = ctx.market
    themes_run = latest_themes_run(con)
    total, by_audience = _mention_totals(con)
    themes = _themes(con, themes_run, market.report.max_themes) if themes_run else []
    assigned = 0
    if themes_run:
        row = con.execute("SELECT count(*) FROM theme_members WHERE run_id = ?", [themes_run]).fetchone()
        assigned = int(row[0]) if row else 0
    model = ""
    if themes_run:
        row = con.execute(
            "SELECT details->>'model' FROM runs WHERE run_id = ? AND stage = 'themes'", [themes_run]
        ).fetchone()
        model = row[0] if row and row[0] else ""
    return ReportContent(
        run_id=ctx.run_id,
        generated_at=ctx.run_at,
        title=market.report.title,
        company=market.company.name,
        offer=market.offer.summary,
        total_mentions=total,
        mentions_by_audience=by_audience,
        themes=themes,
        unassigned=max(0, total - assigned) if themes_run else total,
        sources=_source_health(con),
        embedding_model=model,
    )


def _mention_totals(con: duckdb.DuckDBPyConnection) -> tuple[int, dict[str, int]]:
    """Conversations in all, and per audience: one heard among two audiences counts for both."""
    total = con.execute("SELECT count(*) FROM mentions").fetchone()
    rows = con.execute(
        "SELECT audience, count(DISTINCT mention_id) FROM mention_sources GROUP BY audience ORDER BY 2 DESC"
    ).fetchall()
    return (int(total[0]) if total else 0), dict(rows)


def _themes(con: duckdb.DuckDBPyConnection, run_id: str, limit: int) -> list[ThemeView]:
    themes = con.execute(
        """
        SELECT t.theme_id, t.label, t.keywords, count(DISTINCT tm.mention_id) AS volume,
               count(DISTINCT ms.source_id) AS sources
        FROM theme_members tm JOIN themes t USING (theme_id) JOIN mention_sources ms USING (mention_id)
        WHERE tm.run_id = ? GROUP BY ALL ORDER BY volume DESC, t.theme_id LIMIT ?
        """,
        [run_id, limit],
    ).fetchall()
    mix: dict[str, dict[str, int]] = defaultdict(dict)
    for theme_id, audience, n in con.execute(
        """
        SELECT tm.theme_id, ms.audience, count(DISTINCT tm.mention_id)
        FROM theme_members tm JOIN mention_sources ms USING (mention_id)
        WHERE tm.run_id = ? GROUP BY ALL ORDER BY 3 DESC, 2
        """,
        [run_id],
    ).fetchall():
        mix[theme_id][audience] = n
    quotes: dict[str, list[Quote]] = defaultdict(list)
    for theme_id, text, url, source_id, audience, author, published in con.execute(
        """
        SELECT q.theme_id, coalesce(nullif(m.text, ''), m.title), m.url, m.source_id, m.audience, m.author,
               m.published_at
        FROM theme_quotes q JOIN mentions m USING (mention_id) WHERE q.run_id = ? ORDER BY q.theme_id, q.rank
        """,
        [run_id],
    ).fetchall():
        quotes[theme_id].append(Quote(excerpt(text), url, source_id, audience, author, published))
    signals = _theme_signals(con, run_id)
    return [
        ThemeView(theme_id, label, list(keywords), volume, mix[theme_id], quotes[theme_id], sources,
                  signals.get(theme_id, {}))
        for theme_id, label, keywords, volume, sources in themes
    ]  # fmt: skip


def _theme_signals(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, dict[str, float]]:
    """Per theme, the share of its mentions that are negative / positive and carry each intent."""
    from models.signals import INTENTS

    rows = con.execute(
        """
        SELECT tm.theme_id, avg((s.sentiment_label = 'negative')::INT), avg((s.sentiment_label = 'positive')::INT),
               list(s.intents)
        FROM theme_members tm JOIN mention_signals s USING (mention_id) WHERE tm.run_id = ? GROUP BY 1
        """,
        [run_id],
    ).fetchall()
    out: dict[str, dict[str, float]] = {}
    for theme_id, negative, positive, intents in rows:
        flat = [intent for per_mention in intents for intent in per_mention]
        shares = {intent: flat.count(intent) / len(intents) for intent in INTENTS}
        out[theme_id] = {"negative": negative, "positive": positive, **shares}
    return out


def _source_health(con: duckdb.DuckDBPyConnection) -> list[SourceHealth]:
    rows = con.execute(
        """
        SELECT source_id, kind, audience, status, items_last_run, items_total, consecutive_failures,
               last_success_at, CASE WHEN status IN ('error', 'failing') THEN last_error END
        FROM source_health WHERE enabled ORDER BY consecutive_failures DESC, source_id
        """
    ).fetchall()
    return [SourceHealth(*row) for row in rows]


def report(ctx: RunContext) -> dict[str, Any]:
    """Write this run's report; return where it is and what it says in brief."""
    from reports.render import write_report

    with reader(ctx.paths.warehouse) as con:
        content = build_content(ctx, con)
    html_path, md_path = write_report(content, ctx.paths.reports)
    summary = {
        "html": str(html_path),
        "markdown": str(md_path),
        "themes": len(content.themes),
        "mentions": content.total_mentions,
        "top_themes": [t.label for t in content.themes[:5]],
    }
    with writer(ctx.paths.warehouse) as con:
        record_run(con, ctx.run_id, "report", ctx.run_at, datetime.now(UTC), "success", summary)
    return summary
