"""Hypotheses from listening evidence, and verdicts against a measured baseline: the pure logic.

A *hypothesis* is a claim about one audience and one theme ("small-business owners increasingly worry
about cyber insurance"), proposed when a theme snapshot meets a readable rule from ``market.yaml``.
Its *baseline* is the snapshot it was proposed from, frozen: every later run is measured against it.

Status flow (every change is kept as an event: when, by whom, why)::

    proposed ──► testing ──► validated ──► handed_off   (the sales hand-off sets handed_off)
        │           ├──────► rejected
        └───────────┴──────► expired

* ``proposed`` → ``testing``: a test result is recorded, a listening watch is re-measured in a later run,
  or someone sets it by hand. The test window (``expire_after_days`` of the planned test) starts then.
* ``testing`` → ``validated`` | ``rejected``: the latest *conclusive* evidence decides, judged by the
  success criteria frozen with the hypothesis: a recorded result (message test, content piece, survey,
  interviews), or, for a listening watch, the re-measured series. An inconclusive result (too small a
  sample) decides nothing and says what is missing.
* → ``expired``: a test window passed without a decision, or a proposal's evidence stopped matching any
  rule for ``proposal_expire_days`` (its theme retired, merged or calmed down) before anyone tested it.
* A decided status (validated, rejected, expired, handed_off) is never changed automatically; a person
  can reopen it. After a manual change, automation weighs only evidence newer than that change, so it
  never silently undoes a person's decision with the evidence they already saw.

Nothing here touches the warehouse or the clock: callers pass the run's logical time.
"""

from __future__ import annotations

import hashlib
import math
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

PROPOSED, TESTING, VALIDATED, REJECTED, EXPIRED, HANDED_OFF = (
    "proposed",
    "testing",
    "validated",
    "rejected",
    "expired",
    "handed_off",
)
STATUSES: tuple[str, ...] = (PROPOSED, TESTING, VALIDATED, REJECTED, EXPIRED, HANDED_OFF)
OPEN: tuple[str, ...] = (PROPOSED, TESTING)
"""Statuses that automation may still move; the others are decisions."""

LISTENING_WATCH = "listening_watch"
TEST_KINDS: tuple[str, ...] = (LISTENING_WATCH, "message_test", "survey", "content", "interview")
RESULT_KINDS: tuple[str, ...] = ("message_test", "survey", "content", "interview")
"""Tests marketing runs and records; a listening watch is measured by earshot itself."""
PROPORTION_KINDS = ("message_test", "content")  # a rate against a control group: two-proportion test
SHARE_KINDS = ("survey", "interview")  # a share of respondents who agree

TRENDS: tuple[str, ...] = ("rising", "falling", "steady", "new", "quiet")
ANY_AUDIENCE, ALL_AUDIENCES = "any", "all"
SYSTEM = "earshot"
"""Who automatic status changes are recorded as."""

GENERIC_AUDIENCE = {
    "customers": "Customers",
    "customers_customers": "Customers' customers",
    "influencers": "Influencers",
    "competitors": "Competitors",
    "all": "Your whole market",
}
_AUDIENCE_ROLE = {
    "customers": "your customers",
    "customers_customers": "your customers' customers",
    "influencers": "influencers",
    "competitors": "competitors",
}


# --------------------------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class Figures:
    """One theme × audience row of ``theme_snapshots``: what the listening says at one point in time."""

    run_id: str
    audience: str
    as_of: datetime
    recent_days: int
    baseline_days: int
    recent: int
    baseline: int
    total: int
    rate_ratio: float | None
    p_value: float
    p_value_down: float
    trend: str
    emerging: bool
    audience_share: float
    audiences: int
    spread: float
    influencer_mentions: int
    influencers: tuple[str, ...]
    negative_share: float
    positive_share: float
    pain_share: float
    solution_request_share: float
    advice_request_share: float
    praise_share: float
    pricing_share: float
    competitor_share: float

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> Figures:
        """From a snapshot row or stored JSON; columns the contract may add later are ignored."""
        values = {f.name: row.get(f.name) for f in fields(cls)}
        as_of = values["as_of"]
        values["as_of"] = datetime.fromisoformat(as_of) if isinstance(as_of, str) else as_of
        values["influencers"] = tuple(values["influencers"] or ())
        for name in ("rate_ratio",):
            values[name] = None if values[name] is None else float(values[name])
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: what is stored as a hypothesis's evidence and baseline."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["as_of"] = self.as_of.isoformat()
        out["influencers"] = list(self.influencers)
        return out

    @property
    def recent_per_week(self) -> float:
        return self.recent / self.recent_days * 7 if self.recent_days else 0.0

    @property
    def baseline_per_week(self) -> float:
        return self.baseline / self.baseline_days * 7 if self.baseline_days else 0.0


