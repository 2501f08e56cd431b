"""Sales briefs: only validated hypotheses go to sales, the hand-off is recorded once, and the brief carries the
audience, the benefit in their words, the proof against the baseline, the homework, talking points and what not
to say, in HTML, Markdown, CSV (one injection-safe row) and JSON (read back to the same brief).

The warehouse is built through the public API: theme snapshot rows are inserted as the trends stage would
write them, ``propose_and_measure`` proposes and re-measures, ``record_result`` records tests.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml

from earshot.briefs import BriefError, write_brief, write_validated_briefs
from earshot.cli import main
from earshot.config import Market, parse_market
from earshot.hypotheses import HypothesisError, load_hypothesis, propose_and_measure, record_result
from earshot.paths import Paths
from earshot.runs import RunContext
from models.hypotheses import hypothesis_id
from reports.brief import (
    CSV_FIELDS,
    SUPERLATIVES,
    Brief,
    BriefQuote,
    Reading,
    brief_from_json,
    chance_words,
    match_benefit,
    render_csv,
    render_html,
    render_json,
    render_markdown,
    series_chart,
    talking_points,
)
from warehouse.connection import reader, transaction, writer
from warehouse.load import record_run

T0 = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
RUNS = (("th1", 0), ("th2", 4), ("th3", 9))
RECORDED = T0 + timedelta(days=10)
BENEFITS = [
    "Immutable, off-site copies that ransomware cannot delete or encrypt.",
    "Recovery of a whole server or a single mailbox in minutes, tested automatically every week.",
    "Microsoft 365, endpoint and server backup in one console, across every client.",
    "Simple per-client pricing an MSP can bundle into its own managed-services plans.",
]
PLAN: dict[str, Any] = {
    "company": {"name": "Vaultline"},
    "offer": {"summary": "Backup and disaster recovery MSPs resell to small businesses.", "benefits": BENEFITS},
    "competitors": ["Acronis", "Datto"],
    "audiences": {
        "customers": {"description": "MSPs (managed service providers) who resell us."},
        "customers_customers": {"description": "Small-business owners: dentists, law firms, accountants, shops."},
        "influencers": {"description": "Analysts, newsletter writers and podcasters the channel follows."},
    },
    "sources": [
        {
            "id": "owners-forum",
            "kind": "feed",
            "audience": "customers_customers",
            "name": "Main Street Owners",
            "url": "http://127.0.0.1:1/owners.xml",
        },
        {
            "id": "backupwire",
            "kind": "feed",
            "audience": "influencers",
            "name": "BackupWire newsletter",
            "url": "http://127.0.0.1:1/wire.xml",
            "influencer": True,
        },
    ],
    "hypotheses": {"quotes": 4},
}
THEMES = {
    "t_ransom": ("Ransomware · immutable snapshots", ["ransomware", "immutable", "snapshots", "encrypted"]),
    "t_cyber": ("Cyber insurance · MFA", ["insurance", "mfa", "premium"]),
    "t_down": ("Downtime · lost sales", ["downtime", "outage", "sales"]),
    "t_pricing": ("Per-seat licensing · margins", ["licensing", "margin", "per-seat"]),
    "t_restore": ("Restore testing", ["restore", "test"]),
}
RANSOM_QUOTES = [
    ("Ransomware encrypted our file server and the backups on the NAS too. We lost a week of invoices.",
     "https://owners.example/t/101", "dentist_dana", "owners-forum"),
    ("Are immutable off-site copies worth it for a three-person law firm? Acronis quoted us twice what we pay.",
     "https://owners.example/t/102", "lawfirm_lee", "owners-forum"),
    ("Our IT guy says the snapshots are fine, but nobody has ever tested a restore after ransomware.",
     None, "shopkeeper_sam", "smb-reddit"),
]  # fmt: skip
READINGS = [  # (title, url, author, days before T0)
    ("Immutable backups are the last line against ransomware", "https://backupwire.example/immutable", "Kim", 20),
    ("Why small firms pay the ransom: no tested restore", "https://backupwire.example/pay", "Kim", 5),
    ("Podcast 88: snapshots vs real off-site copies", "https://podcast.example/88", None, 12),
]
RANSOM = hypothesis_id("t_ransom", "customers_customers")
CYBER = hypothesis_id("t_cyber", "customers_customers")
DOWN = hypothesis_id("t_down", "customers_customers")
PRICING = hypothesis_id("t_pricing", "customers")
RESTORE = hypothesis_id("t_restore", "customers")


def market() -> Market:
    return parse_market(yaml.safe_load(yaml.safe_dump(PLAN)), Path("market.yaml"))


def snap(theme_id: str, audience: str, **figures: Any) -> dict[str, Any]:
    """A theme_snapshots row with quiet defaults; ``figures`` override them."""
    row = {
        "theme_id": theme_id, "audience": audience, "recent_days": 7, "baseline_days": 28, "recent": 2,
        "baseline": 8, "total": 12, "rate_ratio": None, "p_value": 0.5, "p_value_down": 0.5, "trend": "steady",
        "emerging": False, "audience_share": 0.3, "audiences": 3, "spread": 0.8, "influencer_mentions": 0,
        "influencers": [], "negative_share": 0.0, "positive_share": 0.0, "pain_share": 0.0,
        "solution_request_share": 0.0, "advice_request_share": 0.0, "praise_share": 0.0, "pricing_share": 0.0,
        "competitor_share": 0.0,
    }  # fmt: skip
    row.update(figures)
    if row["baseline"] and "rate_ratio" not in figures:
        row["rate_ratio"] = (row["recent"] / row["recent_days"]) / (row["baseline"] / row["baseline_days"])
    return row


def snapshots(run: int) -> list[dict[str, Any]]:
    """Run 0, 1, 2: ransomware pain grows among owners; cyber insurance rises (a listening watch); downtime,
    per-seat pricing and restore testing stay as they were."""
    ransom_recent, cyber_recent = (6, 9, 14)[run], (9, 12, 10)[run]
    rising = {"trend": "rising", "p_value": 0.004} if run else {}
    return [
        snap("t_ransom", "all", recent=ransom_recent + 4, baseline=20, total=60, influencer_mentions=3,
             influencers=["backupwire"]),
        snap("t_ransom", "customers_customers", recent=ransom_recent, baseline=16, total=30, pain_share=0.45,
             negative_share=0.5, pricing_share=0.2, competitor_share=0.1, audience_share=0.5, **rising),
        snap("t_cyber", "all", recent=30, baseline=20, total=62, trend="rising", p_value=1e-5, influencer_mentions=12,
             influencers=["backupwire"], spread=0.95),
        snap("t_cyber", "customers_customers", recent=cyber_recent, baseline=4, total=16, trend="rising",
             p_value=0.0004, audience_share=0.26, pain_share=0.1),
        snap("t_down", "all", total=58),
        snap("t_down", "customers_customers", recent=6, baseline=30, total=38, audience_share=0.65, pain_share=0.45),
        snap("t_pricing", "all", total=56, audiences=1, spread=0.0),
        snap("t_pricing", "customers", total=40, audience_share=0.7, pain_share=0.35, pricing_share=0.4),
        snap("t_restore", "all", total=20),
        snap("t_restore", "customers", total=20, pain_share=0.4),
    ]  # fmt: skip


def _mention(con: Any, mention_id: str, source: str, audience: str, url: str | None, author: str | None,
             title: str | None, text: str, published: datetime, influencer: bool = False) -> None:  # fmt: skip
    con.execute(
        "INSERT INTO mentions (mention_id, source_id, audience, url, author, title, text, published_at, content_hash, "
        "influencer, first_seen_run, last_seen_run, first_seen_at, last_seen_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'l', 'l', ?, ?) ON CONFLICT DO NOTHING",
        [mention_id, source, audience, url, author, title, text, published, mention_id, influencer, published,
         published],
    )  # fmt: skip
    con.execute(
        "INSERT INTO mention_sources (source_id, item_id, mention_id, audience, url, author, influencer, "
        "first_seen_run, last_seen_run, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'l', 'l', ?, ?) "
        "ON CONFLICT DO NOTHING",
        [source, mention_id, mention_id, audience, url, author, influencer, published, published],
    )


def themes_run(db: Path, run_id: str, at: datetime, run: int) -> None:
    """One successful themes run: themes, the snapshot partition, members, quotable mentions and influencer
    content, as the themes and trends stages would leave them."""
    with writer(db) as con, transaction(con):
        record_run(con, run_id, "themes", at, at, "success", {})
        for theme_id, (label, keywords) in THEMES.items():
            con.execute(
                "INSERT INTO themes (theme_id, label, keywords, model, centroid, size, coherence, first_seen_run, "
                "last_seen_run, active) VALUES (?, ?, ?, 'm', [1.0], 10, 0.5, ?, ?, TRUE) ON CONFLICT DO NOTHING",
                [theme_id, label, keywords, run_id, run_id],
            )
        members: list[tuple[str, str, float]] = []
        for row in snapshots(run):
            columns = ["run_id", "as_of", "first_seen_at", "explanation", *row]
            con.execute(
                f"INSERT INTO theme_snapshots ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                [run_id, at, at - timedelta(days=60), "", *row.values()],
            )
            theme_id, audience = row["theme_id"], row["audience"]
            if audience == "all":
                continue
            if theme_id == "t_ransom":
                quotes = RANSOM_QUOTES
            else:
                label = THEMES[theme_id][0]
                quotes = [(f"{label} keeps costing us: two bad weeks this quarter.", f"https://ex.test/{theme_id}/1",
                           "owner1", f"src-{audience}-1"),
                          (f"Nobody explains {label} to people like me.", None, None, f"src-{audience}-2")]  # fmt: skip
            for n, (text, url, author, source) in enumerate(quotes):
                mention = f"m-{theme_id}-{audience}-{n}"
                _mention(con, mention, source, audience, url, author, None, text, T0 - timedelta(days=2 + n))
                members.append((mention, theme_id, 0.95 - n / 20))
        for n, (title, url, author, days) in enumerate(READINGS):
            mention = f"m-read-{n}"
            _mention(con, mention, "backupwire", "influencers", url, author, title, f"{title}. More text.",
                     T0 - timedelta(days=days), influencer=True)  # fmt: skip
            members.append((mention, "t_ransom", 0.7))
        for mention, theme_id, similarity in members:
            con.execute("INSERT INTO theme_members VALUES (?, ?, ?, ?)", [run_id, mention, theme_id, similarity])


def ctx_at(home: Path, at: datetime, run_id: str) -> RunContext:
    return RunContext(run_id, at, Paths(home), market())


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse after three runs and the recorded tests: ransomware validated by a message test, cyber insurance
    validated by its listening watch, downtime under test, per-seat pricing rejected, restore testing proposed."""
    home = tmp_path_factory.mktemp("briefs-template")
    db = Paths(home).warehouse
    for index, (run_id, days) in enumerate(RUNS):
        themes_run(db, run_id, T0 + timedelta(days=days), index)
        propose_and_measure(ctx_at(home, T0 + timedelta(days=days), f"run-{run_id}"))
    test = {"kind": "message_test", "metric": "reply_rate", "recorded_by": "Ana", "at": RECORDED}
    with writer(db) as con:
        record_result(con, RANSOM, value="15%", sample=400, control="8%", note="subject: a week of invoices", **test)
        record_result(con, DOWN, value="30/100", control="10%", **test)
        record_result(con, PRICING, value="9%", sample=400, control="8%", **test)
    return db


