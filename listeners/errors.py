"""Classified source errors: what went wrong, for which source, and whether retrying can help."""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    HTTP_CLIENT = "http_4xx"
    HTTP_SERVER = "http_5xx"
    RATE_LIMITED = "rate_limited"
    REDIRECT_LOOP = "redirect_loop"
    REDIRECT_REFUSED = "redirect_refused"  # to a non-http(s) scheme, or to a private address not allowed
    TOO_LARGE = "too_large"
    TRUNCATED = "truncated"
    NOT_A_FEED = "not_a_feed"
    MALFORMED = "malformed"
    AUTH = "auth"  # missing, wrong or refused credentials
    MISSING = "missing"  # a folder, subreddit or app that does not exist
    INTERNAL = "internal"


RETRYABLE = {
    ErrorKind.TIMEOUT,
    ErrorKind.CONNECTION,
    ErrorKind.HTTP_SERVER,
    ErrorKind.RATE_LIMITED,
    ErrorKind.TRUNCATED,
}


class SourceError(Exception):
    """A source could not be heard this run. The message names the source and the problem."""

    def __init__(self, source_id: str, kind: ErrorKind, detail: str, retry_after: float | None = None):
        self.source_id = source_id
        self.kind = kind
        self.detail = detail
        self.retry_after = retry_after
        super().__init__(f"source {source_id!r}: {kind.value}: {detail}")

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE
