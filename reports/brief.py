"""A sales brief: one validated hypothesis handed to sales, as plain data, rendered as HTML, Markdown, CSV and JSON.

The product brief lists what sinks a pitch: vague offers of help, no homework, talking down, no business
benefit, no proof. Each section answers one of them: who to call, the benefit in the audience's own words,
the proof against the baseline, what they already read, talking points, and what not to say.

Building the brief (:func:`build_brief`) is pure: it takes the hypothesis as read from the warehouse, the
listening plan and the influencer content, and decides everything deterministically, so the same evidence
always gives the same brief. Scraped text (quotes, titles, authors, URLs, theme labels) is hostile: HTML is
autoescaped by Jinja, links are emitted only for http(s) URLs (``safe_url``), Markdown goes through the
report's ``markdown_text``, and CSV cells that a spreadsheet would run as a formula are defused (reports.safe_csv).
"""

from __future__ import annotations

import functools
import json
import math
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, is_dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from models.hypotheses import (
    HANDED_OFF,
    LISTENING_WATCH,
    SYSTEM,
    VALIDATED,
    Figures,
    baseline_rate,
    p_text,
    vs_baseline,
)
from reports.render import markdown_text, safe_url
from reports.safe_csv import csv_text

if TYPE_CHECKING:
    from earshot.config import Market
    from earshot.hypotheses import HypothesisView

TEMPLATES = Path(__file__).parent / "templates"
JSON_SCHEMA = "earshot.sales_brief/1"
BRIEFABLE: tuple[str, ...] = (VALIDATED, HANDED_OFF)
"""Only validated hypotheses go to sales; a handed-off one was validated first, so its brief may be rewritten."""

MAX_QUOTES = 5
MAX_READINGS = 6
MAX_POINTS = 5
MIN_BENEFIT_SCORE = 2
CHART_POINTS = 12
SUPERLATIVES: tuple[str, ...] = (
    "best", "leading", "world-class", "best-in-class", "industry-leading", "unmatched", "unrivalled", "unrivaled",
    "revolutionary", "ultimate", "cutting-edge", "game-changing", "unbeatable", "perfect", "seamless", "only",
)  # fmt: skip
"""Words a brief's own sentences never use: every claim carries a figure instead."""

CSV_FIELDS: tuple[str, ...] = (
    "hypothesis_id", "audience", "audience_name", "theme", "statement", "benefit", "proof_summary",
    "talking_points", "dont_say", "top_quote", "top_quote_url", "status", "validated_at", "handed_off_at", "owner",
    "company",
)  # fmt: skip


# ------------------------------------------------------------------------------------------------ content


@dataclass(frozen=True)
class BriefQuote:
    """Something the audience said, verbatim (cut at a word boundary when long, marked …), with its link."""

    text: str
    url: str | None
    source: str  # the source's name in market.yaml, else its id
    author: str | None
    published_at: datetime | None


@dataclass(frozen=True)
class Reading:
    """Influencer content on the theme: what the audience already reads."""

    title: str
    url: str | None
    source: str
    author: str | None
    published_at: datetime | None


@dataclass(frozen=True)
class BenefitMatch:
    """Which of ``offer.benefits`` the brief leads with, and why (the words it shares with the evidence)."""

    benefit: str
    position: int | None  # 1-based in offer.benefits; None when the offer summary stands in
    terms: list[str]
    score: int
    why: str


@dataclass(frozen=True)
class FigureSet:
    """One measurement of the theme among the audience (a theme_snapshots row), as the brief shows it."""

    run_id: str
    as_of: datetime
    recent: int
    recent_days: int
    baseline: int
    baseline_days: int
    per_week: float
    rate_ratio: float | None
    p_value: float
    trend: str
    audience_share: float
    negative_share: float
    pain_share: float
    solution_request_share: float
    pricing_share: float
    competitor_share: float
    influencer_mentions: int


@dataclass(frozen=True)
class SeriesPoint:
    run_id: str
    as_of: datetime
    recent: int
    per_week: float
    vs_baseline: float  # recent rate / the frozen baseline rate
    trend: str


@dataclass(frozen=True)
class RecordedResult:
    recorded_at: datetime
    kind: str
    metric: str
    value: float
    sample: int
    control: float | None
    control_sample: int | None
    verdict: str
    why: str
    by: str
    note: str


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    from_status: str | None
    to_status: str
    by: str
    why: str
    manual: bool


@dataclass(frozen=True)
class Proof:
    """The reality basepoint and what happened since: figures, series, recorded tests, status history."""

    baseline: FigureSet
    latest: FigureSet
    baseline_per_week: float  # the frozen rate the series is measured against (an empty window counts ½ mention)
    proposal_vs_baseline: float  # the proposal's own recent rate against it
    vs_baseline: float  # the latest recent rate against it
    in_words: list[str]
    verdict: str  # why it was validated, in words
    test_kind: str
    test_plan: str
    criteria: str
    series: list[SeriesPoint]
    results: list[RecordedResult]
    history: list[HistoryEntry]


