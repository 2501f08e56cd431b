"""``market.yaml``: the listening plan, validated on load.

A bad file raises :class:`ConfigError` naming the file, the field and why, so a marketing lead can fix
it without reading code. ``${VAR}`` and ``${VAR:-default}`` are expanded from the environment, which
keeps secrets and per-machine URLs out of the file.
"""

from __future__ import annotations

import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

SOURCE_ID = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(ValueError):
    """The listening plan cannot be used as written."""


class Audience(StrEnum):
    """Who a source speaks for. Every figure earshot produces can be split by these."""

    CUSTOMERS = "customers"
    CUSTOMERS_CUSTOMERS = "customers_customers"
    INFLUENCERS = "influencers"
    COMPETITORS = "competitors"


REQUIRED_AUDIENCES = (Audience.CUSTOMERS, Audience.CUSTOMERS_CUSTOMERS, Audience.INFLUENCERS)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Company(_Strict):
    name: str = Field(min_length=1)
    description: str = ""


class Offer(_Strict):
    summary: str = Field(min_length=1)
    benefits: list[str] = Field(default_factory=list)


class AudienceSpec(_Strict):
    description: str = ""


class FetchSettings(_Strict):
    """How listeners talk to the outside world, and the bounds that keep one hostile source from hurting the
    others. A source may override any of these in its own ``fetch`` block."""

    timeout_seconds: float = Field(default=20.0, gt=0, le=300, description="Longest wait for one connect or read.")
    deadline_seconds: float = Field(
        default=120.0,
        gt=0,
        le=3600,
        description="Wall-clock limit for one source's whole fetch: every request, page, file and retry wait.",
    )
    max_bytes: int = Field(
        default=10_000_000, gt=0, description="Largest response (on the wire and once decompressed) or file."
    )
    max_source_bytes: int = Field(
        default=100_000_000, gt=0, description="All of one source's responses or files in one run together."
    )
    max_files: int = Field(
        default=1000, ge=1, description="New or changed files a file drop loads per run; the rest wait for the next."
    )
    allow_private_redirects: bool = Field(
        default=False,
        description="Follow redirects to private, loopback or link-local addresses other than the configured "
        "URL's own host (an internal gateway's sign-in hop). The configured host itself is always allowed.",
    )
    retries: int = Field(default=1, ge=0, le=5, description="In-run retries of errors a retry can help with.")
    max_retry_wait: float = Field(default=60.0, ge=0, description="Longest Retry-After honoured within a run.")
    user_agent: str = "earshot/0.1 (+https://github.com/earshot/earshot; market listening)"

    @model_validator(mode="after")
    def _source_budget_holds_a_response(self) -> FetchSettings:
        if self.max_source_bytes < self.max_bytes:
            raise ValueError("max_source_bytes: must be at least max_bytes (one response must fit a source's budget)")
        return self


class FetchOverrides(_Strict):
    """A source's own ``fetch`` block: any of the market's fetch settings, for this source only."""

    timeout_seconds: float | None = Field(default=None, gt=0, le=300)
    deadline_seconds: float | None = Field(default=None, gt=0, le=3600)
    max_bytes: int | None = Field(default=None, gt=0)
    max_source_bytes: int | None = Field(default=None, gt=0)
    max_files: int | None = Field(default=None, ge=1)
    allow_private_redirects: bool | None = None
    retries: int | None = Field(default=None, ge=0, le=5)
    max_retry_wait: float | None = Field(default=None, ge=0)
    user_agent: str | None = None


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError(f"must be an http(s) URL, got {value!r}")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
BaseUrl = Annotated[str, AfterValidator(lambda v: _http_url(v).rstrip("/"))]
"""An endpoint that paths are appended to; overridable per source (proxies, gateways, loopback tests)."""


class _SourceBase(_Strict):
    """What every source has: an id, the audience it speaks for, and who counts as an influencer."""

    id: Annotated[str, Field(pattern=SOURCE_ID)]
    audience: Audience
    name: str = ""
    influencer: bool = Field(default=False, description="The voice behind this source is an influencer.")
    influencer_authors: list[str] = Field(
        default_factory=list, description="Authors within this source who are influencers (case-insensitive)."
    )
    enabled: bool = True
    fetch: FetchOverrides | None = Field(default=None, description="This source's own fetch settings.")