@pytest.fixture
def db(earshot_home: Path, template: Path) -> Path:
    target = Paths(earshot_home).warehouse
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, target)
    return target


def hand_off(db: Path, hypothesis: str = RANSOM, **kwargs: Any) -> Any:
    return write_brief(db, db.parent / "reports", hypothesis, market(), at=RECORDED + timedelta(hours=1), **kwargs)


def load_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def status_of(db: Path, hypothesis: str) -> Any:
    with reader(db) as con:
        return load_hypothesis(con, hypothesis)


# ---------------------------------------------------------------------------------------------- hand-off


def test_the_statuses_the_briefs_are_tested_against(db: Path) -> None:
    assert {h: status_of(db, h).status for h in (RANSOM, CYBER, DOWN, PRICING, RESTORE)} == {
        RANSOM: "validated", CYBER: "validated", DOWN: "testing", PRICING: "rejected", RESTORE: "proposed",
    }  # fmt: skip


def test_a_validated_hypothesis_is_briefed_and_handed_off(db: Path) -> None:
    written = hand_off(db, RANSOM[:7], by="Ana")

    assert written.hypothesis_id == RANSOM and written.handed_off_now
    assert written.folder == db.parent / "reports" / "briefs" / RANSOM
    assert [p.name for p in (written.html, written.markdown, written.csv, written.json)] == [
        "brief.html", "brief.md", "brief.csv", "brief.json"
    ]  # fmt: skip
    view = status_of(db, RANSOM)
    assert view.status == "handed_off"
    last = view.events[-1]
    assert (last.from_status, last.to_status, last.by, last.at) == ("validated", "handed_off", "Ana",
                                                                     RECORDED + timedelta(hours=1))  # fmt: skip
    assert "sales brief written" in last.why

    brief = brief_from_json(written.json.read_text(encoding="utf-8"))
    assert brief.status == "handed_off" and brief.handed_off_at == RECORDED + timedelta(hours=1)
    assert brief.validated_at == RECORDED and brief.owner == "marketing"
    assert brief.audience_name.startswith("Small-business owners") and "law firms" in brief.audience_description
    assert brief.theme_label == "Ransomware · immutable snapshots"
    assert brief.theme_keywords == ["ransomware", "immutable", "snapshots", "encrypted"]