@dataclass(frozen=True)
class Caution:
    """Something not to say, and why not."""

    say_not: str
    why: str


@dataclass(frozen=True)
class Brief:
    """Everything a sales brief says; the four formats render exactly this."""

    hypothesis_id: str
    status: str
    owner: str
    company: str
    offer: str
    audience: str
    audience_name: str
    audience_description: str
    theme_id: str
    theme_label: str
    theme_keywords: list[str]
    theme_active: bool
    statement: str
    validated_at: datetime | None
    handed_off_at: datetime | None
    as_of: datetime  # the newest evidence the brief carries: the brief changes only when the evidence does
    benefit: BenefitMatch
    quotes: list[BriefQuote]
    proof: Proof
    readings: list[Reading]
    talking_points: list[str]
    avoid: list[Caution]
    competitors_named: list[str]

    @property
    def title(self) -> str:
        return f"Sales brief: {self.theme_label} — {self.audience_name}"

    @property
    def proof_summary(self) -> str:
        """One line a CRM field can hold: the listening figure and the deciding result."""
        return " ".join([self.proof.in_words[0], f"Validated: {self.proof.verdict}"])


# ------------------------------------------------------------------------------------------------ building


def build_brief(
    view: HypothesisView, market: Market, *, keywords: Sequence[str] = (), readings: Sequence[Reading] = ()
) -> Brief:
    """The brief for one validated (or handed-off) hypothesis; ``ValueError`` for any other status."""
    if view.status not in BRIEFABLE:
        raise ValueError(f"hypothesis {view.hypothesis_id} is {view.status!r}; a brief needs status validated")
    names = {source.id: source.name or source.id for source in market.sources}
    quotes = [
        BriefQuote(q.text, q.url, names.get(q.source_id, q.source_id), q.author, q.published_at)
        for q in view.quotes[:MAX_QUOTES]
    ]
    proof = _proof(view)
    theme_terms = [view.theme_label, *keywords]
    benefit = match_benefit(market.offer.benefits, market.offer.summary, theme_terms, [q.text for q in quotes])
    competitors = competitors_named(market.competitors, [q.text for q in quotes])
    readings = list(readings[:MAX_READINGS])
    validated = [e.at for e in view.events if e.to_status == VALIDATED]
    handed = [e.at for e in view.events if e.to_status == HANDED_OFF]
    times = [e.at for e in view.events if e.to_status != HANDED_OFF]  # handing it off is not new evidence
    times += [*(r.recorded_at for r in view.results), *(m.as_of for m in view.series)]
    brief = Brief(
        hypothesis_id=view.hypothesis_id,
        status=view.status,
        owner=view.owner,
        company=market.company.name,
        offer=market.offer.summary,
        audience=view.audience,
        audience_name=view.audience_label,
        audience_description=_audience_description(market, view.audience),
        theme_id=view.theme_id,
        theme_label=view.theme_label,
        theme_keywords=list(keywords),
        theme_active=view.theme_active,
        statement=view.statement,
        validated_at=validated[-1] if validated else view.decided_at,
        handed_off_at=handed[-1] if handed else None,
        as_of=max(times, default=view.proposed_at),
        benefit=benefit,
        quotes=quotes,
        proof=proof,
        readings=readings,
        talking_points=[],
        avoid=[],
        competitors_named=competitors,
    )
    return replace(brief, talking_points=talking_points(brief), avoid=cautions(brief))


def _audience_description(market: Market, audience: str) -> str:
    for key, spec in market.audiences.items():
        if key.value == audience:
            return spec.description.strip()
    return "Everyone we listen to: customers, their customers and the influencers both follow."


def _figure_set(f: Figures) -> FigureSet:
    return FigureSet(
        run_id=f.run_id,
        as_of=f.as_of,
        recent=f.recent,
        recent_days=f.recent_days,
        baseline=f.baseline,
        baseline_days=f.baseline_days,
        per_week=round(f.recent_per_week, 3),
        rate_ratio=f.rate_ratio,
        p_value=f.p_value,
        trend=f.trend,
        audience_share=f.audience_share,
        negative_share=f.negative_share,
        pain_share=f.pain_share,
        solution_request_share=f.solution_request_share,
        pricing_share=f.pricing_share,
        competitor_share=f.competitor_share,
        influencer_mentions=f.influencer_mentions,
    )


