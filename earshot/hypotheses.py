"""Hypotheses in the warehouse: proposed and re-measured from theme snapshots, tested by marketing, read
back for the CLI, the report and the sales hand-off.

The logic (rules, statements, criteria, verdicts, the status flow) lives in ``models/hypotheses.py``;
this module reads and writes. Every write runs in one transaction: a run's hypotheses, measurements,
quotes and status events commit together or not at all. Times are the caller's (the run's logical time,
or the moment a person recorded something at the CLI), never ``now()`` inside the logic.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from earshot.config import HypothesisSettings, Market
from earshot.logs import logged_stage
from earshot.runs import RunContext
from models.hypotheses import (
    ALL_AUDIENCES,
    OPEN,
    PROPOSED,
    STATUSES,
    SYSTEM,
    TESTING,
    Decision,
    Figures,
    Measurement,
    Rank,
    Result,
    Rule,
    audience_label,
    check_result,
    criteria_text,
    decide,
    expires_at,
    hypothesis_id,
    judge_result,
    matching_rules,
    parse_rate,
    parse_when,
    pick_quotes,
    plan_text,
    rank,
    short_name,
    statement,
    vs_baseline,
    why,
)
from reports.content import Quote
from warehouse.bulk import staged
from warehouse.connection import transaction, writer
from warehouse.load import record_run
from warehouse.upsert import upsert

STATUS_ORDER = ("proposed", "testing", "validated", "handed_off", "rejected", "expired")
"""How lists are ordered: what to test first, what is under test, what is ready for sales, the rest."""
DECIDED_STATUSES = ("validated", "rejected", "expired", "handed_off")

_HYPOTHESIS = {
    "hypothesis_id": "VARCHAR", "theme_id": "VARCHAR", "audience": "VARCHAR", "audience_label": "VARCHAR",
    "theme_label": "VARCHAR", "rule": "VARCHAR", "matched_rules": "VARCHAR[]", "statement": "VARCHAR",
    "why": "VARCHAR", "evidence": "JSON", "baseline": "JSON", "baseline_run_id": "VARCHAR", "test_kind": "VARCHAR",
    "test_plan": "VARCHAR", "criteria": "JSON", "criteria_text": "VARCHAR", "owner": "VARCHAR", "status": "VARCHAR",
    "status_why": "VARCHAR", "rank_score": "DOUBLE", "rank_reasons": "VARCHAR[]", "proposed_at": "TIMESTAMPTZ",
    "proposed_run_id": "VARCHAR", "updated_at": "TIMESTAMPTZ", "last_matched_at": "TIMESTAMPTZ",
    "last_matched_run_id": "VARCHAR", "test_started_at": "TIMESTAMPTZ", "expires_at": "TIMESTAMPTZ",
    "decided_at": "TIMESTAMPTZ",
}  # fmt: skip
_MEASUREMENT = {
    "hypothesis_id": "VARCHAR", "run_id": "VARCHAR", "measured_run_id": "VARCHAR", "as_of": "TIMESTAMPTZ",
    "recent_days": "INTEGER", "baseline_days": "INTEGER", "recent": "INTEGER", "baseline": "INTEGER",
    "total": "INTEGER", "rate_ratio": "DOUBLE", "p_value": "DOUBLE", "trend": "VARCHAR", "vs_baseline": "DOUBLE",
    "audience_share": "DOUBLE", "influencer_mentions": "INTEGER", "negative_share": "DOUBLE",
    "pain_share": "DOUBLE", "solution_request_share": "DOUBLE", "figures": "JSON",
}  # fmt: skip
_EVENT = {"hypothesis_id": "VARCHAR", "seq": "INTEGER", "changed_at": "TIMESTAMPTZ", "from_status": "VARCHAR",
          "to_status": "VARCHAR", "changed_by": "VARCHAR", "why": "VARCHAR", "manual": "BOOLEAN",
          "run_id": "VARCHAR"}  # fmt: skip
_TARGET = {"hypothesis_id": "VARCHAR", "theme_id": "VARCHAR", "audience": "VARCHAR"}
_QUOTE = {"hypothesis_id": "VARCHAR", "rank": "INTEGER", "mention_id": "VARCHAR", "run_id": "VARCHAR"}
_JSON_COLUMNS = ("evidence", "baseline", "criteria")


class HypothesisError(ValueError):
    """Something a person asked for cannot be done as asked (unknown id, bad value); the message says why."""


# ---------------------------------------------------------------------------------------------- views


@dataclass(frozen=True)
class ResultView:
    """A recorded test result and the verdict its criteria gave."""

    result_id: str
    kind: str
    metric: str
    value: float
    sample: int
    control: float | None
    control_sample: int | None
    note: str
    recorded_by: str
    recorded_at: datetime
    source: str
    verdict: str
    verdict_why: str


@dataclass(frozen=True)
class StatusEvent:
    """One status change: when, from what to what, by whom, why."""

    seq: int
    at: datetime
    from_status: str | None
    to_status: str
    by: str
    why: str
    manual: bool
    run_id: str | None


@dataclass(frozen=True)
class HypothesisView:
    """Everything known about one hypothesis, for the CLI, the report and the sales hand-off."""

    hypothesis_id: str
    theme_id: str
    theme_label: str
    theme_active: bool
    audience: str
    audience_label: str
    statement: str
    why: str
    rule: str
    matched_rules: list[str]
    test_kind: str
    test_plan: str
    criteria: dict[str, Any]  # the planned test's criteria
    criteria_text: str
    owner: str
    status: str
    status_why: str
    rank: Rank
    proposed_at: datetime
    proposed_run_id: str
    updated_at: datetime
    last_matched_at: datetime | None
    test_started_at: datetime | None
    expires_at: datetime | None
    decided_at: datetime | None
    evidence: Figures  # the latest figures that matched a rule
    baseline: Figures  # frozen when proposed
    baseline_run_id: str
    series: list[Measurement] = field(default_factory=list)  # oldest first
    results: list[ResultView] = field(default_factory=list)  # oldest first
    events: list[StatusEvent] = field(default_factory=list)  # oldest first
    quotes: list[Quote] = field(default_factory=list)

    @property
    def latest(self) -> Measurement | None:
        """The newest re-measurement: progress against the baseline."""
        return self.series[-1] if self.series else None

    def as_json(self) -> dict[str, Any]:
        """Plain JSON types (``earshot hypotheses list --json``)."""
        out = _jsonable(self)
        out["latest"] = _jsonable(self.latest)
        return out


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class RecordOutcome:
    """What recording a result did: its verdict and the hypothesis's status before and after."""

    result_id: str
    hypothesis_id: str
    verdict: str
    verdict_why: str
    status_before: str
    status_after: str
    status_why: str


