"""The trends stage: per theme and audience, volume per period and a significance-tested trend.

DuckDB does the counting (window counts, mentions per day, signals, influencer voices) over the
memberships of one themes run; ``models.trends`` does the maths (the exact rate test, the trend and
emerging rules, spread, echo). Both tables are a partition per themes run, replaced in one transaction,
so re-running a snapshot gives identical rows. Windows end at the run's logical time, never at ``now()``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

from earshot.config import TrendSettings
from earshot.logs import logged_stage
from earshot.report import latest_themes_run
from earshot.runs import RunContext
from models.trends import Assessment, TrendRule, Window, assess, bucket, echo, spread
from warehouse.bulk import staged
from warehouse.connection import transaction, writer
from warehouse.load import record_run

ALL = "all"
"""The audience key of the rows that count every mention once, whichever audiences carried it."""
INTENTS = ("pain", "solution_request", "advice_request", "praise", "pricing", "competitor")
"""The intents with a ``<intent>_share`` column in theme_snapshots (models.signals.INTENTS)."""

_VOLUME = {"run_id": "VARCHAR", "theme_id": "VARCHAR", "audience": "VARCHAR", "period_start": "DATE",
           "mentions": "INTEGER", "period": "VARCHAR"}  # fmt: skip
_SNAPSHOT = {
    "run_id": "VARCHAR", "theme_id": "VARCHAR", "audience": "VARCHAR", "as_of": "TIMESTAMPTZ",
    "recent_days": "INTEGER", "baseline_days": "INTEGER", "recent": "INTEGER", "baseline": "INTEGER",
    "total": "INTEGER", "rate_ratio": "DOUBLE", "p_value": "DOUBLE", "p_value_down": "DOUBLE", "trend": "VARCHAR",
    "emerging": "BOOLEAN", "audience_share": "DOUBLE", "audiences": "INTEGER", "spread": "DOUBLE",
    "influencer_mentions": "INTEGER", "influencers": "VARCHAR[]", "negative_share": "DOUBLE",
    "positive_share": "DOUBLE", **{f"{intent}_share": "DOUBLE" for intent in INTENTS},
    "first_seen_at": "TIMESTAMPTZ", "explanation": "VARCHAR",
}  # fmt: skip


def trend_rule(settings: TrendSettings) -> TrendRule:
    """The pure rule from the user's settings."""
    return TrendRule(
        alpha=settings.alpha,
        min_recent=settings.min_recent,
        min_mentions=settings.min_mentions,
        emerging_days=settings.emerging_days,
        emerging_ratio=settings.emerging_ratio,
    )


@dataclass(frozen=True)
class _Slice:
    """Counts for one theme × audience, straight from SQL."""

    recent: int
    baseline: int
    prior: int
    total: int
    first_at: datetime


@logged_stage("themes.trends")
def snapshot(ctx: RunContext, themes_run: str | None = None) -> dict[str, Any]:
    """Compute theme_volume and theme_snapshots for ``themes_run`` (default: the latest successful themes
    run) as of ``ctx.run_at``, replacing that run's partition of both tables in one transaction.

    Returns a small summary for XCom and the CLI: the run counted, row counts, and the emerging themes.
    """
    settings = ctx.market.trends
    as_of = ctx.run_at.astimezone(UTC)
    declared = {audience.value for audience in ctx.market.audiences}
    with writer(ctx.paths.warehouse) as con, transaction(con):
        run_id = themes_run or latest_themes_run(con)
        if run_id is None:
            return {"themes_run": None, "as_of": as_of.isoformat(), "themes": 0, "snapshots": 0, "volume_rows": 0,
                    "emerging": []}  # fmt: skip
        _check_run(con, run_id)
        _collect(con, run_id)
        slices = _windows(con, as_of, settings)
        daily = _daily(con)
        signals = _signals(con)
        voices = _voices(con)
        labels = dict(con.execute("SELECT theme_id, label FROM themes").fetchall())
        volume_rows = _volume_rows(run_id, daily, settings, as_of)
        snapshot_rows, verdicts = _snapshot_rows(run_id, slices, signals, voices, declared, settings, as_of)
        con.execute("DELETE FROM theme_volume WHERE run_id = ?", [run_id])
        con.execute("DELETE FROM theme_snapshots WHERE run_id = ?", [run_id])
        with staged(con, "staged_theme_volume", _VOLUME, volume_rows):
            con.execute(f"INSERT INTO theme_volume ({', '.join(_VOLUME)}) SELECT * FROM staged_theme_volume")
        with staged(con, "staged_theme_snapshots", _SNAPSHOT, snapshot_rows):
            con.execute(f"INSERT INTO theme_snapshots ({', '.join(_SNAPSHOT)}) SELECT * FROM staged_theme_snapshots")
        con.execute("DROP TABLE IF EXISTS trend_heard")
        summary = {
            "themes_run": run_id,
            "as_of": as_of.isoformat(),
            "themes": len({theme for theme, _ in slices}),
            "snapshots": len(snapshot_rows),
            "volume_rows": len(volume_rows),
            "emerging": _emerging(verdicts, slices, labels),
        }
        record_run(con, ctx.run_id, "trends", ctx.run_at, datetime.now(UTC), "success", summary)
    return summary


