"""What the report says, built from a real DuckDB warehouse: themes with their trends and volume, hypotheses
through the hypotheses API, what changed since the previous report, alerts; then the stage end to end
(report, summary, archive) and the report DAG's schedule."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from earshot import report as stage
from earshot.config import Market, parse_market
from earshot.hypotheses import record_result, set_status, update_hypotheses
from earshot.paths import Paths
from earshot.runs import RunContext
from models import hypotheses as hm
from reports.content import ReportContent
from warehouse.connection import reader, transaction, writer
from warehouse.load import record_run

T1 = datetime(2026, 11, 16, 7, 0, tzinfo=UTC)  # the previous report (a Monday, 07:00 UTC)
T2 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # this report
PLAN: dict[str, Any] = {
    "company": {"name": "Vaultline"},
    "offer": {"summary": "Backups MSPs resell"},
    "audiences": {
        "customers": {"description": "MSPs (managed service providers) who resell us."},
        "customers_customers": {"description": "Small-business owners: dentists, shops, law firms."},
        "influencers": {"description": "Analysts, newsletter writers and podcasters the channel follows."},
    },
    "sources": [{"id": "msp-forum", "kind": "feed", "audience": "customers", "url": "http://127.0.0.1:1/f.xml"}],
}
LABELS = {
    "t_cyber": "Cyber insurance · MFA",
    "t_down": "Downtime · lost sales",
    "t_old": "POS outages",
    "t_ransom": "Ransomware · snapshots",
    "t_ransom2": "Ransomware · restore tests",
    "t_pricing": "Per-seat licensing",
    "t_gone": "Tape rotation",
}


def market(**report: Any) -> Market:
    data = yaml.safe_load(yaml.safe_dump(PLAN))
    if report:
        data["report"] = report
    return parse_market(data, Path("market.yaml"))


def snap(theme_id: str, audience: str, **figures: Any) -> dict[str, Any]:
    """A theme_snapshots row with quiet defaults; ``figures`` override them."""
    row = {
        "theme_id": theme_id, "audience": audience, "recent_days": 7, "baseline_days": 28, "recent": 2,
        "baseline": 8, "total": 12, "rate_ratio": 1.0, "p_value": 0.5, "p_value_down": 0.5, "trend": "steady",
        "emerging": False, "audience_share": 0.3, "audiences": 3, "spread": 0.8, "influencer_mentions": 0,
        "influencers": [], "negative_share": 0.0, "positive_share": 0.0, "pain_share": 0.0,
        "solution_request_share": 0.0, "advice_request_share": 0.0, "praise_share": 0.0, "pricing_share": 0.0,
        "competitor_share": 0.0,
    }  # fmt: skip
    row.update(figures)
    return row


def add_theme_run(con: Any, run_id: str, at: datetime, members: dict[str, dict[str, int]], snaps: list[dict]) -> None:
    """A successful themes run: its themes, ``members[theme][audience]`` mentions (two quotes per theme, the
    first linked), and its snapshot partition."""
    record_run(con, run_id, "themes", at, at, "success", {"model": "all-MiniLM-L6-v2"})
    for theme_id, per_audience in members.items():
        con.execute(
            "INSERT INTO themes VALUES (?, ?, ['kw one', 'kw two'], 'm', [1.0], 1, 0.5, ?, ?, TRUE) "
            "ON CONFLICT (theme_id) DO UPDATE SET active = TRUE, last_seen_run = excluded.last_seen_run",
            [theme_id, LABELS[theme_id], run_id, run_id],
        )
        rank = 0
        for audience, count in per_audience.items():
            for n in range(count):
                mention = f"m-{theme_id}-{audience}-{n}"
                heard = T1 - timedelta(days=3) if n % 2 else T2 - timedelta(days=2)  # half of them new in the period
                url = f"https://ex.test/{mention}" if n == 0 else None
                con.execute(
                    "INSERT INTO mentions (mention_id, source_id, audience, url, author, text, content_hash, "
                    "published_at, first_seen_run, last_seen_run, first_seen_at, last_seen_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'l', 'l', ?, ?) ON CONFLICT DO NOTHING",
                    [mention, f"src-{audience}", audience, url, f"author{n}", f"{LABELS[theme_id]} talk {n}",
                     mention, heard, heard, heard],
                )  # fmt: skip
                con.execute(
                    "INSERT INTO mention_sources (source_id, item_id, mention_id, audience, url, first_seen_run, "
                    "last_seen_run, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, ?, 'l', 'l', ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    [f"src-{audience}", mention, mention, audience, url, heard, heard],
                )
                con.execute("INSERT INTO theme_members VALUES (?, ?, ?, 0.8)", [run_id, mention, theme_id])
                if n < 2 and rank < 2:
                    con.execute("INSERT INTO theme_quotes VALUES (?, ?, ?, ?)", [run_id, theme_id, rank, mention])
                    rank += 1
    for s in snaps:
        columns = ["run_id", "as_of", "first_seen_at", "explanation", *s]
        values = [run_id, at, at - timedelta(days=60), "", *s.values()]
        con.execute(
            f"INSERT INTO theme_snapshots ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", values
        )


def lineage(con: Any, run_id: str, links: list[tuple[str, str, str]]) -> None:
    for parent, child, kind in links:
        con.execute("INSERT INTO theme_lineage VALUES (?, ?, ?, ?, 0.5)", [run_id, parent, child, kind])


def volume(con: Any, run_id: str, theme_id: str, audience: str, weeks: dict[date, int]) -> None:
    for start, mentions in weeks.items():
        con.execute("INSERT INTO theme_volume VALUES (?, ?, ?, ?, ?, 'week')", [run_id, theme_id, audience, start,
                                                                                 mentions])  # fmt: skip


def alert(con: Any, alert_id: str, raised: datetime, resolved: datetime | None = None) -> None:
    con.execute(
        "INSERT INTO alerts (alert_id, kind, subject, message, raised_at, raised_run, resolved_at) "
        "VALUES (?, 'source_failing', 'src', ?, ?, 'r', ?)",
        [alert_id, f"source src failing ({alert_id})", raised, resolved],
    )


W = [date(2026, 10, 26), date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16)]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two themes runs (one before the previous report, one after), the previous report, hypotheses proposed,
    tested, validated and rejected through the hypotheses API, sources and alerts."""
    home = tmp_path_factory.mktemp("home")
    db = Paths(home).warehouse
    plan = market()
    with writer(db) as con, transaction(con):
        add_theme_run(con, "th0", T1 - timedelta(hours=1), {"t_cyber": {"customers": 2}, "t_old": {"customers": 2}},
                      [snap("t_cyber", "all", recent=10), snap("t_down", "all", recent=6)])  # fmt: skip
        lineage(con, "th0", [("", "t_cyber", "new"), ("", "t_old", "new")])  # before the period: not a change
        record_run(con, "rep1", "report", T1, T1, "success", {"themes_run": "th0"})
        con.execute("UPDATE themes SET active = FALSE")
        add_theme_run(
            con, "th1", T2 - timedelta(hours=1),
            {"t_cyber": {"customers_customers": 4, "customers": 2, "influencers": 2},
             "t_down": {"customers_customers": 3, "customers": 3},
             "t_ransom": {"customers_customers": 2, "influencers": 1},
             "t_ransom2": {"influencers": 1}, "t_pricing": {"customers": 1}},
            [snap("t_cyber", "all", recent=30, baseline=20, total=62, trend="rising", p_value=1e-5, emerging=True,
                  influencer_mentions=12, influencers=["backupwire", "secops-weekly", "recap", "ana"], spread=0.95,
                  negative_share=0.4, pain_share=0.2, pricing_share=0.6),
             snap("t_cyber", "customers_customers", recent=9, baseline=4, total=16, trend="rising", p_value=0.0004,
                  audience_share=0.26),
             snap("t_cyber", "customers", recent=5, baseline=8, total=18, p_value=0.2),
             snap("t_down", "all", recent=4, baseline=30, total=58, trend="falling", p_value_down=0.01),
             snap("t_down", "customers_customers", recent=6, baseline=30, total=38, audience_share=0.65,
                  pain_share=0.45, negative_share=0.6),
             snap("t_down", "customers", recent=3, baseline=9, total=20, pain_share=0.4),
             snap("t_ransom", "all", recent=3, total=64, influencer_mentions=22, influencers=["backupwire"]),
             snap("t_ransom", "customers_customers", recent=3, total=18, audience_share=0.28),
             snap("t_pricing", "all", recent=1, baseline=0, total=1, trend="new", p_value=0.2, audiences=1,
                  spread=0.0)],
        )  # fmt: skip
        links = [("t_cyber", "t_cyber", "continue"), ("t_down", "t_down", "merge"), ("t_old", "t_down", "merge"),
                 ("t_ransom", "t_ransom", "split"), ("t_ransom", "t_ransom2", "split"), ("", "t_pricing", "new"),
                 ("t_gone", "", "retired")]  # fmt: skip
        lineage(con, "th1", links)
        con.execute("INSERT INTO themes VALUES ('t_gone', 'Tape rotation', [], 'm', [1.0], 1, 0.5, 'a', 'a', FALSE)")
        volume(con, "th1", "t_cyber", "all", dict(zip(W, [3, 0, 7, 20], strict=True)))
        volume(con, "th1", "t_cyber", "customers_customers", {W[2]: 4, W[3]: 9})  # starts later: zero-filled
        volume(con, "th1", "t_cyber", "customers", dict(zip(W, [3, 0, 3, 11], strict=True)))
        con.execute(
            "INSERT INTO sources (source_id, kind, audience, consecutive_failures, last_status, last_error) VALUES "
            "('src-customers', 'feed', 'customers', 0, 'ok', NULL), "
            "('src-dead', 'feed', 'influencers', 4, 'error', 'http_5xx: 503')"
        )
        alert(con, "old-open", T1 - timedelta(days=3))
        alert(con, "old-closed", T1 - timedelta(days=3), T1 - timedelta(days=1))
        alert(con, "new-open", T2 - timedelta(hours=2))
        update_hypotheses(con, plan, run_id="run-th1", at=T2 - timedelta(minutes=50))
    ids = {key: hm.hypothesis_id(theme, audience) for key, theme, audience in [
        ("watch", "t_cyber", "customers_customers"), ("testing", "t_down", "customers_customers"),
        ("validated", "t_down", "customers"), ("rejected", "t_ransom", "customers_customers")]}  # fmt: skip
    with writer(db) as con:
        record_result(con, ids["testing"], kind="message_test", metric="reply_rate", value="3/100", control="1%",
                      recorded_by="Ana", at=T2 - timedelta(minutes=40))  # fmt: skip
        record_result(con, ids["validated"], kind="message_test", metric="reply_rate", value="15%", sample=400,
                      control="8%", recorded_by="Ana", note="subject <b>A</b>",
                      at=T2 - timedelta(minutes=30))  # fmt: skip
        set_status(con, ids["rejected"], "rejected", by="Bo", why="not our market", at=T2 - timedelta(minutes=20))
    return db