def test_the_benefit_is_theirs_in_their_own_words(db: Path) -> None:
    brief = brief_from_json(hand_off(db).json.read_text(encoding="utf-8"))

    assert brief.benefit.benefit == BENEFITS[0] and brief.benefit.position == 1
    assert {"ransomware", "immutable", "encrypt"} <= set(brief.benefit.terms)
    assert "benefit 1 of 4 in offer.benefits" in brief.benefit.why and "theme keyword" in brief.benefit.why
    # verbatim, linked, most representative first; from the hypothesis's audience only
    assert [(q.text, q.url, q.author) for q in brief.quotes] == [(t, u, a) for t, u, a, _ in RANSOM_QUOTES]
    assert brief.quotes[0].source == "Main Street Owners"  # the source's name from market.yaml
    assert brief.competitors_named == ["Acronis"]


def test_the_proof_is_figures_against_the_baseline_tests_and_history(db: Path) -> None:
    brief = brief_from_json(hand_off(db).json.read_text(encoding="utf-8"))
    proof = brief.proof

    assert (proof.baseline.run_id, proof.baseline.recent, proof.latest.run_id, proof.latest.recent) == (
        "th1", 6, "th3", 14
    )  # fmt: skip
    assert proof.baseline_per_week == pytest.approx(16 / 28 * 7, abs=1e-3)
    assert proof.vs_baseline == pytest.approx((14 / 7) / (16 / 28), abs=1e-3)
    assert [p.run_id for p in proof.series] == ["th1", "th2", "th3"]
    assert proof.in_words[0].startswith(
        "14 mentions in the 7 days to 2026-11-25 (14.0 a week), against a baseline of 4.0 a week in the 28 days "
        "before it was proposed on 2026-11-16: 3.5× the baseline."
    )
    assert proof.proposal_vs_baseline == pytest.approx((6 / 7) / (16 / 28), abs=1e-3)
    assert "chance alone gives a rise this large about 4 times in 1,000 (p = 0.004)" in proof.in_words[1]
    assert "45% describe pain" in proof.in_words[2] and "20% talk about price" in proof.in_words[2]
    (result,) = proof.results
    assert (result.verdict, result.sample, result.control, result.note) == ("validated", 400, 0.08,
                                                                           "subject: a week of invoices")  # fmt: skip
    assert "lift +87%" in result.why and proof.verdict.startswith("message_test recorded by Ana on 2026-11-26")
    assert [(e.from_status, e.to_status) for e in proof.history] == [
        (None, "proposed"), ("proposed", "testing"), ("testing", "validated"), ("validated", "handed_off")
    ]  # fmt: skip


