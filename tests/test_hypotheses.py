"""Hypotheses: readable rules, one hypothesis per theme and audience, a frozen baseline re-measured every
run, results judged by the success criteria, and every status change kept."""

from __future__ import annotations

import json
import math
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import NormalDist
from typing import Any

import pytest
import yaml

from earshot.config import ConfigError, Market, parse_market
from earshot.hypotheses import (
    HypothesisError,
    load_hypotheses,
    load_hypothesis,
    propose_and_measure,
    record_result,
    rules_from_settings,
    set_status,
    to_test_first,
)
from earshot.paths import Paths
from earshot.runs import RunContext
from models import hypotheses as hm
from warehouse.connection import reader, transaction, writer
from warehouse.load import record_run

T0 = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
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
    "t_ransom": "Ransomware · immutable snapshots",
    "t_pricing": "Per-seat licensing · margins",
}


def market(**hypotheses: Any) -> Market:
    data = yaml.safe_load(yaml.safe_dump(PLAN))
    if hypotheses:
        data["hypotheses"] = hypotheses
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
    if "rate_ratio" not in figures:
        row["rate_ratio"] = (
            (row["recent"] / row["recent_days"]) / (row["baseline"] / row["baseline_days"]) if row["baseline"] else None
        )
    return row


def demo_like(cyber_recent: int = 9) -> list[dict[str, Any]]:
    """Cyber insurance rising among customers' customers; downtime painful there; ransomware echoed."""
    return [
        snap("t_cyber", "all", recent=30, baseline=20, total=62, trend="rising", p_value=1e-5,
             influencer_mentions=12, influencers=["backupwire", "secops-weekly"], spread=0.95),
        snap("t_cyber", "customers_customers", recent=cyber_recent, baseline=4, total=16, trend="rising",
             p_value=0.0004, audience_share=0.26, pain_share=0.1),
        snap("t_cyber", "customers", recent=5, baseline=8, total=18, p_value=0.2),
        snap("t_down", "all", total=58, influencer_mentions=3, influencers=["secops-weekly"]),
        snap("t_down", "customers_customers", recent=6, baseline=30, total=38, audience_share=0.65, pain_share=0.45,
             negative_share=0.6),
        snap("t_ransom", "all", total=64, influencer_mentions=22, influencers=["backupwire", "msp-recap-podcast"]),
        snap("t_ransom", "customers_customers", total=18, audience_share=0.28, pain_share=0.1),
        snap("t_pricing", "all", total=56, audiences=1, spread=0.0),
        snap("t_pricing", "customers", total=40, audience_share=0.7, audiences=1, spread=0.0, pricing_share=0.4),
    ]  # fmt: skip


def themes_run(db: Path, run_id: str, at: datetime, snapshots: list[dict[str, Any]]) -> None:
    """A successful themes run with its snapshot partition, members and two quotable mentions per theme and
    audience (one without a link)."""
    with writer(db) as con, transaction(con):
        record_run(con, run_id, "themes", at, at, "success", {})
        for theme_id in sorted({s["theme_id"] for s in snapshots}):
            con.execute(
                "INSERT INTO themes VALUES (?, ?, [], 'm', [1.0], 1, 0.5, ?, ?, TRUE) ON CONFLICT DO NOTHING",
                [theme_id, LABELS[theme_id], run_id, run_id],
            )
        for s in snapshots:
            columns = ["run_id", "as_of", "first_seen_at", "explanation", *s]
            values = [run_id, at, at - timedelta(days=60), "", *s.values()]
            con.execute(
                f"INSERT INTO theme_snapshots ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", values
            )
            if s["audience"] == "all":
                continue
            label = LABELS[s["theme_id"]]
            texts = (f"{label} hurts our business", f"Nobody explains {label} to owners like me")
            for n, url in enumerate((f"https://ex.test/{s['theme_id']}/{s['audience']}", None)):
                mention = f"m-{s['theme_id']}-{s['audience']}-{n}"
                source = f"src-{s['audience']}-{n}"
                con.execute(
                    "INSERT INTO mentions (mention_id, source_id, audience, url, author, text, content_hash, "
                    "first_seen_run, last_seen_run, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'l', "
                    "'l', ?, ?) ON CONFLICT DO NOTHING",
                    [mention, source, s["audience"], url, f"author{n}", texts[n], mention, at, at],
                )  # fmt: skip
                con.execute(
                    "INSERT INTO mention_sources (source_id, item_id, mention_id, audience, url, first_seen_run, "
                    "last_seen_run, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, ?, 'l', 'l', ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    [source, mention, mention, s["audience"], url, at, at],
                )
                con.execute(
                    "INSERT INTO theme_members VALUES (?, ?, ?, ?)", [run_id, mention, s["theme_id"], 0.9 - n / 10]
                )


