"""File-drop listener over temporary folders: which files load, how rows map, what is skipped and said."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from earshot.config import FileDropSource
from listeners.base import Fetched, FetchSettings, Parsed, Payload
from listeners.errors import ErrorKind, SourceError
from listeners.filedrop import FileDropListener, parse_date, parse_rating
from listeners.mention import Mention, stable_id

SETTINGS = FetchSettings(timeout=2.0, max_bytes=100_000, user_agent="earshot-test/1.0")
COLUMNS = {"text": "review", "rating": "stars", "date": "date", "author": "name"}
LISTENER = FileDropListener()


def make_source(folder: Path, **overrides: Any) -> FileDropSource:
    fields = {"kind": "filedrop", "id": "g2", "audience": "customers", "folder": str(folder), "columns": COLUMNS}
    return FileDropSource(**(fields | overrides))


def fetch(source: FileDropSource, cursor: dict[str, Any] | None = None) -> Fetched:
    return LISTENER.fetch(source, cursor, SETTINGS)


def load(folder: Path, name: str, content: str | bytes, **overrides: Any) -> Parsed:
    """Drop one file in ``folder`` and parse what the fetch of it brings back."""
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    source = make_source(folder, **overrides)
    (payload,) = [p for p in fetch(source).payloads if p.meta["file"] == name]
    return LISTENER.parse(source, payload)


def only(parsed: Parsed) -> Mention:
    (mention,) = parsed.mentions
    return mention


CSV = "review,stars,date,name\nGreat onboarding,5,2026-11-02,Ana\nExport is slow,2,2026-11-03,Ben\n"


def test_new_changed_unchanged_and_removed_files(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(CSV)
    (tmp_path / "b.jsonl").write_text('{"review": "Love it"}\n')
    source = make_source(tmp_path)

    first = fetch(source)
    assert [p.meta["file"] for p in first.payloads] == ["a.csv", "b.jsonl"]
    assert first.payloads[0].meta["format"] == "csv" and first.payloads[1].meta["format"] == "jsonl"
    assert first.payloads[0].meta["size"] == len(CSV) and first.cursor is not None
    assert first.cursor["files"]["a.csv"] == {"sha256": first.payloads[0].meta["sha256"], "size": len(CSV)}

    assert fetch(source, first.cursor).payloads == []  # unchanged: nothing to load
    (tmp_path / "a.csv").write_text(CSV)  # touched, same bytes
    assert fetch(source, first.cursor).payloads == []

    (tmp_path / "a.csv").write_text(CSV + "New row,4,2026-11-04,Cy\n")
    (tmp_path / "b.jsonl").unlink()
    third = fetch(source, first.cursor)
    assert [p.meta["file"] for p in third.payloads] == ["a.csv"]
    assert third.cursor is not None and list(third.cursor["files"]) == ["a.csv"]  # b.jsonl forgotten
    assert third.cursor["files"]["a.csv"]["sha256"] != first.cursor["files"]["a.csv"]["sha256"]


def test_pattern_subfolders_and_dotfiles(tmp_path: Path) -> None:
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "nov.csv").write_text(CSV)
    (tmp_path / "exports" / ".~lock.nov.csv").write_text("lock")
    (tmp_path / "notes.csv").write_text(CSV)
    fetched = fetch(make_source(tmp_path, pattern="exports/*"))
    assert [p.meta["file"] for p in fetched.payloads] == ["exports/nov.csv"]


def test_missing_folder_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        fetch(make_source(tmp_path / "nowhere"))
    assert caught.value.kind is ErrorKind.MISSING
    assert str(caught.value).startswith("source 'g2': ") and str(tmp_path / "nowhere") in str(caught.value)


def test_too_large_and_unknown_files_are_skipped_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "huge.csv").write_text("review\n" + "x" * 200_000)
    (tmp_path / "report.xlsx").write_bytes(b"PK\x03\x04")
    (tmp_path / "ok.csv").write_text(CSV)
    fetched = fetch(make_source(tmp_path))
    assert [p.meta["file"] for p in fetched.payloads] == ["ok.csv"]
    assert fetched.cursor is not None and list(fetched.cursor["files"]) == ["ok.csv"]  # retried next run
    assert fetched.warnings == [
        "file huge.csv: 200,007 bytes is over the 100,000 byte cap; skipped",
        "file report.xlsx: unknown format: name it .csv or .jsonl; skipped",
    ]


def test_forced_format_ignores_the_extension(tmp_path: Path) -> None:
    parsed = load(tmp_path, "export.txt", '{"review": "Solid"}\n', format="jsonl")
    assert only(parsed).text == "Solid"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("body,stars,date,name", "file x.csv: missing column(s) 'review' (found: body, stars, date, name)"),
        ("review,rating", "file x.csv: missing column(s) 'stars', 'date', 'name' (found: review, rating)"),
        ("", None),  # an empty file: nothing to load, nothing to complain about
    ],
)
def test_csv_missing_columns(tmp_path: Path, header: str, message: str | None) -> None:
    if message is None:
        assert load(tmp_path, "x.csv", header).mentions == []
        return
    with pytest.raises(SourceError) as caught:
        load(tmp_path, "x.csv", header + "\nsome,values\n")
    assert caught.value.kind is ErrorKind.MALFORMED and str(caught.value).endswith(message)


def test_jsonl_bad_and_blank_lines(tmp_path: Path) -> None:
    lines = ['{"review": "Fast support", "stars": 5}', "", "   ", '{"review": "cut of', "[1, 2]", '{"review": ""}']
    parsed = load(tmp_path, "x.jsonl", "\n".join(lines) + "\n")
    assert [(m.text, m.rating) for m in parsed.mentions] == [("Fast support", 5.0)]
    assert parsed.skipped == 3
    assert parsed.warning == "file x.jsonl: 2 line(s) skipped (not a JSON object); 1 row(s) skipped (empty text)"


def test_jsonl_text_key_in_no_row_is_a_missing_column_but_other_keys_may_be_left_out(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"missing column\(s\) 'review' \(found: body, stars\)"):
        load(tmp_path, "x.jsonl", '{"body": "hi", "stars": 4}\n')
    mention = only(load(tmp_path, "y.jsonl", '{"review": "hi", "stars": 4.5}\n'))  # no date, no name: fine
    assert (mention.text, mention.rating, mention.author, mention.published_at) == ("hi", 4.5, None, None)


def test_cp1252_file_is_read_and_flagged(tmp_path: Path) -> None:
    parsed = load(tmp_path, "x.csv", "review,name\nCafé – très bien,Zoë\n".encode("cp1252"), columns={"text": "review"})
    assert only(parsed).text == "Café – très bien"
    assert parsed.warning == "file x.csv: not valid UTF-8, read as Windows-1252"


def test_utf8_bom_semicolons_quotes_and_padded_headers(tmp_path: Path) -> None:
    content = '\ufeffreview ; stars;date;name\n"Slow; but, fine\nsecond line";4,5;;Ana\n'
    mention = only(load(tmp_path, "x.csv", content.encode()))
    assert (mention.text, mention.rating, mention.author) == ("Slow; but, fine\nsecond line", 4.5, "Ana")


RATINGS = [
    ("4", 4.0), ("4.5", 4.5), ("4,5", 4.5), ("4/5", 4.0), (" 3 / 5 ", 3.0), ("5 stars", 5.0), ("1 Star", 1.0),
    ("great", None), ("4/5/6", None), ("-1", None),
]  # fmt: skip


@pytest.mark.parametrize(("value", "expected"), RATINGS)
def test_parse_rating(value: str, expected: float | None) -> None:
    assert parse_rating(value) == expected


@pytest.mark.parametrize(
    ("value", "date_format", "expected"),
    [
        ("2026-11-02T10:30:00Z", None, datetime(2026, 11, 2, 10, 30, tzinfo=UTC)),
        ("2026-11-02T10:30:00+02:00", None, datetime(2026, 11, 2, 8, 30, tzinfo=UTC)),
        ("2026-11-02 10:30", None, datetime(2026, 11, 2, 10, 30, tzinfo=UTC)),  # naive: taken as UTC
        ("2026-11-02", "%d/%m/%Y", datetime(2026, 11, 2, tzinfo=UTC)),  # ISO wins over the format
        ("02/11/2026", "%d/%m/%Y", datetime(2026, 11, 2, tzinfo=UTC)),
        ("Nov 2, 2026 4:05 PM -0500", "%b %d, %Y %I:%M %p %z", datetime(2026, 11, 2, 21, 5, tzinfo=UTC)),
        ("02/11/2026", None, None),
        ("last Tuesday", "%d/%m/%Y", None),
    ],
)
def test_parse_date(value: str, date_format: str | None, expected: datetime | None) -> None:
    assert parse_date(value, date_format) == expected


def test_rows_map_to_reviews_and_odd_values_are_counted(tmp_path: Path) -> None:
    content = (
        "id,review,stars,date,name,title,link\n"
        "r1,Great onboarding,4/5,02/11/2026,Ana,Love it,https://g2.example/r1\n"
        "r2,Export is slow,meh,someday,,,\n"
        "r3,,5,2026-11-03,Ben,,\n"
    )
    columns = COLUMNS | {"id": "id", "title": "title", "url": "link"}
    parsed = load(tmp_path, "x.csv", content, columns=columns, date_format="%d/%m/%Y")
    first, second = parsed.mentions
    assert first.mention_id == stable_id("g2", "r1") and first.kind == "review"
    assert (first.title, first.text, first.rating, first.author) == ("Love it", "Great onboarding", 4.0, "Ana")
    assert (first.url, first.published_at) == ("https://g2.example/r1", datetime(2026, 11, 2, tzinfo=UTC))
    assert (second.rating, second.published_at, second.author, second.url) == (None, None, None, None)
    assert second.mention_id == stable_id("g2", "r2") and second.title == ""
    assert parsed.skipped == 1 and not any(m.influencer for m in parsed.mentions)
    assert parsed.warning == (
        "file x.csv: 1 rating(s) unreadable (kept without rating); 1 date(s) unreadable (kept without date); "
        "1 row(s) skipped (empty text)"
    )


def test_ids_are_stable_across_a_redelivered_edited_file(tmp_path: Path) -> None:
    source = make_source(tmp_path)
    (tmp_path / "export.csv").write_text(CSV)
    first = fetch(source)
    before = {m.text: m.mention_id for m in LISTENER.parse(source, first.payloads[0]).mentions}

    edited = CSV.replace("Export is slow", "Export is slow since v5") + "Nice API,4,2026-11-05,Cy\n"
    (tmp_path / "export.csv").write_text(edited)
    second = fetch(source, first.cursor)
    after = {m.text: m.mention_id for m in LISTENER.parse(source, second.payloads[0]).mentions}
    assert after["Great onboarding"] == before["Great onboarding"]  # untouched row: same id, upserts
    assert after["Export is slow since v5"] != before["Export is slow"]  # an edited row is a new item
    assert before["Great onboarding"] == stable_id("g2", stable_id("Great onboarding", "Ana", "2026-11-02"))


def test_parse_of_landed_payloads_equals_what_the_fetch_caller_gets(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(CSV)
    (tmp_path / "b.jsonl").write_text('{"review": "Love it", "stars": "4", "date": "2026-11-01T09:00:00Z"}\n')
    source = make_source(tmp_path)
    fetched = fetch(source)
    live = [LISTENER.parse(source, p) for p in fetched.payloads]
    landed = [Payload(bytes(p.body), json.loads(json.dumps(p.meta))) for p in fetched.payloads]
    assert [LISTENER.parse(source, p) for p in landed] == live
    assert sum(len(p.mentions) for p in live) == 3