class FeedSource(_SourceBase):
    """An RSS or Atom feed: blogs, news searches, podcasts, subreddit/HN RSS, review feeds."""

    kind: Literal["feed"]
    url: HttpUrl

    @property
    def locator(self) -> str:
        """Where this source listens, in a word (the sources table shows it)."""
        return self.url


class RedditComments(_Strict):
    enabled: bool = False
    depth: int = Field(default=2, ge=1, le=10, description="Reply levels to keep below each post.")
    limit: int = Field(default=50, ge=1, le=1000, description="Comments kept per post, best first.")
    more: int = Field(default=0, ge=0, le=32, description="'more comments' stubs to expand per post.")


class RedditSource(_SourceBase):
    """Subreddits through praw: a listing or a search, optionally with comments.

    Credentials (client id, secret, user agent of a read-only app) come from the environment
    (``credentials_env`` names the variable prefix) or an Airflow connection (``airflow_conn_id``),
    never from this file.
    """

    kind: Literal["reddit"]
    subreddits: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{2,21}$")]] = Field(min_length=1)
    listing: Literal["new", "hot", "top", "rising", "search", "comments"] = Field(
        default="new", description="Posts (new, hot, top, rising, search) or the subreddits' newest comments."
    )
    query: str | None = None
    time_filter: Literal["hour", "day", "week", "month", "year", "all"] = "week"
    limit: int = Field(default=100, ge=1, le=1000, description="Posts per subreddit per run.")
    comments: RedditComments = RedditComments()
    nsfw: Literal["skip", "flag", "include"] = "skip"
    removed: Literal["skip", "flag"] = "skip"
    credentials_env: str = "REDDIT"
    airflow_conn_id: str | None = None
    oauth_url: BaseUrl = "https://oauth.reddit.com"
    reddit_url: BaseUrl = "https://www.reddit.com"

    @property
    def locator(self) -> str:
        return ",".join(f"r/{name}" for name in self.subreddits)

    @model_validator(mode="after")
    def _search_needs_query(self) -> RedditSource:
        if self.listing == "search" and not self.query:
            raise ValueError("query: required when listing is 'search'")
        return self


class HackerNewsSource(_SourceBase):
    """Hacker News stories and comments matching queries, through its public search API."""

    kind: Literal["hackernews"]
    queries: list[str] = Field(min_length=1)
    tags: list[Literal["story", "comment"]] = Field(default_factory=lambda: ["story", "comment"], min_length=1)
    hits_per_page: int = Field(default=100, ge=1, le=1000)
    max_pages: int = Field(default=5, ge=1, le=50)
    base_url: BaseUrl = "https://hn.algolia.com/api/v1"

    @property
    def locator(self) -> str:
        return "; ".join(self.queries)


class AppStoreSource(_SourceBase):
    """App Store customer reviews for one app in one country (the public customer-reviews feed)."""

    kind: Literal["appstore"]
    app_id: Annotated[str, Field(pattern=r"^\d{5,12}$")]
    country: Annotated[str, Field(pattern=r"^[a-z]{2}$")] = "us"
    pages: int = Field(default=3, ge=1, le=10)
    base_url: BaseUrl = "https://itunes.apple.com"

    @property
    def locator(self) -> str:
        return f"{self.country}/{self.app_id}"


class ColumnMapping(_Strict):
    """Which column (CSV) or key (JSONL) holds each field. Only ``text`` is required."""

    text: str
    id: str | None = None
    title: str | None = None
    rating: str | None = None
    date: str | None = None
    author: str | None = None
    url: str | None = None


class FileDropSource(_SourceBase):
    """CSV or JSONL exports (review sites, support desks, surveys) dropped into a watched folder.

    A file is loaded once; a changed file is loaded again (its rows upsert by id).
    """

    kind: Literal["filedrop"]
    folder: str
    pattern: str = "*"
    format: Literal["auto", "csv", "jsonl"] = "auto"
    columns: ColumnMapping
    date_format: str | None = Field(default=None, description="strptime format; ISO 8601 is tried first.")

    @property
    def locator(self) -> str:
        return f"{self.folder}/{self.pattern}"

    @model_validator(mode="after")
    def _pattern_stays_inside(self) -> FileDropSource:
        parts = self.pattern.replace("\\", "/").split("/")
        if self.pattern.startswith(("/", "~")) or ".." in parts:
            raise ValueError(f"pattern: {self.pattern!r} must stay inside the folder (relative, without '..')")
        return self