# ----------------------------------------------------------------------------------- from market.yaml


def rules_from_settings(settings: HypothesisSettings) -> list[Rule]:
    """The enabled rules, in the order written (the first that matches proposes)."""
    return [
        Rule(r.name, (r.audience,) if isinstance(r.audience, str) else tuple(r.audience), parse_when(r.when), r.test,
             r.statement, r.owner)
        for r in settings.rules
        if r.enabled
    ]  # fmt: skip


def criteria_from_settings(settings: HypothesisSettings) -> dict[str, dict[str, Any]]:
    """Success criteria per test kind, as frozen into each hypothesis."""
    return settings.tests.model_dump()


def audience_labels(market: Market) -> dict[str, str]:
    """How statements name each audience: ``hypotheses.audience_names``, else the first clause of the
    audience's description, else a generic name."""
    names = {a.value: n for a, n in market.hypotheses.audience_names.items()}
    labels = {}
    for audience, spec in market.audiences.items():
        name = names.get(audience.value) or (short_name(spec.description) if spec.description else None)
        labels[audience.value] = audience_label(audience.value, name)
    labels[ALL_AUDIENCES] = audience_label(ALL_AUDIENCES)
    return labels


# ------------------------------------------------------------------------------------- propose, measure


@logged_stage("themes.hypotheses")
def propose_and_measure(ctx: RunContext) -> dict[str, Any]:
    """The hypotheses stage: propose from the latest theme snapshots, update what exists, re-measure every
    hypothesis against its baseline and apply the status flow, in one transaction."""
    with writer(ctx.paths.warehouse) as con, transaction(con):
        summary = update_hypotheses(con, ctx.market, run_id=ctx.run_id, at=ctx.run_at)
        record_run(con, ctx.run_id, "hypotheses", ctx.run_at, datetime.now(UTC), "success", summary)
    return summary