def _check_run(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    row = con.execute("SELECT status FROM runs WHERE run_id = ? AND stage = 'themes'", [run_id]).fetchone()
    if row is None:
        raise ValueError(f"trends: no themes run {run_id!r} in the warehouse (runs table, stage 'themes')")
    if row[0] != "success":
        raise ValueError(f"trends: themes run {run_id!r} did not succeed (status {row[0]!r}); pick another run")


def _collect(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """``trend_heard``: one row per theme × audience × mention (and per theme × 'all' × mention), with the
    mention's time. Audiences come from provenance: a conversation heard in two audiences counts in both."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE trend_heard AS
        WITH member AS (
            SELECT tm.theme_id, m.mention_id, coalesce(m.published_at, m.first_seen_at) AS heard_at
            FROM theme_members tm JOIN mentions m USING (mention_id) WHERE tm.run_id = $run
        ), carried AS (
            SELECT ms.mention_id, ms.audience FROM mention_sources ms SEMI JOIN member USING (mention_id)
            UNION
            SELECT m.mention_id, m.audience FROM mentions m SEMI JOIN member USING (mention_id)
        )
        SELECT member.theme_id, carried.audience, member.mention_id, member.heard_at
        FROM member JOIN carried USING (mention_id)
        UNION ALL
        SELECT theme_id, $all, mention_id, heard_at FROM member
        """,
        {"run": run_id, "all": ALL},
    )


def _windows(con: duckdb.DuckDBPyConnection, as_of: datetime, settings: TrendSettings) -> dict[tuple[str, str], _Slice]:
    recent_start = as_of - timedelta(days=settings.recent_days)
    baseline_start = recent_start - timedelta(days=settings.baseline_days)
    rows = con.execute(
        """
        SELECT theme_id, audience,
               count(*) FILTER (WHERE heard_at > $recent_start AND heard_at <= $as_of),
               count(*) FILTER (WHERE heard_at > $baseline_start AND heard_at <= $recent_start),
               count(*) FILTER (WHERE heard_at <= $recent_start),
               count(*), min(heard_at)
        FROM trend_heard GROUP BY ALL ORDER BY 1, 2
        """,
        {"as_of": as_of, "recent_start": recent_start, "baseline_start": baseline_start},
    ).fetchall()
    return {(theme, audience): _Slice(*counts) for theme, audience, *counts in rows}


def _daily(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], dict[date, int]]:
    """Distinct mentions per UTC day; models.trends.bucket sums them into periods."""
    out: dict[tuple[str, str], dict[date, int]] = defaultdict(dict)
    for theme, audience, day, n in con.execute(
        "SELECT theme_id, audience, (heard_at AT TIME ZONE 'UTC')::DATE, count(*) FROM trend_heard GROUP BY ALL"
    ).fetchall():
        out[(theme, audience)][day] = n
    return out


def _signals(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], dict[str, float]]:
    """Per slice, the shares of its scored mentions that are negative, positive, and carry each intent."""
    intents = ", ".join(f"count(*) FILTER (WHERE list_contains(s.intents, '{intent}'))" for intent in INTENTS)
    rows = con.execute(
        f"""
        SELECT h.theme_id, h.audience, count(*),
               count(*) FILTER (WHERE s.sentiment_label = 'negative'),
               count(*) FILTER (WHERE s.sentiment_label = 'positive'), {intents}
        FROM trend_heard h JOIN mention_signals s USING (mention_id) GROUP BY ALL
        """
    ).fetchall()
    names = ["negative", "positive", *INTENTS]
    return {(theme, audience): {n: c / scored for n, c in zip(names, counts, strict=True)}
            for theme, audience, scored, *counts in rows}  # fmt: skip


