"""CSV and JSONL exports dropped into a watched folder: review sites, support desks, surveys.

A file is loaded when it is new or its content changed (by SHA-256, not mtime, so a copy that
touches a file without changing it loads nothing). Each row's id is the mapped id column or, lacking
one, a hash of its text, author and date: a re-delivered, edited export upserts the rows it shares
with the previous delivery instead of duplicating them.

Only regular files inside the folder are read: a link leading out of it, a device, a pipe or a socket is
skipped with a warning, and nothing is ever read from it. Names are carried as escaped text whatever
their bytes, and messages quote a file's content only as short escaped excerpts.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import os
import re
import stat
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from listeners.base import Fetched, FetchSettings, Parsed, Payload
from listeners.errors import ErrorKind, SourceError
from listeners.json_input import JsonRejected, load_json
from listeners.mention import Mention, make_mention, stable_id
from listeners.text import display_name, excerpt
from listeners.timestamps import as_utc, from_iso

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
_SHOWN_COLUMNS = 8  # a missing-column message lists this many of the columns found, each as a short excerpt
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def file_format(path: Path, forced: str) -> str | None:
    """``csv`` or ``jsonl``: forced by the source, else by extension; ``None`` when unknown."""
    return forced if forced != "auto" else FORMATS.get(path.suffix.lower())


def _candidates(folder: Path, pattern: str) -> list[Path]:
    """Entries matching ``pattern``, dotfiles left out (uploads in progress, lock files), folders too."""
    return sorted(p for p in folder.glob(pattern) if not p.name.startswith(".") and not _is_folder(p))


def _is_folder(path: Path) -> bool:
    with contextlib.suppress(OSError):
        return stat.S_ISDIR(os.lstat(path).st_mode)
    return False


def _opened_path(fd: int) -> Path | None:
    """The path the kernel opened for ``fd`` (Linux), whatever links were swapped in since we checked."""
    try:
        return Path(f"/proc/self/fd/{fd}").readlink()
    except OSError:
        return None


def _read(root: Path, path: Path, max_bytes: int) -> tuple[bytes | None, str | None]:
    """A file's bytes, or why it is not loaded this run: outside the folder, not a regular file, too large,
    unreadable. A pipe is opened without waiting for a writer, and nothing is read from what is refused."""
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # a dangling link, a loop of links
        return None, f"unreadable ({getattr(exc, 'strerror', None) or 'a broken or looping link'})"
    if not real.is_relative_to(root):
        return None, "a link to something outside the folder; only files inside it are read"
    try:
        fd = os.open(real, _OPEN_FLAGS)
    except OSError as exc:
        return None, f"unreadable ({exc.strerror or exc})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, "not a regular file (a device, pipe or socket); only regular files are read"
        opened = _opened_path(fd)
        if opened is not None and not opened.is_relative_to(root):
            return None, "a link to something outside the folder; only files inside it are read"
        if info.st_size > max_bytes:
            return None, f"{info.st_size:,} bytes is over the {max_bytes:,} byte cap"
        body = _read_at_most(fd, max_bytes + 1)
        if len(body) > max_bytes:
            return None, f"more than {max_bytes:,} bytes, over the cap"
        return body, None
    except OSError as exc:
        return None, f"unreadable ({exc.strerror or exc})"
    finally:
        os.close(fd)


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks, size = [], 0
    while size < limit and (chunk := os.read(fd, min(1 << 20, limit - size))):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


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
    """A ``malformed`` error naming the mapped columns the file lacks; what it has is quoted only in short
    escaped excerpts (a header line can be anything: a secret, a megabyte, terminal escapes)."""
    missing = [c for c in wanted if c not in found]
    if missing:
        listed = ", ".join(repr(c) for c in missing)
        shown = ", ".join(excerpt(c, 30) for c in found[:_SHOWN_COLUMNS])
        if len(found) > _SHOWN_COLUMNS:
            shown += f" and {len(found) - _SHOWN_COLUMNS:,} more"
        raise SourceError(
            source_id, ErrorKind.MALFORMED, f"file {name}: missing column(s) {listed} (found: {shown or 'nothing'})"
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
    for line in filter(str.strip, text.split("\n")):  # not splitlines: U+2028 may sit inside a JSON string
        try:
            row = load_json(line)
        except JsonRejected:
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
    when = from_iso(value)
    if when is None and date_format:
        try:
            when = as_utc(datetime.strptime(value, date_format))
        except ValueError:
            return None
    return when


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
    """Loads new and changed files from ``source.folder``; the cursor fingerprints what was loaded.

    At most ``fetch.max_files`` new or changed files, and ``fetch.max_source_bytes`` of them, load per run;
    the rest wait for the next run (they stay out of the cursor), so a flood of files makes progress run by
    run instead of failing the source.
    """

    def fetch(self, source: FileDropSource, cursor: Mapping[str, Any] | None, settings: FetchSettings) -> Fetched:
        settings = settings.begun()
        folder = Path(source.folder)
        if not folder.is_dir():
            raise SourceError(source.id, ErrorKind.MISSING, f"folder {folder} does not exist or is not a folder")
        root = folder.resolve()
        known = (cursor or {}).get("files") or {}
        payloads: list[Payload] = []
        warnings: list[str] = []
        files: dict[str, dict[str, Any]] = {}
        waiting, budget = 0, settings.max_source_bytes
        for path in _candidates(folder, source.pattern):
            settings.budget.check_time(source.id, f"folder {folder}")
            name = display_name(path.relative_to(folder).as_posix())
            fmt = file_format(path, source.format)
            body, problem = (None, "unknown format: name it .csv or .jsonl") if fmt is None else (None, None)
            if fmt is not None:
                body, problem = _read(root, path, settings.max_bytes)
            if body is None or fmt is None:
                warnings.append(f"file {name}: {problem}; skipped")
                continue
            fingerprint = {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
            if known.get(name, {}).get("sha256") == fingerprint["sha256"]:
                files[name] = fingerprint
            elif len(payloads) < settings.max_files and len(body) <= budget:
                files[name], budget = fingerprint, budget - len(body)
                payloads.append(Payload(body, {"file": name, **fingerprint, "format": fmt}))
            else:
                waiting += 1
        if waiting:
            limits = f"fetch.max_files {settings.max_files:,}, fetch.max_source_bytes {settings.max_source_bytes:,}"
            warnings.append(f"{waiting:,} new or changed file(s) wait for the next run ({limits})")
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