Source = Annotated[
    FeedSource | RedditSource | HackerNewsSource | AppStoreSource | FileDropSource, Field(discriminator="kind")
]
AnySource = FeedSource | RedditSource | HackerNewsSource | AppStoreSource | FileDropSource


class ThemeSettings(_Strict):
    """Embedding and clustering. ``model`` is a sentence-transformers name or path; ``default`` is the
    packaged all-MiniLM-L6-v2, which loads offline."""

    model: str = "default"
    backend: Literal["torch", "onnx"] = Field(
        default="torch",
        description="onnx: the int8 ONNX export made by `earshot export-onnx`, served without torch; measured "
        "2.5x (tweets) to 2.9x (news) torch's docs/s on an idle 2-core AVX2 CPU, mean cosine 0.992 to the torch "
        "vectors (benchmarks/embed_backends.py). Its vectors are stored under their own model name.",
    )
    onnx_path: str | None = Field(default=None, description="Export folder; default $EARSHOT_HOME/models/onnx-int8.")
    batch_size: int = Field(  # 32 beat 64 and 128 on a 2-core CPU (benchmarks/)
        default=32, gt=0, le=4096, description="Texts per batch for torch; the onnx backend batches by padded tokens."
    )
    min_cluster_size: int | Literal["auto"] = "auto"
    reduce_to: int = Field(default=30, ge=2, le=128)
    assign_threshold: float = Field(
        default=0.35,
        ge=0,
        le=1,
        description="Cosine to a theme's centre needed in the placement space (30 PCA directions centred on the "
        "themes' average) to join it; 0.35-0.45 keeps the demo's off-topic posts out.",
    )
    seed: int = 42
    # When a run reclusters everything instead of assigning new mentions (models/refit_policy.py).
    refit_every_days: float = Field(
        default=7, gt=0, le=3650, description="Recluster everything when this many days passed since the last refit."
    )
    refit_growth: float = Field(
        default=0.25,
        gt=0,
        description="Recluster when the corpus grew by this share of the mentions at the last refit.",
    )
    drift_margin: float = Field(
        default=0.15,
        gt=0,
        le=1,
        description="Recluster when the share of new mentions that fit no theme exceeds the last refit's "
        "unassigned share by this much...",
    )
    drift_min_mentions: int = Field(
        default=50, ge=1, description="...and there are at least this many new mentions (fewer say little)."
    )


class ReportSettings(_Strict):
    title: str = "earshot market report"
    quotes_per_theme: int = Field(default=4, ge=3, le=5)
    max_themes: int = Field(default=30, ge=1)


class TrendSettings(_Strict):
    """How trends are measured: windows ending at the run's time, an exact significance test on counts
    (never raw percentages on tiny numbers), and the emerging rule (see ``models/trends.py``)."""

    period: Literal["day", "week", "month"] = Field(
        default="week", description="Volume periods in theme_volume: UTC days, ISO weeks (Monday) or months."
    )
    recent_days: int = Field(default=7, ge=1, le=365, description="Length of the recent window, ending at the run.")
    baseline_days: int = Field(
        default=28, ge=1, le=3650, description="Length of the baseline window just before the recent one."
    )
    alpha: float = Field(default=0.05, gt=0, le=0.5, description="Significance level of each one-sided test.")
    min_recent: int = Field(
        default=5,
        ge=1,
        description="Rising needs this many recent mentions; falling needs this many expected at the old rate.",
    )
    min_mentions: int = Field(default=5, ge=1, description="Emerging needs this many recent mentions.")
    emerging_days: int = Field(
        default=28, ge=1, le=3650, description="A theme first heard at most this many days ago counts as young."
    )
    emerging_ratio: float = Field(
        default=2.0, gt=1, description="An older theme emerges when its daily rate is at least this times the baseline."
    )


