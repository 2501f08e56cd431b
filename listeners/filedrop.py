"""CSV and JSONL exports dropped into a watched folder: review sites, support desks, surveys.

A file is loaded when it is new or its content changed (by SHA-256, not mtime, so a copy that
touches a file without changing it loads nothing). Each row's id is the mapped id column or, lacking
one, a hash of its text, author and date: a re-delivered, edited export upserts the rows it shares
with the previous delivery instead of duplicating them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from listeners.base import Fetched, FetchSettings, Parsed, Payload
from listeners.errors import ErrorKind, SourceError
from listeners.mention import Mention, make_mention, stable_id

if TYPE_CHECKING:
    from earshot.config import ColumnMapping, FileDropSource

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".json-lines": "jsonl", ".ndjson": "jsonl"}
_RATING = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(?:/\s*\d+(?:[.,]\d+)?)?\s*(?:stars?)?\s*$", re.IGNORECASE)
_DELIMITERS = (",", ";", "\t")
# What parse counts, worded for the warning ("file x: 2 rows skipped (empty text); ...").
_EMPTY = "row(s) skipped (empty text)"
_BAD_LINE = "line(s) skipped (not a JSON object)"
_BAD_RATING = "rating(s) unreadable (kept without rating)"
_BAD_DATE = "date(s) unreadable (kept without date)"


def file_format(path: Path, forced: str) -> str | None:
    """``csv`` or ``jsonl``: forced by the source, else by extension; ``None`` when unknown."""
    return forced if forced != "auto" else FORMATS.get(path.suffix.lower())


def _candidates(folder: Path, pattern: str) -> list[Path]:
    """Files matching ``pattern``, dotfiles left out: they are uploads in progress and lock files."""
    return sorted(p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith("."))


def _read(path: Path, max_bytes: int) -> tuple[bytes | None, str | None]:
    """A file's bytes, or why it is not loaded this run (too large, unreadable)."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return None, f"{size:,} bytes is over the {max_bytes:,} byte cap"
        return path.read_bytes(), None
    except OSError as exc:
        return None, f"unreadable ({exc.strerror or exc})"


# -- parsing helpers ---------------------------------------------------------------------------------


def _decode(body: bytes) -> tuple[str, str | None]:
    """Text of a file and a note when it was not UTF-8 (Excel on Windows still writes cp1252)."""
    try:
        return body.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace"), "not valid UTF-8, read as Windows-1252"


def _delimiter(header: str) -> str:
    """The delimiter the header uses most: European spreadsheets export ``;`` and tabs are common."""
    return max(_DELIMITERS, key=header.count) if header else ","


def _missing(source_id: str, name: str, wanted: list[str], found: list[str]) -> None:
    missing = [c for c in wanted if c not in found]
    if missing:
        listed = ", ".join(repr(c) for c in missing)
        raise SourceError(
            source_id,
            ErrorKind.MALFORMED,
            f"file {name}: missing column(s) {listed} (found: {', '.join(found) or 'nothing'})",
        )


def _csv_rows(source_id: str, name: str, text: str, mapping: ColumnMapping) -> Iterator[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=_delimiter(text.partition("\n")[0]))
    try:
        if reader.fieldnames is None:  # an empty file: nothing to load, nothing to check
            return
        reader.fieldnames = [h.strip() for h in reader.fieldnames]
        _missing(source_id, name, [c for c in mapping.model_dump().values() if c], reader.fieldnames)
        yield from reader
    except csv.Error as exc:
        raise SourceError(source_id, ErrorKind.MALFORMED, f"file {name}: line {reader.line_num}: {exc}") from None


