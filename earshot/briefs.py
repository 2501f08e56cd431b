"""Sales briefs from the warehouse: refuse what is not validated, record the hand-off, write the files.

Only a validated hypothesis goes to sales (the product brief: test against a baseline, *then* hand off).
Writing its brief moves it to ``handed_off`` through the hypotheses API (``set_status``), so the status
history says when sales got it and from whom. What the brief says is decided in ``reports/brief.py``;
this module reads the warehouse and writes ``brief.html``, ``brief.md``, ``brief.csv`` and ``brief.json``
under ``$EARSHOT_HOME/reports/briefs/<hypothesis_id>/``.

The report stage calls :func:`write_validated_briefs`, so validated hypotheses are handed off on the next
run without anyone asking; re-running it rewrites the same bytes (the hand-off is recorded once, and the
brief carries evidence times only, never the time it was written).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from earshot.config import Market
from earshot.hypotheses import HypothesisView, load_hypothesis, set_status
from earshot.logs import logged_stage
from earshot.runs import RunContext
from models.hypotheses import (
    EXPIRED,
    HANDED_OFF,
    LISTENING_WATCH,
    PROPOSED,
    REJECTED,
    SYSTEM,
    TESTING,
    VALIDATED,
)
from models.quotes import excerpt
from reports.brief import BRIEFABLE, MAX_READINGS, Brief, Reading, build_brief, render_csv, render_html, render_json
from reports.brief import render_markdown as render_brief_markdown
from reports.render import write_atomically
from warehouse.connection import writer

HANDOFF_WHY = "sales brief written (HTML, Markdown, CSV and JSON for the CRM)"
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")


class BriefError(ValueError):
    """A brief cannot be written as asked (not validated, no warehouse); the message says why in words."""


@dataclass(frozen=True)
class BriefPaths:
    """Where one brief was written, and whether this call recorded the hand-off."""

    hypothesis_id: str
    folder: Path
    html: Path
    markdown: Path
    csv: Path
    json: Path
    handed_off_now: bool  # False: it had been handed off before, and the files were rewritten


# ----------------------------------------------------------------------------------------------- refusals


def _decision_why(view: HypothesisView) -> str:
    """Why it has its status: the event that set it (``status_why`` is not refreshed by every path to a decision)."""
    events = [e for e in view.events if e.to_status == view.status]
    return events[-1].why if events else view.status_why


def refusal(view: HypothesisView) -> str | None:
    """Why ``view`` cannot go to sales, naming its status and what is missing; ``None`` when it can."""
    hid, status, kind = view.hypothesis_id, view.status, view.test_kind
    needs = "a brief needs status validated"
    if status in BRIEFABLE:
        return None
    if status == PROPOSED:
        return (
            f"hypothesis {hid} is 'proposed': no test has started ({view.status_why or 'waiting for a test to start'})"
            f"; test it first — {view.test_plan.rstrip('.')}; {needs}"
        )
    if status == TESTING:
        if kind == LISTENING_WATCH:
            progress = view.status_why or "not re-measured since the proposal yet"
        elif not view.results:
            progress = (
                f"no {kind} result recorded yet (record it with `earshot hypotheses record {hid} --kind {kind} …`)"
            )
        else:
            count = len(view.results)
            latest = view.results[-1]
            progress = (
                f"{count} {kind} result{'s' if count != 1 else ''} recorded, the latest {latest.verdict}: "
                f"{view.status_why or latest.verdict_why}"
            )
        return f"hypothesis {hid} is 'testing': {progress}; {needs}"
    if status in (REJECTED, EXPIRED):
        verb = "was rejected" if status == REJECTED else "expired"
        when = f" on {view.decided_at:%Y-%m-%d}" if view.decided_at else ""
        return (
            f"hypothesis {hid} {verb}{when}: {_decision_why(view) or 'no reason recorded'}; only validated hypotheses "
            "go to sales"
        )
    return f"hypothesis {hid} is {status!r}; {needs}"


# ------------------------------------------------------------------------------------------------ reading


def _keywords(con: duckdb.DuckDBPyConnection, theme_id: str) -> list[str]:
    row = con.execute("SELECT keywords FROM themes WHERE theme_id = ?", [theme_id]).fetchone()
    return [str(k) for k in (row[0] if row and row[0] else [])]


def _readings(con: duckdb.DuckDBPyConnection, theme_id: str, market: Market) -> list[Reading]:
    """Influencer content on the theme, newest first: an influencer source or author, or the influencers
    audience, in any themes run that placed it in the theme."""
    names = {source.id: source.name or source.id for source in market.sources}
    rows = con.execute(
        """
        SELECT coalesce(nullif(trim(m.title), ''), m.text), m.url, m.author, m.published_at, m.source_id
        FROM mentions m
        WHERE m.mention_id IN (SELECT mention_id FROM theme_members WHERE theme_id = $theme)
          AND (m.influencer OR m.audience = 'influencers' OR EXISTS (
                SELECT 1 FROM mention_sources ms LEFT JOIN sources s USING (source_id)
                WHERE ms.mention_id = m.mention_id
                  AND (ms.influencer OR ms.audience = 'influencers' OR coalesce(s.influencer, FALSE))))
        ORDER BY m.published_at DESC NULLS LAST, m.mention_id
        LIMIT $limit
        """,
        {"theme": theme_id, "limit": MAX_READINGS},
    ).fetchall()
    return [
        Reading(excerpt(title or "", 160), url, names.get(source_id, source_id), author, published)
        for title, url, author, published, source_id in rows
    ]


def _hand_off(
    con: duckdb.DuckDBPyConnection, hypothesis: str, market: Market, *, at: datetime, by: str
) -> tuple[Brief, bool]:
    """Load one hypothesis, refuse it unless validated, record the hand-off (once), and build its brief."""
    view = load_hypothesis(con, hypothesis)
    reason = refusal(view)
    if reason:
        raise BriefError(reason)
    handed = False
    if view.status == VALIDATED:
        set_status(con, view.hypothesis_id, HANDED_OFF, by=by, why=HANDOFF_WHY, at=at, manual=by != SYSTEM)
        view = load_hypothesis(con, view.hypothesis_id)
        handed = True
    brief = build_brief(
        view, market, keywords=_keywords(con, view.theme_id), readings=_readings(con, view.theme_id, market)
    )
    return brief, handed


# ------------------------------------------------------------------------------------------------ writing


def briefs_folder(reports_folder: Path, hypothesis_id: str) -> Path:
    """``<reports>/briefs/<hypothesis_id>``: one folder per hypothesis, rewritten in place."""
    name = _UNSAFE_NAME.sub("_", hypothesis_id)
    return Path(reports_folder) / "briefs" / (name if name.strip(".") else f"h_{name}")


def write_files(brief: Brief, folder: Path, *, handed_off_now: bool = False) -> BriefPaths:
    """Render the four formats, then replace each file atomically: a rendering error leaves the old brief."""
    texts = {
        "brief.html": render_html(brief),
        "brief.md": render_brief_markdown(brief),
        "brief.csv": render_csv(brief),
        "brief.json": render_json(brief),
    }
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        write_atomically(folder / name, text)
    return BriefPaths(
        brief.hypothesis_id,
        folder,
        folder / "brief.html",
        folder / "brief.md",
        folder / "brief.csv",
        folder / "brief.json",
        handed_off_now,
    )


def write_brief(
    db_path: Path,
    reports_folder: Path,
    hypothesis_id: str,
    market: Market,
    *,
    at: datetime,
    by: str = SYSTEM,
    out: Path | None = None,
) -> BriefPaths:
    """Write the sales brief of one validated hypothesis (id or unique prefix) and record the hand-off.

    ``at`` is when the hand-off happens (the caller's clock or the run's logical time); ``out`` replaces the
    default folder ``<reports_folder>/briefs/<hypothesis_id>``. A hypothesis handed off before gets its
    brief rewritten, with the hand-off kept as first recorded. Raises :class:`BriefError` when it is not
    validated (the message names the status and what is missing) and ``HypothesisError`` for an unknown id.
    """
    db_path = Path(db_path)
    if not db_path.exists():
        raise BriefError(f"no warehouse at {db_path}: run `earshot run` first")
    with writer(db_path) as con:
        brief, handed = _hand_off(con, hypothesis_id, market, at=at, by=by)
    folder = Path(out) if out is not None else briefs_folder(reports_folder, brief.hypothesis_id)
    return write_files(brief, folder, handed_off_now=handed)


@logged_stage("report.briefs")
def write_validated_briefs(ctx: RunContext) -> list[BriefPaths]:
    """(Re)write the brief of every validated or handed-off hypothesis, handing off the validated ones at the
    run's logical time. Idempotent: a second call records nothing and writes the same bytes."""
    with writer(ctx.paths.warehouse) as con:
        ids = [
            str(row[0])
            for row in con.execute(
                "SELECT hypothesis_id FROM hypotheses WHERE list_contains(?, status) ORDER BY hypothesis_id",
                [list(BRIEFABLE)],
            ).fetchall()
        ]
        made = [_hand_off(con, hid, ctx.market, at=ctx.run_at, by=SYSTEM) for hid in ids]
    return [
        write_files(brief, briefs_folder(ctx.paths.reports, brief.hypothesis_id), handed_off_now=handed)
        for brief, handed in made
    ]