class HypothesisRule(_Strict):
    """A rule a marketer can read and tune: when a theme's snapshot figures for an audience meet every
    condition under ``when``, propose a hypothesis tested by ``test``.

    Conditions compare snapshot figures (``theme_snapshots`` columns): ``pain_share: ">= 0.3"``,
    ``p_value: "<= 0.05"``, ``recent: ">= 5"``, percentages too (``">= 30%"``); ``trend: rising`` or a list
    of trend words; ``emerging: true``. ``theme.<figure>`` reads the theme across every audience. Quote
    comparisons in YAML: a value starting with ``>`` means something else there.
    """

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    audience: str | list[str] = Field(
        description="An audience key or a list of them, 'any' (each audience on its own) or 'all' (the whole "
        "market at once)."
    )
    when: dict[str, Any] = Field(description="Conditions on the snapshot figures; all must hold.")
    test: Literal["listening_watch", "message_test", "survey", "content", "interview"] = Field(
        description="How the hypothesis is tested: earshot's own listening watch, or a test marketing runs."
    )
    statement: str | None = Field(
        default=None, description="Own wording, with {audience} and {theme}; the figures are appended."
    )
    owner: str | None = Field(
        default=None, description="Who owns hypotheses from this rule (default: hypotheses.owner)."
    )
    enabled: bool = True

    @model_validator(mode="after")
    def _readable(self) -> HypothesisRule:
        from models.hypotheses import ALL_AUDIENCES, ANY_AUDIENCE, check_statement, parse_when

        known = [a.value for a in Audience] + [ANY_AUDIENCE, ALL_AUDIENCES]
        for audience in [self.audience] if isinstance(self.audience, str) else self.audience or [""]:
            if audience not in known:
                raise ValueError(f"audience: {audience!r} is not an audience; use one of {', '.join(known)}")
        try:
            parse_when(self.when)
        except ValueError as exc:
            raise ValueError(f"when.{exc}" if self.when else f"when: {exc}") from None
        if self.statement is not None:
            try:
                check_statement(self.statement)
            except ValueError as exc:
                raise ValueError(f"statement: {exc}") from None
        return self


class ListeningWatchCriteria(_Strict):
    """Success criteria of a listening watch, judged by earshot on every run against the frozen baseline."""

    min_ratio: float = Field(default=1.5, gt=0, description="Validated while the recent rate is ≥ this × the baseline…")
    runs: int = Field(default=2, ge=1, le=50, description="…in this many consecutive runs…")
    min_days: int = Field(default=7, ge=0, le=365, description="…the last at least this many days after the proposal.")
    reject_below: float = Field(
        default=1.0, ge=0, description="Rejected when the rate is at or below this × the baseline in as many runs."
    )
    expire_after_days: int = Field(default=28, ge=1, le=3650, description="Expired without a decision after this.")


class ProportionTestCriteria(_Strict):
    """Success criteria of a rate against a control group (message test, content piece)."""

    min_lift: float = Field(default=0.2, ge=0, description="Relative lift over the control needed (0.2 = +20 %).")
    min_sample: int = Field(default=200, ge=1, description="Recipients or views needed in each group.")
    alpha: float = Field(default=0.05, gt=0, le=0.5, description="One-sided two-proportion z-test level.")
    expire_after_days: int = Field(default=42, ge=1, le=3650, description="Expired without a decision after this.")


class ShareTestCriteria(_Strict):
    """Success criteria of a share of people who agree (survey question, interviews)."""

    min_share: float = Field(default=0.5, gt=0, le=1, description="Share who must agree (0.5 = 50 %).")
    min_sample: int = Field(default=100, ge=1, description="Respondents needed before judging.")
    expire_after_days: int = Field(default=42, ge=1, le=3650, description="Expired without a decision after this.")


class HypothesisTestSettings(_Strict):
    """Success criteria per kind of test; frozen into each hypothesis when its test starts."""

    listening_watch: ListeningWatchCriteria = ListeningWatchCriteria()
    message_test: ProportionTestCriteria = ProportionTestCriteria()
    content: ProportionTestCriteria = ProportionTestCriteria(min_sample=500)
    survey: ShareTestCriteria = ShareTestCriteria()
    interview: ShareTestCriteria = ShareTestCriteria(min_share=0.6, min_sample=8)


