"""Trend maths: is a theme heard more (or less) now than before, and is the difference real?

Raw growth percentages mislead on small counts ("+200 %" is one mention becoming three), so every
comparison here is a significance test on counts. Two Poisson rates (``recent`` mentions in
``recent_days`` against ``baseline`` mentions in ``baseline_days``) are compared with the exact
conditional test: given ``n = recent + baseline`` mentions in all, under "the rate did not change" each
one falls in the recent window with probability ``recent_days / (recent_days + baseline_days)``, so
``recent ~ Binomial(n, p)``. The one-sided tail of that binomial is the p-value. It is exact at any
count, needs no normal approximation, and is easy to explain: "at the old rate, seeing this many or
more in the last week would happen by chance with probability p".

Everything in this module is pure: counts in, figures out. The warehouse side is ``earshot.trends``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

Period = Literal["day", "week", "month"]
Trend = Literal["rising", "falling", "steady", "new", "quiet"]
TRENDS: tuple[Trend, ...] = ("rising", "falling", "steady", "new", "quiet")


# --- periods ----------------------------------------------------------------------------------------


def period_start(when: date | datetime, period: Period) -> date:
    """The first day of the period holding ``when``: the day, the ISO week's Monday, or the month's 1st.

    A ``datetime`` must already be in the zone the periods are counted in (earshot uses UTC).
    """
    day = when.date() if isinstance(when, datetime) else when
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    raise ValueError(f"unknown period {period!r} (day, week or month)")


def next_period(start: date, period: Period) -> date:
    """The start of the period after the one starting on ``start``."""
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    if period == "month":
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    raise ValueError(f"unknown period {period!r} (day, week or month)")


def period_range(first: date, last: date, period: Period) -> list[date]:
    """Every period start from the period of ``first`` to that of ``last``, inclusive: charts need the
    empty periods too, or a gap reads as continuity."""
    start, end = period_start(first, period), period_start(last, period)
    out = []
    while start <= end:
        out.append(start)
        start = next_period(start, period)
    return out


def bucket(daily: Mapping[date, int], period: Period, until: date | None = None) -> dict[date, int]:
    """Per-day counts summed into periods, zero-filled from the first day with a count to ``until``
    (or the last day with a count, whichever is later). Empty input gives an empty result.

    Summing days is exact for distinct mentions because each mention has exactly one day.
    """
    if not daily:
        return {}
    last = max(daily) if until is None else max(max(daily), until)
    out = dict.fromkeys(period_range(min(daily), last, period), 0)
    for day, count in daily.items():
        out[period_start(day, period)] += count
    return out


# --- the test ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateTest:
    """Recent rate against baseline rate, per day, with both one-sided exact p-values."""

    rate_ratio: float | None  # recent rate / baseline rate; None when the baseline is empty
    p_up: float  # P(this many recent mentions or more | rates equal)
    p_down: float  # P(this few recent mentions or fewer | rates equal)


def rate_ratio(recent: int, recent_days: float, baseline: int, baseline_days: float) -> float | None:
    """``(recent / recent_days) / (baseline / baseline_days)``; None when the baseline is 0 (undefined,
    not infinite: a theme with no past has no growth rate)."""
    _check_counts(recent, recent_days, baseline, baseline_days)
    if baseline == 0:
        return None
    return (recent / recent_days) / (baseline / baseline_days)


def poisson_rate_test(recent: int, recent_days: float, baseline: int, baseline_days: float) -> RateTest:
    """The exact conditional test of two Poisson rates, both one-sided directions.

    With ``n = recent + baseline`` and ``p = recent_days / (recent_days + baseline_days)``, under equal
    rates ``recent ~ Binomial(n, p)``: ``p_up = P(X >= recent)``, ``p_down = P(X <= recent)``. With no
    mentions at all there is no evidence either way: both are 1.
    """
    _check_counts(recent, recent_days, baseline, baseline_days)
    n = recent + baseline
    p = recent_days / (recent_days + baseline_days)
    ratio = rate_ratio(recent, recent_days, baseline, baseline_days)
    if n == 0:
        return RateTest(ratio, 1.0, 1.0)
    return RateTest(ratio, binomial_sf(recent, n, p), binomial_cdf(recent, n, p))


def binomial_sf(k: int, n: int, p: float) -> float:
    """``P(X >= k)`` for ``X ~ Binomial(n, p)``, accurate in the far tail (scipy's regularised beta)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    from scipy.stats import binom

    return _probability(binom.sf(k - 1, n, p))


def binomial_cdf(k: int, n: int, p: float) -> float:
    """``P(X <= k)`` for ``X ~ Binomial(n, p)``."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    from scipy.stats import binom

    return _probability(binom.cdf(k, n, p))


def _probability(value: float) -> float:
    return min(1.0, max(0.0, float(value)))


def _check_counts(recent: int, recent_days: float, baseline: int, baseline_days: float) -> None:
    if recent < 0 or baseline < 0:
        raise ValueError(f"counts must be >= 0, got recent={recent}, baseline={baseline}")
    if recent_days <= 0 or baseline_days <= 0:
        raise ValueError(f"windows must be longer than 0 days, got {recent_days} and {baseline_days}")


# --- classification ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendRule:
    """Thresholds for calling a trend; ``earshot.config.TrendSettings`` carries the user's values."""

    alpha: float = 0.05  # significance level of each one-sided test
    min_recent: int = 5  # rising needs this many recent mentions; falling this many expected at the old rate
    min_mentions: int = 5  # emerging needs this many recent mentions
    emerging_days: int = 28  # a theme first heard at most this many days ago is young
    emerging_ratio: float = 2.0  # an older theme emerges when its rate at least multiplies by this


@dataclass(frozen=True)
class Window:
    """What was counted for one theme and audience, as of the end of the recent window."""

    recent: int  # mentions in the recent window
    baseline: int  # mentions in the baseline window just before it
    prior: int  # mentions at any time before the recent window (baseline included)
    recent_days: float
    baseline_days: float
    age_days: float | None = None  # days from the first mention to the end of the recent window


@dataclass(frozen=True)
class Assessment:
    """The verdict on one window, with the figures behind it and a sentence saying why."""

    trend: Trend
    emerging: bool
    rate_ratio: float | None
    p_value: float  # recent rate > baseline rate
    p_value_down: float  # recent rate < baseline rate
    explanation: str


def classify(window: Window, rule: TrendRule = TrendRule()) -> tuple[Trend, RateTest]:
    """Call the trend, in this order (the first that applies):

    - ``new``: heard in the recent window and never before it;
    - ``rising``: ``p_up < alpha`` and at least ``min_recent`` recent mentions (so 1 → 3 never counts);
    - ``falling``: ``p_down < alpha`` and at least ``min_recent`` mentions *expected* in the recent window
      at the baseline rate (a drop to zero from a real level is falling, not merely quiet);
    - ``quiet``: nothing in the recent window;
    - ``steady``: anything else, including differences the data cannot tell from chance.
    """
    test = poisson_rate_test(window.recent, window.recent_days, window.baseline, window.baseline_days)
    expected = window.baseline * window.recent_days / window.baseline_days
    if window.recent > 0 and window.prior == 0:
        return "new", test
    if test.p_up < rule.alpha and window.recent >= rule.min_recent:
        return "rising", test
    if test.p_down < rule.alpha and expected >= rule.min_recent:
        return "falling", test
    if window.recent == 0:
        return "quiet", test
    return "steady", test


def emerging_reason(trend: Trend, window: Window, test: RateTest, rule: TrendRule = TrendRule()) -> str | None:
    """Why the theme is emerging, or None when it is not. Emerging needs at least ``min_mentions`` recent
    mentions, and either

    - young and growing: ``new``, or ``rising`` and first heard at most ``emerging_days`` ago; or
    - a breakout: ``rising`` (so significant) with the daily rate at least ``emerging_ratio`` times the
      baseline rate (or no baseline at all: a theme back from silence).
    """
    if window.recent < rule.min_mentions or trend not in ("new", "rising"):
        return None
    if trend == "new" or (window.age_days is not None and window.age_days <= rule.emerging_days):
        return f"young and growing (first heard within {rule.emerging_days} days, {window.recent} recent mentions)"
    if test.rate_ratio is None:
        return "back from silence: nothing in the baseline window, significant now"
    if test.rate_ratio >= rule.emerging_ratio:
        return f"breakout (rate at least {rule.emerging_ratio:g}x the baseline, significant)"
    return None


def is_emerging(trend: Trend, window: Window, test: RateTest, rule: TrendRule = TrendRule()) -> bool:
    """See :func:`emerging_reason`."""
    return emerging_reason(trend, window, test, rule) is not None


def assess(window: Window, rule: TrendRule = TrendRule()) -> Assessment:
    """Trend, emerging flag and an explanation a marketer can read, for one theme and audience."""
    trend, test = classify(window, rule)
    why_emerging = emerging_reason(trend, window, test, rule)
    text = explain(trend, window, test, rule)
    if why_emerging:
        text += f"; emerging: {why_emerging}"
    return Assessment(trend, why_emerging is not None, test.rate_ratio, test.p_up, test.p_down, text)


def explain(trend: Trend, window: Window, test: RateTest, rule: TrendRule = TrendRule()) -> str:
    """One sentence with the counts, windows, ratio and p-value behind the trend."""
    counts = (
        f"{window.recent} in the last {_days(window.recent_days)} vs {window.baseline} in the "
        f"{_days(window.baseline_days)} before"
    )
    ratio = "no baseline" if test.rate_ratio is None else f"{test.rate_ratio:.2f}x the baseline rate"
    p = test.p_down if trend == "falling" else test.p_up
    direction = "as few" if trend == "falling" else "as many"
    evidence = f"{counts} ({ratio}; p={_p(p)} of {direction} by chance, alpha {rule.alpha:g})"
    reason = {
        "new": "new: nothing before the recent window",
        "rising": f"rising: significant, with at least {rule.min_recent} recent mentions",
        "falling": f"falling: significant, with at least {rule.min_recent} expected at the old rate",
        "quiet": "quiet: nothing in the recent window",
        "steady": "steady: no significant change" + _unless_tiny(window, test, rule),
    }[trend]
    return f"{reason}; {evidence}"


def _unless_tiny(window: Window, test: RateTest, rule: TrendRule) -> str:
    if test.p_up < rule.alpha and window.recent < rule.min_recent:
        return f" (too few recent mentions to call it rising: {window.recent} < {rule.min_recent})"
    if test.p_down < rule.alpha:
        return " (too few expected at the old rate to call it falling)"
    return ""


def _days(days: float) -> str:
    return f"{days:g} day" + ("" if days == 1 else "s")


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 0.001 else f"{p:.1e}"


# --- spread and echo --------------------------------------------------------------------------------


def spread(counts: Mapping[str, int], audiences: int) -> float:
    """Normalised Shannon entropy of a theme's mentions over audiences: 0 when one audience carries it
    all, 1 when every one of the ``audiences`` possible carries the same amount.

    Normalising by the number of audiences the market declares (not by how many carry the theme)
    keeps "even over two of three audiences" below "even over all three".
    """
    positive = [c for c in counts.values() if c > 0]
    if any(c < 0 for c in counts.values()):
        raise ValueError(f"audience counts must be >= 0, got {dict(counts)}")
    if audiences < len(positive):
        raise ValueError(f"{len(positive)} audiences carry the theme but only {audiences} were declared")
    total = sum(positive)
    if audiences <= 1 or total == 0:
        return 0.0
    entropy = -sum(c / total * math.log(c / total) for c in positive)
    return min(1.0, max(0.0, entropy / math.log(audiences)))


@dataclass(frozen=True)
class Echo:
    """Influencer echo of a theme: how many of its mentions are influencers', and whose."""

    mentions: int  # distinct mentions by an influencer source or a named influencer author
    voices: list[str]  # who: most mentions first, then by name so the order is stable


def echo(voices: Iterable[tuple[str, str]]) -> Echo:
    """Aggregate ``(mention_id, who)`` pairs (a mention may have several voices, a pair may repeat)."""
    pairs = set(voices)
    per_who = Counter(who for _, who in pairs)
    ranked = sorted(per_who.items(), key=lambda item: (-item[1], item[0]))
    return Echo(len({mention for mention, _ in pairs}), [who for who, _ in ranked])
