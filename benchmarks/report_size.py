"""Report generation time and HTML size for a large market: 100 themes, 1,000 quotes by default.

    python -m benchmarks.report_size --themes 100 --quotes 10 --runs 5

Builds a synthetic :class:`~reports.content.ReportContent` of that size (no pipeline, no warehouse): every
theme with 12 weeks of volume per audience, a trend per audience, signals and ``--quotes`` quotes of ~300
characters with links; ten hypotheses in every state, with progress series and results; changes and alerts.
Then times, over ``--runs`` runs after one warm-up, ``render_html`` + ``render_markdown`` (what one report
costs) and ``write_report`` (both renderings for the run folder and ``latest``, summary, archive index,
atomic writes), and prints the medians and the sizes. Targets: under 2 s, HTML under 3 MB.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

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

AT = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
AUDIENCES = ("customers", "customers_customers", "influencers")
WORDS = [
    "backup",
    "restore",
    "ransomware",
    "snapshot",
    "immutable",
    "tenant",
    "mailbox",
    "retention",
    "downtime",
    "outage",
    "insurance",
    "MFA",
    "questionnaire",
    "premium",
    "licensing",
    "seat",
    "margin",
    "bundle",
    "client",
    "owner",
    "server",
    "cloud",
    "offsite",
    "replication",
    "test",
]
TRENDS = ("rising", "steady", "steady", "falling", "new", "quiet")


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def _snapshot(rng: random.Random, audience: str) -> Snapshot:
    recent, baseline = rng.randint(0, 40), rng.randint(0, 80)
    return Snapshot(
        audience=audience,
        recent=recent,
        baseline=baseline,
        total=recent + baseline + rng.randint(0, 50),
        recent_days=7,
        baseline_days=28,
        trend=rng.choice(TRENDS),
        p_value=rng.random() ** 3,
        p_value_down=rng.random(),
        rate_ratio=rng.uniform(0.2, 5),
        emerging=rng.random() < 0.1,
        audience_share=rng.random(),
        audiences=3,
        spread=rng.random(),
        influencer_mentions=rng.randint(0, 20),
        influencers=tuple(f"voice-{rng.randint(1, 30)}" for _ in range(rng.randint(0, 5))),
        signals={key: rng.random() * 0.8 for key in SIGNAL_KEYS},
        as_of=AT,
    )


def synthetic_content(themes: int = 100, quotes: int = 10, seed: int = 0) -> ReportContent:
    """A report the size of a large market, deterministic for a seed."""
    rng = random.Random(seed)
    weeks = [date(2026, 9, 7) + timedelta(weeks=n) for n in range(12)]
    views = []
    for index in range(themes):
        by_audience = {audience: _snapshot(rng, audience) for audience in AUDIENCES}
        series = {audience: [rng.randint(0, 25) for _ in weeks] for audience in AUDIENCES}
        views.append(
            ThemeView(
                theme_id=f"t_{index:04d}",
                label=f"{rng.choice(WORDS).capitalize()} · {rng.choice(WORDS)} {index}",
                keywords=rng.sample(WORDS, 8),
                volume=sum(sum(v) for v in series.values()),
                audience_mix={audience: sum(values) for audience, values in series.items()},
                quotes=[
                    Quote(
                        _sentence(rng, 45)[:320],
                        f"https://forum.example.com/t/{index}/{n}",
                        f"source-{rng.randint(1, 40)}",
                        rng.choice(AUDIENCES),
                        f"author{rng.randint(1, 999)}",
                        AT - timedelta(days=rng.randint(0, 80)),
                    )
                    for n in range(quotes)
                ],
                sources=rng.randint(1, 30),
                signals={key: rng.random() * 0.8 for key in SIGNAL_KEYS},
                overall=_snapshot(rng, "all"),
                by_audience=by_audience,
                series=VolumeSeries("week", weeks, series, [sum(v) for v in zip(*series.values(), strict=True)]),
            )
        )
    views.sort(key=lambda view: -view.recent)
    return ReportContent(
        run_id="scheduled__2026-11-23T07:00:00+00:00",
        generated_at=AT,
        title="Weekly market listening",
        company="Vaultline",
        offer="Backup and disaster recovery that MSPs resell",
        total_mentions=sum(v.volume for v in views),
        mentions_by_audience={a: sum(v.audience_mix[a] for v in views) for a in AUDIENCES},
        themes=views,
        unassigned=rng.randint(0, 500),
        sources=[
            SourceHealth(
                f"source-{n}",
                "feed",
                rng.choice(AUDIENCES),
                "ok" if n % 9 else "failing",
                20,
                400,
                0 if n % 9 else 4,
                AT,
                None if n % 9 else "http_5xx: 503",
            )
            for n in range(40)
        ],
        embedding_model="all-MiniLM-L6-v2",
        period_start=AT - timedelta(days=7),
        mentions_in_period=rng.randint(100, 2000),
        themes_total=themes,
        test_first=[_hypothesis(rng, n, "proposed", views) for n in range(10)],
        under_test=[_hypothesis(rng, n, "testing", views) for n in range(10, 14)],
        validated=[_hypothesis(rng, n, "validated", views) for n in range(14, 17)],
        closed=[_hypothesis(rng, n, "rejected", views) for n in range(17, 20)],
        changes=Changes(
            since=AT - timedelta(days=7),
            previous_run_id="scheduled__2026-11-16T07:00:00+00:00",
            themes=[ThemeChange("new", v.theme_id, v.label) for v in views[:5]],
            volume=[
                VolumeChange(v.theme_id, v.label, 3, 30, "mentions in 7 days, vs the last report") for v in views[:5]
            ],
            new_hypotheses=[],
            status_changes=[
                StatusChange(
                    f"h_{n:010x}",
                    _sentence(rng, 20),
                    views[n].label,
                    "MSPs (your customers)",
                    "proposed",
                    "testing",
                    AT - timedelta(days=2),
                    "ana",
                    "a test started",
                )
                for n in range(4)
            ],
            new_alerts=[Alert("a1", "source_failing", "source-9", "source source-9 failing", AT - timedelta(days=1))],
        ),
        alerts=[Alert("a1", "source_failing", "source-9", "source source-9 failing", AT - timedelta(days=1))],
    )


def _hypothesis(rng: random.Random, n: int, status: str, views: list[ThemeView]) -> HypothesisItem:
    theme = views[n % len(views)]
    return HypothesisItem(
        hypothesis_id=f"h_{n:010x}",
        status=status,
        statement=f"MSPs (your customers) feel real pain around {theme.label}: " + _sentence(rng, 12),
        audience="customers",
        audience_label="MSPs (your customers)",
        theme_id=theme.theme_id,
        theme_label=theme.label,
        owner="marketing",
        why=_sentence(rng, 50),
        rank_score=10 - n * 0.3,
        rank_reasons=(_sentence(rng, 6), _sentence(rng, 8)),
        test_kind="message_test",
        test_plan=_sentence(rng, 40),
        criteria_text=_sentence(rng, 40),
        status_why=_sentence(rng, 10),
        proposed_at=AT - timedelta(days=20),
        test_started_at=AT - timedelta(days=10),
        expires_at=AT + timedelta(days=30),
        decided_at=AT - timedelta(days=1) if status in ("validated", "rejected") else None,
        days_left=30 if status == "testing" else None,
        evidence=_snapshot(rng, "customers"),
        baseline=_snapshot(rng, "customers"),
        progress=[
            ProgressPoint(AT - timedelta(weeks=w), rng.randint(0, 30), rng.uniform(0, 30), rng.uniform(0.3, 3))
            for w in range(6, 0, -1)
        ],
        results=[
            RecordedResult(
                AT - timedelta(days=3),
                "message_test",
                "reply_rate",
                0.052,
                400,
                "inconclusive",
                _sentence(rng, 15),
                "ana",
                0.031,
            )
        ],
        quotes=theme.quotes[:2],
        brief_href=f"briefs/h_{n:010x}/brief.html" if status == "validated" else None,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--themes", type=int, default=100)
    parser.add_argument("--quotes", type=int, default=10, help="quotes per theme")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from reports.render import render_html, render_markdown, write_report

    content = synthetic_content(args.themes, args.quotes)
    render_html(content), render_markdown(content)  # warm-up: templates compiled once per process
    renders, writes = [], []
    with tempfile.TemporaryDirectory(prefix="earshot-bench-report-") as scratch:
        for _ in range(args.runs):
            started = time.perf_counter()
            html, markdown = render_html(content), render_markdown(content)
            renders.append(time.perf_counter() - started)
            started = time.perf_counter()
            write_report(content, Path(scratch))
            writes.append(time.perf_counter() - started)
    quotes = sum(len(t.quotes) for t in content.themes)
    print(f"report: {len(content.themes)} themes, {quotes:,} quotes, {len(content.test_first)} hypotheses to test")
    print(f"render html + markdown: median {statistics.median(renders):.3f}s (min {min(renders):.3f}s, "
          f"{args.runs} runs)")  # fmt: skip
    print(f"write_report (run + latest + summary + index): median {statistics.median(writes):.3f}s")
    print(f"html: {len(html.encode()) / 1e6:.2f} MB   markdown: {len(markdown.encode()) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