DEFAULT_HYPOTHESIS_RULES: tuple[dict[str, Any], ...] = (
    {"name": "rising_among_customers_customers", "audience": "customers_customers",
     "when": {"trend": ["rising", "new"], "p_value": "<= 0.05", "recent": ">= 5"}, "test": "listening_watch"},
    {"name": "strong_pain", "audience": ["customers", "customers_customers"],
     "when": {"pain_share": ">= 0.3", "total": ">= 10"}, "test": "message_test"},
    {"name": "asking_for_solutions", "audience": ["customers", "customers_customers"],
     "when": {"solution_request_share": ">= 0.2", "total": ">= 10"}, "test": "survey"},
    {"name": "echoed_by_influencers", "audience": "customers_customers",
     "when": {"theme.influencer_mentions": ">= 5", "audience_share": ">= 0.2", "total": ">= 5"}, "test": "content"},
)  # fmt: skip
"""Used when ``hypotheses.rules`` is not written: rising among customers' customers, strong pain, asking
for solutions, echoed by influencers. Rules are tried in order; the first that matches proposes."""


class HypothesisSettings(_Strict):
    """Rules that turn theme snapshots into hypotheses, and how those hypotheses are tested."""

    enabled: bool = Field(default=True, description="Propose and re-measure hypotheses on every run.")
    owner: str = Field(
        default="marketing", min_length=1, description="Owner of new hypotheses unless a rule names one."
    )
    audience_names: dict[Audience, str] = Field(
        default_factory=dict,
        description="How statements name each audience ('Small-business owners'); default: from its description.",
    )
    rules: list[HypothesisRule] = Field(
        default_factory=lambda: [HypothesisRule.model_validate(r) for r in DEFAULT_HYPOTHESIS_RULES],
        description="Tried in order for every theme and audience; the first that matches proposes.",
    )
    tests: HypothesisTestSettings = HypothesisTestSettings()
    quotes: int = Field(default=3, ge=1, le=10, description="Quotes with links kept as each hypothesis's evidence.")
    max_new_per_run: int = Field(default=10, ge=0, description="New proposals per run, best ranked first.")
    proposal_expire_days: int = Field(
        default=28, ge=1, le=3650, description="A proposal untested and unmatched for this long expires."
    )

    @model_validator(mode="after")
    def _unique_rule_names(self) -> HypothesisSettings:
        seen: set[str] = set()
        for index, rule in enumerate(self.rules):
            if rule.name in seen:
                raise ValueError(f"rules[{index}].name: {rule.name!r} is used twice; rule names must be unique")
            seen.add(rule.name)
        return self


_DOMAIN_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_MAILBOX = re.compile(rf"^[^@\s<>()\[\],;:\"]+@{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})+$")


def _email_address(value: str) -> str:
    """One address, optionally with a display name (``Lead <lead@example.com>``); never two, never a line break
    (a header injection)."""
    import email.utils

    parsed = email.utils.getaddresses([value]) if "\n" not in value and "\r" not in value else []
    if len(parsed) != 1 or not _MAILBOX.match(parsed[0][1]):
        raise ValueError(f"{value!r} is not an e-mail address (expected name@domain.tld or Name <name@domain.tld>)")
    return value


EmailAddress = Annotated[str, AfterValidator(_email_address)]


def _template(allowed: frozenset[str]) -> AfterValidator:
    """A ``str.format`` template that may use only ``allowed`` placeholders: caught at load, not at send time."""
    import string

    def check(value: str | None) -> str | None:
        if value is None:
            return None
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a valid template ({exc}); write literal braces as {{{{ }}}}") from None
        unknown = sorted(fields - allowed)
        if unknown:
            names = ", ".join("{" + name + "}" for name in unknown)
            raise ValueError(f"unknown placeholder {names}; use {', '.join('{' + a + '}' for a in sorted(allowed))}")
        return value

    return AfterValidator(check)


def _webhook_url(value: str) -> str:
    """Like ``HttpUrl``, but the error never repeats the value: a webhook URL is a secret (Slack's path is
    its token), often filled in from ``${ENV}``."""
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError("must be an http(s) URL (value not shown: webhook URLs are secrets)")
    return value