NUMERIC_FIGURES: tuple[str, ...] = (
    "recent",
    "baseline",
    "total",
    "recent_days",
    "baseline_days",
    "rate_ratio",
    "p_value",
    "p_value_down",
    "audience_share",
    "audiences",
    "spread",
    "influencer_mentions",
    "influencers",  # compared as a count: how many distinct influencers echo the theme
    "negative_share",
    "positive_share",
    "pain_share",
    "solution_request_share",
    "advice_request_share",
    "praise_share",
    "pricing_share",
    "competitor_share",
)
FIGURES: tuple[str, ...] = (*NUMERIC_FIGURES, "trend", "emerging")
THEME_PREFIX = "theme."
"""``theme.<figure>`` reads the theme across every audience (the snapshot's ``all`` row)."""


def hypothesis_id(theme_id: str, audience: str) -> str:
    """One hypothesis per theme and audience, whatever the run: a re-run updates, never duplicates."""
    return "h_" + hashlib.sha256(f"hypothesis:{theme_id}:{audience}".encode()).hexdigest()[:10]


# ------------------------------------------------------------------------------------------ conditions

_COMPARISON = re.compile(r"^\s*(>=|<=|==|!=|=|>|<)\s*(-?\d+(?:\.\d+)?)\s*(%?)\s*$")
_OPS = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12),
    "!=": lambda a, b: not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12),
}


@dataclass(frozen=True)
class Condition:
    """``figure`` compared as written in ``market.yaml`` (``pain_share: ">= 0.3"``)."""

    figure: str
    op: str  # a comparison, "in" (trend words) or "is" (a yes/no figure)
    value: float | bool | tuple[str, ...]

    @property
    def name(self) -> str:
        return self.figure.removeprefix(THEME_PREFIX)

    @property
    def theme_wide(self) -> bool:
        return self.figure.startswith(THEME_PREFIX)

    def read(self, figures: Figures, theme: Figures | None) -> Any:
        source = theme if self.theme_wide else figures
        if source is None:
            return None
        value = getattr(source, self.name)
        return len(value) if self.name == "influencers" else value

    def holds(self, figures: Figures, theme: Figures | None) -> bool:
        actual = self.read(figures, theme)
        if actual is None:
            return False
        if self.op == "in":
            return actual in self.value  # type: ignore[operator]
        if self.op == "is":
            return bool(actual) is self.value
        return _OPS[self.op](float(actual), float(self.value))  # type: ignore[arg-type]

    def describe(self, figures: Figures, theme: Figures | None) -> str:
        """``pain_share 0.41 ≥ 0.3 ✓``: the check as a marketer reads it."""
        actual = self.read(figures, theme)
        mark = "✓" if self.holds(figures, theme) else "✗"
        if actual is None:
            shown = "n/a (no baseline)" if self.name == "rate_ratio" else "n/a"
            return f"{self.figure} {shown} ✗"
        if self.op == "in":
            return f"{self.figure} is {actual} ({' or '.join(self.value)}) {mark}"  # type: ignore[arg-type]
        if self.op == "is":
            return f"{self.figure} is {'yes' if actual else 'no'} {mark}"
        return f"{self.figure} {_number(actual)} {self.op} {_number(self.value)} {mark}"  # type: ignore[arg-type]


def parse_condition(figure: str, spec: Any) -> Condition:
    """Read one ``when:`` entry; a ``ValueError`` names the figure and says how to write it."""
    name = figure.removeprefix(THEME_PREFIX)
    if name not in FIGURES:
        raise ValueError(f"{figure}: unknown figure; use one of {', '.join(FIGURES)} (or theme.<figure>)")
    if name == "trend":
        words = [spec] if isinstance(spec, str) else spec
        if not isinstance(words, list) or not words or not all(isinstance(w, str) for w in words):
            raise ValueError(f"{figure}: write a trend word or a list of them ({', '.join(TRENDS)})")
        unknown = [w for w in words if w not in TRENDS]
        if unknown:
            raise ValueError(f"{figure}: {', '.join(map(repr, unknown))} is not a trend; use {', '.join(TRENDS)}")
        return Condition(figure, "in", tuple(words))
    if name == "emerging":
        if not isinstance(spec, bool):
            raise ValueError(f"{figure}: write true or false, got {spec!r}")
        return Condition(figure, "is", spec)
    match = _COMPARISON.match(spec) if isinstance(spec, str) else None
    if not match:
        raise ValueError(
            f'{figure}: write a comparison such as ">= 0.3", "< 0.05" or ">= 30%" (quoted in YAML), got {spec!r}'
        )
    op, number, percent = match.groups()
    value = float(number) / (100 if percent else 1)
    return Condition(figure, "==" if op == "=" else op, value)