def update_hypotheses(con: duckdb.DuckDBPyConnection, market: Market, *, run_id: str, at: datetime) -> dict[str, Any]:
    """:func:`propose_and_measure` on an open writer connection, inside the caller's transaction."""
    from earshot.report import latest_themes_run

    settings = market.hypotheses
    summary: dict[str, Any] = {
        "themes_run": None,
        "proposed": [],
        "updated": 0,
        "measured": 0,
        "deferred": 0,
        "status_changes": {},
    }
    if not settings.enabled:
        return {**summary, "skipped": "hypotheses.enabled is false"}
    themes_run = latest_themes_run(con)
    snapshots = _snapshots(con, themes_run) if themes_run else {}
    summary["themes_run"] = themes_run
    if not snapshots:
        return {**summary, "skipped": f"no theme snapshots for themes run {themes_run} (run the trends stage)"}
    rules, criteria, labels = rules_from_settings(settings), criteria_from_settings(settings), audience_labels(market)
    names = {rule.name for rule in rules}
    rows = _rows(con)
    whole = {theme_id: figures for (theme_id, audience), (figures, _) in snapshots.items() if audience == ALL_AUDIENCES}

    fresh: list[dict[str, Any]] = []
    updated: list[dict[str, Any]] = []
    for (theme_id, audience), (figures, label) in sorted(snapshots.items()):
        theme = whole.get(theme_id)
        matched = matching_rules(rules, figures, theme)
        if not matched:
            continue
        hid = hypothesis_id(theme_id, audience)
        row = rows.get(hid)
        if row is not None and row["rule"] in names:
            # a hypothesis keeps the claim it was proposed with: another rule matching does not rewrite it
            own = [r for r in matched if r.name == row["rule"]]
            if not own:
                continue
            matched = own + [r for r in matched if r.name != row["rule"]]
        if row is None:
            row = {
                "hypothesis_id": hid,
                "theme_id": theme_id,
                "audience": audience,
                "status": PROPOSED,
                "baseline": figures.as_dict(),
                "baseline_run_id": themes_run,
                "proposed_at": at,
                "proposed_run_id": run_id,
                "test_started_at": None,
                "expires_at": None,
                "decided_at": None,
                "status_why": "waiting for a test to start",
            }
            fresh.append(row)
        else:
            updated.append(row)
        _refresh(
            row,
            matched,
            figures,
            theme,
            label,
            labels.get(audience) or audience_label(audience),
            criteria,
            settings.owner,
            at,
            themes_run,
        )
    fresh.sort(key=lambda r: (-r["rank_score"], r["hypothesis_id"]))
    summary["deferred"] = max(0, len(fresh) - settings.max_new_per_run)
    fresh = fresh[: settings.max_new_per_run]
    for row in fresh:
        rows[row["hypothesis_id"]] = row
    changed = {r["hypothesis_id"]: r for r in (*fresh, *updated)}
    _write_rows(con, list(changed.values()))
    summary["measured"] = _measure(con, rows, snapshots, themes_run, run_id)
    _pick_quotes(con, list(changed.values()), themes_run, settings.quotes)

    events = [
        _event(
            row["hypothesis_id"],
            1,
            at,
            None,
            PROPOSED,
            SYSTEM,
            f"rule {row['rule']} matched: {row['_checks']}",
            False,
            run_id,
        )
        for row in fresh
    ]
    history = _load_events(con, [r for r in rows if rows[r]["status"] in OPEN])
    results = _load_results(con, list(history))
    series = _load_series(con, list(history))
    decided: list[dict[str, Any]] = []
    fresh_ids = {r["hypothesis_id"] for r in fresh}
    for hid in sorted(history):
        row = rows[hid]
        decision = _decide(row, results.get(hid, []), series.get(hid, []), history[hid], at, settings)
        next_seq = max([e.seq for e in history[hid]], default=0) + 1 + (hid in fresh_ids)
        new_events = _apply(row, decision, at, run_id, next_seq)
        if new_events or decision.why != row.get("status_why"):
            row["status_why"] = decision.why
            decided.append(row)
        events += new_events
        if new_events:
            path = [new_events[0]["from_status"], *(e["to_status"] for e in new_events)]
            summary["status_changes"][hid] = " → ".join(path)
    _write_rows(con, decided)
    _append_events(con, events)
    summary["proposed"] = [r["hypothesis_id"] for r in fresh]
    summary["updated"] = len(updated)
    summary["open"] = sum(1 for r in rows.values() if r["status"] in OPEN)
    return summary


def _refresh(
    row: dict[str, Any],
    matched: list[Rule],
    figures: Figures,
    theme: Figures | None,
    label: str,
    who: str,
    criteria: dict[str, dict[str, Any]],
    default_owner: str,
    at: datetime,
    themes_run: str,
) -> None:
    """Update a hypothesis with this run's evidence (``matched[0]`` is its own rule). While proposed, its
    words, plan and criteria follow market.yaml as written now; once under test they stay as they were
    when the test started."""
    rule = matched[0]
    baseline = Figures.from_mapping(row["baseline"])
    score = rank(figures, theme)
    row.update(
        theme_label=label,
        audience_label=who,
        matched_rules=[r.name for r in matched],
        evidence=figures.as_dict(),
        rank_score=score.score,
        rank_reasons=list(score.reasons),
        updated_at=at,
        last_matched_at=at,
        last_matched_run_id=themes_run,
        _checks="; ".join(rule.checks(figures, theme)),
    )
    if row["status"] == PROPOSED:
        kind = rule.test
        row.update(
            rule=rule.name,
            statement=statement(rule, label, who, figures, theme),
            why=why(rule, figures, theme),
            test_kind=kind,
            criteria=criteria,
            test_plan=plan_text(kind, label, who, theme, criteria[kind]),
            criteria_text=criteria_text(kind, criteria[kind], baseline),
            owner=rule.owner or default_owner,
        )


def _snapshots(con: duckdb.DuckDBPyConnection, themes_run: str) -> dict[tuple[str, str], tuple[Figures, str]]:
    cursor = con.execute(
        "SELECT s.*, coalesce(t.label, s.theme_id) AS theme_label FROM theme_snapshots s "
        "LEFT JOIN themes t USING (theme_id) WHERE s.run_id = ? ORDER BY s.theme_id, s.audience",
        [themes_run],
    )
    names = [d[0] for d in cursor.description]
    out = {}
    for values in cursor.fetchall():
        row = dict(zip(names, values, strict=True))
        out[(row["theme_id"], row["audience"])] = (Figures.from_mapping(row), row["theme_label"])
    return out