@pytest.fixture(scope="module")
def content(warehouse: Path) -> ReportContent:
    briefs = warehouse.parent / "reports"
    validated = hm.hypothesis_id("t_down", "customers")
    (briefs / "briefs" / validated).mkdir(parents=True)
    (briefs / "briefs" / validated / "brief.html").write_text("<!DOCTYPE html><title>brief</title>")
    with reader(warehouse) as con:
        return stage.build_content(ctx(warehouse.parent, T2), con)


def ctx(home: Path, at: datetime, run_id: str = "rep2", **report: Any) -> RunContext:
    return RunContext(run_id, at, Paths(home), market(**report))


# --- The period and the headline figures ------------------------------------------------------------------


def test_the_report_covers_the_period_since_the_previous_report(content: ReportContent) -> None:
    assert content.period_start == T1
    assert content.generated_at == T2
    assert content.changes is not None and content.changes.previous_run_id == "rep1"
    assert content.themes_run == "th1"


def test_mentions_new_in_the_period_are_counted_apart_from_all(content: ReportContent) -> None:
    assert content.total_mentions == 21
    assert content.mentions_in_period == 13  # the even-numbered mentions of each theme and audience


def test_without_a_previous_report_the_period_is_the_last_seven_days(warehouse: Path) -> None:
    with reader(warehouse) as con:
        first = stage.build_content(ctx(warehouse.parent, T1 - timedelta(minutes=1), run_id="rep0"), con)
    assert first.period_start == T1 - timedelta(minutes=1) - stage.DEFAULT_PERIOD
    assert first.changes is not None and first.changes.previous_run_id is None