def parse_when(when: Mapping[str, Any]) -> tuple[Condition, ...]:
    """Every condition of a rule, in the order written."""
    if not when:
        raise ValueError('needs at least one condition, e.g. {pain_share: ">= 0.3"}')
    return tuple(parse_condition(str(figure), spec) for figure, spec in when.items())


def check_statement(template: str) -> str:
    """A statement template may use ``{audience}`` and ``{theme}`` only."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ValueError(f"not a valid template ({exc}); use {{audience}} and {{theme}}") from None
    unknown = names - {"audience", "theme"}
    if unknown:
        raise ValueError(f"unknown placeholder {', '.join(sorted(unknown))}; use {{audience}} and {{theme}}")
    return template


# ------------------------------------------------------------------------------------------------ rules


@dataclass(frozen=True)
class Rule:
    """When a theme's figures for an audience meet every condition, propose a hypothesis with this test."""

    name: str
    audiences: tuple[str, ...]  # audience keys, or ("any",) (each audience on its own) or ("all",) (the market)
    conditions: tuple[Condition, ...]
    test: str
    statement: str | None = None
    owner: str | None = None

    def applies_to(self, audience: str) -> bool:
        if ANY_AUDIENCE in self.audiences:
            return audience != ALL_AUDIENCES
        return audience in self.audiences

    def checks(self, figures: Figures, theme: Figures | None) -> tuple[str, ...]:
        return tuple(c.describe(figures, theme) for c in self.conditions)

    def matches(self, figures: Figures, theme: Figures | None) -> bool:
        return self.applies_to(figures.audience) and all(c.holds(figures, theme) for c in self.conditions)


def matching_rules(rules: Sequence[Rule], figures: Figures, theme: Figures | None) -> list[Rule]:
    """Every rule the figures meet, in the order written: the first one proposes."""
    return [rule for rule in rules if rule.matches(figures, theme)]


def pick_quotes(
    candidates: Sequence[tuple[str, str, str]], n: int, max_per_source: int = 2, max_overlap: float = 0.6
) -> list[str]:
    """Mention ids of up to ``n`` quotes from ``(mention_id, source_id, text)`` candidates, best first.

    At most ``max_per_source`` per source, and none whose words overlap a quote already picked by
    ``max_overlap`` or more (Jaccard): templated and cross-posted texts are common, and three copies of
    one complaint read as one voice. The source limit is relaxed when it leaves fewer than ``n``.
    """
    picked: list[tuple[str, set[str]]] = []
    per_source: dict[str, int] = {}

    def words(text: str) -> set[str]:
        return set(re.findall(r"[a-z0-9']{3,}", text.lower()))

    def repeats(bag: set[str]) -> bool:
        return any(len(bag & seen) / max(1, len(bag | seen)) >= max_overlap for _, seen in picked)

    for relax in (False, True):
        for mention_id, source_id, text in candidates:
            if len(picked) >= n:
                break
            bag = words(text)
            if any(mention_id == m for m, _ in picked) or repeats(bag):
                continue
            if relax or per_source.get(source_id, 0) < max_per_source:
                picked.append((mention_id, bag))
                per_source[source_id] = per_source.get(source_id, 0) + 1
    return [mention_id for mention_id, _ in picked]


# ------------------------------------------------------------------------------------------------ words


def audience_label(audience: str, name: str | None = None) -> str:
    """``Small-business owners (your customers' customers)``, or the generic name when none is given."""
    role = _AUDIENCE_ROLE.get(audience)
    if name and role and name.strip().lower() != role:
        return f"{name.strip()} ({role})"
    return GENERIC_AUDIENCE.get(audience, audience)