def _rows(con: duckdb.DuckDBPyConnection, where: str = "", params: list[Any] | None = None) -> dict[str, dict]:
    cursor = con.execute(f"SELECT {', '.join(_HYPOTHESIS)} FROM hypotheses {where}", params or [])
    names = [d[0] for d in cursor.description]
    rows = {}
    for values in cursor.fetchall():
        row = dict(zip(names, values, strict=True))
        for column in _JSON_COLUMNS:
            row[column] = json.loads(row[column])
        rows[row["hypothesis_id"]] = row
    return rows


def _write_rows(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> None:
    """Upsert whole hypothesis rows (the merged state computed in Python)."""
    if not rows:
        return
    updates = [c for c in _HYPOTHESIS if c != "hypothesis_id"]
    with staged(con, "staged_hypotheses", _HYPOTHESIS, ([row[c] for c in _HYPOTHESIS] for row in rows)):
        upsert(con, "hypotheses", "staged_hypotheses", ["hypothesis_id"], updates)


def _measure(
    con: duckdb.DuckDBPyConnection,
    rows: dict[str, dict[str, Any]],
    snapshots: dict[tuple[str, str], tuple[Figures, str]],
    themes_run: str,
    run_id: str,
) -> int:
    """This themes run's partition of the series: every hypothesis whose theme and audience it carries."""
    measured = []
    for hid, row in sorted(rows.items()):
        found = snapshots.get((row["theme_id"], row["audience"]))
        if found is None:
            continue
        f = found[0]
        ratio = vs_baseline(f, Figures.from_mapping(row["baseline"]))
        measured.append(
            (
                hid,
                themes_run,
                run_id,
                f.as_of,
                f.recent_days,
                f.baseline_days,
                f.recent,
                f.baseline,
                f.total,
                f.rate_ratio,
                f.p_value,
                f.trend,
                ratio,
                f.audience_share,
                f.influencer_mentions,
                f.negative_share,
                f.pain_share,
                f.solution_request_share,
                f.as_dict(),
            )
        )
    con.execute("DELETE FROM hypothesis_measurements WHERE run_id = ?", [themes_run])
    with staged(con, "staged_measurements", _MEASUREMENT, measured):
        con.execute(
            f"INSERT INTO hypothesis_measurements ({', '.join(_MEASUREMENT)}) SELECT * FROM staged_measurements"
        )
    return len(measured)


def _pick_quotes(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]], themes_run: str, count: int) -> None:
    """Quotes from the hypothesis's own audience: the theme's representative quotes first, then the most
    central members, links first; at most two per source and no near-copies (``pick_quotes``)."""
    if not rows:
        return
    targets = [(r["hypothesis_id"], r["theme_id"], r["audience"]) for r in rows]
    with staged(con, "staged_quote_targets", _TARGET, targets):
        candidates = con.execute(
            """
            SELECT t.hypothesis_id, tm.mention_id, min(ms.source_id), any_value(coalesce(nullif(m.text, ''), m.title))
            FROM staged_quote_targets t
            JOIN theme_members tm ON tm.theme_id = t.theme_id AND tm.run_id = $run
            JOIN mention_sources ms
              ON ms.mention_id = tm.mention_id AND (t.audience = 'all' OR ms.audience = t.audience)
            JOIN mentions m ON m.mention_id = tm.mention_id
            LEFT JOIN theme_quotes q ON q.run_id = $run AND q.theme_id = t.theme_id AND q.mention_id = tm.mention_id
            GROUP BY t.hypothesis_id, tm.mention_id
            QUALIFY row_number() OVER (PARTITION BY t.hypothesis_id ORDER BY min(q.rank) NULLS LAST,
                                       any_value(m.url) IS NULL, max(tm.similarity) DESC, tm.mention_id) <= $pool
            ORDER BY t.hypothesis_id, min(q.rank) NULLS LAST, any_value(m.url) IS NULL, max(tm.similarity) DESC,
                     tm.mention_id
            """,
            {"run": themes_run, "pool": max(30, 5 * count)},
        ).fetchall()
        con.execute(
            "DELETE FROM hypothesis_quotes WHERE hypothesis_id IN (SELECT hypothesis_id FROM staged_quote_targets)"
        )
    by_hypothesis: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for hid, mention_id, source_id, text in candidates:
        by_hypothesis[hid].append((mention_id, source_id, text or ""))
    picked = [
        (hid, rank, mention_id, themes_run)
        for hid, found in sorted(by_hypothesis.items())
        for rank, mention_id in enumerate(pick_quotes(found, count))
    ]
    with staged(con, "staged_hypothesis_quotes", _QUOTE, picked):
        con.execute(
            "INSERT INTO hypothesis_quotes (hypothesis_id, rank, mention_id, run_id) "
            "SELECT * FROM staged_hypothesis_quotes"
        )


# ------------------------------------------------------------------------------------------- the flow


