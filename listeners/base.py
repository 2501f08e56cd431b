"""What every listener is: fetch raw payloads, then parse them into mentions.

Fetching talks to the outside world and returns payloads *as received* (bytes plus metadata); parsing
is pure and deterministic. The listen stage lands every payload before parsing it, so ``earshot
replay`` can rebuild the mentions of an empty warehouse from the landing zone with the same parse
functions, and get identical results.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from listeners.errors import ErrorKind, SourceError
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


class Allowance:
    """What one fetch of one source may still spend: wall-clock time until its deadline, and bytes.

    Every listener checks it between requests, pages, chunks and files, so a source that drips one byte
    a second or sends endless pages fails on its own (``timeout``, ``too_large``) instead of holding up
    the load of every other source.
    """

    def __init__(self, deadline: float, seconds: float, max_bytes: int, clock: Callable[[], float]) -> None:
        self.deadline, self.seconds, self.max_bytes, self.clock = deadline, seconds, max_bytes, clock
        self.bytes_left = max_bytes

    def seconds_left(self) -> float:
        return self.deadline - self.clock()

    def check_time(self, source_id: str, where: str) -> float:
        """The seconds left; a ``timeout`` error once the deadline has passed."""
        left = self.seconds_left()
        if left <= 0:
            raise self.expired(source_id, where)
        return left

    def expired(self, source_id: str, where: str) -> SourceError:
        detail = f"{where}: the fetch passed its {self.seconds:g}s deadline (fetch.deadline_seconds)"
        return SourceError(source_id, ErrorKind.TIMEOUT, detail)

    def spend(self, source_id: str, size: int, where: str) -> None:
        """Count ``size`` bytes against the source's budget; ``too_large`` past it."""
        self.bytes_left -= size
        if self.bytes_left < 0:
            detail = f"{where}: the source sent more than {self.max_bytes:,} bytes in all (fetch.max_source_bytes)"
            raise SourceError(source_id, ErrorKind.TOO_LARGE, detail)


@dataclass(frozen=True)
class FetchSettings:
    """Politeness settings and bounds for one source (``market.yaml``'s ``fetch`` block, the source's own
    overrides applied). ``allowance`` is the running fetch's clock and byte budget: see :meth:`begun`."""

    timeout: float
    max_bytes: int
    user_agent: str
    deadline: float = 120.0
    max_source_bytes: int = 100_000_000
    max_files: int = 1000
    allow_private_redirects: bool = False
    allowance: Allowance | None = field(default=None, compare=False, repr=False)

    def begun(self, deadline: float | None = None, clock: Callable[[], float] = time.monotonic) -> FetchSettings:
        """These settings with a fresh byte budget and the fetch's clock running. ``deadline`` (a ``clock()``
        value) keeps an earlier attempt's deadline; a fetch already begun is returned as it is."""
        if self.allowance is not None and deadline is None:
            return self
        ends = clock() + self.deadline if deadline is None else deadline
        return replace(self, allowance=Allowance(ends, self.deadline, self.max_source_bytes, clock))

    @property
    def budget(self) -> Allowance:
        """The running fetch's allowance (listeners call :meth:`begun` first)."""
        if self.allowance is None:
            raise RuntimeError("FetchSettings.begun() was not called before fetching")
        return self.allowance


class Listener(Protocol):
    """A source connector. ``source`` is the validated source block from ``market.yaml``."""

    def fetch(self, source: Any, cursor: Mapping[str, Any] | None, settings: FetchSettings) -> Fetched: ...

    def parse(self, source: Any, payload: Payload) -> Parsed: ...


ListenerFactory = Callable[[], Listener]