def short_name(description: str, limit: int = 60) -> str | None:
    """A usable audience name from its ``market.yaml`` description: the first clause, when short."""
    first = re.split(r"[:;(.]|\s[-–—]\s", description.strip(), maxsplit=1)[0].strip()
    return first if first and len(first) <= limit else None


def p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.3g}"


def _pct(share: float) -> str:
    return f"{share:.0%}"


def _rate(per_week: float) -> str:
    return f"{per_week:.1f}/week"


# The words of a statement follow the first kind of figure a rule tests.
_PHRASES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("trend", "rate_ratio", "p_value", "emerging", "recent"), "increasingly talk about"),
    (("pain_share",), "feel real pain around"),
    (("solution_request_share",), "are looking for a solution to"),
    (("advice_request_share",), "are asking for advice on"),
    (("negative_share",), "are unhappy about"),
    (("praise_share", "positive_share"), "speak well of"),
    (("pricing_share",), "weigh the cost of"),
    (("competitor_share",), "compare vendors over"),
    (("influencer_mentions", "influencers"), "hear influencers talk about"),
    (("audience_share", "audiences", "spread"), "talk about"),
)


def _group(name: str) -> int:
    for index, (names, _) in enumerate(_PHRASES):
        if name in names:
            return index
    return len(_PHRASES)


def _fact(group: int, figures: Figures, theme: Figures | None) -> str:
    """The figure behind one kind of condition, in words."""
    whole = theme or figures
    if group == 0:
        before = (
            f"vs {_rate(figures.baseline_per_week)} before"
            if figures.baseline
            else f"none in the {figures.baseline_days} days before"
        )
        return f"{figures.recent} mentions in the last {figures.recent_days} days {before} ({p_text(figures.p_value)})"
    share = {
        1: (figures.pain_share, "describe pain"),
        2: (figures.solution_request_share, "ask for a solution"),
        3: (figures.advice_request_share, "ask for advice"),
        4: (figures.negative_share, "are negative"),
        5: (max(figures.praise_share, figures.positive_share), "are positive"),
        6: (figures.pricing_share, "talk about price"),
        7: (figures.competitor_share, "name a competitor"),
    }
    if group in share:
        value, what = share[group]
        return f"{_pct(value)} of their {figures.total} mentions {what}"
    if group == 8:
        names = list(whole.influencers[:3])
        who = f" ({', '.join(names)}{', …' if len(whole.influencers) > 3 else ''})" if names else ""
        return f"{whole.influencer_mentions} influencer mentions{who}"
    if group == 9:
        share = _pct(figures.audience_share)
        return f"{share} of the theme's mentions come from them, heard in {whole.audiences} audiences"
    return f"{figures.total} mentions in all"


def statement(rule: Rule, theme_label: str, audience: str, figures: Figures, theme: Figures | None) -> str:
    """The hypothesis in plain words, with the figures that made the rule fire."""
    groups: list[int] = []
    for condition in rule.conditions:
        group = _group(condition.name)
        if group not in groups:
            groups.append(group)
    if rule.statement:
        claim = rule.statement.format(audience=audience, theme=theme_label)
    else:
        verb = _PHRASES[groups[0]][1] if groups and groups[0] < len(_PHRASES) else "talk about"
        claim = f"{audience} {verb} {theme_label}"
    facts = [_fact(g, figures, theme) for g in groups if g < len(_PHRASES)] or [_fact(len(_PHRASES), figures, theme)]
    return f"{claim}: {'; '.join(facts)}"


def why(rule: Rule, figures: Figures, theme: Figures | None) -> str:
    """Which rule fired and every figure a marketer would ask about."""
    whole = theme or figures
    trend = f"trend {figures.trend}" + (f", rate ×{figures.rate_ratio:.1f}" if figures.rate_ratio is not None else "")
    signals = ", ".join(
        f"{label} {_pct(value)}"
        for label, value in (
            ("pain", figures.pain_share),
            ("solution requests", figures.solution_request_share),
            ("advice requests", figures.advice_request_share),
            ("negative", figures.negative_share),
            ("pricing", figures.pricing_share),
            ("competitors", figures.competitor_share),
        )
        if value > 0
    )
    influencers = (
        f"echoed by {len(whole.influencers)} influencer(s) in {whole.influencer_mentions} mentions"
        + (f" ({', '.join(whole.influencers[:3])})" if whole.influencers else "")
        if whole.influencer_mentions
        else "no influencer echo"
    )
    return (
        f"Rule {rule.name}: {'; '.join(rule.checks(figures, theme))}. "
        f"Run {figures.run_id} (as of {figures.as_of:%Y-%m-%d}): {figures.recent} mentions in the last "
        f"{figures.recent_days} days vs {figures.baseline} in the {figures.baseline_days} days before "
        f"({_rate(figures.recent_per_week)} vs {_rate(figures.baseline_per_week)}, {p_text(figures.p_value)}), "
        f"{trend}; {figures.total} mentions in all, {_pct(figures.audience_share)} of the theme's, heard in "
        f"{whole.audiences} audiences; {signals or 'no pain or request signal'}; {influencers}."
    )


