"""Times from untrusted input as aware UTC datetimes, or ``None``: never an exception.

A source can send a timestamp of 1e20, ``NaN``, a date in year 0 or a string where a number belongs;
each would raise ``OverflowError``, ``ValueError`` or ``OSError`` deep inside a parser. Every listener reads
times through these three functions, so an impossible time leaves one item undated instead of failing
its source.
"""

from __future__ import annotations

import calendar
import math
from datetime import UTC, datetime


def from_epoch(value: object) -> datetime | None:
    """Seconds since 1970 (a number, or a numeric string); ``None`` unless finite and within datetime's range."""
    if isinstance(value, bool):
        return None
    seconds: object = value
    if isinstance(value, str):
        try:
            seconds = float(value)
        except ValueError:
            return None
    if not isinstance(seconds, int | float) or (isinstance(seconds, float) and not math.isfinite(seconds)):
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def from_iso(value: object) -> datetime | None:
    """An ISO 8601 string; naive times are taken as UTC."""
    if not isinstance(value, str):
        return None
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        return None


def from_struct(value: object) -> datetime | None:
    """A ``time.struct_time`` in UTC, as feedparser gives dates."""
    try:
        return from_epoch(calendar.timegm(value))  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None


def as_utc(when: datetime) -> datetime | None:
    """``when`` in UTC (naive read as UTC); ``None`` when the shift leaves datetime's range (year 1 or 9999)."""
    try:
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