# --- Themes ---------------------------------------------------------------------------------------------


def test_themes_are_ranked_by_recent_volume_and_carry_their_trends(content: ReportContent) -> None:
    assert [t.theme_id for t in content.themes] == ["t_cyber", "t_down", "t_ransom", "t_pricing", "t_ransom2"]
    cyber = content.themes[0]
    assert cyber.overall is not None and (cyber.overall.trend, cyber.overall.recent, cyber.overall.emerging) == (
        "rising",
        30,
        True,
    )
    assert cyber.overall.influencers == ("backupwire", "secops-weekly", "recap", "ana")
    assert set(cyber.by_audience) == {"customers_customers", "customers"}
    assert cyber.by_audience["customers_customers"].p_value == pytest.approx(0.0004)
    assert cyber.signals["pricing"] == pytest.approx(0.6) and cyber.signals["negative"] == pytest.approx(0.4)
    assert cyber.volume == 8 and cyber.audience_mix == {"customers_customers": 4, "customers": 2, "influencers": 2}
    assert [q.url for q in cyber.quotes][:1] == ["https://ex.test/m-t_cyber-customers_customers-0"]
    assert content.themes[-1].overall is None  # no snapshot: still listed, with its volume


def test_volume_series_are_aligned_and_zero_filled(content: ReportContent) -> None:
    series = content.themes[0].series
    assert series is not None and series.period == "week"
    assert series.starts == W
    assert series.total == [3, 0, 7, 20]
    assert series.by_audience == {"customers_customers": [0, 0, 4, 9], "customers": [3, 0, 3, 11]}