def plan_text(kind: str, theme_label: str, audience: str, theme: Figures | None, criteria: Mapping[str, Any]) -> str:
    """What to do to test the hypothesis, suited to the evidence that proposed it."""
    who = audience[0].lower() + audience[1:] if audience[:1].isupper() and not audience[:3].isupper() else audience
    if kind == LISTENING_WATCH:
        return (
            f"Listening watch: earshot re-measures {theme_label} among {who} on every run and compares it with "
            "the baseline; nothing to do but read the progress."
        )
    if kind == "message_test":
        return (
            f"Message test: send {who} a message that leads with {theme_label} (an e-mail, ad or landing-page "
            f"variant) beside your usual message as the control, at least {criteria['min_sample']} recipients "
            "each; record the reply or click rates of both."
        )
    if kind == "survey":
        return (
            f"Survey question: ask at least {criteria['min_sample']} of {who} “Is {theme_label} a pressing "
            "concern for you this year?” and record the share who agree."
        )
    if kind == "content":
        echo = list(theme.influencers[:3]) if theme else []
        pitch = f" and pitch it to the influencers who echo it ({', '.join(echo)})" if echo else ""
        return (
            f"Content piece: publish a post, guide or webinar on {theme_label} for {who}{pitch}; compare its "
            f"engagement rate with your usual content over at least {criteria['min_sample']} views each."
        )
    return (
        f"Interviews: talk to at least {criteria['min_sample']} of {who} about {theme_label} and record how many "
        "confirm it matters to them."
    )


def criteria_text(kind: str, criteria: Mapping[str, Any], baseline: Figures) -> str:
    """The success criteria in words, with the baseline figure they are measured against."""
    days = criteria["expire_after_days"]
    if kind == LISTENING_WATCH:
        base = baseline_rate(baseline) * 7
        return (
            f"Validated when the recent rate stays at least {criteria['min_ratio']:g}× the baseline "
            f"({_rate(base)}) in each of {criteria['runs']} consecutive runs, the last at least "
            f"{criteria['min_days']} days after the proposal; rejected when it is at or below "
            f"{criteria['reject_below']:g}× in each of {criteria['runs']} consecutive runs; expires "
            f"{days} days after the watch starts without a decision."
        )
    if kind in PROPORTION_KINDS:
        return (
            f"Validated when the tested rate beats the control by at least {_pct(criteria['min_lift'])} "
            f"(relative) with at least {criteria['min_sample']} in each group and a one-sided two-proportion "
            f"z-test p ≤ {criteria['alpha']:g}; rejected when both groups reach that size and it does not; "
            f"expires {days} days after the test starts without a decision."
        )
    return (
        f"Validated when at least {_pct(criteria['min_share'])} agree with n ≥ {criteria['min_sample']}; "
        f"rejected when fewer agree with n ≥ {criteria['min_sample']}; expires {days} days after the test "
        "starts without a decision."
    )


# ------------------------------------------------------------------------------------------ statistics


def _normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


def two_proportion_p(x1: int, n1: int, x2: int, n2: int) -> float:
    """One-sided pooled two-proportion z-test: P(a rate gap this large | the test is no better)."""
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.5 if x1 / n1 == x2 / n2 else (0.0 if x1 / n1 > x2 / n2 else 1.0)
    return _normal_sf((x1 / n1 - x2 / n2) / se)


