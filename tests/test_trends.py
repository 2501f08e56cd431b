"""Trends: the maths (exact rate test, trend and emerging rules, spread, echo), the warehouse snapshot
(counts from SQL, partition replace, same rows twice) and the demo, whose planted rising theme must be
found rising and emerging while the steady themes stay steady."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from earshot.config import ConfigError, load_market, parse_market
from earshot.paths import Paths
from earshot.runs import RunContext
from earshot.trends import snapshot
from models.trends import (
    TrendRule,
    Window,
    assess,
    binomial_cdf,
    binomial_sf,
    bucket,
    classify,
    echo,
    period_range,
    period_start,
    poisson_rate_test,
    rate_ratio,
    spread,
)
from warehouse.bulk import staged
from warehouse.connection import reader, writer
from warehouse.load import record_run

# --- the rate test ----------------------------------------------------------------------------------


def exact_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for Binomial(n, p), by summing exact terms: the reference the implementation must match."""
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(max(k, 0), n + 1))


def exact_head(k: int, n: int, p: float) -> float:
    """P(X <= k), likewise (summed directly: 1 - tail loses the far head to rounding)."""
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(0, min(k, n) + 1))


@pytest.mark.parametrize("n", [0, 1, 4, 17, 60])
@pytest.mark.parametrize("p", [0.05, 0.2, 0.5, 0.9])
def test_binomial_tails_match_exact_sums(n: int, p: float) -> None:
    for k in range(-1, n + 2):
        assert binomial_sf(k, n, p) == pytest.approx(exact_tail(k, n, p), rel=1e-9, abs=1e-15)
        assert binomial_cdf(k, n, p) == pytest.approx(exact_head(k, n, p), rel=1e-9, abs=1e-15)


@pytest.mark.parametrize(
    ("recent", "recent_days", "baseline", "baseline_days", "p_up", "p_down", "ratio"),
    [
        # tiny counts: one mention becoming three in equal windows is chance (p = 5/16), not "+200 %"
        (3, 7, 1, 7, 5 / 16, 15 / 16, 3.0),
        # five becoming forty is not
        (40, 7, 5, 7, exact_tail(40, 45, 0.5), 1 - exact_tail(41, 45, 0.5), 8.0),
        # the default windows: a week against the four weeks before
        (3, 7, 1, 28, exact_tail(3, 4, 0.2), 1 - exact_tail(4, 4, 0.2), 12.0),
        (20, 7, 30, 28, exact_tail(20, 50, 0.2), 1 - exact_tail(21, 50, 0.2), (20 / 7) / (30 / 28)),
        # zero baseline: the ratio is undefined, the test still speaks
        (5, 7, 0, 28, 0.2**5, 1.0, None),
        # zero recent: as significant downwards as the old level makes it
        (0, 7, 40, 28, 1.0, 0.8**40, 0.0),
        # nothing at all: no evidence either way
        (0, 7, 0, 28, 1.0, 1.0, None),
    ],
)
def test_poisson_rate_test(
    recent: int, recent_days: int, baseline: int, baseline_days: int, p_up: float, p_down: float, ratio: float | None
) -> None:
    test = poisson_rate_test(recent, recent_days, baseline, baseline_days)
    assert test.p_up == pytest.approx(p_up, rel=1e-9)
    assert test.p_down == pytest.approx(p_down, rel=1e-9)
    assert test.rate_ratio == (None if ratio is None else pytest.approx(ratio))
    assert rate_ratio(recent, recent_days, baseline, baseline_days) == test.rate_ratio


def test_significance_on_tiny_and_real_counts() -> None:
    assert poisson_rate_test(3, 7, 1, 7).p_up > 0.05
    assert poisson_rate_test(40, 7, 5, 7).p_up < 1e-6