def _decide(
    row: dict[str, Any],
    results: list[ResultView],
    series: list[Measurement],
    history: list[StatusEvent],
    at: datetime,
    settings: HypothesisSettings | None = None,
) -> Decision:
    """Apply the status flow; after a manual change, only evidence newer than it counts."""
    since = max((e.at for e in history if e.manual), default=None)
    evidence = [_result(r) for r in results if since is None or r.recorded_at > since]
    measured = [m for m in series if since is None or m.as_of > since]
    expire_days = settings.proposal_expire_days if settings else HypothesisSettings().proposal_expire_days
    return decide(
        status=row["status"],
        plan=row["test_kind"],
        criteria=row["criteria"],
        results=evidence,
        series=measured,
        proposed_at=row["proposed_at"],
        test_started_at=row["test_started_at"],
        last_matched_at=row["last_matched_at"],
        as_of=at,
        proposal_expire_days=expire_days,
    )


def _apply(row: dict[str, Any], decision: Decision, at: datetime, run_id: str | None, seq: int) -> list[dict]:
    """Move the row along the decision's steps; one event per step."""
    events = []
    for offset, (before, after, reason) in enumerate(decision.steps):
        events.append(_event(row["hypothesis_id"], seq + offset, at, before, after, SYSTEM, reason, False, run_id))
        _enter(row, after, at, decision.started)
    return events


def _enter(row: dict[str, Any], status: str, at: datetime, started: datetime | None = None) -> None:
    """Bookkeeping of a status change: the test window opens on testing, a decision is dated."""
    previous = row["status"]
    row["status"] = status
    row["updated_at"] = at
    if status == TESTING and previous != TESTING:
        row["test_started_at"] = started or at
    elif status == PROPOSED:
        row["test_started_at"] = None
    if status in (PROPOSED, TESTING):
        row["decided_at"] = None
    elif status in DECIDED_STATUSES and previous in OPEN:
        row["decided_at"] = at
    row["expires_at"] = expires_at(row["status"], row["test_kind"], row["criteria"], row["test_started_at"])


def _event(
    hid: str,
    seq: int,
    at: datetime,
    before: str | None,
    after: str,
    by: str,
    reason: str,
    manual: bool,
    run: str | None,
) -> dict[str, Any]:
    return {
        "hypothesis_id": hid,
        "seq": seq,
        "changed_at": at,
        "from_status": before,
        "to_status": after,
        "changed_by": by,
        "why": reason,
        "manual": manual,
        "run_id": run,
    }


def _append_events(con: duckdb.DuckDBPyConnection, events: list[dict[str, Any]]) -> None:
    if events:
        with staged(con, "staged_events", _EVENT, ([e[c] for c in _EVENT] for e in events)):
            con.execute(f"INSERT INTO hypothesis_events ({', '.join(_EVENT)}) SELECT * FROM staged_events")


def _result(view: ResultView) -> Result:
    return Result(
        view.kind,
        view.metric,
        view.value,
        view.sample,
        view.recorded_by,
        view.recorded_at,
        view.control,
        view.control_sample,
        view.note,
        view.result_id,
    )


# ------------------------------------------------------------------------------- what people record


def resolve_id(con: duckdb.DuckDBPyConnection, text: str) -> str:
    """A hypothesis id, or a unique prefix of one (at least four characters)."""
    text = text.strip()
    exact = con.execute("SELECT hypothesis_id FROM hypotheses WHERE hypothesis_id = ?", [text]).fetchone()
    if exact:
        return str(exact[0])
    found = (
        [
            r[0]
            for r in con.execute(
                "SELECT hypothesis_id FROM hypotheses WHERE starts_with(hypothesis_id, ?) ORDER BY 1 LIMIT 6", [text]
            ).fetchall()
        ]
        if len(text) >= 4
        else []
    )
    if len(found) == 1:
        return str(found[0])
    if found:
        raise HypothesisError(f"{text!r} matches several hypotheses ({', '.join(found[:5])}); give more of the id")
    raise HypothesisError(f"no hypothesis {text!r} (see `earshot hypotheses list`)")