def _jsonl_rows(
    source_id: str, name: str, text: str, mapping: ColumnMapping, counts: Counter[str]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for line in filter(str.strip, text.splitlines()):
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if isinstance(row, dict):
            rows.append(row)
        else:
            counts[_BAD_LINE] += 1
    if rows:  # a text key no row has is a mapping typo; other keys may be left out, as JSON omits nulls
        _missing(source_id, name, [mapping.text], sorted(set().union(*rows)))
    return rows


def _cell(row: Mapping[str, Any], column: str | None) -> str:
    value = row.get(column) if column else None
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else str(value)


def parse_rating(value: str) -> float | None:
    """Stars as a float: "4", "4.5", "4,5", "4/5", "4 stars"; ``None`` when not a rating."""
    match = _RATING.match(value)
    return float(match.group(1).replace(",", ".")) if match else None


def parse_date(value: str, date_format: str | None) -> datetime | None:
    """ISO 8601 first, then the source's ``date_format``; naive times are taken as UTC."""
    parsers = [datetime.fromisoformat]
    if date_format:
        parsers.append(lambda v: datetime.strptime(v, date_format))
    for parser in parsers:
        try:
            when = parser(value)
        except ValueError:
            continue
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return None


def _row_to_mention(row: Mapping[str, Any], source: FileDropSource, counts: Counter[str]) -> Mention | None:
    columns = source.columns
    text = _cell(row, columns.text)
    if not text:
        counts[_EMPTY] += 1
        return None
    author, raw_date, raw_rating = _cell(row, columns.author), _cell(row, columns.date), _cell(row, columns.rating)
    rating = parse_rating(raw_rating) if raw_rating else None
    published = parse_date(raw_date, source.date_format) if raw_date else None
    counts[_BAD_RATING] += bool(raw_rating and rating is None)
    counts[_BAD_DATE] += bool(raw_date and published is None)
    key = _cell(row, columns.id) or stable_id(text, author, raw_date)
    return make_mention(
        mention_id=stable_id(source.id, key),
        source_id=source.id,
        audience=source.audience.value,
        url=_cell(row, columns.url) or None,
        author=author or None,
        title=_cell(row, columns.title),
        text=text,
        published_at=published,
        kind="review",
        rating=rating,
    )


def _warning(name: str, counts: Counter[str], note: str | None) -> str | None:
    parts = [f"{n} {what}" for what, n in counts.items() if n]
    if note:
        parts.append(note)
    return f"file {name}: " + "; ".join(parts) if parts else None


# -- the listener --------------------------------------------------------------------------------------


class FileDropListener:
    """Loads new and changed files from ``source.folder``; the cursor fingerprints what was loaded."""

    def fetch(self, source: FileDropSource, cursor: Mapping[str, Any] | None, settings: FetchSettings) -> Fetched:
        folder = Path(source.folder)
        if not folder.is_dir():
            raise SourceError(source.id, ErrorKind.MISSING, f"folder {folder} does not exist or is not a folder")
        known = (cursor or {}).get("files") or {}
        payloads: list[Payload] = []
        warnings: list[str] = []
        files: dict[str, dict[str, Any]] = {}
        for path in _candidates(folder, source.pattern):
            name = path.relative_to(folder).as_posix()
            fmt = file_format(path, source.format)
            body, problem = _read(path, settings.max_bytes) if fmt else (None, "unknown format: name it .csv or .jsonl")
            if body is None or fmt is None:
                warnings.append(f"file {name}: {problem}; skipped")
                continue
            files[name] = {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
            if known.get(name, {}).get("sha256") != files[name]["sha256"]:
                payloads.append(Payload(body, {"file": name, **files[name], "format": fmt}))
        return Fetched(payloads, cursor={"files": files}, warnings=warnings)

    def parse(self, source: FileDropSource, payload: Payload) -> Parsed:
        name, fmt = str(payload.meta["file"]), payload.meta["format"]
        text, note = _decode(payload.body)
        counts: Counter[str] = Counter()
        rows: Iterable[dict[str, Any]]
        if fmt == "csv":
            rows = _csv_rows(source.id, name, text, source.columns)
        else:
            rows = _jsonl_rows(source.id, name, text, source.columns, counts)
        mentions = [m for m in (_row_to_mention(row, source, counts) for row in rows) if m is not None]
        skipped = counts[_EMPTY] + counts[_BAD_LINE]
        return Parsed(mentions=mentions, warning=_warning(name, counts, note), skipped=skipped)