def ctx_at(home: Path, plan: Market, at: datetime, run_id: str | None = None) -> RunContext:
    return RunContext(run_id or f"run-{at:%m%d}", at, Paths(home), plan)


@pytest.fixture
def db(earshot_home: Path) -> Path:
    return Paths(earshot_home).warehouse


@pytest.fixture(scope="module")
def proposed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse after one demo-like themes run and its proposals (built once, copied per test)."""
    home = tmp_path_factory.mktemp("template")
    themes_run(Paths(home).warehouse, "th1", T0, demo_like())
    propose_and_measure(ctx_at(home, market(), T0))
    return Paths(home).warehouse


@pytest.fixture
def proposed(db: Path, proposed_template: Path) -> Path:
    """This test's own copy of the warehouse after run th1 proposed three hypotheses."""
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(proposed_template, db)
    return db


def by_theme(views: list) -> dict[str, Any]:
    return {v.theme_id: v for v in views}


# ------------------------------------------------------------------------------------- rules, config


@pytest.mark.parametrize(
    ("figure", "spec", "op", "value"),
    [
        ("pain_share", ">= 0.3", ">=", 0.3),
        ("pain_share", ">= 30%", ">=", 0.3),
        ("p_value", "< 0.05", "<", 0.05),
        ("recent", "= 5", "==", 5.0),
        ("theme.influencer_mentions", "> 2", ">", 2.0),
        ("trend", "rising", "in", ("rising",)),
        ("trend", ["rising", "new"], "in", ("rising", "new")),
        ("emerging", True, "is", True),
    ],
)
def test_conditions_read_as_written(figure: str, spec: Any, op: str, value: Any) -> None:
    condition = hm.parse_condition(figure, spec)
    assert (condition.op, condition.value) == (op, value)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ({"pain_shar": ">= 0.3"}, "hypotheses.rules[0]: when.pain_shar: unknown figure"),
        ({"pain_share": 0.3}, 'when.pain_share: write a comparison such as ">= 0.3"'),
        ({"pain_share": "about 0.3"}, "when.pain_share: write a comparison"),
        ({"trend": "up"}, "when.trend: 'up' is not a trend; use rising, falling, steady, new, quiet"),
        ({"emerging": "yes"}, "when.emerging: write true or false"),
        ({}, "when: needs at least one condition"),
    ],
)
def test_bad_rules_name_the_file_the_rule_and_the_figure(when: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        market(rules=[{"name": "r", "audience": "any", "when": when, "test": "survey"}])
    assert str(caught.value).startswith("market.yaml: ")
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"audience": "customer"}, "audience: 'customer' is not an audience"),
        ({"test": "poll"}, "hypotheses.rules[0].test: Input should be"),
        ({"statement": "{audience} fear {topic}"}, "statement: unknown placeholder topic"),
        ({"colour": "red"}, "hypotheses.rules[0].colour: unknown field"),
    ],
)
def test_bad_rule_fields_are_named(rule: dict, expected: str) -> None:
    base = {"name": "r", "audience": "any", "when": {"total": ">= 1"}, "test": "survey"}
    with pytest.raises(ConfigError, match=r"^market\.yaml: ") as caught:
        market(rules=[{**base, **rule}])
    assert expected in str(caught.value)


def test_rule_names_are_unique_and_criteria_checked() -> None:
    rule = {"name": "twice", "audience": "any", "when": {"total": ">= 1"}, "test": "survey"}
    with pytest.raises(ConfigError, match=r"hypotheses: .*rules\[1\]\.name: 'twice' is used twice"):
        market(rules=[rule, rule])
    with pytest.raises(ConfigError, match=r"hypotheses\.tests\.survey\.min_share: Input should be less than"):
        market(tests={"survey": {"min_share": 1.5}})