class SmtpSettings(_Strict):
    """The mail server. Host and port may instead come from ``<credentials_env>_HOST`` / ``_PORT`` or the
    Airflow connection, which override these."""

    host: str | None = Field(default=None, description="SMTP server name or address.")
    port: int | None = Field(
        default=None, ge=1, le=65535, description="Default by security: 587 (starttls), 465 (ssl), 25 (none)."
    )
    security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls", description="starttls: upgrade a plain connection; ssl: TLS from the start; none: plain."
    )
    timeout: float = Field(default=30.0, gt=0, le=300, description="Seconds to wait for the server per step.")


class EmailDelivery(_Strict):
    """The report by e-mail: HTML body with a plain-text alternative, the report files attached. One message
    per recipient, so each is tracked (and retried) on its own and recipients don't see each other."""

    recipients: list[EmailAddress] = Field(min_length=1, description="Who receives the report.")
    sender: EmailAddress = Field(description="From: address, e.g. 'earshot <earshot@example.com>'.")
    subject: Annotated[str, _template(frozenset({"title", "date"}))] = Field(
        default="{title} · {date}", min_length=1, description="Subject template: {title} and {date} (YYYY-MM-DD)."
    )
    smtp: SmtpSettings = SmtpSettings()
    credentials_env: str = Field(
        default="EARSHOT_SMTP",
        pattern=r"^[A-Z][A-Z0-9_]*$",
        description="Prefix of the variables <prefix>_USER, _PASSWORD (and _HOST, _PORT overrides).",
    )
    airflow_conn_id: str | None = Field(
        default=None, description="Airflow connection (host, port, login, password) used instead of the environment."
    )
    attach: list[Literal["html", "markdown"]] = Field(
        default_factory=lambda: ["html", "markdown"], description="Report files attached to the message."
    )

    @model_validator(mode="after")
    def _distinct_recipients(self) -> EmailDelivery:
        import email.utils

        seen: set[str] = set()
        for index, recipient in enumerate(self.recipients):
            address = email.utils.getaddresses([recipient])[0][1].lower()
            if address in seen:
                raise ValueError(f"recipients[{index}]: {address!r} is listed twice")
            seen.add(address)
        return self


class WebhookDelivery(_Strict):
    """A Slack-compatible incoming webhook (``{"text", "blocks"}`` JSON): the summary and where the report is."""

    url: Annotated[str, AfterValidator(_webhook_url)] = Field(
        repr=False, description="Incoming-webhook URL (a secret): keep it out of the file with ${ENV_VAR}."
    )
    timeout: float = Field(default=10.0, gt=0, le=300, description="Seconds to wait for the receiver.")


class DeliverySettings(_Strict):
    """Who receives each report and how: SMTP mail and an optional webhook. Neither configured: no delivery."""

    email: EmailDelivery | None = None
    webhook: WebhookDelivery | None = None
    retries: int = Field(
        default=2, ge=0, le=10, description="In-run retries of transient failures (refused, 4xx SMTP, 5xx HTTP)."
    )
    backoff_seconds: float = Field(
        default=5.0, ge=0, le=600, description="Wait before the first retry; doubles for each further one."
    )
    report_url: Annotated[str | None, _template(frozenset({"run_id"}))] = Field(
        default=None,
        description="Where readers open a report, e.g. https://reports.example.com/{run_id}/report.html; "
        "default: the report file's path.",
    )