@pytest.mark.parametrize(("args", "message"), [((-1, 7, 3, 28), "counts"), ((1, 0, 3, 28), "windows")])
def test_rate_test_rejects_impossible_input(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        poisson_rate_test(*args)


# --- trend and emerging -----------------------------------------------------------------------------

RULE = TrendRule()  # alpha 0.05, min_recent 5, min_mentions 5, emerging_days 28, emerging_ratio 2


@pytest.mark.parametrize(
    ("recent", "baseline", "prior", "age", "trend", "emerging"),
    [
        (3, 1, 1, 60, "steady", False),  # p = 0.027 against the 28-day baseline, but only 3 recent mentions
        (40, 5, 5, 60, "rising", True),  # a breakout: 32x the rate
        (20, 30, 40, 60, "rising", True),  # 2.7x the rate, p < 0.001
        (14, 30, 60, 90, "rising", False),  # 1.9x the rate, significant (p = 0.01), but under 2x and old
        (14, 30, 30, 20, "rising", True),  # the same, but first heard 20 days ago: young and growing
        (7, 28, 60, 90, "steady", False),  # the same daily rate
        (5, 0, 0, 3, "new", True),  # nothing before the recent window
        (2, 0, 0, 3, "new", False),  # new, but too few to call emerging
        (6, 0, 12, 120, "rising", True),  # back from silence: no baseline, significant now
        (0, 40, 40, 60, "falling", False),  # a real level dropping to zero is falling, not merely quiet
        (0, 8, 8, 60, "quiet", False),  # 2 expected at the old rate: too few to call falling
        (0, 0, 3, 200, "quiet", False),
        (2, 28, 28, 60, "falling", False),  # 7 expected, 2 seen: p_down = 0.04
    ],
)
def test_trend_and_emerging_rules(
    recent: int, baseline: int, prior: int, age: float, trend: str, emerging: bool
) -> None:
    verdict = assess(Window(recent, baseline, prior, 7, 28, age), RULE)
    assert (verdict.trend, verdict.emerging) == (trend, emerging), verdict.explanation
    assert verdict.explanation.startswith(trend)
    assert f"{recent} in the last 7 days vs {baseline} in the 28 days before" in verdict.explanation
    assert ("emerging:" in verdict.explanation) == emerging


def test_thresholds_come_from_the_rule() -> None:
    window = Window(recent=3, baseline=1, prior=1, recent_days=7, baseline_days=28, age_days=60)
    assert classify(window, RULE)[0] == "steady"
    assert classify(window, TrendRule(min_recent=3))[0] == "rising"
    assert classify(window, TrendRule(min_recent=3, alpha=0.01))[0] == "steady"
    assert "too few recent mentions to call it rising: 3 < 5" in assess(window, RULE).explanation


# --- periods, spread, echo --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "period", "start"),
    [
        (datetime(2026, 11, 16, 12, tzinfo=UTC), "week", date(2026, 11, 16)),  # a Monday
        (date(2026, 11, 22), "week", date(2026, 11, 16)),  # the Sunday after
        (date(2027, 1, 1), "week", date(2026, 12, 28)),  # ISO weeks cross years
        (date(2026, 12, 31), "month", date(2026, 12, 1)),
        (date(2026, 12, 31), "day", date(2026, 12, 31)),
    ],
)
def test_period_start(when: date, period: str, start: date) -> None:
    assert period_start(when, period) == start  # type: ignore[arg-type]