def test_default_rules_are_readable_and_tunable() -> None:
    settings = market().hypotheses
    assert [r.name for r in settings.rules] == [
        "rising_among_customers_customers",
        "strong_pain",
        "asking_for_solutions",
        "echoed_by_influencers",
    ]
    tuned = market(rules=[{"name": "loud_pain", "audience": "customers", "when": {"pain_share": ">= 50%"},
                           "test": "interview", "owner": "Ana"}])  # fmt: skip
    (rule,) = tuned.hypotheses.rules
    assert (rule.owner, hm.parse_when(rule.when)[0].value) == ("Ana", 0.5)


# ------------------------------------------------------------------------------------ pure verdicts


def result(kind: str, value: float, sample: int, control: float | None = None, days: int = 1) -> hm.Result:
    return hm.Result(kind, "reply_rate", value, sample, "Ana", T0 + timedelta(days=days), control)


CRITERIA = market().hypotheses.tests.model_dump()


def test_message_test_is_judged_with_a_two_proportion_test() -> None:
    x1, x2, n = 60, 35, 400
    pooled = (x1 + x2) / (2 * n)
    expected = 1 - NormalDist().cdf((x1 / n - x2 / n) / math.sqrt(pooled * (1 - pooled) * 2 / n))
    assert hm.two_proportion_p(x1, n, x2, n) == pytest.approx(expected, rel=1e-9)

    won = hm.judge_result(result("message_test", x1 / n, n, x2 / n), CRITERIA["message_test"])
    assert won.verdict == "validated"
    assert "+71%" in won.why and hm.p_text(expected) in won.why
    flat = hm.judge_result(result("message_test", 0.10, n, 0.095), CRITERIA["message_test"])
    assert flat.verdict == "rejected" and "lift below 20%" in flat.why and "not significant" in flat.why
    small = hm.judge_result(result("message_test", 0.3, 50, 0.1), CRITERIA["message_test"])
    assert small.verdict == "inconclusive" and "needs at least 200 in each group" in small.why


def test_survey_is_judged_by_share_and_sample() -> None:
    agree = hm.judge_result(result("survey", 0.62, 150), CRITERIA["survey"])
    low, high = hm.wilson_interval(0.62, 150)
    assert agree.verdict == "validated" and low < 0.62 < high and f"{low:.0%}–{high:.0%}" in agree.why
    assert hm.judge_result(result("survey", 0.41, 150), CRITERIA["survey"]).verdict == "rejected"
    assert hm.judge_result(result("survey", 0.9, 20), CRITERIA["survey"]).verdict == "inconclusive"
    assert hm.wilson_interval(0.62, 1500)[1] - hm.wilson_interval(0.62, 1500)[0] < high - low


@pytest.mark.parametrize(
    ("text", "expected"), [("5.2%", (0.052, None)), ("21/400", (0.0525, 400)), (0.25, (0.25, None)), ("1", (1.0, None))]
)
def test_rates_can_be_written_as_marketers_write_them(text: Any, expected: tuple) -> None:
    rate, sample = hm.parse_rate(text)
    assert (pytest.approx(rate), sample) == expected