def record_result(
    con: duckdb.DuckDBPyConnection,
    hypothesis: str,
    *,
    kind: str,
    metric: str,
    value: str | float,
    recorded_by: str,
    at: datetime,
    sample: int | None = None,
    control: str | float | None = None,
    control_sample: int | None = None,
    note: str = "",
    source: str = "cli",
    source_run_id: str | None = None,
) -> RecordOutcome:
    """Record one test result, judge it by the hypothesis's criteria for its kind, and apply the status
    flow, in one transaction. An Airflow run (``source_run_id``) records at most one result: a retried
    task replaces its own row instead of adding a second one.

    Values are rates or shares: ``0.052``, ``5.2%`` or ``21/400`` (which also gives the sample).
    """
    try:
        rate, counted = parse_rate(value)
        if counted is not None and sample is not None and counted != sample:
            raise ValueError(f"value {value!r} says the sample is {counted}, but sample says {sample}")
        sample = sample if sample is not None else counted
        if sample is None:
            raise ValueError("sample: how many were reached or asked (--sample N), or write the value as 21/400")
        control_rate, control_counted = (None, None) if control in (None, "") else parse_rate(control)  # type: ignore[arg-type]
        if control_counted is not None and control_sample is not None and control_counted != control_sample:
            raise ValueError(
                f"control {control!r} says its sample is {control_counted}, but control sample says {control_sample}"
            )
        control_sample = control_sample if control_sample is not None else control_counted
        result = Result(
            kind, metric.strip(), rate, int(sample), recorded_by.strip(), at, control_rate, control_sample, note or ""
        )
        check_result(result)
    except ValueError as exc:
        raise HypothesisError(str(exc)) from None
    with transaction(con):
        hid = resolve_id(con, hypothesis)
        row = _rows(con, "WHERE hypothesis_id = ?", [hid])[hid]
        judgement = judge_result(result, row["criteria"][kind])
        key = (
            f"airflow:{source_run_id}"
            if source_run_id
            else "|".join(map(str, (hid, kind, metric, rate, sample, control_rate, recorded_by, at.isoformat())))
        )
        result_id = "r_" + hashlib.sha256(key.encode()).hexdigest()[:12]
        columns = {
            "result_id": "VARCHAR", "hypothesis_id": "VARCHAR", "kind": "VARCHAR", "metric": "VARCHAR",
            "value": "DOUBLE", "sample": "INTEGER", "control": "DOUBLE", "control_sample": "INTEGER", "note": "VARCHAR",
            "recorded_by": "VARCHAR", "recorded_at": "TIMESTAMPTZ", "source": "VARCHAR", "source_run_id": "VARCHAR",
            "verdict": "VARCHAR", "verdict_why": "VARCHAR",
        }  # fmt: skip
        upsert(  # a result recorded again (same key) replaces the earlier one, as INSERT OR REPLACE did
            con,
            "hypothesis_results",
            "SELECT " + ", ".join(f"?::{kind} AS {column}" for column, kind in columns.items()),
            ["result_id"],
            [c for c in columns if c != "result_id"],
            [
                result_id,
                hid,
                kind,
                result.metric,
                rate,
                result.sample,
                control_rate,
                control_sample,
                result.note,
                result.recorded_by,
                at,
                source,
                source_run_id,
                judgement.verdict,
                judgement.why,
            ],
        )
        before = row["status"]
        status_why = _reevaluate(con, row, at, source_run_id)
        if before not in OPEN:
            status_why = (
                f"{before} is a decision and stays; the result is kept (reopen it with `earshot hypotheses "
                "set-status` to let results move it)"
            )
    return RecordOutcome(result_id, hid, judgement.verdict, judgement.why, before, row["status"], status_why)


def _reevaluate(con: duckdb.DuckDBPyConnection, row: dict[str, Any], at: datetime, run_id: str | None) -> str:
    """Apply the status flow to one hypothesis now; write the row and any events."""
    hid = row["hypothesis_id"]
    history = _load_events(con, [hid])[hid]
    decision = _decide(row, _load_results(con, [hid]).get(hid, []), _load_series(con, [hid]).get(hid, []), history, at)
    events = _apply(row, decision, at, run_id, max([e.seq for e in history], default=0) + 1)
    if row["status"] in OPEN or events:  # a verdict just reached explains itself too
        row["status_why"] = decision.why
    row["updated_at"] = at
    _write_rows(con, [row])
    _append_events(con, events)
    return decision.why


def set_status(
    con: duckdb.DuckDBPyConnection,
    hypothesis: str,
    status: str,
    *,
    by: str,
    why: str,
    at: datetime,
    run_id: str | None = None,
    manual: bool = True,
) -> StatusEvent | None:
    """Change a status (kept in the history like any change); ``None`` when it already had it.
    The sales hand-off uses this to set ``handed_off`` with ``manual=False``: the pipeline did it."""
    if status not in STATUSES:
        raise HypothesisError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    if not by.strip():
        raise HypothesisError("by: say who is changing the status")
    if not why.strip():
        raise HypothesisError("why: say why the status changes (it is kept in the history)")
    with transaction(con):
        hid = resolve_id(con, hypothesis)
        row = _rows(con, "WHERE hypothesis_id = ?", [hid])[hid]
        before = row["status"]
        if before == status:
            return None
        history = _load_events(con, [hid])[hid]
        seq = max([e.seq for e in history], default=0) + 1
        event = _event(hid, seq, at, before, status, by.strip(), why.strip(), manual, run_id)
        _enter(row, status, at)
        row["status_why"] = f"set by {by.strip()}: {why.strip()}" if manual else why.strip()
        _write_rows(con, [row])
        _append_events(con, [event])
    return StatusEvent(seq, at, before, status, by.strip(), why.strip(), manual, run_id)


def record_from_params(db_path: Path, params: dict[str, Any], *, run_id: str, at: datetime) -> dict[str, Any]:
    """The ``earshot_hypotheses_record`` DAG's task: record the result given as DAG run params."""

    def optional_int(name: str) -> int | None:
        value = params.get(name)
        if value in (None, ""):
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise HypothesisError(f"{name}: {value!r} is not a whole number") from None

    missing = [n for n in ("hypothesis_id", "kind", "metric", "value", "recorded_by") if params.get(n) in (None, "")]
    if missing:
        raise HypothesisError(f"missing params: {', '.join(missing)} (Trigger DAG w/ config and fill them in)")
    with writer(db_path) as con:
        outcome = record_result(
            con,
            str(params["hypothesis_id"]),
            kind=str(params["kind"]),
            metric=str(params["metric"]),
            value=params["value"],
            sample=optional_int("sample"),
            control=params.get("control"),
            control_sample=optional_int("control_sample"),
            recorded_by=str(params["recorded_by"]),
            note=str(params.get("note") or ""),
            at=at,
            source="airflow",
            source_run_id=run_id,
        )
    return asdict(outcome)


