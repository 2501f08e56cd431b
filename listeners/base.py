"""What every listener is: fetch raw payloads, then parse them into mentions.

Fetching talks to the outside world and returns payloads *as received* (bytes plus metadata); parsing
is pure and deterministic. The listen stage lands every payload before parsing it, so ``earshot
replay`` can rebuild the mentions of an empty warehouse from the landing zone with the same parse
functions, and get identical results.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from listeners.mention import Mention


@dataclass(frozen=True)
class Payload:
    """One raw response as received. ``meta`` is JSON-able: URL, status, headers, page, request params,
    whatever the parser needs to interpret ``body`` later, without the network."""

    body: bytes
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Fetched:
    """What one fetch of one source brought back.

    ``cursor`` is the source's new incremental state (ETag, high-water mark, file fingerprints...),
    committed in the same transaction as the mentions; ``None`` leaves the stored cursor unchanged.
    """

    payloads: list[Payload]
    cursor: dict[str, Any] | None = None
    http_status: int | None = None
    not_modified: bool = False
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Parsed:
    mentions: list[Mention]
    warning: str | None = None
    skipped: int = 0


@dataclass(frozen=True)
class FetchSettings:
    """Politeness settings shared by all listeners (from ``market.yaml``'s ``fetch`` block)."""

    timeout: float
    max_bytes: int
    user_agent: str


class Listener(Protocol):
    """A source connector. ``source`` is the validated source block from ``market.yaml``."""

    def fetch(self, source: Any, cursor: Mapping[str, Any] | None, settings: FetchSettings) -> Fetched: ...

    def parse(self, source: Any, payload: Payload) -> Parsed: ...


ListenerFactory = Callable[[], Listener]