def _proof(view: HypothesisView) -> Proof:
    latest_figures = view.latest.figures if view.latest else view.evidence
    ratio = view.latest.vs_baseline if view.latest else vs_baseline(view.evidence, view.baseline)
    base_week = baseline_rate(view.baseline) * 7
    baseline, latest = _figure_set(view.baseline), _figure_set(latest_figures)
    validated = [e for e in view.events if e.to_status == VALIDATED]
    verdict = validated[-1].why if validated else view.status_why
    results = [
        RecordedResult(r.recorded_at, r.kind, r.metric, r.value, r.sample, r.control, r.control_sample, r.verdict,
                   r.verdict_why, r.recorded_by, r.note)
        for r in view.results
    ]  # fmt: skip
    return Proof(
        baseline=baseline,
        latest=latest,
        baseline_per_week=round(base_week, 3),
        proposal_vs_baseline=round(vs_baseline(view.baseline, view.baseline), 3),
        vs_baseline=round(ratio, 3),
        in_words=proof_in_words(baseline, latest, base_week, ratio, any(r.verdict == VALIDATED for r in results)),
        verdict=verdict,
        test_kind=view.test_kind,
        test_plan=view.test_plan,
        criteria=view.criteria_text,
        series=[
            SeriesPoint(
                m.run_id,
                m.as_of,
                m.figures.recent,
                round(m.figures.recent_per_week, 3),
                round(m.vs_baseline, 3),
                m.figures.trend,
            )
            for m in view.series
        ],
        results=results,
        history=[HistoryEntry(e.at, e.from_status, e.to_status, e.by, e.why, e.manual) for e in view.events],
    )


def chance_words(p: float) -> str:
    """A p-value as a frequency a sales rep can repeat: how often chance alone gives a rise this large."""
    if p < 0.001:
        return "less than once in 1,000"
    if p < 0.01:
        return f"about {max(1, round(p * 1000))} times in 1,000"
    return f"about {max(1, round(p * 100))} times in 100"


def proof_in_words(
    baseline: FigureSet, latest: FigureSet, baseline_week: float, ratio: float, tested: bool
) -> list[str]:
    """The listening figures in sentences: against the frozen baseline, then against the weeks just before."""
    lines = [
        f"{latest.recent} mentions in the {latest.recent_days} days to {_day(latest.as_of)} "
        f"({latest.per_week:.1f} a week), against a baseline of {baseline_week:.1f} a week in the "
        f"{baseline.baseline_days} days before it was proposed on {_day(baseline.as_of)}: {ratio:.1f}× the baseline."
    ]
    if latest.rate_ratio is None:
        lines.append(f"New: not one mention in the {latest.baseline_days} days before those {latest.recent_days}.")
    elif latest.p_value < 0.05:
        lines.append(
            f"Against the {latest.baseline_days} days just before, the rate is {latest.rate_ratio:.1f}×; chance "
            f"alone gives a rise this large {chance_words(latest.p_value)} ({p_text(latest.p_value)})."
        )
    else:
        rests = "the recorded test carries the case" if tested else "the case rests on the signals below"
        lines.append(
            f"Against the {latest.baseline_days} days just before, the rate is {latest.rate_ratio:.1f}× "
            f"({p_text(latest.p_value)}): not a significant rise on its own; {rests}."
        )
    signals = [
        (latest.pain_share, "describe pain"),
        (latest.solution_request_share, "ask for a solution"),
        (latest.negative_share, "are negative"),
        (latest.pricing_share, "talk about price"),
        (latest.competitor_share, "name a competitor"),
    ]
    shown = [f"{share:.0%} {what}" for share, what in signals if share >= 0.05]
    if shown:
        lines.append(f"Of their mentions on this theme, {', '.join(shown)}.")
    return lines


# ---------------------------------------------------------------------------------------- benefit matching

_STOPWORDS = """about above across after again against all also and any are aren because been before being below
    between both but can cannot could did didn does doesn doing don done down during each even every few for
    from get gets got had has have having her here hers him his how into isn its itself just let lets like lot
    lots made make makes many more most much must need needs nor not now off once one only other our ours out
    over own per really same she should some something still such than that the their theirs them then there
    these they thing things this those through too under until use used uses using very via want wants was
    way ways were what when where which while who whom whose why will with within without won would yes yet
    you your yours anyone everyone nobody nothing anything everything business businesses company companies
    client clients customer customers people team teams day days week weeks month months year years today
    time times hour hours minute"""
_STOP = frozenset(_STOPWORDS.split())
_WORDS = re.compile(r"[a-z0-9]+")