@pytest.mark.parametrize("text", ["5.2", "500/400", "lots", "-0.1"])
def test_bad_rates_say_how_to_write_them(text: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        hm.parse_rate(text)


def watch_series(ratios: list[float], days: list[int]) -> list[hm.Measurement]:
    base = hm.Figures.from_mapping({**snap("t", "customers_customers"), "run_id": "r", "as_of": T0})
    return [hm.Measurement(f"r{d}", T0 + timedelta(days=d), base, r) for r, d in zip(ratios, days, strict=True)]


@pytest.mark.parametrize(
    ("ratios", "days", "verdict", "words"),
    [
        ([2.0, 1.8], [3, 8], "validated", "stayed at least 1.5×"),
        ([0.8, 0.9], [3, 8], "rejected", "fell back to 1× the baseline or below"),
        ([2.0, 1.8], [1, 3], "inconclusive", "3 of 7 days"),
        ([2.0], [8], "inconclusive", "1 of 2 runs"),
        ([2.0, 1.2], [3, 8], "inconclusive", "mixed"),
    ],
)
def test_listening_watch_holds_against_the_baseline(ratios: list, days: list, verdict: str, words: str) -> None:
    judged = hm.judge_watch(watch_series(ratios, days), CRITERIA["listening_watch"], T0)
    assert judged.verdict == verdict and words in judged.why


def test_status_flow_moves_through_testing_and_expires() -> None:
    common = {"criteria": CRITERIA, "proposed_at": T0, "proposal_expire_days": 28, "series": []}
    done = hm.decide(status="proposed", plan="message_test", results=[result("message_test", 0.15, 400, 0.08)],
                     test_started_at=None, last_matched_at=T0, as_of=T0 + timedelta(days=2), **common)  # fmt: skip
    assert [s[:2] for s in done.steps] == [("proposed", "testing"), ("testing", "validated")]
    assert done.started == T0 + timedelta(days=1)
    late = hm.decide(status="testing", plan="survey", results=[result("survey", 0.9, 10)], test_started_at=T0,
                     last_matched_at=T0, as_of=T0 + timedelta(days=43), **common)  # fmt: skip
    assert late.status == "expired" and "no decision within 42 days" in late.why
    stale = hm.decide(status="proposed", plan="survey", results=[], test_started_at=None, last_matched_at=T0,
                      as_of=T0 + timedelta(days=29), **common)  # fmt: skip
    assert stale.status == "expired" and "has not matched a rule since 2026-11-16" in stale.why
    kept = hm.decide(status="validated", plan="survey", results=[result("survey", 0.1, 500)], test_started_at=T0,
                     last_matched_at=T0, as_of=T0 + timedelta(days=90), **common)  # fmt: skip
    assert (kept.status, kept.steps) == ("validated", ())


def test_rank_prefers_rising_themes_echoed_among_customers_customers() -> None:
    rows = {(s["theme_id"], s["audience"]): {**s, "run_id": "r", "as_of": T0} for s in demo_like()}
    figures = {key: hm.Figures.from_mapping(row) for key, row in rows.items()}
    cyber = hm.rank(figures["t_cyber", "customers_customers"], figures["t_cyber", "all"])
    pricing = hm.rank(figures["t_pricing", "customers"], figures["t_pricing", "all"])
    assert cyber.score > pricing.score
    assert any("rising (p < 0.001)" in r for r in cyber.reasons)
    assert any("echoed by influencers (backupwire, secops-weekly)" in r for r in cyber.reasons)


# ----------------------------------------------------------------------------------------- warehouse


def test_each_run_proposes_from_snapshots_by_the_rules(db: Path, earshot_home: Path) -> None:
    themes_run(db, "th1", T0, demo_like())
    summary = propose_and_measure(ctx_at(earshot_home, market(), T0))
    with reader(db) as con:
        views = by_theme(load_hypotheses(con))
        stage = con.execute("SELECT status FROM runs WHERE stage = 'hypotheses'").fetchall()

    assert len(summary["proposed"]) == 3 and stage == [("success",)]
    assert {t: (v.audience, v.rule, v.test_kind) for t, v in views.items()} == {
        "t_cyber": ("customers_customers", "rising_among_customers_customers", "listening_watch"),
        "t_down": ("customers_customers", "strong_pain", "message_test"),
        "t_ransom": ("customers_customers", "echoed_by_influencers", "content"),
    }
    cyber = views["t_cyber"]
    assert cyber.hypothesis_id == hm.hypothesis_id("t_cyber", "customers_customers")
    assert cyber.statement.startswith(
        "Small-business owners (your customers' customers) increasingly talk about Cyber insurance · MFA: "
        "9 mentions in the last 7 days vs 1.0/week before (p < 0.001)"
    )
    assert cyber.matched_rules == ["rising_among_customers_customers", "echoed_by_influencers"]
    assert "p_value 0.0004 <= 0.05 ✓" in cyber.why and "echoed by 2 influencer(s)" in cyber.why
    assert (cyber.baseline.recent, cyber.baseline.baseline, cyber.baseline_run_id) == (9, 4, "th1")
    assert cyber.latest is not None and cyber.latest.vs_baseline == pytest.approx((9 / 7) / (4 / 28))
    assert "45% of their 38 mentions describe pain" in views["t_down"].statement
    assert "backupwire, msp-recap-podcast" in views["t_ransom"].test_plan
    assert cyber.owner == "marketing" and cyber.status == "proposed"
    assert [(e.from_status, e.to_status, e.by) for e in cyber.events] == [(None, "proposed", "earshot")]
    # quotes come from the hypothesis's own audience, the one with a link first
    assert [q.audience for q in cyber.quotes] == ["customers_customers"] * 2
    assert cyber.quotes[0].url == "https://ex.test/t_cyber/customers_customers"
    assert next(v.theme_id for v in to_test_first(list(views.values()))) == "t_cyber"
    json.dumps([v.as_json() for v in views.values()])


def test_rerunning_a_run_changes_nothing_and_a_new_run_updates_never_duplicates(db: Path, earshot_home: Path) -> None:
    plan = market()
    themes_run(db, "th1", T0, demo_like())
    propose_and_measure(ctx_at(earshot_home, plan, T0))

    def tables() -> dict[str, list]:
        with reader(db) as con:
            return {
                t: con.execute(f"SELECT * EXCLUDE (evidence, baseline, criteria) FROM {t} ORDER BY ALL").fetchall()
                if t == "hypotheses"
                else con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                for t in ("hypotheses", "hypothesis_measurements", "hypothesis_events", "hypothesis_quotes")
            }

    first = tables()
    propose_and_measure(ctx_at(earshot_home, plan, T0))
    assert tables() == first

    later = T0 + timedelta(days=3)
    themes_run(db, "th2", later, demo_like(cyber_recent=14))
    summary = propose_and_measure(ctx_at(earshot_home, plan, later))
    with reader(db) as con:
        views = by_theme(load_hypotheses(con))
        count = con.execute("SELECT count(*), count(DISTINCT (theme_id, audience)) FROM hypotheses").fetchone()
    assert summary["proposed"] == [] and summary["updated"] == 3 and count == (3, 3)
    cyber = views["t_cyber"]
    assert (cyber.baseline.recent, cyber.baseline_run_id) == (9, "th1")  # frozen
    assert cyber.evidence.recent == 14
    assert [m.run_id for m in cyber.series] == ["th1", "th2"]
    assert cyber.series[-1].vs_baseline == pytest.approx((14 / 7) / (4 / 28))


def test_a_listening_watch_is_validated_by_the_series(db: Path, earshot_home: Path) -> None:
    plan = market()
    for run, days, recent in (("th1", 0, 9), ("th2", 3, 12), ("th3", 9, 10)):
        themes_run(db, run, T0 + timedelta(days=days), demo_like(recent))
        propose_and_measure(ctx_at(earshot_home, plan, T0 + timedelta(days=days)))
    with reader(db) as con:
        cyber = load_hypothesis(con, hm.hypothesis_id("t_cyber", "customers_customers"))
    assert cyber.status == "validated"
    assert [(e.from_status, e.to_status) for e in cyber.events] == [
        (None, "proposed"),
        ("proposed", "testing"),
        ("testing", "validated"),
    ]
    assert "re-measured in run th2" in cyber.events[1].why
    assert "(12.0×, 10.0×), 9 days after the proposal" in cyber.events[2].why
    assert (cyber.test_started_at, cyber.decided_at) == (T0 + timedelta(days=3), T0 + timedelta(days=9))


def test_a_rise_that_fades_is_rejected(db: Path, earshot_home: Path) -> None:
    plan = market()
    for run, days, recent in (("th1", 0, 9), ("th2", 4, 1), ("th3", 9, 0)):
        themes_run(db, run, T0 + timedelta(days=days), demo_like(recent))
        propose_and_measure(ctx_at(earshot_home, plan, T0 + timedelta(days=days)))
    with reader(db) as con:
        cyber = load_hypothesis(con, hm.hypothesis_id("t_cyber", "customers_customers"))
    assert cyber.status == "rejected" and "fell back to 1× the baseline or below" in cyber.status_why
    # another rule (echoed_by_influencers) still matches, but it does not rewrite the claim under watch
    assert (cyber.rule, cyber.test_kind, cyber.evidence.run_id) == ("rising_among_customers_customers",
                                                                    "listening_watch", "th1")  # fmt: skip
    assert "echoed_by_influencers" in cyber.matched_rules


def test_results_are_judged_and_every_change_is_kept(proposed: Path, earshot_home: Path) -> None:
    db = proposed
    down = hm.hypothesis_id("t_down", "customers_customers")
    with writer(db) as con:
        small = record_result(con, down[:6], kind="message_test", metric="reply_rate", value="30/100", control="10%",
                              recorded_by="Ana", at=T0 + timedelta(days=2))  # fmt: skip
        assert (small.verdict, small.status_before, small.status_after) == ("inconclusive", "proposed", "testing")
        won = record_result(con, down, kind="message_test", metric="reply_rate", value="15%", sample=400,
                            control="8%", recorded_by="Ana", note="subject A", at=T0 + timedelta(days=9))  # fmt: skip
    assert (won.verdict, won.status_after) == ("validated", "validated")
    with writer(db) as con:  # a decision stays: later results are kept, but move nothing on their own
        late = record_result(con, down, kind="survey", metric="agree", value="12/120", recorded_by="Bo",
                             at=T0 + timedelta(days=12))  # fmt: skip
    assert (late.verdict, late.status_before, late.status_after) == ("rejected", "validated", "validated")
    assert "validated is a decision and stays" in late.status_why
    with reader(db) as con:
        view = load_hypothesis(con, down)
    assert [(e.from_status, e.to_status, e.by, e.manual) for e in view.events] == [
        (None, "proposed", "earshot", False),
        ("proposed", "testing", "earshot", False),
        ("testing", "validated", "earshot", False),
    ]
    assert "a message_test result was recorded by Ana" in view.events[1].why
    assert view.events[2].why.startswith("message_test recorded by Ana on 2026-11-25: reply_rate 15% vs 8%")
    assert [(r.verdict, r.sample, r.control_sample, r.note) for r in view.results] == [
        ("inconclusive", 100, None, ""),
        ("validated", 400, None, "subject A"),
        ("rejected", 120, None, ""),
    ]
    assert len(view.events) == 3
    assert view.test_started_at == T0 + timedelta(days=2) and view.decided_at == T0 + timedelta(days=9)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"hypothesis": "h_nothere"}, "no hypothesis 'h_nothere'"),
        ({"hypothesis": "h_"}, "no hypothesis 'h_'"),
        ({"value": "5.2"}, "not a rate between 0 and 1"),
        ({"value": "21/400", "sample": 300}, "says the sample is 400, but sample says 300"),
        ({"sample": None}, "sample: how many were reached"),
        ({"control": None}, "need the control group's rate"),
        ({"kind": "poll"}, "kind 'poll' is not a test marketing records"),
        ({"recorded_by": " "}, "say who recorded the result"),
    ],
)
def test_bad_results_are_refused_with_the_reason(
    proposed: Path, earshot_home: Path, changes: dict, message: str
) -> None:
    db = proposed
    args = {"hypothesis": hm.hypothesis_id("t_down", "customers_customers"), "kind": "message_test",
            "metric": "reply_rate", "value": "5%", "sample": 400, "control": "3%", "recorded_by": "Ana",
            **changes}  # fmt: skip
    with writer(db) as con, pytest.raises(HypothesisError, match=message):
        record_result(con, args.pop("hypothesis"), at=T0, **args)
    with reader(db) as con:
        assert con.execute("SELECT count(*) FROM hypothesis_results").fetchone() == (0,)