# ------------------------------------------------------------------------------------------- reading


def load_hypotheses(
    con: duckdb.DuckDBPyConnection, status: str | None = None, ids: list[str] | None = None
) -> list[HypothesisView]:
    """Hypotheses with their evidence, baseline, series, results, history and quotes: to test first
    (proposed, best ranked first), under test, validated, handed off, then rejected and expired."""
    if status is not None and status not in STATUSES:
        raise HypothesisError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    clauses, params = [], []
    if status:
        clauses.append("status = ?")
        params.append(status)
    if ids is not None:
        clauses.append("list_contains(?, hypothesis_id)")
        params.append(ids)
    rows = _rows(con, ("WHERE " + " AND ".join(clauses)) if clauses else "", params)
    chosen = list(rows)
    active = dict(
        con.execute(
            "SELECT theme_id, active FROM themes WHERE list_contains(?, theme_id)",
            [[r["theme_id"] for r in rows.values()]],
        ).fetchall()
    )
    series, results = _load_series(con, chosen), _load_results(con, chosen)
    events, quotes = _load_events(con, chosen), _load_quotes(con, chosen)
    views = [
        HypothesisView(
            hypothesis_id=hid,
            theme_id=r["theme_id"],
            theme_label=r["theme_label"],
            theme_active=bool(active.get(r["theme_id"], False)),
            audience=r["audience"],
            audience_label=r["audience_label"],
            statement=r["statement"],
            why=r["why"],
            rule=r["rule"],
            matched_rules=list(r["matched_rules"]),
            test_kind=r["test_kind"],
            test_plan=r["test_plan"],
            criteria=dict(r["criteria"].get(r["test_kind"], {})),
            criteria_text=r["criteria_text"],
            owner=r["owner"],
            status=r["status"],
            status_why=r["status_why"] or "",
            rank=Rank(r["rank_score"], tuple(r["rank_reasons"])),
            proposed_at=r["proposed_at"],
            proposed_run_id=r["proposed_run_id"],
            updated_at=r["updated_at"],
            last_matched_at=r["last_matched_at"],
            test_started_at=r["test_started_at"],
            expires_at=r["expires_at"],
            decided_at=r["decided_at"],
            evidence=Figures.from_mapping(r["evidence"]),
            baseline=Figures.from_mapping(r["baseline"]),
            baseline_run_id=r["baseline_run_id"],
            series=series.get(hid, []),
            results=results.get(hid, []),
            events=events.get(hid, []),
            quotes=quotes.get(hid, []),
        )
        for hid, r in rows.items()
    ]
    return sorted(views, key=lambda v: (STATUS_ORDER.index(v.status), -v.rank.score, v.hypothesis_id))


def load_hypothesis(con: duckdb.DuckDBPyConnection, hypothesis: str) -> HypothesisView:
    """One hypothesis by id or unique id prefix; :class:`HypothesisError` when there is none."""
    return load_hypotheses(con, ids=[resolve_id(con, hypothesis)])[0]


def to_test_first(views: list[HypothesisView], limit: int | None = None) -> list[HypothesisView]:
    """Proposed hypotheses, best ranked first: what the report recommends testing next."""
    ranked = sorted((v for v in views if v.status == PROPOSED), key=lambda v: (-v.rank.score, v.hypothesis_id))
    return ranked[:limit] if limit is not None else ranked


def _load_series(con: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, list[Measurement]]:
    out: dict[str, list[Measurement]] = defaultdict(list)
    for hid, run_id, as_of, ratio, figures in con.execute(
        "SELECT hypothesis_id, run_id, as_of, vs_baseline, figures FROM hypothesis_measurements "
        "WHERE list_contains(?, hypothesis_id) ORDER BY hypothesis_id, as_of, run_id",
        [ids],
    ).fetchall():
        out[hid].append(Measurement(run_id, as_of, Figures.from_mapping(json.loads(figures)), ratio))
    return out


def _load_results(con: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, list[ResultView]]:
    out: dict[str, list[ResultView]] = defaultdict(list)
    for hid, *values in con.execute(
        "SELECT hypothesis_id, result_id, kind, metric, value, sample, control, control_sample, note, recorded_by, "
        "recorded_at, source, verdict, verdict_why FROM hypothesis_results WHERE list_contains(?, hypothesis_id) "
        "ORDER BY hypothesis_id, recorded_at, result_id",
        [ids],
    ).fetchall():
        out[hid].append(ResultView(*values))
    return out


def _load_events(con: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, list[StatusEvent]]:
    out: dict[str, list[StatusEvent]] = {hid: [] for hid in ids}
    for hid, *values in con.execute(
        "SELECT hypothesis_id, seq, changed_at, from_status, to_status, changed_by, why, manual, run_id "
        "FROM hypothesis_events WHERE list_contains(?, hypothesis_id) ORDER BY hypothesis_id, seq",
        [ids],
    ).fetchall():
        out[hid].append(StatusEvent(*values))
    return out


