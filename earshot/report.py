"""The report stage: read the warehouse once, build what the report says, write HTML, Markdown and the archive.

Everything is read on one read-only connection, which holds the warehouse's shared lock for the whole read:
no writer can commit in between, so the figures agree with each other. The report covers the period since
the previous report (or :data:`DEFAULT_PERIOD` before the run when there is none); times are the run's
logical time (``ctx.run_at``), never ``now()``. Tables that an older warehouse lacks (trends, lineage,
hypotheses, alerts) leave their sections empty instead of failing the report.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from earshot.logs import logged_stage
from earshot.runs import RunContext
from models.quotes import excerpt
from reports.archive import existing_brief
from reports.content import (
    SIGNAL_KEYS,
    Alert,
    Changes,
    HypothesisItem,
    ProgressPoint,
    Quote,
    RecordedResult,
    ReportContent,
    Snapshot,
    SourceHealth,
    StatusChange,
    ThemeChange,
    ThemeView,
    VolumeChange,
    VolumeSeries,
)
from warehouse.connection import reader, writer
from warehouse.load import record_run

DEFAULT_PERIOD = timedelta(days=7)
"""What a first report covers (there is no previous report to start from)."""
VOLUME_PERIODS = 26
"""Periods of volume kept per theme (the chart shows the latest of them)."""
VOLUME_CHANGES = 5
"""Biggest volume changes listed under "What changed"."""
ALL = "all"
"""theme_snapshots / theme_volume rows that count every mention once (earshot.trends.ALL)."""


def latest_themes_run(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute(
        "SELECT run_id FROM runs WHERE stage = 'themes' AND status = 'success' ORDER BY finished_at DESC LIMIT 1"
    ).fetchone()
    return row[0] if row else None


@dataclass(frozen=True)
class PreviousReport:
    """The report before this one: where this report's period starts and what "changed" compares with."""

    run_id: str
    at: datetime
    themes_run: str | None


def build_content(ctx: RunContext, con: duckdb.DuckDBPyConnection, reports_folder: Path | None = None) -> ReportContent:
    """Everything the report says, read in one consistent snapshot.

    Args:
        ctx: the run: its id, logical time (the end of the period) and market.
        con: an open connection; the caller holds it for the whole read.
        reports_folder: where sales briefs are looked for (default ``ctx.paths.reports``).
    """
    market = ctx.market
    at = ctx.run_at.astimezone(UTC)
    tables = _tables(con)
    themes_run = latest_themes_run(con)
    previous = _previous_report(con, ctx.run_id, at)
    since = previous.at if previous else at - DEFAULT_PERIOD
    total, by_audience = _mention_totals(con)
    all_themes = _themes(con, themes_run, tables) if themes_run else []
    themes = all_themes[: market.report.max_themes]
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
    hypotheses = _hypotheses(con, at, reports_folder or ctx.paths.reports) if "hypotheses" in tables else []
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
        period_start=since,
        mentions_in_period=_mentions_between(con, since, at),
        themes_total=len(all_themes),
        test_first=[h for h in hypotheses if h.status == "proposed"],
        under_test=[h for h in hypotheses if h.status == "testing"],
        validated=[h for h in hypotheses if h.status in ("validated", "handed_off")],
        closed=[h for h in hypotheses if h.status in ("rejected", "expired")],
        changes=_changes(con, tables, since, at, previous, themes_run, all_themes),
        alerts=_alerts(con, "resolved_at IS NULL", []) if "alerts" in tables else [],
        alpha=market.trends.alpha,
        themes_run=themes_run,
    )


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


def _previous_report(con: duckdb.DuckDBPyConnection, run_id: str, at: datetime) -> PreviousReport | None:
    """The latest successful report of another run at or before this run's logical time."""
    row = con.execute(
        """
        SELECT run_id, started_at, details->>'themes_run' FROM runs
        WHERE stage = 'report' AND status = 'success' AND run_id != ? AND started_at <= ?
        ORDER BY started_at DESC, finished_at DESC LIMIT 1
        """,
        [run_id, at],
    ).fetchone()
    return PreviousReport(row[0], row[1].astimezone(UTC), row[2]) if row else None