def test_the_theme_cap_keeps_the_loudest_and_counts_the_rest(warehouse: Path) -> None:
    with reader(warehouse) as con:
        capped = stage.build_content(ctx(warehouse.parent, T2, max_themes=2), con)
    assert [t.theme_id for t in capped.themes] == ["t_cyber", "t_down"]
    assert capped.themes_total == 5


# --- Hypotheses -----------------------------------------------------------------------------------------


def test_hypotheses_are_grouped_by_where_they_stand(content: ReportContent) -> None:
    test_first = [(h.theme_id, h.audience) for h in content.test_first]
    assert ("t_cyber", "customers_customers") in test_first
    scores = [h.rank_score for h in content.test_first]
    assert scores == sorted(scores, reverse=True)  # ranked: what to test first comes first
    assert [(h.theme_id, h.audience) for h in content.under_test] == [("t_down", "customers_customers")]
    assert [(h.theme_id, h.audience, h.status) for h in content.validated] == [("t_down", "customers", "validated")]
    assert [(h.theme_id, h.status) for h in content.closed] == [("t_ransom", "rejected")]


def test_a_hypothesis_carries_its_reasons_evidence_baseline_and_plan(content: ReportContent) -> None:
    watch = next(h for h in content.test_first if h.theme_id == "t_cyber")
    assert watch.statement and watch.why and watch.test_plan and watch.criteria_text and watch.owner
    assert watch.rank_reasons and watch.test_kind == "listening_watch"
    assert watch.evidence is not None and watch.evidence.recent == 9
    assert watch.baseline is not None and watch.baseline.baseline == 4
    assert watch.quotes and watch.quotes[0].audience == "customers_customers"