def test_homework_talking_points_and_what_not_to_say(db: Path) -> None:
    brief = brief_from_json(hand_off(db).json.read_text(encoding="utf-8"))

    # influencer content on the theme, newest first, with sources, links and dates
    assert [(r.title, r.url, r.source, r.published_at) for r in brief.readings] == [
        (t, u, "BackupWire newsletter", T0 - timedelta(days=d)) for t, u, _, d in sorted(READINGS, key=lambda r: r[3])
    ]
    points = brief.talking_points
    assert 3 <= len(points) <= 5
    assert points[0].startswith("Start from their words, not ours: “Ransomware encrypted our file server and the")
    assert "(dentist_dana, 2026-11-14)" in points[0]
    assert points[1].startswith(f"Lead with one business benefit: {BENEFITS[0].rstrip('.')}.")
    assert "14 mentions of Ransomware · immutable snapshots" in points[2]
    assert "3.5× the baseline we measured on 2026-11-16 (4.0 a week)" in points[2]
    assert "reply_rate 15% against 8% for a control group (400 and 400 reached" in points[3]
    assert "they read “Why small firms pay the ransom: no tested restore”" in points[4]
    own_words = [re.sub(r"“[^”]*”", "", p).lower() for p in points]  # quoted material is theirs, not ours
    assert not [w for w in SUPERLATIVES for p in own_words if re.search(rf"\b{re.escape(w)}\b", p)]

    avoid = {c.say_not: c.why for c in brief.avoid}
    assert "“Let us know if we can help with your IT.”" in avoid
    assert any("Explaining their own business" in s for s in avoid)
    assert any(s.startswith("Fear beyond the evidence") for s in avoid)
    assert "Running down Acronis." in avoid and "Acronis comes up in their own words" in avoid["Running down Acronis."]
    price = avoid["Leading with price or a discount."]
    assert "20% of their mentions on this talk about price and 50% are negative" in price
    assert "45% of their mentions describe real pain" in avoid["“It's an easy fix.”"]
    assert "“We tested this message and it works.”" not in avoid  # a message test did decide