def _stem(word: str) -> str:
    """A light English stem, enough to meet "snapshots" with "snapshot" and "encrypted" with "encrypt"."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    if word.endswith(("sses", "xes", "zes", "ches", "shes")) and len(word) > 4:
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def terms(text: str) -> dict[str, str]:
    """Content words of ``text`` as ``{stem: first spelling}`` (stopwords and words under 3 letters dropped)."""
    out: dict[str, str] = {}
    for word in _WORDS.findall(text.lower()):
        if len(word) >= 3 and word not in _STOP and not word.isdigit():
            out.setdefault(_stem(word), word)
    return out


def _similar(a: str, b: str) -> bool:
    """Same stem, or one a long enough prefix of the other ("recover"/"recovery", "immutable"/"immutability")."""
    if a == b:
        return True
    common = 0
    while common < min(len(a), len(b)) and a[common] == b[common]:
        common += 1
    return common >= max(4, math.ceil(0.8 * min(len(a), len(b))))


def match_benefit(
    benefits: Sequence[str], summary: str, theme_terms: Sequence[str], quotes: Sequence[str]
) -> BenefitMatch:
    """Pick the benefit of ``offer.benefits`` that shares the most words with the theme and the quotes.

    A benefit word scores 2 when it meets a word of the theme's label or keywords, plus 1 for each quote
    that uses it; words every benefit has (when there are several) decide nothing and are skipped. Ties go
    to the benefit written first. A score under :data:`MIN_BENEFIT_SCORE` (one word in one quote) is
    coincidence, not a fit: then, or with no benefits at all, the offer summary stands in, and the brief says so.
    """
    if not benefits:
        return BenefitMatch(summary, None, [], 0, "market.yaml lists no offer.benefits, so the offer summary stands "
                            "in; add benefits to offer.benefits to have each brief lead with one")  # fmt: skip
    theme = {stem for text in theme_terms for stem in terms(text)}
    quoted = [set(terms(text)) for text in quotes]
    per_benefit = [terms(b) for b in benefits]

    def everywhere(stem: str) -> bool:
        return len(benefits) > 1 and all(any(_similar(stem, s) for s in other) for other in per_benefit)

    scored = []
    for position, (text, words) in enumerate(zip(benefits, per_benefit, strict=True), start=1):
        hits: list[tuple[str, int, bool, int]] = []  # (spelling, weight, in theme, quotes using it)
        for stem, spelling in words.items():
            if everywhere(stem):
                continue
            in_theme = any(_similar(stem, t) for t in theme)
            in_quotes = sum(1 for bag in quoted if any(_similar(stem, q) for q in bag))
            weight = 2 * in_theme + in_quotes
            if weight:
                hits.append((spelling, weight, in_theme, in_quotes))
        scored.append((sum(h[1] for h in hits), len(hits), -position, position, text, hits))
    scored.sort(reverse=True)
    best = scored[0]
    if best[0] < MIN_BENEFIT_SCORE:
        return BenefitMatch(summary, None, [], 0, f"none of the {len(benefits)} offer.benefits shares a theme "
                            "keyword, or a word with more than one quote, so the offer summary stands in; check the "
                            "fit before the call")  # fmt: skip
    score, _, _, position, text, hits = best
    hits.sort(key=lambda h: (-h[1], h[0]))
    reasons = []
    for spelling, _, in_theme, in_quotes in hits:
        where = (["theme keyword"] if in_theme else []) + (
            [f"in {in_quotes} of {len(quotes)} quote{'s' if len(quotes) != 1 else ''}"] if in_quotes else []
        )
        reasons.append(f"‘{spelling}’ ({', '.join(where)})")
    runner = next((s for s in scored[1:]), None)
    versus = f"; next best: benefit {runner[3]} with {runner[0]}" if runner else ""
    why = (
        f"benefit {position} of {len(benefits)} in offer.benefits, picked by the words it shares with the theme "
        f"and the audience's quotes: {', '.join(reasons)} (score {score}{versus})"
    )
    return BenefitMatch(text, position, [h[0] for h in hits], score, why)


def competitors_named(competitors: Sequence[str], texts: Sequence[str]) -> list[str]:
    """The rivals from market.yaml that the quotes name, in market.yaml's order."""
    found = []
    for name in competitors:
        pattern = re.compile(r"(?<!\w)" + re.escape(name.strip()) + r"(?!\w)", re.IGNORECASE)
        if name.strip() and any(pattern.search(text) for text in texts):
            found.append(name.strip())
    return found


# ---------------------------------------------------------------------------------- talking points, cautions


_BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def isolate(text: str) -> str:
    """Scraped text set inside one of our sentences, fenced (FSI…PDI) when it carries bidi controls, so an
    unterminated right-to-left override cannot turn the rest of the sentence around."""
    return f"\u2068{text}\u2069" if any(char in _BIDI_CONTROLS for char in text) else text


def their_phrase(text: str, max_words: int = 24) -> str:
    """The first sentence of a quote, verbatim, cut at ``max_words`` (marked …): a phrase to quote back."""
    flat = " ".join(text.split())
    first = re.split(r"(?<=[.!?])\s+", flat, maxsplit=1)[0]
    words = first.split(" ")
    if len(words) > max_words:
        return " ".join(words[:max_words]).rstrip(",;:.") + " …"
    return first


def _who(quote: BriefQuote) -> str:
    who = isolate(quote.author or quote.source)
    return f"{who}, {_day(quote.published_at)}" if quote.published_at else who


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:1].isupper() and not text[1:2].isupper() else text