class Market(_Strict):
    """The whole listening plan."""

    version: Literal[1] = 1
    company: Company
    offer: Offer
    audiences: dict[Audience, AudienceSpec]
    competitors: list[str] = Field(default_factory=list, description="Rival names: mentions of them are a signal.")
    sources: list[Source] = Field(min_length=1)
    fetch: FetchSettings = FetchSettings()
    themes: ThemeSettings = ThemeSettings()
    report: ReportSettings = ReportSettings()
    trends: TrendSettings = TrendSettings()
    hypotheses: HypothesisSettings = HypothesisSettings()
    delivery: DeliverySettings = DeliverySettings()

    @model_validator(mode="after")
    def _consistent(self) -> Market:
        missing = [a.value for a in REQUIRED_AUDIENCES if a not in self.audiences]
        if missing:
            raise ValueError(f"audiences: missing {', '.join(missing)} (every market names all three)")
        seen: set[str] = set()
        for index, source in enumerate(self.sources):
            if source.id in seen:
                raise ValueError(f"sources[{index}].id: {source.id!r} is used twice; ids must be unique")
            seen.add(source.id)
            if source.audience not in self.audiences:
                raise ValueError(
                    f"sources[{index}].audience: {source.audience.value!r} is not declared under audiences"
                )
            try:
                self.fetch_for(source)
            except ValidationError as exc:
                problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
                raise ValueError(f"sources[{index}].fetch: {problem}") from None
        return self

    def source(self, source_id: str) -> AnySource:
        for source in self.sources:
            if source.id == source_id:
                return source
        raise KeyError(source_id)

    @property
    def enabled_sources(self) -> list[AnySource]:
        return [s for s in self.sources if s.enabled]

    def fetch_for(self, source: AnySource) -> FetchSettings:
        """The market's fetch settings with the source's own overrides applied (validated together)."""
        if source.fetch is None:
            return self.fetch
        merged = {**self.fetch.model_dump(), **source.fetch.model_dump(exclude_none=True)}
        return FetchSettings.model_validate(merged)


UNSET_URL = "http://unset.invalid"
"""Stands for an unset variable in a source that will not be fetched (``.invalid`` never resolves)."""


def _expand(value: Any, where: str, path: Path, unset: str | None = None) -> Any:
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            if unset is not None:
                return unset
            raise ConfigError(f"{path}: {where}: environment variable {name} is not set")

        return _ENV_REF.sub(substitute, value)
    if isinstance(value, dict):
        return {k: _expand(v, f"{where}.{k}" if where else str(k), path, unset) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, f"{where}[{i}]", path, unset) for i, v in enumerate(value)]
    return value


def _expand_unfetched(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """For commands that never fetch (a sales brief needs the sources' names, not their URLs): a source whose
    variables are unset is kept, disabled, with :data:`UNSET_URL` in their place."""
    sources = data.get("sources")
    if not isinstance(sources, list):
        return _expand(data, "", path)
    kept = []
    for index, source in enumerate(sources):
        try:
            kept.append(_expand(source, f"sources[{index}]", path))
        except ConfigError:
            stand_in = _expand(source, f"sources[{index}]", path, unset=UNSET_URL)
            kept.append({**stand_in, "enabled": False} if isinstance(stand_in, dict) else stand_in)
    return {**_expand({k: v for k, v in data.items() if k != "sources"}, "", path), "sources": kept}


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in {"feed", "reddit", "hackernews", "appstore", "filedrop"}:  # discriminator tags: noise
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def parse_market(data: Any, path: Path, *, fetching: bool = True) -> Market:
    """Validate already-loaded YAML data; errors name ``path``, the field and why. ``fetching=False`` is for
    commands that never fetch: a source's unset ``${VAR}`` then disables that source instead of failing."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    data = _expand(data, "", path) if fetching else _expand_unfetched(data, path)
    try:
        market = Market.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            message = err["msg"].removeprefix("Value error, ")
            loc = _location(err["loc"])
            if err["type"] == "extra_forbidden":
                message = "unknown field (check its spelling)"
            problems.append(f"{loc}: {message}" if loc != "(top level)" or ":" not in message else message)
        raise ConfigError(f"{path}: " + "; ".join(problems)) from None
    return _anchor_folders(market, Path(path).resolve().parent)


def _anchor_folders(market: Market, base: Path) -> Market:
    """Relative file-drop folders are relative to market.yaml, not to whichever directory a worker
    happens to run in."""
    sources = [
        s.model_copy(update={"folder": str(base / s.folder)})
        if isinstance(s, FileDropSource) and not Path(s.folder).is_absolute()
        else s
        for s in market.sources
    ]
    return market.model_copy(update={"sources": sources})


def load_market(path: Path | str, *, fetching: bool = True) -> Market:
    """Read and validate ``market.yaml`` (``fetching``: see :func:`parse_market`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found (create one with `earshot init`)") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(f"{path}: {where}not valid YAML ({getattr(exc, 'problem', exc)})") from None
    return parse_market(data, path, fetching=fetching)