def test_a_listening_watch_brief_says_it_held_and_does_not_claim_a_test(db: Path) -> None:
    brief = brief_from_json(hand_off(db, CYBER).json.read_text(encoding="utf-8"))

    assert brief.proof.results == [] and brief.proof.test_kind == "listening_watch"
    assert (
        "Show it held: 9.0×, 12.0×, 10.0× the baseline in the last 3 measurements, 9 days after it was first "
        "measured." in brief.talking_points
    )
    assert brief.benefit.position is None and "offer summary stands in" in brief.benefit.why  # 'weeks' is no fit
    assert "“We tested this message and it works.”" in {c.say_not for c in brief.avoid}
    assert "Running down competitors." in {c.say_not for c in brief.avoid}  # no rival in these quotes


@pytest.mark.parametrize(
    ("hypothesis", "expected"),
    [
        (DOWN, rf"hypothesis {DOWN} is 'testing': 1 message_test result recorded, the latest inconclusive: "
               r"reply_rate 30% vs 10% for the control \(n = 100 and 100\): too few to judge, needs at least 200 in "
               r"each group; a brief needs status validated"),
        (PRICING, rf"hypothesis {PRICING} was rejected on 2026-11-26: message_test recorded by Ana on 2026-11-26: "
                  r"reply_rate 9% vs 8% .*lift below 20%.*; only validated hypotheses go to sales"),
        (RESTORE, rf"hypothesis {RESTORE} is 'proposed': no test has started \(waiting for a test to start\); test "
                  r"it first — Message test: .*; a brief needs status validated"),
    ],
)  # fmt: skip
def test_anything_not_validated_is_refused_with_the_reason(db: Path, hypothesis: str, expected: str) -> None:
    before = status_of(db, hypothesis)
    with pytest.raises(BriefError, match=expected):
        hand_off(db, hypothesis)
    assert status_of(db, hypothesis).events == before.events  # nothing recorded
    assert not (db.parent / "reports" / "briefs").exists()  # nothing written