def talking_points(brief: Brief) -> list[str]:
    """3–5 points from the audience's own words, the matched benefit and the proof; plain, no superlatives."""
    proof, latest = brief.proof, brief.proof.latest
    points = []
    if brief.quotes:
        top = brief.quotes[0]
        points.append(
            f"Start from their words, not ours: “{isolate(their_phrase(top.text))}” ({_who(top)}). Ask how it shows "
            "up for them before offering anything."
        )
    benefit = brief.benefit.benefit.strip().rstrip(".")
    if brief.benefit.position is not None:
        shared = ", ".join(f"‘{t}’" for t in brief.benefit.terms[:3])
        points.append(f"Lead with one business benefit: {benefit}. It meets what they say ({shared}).")
    else:
        points.append(f"Lead with one business benefit: {benefit}.")
    points.append(
        f"Give the figure: {latest.recent} mentions of {isolate(brief.theme_label)} among "
        f"{isolate(brief.audience_name)} in the last {latest.recent_days} days, {proof.vs_baseline:.1f}× the "
        f"baseline we measured on {_day(proof.baseline.as_of)} ({proof.baseline_per_week:.1f} a week)."
    )
    won = [r for r in proof.results if r.verdict == VALIDATED]
    if won:
        points.append(f"Give the test: {result_in_words(won[-1])}.")
    elif proof.test_kind == LISTENING_WATCH and proof.series:
        last = proof.series[-3:]
        ratios = ", ".join(f"{p.vs_baseline:.1f}×" for p in last)
        days = (last[-1].as_of - proof.baseline.as_of).days
        points.append(
            f"Show it held: {ratios} the baseline in the last {len(last)} measurements, {days} days after it was "
            "first measured."
        )
    if brief.readings:
        reading = brief.readings[0]
        when = f", {_day(reading.published_at)}" if reading.published_at else ""
        points.append(
            f"Show the homework: they read “{isolate(reading.title)}” ({isolate(reading.source)}{when}); build on it "
            "instead of explaining the topic."
        )
    if len(points) < 3:
        points.append(
            f"Ask, then listen: how {isolate(_lower_first(brief.theme_label))} affects their week, what they have "
            "tried, and what would change it."
        )
    return points[:MAX_POINTS]


def result_in_words(result: RecordedResult) -> str:
    """A recorded result a sales rep can say out loud."""
    if result.control is not None:
        n2 = result.control_sample or result.sample
        return (
            f"{result.metric} {result.value:.0%} against {result.control:.0%} for a control group "
            f"({result.sample} and {n2} reached, {result.kind.replace('_', ' ')})"
        )
    return f"{result.value:.0%} of {result.sample} asked said yes ({result.metric}, {result.kind.replace('_', ' ')})"


def cautions(brief: Brief) -> list[Caution]:
    """What not to say: the fixed list every brief carries, then what this evidence adds."""
    latest, proof = brief.proof.latest, brief.proof
    rivals = ", ".join(brief.competitors_named)
    out = [
        Caution(
            "“Let us know if we can help with your IT.”",
            "A vague offer of help shows no homework. Name the one benefit above and bring the proof.",
        ),
        Caution(
            "Explaining their own business to them, or “you probably don't realise…”",
            f"{isolate(brief.audience_name)} described the problem in their own words (the quotes above). Quote them "
            "back and ask; don't lecture.",
        ),
        Caution(
            "Fear beyond the evidence: “everyone is getting hit”, threat statistics this brief does not carry.",
            f"The evidence is {proof.vs_baseline:.1f}× the baseline among {isolate(brief.audience_name)}; say that and "
            "no more.",
        ),
        Caution(
            f"Running down {rivals}." if rivals else "Running down competitors.",
            f"{rivals} come{'s' if len(brief.competitors_named) == 1 else ''} up in their own words. If they raise "
            "it, compare on facts."
            if rivals
            else "If they bring one up, compare on facts; bashing a rival reads as weakness.",
        ),
        Caution(
            "Superlatives: “best-in-class”, “industry-leading”, “the only …”.",
            "Every claim in this brief has a figure behind it; use the figure.",
        ),
    ]
    if latest.pricing_share >= 0.15 and latest.negative_share >= 0.3:
        out.append(
            Caution(
                "Leading with price or a discount.",
                f"{latest.pricing_share:.0%} of their mentions on this talk about price and "
                f"{latest.negative_share:.0%} are negative: cost is a sore point. Lead with the benefit and the "
                "proof; answer on price when they ask.",
            )
        )
    elif latest.pricing_share >= 0.15:
        out.append(
            Caution(
                "Opening with price.",
                f"{latest.pricing_share:.0%} of their mentions talk about price: have plain numbers ready, but let "
                "them raise it.",
            )
        )
    if latest.negative_share >= 0.4:
        out.append(
            Caution(
                "An upbeat opening (“great news!”).",
                f"{latest.negative_share:.0%} of their mentions on this are negative: acknowledge the problem first.",
            )
        )
    if latest.pain_share >= 0.3:
        out.append(
            Caution(
                "“It's an easy fix.”",
                f"{latest.pain_share:.0%} of their mentions describe real pain; making light of it talks down.",
            )
        )
    if proof.test_kind == LISTENING_WATCH and not any(r.verdict == VALIDATED for r in proof.results):
        out.append(
            Caution(
                "“We tested this message and it works.”",
                "The proof is listening (the rise held against the baseline), not a campaign or survey result: "
                "say “we hear”, not “we proved”.",
            )
        )
    if not brief.theme_active:
        out.append(
            Caution(
                "Treating it as this week's news.",
                "The theme is no longer active in the latest listening; check it still matters to them first.",
            )
        )
    return out


