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
    """How listeners talk to the outside world."""

    timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    max_bytes: int = Field(default=10_000_000, gt=0)
    retries: int = Field(default=1, ge=0, le=5, description="In-run retries of errors a retry can help with.")
    max_retry_wait: float = Field(default=60.0, ge=0, description="Longest Retry-After honoured within a run.")
    user_agent: str = "earshot/0.1 (+https://github.com/earshot/earshot; market listening)"


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
    listing: Literal["new", "hot", "top", "rising", "search"] = "new"
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


Source = Annotated[
    FeedSource | RedditSource | HackerNewsSource | AppStoreSource | FileDropSource, Field(discriminator="kind")
]
AnySource = FeedSource | RedditSource | HackerNewsSource | AppStoreSource | FileDropSource


class ThemeSettings(_Strict):
    """Embedding and clustering. ``model`` is a sentence-transformers name or path; ``default`` is the
    packaged all-MiniLM-L6-v2, which loads offline."""

    model: str = "default"
    backend: Literal["torch", "onnx"] = Field(
        default="torch", description="onnx: the int8 ONNX export made by `earshot export-onnx` (about 2-4x faster)."
    )
    onnx_path: str | None = Field(default=None, description="Export folder; default $EARSHOT_HOME/models/onnx-int8.")
    batch_size: int = Field(default=32, gt=0, le=4096)  # 32 beat 64 and 128 on a 2-core CPU (benchmarks/)
    min_cluster_size: int | Literal["auto"] = "auto"
    reduce_to: int = Field(default=30, ge=2, le=128)
    assign_threshold: float = Field(default=0.35, ge=0, le=1)
    seed: int = 42


class ReportSettings(_Strict):
    title: str = "earshot market report"
    quotes_per_theme: int = Field(default=4, ge=3, le=5)
    max_themes: int = Field(default=30, ge=1)


class TrendSettings(_Strict):
    """How trends are measured (filled in by the trends work: windows, significance, emerging rule)."""


class HypothesisSettings(_Strict):
    """Rules that turn theme snapshots into hypotheses, and how they are tested (hypotheses work)."""


class DeliverySettings(_Strict):
    """Who receives each report and how: SMTP mail and an optional webhook (delivery work)."""


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
        return self

    def source(self, source_id: str) -> AnySource:
        for source in self.sources:
            if source.id == source_id:
                return source
        raise KeyError(source_id)

    @property
    def enabled_sources(self) -> list[AnySource]:
        return [s for s in self.sources if s.enabled]


def _expand(value: Any, where: str, path: Path) -> Any:
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise ConfigError(f"{path}: {where}: environment variable {name} is not set")

        return _ENV_REF.sub(substitute, value)
    if isinstance(value, dict):
        return {k: _expand(v, f"{where}.{k}" if where else str(k), path) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, f"{where}[{i}]", path) for i, v in enumerate(value)]
    return value


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


def parse_market(data: Any, path: Path) -> Market:
    """Validate already-loaded YAML data; errors name ``path``, the field and why."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    data = _expand(data, "", path)
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


def load_market(path: Path | str) -> Market:
    """Read and validate ``market.yaml``."""
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
    return parse_market(data, path)
