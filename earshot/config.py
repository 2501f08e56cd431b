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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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
    user_agent: str = "earshot/0.1 (+https://github.com/earshot/earshot; market listening)"


class FeedSource(_Strict):
    """An RSS or Atom feed: blogs, news searches, podcasts, subreddit/HN RSS, review feeds."""

    id: Annotated[str, Field(pattern=SOURCE_ID)]
    kind: Literal["feed"]
    audience: Audience
    url: str
    name: str = ""
    influencer: bool = Field(default=False, description="The voice behind this source is an influencer.")
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value


Source = Annotated[FeedSource, Field(discriminator="kind")]


class ThemeSettings(_Strict):
    """Embedding and clustering. ``model`` is a sentence-transformers name or path; ``default`` is the
    packaged all-MiniLM-L6-v2, which loads offline."""

    model: str = "default"
    batch_size: int = Field(default=32, gt=0, le=4096)  # 32 beat 64 and 128 on a 2-core CPU (benchmarks/)
    min_cluster_size: int | Literal["auto"] = "auto"
    reduce_to: int = Field(default=10, ge=2, le=128)
    assign_threshold: float = Field(default=0.55, ge=0, le=1)
    seed: int = 42


class ReportSettings(_Strict):
    title: str = "earshot market report"
    quotes_per_theme: int = Field(default=4, ge=3, le=5)
    max_themes: int = Field(default=30, ge=1)


class Market(_Strict):
    """The whole listening plan."""

    version: Literal[1] = 1
    company: Company
    offer: Offer
    audiences: dict[Audience, AudienceSpec]
    sources: list[Source] = Field(min_length=1)
    fetch: FetchSettings = FetchSettings()
    themes: ThemeSettings = ThemeSettings()
    report: ReportSettings = ReportSettings()

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

    def source(self, source_id: str) -> FeedSource:
        for source in self.sources:
            if source.id == source_id:
                return source
        raise KeyError(source_id)

    @property
    def enabled_sources(self) -> list[FeedSource]:
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
        elif part in {"feed"}:  # discriminator tags add noise to the location
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
        return Market.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            message = err["msg"].removeprefix("Value error, ")
            loc = _location(err["loc"])
            if err["type"] == "extra_forbidden":
                message = "unknown field (check its spelling)"
            problems.append(f"{loc}: {message}" if loc != "(top level)" or ":" not in message else message)
        raise ConfigError(f"{path}: " + "; ".join(problems)) from None


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