# ------------------------------------------------------------------------------------------------ rendering


def _day(moment: datetime | None, missing: str = "—") -> str:
    if moment is None:
        return missing
    return (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)).strftime("%Y-%m-%d")


def _pct(share: float | None) -> str:
    return "—" if share is None else f"{share:.0%}"


def _ratio(value: float | None) -> str:
    return "new" if value is None else f"{value:.1f}×"


def _words(status: str | None) -> str:
    return (status or "—").replace("_", " ")


@dataclass(frozen=True)
class Bar:
    """One bar of the series chart; coordinates are preformatted numbers."""

    x: str
    y: str
    width: str
    height: str
    centre: str
    value: str  # "" where there is no room to print it
    value_y: str
    label: str  # "" where there is no room to print it
    baseline: bool
    anchor: str  # text-anchor of the value and the label: start (the baseline), end (a crowded last bar), middle
    text_x: str


@dataclass(frozen=True)
class SeriesChart:
    """An inline SVG bar chart of mentions a week: the frozen baseline, then each re-measurement. Numbers and
    dates only, formatted here, so nothing scraped reaches an attribute."""

    width: int
    height: int
    bars: list[Bar]
    left: int
    right: int
    axis_y: int
    label_y: int
    baseline_y: str
    baseline_label_y: str
    caption: str


_LABEL_WIDTH = {"baseline": 74.0}
_DATE_WIDTH = 52.0  # "11-25" at the phone's 17-unit font, with a little air


def _label_spans(centres: list[float], labels: list[str], left: float, right: float) -> list[tuple[bool, str]]:
    """Which bars get a label and a value, and how each is anchored, so that none overlap or leave the chart:
    the baseline and the latest always, the dates between them greedily, left to right."""
    last = len(centres) - 1

    def span(index: int) -> tuple[float, float, str]:
        width = _LABEL_WIDTH.get(labels[index], _DATE_WIDTH)
        if index == 0 and centres[0] - width / 2 < left:
            return centres[0] - 12, centres[0] - 12 + width, "start"
        if index == last and centres[index] + width / 2 > right:
            return centres[index] + 12 - width, centres[index] + 12, "end"
        return centres[index] - width / 2, centres[index] + width / 2, "middle"

    shown = {0: span(0)}
    final = span(last) if last else None
    for index in range(1, last):
        start, end, _ = span(index)
        if start >= max(e for _, e, _ in shown.values()) + 4 and (final is None or end + 4 <= final[0]):
            shown[index] = span(index)
    if final is not None:
        shown[last] = final
    return [(i in shown, shown[i][2] if i in shown else "middle") for i in range(len(centres))]


def series_chart(proof: Proof, width: int = 480, height: int = 200) -> SeriesChart:
    """Geometry for the template: the baseline bar first, then up to :data:`CHART_POINTS` measurements."""
    points = proof.series[-CHART_POINTS:]
    values = [("baseline", proof.baseline_per_week, True)]
    values += [(_day(p.as_of)[5:], p.per_week, False) for p in points]
    left, right, top, bottom = 8, width - 8, 30, height - 28
    peak = max([v for _, v, _ in values] + [1.0]) * 1.12
    slot = (right - left) / len(values)
    bar_width = min(40.0, slot * 0.64)
    centres = [left + slot * (index + 0.5) for index in range(len(values))]
    spans = _label_spans(centres, [label for label, _, _ in values], left, right)

    def y(value: float) -> float:
        return bottom - (bottom - top) * value / peak

    bars = []
    for (label, value, is_base), centre, (shown, anchor) in zip(values, centres, spans, strict=True):
        bars.append(
            Bar(
                x=f"{centre - bar_width / 2:.1f}",
                y=f"{y(value):.1f}",
                width=f"{bar_width:.1f}",
                height=f"{max(bottom - y(value), 0.0):.1f}",
                centre=f"{centre:.1f}",
                value=f"{value:.1f}" if shown else "",
                value_y=f"{y(value) - 6:.1f}",
                label=label if shown else "",
                baseline=is_base,
                anchor=anchor,
                text_x=f"{centre - 12 if anchor == 'start' else centre + 12 if anchor == 'end' else centre:.1f}",
            )
        )
    count = len(proof.series)
    shown_text = f"the last {len(points)} of {count} measurements" if count > len(points) else (
        f"{count} measurement{'s' if count != 1 else ''}")  # fmt: skip
    caption = (
        f"Mentions a week among the audience: the baseline ({proof.baseline_per_week:.1f} a week, also the dashed "
        f"line) and {shown_text} since; the latest is {proof.vs_baseline:.1f}× the baseline."
    )
    base_y = y(proof.baseline_per_week)
    return SeriesChart(
        width, height, bars, left, right, bottom, height - 8, f"{base_y:.1f}", f"{base_y - 4:.1f}", caption
    )