def test_manual_status_changes_are_kept_and_respected(proposed: Path, earshot_home: Path) -> None:
    plan = market()
    db = proposed
    ransom = hm.hypothesis_id("t_ransom", "customers_customers")
    with writer(db) as con:
        event = set_status(con, ransom, "testing", by="Ana", why="guest post scheduled", at=T0 + timedelta(days=1))
        assert event is not None and (event.from_status, event.to_status, event.manual) == ("proposed", "testing", True)
        assert set_status(con, ransom, "testing", by="Ana", why="again", at=T0 + timedelta(days=1)) is None
        record_result(con, ransom, kind="content", metric="ctr", value="60/600", control="30/600", recorded_by="Bo",
                      at=T0 + timedelta(days=5))  # fmt: skip
        set_status(con, ransom, "testing", by="Cy", why="the post ran during a holiday; re-run it",
                   at=T0 + timedelta(days=6))  # fmt: skip
    with reader(db) as con:
        reopened = load_hypothesis(con, ransom)
    assert [(e.to_status, e.by) for e in reopened.events] == [
        ("proposed", "earshot"), ("testing", "Ana"), ("validated", "earshot"), ("testing", "Cy")
    ]  # fmt: skip
    # the next run does not re-validate it from the result Cy already set aside
    themes_run(db, "th2", T0 + timedelta(days=7), demo_like())
    propose_and_measure(ctx_at(earshot_home, plan, T0 + timedelta(days=7)))
    with reader(db) as con:
        assert load_hypothesis(con, ransom).status == "testing"
    with writer(db) as con, pytest.raises(HypothesisError, match="status 'done' is not one of"):
        set_status(con, ransom, "done", by="Ana", why="x", at=T0)