def wilson_interval(share: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % interval of a share: what the marketer should expect if they asked again."""
    if n <= 0:
        return 0.0, 1.0
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def parse_rate(text: str | float) -> tuple[float, int | None]:
    """``0.052``, ``5.2%`` or ``21/400`` → (rate, sample if it was written as a fraction)."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        rate, sample = float(text), None
    else:
        raw = str(text).strip()
        fraction = re.fullmatch(r"(\d+)\s*/\s*(\d+)", raw)
        percent = re.fullmatch(r"(\d+(?:\.\d+)?)\s*%", raw)
        try:
            if fraction:
                hits, sample = int(fraction.group(1)), int(fraction.group(2))
                if sample == 0 or hits > sample:
                    raise ValueError
                rate = hits / sample
            elif percent:
                rate, sample = float(percent.group(1)) / 100, None
            else:
                rate, sample = float(raw), None
        except ValueError:
            raise ValueError(
                f"{text!r} is not a rate: write a share like 0.052, a percentage like 5.2%, or a count like 21/400"
            ) from None
    if not 0 <= rate <= 1 or math.isnan(rate):
        raise ValueError(f"{text!r} is not a rate between 0 and 1 (write 5.2% or 0.052, not 5.2)")
    return rate, sample


# ------------------------------------------------------------------------------------- results, verdicts


@dataclass(frozen=True)
class Result:
    """A test marketing ran and recorded (``earshot hypotheses record`` or the Airflow DAG)."""

    kind: str
    metric: str
    value: float  # a rate or share, 0..1
    sample: int
    recorded_by: str
    recorded_at: datetime
    control: float | None = None
    control_sample: int | None = None
    note: str = ""
    result_id: str = ""


def check_result(result: Result) -> None:
    """What a result needs before it can be judged; a ``ValueError`` names the missing part."""
    if result.kind not in RESULT_KINDS:
        raise ValueError(f"kind {result.kind!r} is not a test marketing records; use {', '.join(RESULT_KINDS)}")
    if not result.metric.strip():
        raise ValueError("metric: name what was measured, e.g. reply_rate or agree")
    if not result.recorded_by.strip():
        raise ValueError("recorded by: say who recorded the result")
    if result.sample < 1:
        raise ValueError(f"sample: {result.sample} is not a sample size (how many were asked or reached)")
    if result.kind in PROPORTION_KINDS:
        if result.control is None:
            raise ValueError(
                f"{result.kind} results need the control group's rate (--control) to be judged with a "
                "two-proportion test"
            )
        if result.control_sample is not None and result.control_sample < 1:
            raise ValueError(f"control sample: {result.control_sample} is not a sample size")


@dataclass(frozen=True)
class Judgement:
    """``validated``, ``rejected`` or ``inconclusive``, and why, in words."""

    verdict: str
    why: str

    @property
    def conclusive(self) -> bool:
        return self.verdict in (VALIDATED, REJECTED)


INCONCLUSIVE = "inconclusive"


def judge_result(result: Result, criteria: Mapping[str, Any]) -> Judgement:
    """Apply the success criteria of the result's kind to one recorded result."""
    n = result.sample
    if result.kind in PROPORTION_KINDS:
        control = result.control if result.control is not None else 0.0
        n2 = result.control_sample or n
        shown = f"{result.metric} {_pct(result.value)} vs {_pct(control)} for the control (n = {n} and {n2})"
        if min(n, n2) < criteria["min_sample"]:
            return Judgement(
                INCONCLUSIVE, f"{shown}: too few to judge, needs at least {criteria['min_sample']} in each group"
            )
        lift = (result.value - control) / control if control > 0 else (math.inf if result.value > 0 else 0.0)
        p = two_proportion_p(round(result.value * n), n, round(control * n2), n2)
        lift_text = "+∞" if math.isinf(lift) else f"{lift:+.0%}"
        shown += f", lift {lift_text}, two-proportion z-test {p_text(p)}"
        if lift >= criteria["min_lift"] and p <= criteria["alpha"]:
            return Judgement(
                VALIDATED,
                f"{shown}: meets the criteria (lift ≥ {_pct(criteria['min_lift'])}, p ≤ {criteria['alpha']:g})",
            )
        missed = []
        if lift < criteria["min_lift"]:
            missed.append(f"lift below {_pct(criteria['min_lift'])}")
        if p > criteria["alpha"]:
            missed.append(f"not significant at {criteria['alpha']:g}")
        return Judgement(REJECTED, f"{shown}: {' and '.join(missed)}")
    low, high = wilson_interval(result.value, n)
    shown = f"{result.metric} {_pct(result.value)} (n = {n}, 95% interval {_pct(low)}–{_pct(high)})"
    if n < criteria["min_sample"]:
        return Judgement(INCONCLUSIVE, f"{shown}: too few to judge, needs n ≥ {criteria['min_sample']}")
    if result.value >= criteria["min_share"]:
        return Judgement(VALIDATED, f"{shown}: at least {_pct(criteria['min_share'])}, as the criteria ask")
    return Judgement(REJECTED, f"{shown}: below the {_pct(criteria['min_share'])} the criteria ask")


@dataclass(frozen=True)
class Measurement:
    """The listening re-measured in one run, against the frozen baseline."""

    run_id: str
    as_of: datetime
    figures: Figures
    vs_baseline: float


def baseline_rate(baseline: Figures) -> float:
    """Mentions per day before the hypothesis was proposed. A baseline window without a single mention
    counts as half a mention, so a brand-new theme still has a finite ratio to beat."""
    if not baseline.baseline_days:
        return 0.0
    return max(baseline.baseline, 0.5) / baseline.baseline_days


def vs_baseline(figures: Figures, baseline: Figures) -> float:
    """Recent rate now ÷ the frozen baseline rate: 1.0 means back where it was when proposed."""
    base = baseline_rate(baseline)
    recent = figures.recent / figures.recent_days if figures.recent_days else 0.0
    return recent / base if base else 0.0


def judge_watch(series: Sequence[Measurement], criteria: Mapping[str, Any], proposed_at: datetime) -> Judgement:
    """A listening watch: does the rise hold against the baseline, run after run?"""
    after = sorted((m for m in series if m.as_of > proposed_at), key=lambda m: m.as_of)
    runs = int(criteria["runs"])
    if not after:
        return Judgement(INCONCLUSIVE, "listening watch: not re-measured since the proposal yet")
    last = after[-runs:]
    ratios = ", ".join(f"{m.vs_baseline:.1f}×" for m in last)
    if len(last) < runs:
        return Judgement(
            INCONCLUSIVE, f"listening watch: {len(after)} of {runs} runs measured since the proposal ({ratios})"
        )
    if all(m.vs_baseline <= criteria["reject_below"] for m in last):
        return Judgement(
            REJECTED,
            f"listening watch: the recent rate fell back to {criteria['reject_below']:g}× the baseline or below "
            f"in the last {runs} runs ({ratios})",
        )
    days = (last[-1].as_of - proposed_at) / timedelta(days=1)
    if all(m.vs_baseline >= criteria["min_ratio"] for m in last):
        if days >= criteria["min_days"]:
            return Judgement(
                VALIDATED,
                f"listening watch: the recent rate stayed at least {criteria['min_ratio']:g}× the baseline in the "
                f"last {runs} runs ({ratios}), {days:.0f} days after the proposal",
            )
        return Judgement(
            INCONCLUSIVE,
            f"listening watch: holding at least {criteria['min_ratio']:g}× the baseline ({ratios}); "
            f"{days:.0f} of {criteria['min_days']} days observed",
        )
    return Judgement(
        INCONCLUSIVE,
        f"listening watch: mixed against the {criteria['min_ratio']:g}× target in the last {runs} runs ({ratios})",
    )


@dataclass(frozen=True)
class Decision:
    """The status a hypothesis should have now, and why; ``steps`` lists each change in order."""

    status: str
    why: str
    steps: tuple[tuple[str, str, str], ...] = field(default_factory=tuple)  # (from, to, why)
    started: datetime | None = None  # when the test started, if this decision started it


def decide(
    *,
    status: str,
    plan: str,
    criteria: Mapping[str, Mapping[str, Any]],
    results: Sequence[Result],
    series: Sequence[Measurement],
    proposed_at: datetime,
    test_started_at: datetime | None,
    last_matched_at: datetime | None,
    as_of: datetime,
    proposal_expire_days: int,
) -> Decision:
    """Apply the status flow (module docstring) to the evidence; only open hypotheses move.

    ``results`` and ``series`` are the evidence automation may weigh (newer than any manual change).
    """
    if status not in OPEN:
        return Decision(status, "")
    steps: list[tuple[str, str, str]] = []
    current, started = status, test_started_at
    watch = judge_watch(series, criteria[LISTENING_WATCH], proposed_at) if plan == LISTENING_WATCH else None
    if current == PROPOSED:
        trigger = None
        if results:
            first = min(results, key=lambda r: r.recorded_at)
            trigger = (f"a {first.kind} result was recorded by {first.recorded_by}", first.recorded_at)
        elif watch is not None and any(m.as_of > proposed_at for m in series):
            first_m = min((m for m in series if m.as_of > proposed_at), key=lambda m: m.as_of)
            trigger = (f"listening watch started: re-measured in run {first_m.run_id}", first_m.as_of)
        if trigger:
            steps.append((PROPOSED, TESTING, trigger[0]))
            current, started = TESTING, trigger[1]
    judged = sorted(((r, judge_result(r, criteria[r.kind])) for r in results), key=lambda pair: pair[0].recorded_at)
    conclusive = [pair for pair in judged if pair[1].conclusive]
    if current == TESTING and conclusive:
        result, judgement = conclusive[-1]
        why_text = f"{result.kind} recorded by {result.recorded_by} on {result.recorded_at:%Y-%m-%d}: {judgement.why}"
        steps.append((TESTING, judgement.verdict, why_text))
        return Decision(judgement.verdict, why_text, tuple(steps), started)
    if current == TESTING and watch is not None and watch.conclusive:
        steps.append((TESTING, watch.verdict, watch.why))
        return Decision(watch.verdict, watch.why, tuple(steps), started)
    if current == TESTING and started is not None:
        days = int(criteria[plan]["expire_after_days"])
        if as_of > started + timedelta(days=days):
            why_text = f"no decision within {days} days of starting the test on {started:%Y-%m-%d}"
            steps.append((TESTING, EXPIRED, why_text))
            return Decision(EXPIRED, why_text, tuple(steps), started)
    if current == PROPOSED and last_matched_at and as_of > last_matched_at + timedelta(days=proposal_expire_days):
        why_text = (
            f"no test was started and the evidence has not matched a rule since {last_matched_at:%Y-%m-%d} "
            f"({proposal_expire_days} days allowed)"
        )
        steps.append((PROPOSED, EXPIRED, why_text))
        return Decision(EXPIRED, why_text, tuple(steps), started)
    progress = [j.why for _, j in judged[-1:]] + ([watch.why] if watch is not None else [])
    if current == PROPOSED and not progress:
        progress = ["waiting for a test to start"]
    return Decision(current, "; ".join(progress), tuple(steps), started)


def expires_at(
    status: str, plan: str, criteria: Mapping[str, Mapping[str, Any]], started: datetime | None
) -> datetime | None:
    """When an open test runs out of time."""
    if status != TESTING or started is None:
        return None
    return started + timedelta(days=int(criteria[plan]["expire_after_days"]))


# -------------------------------------------------------------------------------------------------- rank


@dataclass(frozen=True)
class Rank:
    """How much a hypothesis deserves testing first, and the reasons, in words."""

    score: float
    reasons: tuple[str, ...]


def rank(figures: Figures, theme: Figures | None) -> Rank:
    """Momentum, volume, pain or demand, and reach; the product brief's rule of thumb is that a theme
    among customers' customers that influencers echo is worth more than one living in one community.

    score = min(3, −log10 p) when rising or new + ½·log2(1 + recent) + 2·max(pain, solution requests)
            + 1.5·spread over audiences + 1 when influencers echo it (+1 more among customers' customers)
    """
    whole = theme or figures
    score, reasons = 0.0, []
    if figures.trend in ("rising", "new"):
        momentum = min(3.0, -math.log10(max(figures.p_value, 1e-12)))
        score += momentum
        if momentum >= 1.3:
            reasons.append(f"{figures.trend} ({p_text(figures.p_value)})")
    if figures.recent:
        score += 0.5 * math.log2(1 + figures.recent)
        reasons.append(f"{figures.recent} mentions in the last {figures.recent_days} days")
    demand = max(figures.pain_share, figures.solution_request_share)
    if demand > 0:
        score += 2 * demand
        if demand >= 0.15:
            what = "describe pain" if figures.pain_share >= figures.solution_request_share else "ask for a solution"
            reasons.append(f"{_pct(demand)} {what}")
    score += 1.5 * whole.spread
    if whole.audiences >= 2:
        reasons.append(f"heard in {whole.audiences} audiences")
    if whole.influencer_mentions:
        score += 1.0
        names = ", ".join(whole.influencers[:2])
        if figures.audience == "customers_customers":
            score += 1.0
            reasons.append("among customers' customers and echoed by influencers" + (f" ({names})" if names else ""))
        else:
            reasons.append("echoed by influencers" + (f" ({names})" if names else ""))
    return Rank(round(score, 3), tuple(reasons))
