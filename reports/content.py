"""What a report says, as plain data: built from the warehouse, rendered to HTML and Markdown.

Keeping the content separate from rendering lets both formats say the same thing, lets tests check the
content without parsing HTML, and lets the benchmark build a report of any size without a pipeline. Every
string here may have come from the web (quotes, labels, statements built from labels): renderers escape it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

SIGNAL_KEYS: tuple[str, ...] = (
    "negative",
    "positive",
    "pain",
    "solution_request",
    "advice_request",
    "praise",
    "pricing",
    "competitor",
)
"""The signal shares a theme or a hypothesis carries, in the order the signal chart draws them."""


@dataclass(frozen=True)
class Quote:
    """A representative mention, linked to where it was said. All text is scraped: never trusted."""

    text: str
    url: str | None
    source_id: str
    audience: str
    author: str | None = None
    published_at: datetime | None = None


@dataclass(frozen=True)
class Snapshot:
    """One theme among one audience (or ``all``) at one point in time: a ``theme_snapshots`` row, or the
    figures a hypothesis froze as its baseline. ``recent`` counts the last ``recent_days``; ``baseline``
    the ``baseline_days`` before them."""

    audience: str
    recent: int
    baseline: int
    total: int
    recent_days: int
    baseline_days: int
    trend: str  # rising | falling | steady | new | quiet
    p_value: float
    p_value_down: float = 1.0
    rate_ratio: float | None = None
    emerging: bool = False
    audience_share: float = 1.0
    audiences: int = 0
    spread: float = 0.0
    influencer_mentions: int = 0
    influencers: tuple[str, ...] = ()
    signals: dict[str, float] = field(default_factory=dict)  # shares 0..1 by SIGNAL_KEYS
    as_of: datetime | None = None

    @property
    def recent_per_week(self) -> float:
        return self.recent / self.recent_days * 7 if self.recent_days else 0.0

    @property
    def baseline_per_week(self) -> float:
        return self.baseline / self.baseline_days * 7 if self.baseline_days else 0.0


@dataclass(frozen=True)
class VolumeSeries:
    """Mentions per period (``theme_volume``), oldest first: per audience and in all (each mention once,
    so the per-audience counts can add up to more than ``total`` when a mention was heard in two)."""

    period: str  # day | week | month
    starts: list[date]
    by_audience: dict[str, list[int]]
    total: list[int]


@dataclass(frozen=True)
class ThemeView:
    theme_id: str
    label: str
    keywords: list[str]
    volume: int
    audience_mix: dict[str, int]
    quotes: list[Quote]
    sources: int = 0
    signals: dict[str, float] = field(default_factory=dict)  # shares 0..1: "negative", "pain", "pricing"...
    overall: Snapshot | None = None  # the theme in all audiences (theme_snapshots audience 'all')
    by_audience: dict[str, Snapshot] = field(default_factory=dict)
    series: VolumeSeries | None = None

    @property
    def recent(self) -> int:
        """Mentions in the recent window, what the report ranks by; the whole volume when not snapshotted."""
        return self.overall.recent if self.overall else self.volume


@dataclass(frozen=True)
class SourceHealth:
    source_id: str
    kind: str
    audience: str
    status: str  # "ok" | "warning" | "error" | "never fetched"
    items_last_run: int
    mentions_total: int
    consecutive_failures: int
    last_success_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class Alert:
    """A problem raised for a person (``alerts``): a failing source, a task that failed for good."""

    alert_id: str
    kind: str
    subject: str
    message: str
    raised_at: datetime
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class ProgressPoint:
    """A hypothesis re-measured in one run: its recent rate against the frozen baseline rate."""

    as_of: datetime
    recent: int
    recent_per_week: float
    vs_baseline: float  # 1.0 = where it was when proposed


@dataclass(frozen=True)
class RecordedResult:
    """A test marketing ran and recorded, with the verdict its criteria gave."""

    recorded_at: datetime
    kind: str
    metric: str
    value: float
    sample: int
    verdict: str  # validated | rejected | inconclusive
    verdict_why: str
    recorded_by: str
    control: float | None = None
    note: str = ""


@dataclass(frozen=True)
class HypothesisItem:
    """One hypothesis as the report shows it: the claim, why, the evidence against its baseline, the test."""

    hypothesis_id: str
    status: str  # proposed | testing | validated | handed_off | rejected | expired
    statement: str
    audience: str
    audience_label: str
    theme_id: str
    theme_label: str
    owner: str = ""
    why: str = ""
    rank_score: float = 0.0
    rank_reasons: tuple[str, ...] = ()
    test_kind: str = ""
    test_plan: str = ""
    criteria_text: str = ""
    status_why: str = ""
    theme_active: bool = True
    proposed_at: datetime | None = None
    test_started_at: datetime | None = None
    expires_at: datetime | None = None
    decided_at: datetime | None = None
    days_left: int | None = None  # whole days until expires_at, as of the report (testing only)
    evidence: Snapshot | None = None  # the latest figures that met a rule
    baseline: Snapshot | None = None  # frozen when proposed: the reality basepoint
    progress: list[ProgressPoint] = field(default_factory=list)  # oldest first
    results: list[RecordedResult] = field(default_factory=list)  # oldest first
    quotes: list[Quote] = field(default_factory=list)
    brief_href: str | None = None  # the sales brief, relative to the reports folder, when it exists

    @property
    def latest(self) -> ProgressPoint | None:
        return self.progress[-1] if self.progress else None


@dataclass(frozen=True)
class ThemeChange:
    """A theme that appeared, retired, merged or split in a themes run of the period (``theme_lineage``)."""

    kind: str  # new | retired | merge | split
    theme_id: str
    label: str
    related: list[str] = field(default_factory=list)  # merge: the parents' labels; split: the children's


@dataclass(frozen=True)
class VolumeChange:
    """How much more or less a theme is talked about now than at the previous report."""

    theme_id: str
    label: str
    before: float
    after: float
    unit: str  # what the numbers count, e.g. "mentions in 7 days" or "mentions per week"

    @property
    def delta(self) -> float:
        return self.after - self.before


@dataclass(frozen=True)
class StatusChange:
    """A hypothesis proposed (``from_status`` None) or moved to another status during the period."""

    hypothesis_id: str
    statement: str
    theme_label: str
    audience_label: str
    from_status: str | None
    to_status: str
    at: datetime
    by: str
    why: str
    manual: bool = False


@dataclass(frozen=True)
class Changes:
    """What changed since the previous report (``since``), or over the default period when there was none."""

    since: datetime
    previous_run_id: str | None = None
    themes: list[ThemeChange] = field(default_factory=list)
    volume: list[VolumeChange] = field(default_factory=list)  # biggest changes first
    new_hypotheses: list[StatusChange] = field(default_factory=list)
    status_changes: list[StatusChange] = field(default_factory=list)
    new_alerts: list[Alert] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.themes or self.volume or self.new_hypotheses or self.status_changes or self.new_alerts)


@dataclass(frozen=True)
class ReportContent:
    run_id: str
    generated_at: datetime
    title: str
    company: str
    offer: str
    total_mentions: int
    mentions_by_audience: dict[str, int]
    themes: list[ThemeView]
    unassigned: int
    sources: list[SourceHealth] = field(default_factory=list)
    embedding_model: str = ""
    period_start: datetime | None = None  # the previous report, else generated_at less the default period
    mentions_in_period: int | None = None  # conversations first heard during the period
    themes_total: int | None = None  # themes in the run, before the report's cap (None: all are shown)
    test_first: list[HypothesisItem] = field(default_factory=list)  # proposed, best ranked first
    under_test: list[HypothesisItem] = field(default_factory=list)
    validated: list[HypothesisItem] = field(default_factory=list)  # validated and handed off
    closed: list[HypothesisItem] = field(default_factory=list)  # rejected and expired
    changes: Changes | None = None
    alerts: list[Alert] = field(default_factory=list)  # open alerts
    alpha: float = 0.05  # the trend test's significance level (trends.alpha)
    themes_run: str | None = None  # the themes run the figures come from (the next report compares with it)


# --- Scraped text inside our own words ---------------------------------------------------------------

_BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]")
FSI, PDI = "\u2068", "\u2069"


def isolate(text: str) -> str:
    """Scraped text that carries bidi controls, wrapped in a Unicode isolate (FSI … PDI).

    An unterminated right-to-left override in a label would otherwise turn around everything after it on
    the line, our own words and numbers included; the closing PDI ends every override opened inside. Text
    without bidi controls is returned as it is, so ordinary labels are unchanged. Works in HTML, Markdown,
    e-mail and terminals alike.
    """
    return f"{FSI}{text}{PDI}" if _BIDI_CONTROLS.search(text) else text


# --- The short summary: plain sentences from the figures ---------------------------------------------


def summary_sentences(content: ReportContent) -> list[str]:
    """Three to five plain sentences a reader can stop after: what was heard, what is rising, what to test,
    what was validated, which sources are missing. Generated from the figures, so they never drift from them.
    """
    sentences = [_heard_sentence(content), _rising_sentence(content)]
    sentences.append(_test_sentence(content))
    validated = _validated_sentence(content)
    if validated:
        sentences.append(validated)
    sentences.append(_sources_sentence(content))
    return sentences


def _plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


def _listing(items: list[str]) -> str:
    items = [isolate(item) for item in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _heard_sentence(content: ReportContent) -> str:
    shown = len(content.themes) if content.themes_total is None else content.themes_total
    new = f" ({content.mentions_in_period:,} new in this period)" if content.mentions_in_period is not None else ""
    return (
        f"{_plural(content.total_mentions, 'conversation')} heard so far{new}, grouped into {_plural(shown, 'theme')}."
    )


def _rising_sentence(content: ReportContent) -> str:
    rising = [t for t in content.themes if t.overall and t.overall.trend in ("rising", "new") and t.overall.recent]
    emerging = [t for t in content.themes if t.overall and t.overall.emerging]
    if not rising and not emerging:
        if not any(t.overall for t in content.themes):
            return "No trend figures were taken for these themes yet, so nothing can be called rising."
        return "No theme is rising significantly: the conversation is steady."
    top = max(rising or emerging, key=lambda t: (t.recent, t.volume))
    assert top.overall is not None
    figures = f"{_plural(top.overall.recent, 'mention')} in the last {top.overall.recent_days} days"
    more = [t for t in (rising or emerging) if t is not top]
    tail = f", with {_plural(len(more), 'other theme')} also rising" if more else ""
    flag = " and emerging" if top.overall.emerging else ""
    return f"Rising fastest{flag}: {isolate(top.label)} ({figures}){tail}."


def _test_sentence(content: ReportContent) -> str:
    if not content.test_first:
        waiting = (
            f"; {_plural(len(content.under_test), 'hypothesis', 'hypotheses')} under test" if content.under_test else ""
        )
        return f"No new hypothesis is waiting for a test{waiting}."
    first = content.test_first[0]
    others = len(content.test_first) - 1
    more = f" ({_plural(others, 'more hypothesis', 'more hypotheses')} below)" if others else ""
    testing = f"; {len(content.under_test):,} under test" if content.under_test else ""
    return f"Test first: {isolate(first.statement.rstrip('.'))}{more}{testing}."


def _validated_sentence(content: ReportContent) -> str:
    if not content.validated:
        return ""
    handed = [h for h in content.validated if h.status == "handed_off"]
    briefs = sum(1 for h in content.validated if h.brief_href)
    what = _plural(len(content.validated), "hypothesis", "hypotheses")
    verb = "was" if len(content.validated) == 1 else "were"
    parts = f"{what} {verb} validated and can go to sales"
    if handed:
        parts += f" ({len(handed):,} already handed off)"
    return f"{parts[0].upper()}{parts[1:]}; {briefs:,} with a sales brief ready."


def _sources_sentence(content: ReportContent) -> str:
    failing = [s.source_id for s in content.sources if s.status == "failing"]
    if failing:
        verb = "is" if len(failing) == 1 else "are"
        return f"{_plural(len(failing), 'source')} {verb} failing ({_listing(failing)}): what they carry is missing."
    erroring = [s.source_id for s in content.sources if s.status == "error"]
    if erroring:
        return f"{_plural(len(erroring), 'source')} failed on the last run ({_listing(erroring)}); the rest were heard."
    if not content.sources:
        return "No sources are configured."
    return f"All {_plural(len(content.sources), 'source')} were heard."