def test_untested_proposals_expire_when_their_theme_is_gone(proposed: Path, earshot_home: Path) -> None:
    plan = market()
    db = proposed
    only_cyber = [s for s in demo_like() if s["theme_id"] == "t_cyber"]
    themes_run(db, "th2", T0 + timedelta(days=29), only_cyber)
    summary = propose_and_measure(ctx_at(earshot_home, plan, T0 + timedelta(days=29)))
    with reader(db) as con:
        views = by_theme(load_hypotheses(con))
    assert views["t_down"].status == views["t_ransom"].status == "expired"
    assert "has not matched a rule since 2026-11-16" in views["t_down"].events[-1].why
    assert summary["status_changes"][views["t_down"].hypothesis_id] == "proposed → expired"
    assert views["t_cyber"].status == "testing"  # still heard, and its watch has started


def test_new_proposals_per_run_are_capped_best_first(db: Path, earshot_home: Path) -> None:
    themes_run(db, "th1", T0, demo_like())
    summary = propose_and_measure(ctx_at(earshot_home, market(max_new_per_run=1), T0))
    assert summary["proposed"] == [hm.hypothesis_id("t_cyber", "customers_customers")]
    assert summary["deferred"] == 2


def test_rules_from_market_yaml_drive_statement_owner_and_plan(db: Path, earshot_home: Path) -> None:
    plan = market(
        owner="growth team",
        audience_names={"customers": "MSP owners"},
        rules=[{"name": "pricing_talk", "audience": "customers", "when": {"pricing_share": ">= 30%"},
                "test": "survey", "statement": "{audience} haggle over {theme}", "owner": "Dee"},
               {"name": "anything", "audience": "any", "when": {"total": ">= 1"}, "test": "interview"}],
    )  # fmt: skip
    themes_run(db, "th1", T0, demo_like())
    propose_and_measure(ctx_at(earshot_home, plan, T0))
    with reader(db) as con:
        views = {(v.theme_id, v.audience): v for v in load_hypotheses(con)}
    pricing = views["t_pricing", "customers"]
    assert pricing.statement == (
        "MSP owners (your customers) haggle over Per-seat licensing · margins: "
        "40% of their 40 mentions talk about price"
    )
    assert (
        pricing.owner == "Dee"
        and pricing.test_kind == "survey"
        and "at least 100 of msp owners" not in pricing.test_plan
    )
    assert "at least 100 of MSP owners (your customers)" in pricing.test_plan
    assert views["t_down", "customers_customers"].owner == "growth team"
    assert ("t_down", "all") not in views  # 'any' means each audience, never the whole-market row