def test_unknown_ids_and_a_missing_warehouse_are_named(db: Path, tmp_path: Path) -> None:
    with pytest.raises(HypothesisError, match="no hypothesis 'h_nothere'"):
        hand_off(db, "h_nothere")
    with pytest.raises(BriefError, match=r"no warehouse at .*missing\.duckdb: run `earshot run` first"):
        write_brief(tmp_path / "missing.duckdb", tmp_path, RANSOM, market(), at=RECORDED)
    assert not (tmp_path / "missing.duckdb").exists()


def test_the_report_stage_hands_off_every_validated_hypothesis_idempotently(db: Path, earshot_home: Path) -> None:
    ctx = ctx_at(earshot_home, RECORDED + timedelta(days=1), "run-report")
    first = write_validated_briefs(ctx)
    files = {p: p.read_bytes() for w in first for p in (w.html, w.markdown, w.csv, w.json)}

    assert sorted(w.hypothesis_id for w in first) == sorted([RANSOM, CYBER])
    assert all(w.handed_off_now for w in first)
    assert all(w.folder == earshot_home / "reports" / "briefs" / w.hypothesis_id for w in first)
    events = {h: status_of(db, h).events for h in (RANSOM, CYBER)}
    assert all(e[-1].to_status == "handed_off" and e[-1].by == "earshot" for e in events.values())

    again = write_validated_briefs(replace(ctx, run_at=ctx.run_at + timedelta(days=1), run_id="run-report-2"))
    assert [w.hypothesis_id for w in again] == [w.hypothesis_id for w in first]
    assert not any(w.handed_off_now for w in again)
    assert {p: p.read_bytes() for p in files} == files  # same bytes
    assert {h: status_of(db, h).events for h in (RANSOM, CYBER)} == events  # one hand-off each
    assert not list((earshot_home / "reports" / "briefs").rglob("*.tmp"))


def test_no_validated_hypothesis_no_brief(earshot_home: Path) -> None:
    assert write_validated_briefs(ctx_at(earshot_home, T0, "run-empty")) == []
    assert not (earshot_home / "reports" / "briefs").exists()


# ------------------------------------------------------------------------------------------------ formats


def test_csv_is_one_row_for_a_crm(db: Path) -> None:
    written = hand_off(db)
    raw = written.csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw

    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == list(CSV_FIELDS) and len(rows) == 2
    record = dict(zip(rows[0], rows[1], strict=True))
    brief = brief_from_json(written.json.read_text(encoding="utf-8"))
    assert record["hypothesis_id"] == RANSOM and record["audience"] == "customers_customers"
    assert record["theme"] == brief.theme_label and record["status"] == "handed_off"
    assert record["benefit"] == BENEFITS[0] and record["owner"] == "marketing"
    assert record["talking_points"].split(" | ") == brief.talking_points
    assert (record["top_quote"], record["top_quote_url"]) == RANSOM_QUOTES[0][:2]
    assert record["validated_at"] == RECORDED.isoformat()
    assert record["proof_summary"].startswith("14 mentions in the 7 days") and "Validated: message_test" in record[
        "proof_summary"]  # fmt: skip


FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"click\")", "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r\n=1+1", "  =1+1"]  # fmt: skip