def test_periods_are_zero_filled_up_to_as_of() -> None:
    assert period_range(date(2026, 11, 30), date(2027, 2, 2), "month") == [
        date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1)
    ]  # fmt: skip
    daily = {date(2026, 11, 2): 2, date(2026, 11, 4): 1, date(2026, 11, 18): 4}
    assert bucket(daily, "week", until=date(2026, 11, 30)) == {
        date(2026, 11, 2): 3, date(2026, 11, 9): 0, date(2026, 11, 16): 4, date(2026, 11, 23): 0,
        date(2026, 11, 30): 0,
    }  # fmt: skip
    assert bucket({}, "week") == {}
    with pytest.raises(ValueError, match="unknown period"):
        period_start(date(2026, 1, 1), "year")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("counts", "audiences", "expected"),
    [
        ({"customers": 10}, 3, 0.0),
        ({"customers": 5, "customers_customers": 5, "influencers": 5}, 3, 1.0),
        ({"customers": 5, "influencers": 5}, 3, math.log(2) / math.log(3)),  # even over two of three
        ({"customers": 9, "influencers": 1}, 2, -(0.9 * math.log(0.9) + 0.1 * math.log(0.1)) / math.log(2)),
        ({"customers": 0, "influencers": 4}, 3, 0.0),
        ({}, 3, 0.0),
    ],
)
def test_spread(counts: dict[str, int], audiences: int, expected: float) -> None:
    assert spread(counts, audiences) == pytest.approx(expected)


def test_spread_needs_a_universe_at_least_as_large_as_what_carries_the_theme() -> None:
    with pytest.raises(ValueError, match="3 audiences carry the theme but only 2"):
        spread({"a": 1, "b": 1, "c": 1}, 2)


def test_echo_counts_distinct_mentions_and_ranks_voices() -> None:
    heard = echo([("m1", "backupwire"), ("m2", "backupwire"), ("m2", "Dana"), ("m3", "Ana"), ("m1", "backupwire")])
    assert heard.mentions == 3
    assert heard.voices == ["backupwire", "Ana", "Dana"]  # most mentions first, then by name
    assert echo([]).mentions == 0


# --- configuration ----------------------------------------------------------------------------------

PLAN = {
    "company": {"name": "Vaultline"},
    "offer": {"summary": "Backups MSPs resell"},
    "audiences": {"customers": {}, "customers_customers": {}, "influencers": {}},
    "sources": [{"id": "msp-forum", "kind": "feed", "audience": "customers", "url": "http://127.0.0.1:1/f.xml"}],
}