def test_a_rule_may_name_several_audiences() -> None:
    plan = market(rules=[{"name": "pain", "audience": ["customers", "customers_customers"],
                          "when": {"pain_share": ">= 0.3"}, "test": "message_test"}])  # fmt: skip
    rows = [{**s, "run_id": "r", "as_of": T0} for s in demo_like()]
    influencers = hm.Figures.from_mapping({**rows[4], "audience": "influencers"})
    (rule,) = rules_from_settings(plan.hypotheses)
    assert rule.matches(hm.Figures.from_mapping(rows[4]), None)
    assert not rule.matches(influencers, None)
    with pytest.raises(ConfigError, match="audience: 'partners' is not an audience"):
        market(
            rules=[{"name": "p", "audience": ["customers", "partners"], "when": {"total": ">= 1"}, "test": "survey"}]
        )


def test_quotes_skip_near_copies_and_spread_over_sources() -> None:
    template = "Our cyber insurance renewal for the {} came back with a much higher premium and a long questionnaire"
    candidates = [
        ("m1", "forum", template.format("veterinary clinic")),
        ("m2", "forum", template.format("brewpub")),  # a near-copy of m1
        ("m3", "forum", "Underwriters now want MFA on every laptop before they quote"),
        ("m4", "forum", "Who fills in the insurance questionnaire, the owner or the IT provider?"),
        ("m5", "qa", "Our premium doubled and nobody explained why"),
    ]
    assert hm.pick_quotes(candidates, 3) == ["m1", "m3", "m5"]  # m4: a third from 'forum' only if needed
    assert hm.pick_quotes(candidates, 4) == ["m1", "m3", "m5", "m4"]