@pytest.mark.parametrize("formula", FORMULAS)
def test_csv_cells_never_start_a_formula(db: Path, formula: str) -> None:
    brief = brief_from_json(hand_off(db).json.read_text(encoding="utf-8"))
    hostile = replace(
        brief,
        theme_label=formula, statement=formula, owner=formula, audience_name=formula, company=formula,
        benefit=replace(brief.benefit, benefit=formula),
        quotes=[replace(brief.quotes[0], text=formula, url=f"{formula}https://x.example")],
    )  # fmt: skip
    hostile = replace(hostile, talking_points=[formula, *talking_points(hostile)])

    (header, row) = list(csv.reader(io.StringIO(render_csv(hostile).removeprefix("\ufeff"))))
    assert header == list(CSV_FIELDS)
    assert [cell for cell in row if cell.lstrip()[:1] in ("=", "+", "-", "@", "\t", "\r")] == []
    record = dict(zip(header, row, strict=True))
    flat = " ".join(formula.split())
    assert record["top_quote"] == record["theme"] == "'" + flat  # defused, otherwise verbatim
    assert record["top_quote_url"] == ""  # not an http(s) link
    assert record["talking_points"].startswith("'" + flat + " | ")


def test_json_round_trips_to_the_same_brief(db: Path) -> None:
    written = hand_off(db)
    text = written.json.read_text(encoding="utf-8")
    data = json.loads(text)
    brief = brief_from_json(text)

    assert data["schema"] == "earshot.sales_brief/1" and data["crm"]["hypothesis_id"] == RANSOM
    assert isinstance(brief, Brief) and isinstance(brief.quotes[0], BriefQuote)
    assert isinstance(brief.readings[0], Reading) and brief.readings[0].published_at.tzinfo is not None
    assert render_json(brief) == text  # read back, written again: the same document
    assert render_html(brief) == written.html.read_text(encoding="utf-8")
    assert render_markdown(brief) == written.markdown.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="not an earshot sales brief"):
        brief_from_json(json.dumps({"schema": "something else"}))


def test_markdown_keeps_scraped_text_inert(db: Path) -> None:
    brief = brief_from_json(hand_off(db).json.read_text(encoding="utf-8"))
    hostile = replace(
        brief,
        theme_label="# <script>alert(1)</script>",
        quotes=[replace(brief.quotes[0], text="[click](javascript:alert(1)) <img src=x onerror=alert(1)>",
                        url="javascript:alert(1)", author="**bold**")],
        readings=[replace(brief.readings[0], title="<b>hi</b>", url="https://ok.example/a b(c)")],
    )  # fmt: skip
    text = render_markdown(hostile)

    assert "<script>" not in text and "<img" not in text and "<b>" not in text
    assert "](javascript:" not in text and "\\[click\\]\\(javascript:alert\\(1\\)\\)" in text
    assert "\\# &lt;script&gt;alert\\(1\\)&lt;/script&gt;" in text
    assert "\\*\\*bold\\*\\*" in text and "source: Main Street Owners" in text
    assert "[&lt;b&gt;hi&lt;/b&gt;](https://ok.example/a%20b%28c%29)" in text


# ------------------------------------------------------------------------------------------------- pure


def test_benefits_are_matched_by_the_words_they_share_and_ties_go_to_the_first() -> None:
    downtime = match_benefit(
        BENEFITS,
        "summary",
        ["Downtime · outage", "outage"],
        ["How fast can we recover the server after an outage?", "We need to recover mailboxes"],
    )
    assert (downtime.position, downtime.terms) == (2, ["recovery", "mailbox", "server"])
    assert "‘recovery’ (in 2 of 2 quotes)" in downtime.why and "next best: benefit 3 with 1" in downtime.why
    pricing = match_benefit(BENEFITS, "summary", ["Per-seat pricing"], ["The per-seat price eats my margin"])
    assert pricing.position == 4
    tie = match_benefit(["Fast restore", "Quick rollback"], "summary", ["restore", "rollback"], [])
    assert (tie.position, tie.score) == (1, 2)
    once = match_benefit(BENEFITS, "the summary", ["weather"], ["a mailbox went missing"])  # one word, one quote
    assert once.position is None and once.benefit == "the summary"
    assert match_benefit(BENEFITS, "the summary", ["weather"], ["sunny"]).benefit == "the summary"
    none = match_benefit([], "the summary", ["ransomware"], [])
    assert none.position is None and "lists no offer.benefits" in none.why
    # a word every benefit has decides nothing
    shared = match_benefit(["Backup for servers", "Backup for laptops"], "s", ["backup"], ["backup laptops", "laptops"])
    assert (shared.position, shared.terms) == (2, ["laptops"])