@pytest.mark.parametrize(
    ("trends", "expected"),
    [
        ({"alpha": 1.5}, "trends.alpha: Input should be less than or equal to 0.5"),
        ({"period": "year"}, "trends.period: Input should be 'day', 'week' or 'month'"),
        ({"recent_days": 0}, "trends.recent_days: Input should be greater than or equal to 1"),
        ({"emerging_ratio": 1}, "trends.emerging_ratio: Input should be greater than 1"),
        ({"window": 7}, "trends.window: unknown field"),
    ],
)
def test_trend_settings_errors_name_the_field(trends: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_market({**PLAN, "trends": trends}, Path("market.yaml"))
    assert str(caught.value).startswith("market.yaml: ") and expected in str(caught.value)


def test_trend_settings_defaults() -> None:
    settings = parse_market(PLAN, Path("market.yaml")).trends
    assert (settings.period, settings.recent_days, settings.baseline_days, settings.alpha) == ("week", 7, 28, 0.05)
    assert (settings.min_mentions, settings.emerging_days) == (5, 28)


# --- the warehouse snapshot -------------------------------------------------------------------------

AS_OF = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
SOURCES = [  # id, audience, whole source is an influencer's
    ("msp-forum", "customers", False),
    ("owners", "customers_customers", False),
    ("analyst-blog", "influencers", True),
]
AUDIENCE_OF = {source: audience for source, audience, _ in SOURCES}


class Corpus:
    """A hand-made warehouse: every row the snapshot reads, written with plain SQL (test data only)."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.rows: list[tuple] = []  # (mention_id, theme_id, [(source, audience, author, influencer)], at, label)
        self.signals: dict[str, tuple[str, list[str]]] = {}

    def mention(
        self,
        theme: str,
        days_ago: float,
        *carriers: tuple[str, str | None, bool],
        sentiment: str = "neutral",
        intents: tuple[str, ...] = (),
        published: bool = True,
    ) -> str:
        mention_id = f"m{len(self.rows):04d}"
        heard = [(source, AUDIENCE_OF[source], author, flag) for source, author, flag in carriers]
        self.rows.append((mention_id, theme, heard, AS_OF - timedelta(days=days_ago), published))
        self.signals[mention_id] = (sentiment, list(intents))
        return mention_id

    def write(self, run_id: str, finished: datetime, members: dict[str, str] | None = None) -> None:
        mentions, carriers, signals, memberships = [], [], [], []
        for mention_id, theme, heard, at, published in self.rows:
            first_source, first_audience, author, flag = heard[0]
            mentions.append((mention_id, first_source, first_audience, author, at if published else None, flag, at))
            carriers += [
                (source, mention_id, audience, who, influencer, at) for source, audience, who, influencer in heard
            ]
            signals.append((mention_id, *self.signals[mention_id], at))
            memberships.append((mention_id, (members or {}).get(mention_id, theme)))
        with writer(self.db) as con:
            con.execute("DELETE FROM sources")
            for source_id, audience, influencer in SOURCES:
                con.execute(
                    "INSERT INTO sources (source_id, kind, audience, influencer) VALUES (?, 'feed', ?, ?)",
                    [source_id, audience, influencer],
                )
            columns = {"mention_id": "VARCHAR", "source_id": "VARCHAR", "audience": "VARCHAR", "author": "VARCHAR",
                       "published_at": "TIMESTAMPTZ", "influencer": "BOOLEAN", "seen": "TIMESTAMPTZ"}  # fmt: skip
            with staged(con, "t_mentions", columns, mentions):
                con.execute(
                    """
                    INSERT OR REPLACE INTO mentions (mention_id, source_id, audience, author, text, published_at,
                        content_hash, influencer, first_seen_run, last_seen_run, first_seen_at, last_seen_at)
                    SELECT mention_id, source_id, audience, author, 'text', published_at, mention_id, influencer,
                           'listen', 'listen', seen, seen FROM t_mentions
                    """
                )
            columns = {"source_id": "VARCHAR", "mention_id": "VARCHAR", "audience": "VARCHAR", "author": "VARCHAR",
                       "influencer": "BOOLEAN", "seen": "TIMESTAMPTZ"}  # fmt: skip
            with staged(con, "t_sources", columns, carriers):
                con.execute(
                    """
                    INSERT OR REPLACE INTO mention_sources (source_id, item_id, mention_id, audience, author,
                        influencer, first_seen_run, last_seen_run, first_seen_at, last_seen_at)
                    SELECT source_id, mention_id, mention_id, audience, author, influencer, 'listen', 'listen',
                           seen, seen
                    FROM t_sources
                    """
                )
            columns = {"mention_id": "VARCHAR", "label": "VARCHAR", "intents": "VARCHAR[]", "seen": "TIMESTAMPTZ"}
            with staged(con, "t_signals", columns, signals):
                con.execute(
                    "INSERT OR REPLACE INTO mention_signals (mention_id, content_hash, sentiment, sentiment_label,"
                    " intents, scored_at) SELECT mention_id, mention_id, 0, label, intents, seen FROM t_signals"
                )
            with staged(con, "t_members", {"mention_id": "VARCHAR", "theme_id": "VARCHAR"}, memberships):
                con.execute(
                    "INSERT OR REPLACE INTO theme_members (run_id, mention_id, theme_id, similarity)"
                    " SELECT ?, mention_id, theme_id, 0.9 FROM t_members",
                    [run_id],
                )
            for theme in sorted({row[1] for row in self.rows}):
                con.execute(
                    "INSERT OR REPLACE INTO themes (theme_id, label, keywords, model, centroid, size, coherence,"
                    " first_seen_run, last_seen_run) VALUES (?, ?, [], 'm', [0.0], 1, 1.0, ?, ?)",
                    [theme, f"Label of {theme}", run_id, run_id],
                )
            record_run(con, run_id, "themes", finished, finished, "success", {})


def context(home: Path, market_dict: dict | None = None, run_at: datetime = AS_OF) -> RunContext:
    market = parse_market(market_dict or PLAN, Path("market.yaml"))
    return RunContext(run_id=f"trends@{run_at:%Y%m%dT%H%M}", run_at=run_at, paths=Paths(home).ensure(), market=market)


def table(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with reader(db) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.fixture
def corpus(tmp_path: Path) -> Corpus:
    """Two themes: 'insurance' rises among customers and is echoed by influencers; 'pricing' is steady."""
    corpus = Corpus(tmp_path / "home" / "earshot.duckdb")
    for i in range(30):  # baseline: 30 in the 28 days before the last week
        corpus.mention("insurance", 8 + i * 0.9, ("msp-forum", f"msp{i % 4}", False), sentiment="negative")
    for i in range(20):  # recent: 20 in the last week
        corpus.mention("insurance", 0.2 + i * 0.3, ("msp-forum", "msp1", False), intents=("pain", "pricing"))
    # heard twice: in an owners' forum and on the analyst's blog (one conversation, two audiences)
    corpus.mention("insurance", 1, ("owners", "jo", False), ("analyst-blog", "Dana", True), sentiment="positive")
    corpus.mention("insurance", 2, ("analyst-blog", "Dana", True))
    corpus.mention("insurance", 3, ("msp-forum", "Leo Fontaine", True))  # a named influencer author
    corpus.mention("insurance", 40, ("analyst-blog", "Dana", True), published=False)  # dated by first_seen_at
    for i in range(40):  # pricing: the same daily rate all along
        corpus.mention("pricing", i * 0.875 + 0.1, ("msp-forum", "msp2", False), ("owners", "jo", False))
    return corpus


def test_snapshot_counts_tests_and_explains(corpus: Corpus) -> None:
    corpus.write("themes-1", AS_OF)
    summary = snapshot(context(corpus.db.parent))
    assert summary["themes_run"] == "themes-1" and summary["themes"] == 2
    assert [e["theme_id"] for e in summary["emerging"]] == ["insurance"]
    assert summary["emerging"][0]["label"] == "Label of insurance" and "all" in summary["emerging"][0]["audiences"]
    rows = {
        (r[0], r[1]): r[2:]
        for r in table(
            corpus.db,
            "SELECT theme_id, audience, recent, baseline, total, rate_ratio, p_value, p_value_down, trend, emerging,"
            " audience_share, audiences, spread, influencer_mentions, influencers, negative_share, positive_share,"
            " pain_share, pricing_share, as_of, explanation FROM theme_snapshots WHERE run_id = 'themes-1'",
        )
    }
    assert set(rows) == {
        ("insurance", "all"), ("insurance", "customers"), ("insurance", "customers_customers"),
        ("insurance", "influencers"), ("pricing", "all"), ("pricing", "customers"), ("pricing", "customers_customers"),
    }  # fmt: skip
    recent, baseline, total, ratio, p_up, p_down, trend, emerging, *rest = rows[("insurance", "all")]
    # 20 + the three influencer-carried mentions of the last three days; the undated one is 40 days old
    assert (recent, baseline, total) == (23, 30, 54)
    expected = poisson_rate_test(23, 7, 30, 28)
    assert (ratio, p_up, p_down) == (pytest.approx(expected.rate_ratio), pytest.approx(expected.p_up),
                                     pytest.approx(expected.p_down))  # fmt: skip
    assert (trend, emerging) == ("rising", True) and p_up < 0.001
    share, audiences, spread_all, influencer_mentions, influencers, negative, positive, pain, pricing, as_of, why = rest
    assert share == 1.0 and audiences == 3
    mix = {"customers": 51, "customers_customers": 1, "influencers": 3}
    assert spread_all == pytest.approx(spread(mix, 3))
    assert rows[("insurance", "customers")][2] == 51 and rows[("insurance", "customers")][8] == pytest.approx(51 / 54)
    assert rows[("insurance", "customers_customers")][8] == pytest.approx(1 / 54)  # shares count both audiences
    assert influencer_mentions == 4
    assert influencers == ["analyst-blog", "Leo Fontaine"]  # the source (3 mentions), then the named author (1)
    assert rows[("insurance", "customers_customers")][11:13] == (1, ["analyst-blog"])  # the shared conversation
    assert rows[("insurance", "customers")][11:13] == (1, ["Leo Fontaine"])
    assert (negative, positive, pain, pricing) == pytest.approx((30 / 54, 1 / 54, 20 / 54, 20 / 54))
    assert as_of == AS_OF and why.startswith("rising: ") and "23 in the last 7 days vs 30 in the 28 days before" in why
    # pricing: 40 mentions at one per 0.875 days, in two audiences each
    p_recent, p_baseline, p_total, *_ = rows[("pricing", "all")]
    assert (p_recent, p_baseline, p_total) == (8, 32, 40)
    assert rows[("pricing", "all")][6:8] == ("steady", False)
    assert rows[("pricing", "customers")][10] == pytest.approx(math.log(2) / math.log(3))  # even over 2 of 3
    assert rows[("pricing", "all")][11:13] == (0, [])


def test_volume_per_period_is_zero_filled_and_adds_up(corpus: Corpus) -> None:
    corpus.write("themes-1", AS_OF)
    snapshot(context(corpus.db.parent))
    volume = table(
        corpus.db,
        "SELECT theme_id, audience, period_start, mentions, period FROM theme_volume WHERE run_id = 'themes-1'"
        " ORDER BY 1, 2, 3",
    )
    totals = {(t, a): n for t, a, n in table(corpus.db, "SELECT theme_id, audience, total FROM theme_snapshots")}
    for key, total in totals.items():
        weeks = [(start, n) for t, a, start, n, _ in volume if (t, a) == key]
        assert sum(n for _, n in weeks) == total, key
        starts = [start for start, _ in weeks]
        assert all(s.weekday() == 0 for s in starts)  # ISO weeks start on Monday
        assert starts == [starts[0] + timedelta(weeks=i) for i in range(len(starts))]  # no gaps
        assert starts[-1] == date(2026, 11, 16)  # up to the week of as_of
    assert {p for *_, p in volume} == {"week"}
    # the undated mention (40 days ago, first_seen_at) opens the influencers' weeks, then quiet weeks are 0
    influencers = [(s, n) for t, a, s, n, _ in volume if (t, a) == ("insurance", "influencers")]
    assert influencers[0] == (period_start(AS_OF - timedelta(days=40), "week"), 1)
    assert (date(2026, 10, 26), 0) in influencers


@pytest.mark.parametrize(
    ("period", "expected"),
    [("week", [(date(2026, 11, 9), 1), (date(2026, 11, 16), 1)]),
     ("day", [(date(2026, 11, 15), 1), (date(2026, 11, 16), 1)])],
)  # fmt: skip
def test_a_mention_is_bucketed_by_its_utc_day(tmp_path: Path, period: str, expected: list) -> None:
    corpus = Corpus(tmp_path / "home" / "earshot.duckdb")
    for at in (datetime(2026, 11, 15, 23, 30, tzinfo=UTC), datetime(2026, 11, 16, 0, 30, tzinfo=UTC)):
        corpus.mention("t", (AS_OF - at).total_seconds() / 86400, ("msp-forum", None, False))
    corpus.write("themes-1", AS_OF)
    snapshot(context(corpus.db.parent, {**PLAN, "trends": {"period": period}}))
    assert table(
        corpus.db, "SELECT period_start, mentions FROM theme_volume WHERE audience = 'all' AND period = ? ORDER BY 1",
        [period],
    ) == expected  # fmt: skip
    assert table(corpus.db, "SELECT trend, emerging FROM theme_snapshots WHERE audience = 'all'") == [("new", False)]


def test_snapshot_twice_gives_identical_rows_and_keeps_other_runs(corpus: Corpus) -> None:
    corpus.write("themes-1", AS_OF - timedelta(hours=2))
    snapshot(context(corpus.db.parent), themes_run="themes-1")
    # a later themes run moves one pricing mention into insurance
    moved = next(row[0] for row in corpus.rows if row[1] == "pricing")
    corpus.write("themes-2", AS_OF - timedelta(hours=1), members={moved: "insurance"})
    ctx = context(corpus.db.parent)

    def dump() -> dict[str, list[tuple]]:
        return {
            name: table(corpus.db, f"SELECT * FROM {name} ORDER BY run_id, theme_id, audience, {order}")
            for name, order in (("theme_volume", "period_start"), ("theme_snapshots", "as_of"))
        }

    first = snapshot(ctx)
    assert first["themes_run"] == "themes-2"  # the latest successful themes run by default
    once = dump()
    second = snapshot(ctx)
    assert dump() == once and first == second
    by_run = table(
        corpus.db, "SELECT run_id, sum(total) FROM theme_snapshots WHERE audience = 'all' GROUP BY 1 ORDER BY 1"
    )
    assert by_run == [("themes-1", 94), ("themes-2", 94)]
    assert table(
        corpus.db,
        "SELECT run_id, total FROM theme_snapshots WHERE theme_id = 'insurance' AND audience = 'all' ORDER BY 1",
    ) == [("themes-1", 54), ("themes-2", 55)]
    assert table(corpus.db, "SELECT count(*) FROM runs WHERE stage = 'trends'") == [(1,)]


def test_an_unknown_or_failed_themes_run_is_named(corpus: Corpus) -> None:
    corpus.write("themes-1", AS_OF)
    ctx = context(corpus.db.parent)
    with pytest.raises(ValueError, match="no themes run 'nope'"):
        snapshot(ctx, themes_run="nope")
    with writer(corpus.db) as con:
        record_run(con, "themes-bad", "themes", AS_OF, AS_OF, "failed", {})
    with pytest.raises(ValueError, match="themes run 'themes-bad' did not succeed"):
        snapshot(ctx, themes_run="themes-bad")
    assert table(corpus.db, "SELECT count(*) FROM theme_snapshots") == [(0,)]


def test_no_themes_run_yet_writes_nothing(tmp_path: Path) -> None:
    summary = snapshot(context(tmp_path / "home"))
    assert (summary["themes_run"], summary["snapshots"], summary["emerging"]) == (None, 0, [])


# --- the demo ---------------------------------------------------------------------------------------


def test_demo_anchor_follows_the_clock_but_is_kept_across_a_re_run(tmp_path: Path) -> None:
    from earshot.demo.market_data import ANCHOR, anchor_for, build_demo_feeds
    from earshot.demo.pipeline import demo_anchor

    now = datetime(2031, 2, 3, 23, 50, tzinfo=UTC)
    anchor = demo_anchor(tmp_path, now)
    assert anchor == datetime(2031, 2, 3, tzinfo=UTC) == anchor_for(now)
    assert demo_anchor(tmp_path, now + timedelta(minutes=20)) == anchor  # past midnight: same feeds, 304s
    assert demo_anchor(tmp_path, now + timedelta(days=3)) == datetime(2031, 2, 6, tzinfo=UTC)  # days later: fresh
    with pytest.raises(ValueError, match="aware"):
        anchor_for(datetime(2031, 2, 3))
    fixed, moved = build_demo_feeds(), build_demo_feeds(anchor=anchor)
    assert fixed == build_demo_feeds(anchor=ANCHOR)
    shift = anchor - ANCHOR
    for a, b in zip(fixed, moved, strict=True):
        assert [(i.guid, i.title, i.html, i.published + shift) for i in a.items] == [
            (i.guid, i.title, i.html, i.published) for i in b.items
        ]


@pytest.fixture(scope="module")
def demo_snapshot(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The demo market as ``earshot demo`` serves it on a day long after the fixed anchor, listened to by
    the real listen stage; memberships come from the planted themes (no embeddings needed)."""
    from earshot import listen, themes
    from earshot.demo import DEMO_URL_ENV, MARKET_PATH, DemoServer, build_demo_feeds
    from earshot.demo.pipeline import demo_anchor

    home = tmp_path_factory.mktemp("demo-trends")
    run_at = datetime(2031, 2, 3, 17, 45, tzinfo=UTC)
    feeds = build_demo_feeds(anchor=demo_anchor(home, run_at))
    planted = {item.link: item.theme for feed in feeds for item in feed.items}
    with pytest.MonkeyPatch.context() as patch, DemoServer(feeds) as server:
        patch.setenv(DEMO_URL_ENV, server.base_url)
        patch.setenv("EARSHOT_HOME", str(home))
        patch.delenv("EARSHOT_WAREHOUSE", raising=False)
        ctx = RunContext("demo-run", run_at, Paths(home).ensure(), load_market(MARKET_PATH))
        heard = listen.listen(ctx)
        assert heard["failed"] == 0, heard
        themes.signals(ctx)
        with writer(ctx.paths.warehouse) as con:
            mentions = con.execute("SELECT mention_id, url FROM mentions").fetchall()
            members = [(m, planted[url]) for m, url in mentions if planted.get(url)]
            assert len(members) == sum(1 for t in planted.values() if t)
            for mention_id, theme in members:
                con.execute(
                    "INSERT INTO theme_members (run_id, mention_id, theme_id, similarity) VALUES ('demo-run', ?, ?, 1)",
                    [mention_id, theme],
                )
            record_run(con, "demo-run", "themes", run_at, run_at, "success", {})
        summary = snapshot(ctx)
    return ctx.paths.warehouse, summary


def test_the_demo_s_planted_rise_is_rising_and_emerging(demo_snapshot: tuple[Path, dict]) -> None:
    db, summary = demo_snapshot
    assert [e["theme_id"] for e in summary["emerging"]][:1] == ["cyber_insurance"]
    rows = {
        (t, a): (trend, emerging, p, ratio, recent, baseline)
        for t, a, trend, emerging, p, ratio, recent, baseline in table(
            db,
            "SELECT theme_id, audience, trend, emerging, p_value, rate_ratio, recent, baseline FROM theme_snapshots",
        )
    }
    trend, emerging, p, ratio, recent, baseline = rows[("cyber_insurance", "all")]
    assert (trend, emerging) == ("rising", True)
    assert p < 0.01 and ratio >= 2, (p, ratio, recent, baseline)
    assert rows[("cyber_insurance", "influencers")][:2] == ("rising", True)  # where it is loudest
    for theme in ("ransomware_recovery", "downtime_cost", "m365_backup", "msp_pricing"):
        assert rows[(theme, "all")][:2] == ("steady", False), (theme, rows[(theme, "all")])
        assert rows[(theme, "all")][2] > 0.05


def test_the_demo_s_echo_and_spread(demo_snapshot: tuple[Path, dict]) -> None:
    db, _ = demo_snapshot
    query = "SELECT theme_id, audience, influencer_mentions, influencers, spread, audiences FROM theme_snapshots"
    rows = {(t, a): rest for t, a, *rest in table(db, query)}
    mentions, voices, _, audiences = rows[("cyber_insurance", "all")]
    assert mentions == 28 and audiences == 3  # the plan puts 28 cyber-insurance items in influencer feeds
    assert set(voices) == {"backupwire", "secops-weekly", "msp-recap-podcast"}
    ordered = [rows[(t, "all")][2] for t in ("downtime_cost", "ransomware_recovery")]
    assert ordered[0] < ordered[1]  # downtime lives among small businesses; ransomware is heard everywhere