def _load_quotes(con: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, list[Quote]]:
    from models.quotes import excerpt

    out: dict[str, list[Quote]] = defaultdict(list)
    for hid, text, url, source_id, audience, author, published in con.execute(
        """
        SELECT q.hypothesis_id, coalesce(nullif(m.text, ''), m.title), m.url, m.source_id, m.audience, m.author,
               m.published_at
        FROM hypothesis_quotes q JOIN mentions m USING (mention_id)
        WHERE list_contains(?, q.hypothesis_id) ORDER BY q.hypothesis_id, q.rank
        """,
        [ids],
    ).fetchall():
        out[hid].append(Quote(excerpt(text or ""), url, source_id, audience, author, published))
    return out


def read_hypotheses(db_path: Path, status: str | None = None, hypothesis: str | None = None) -> list[HypothesisView]:
    """From a read-only connection (the CLI): all hypotheses, those with ``status``, or one by id."""
    from warehouse.connection import reader

    if not Path(db_path).exists():
        raise HypothesisError(f"no warehouse at {db_path}: run `earshot run` first")
    with reader(db_path) as con:
        try:
            return [load_hypothesis(con, hypothesis)] if hypothesis else load_hypotheses(con, status)
        except duckdb.CatalogException:
            raise HypothesisError(
                f"the warehouse at {db_path} has no hypotheses yet: run `earshot run` to propose them"
            ) from None


# ---------------------------------------------------------------------------------------------- words


def _day(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d}" if value else "—"


def _progress(view: HypothesisView) -> str:
    latest = view.latest
    return f"{latest.vs_baseline:.1f}× baseline" if latest else "not measured"


def format_list(views: list[HypothesisView]) -> str:
    """``earshot hypotheses list``: one line of facts per hypothesis, then its statement."""
    if not views:
        return "no hypotheses (they are proposed by `earshot run` from the theme snapshots)"
    lines = []
    for view in views:
        lines.append(
            f"{view.hypothesis_id}  {view.status:<10} rank {view.rank.score:4.1f}  {view.audience:<19} "
            f"{view.test_kind:<15} {_progress(view):<16} {view.theme_label}"
        )
        lines.append(f"    {view.statement}")
    return "\n".join(lines)


def format_view(view: HypothesisView) -> str:
    """``earshot hypotheses show``: everything a marketer needs to act on one hypothesis."""
    also = [r for r in view.matched_rules if r != view.rule]
    lines = [
        f"{view.hypothesis_id} · {view.status} · rank {view.rank.score:.1f}",
        view.statement,
        "",
        f"audience   {view.audience_label} [{view.audience}]",
        f"theme      {view.theme_label} [{view.theme_id}{'' if view.theme_active else ', no longer active'}]",
        f"owner      {view.owner}",
        f"rule       {view.rule}" + (f" (also matches: {', '.join(also)})" if also else ""),
        f"status     {view.status}" + (f": {view.status_why}" if view.status_why else ""),
        f"dates      proposed {_day(view.proposed_at)} · test started {_day(view.test_started_at)} · "
        f"expires {_day(view.expires_at)} · decided {_day(view.decided_at)}",
        "",
        "why",
        f"  {view.why}",
        "  ranked for: " + ("; ".join(view.rank.reasons) or "—"),
        "",
        "test plan",
        f"  {view.test_plan}",
        "success criteria",
        f"  {view.criteria_text}",
        "",
        "against the baseline (mentions in the recent window, per week, × the frozen baseline rate)",
    ]
    base = view.baseline
    lines.append(
        f"  baseline  {_day(base.as_of)}  {base.recent:>4} recent  {base.baseline:>4} before "
        f"({base.baseline_per_week:.1f}/week)  trend {base.trend}  pain {base.pain_share:.0%}  "
        f"run {view.baseline_run_id}"
    )
    for m in view.series:
        f = m.figures
        lines.append(
            f"  measured  {_day(m.as_of)}  {f.recent:>4} recent  {f.recent_per_week:>5.1f}/week  "
            f"{m.vs_baseline:>5.1f}× baseline  trend {f.trend}  pain {f.pain_share:.0%}  run {m.run_id}"
        )
    lines += ["", "results"]
    lines += [
        f"  {_day(r.recorded_at)}  {r.kind} by {r.recorded_by}: {r.verdict} · {r.verdict_why}"
        + (f" · note: {r.note}" if r.note else "")
        for r in view.results
    ] or ["  none recorded yet (`earshot hypotheses record`)"]
    lines += ["", "history"]
    lines += [
        f"  {e.at:%Y-%m-%d %H:%M}  {e.from_status or '—'} → {e.to_status} by {e.by}"
        + (" (by hand)" if e.manual else "")
        + f": {e.why}"
        for e in view.events
    ]
    lines += ["", "quotes"]
    lines += [
        f"  “{q.text}” — {q.author or q.source_id} ({q.audience})" + (f" {q.url}" if q.url else "") for q in view.quotes
    ] or ["  none"]
    return "\n".join(lines)