def _voices(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """Per slice, ``(mention_id, who)`` for influencer mentions: the source id when the whole source is an
    influencer's, else the author named as one (``influencer_authors``)."""
    rows = con.execute(
        """
        WITH voice AS (
            SELECT ms.mention_id,
                   CASE WHEN coalesce(s.influencer, FALSE) THEN ms.source_id
                        ELSE coalesce(nullif(trim(ms.author), ''), ms.source_id) END AS who
            FROM mention_sources ms LEFT JOIN sources s USING (source_id)
            WHERE ms.influencer OR coalesce(s.influencer, FALSE)
            UNION
            SELECT m.mention_id,
                   CASE WHEN coalesce(s.influencer, FALSE) THEN m.source_id
                        ELSE coalesce(nullif(trim(m.author), ''), m.source_id) END
            FROM mentions m LEFT JOIN sources s USING (source_id) WHERE m.influencer
        )
        SELECT h.theme_id, h.audience, h.mention_id, v.who FROM trend_heard h JOIN voice v USING (mention_id)
        """
    ).fetchall()
    out: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for theme, audience, mention_id, who in rows:
        out[(theme, audience)].append((mention_id, who))
    return out


def _volume_rows(
    run_id: str, daily: dict[tuple[str, str], dict[date, int]], settings: TrendSettings, as_of: datetime
) -> list[tuple]:
    rows = []
    for (theme, audience), days in sorted(daily.items()):
        for start, n in bucket(days, settings.period, until=as_of.date()).items():
            rows.append((run_id, theme, audience, start.isoformat(), n, settings.period))  # staged as ISO text
    return rows


def _snapshot_rows(
    run_id: str,
    slices: dict[tuple[str, str], _Slice],
    signals: dict[tuple[str, str], dict[str, float]],
    voices: dict[tuple[str, str], list[tuple[str, str]]],
    declared: set[str],
    settings: TrendSettings,
    as_of: datetime,
) -> tuple[list[tuple], dict[tuple[str, str], Assessment]]:
    rule = trend_rule(settings)
    by_theme: dict[str, dict[str, int]] = defaultdict(dict)
    for (theme, audience), counts in slices.items():
        if audience != ALL:
            by_theme[theme][audience] = counts.total
    universe = len(declared | {audience for mix in by_theme.values() for audience in mix})
    rows, verdicts = [], {}
    for (theme, audience), counts in sorted(slices.items()):
        window = Window(
            recent=counts.recent,
            baseline=counts.baseline,
            prior=counts.prior,
            recent_days=settings.recent_days,
            baseline_days=settings.baseline_days,
            age_days=(as_of - counts.first_at).total_seconds() / 86400,
        )
        verdict = verdicts[(theme, audience)] = assess(window, rule)
        mix = by_theme[theme]
        theme_total = slices[(theme, ALL)].total
        heard = echo(voices.get((theme, audience), []))
        shares = signals.get((theme, audience), {})
        rows.append(
            (
                run_id, theme, audience, as_of, settings.recent_days, settings.baseline_days,
                counts.recent, counts.baseline, counts.total, verdict.rate_ratio, verdict.p_value,
                verdict.p_value_down, verdict.trend, verdict.emerging,
                1.0 if audience == ALL else counts.total / theme_total,
                len(mix), spread(mix, universe), heard.mentions, heard.voices,
                shares.get("negative", 0.0), shares.get("positive", 0.0),
                *(shares.get(intent, 0.0) for intent in INTENTS),
                counts.first_at, verdict.explanation,
            )
        )  # fmt: skip
    return rows, verdicts


def _emerging(
    verdicts: dict[tuple[str, str], Assessment], slices: dict[tuple[str, str], _Slice], labels: dict[str, str]
) -> list[dict[str, Any]]:
    """Themes emerging in all or in some audience, most significant overall first."""
    where: dict[str, list[str]] = defaultdict(list)
    for (theme, audience), verdict in sorted(verdicts.items()):
        if verdict.emerging:
            where[theme].append(audience)
    out = []
    for theme, audiences in where.items():
        overall, counts = verdicts[(theme, ALL)], slices[(theme, ALL)]
        out.append(
            {
                "theme_id": theme,
                "label": labels.get(theme, theme),
                "audiences": audiences,
                "trend": overall.trend,
                "recent": counts.recent,
                "baseline": counts.baseline,
                "p_value": overall.p_value,
            }
        )
    return sorted(out, key=lambda e: (ALL not in e["audiences"], e["p_value"], e["theme_id"]))