@pytest.mark.parametrize("runs", [1, 3, 12, 30])
def test_the_series_chart_keeps_every_label_inside_and_apart(db: Path, runs: int) -> None:
    proof = brief_from_json(hand_off(db).json.read_text(encoding="utf-8")).proof
    last = proof.series[-1]
    series = [replace(last, as_of=last.as_of + timedelta(days=i), per_week=5.0 + i) for i in range(runs)]
    chart = series_chart(replace(proof, series=series))

    assert len(chart.bars) == 1 + min(runs, 12) and chart.bars[0].baseline
    assert [b.label for b in (chart.bars[0], chart.bars[-1])] == ["baseline", f"{series[-1].as_of:%m-%d}"]
    assert float(chart.bars[-1].height) > float(chart.bars[0].height) > 0
    spans = []  # label extents, at the widths the layout reserves for them
    for bar in chart.bars:
        if bar.label:
            width, x = (74 if bar.baseline else 52), float(bar.text_x)
            spans.append({"start": (x, x + width), "end": (x - width, x), "middle": (x - width / 2, x + width / 2)}[
                bar.anchor])  # fmt: skip
    assert all(chart.left <= a and b <= chart.right for a, b in spans)
    assert all(b1 <= a2 for (_, b1), (a2, _) in pairwise(spans))


@pytest.mark.parametrize(("p", "words"), [(0.0004, "less than once in 1,000"), (0.004, "about 4 times in 1,000"),
                                          (0.03, "about 3 times in 100"), (0.3, "about 30 times in 100")])  # fmt: skip
def test_p_values_in_words(p: float, words: str) -> None:
    assert chance_words(p) == words


# ---------------------------------------------------------------------------------------------------- CLI


def run(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["hypotheses", "brief", *argv, "--config", str(config)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "market.yaml"
    path.write_text(yaml.safe_dump(PLAN), encoding="utf-8")
    return path


def test_cli_writes_the_brief_and_prints_where(db: Path, config: Path, capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:  # fmt: skip
    code, out, err = run(capsys, config, RANSOM, "--by", "Ana")
    assert (code, err) == (0, "")
    folder = db.parent / "reports" / "briefs" / RANSOM
    assert out.splitlines() == [f"{RANSOM}: handed off to sales"] + [
        f"  {folder / name}" for name in ("brief.html", "brief.md", "brief.csv", "brief.json")
    ]
    assert status_of(db, RANSOM).events[-1].by == "Ana"

    code, out, _ = run(capsys, config, RANSOM, "--out", str(tmp_path / "crm"))
    assert code == 0 and out.startswith(f"{RANSOM}: already handed off; brief rewritten")
    assert sorted(p.name for p in (tmp_path / "crm").iterdir()) == ["brief.csv", "brief.html", "brief.json", "brief.md"]


def test_cli_refuses_with_exit_2_and_the_reason(db: Path, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, config, DOWN)
    assert (code, out) == (2, "")
    assert err.startswith(f"earshot hypotheses: hypothesis {DOWN} is 'testing': 1 message_test result recorded")
    assert err.rstrip().endswith("a brief needs status validated")

    code, _, err = run(capsys, config, "h_nothere")
    assert code == 2 and "no hypothesis 'h_nothere'" in err


def test_cli_needs_no_feed_variables_it_never_fetches(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A brief reads the warehouse, not the feeds: `${VAR}`s in the sources may be unset where it is written."""
    monkeypatch.delenv("BRIEF_TEST_FEEDS", raising=False)
    plan = json.loads(json.dumps(PLAN))
    for source in plan["sources"]:
        if "url" in source:
            source["url"] = "${BRIEF_TEST_FEEDS}/" + source["id"] + ".xml"
    path = tmp_path / "market.yaml"
    path.write_text(yaml.safe_dump(plan), encoding="utf-8")
    code, out, err = run(capsys, path, RANSOM)
    assert (code, err) == (0, "")
    assert out.startswith(f"{RANSOM}: handed off to sales")