def test_under_test_shows_progress_results_and_days_left(content: ReportContent) -> None:
    testing = content.under_test[0]
    assert [round(p.vs_baseline, 2) for p in testing.progress] == [round((6 / 7) / (30 / 28), 2)]
    assert testing.progress[0].recent == 6
    assert [(r.kind, r.verdict, r.recorded_by) for r in testing.results] == [("message_test", "inconclusive", "Ana")]
    assert testing.expires_at is not None
    assert testing.days_left == (testing.expires_at.date() - T2.date()).days


def test_validated_hypotheses_link_their_brief_only_when_it_exists(content: ReportContent, warehouse: Path) -> None:
    validated = content.validated[0]
    assert validated.brief_href == f"briefs/{validated.hypothesis_id}/brief.html"
    assert (warehouse.parent / "reports" / validated.brief_href).is_file()
    assert validated.results[-1].note == "subject <b>A</b>"
    with reader(warehouse) as con:
        elsewhere = stage.build_content(ctx(warehouse.parent, T2), con, reports_folder=warehouse.parent / "nowhere")
    assert elsewhere.validated[0].brief_href is None


# --- What changed ----------------------------------------------------------------------------------------


def test_theme_changes_come_from_the_lineage_of_the_period(content: ReportContent) -> None:
    assert content.changes is not None
    changes = [(c.kind, c.theme_id, c.label, c.related) for c in content.changes.themes]
    assert changes == [
        ("new", "t_pricing", "Per-seat licensing", []),
        ("merge", "t_down", "Downtime · lost sales", ["Downtime · lost sales", "POS outages"]),
        ("split", "t_ransom", "Ransomware · snapshots", ["Ransomware · snapshots", "Ransomware · restore tests"]),
        ("retired", "t_gone", "Tape rotation", []),
    ]  # th0's new themes came before the previous report: not listed


def test_volume_changes_compare_with_the_previous_reports_themes_run(content: ReportContent) -> None:
    assert content.changes is not None
    volume = [(v.theme_id, v.before, v.after) for v in content.changes.volume]
    assert volume[0] == ("t_cyber", 10, 30)  # biggest change first
    assert ("t_down", 6, 4) in volume
    assert all("vs the last report" in v.unit for v in content.changes.volume)


def test_hypothesis_changes_and_alerts_of_the_period(content: ReportContent) -> None:
    assert content.changes is not None
    assert {(c.theme_label, c.to_status) for c in content.changes.new_hypotheses} >= {
        ("Cyber insurance · MFA", "proposed"),
        ("Downtime · lost sales", "proposed"),
    }
    moves = {(c.theme_label, c.audience_label.split(" (")[0], c.from_status, c.to_status, c.by, c.manual)
             for c in content.changes.status_changes}  # fmt: skip
    assert ("Ransomware · snapshots", "Small-business owners", "proposed", "rejected", "Bo", True) in moves
    assert ("Downtime · lost sales", "MSPs", "testing", "validated", "earshot", False) in moves
    assert [a.alert_id for a in content.changes.new_alerts] == ["new-open"]
    assert [a.alert_id for a in content.alerts] == ["new-open", "old-open"]  # open ones, newest first


def test_source_health_flags_the_failing_source(content: ReportContent) -> None:
    status = {s.source_id: (s.status, s.last_error) for s in content.sources}
    assert status["src-dead"] == ("failing", "http_5xx: 503")
    assert status["src-customers"] == ("ok", None)


def test_a_warehouse_without_the_newer_tables_still_reports(warehouse: Path, tmp_path: Path) -> None:
    """Readers never migrate: an older warehouse lacks trends, lineage, hypotheses and alerts; the report
    leaves those sections empty instead of failing."""
    old = tmp_path / "old.duckdb"
    old.write_bytes(warehouse.read_bytes())
    with writer(old) as con:
        for table in ("theme_lineage", "theme_snapshots", "theme_volume", "alerts", "hypothesis_events"):
            con.execute(f"DROP TABLE {table}")
        con.execute("DROP TABLE hypotheses")
    with reader(old) as con:
        bare = stage.build_content(ctx(tmp_path, T2), con)
    assert len(bare.themes) == 5 and all(t.overall is None and t.series is None for t in bare.themes)
    assert (bare.test_first, bare.alerts) == ([], [])
    assert bare.changes is not None and bare.changes.empty