@functools.cache
def _environment() -> Environment:
    """Autoescaping everywhere; undefined names fail loudly instead of rendering empty."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(day=_day, pct=_pct, ratio=_ratio, safe_url=safe_url, words=_words, p=p_text)
    environment.globals.update(series_chart=series_chart, result_in_words=result_in_words, system=SYSTEM)
    return environment


def render_html(brief: Brief) -> str:
    """One self-contained page (inline CSS, no scripts, no external requests) that prints on A4 as well."""
    return _environment().get_template("brief.html.j2").render(brief=brief)


def _md_link(text: str, url: str | None) -> str:
    """``[text](url)`` for http(s) URLs, plain text otherwise (same rules as the report's Markdown)."""
    label = markdown_text(text)
    href = safe_url(url)
    if href is None:
        return label
    destination = re.sub(
        r"[\s()<>\\`\x00-\x1f\x7f]", lambda m: "".join(f"%{b:02X}" for b in m.group().encode("utf-8")), href
    )
    return f"[{label}]({destination})"


def _md_quote(quote: BriefQuote) -> str:
    parts = [markdown_text(quote.author) if quote.author else "", _day(quote.published_at, ""),
             _md_link(f"source: {quote.source}", quote.url)]  # fmt: skip
    return f"> {markdown_text(quote.text)}\n>\n> — {' · '.join(p for p in parts if p)}"


def _md_table(headers: list[str], rows: list[list[str]]) -> str:
    return "\n".join("| " + " | ".join(cells) + " |" for cells in [headers, ["---"] * len(headers), *rows])


def render_markdown(brief: Brief) -> str:
    """The same brief in GitHub-flavoured Markdown, for a CRM note, a ticket or a chat."""
    md, proof = markdown_text, brief.proof
    facts = [
        ("Company", md(brief.company)),
        ("Hypothesis", md(brief.hypothesis_id)),
        ("Status", md(_words(brief.status))),
        ("Validated", _day(brief.validated_at)),
        ("Handed off", _day(brief.handed_off_at)),
        ("Owner", md(brief.owner)),
        ("Figures as of", _day(brief.as_of)),
    ]
    blocks = [
        f"# {md(brief.title)}",
        "\n".join(f"- **{name}:** {value}" for name, value in facts),
        f"> {md(brief.statement)}",
        "## Who to call",
        "\n".join(
            [
                f"- **Audience:** {md(brief.audience_name)}"
                + (f" — {md(brief.audience_description)}" if brief.audience_description else ""),
                f"- **Theme:** {md(brief.theme_label)}" + ("" if brief.theme_active else " (no longer active)"),
                f"- **Keywords:** {', '.join(md(k) for k in brief.theme_keywords) or '—'}",
            ]
        ),
        "## The business benefit, in their words",
        f"**{md(brief.benefit.benefit)}**\n\n_Why this one:_ {md(brief.benefit.why)}",
        *([_md_quote(q) for q in brief.quotes] or ["_No quotes from this audience on the theme._"]),
        "## The proof",
        "\n".join(f"- {md(line)}" for line in [*proof.in_words, f"Validated: {proof.verdict}"]),
        _md_table(
            ["Measure", f"At proposal ({_day(proof.baseline.as_of)})", f"Latest ({_day(proof.latest.as_of)})"],
            [
                [
                    f"Mentions in the last {proof.latest.recent_days} days",
                    str(proof.baseline.recent),
                    str(proof.latest.recent),
                ],
                ["Mentions a week", f"{proof.baseline.per_week:.1f}", f"{proof.latest.per_week:.1f}"],
                [
                    f"× the baseline ({proof.baseline_per_week:.1f} a week in the {proof.baseline.baseline_days} days "
                    "before the proposal)",
                    f"{proof.proposal_vs_baseline:.1f}×",
                    f"**{proof.vs_baseline:.1f}×**",
                ],
                [
                    f"Rate vs the {proof.latest.baseline_days} days just before",
                    _ratio(proof.baseline.rate_ratio),
                    _ratio(proof.latest.rate_ratio),
                ],
                ["p-value of the rise", p_text(proof.baseline.p_value), p_text(proof.latest.p_value)],
                ["Trend", md(proof.baseline.trend), md(proof.latest.trend)],
                ["Describe pain", _pct(proof.baseline.pain_share), _pct(proof.latest.pain_share)],
                ["Negative", _pct(proof.baseline.negative_share), _pct(proof.latest.negative_share)],
                ["Talk about price", _pct(proof.baseline.pricing_share), _pct(proof.latest.pricing_share)],
            ],
        ),
        "### Series against the baseline",
        _md_table(
            ["Measured", "Mentions", "A week", "× baseline", "Trend"],
            [
                [_day(p.as_of), str(p.recent), f"{p.per_week:.1f}", f"{p.vs_baseline:.1f}×", md(p.trend)]
                for p in proof.series
            ],
        )
        if proof.series
        else "_Not re-measured since the proposal._",
        "### Tests",
        f"**Plan:** {md(proof.test_plan)}\n\n**Criteria:** {md(proof.criteria)}",
        "\n".join(
            f"- {_day(r.recorded_at)} · {md(r.kind)} by {md(r.by)}: **{md(r.verdict)}** ({r.sample} reached"
            + (f", control {r.control_sample or r.sample}" if r.control is not None else "")
            + f") · {md(r.why)}"
            + (f" · note: {md(r.note)}" if r.note else "")
            for r in proof.results
        )
        or "_No test results recorded: the listening watch decided._",
        "### Status history",
        "\n".join(
            f"- {_day(e.at)} · {md(_words(e.from_status))} → {md(_words(e.to_status))} by {md(e.by)}"
            + (" (by hand)" if e.manual and e.by != SYSTEM else "")
            + f": {md(e.why)}"
            for e in proof.history
        ),
        "## What they already know: read these before calling",
        "\n".join(
            f"- {_md_link(r.title, r.url)} — {md(r.source)}"
            + (f" ({md(r.author)})" if r.author else "")
            + (f", {_day(r.published_at)}" if r.published_at else "")
            for r in brief.readings
        )
        or "_No influencer content on this theme yet._",
        "## Talking points",
        "\n".join(f"{n}. {md(point)}" for n, point in enumerate(brief.talking_points, start=1)),
        "## What not to say",
        "\n".join(f"- **{md(c.say_not)}** {md(c.why)}" for c in brief.avoid),
    ]
    return "\n\n".join(blocks) + "\n"


def crm_record(brief: Brief) -> dict[str, str]:
    """One flat record for a CRM import (the CSV's only row), text as it is; :func:`render_csv` defuses it."""
    top = brief.quotes[0] if brief.quotes else None
    return {
        "hypothesis_id": brief.hypothesis_id,
        "audience": brief.audience,
        "audience_name": brief.audience_name,
        "theme": brief.theme_label,
        "statement": brief.statement,
        "benefit": brief.benefit.benefit,
        "proof_summary": brief.proof_summary,
        "talking_points": " | ".join(brief.talking_points),
        "dont_say": " | ".join(c.say_not for c in brief.avoid),
        "top_quote": top.text if top else "",
        "top_quote_url": (safe_url(top.url) or "") if top else "",
        "status": brief.status,
        "validated_at": brief.validated_at.isoformat() if brief.validated_at else "",
        "handed_off_at": brief.handed_off_at.isoformat() if brief.handed_off_at else "",
        "owner": brief.owner,
        "company": brief.company,
    }


def render_csv(brief: Brief) -> str:
    """Header and one row, each cell on one line and never a formula (:mod:`reports.safe_csv`), UTF-8 with a
    BOM so spreadsheets read the accents right."""
    record = crm_record(brief)
    return csv_text(CSV_FIELDS, [[record[name] for name in CSV_FIELDS]], one_line=True, bom=True)


def as_json(brief: Brief) -> dict[str, Any]:
    """The whole brief in plain JSON types, with the flat CRM record beside it."""

    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    return {"schema": JSON_SCHEMA, "brief": plain(asdict(brief)), "crm": crm_record(brief)}


def render_json(brief: Brief) -> str:
    return json.dumps(as_json(brief), indent=2, ensure_ascii=False) + "\n"


def brief_from_json(text: str) -> Brief:
    """Read a ``brief.json`` back (a CRM sync, a later re-render): the same :class:`Brief` that wrote it."""
    data = json.loads(text)
    if data.get("schema") != JSON_SCHEMA:
        raise ValueError(f"not an earshot sales brief (schema {data.get('schema')!r}, expected {JSON_SCHEMA!r})")
    return _load(Brief, data["brief"])


def _load(kind: Any, value: Any) -> Any:
    """Rebuild a value of type ``kind`` (dataclasses, lists, optionals, datetimes) from plain JSON."""
    if value is None:
        return None
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        return _load(next(a for a in typing.get_args(kind) if a is not type(None)), value)
    if origin is list:
        return [_load(typing.get_args(kind)[0], v) for v in value]
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is float:
        return float(value)
    if is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        return kind(**{f.name: _load(hints[f.name], value[f.name]) for f in fields(kind)})
    return value