def _mention_totals(con: duckdb.DuckDBPyConnection) -> tuple[int, dict[str, int]]:
    """Conversations in all, and per audience: one heard among two audiences counts for both."""
    total = con.execute("SELECT count(*) FROM mentions").fetchone()
    rows = con.execute(
        "SELECT audience, count(DISTINCT mention_id) FROM mention_sources GROUP BY audience ORDER BY 2 DESC"
    ).fetchall()
    return (int(total[0]) if total else 0), dict(rows)


def _mentions_between(con: duckdb.DuckDBPyConnection, since: datetime, until: datetime) -> int:
    """Conversations earshot first heard during the period (whenever they were published)."""
    row = con.execute(
        "SELECT count(*) FROM mentions WHERE first_seen_at > ? AND first_seen_at <= ?", [since, until]
    ).fetchone()
    return int(row[0]) if row else 0


# --- Themes ------------------------------------------------------------------------------------------


def _themes(con: duckdb.DuckDBPyConnection, run_id: str, tables: set[str]) -> list[ThemeView]:
    """Every theme of the run, loudest now first (recent mentions, then all mentions)."""
    themes = con.execute(
        """
        SELECT t.theme_id, t.label, t.keywords, count(DISTINCT tm.mention_id) AS volume,
               count(DISTINCT ms.source_id) AS sources
        FROM theme_members tm JOIN themes t USING (theme_id) JOIN mention_sources ms USING (mention_id)
        WHERE tm.run_id = ? GROUP BY ALL ORDER BY volume DESC, t.theme_id
        """,
        [run_id],
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
        quotes[theme_id].append(Quote(excerpt(text or ""), url, source_id, audience, author, published))
    snapshots = _snapshots(con, run_id) if "theme_snapshots" in tables else {}
    series = _series(con, run_id) if "theme_volume" in tables else {}
    signals = _theme_signals(con, run_id)
    views = []
    for theme_id, label, keywords, volume, sources in themes:
        per = snapshots.get(theme_id, {})
        overall = per.pop(ALL, None)
        views.append(
            ThemeView(
                theme_id, label, list(keywords), volume, mix[theme_id], quotes[theme_id], sources,
                overall.signals if overall and overall.signals else signals.get(theme_id, {}),
                overall, per, series.get(theme_id),
            )
        )  # fmt: skip
    return sorted(views, key=lambda v: (-v.recent, -v.volume))


_SNAPSHOT_COLUMNS = (
    "theme_id, audience, recent, baseline, total, recent_days, baseline_days, trend, p_value, p_value_down, "
    "rate_ratio, emerging, audience_share, audiences, spread, influencer_mentions, influencers, as_of, "
    + ", ".join(f"{key}_share" for key in SIGNAL_KEYS)
)


def _snapshots(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, dict[str, Snapshot]]:
    """theme_snapshots of the run: per theme, per audience (and ``all``)."""
    out: dict[str, dict[str, Snapshot]] = defaultdict(dict)
    cursor = con.execute(f"SELECT {_SNAPSHOT_COLUMNS} FROM theme_snapshots WHERE run_id = ?", [run_id])
    names = [column[0] for column in cursor.description]
    for row in cursor.fetchall():
        values = dict(zip(names, row, strict=True))
        theme_id = values.pop("theme_id")
        shares = {key: float(values.pop(f"{key}_share") or 0.0) for key in SIGNAL_KEYS}
        values["influencers"] = tuple(values["influencers"] or ())
        values["emerging"] = bool(values["emerging"])
        out[theme_id][values["audience"]] = Snapshot(**values, signals=shares)
    return out


def _series(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, VolumeSeries]:
    """theme_volume of the run as aligned series: every period from a theme's first to its last, per audience."""
    counts: dict[str, dict[str, dict[date, int]]] = defaultdict(lambda: defaultdict(dict))
    periods: dict[str, str] = {}
    for theme_id, audience, start, mentions, period in con.execute(
        "SELECT theme_id, audience, period_start, mentions, period FROM theme_volume WHERE run_id = ? "
        "ORDER BY theme_id, period_start",
        [run_id],
    ).fetchall():
        counts[theme_id][audience][start] = mentions
        periods[theme_id] = period
    out = {}
    for theme_id, by_audience in counts.items():
        starts = sorted({start for values in by_audience.values() for start in values})[-VOLUME_PERIODS:]
        total = by_audience.pop(ALL, {})
        out[theme_id] = VolumeSeries(
            periods[theme_id],
            starts,
            {audience: [values.get(s, 0) for s in starts] for audience, values in by_audience.items()},
            [total.get(s, 0) for s in starts],
        )
    return out


def _theme_signals(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, dict[str, float]]:
    """Per theme, the share of its mentions that are negative / positive and carry each intent (the fallback
    when the run has no trend snapshot)."""
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


# --- Hypotheses --------------------------------------------------------------------------------------


def _hypotheses(con: duckdb.DuckDBPyConnection, at: datetime, reports_folder: Path) -> list[HypothesisItem]:
    """Every hypothesis through the hypotheses API, proposed ones in the order to test them."""
    from earshot.hypotheses import load_hypotheses, to_test_first

    views = load_hypotheses(con)
    ranked = {view.hypothesis_id: index for index, view in enumerate(to_test_first(views))}
    views.sort(key=lambda v: ranked.get(v.hypothesis_id, len(ranked)))
    return [_hypothesis(view, at, reports_folder) for view in views]


def _hypothesis(view: Any, at: datetime, reports_folder: Path) -> HypothesisItem:
    """A :class:`earshot.hypotheses.HypothesisView` as plain report content."""
    days_left = None
    if view.status == "testing" and view.expires_at is not None:
        days_left = (view.expires_at.astimezone(UTC).date() - at.date()).days
    brief = existing_brief(reports_folder, view.hypothesis_id) if view.status in ("validated", "handed_off") else None
    return HypothesisItem(
        hypothesis_id=view.hypothesis_id,
        status=view.status,
        statement=view.statement,
        audience=view.audience,
        audience_label=view.audience_label,
        theme_id=view.theme_id,
        theme_label=view.theme_label,
        owner=view.owner,
        why=view.why,
        rank_score=float(view.rank.score),
        rank_reasons=tuple(view.rank.reasons),
        test_kind=view.test_kind,
        test_plan=view.test_plan,
        criteria_text=view.criteria_text,
        status_why=view.status_why,
        theme_active=view.theme_active,
        proposed_at=view.proposed_at,
        test_started_at=view.test_started_at,
        expires_at=view.expires_at,
        decided_at=view.decided_at,
        days_left=days_left,
        evidence=_figures(view.evidence),
        baseline=_figures(view.baseline),
        progress=[
            ProgressPoint(m.as_of, m.figures.recent, m.figures.recent_per_week, float(m.vs_baseline))
            for m in view.series
        ],
        results=[
            RecordedResult(
                r.recorded_at,
                r.kind,
                r.metric,
                r.value,
                r.sample,
                r.verdict,
                r.verdict_why,
                r.recorded_by,
                r.control,
                r.note,
            )
            for r in view.results
        ],
        quotes=list(view.quotes),
        brief_href=brief,
    )


def _figures(figures: Any) -> Snapshot:
    """:class:`models.hypotheses.Figures` (a snapshot row as frozen in a hypothesis) as report content."""
    return Snapshot(
        audience=figures.audience,
        recent=figures.recent,
        baseline=figures.baseline,
        total=figures.total,
        recent_days=figures.recent_days,
        baseline_days=figures.baseline_days,
        trend=figures.trend,
        p_value=figures.p_value,
        p_value_down=figures.p_value_down,
        rate_ratio=figures.rate_ratio,
        emerging=bool(figures.emerging),
        audience_share=figures.audience_share,
        audiences=figures.audiences,
        spread=figures.spread,
        influencer_mentions=figures.influencer_mentions,
        influencers=tuple(figures.influencers),
        signals={key: float(getattr(figures, f"{key}_share", 0.0) or 0.0) for key in SIGNAL_KEYS},
        as_of=figures.as_of,
    )


# --- What changed ------------------------------------------------------------------------------------


def _changes(
    con: duckdb.DuckDBPyConnection,
    tables: set[str],
    since: datetime,
    until: datetime,
    previous: PreviousReport | None,
    themes_run: str | None,
    themes: list[ThemeView],
) -> Changes:
    """New, retired, merged and split themes, the biggest volume changes, new hypotheses, status changes and
    alerts raised, between the previous report (or the default period) and this run."""
    lineage = _lineage(con, since, until) if "theme_lineage" in tables else []
    volume = _volume_changes(con, previous, themes_run, themes) if "theme_snapshots" in tables else []
    new, moved = _status_changes(con, since, until) if "hypothesis_events" in tables else ([], [])
    alerts = _alerts(con, "raised_at > ? AND raised_at <= ?", [since, until]) if "alerts" in tables else []
    return Changes(since, previous.run_id if previous else None, lineage, volume, new, moved, alerts)


def _lineage(con: duckdb.DuckDBPyConnection, since: datetime, until: datetime) -> list[ThemeChange]:
    """theme_lineage links of the themes runs of the period, except ``continue``: a theme that appeared,
    retired, merged or split. Labels come from ``themes`` (a retired theme keeps its last label)."""
    rows = con.execute(
        """
        SELECT l.kind, l.parent_theme_id, l.child_theme_id, coalesce(p.label, l.parent_theme_id),
               coalesce(c.label, l.child_theme_id)
        FROM theme_lineage l
        JOIN runs r ON r.run_id = l.run_id AND r.stage = 'themes' AND r.status = 'success'
        LEFT JOIN themes p ON p.theme_id = l.parent_theme_id
        LEFT JOIN themes c ON c.theme_id = l.child_theme_id
        WHERE r.started_at > ? AND r.started_at <= ? AND l.kind != 'continue'
        ORDER BY r.started_at, l.kind, l.child_theme_id, l.parent_theme_id
        """,
        [since, until],
    ).fetchall()
    seen: dict[tuple[str, str], ThemeChange] = {}
    for kind, parent, child, parent_label, child_label in rows:
        if kind == "new":
            seen.setdefault((kind, child), ThemeChange(kind, child, child_label))
        elif kind == "retired":
            seen.setdefault((kind, parent), ThemeChange(kind, parent, parent_label))
        elif kind == "merge":
            change = seen.setdefault((kind, child), ThemeChange(kind, child, child_label, []))
            if parent_label not in change.related:
                change.related.append(parent_label)
        elif kind == "split":
            change = seen.setdefault((kind, parent), ThemeChange(kind, parent, parent_label, []))
            if child_label not in change.related:
                change.related.append(child_label)
    order = {"new": 0, "merge": 1, "split": 2, "retired": 3}
    return sorted(seen.values(), key=lambda c: (order.get(c.kind, 4), c.label))


def _volume_changes(
    con: duckdb.DuckDBPyConnection, previous: PreviousReport | None, themes_run: str | None, themes: list[ThemeView]
) -> list[VolumeChange]:
    """Recent mentions now against the previous report's themes run, theme by theme; without a previous
    snapshot, this week's rate against the weekly rate of the window before it."""
    current = {t.theme_id: t for t in themes if t.overall}
    if previous and previous.themes_run and previous.themes_run == themes_run:
        return []  # no themes run since the last report: nothing was re-counted
    before: dict[str, int] = {}
    if previous and previous.themes_run:
        before = dict(
            con.execute(
                "SELECT theme_id, recent FROM theme_snapshots WHERE run_id = ? AND audience = ?",
                [previous.themes_run, ALL],
            ).fetchall()
        )
    changes = []
    for theme_id, theme in current.items():
        overall = theme.overall
        assert overall is not None
        if before:
            unit = f"mentions in {overall.recent_days} days, vs the last report"
            changes.append(VolumeChange(theme_id, theme.label, before.get(theme_id, 0), overall.recent, unit))
        else:
            unit = "mentions per week, vs the weeks before"
            changes.append(
                VolumeChange(
                    theme_id, theme.label, round(overall.baseline_per_week, 1), round(overall.recent_per_week, 1), unit
                )
            )
    changes = [c for c in changes if c.delta]
    return sorted(changes, key=lambda c: (-abs(c.delta), c.label))[:VOLUME_CHANGES]


def _status_changes(
    con: duckdb.DuckDBPyConnection, since: datetime, until: datetime
) -> tuple[list[StatusChange], list[StatusChange]]:
    """Hypotheses proposed in the period, and every other status change in it (hypothesis_events)."""
    rows = con.execute(
        """
        SELECT e.hypothesis_id, h.statement, h.theme_label, h.audience_label, e.from_status, e.to_status,
               e.changed_at, e.changed_by, e.why, e.manual
        FROM hypothesis_events e JOIN hypotheses h USING (hypothesis_id)
        WHERE e.changed_at > ? AND e.changed_at <= ?
        ORDER BY e.changed_at, e.hypothesis_id, e.seq
        """,
        [since, until],
    ).fetchall()
    changes = [StatusChange(*row) for row in rows]
    return [c for c in changes if c.from_status is None], [c for c in changes if c.from_status is not None]


def _alerts(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> list[Alert]:
    rows = con.execute(
        f"SELECT alert_id, kind, subject, message, raised_at, resolved_at FROM alerts WHERE {where} "
        "ORDER BY raised_at DESC, alert_id",
        params,
    ).fetchall()
    return [Alert(*row) for row in rows]


def _source_health(con: duckdb.DuckDBPyConnection) -> list[SourceHealth]:
    rows = con.execute(
        """
        SELECT source_id, kind, audience, status, items_last_run, items_total, consecutive_failures,
               last_success_at, CASE WHEN status IN ('error', 'failing') THEN last_error END
        FROM source_health WHERE enabled ORDER BY consecutive_failures DESC, source_id
        """
    ).fetchall()
    return [SourceHealth(*row) for row in rows]


# --- The stage ---------------------------------------------------------------------------------------


@logged_stage("report.write")
def report(ctx: RunContext) -> dict[str, Any]:
    """Hand validated hypotheses off as sales briefs, write this run's report and refresh the archive;
    return where it is and what it says in brief. Briefs come first so the report links to them."""
    from earshot.briefs import write_validated_briefs
    from reports.render import write_report

    briefs = write_validated_briefs(ctx)
    with reader(ctx.paths.warehouse) as con:
        content = build_content(ctx, con)
    html_path, md_path = write_report(content, ctx.paths.reports)
    summary = {
        "html": str(html_path),
        "markdown": str(md_path),
        "index": str(ctx.paths.reports / "index.html"),
        "themes": len(content.themes),
        "mentions": content.total_mentions,
        "mentions_by_audience": content.mentions_by_audience,
        "top_themes": [t.label for t in content.themes[:5]],
        "themes_run": content.themes_run,
        "period_start": content.period_start.isoformat() if content.period_start else None,
        "hypotheses": {
            "to_test": len(content.test_first),
            "testing": len(content.under_test),
            "validated": len(content.validated),
        },
        "briefs": [str(b.html) for b in briefs],
    }
    with writer(ctx.paths.warehouse) as con:
        record_run(con, ctx.run_id, "report", ctx.run_at, datetime.now(UTC), "success", summary)
    return summary