# --- The stage, end to end -------------------------------------------------------------------------------


def test_the_stage_writes_the_report_its_summary_and_the_archive(warehouse: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "earshot.duckdb").write_bytes(warehouse.read_bytes())
    first = stage.report(ctx(home, T2))
    reports = home / "reports"
    assert Path(first["html"]) == reports / "rep2" / "report.html"
    assert first["themes_run"] == "th1" and first["hypotheses"]["validated"] == 1
    summary = json.loads((reports / "rep2" / "summary.json").read_text())
    assert (summary["run_id"], summary["mentions"], summary["themes"]) == ("rep2", 21, 5)
    assert summary["hypotheses"] == {"to_test": 1, "testing": 1, "validated": 1, "closed": 1}
    assert [v["theme_label"] for v in summary["validated"]] == ["Downtime · lost sales"]
    with reader(home / "earshot.duckdb") as con:
        details = con.execute("SELECT details FROM runs WHERE run_id = 'rep2' AND stage = 'report'").fetchone()
    assert json.loads(details[0])["themes_run"] == "th1"

    later = T2 + timedelta(days=7)
    stage.report(ctx(home, later, run_id="rep3"))
    index = (reports / "index.html").read_text()
    assert index.index('href="rep3/report.html"') < index.index('href="rep2/report.html"')  # newest first
    assert "rep1" not in index  # a report run without files is not in the archive
    with reader(home / "earshot.duckdb") as con:
        third = stage.build_content(ctx(home, later + timedelta(days=1), run_id="rep4"), con)
    assert third.period_start == later
    assert third.changes is not None and third.changes.volume == []  # no themes run since rep3: nothing re-counted


# --- The schedule -----------------------------------------------------------------------------------------

PARSE_SCHEDULES = """
import json, os, sys
from airflow.dag_processing.dagbag import DagBag
found = []
for value in json.loads(sys.argv[2]):
    os.environ.pop("EARSHOT_REPORT_SCHEDULE", None)
    if value is not None:
        os.environ["EARSHOT_REPORT_SCHEDULE"] = value
    bag = DagBag(dag_folder=sys.argv[1])
    dag = bag.dags["earshot_report"]
    clock = getattr(dag.timetable, "timetable", None)  # AssetOrTimeSchedule: weekly or when the themes changed
    assets = sorted(a.uri for a in dag.timetable.asset_condition.objects)
    found.append([{k: str(v) for k, v in bag.import_errors.items()}, getattr(clock, "expression", None),
                  type(dag.timetable).__name__, assets])
print(json.dumps(found))
"""


def test_the_report_runs_weekly_unless_the_environment_says_otherwise(tmp_path: Path) -> None:
    """EARSHOT_REPORT_SCHEDULE, read when the DAG file is parsed: unset or blank means Monday 07:00 UTC; the
    themes asset triggers a report in between."""
    from earshot.airflow_runner import airflow_env

    values = [None, "  ", "30 6 * * 1-5", "@daily"]
    dag_file = Path(__file__).resolve().parent.parent / "dags" / "earshot_report.py"
    proc = subprocess.run(
        [sys.executable, "-c", PARSE_SCHEDULES, str(dag_file), json.dumps(values)],
        env=airflow_env(tmp_path / "airflow"),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    parsed = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [(errors, schedule) for errors, schedule, *_ in parsed] == [
        ({}, "0 7 * * 1"),
        ({}, "0 7 * * 1"),
        ({}, "30 6 * * 1-5"),
        ({}, "0 0 * * *"),  # @daily
    ]
    assert {(timetable, tuple(assets)) for *_, timetable, assets in parsed} == {
        ("AssetOrTimeSchedule", ("earshot://warehouse/themes",))
    }
