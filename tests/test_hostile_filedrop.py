"""Hostile drop folders: only regular files inside the folder are read, any name is carried safely, and
messages quote a file only in short escaped excerpts."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from earshot.config import ConfigError, FileDropSource, parse_market
from listeners.base import Fetched, FetchSettings
from listeners.errors import ErrorKind, SourceError
from listeners.filedrop import FileDropListener

SECRET = "s3cret-env-value-7f3a"
CSV = b"review\nWorks well\n"
LISTENER = FileDropListener()


def settings(**fields: Any) -> FetchSettings:
    return FetchSettings(**({"timeout": 1.0, "max_bytes": 100_000, "user_agent": "t"} | fields))


def source(folder: Path, **overrides: Any) -> FileDropSource:
    fields = {"id": "drop", "kind": "filedrop", "audience": "customers", "folder": str(folder),
              "columns": {"text": "review"}}  # fmt: skip
    return FileDropSource(**(fields | overrides))


def fetch(folder: Path, cursor: dict | None = None, **fields: Any) -> Fetched:
    return LISTENER.fetch(source(folder), cursor, settings(**fields))


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "ok.csv").write_bytes(CSV)
    return folder


def test_links_out_of_the_folder_are_never_read(drop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EARSHOT_TEST_SECRET", SECRET)
    outside = tmp_path / "outside.csv"
    outside.write_bytes(b"review\n" + SECRET.encode() + b"\n")
    (drop / "environ.csv").symlink_to("/proc/self/environ")
    (drop / "passwd.csv").symlink_to("/etc/passwd")
    (drop / "outside.csv").symlink_to(outside)
    (drop / "up.csv").symlink_to("../outside.csv")
    (drop / "dangling.csv").symlink_to(tmp_path / "nowhere.csv")
    (drop / "inside.csv").symlink_to("ok.csv")  # a link that stays inside is fine
    fetched = fetch(drop)
    assert sorted(p.meta["file"] for p in fetched.payloads) == ["inside.csv", "ok.csv"]
    assert all(SECRET.encode() not in p.body and b"root:" not in p.body for p in fetched.payloads)
    outside_words = "a link to something outside the folder; only files inside it are read; skipped"
    assert sorted(fetched.warnings) == [
        "file dangling.csv: unreadable (No such file or directory); skipped",
        f"file environ.csv: {outside_words}",
        f"file outside.csv: {outside_words}",
        f"file passwd.csv: {outside_words}",
        f"file up.csv: {outside_words}",
    ]
    assert SECRET not in repr(fetched)


def test_a_linked_folder_does_not_lead_out(drop: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "private.csv").write_bytes(b"review\nprivate\n")
    (drop / "sub").symlink_to(elsewhere, target_is_directory=True)
    fetched = LISTENER.fetch(source(drop, pattern="sub/*"), None, settings())
    assert fetched.payloads == [] and fetched.warnings == [
        "file sub/private.csv: a link to something outside the folder; only files inside it are read; skipped"
    ]


def test_a_fifo_is_skipped_without_waiting_for_a_writer(drop: Path) -> None:
    os.mkfifo(drop / "pipe.csv")
    started = time.monotonic()
    fetched = fetch(drop)
    assert time.monotonic() - started < 1
    assert [p.meta["file"] for p in fetched.payloads] == ["ok.csv"]
    assert fetched.warnings == [
        "file pipe.csv: not a regular file (a device, pipe or socket); only regular files are read; skipped"
    ]


def test_a_device_linked_in_is_skipped(drop: Path) -> None:
    (drop / "zero.csv").symlink_to("/dev/zero")
    fetched = fetch(drop)
    assert [p.meta["file"] for p in fetched.payloads] == ["ok.csv"] and "zero.csv" in fetched.warnings[0]


@pytest.mark.parametrize("pattern", ["../*.csv", "sub/../../*", "/etc/*", "~/exports/*"])
def test_a_pattern_that_leaves_the_folder_is_a_configuration_error(pattern: str, tmp_path: Path) -> None:
    market = {
        "company": {"name": "T"}, "offer": {"summary": "o"},
        "audiences": {"customers": {}, "customers_customers": {}, "influencers": {}},
        "sources": [{"id": "d", "kind": "filedrop", "audience": "customers", "folder": "x", "pattern": pattern,
                     "columns": {"text": "t"}}],
    }  # fmt: skip
    with pytest.raises(ConfigError, match="must stay inside the folder"):
        parse_market(market, tmp_path / "market.yaml")


def test_names_that_are_not_utf8_are_carried_escaped_and_key_the_cursor(drop: Path) -> None:
    odd = os.fsdecode(b"caf\xe9 \x1b[31mred\n.csv")
    (drop / odd).write_bytes(CSV)
    first = fetch(drop)
    names = sorted(p.meta["file"] for p in first.payloads)
    assert names == ["caf\\xe9 \\x1b[31mred\\n.csv", "ok.csv"]
    assert all(name.encode("utf-8") for name in names)  # valid text: no lone surrogates
    assert first.cursor is not None and sorted(first.cursor["files"]) == names
    assert fetch(drop, first.cursor).payloads == []  # the same name next run: nothing new


def test_a_missing_column_message_quotes_the_header_only_in_short_escaped_excerpts(drop: Path) -> None:
    header = ",".join([f"{SECRET}{'x' * 5000}", "\x1b]0;pwned\x07", *[f"c{i}" for i in range(20_000)]])
    (drop / "wide.csv").write_bytes(header.encode() + b"\n1,2\n")
    fetched = fetch(drop, max_bytes=1_000_000)
    payload = next(p for p in fetched.payloads if p.meta["file"] == "wide.csv")
    with pytest.raises(SourceError) as caught:
        LISTENER.parse(source(drop), payload)
    message = str(caught.value)
    assert caught.value.kind is ErrorKind.MALFORMED and len(message) < 500
    assert "\x1b" not in message and "\\x1b]0;pwned\\x07" in message and "and 19,994 more" in message
    assert "x" * 100 not in message


def test_a_flood_of_files_loads_a_bounded_batch_per_run(drop: Path) -> None:
    for i in range(5):
        (drop / f"batch{i}.csv").write_bytes(CSV.replace(b"Works", f"Row {i}".encode()))
    first = fetch(drop, max_files=2)
    assert [p.meta["file"] for p in first.payloads] == ["batch0.csv", "batch1.csv"]
    assert first.warnings == [
        "4 new or changed file(s) wait for the next run (fetch.max_files 2, fetch.max_source_bytes 100,000,000)"
    ]
    second = fetch(drop, first.cursor, max_files=2)
    assert [p.meta["file"] for p in second.payloads] == ["batch2.csv", "batch3.csv"]
    third = fetch(drop, second.cursor, max_files=2, max_source_bytes=len(CSV) + 2)  # one file's worth of bytes
    assert [p.meta["file"] for p in third.payloads] == ["batch4.csv"] and "1 new or changed" in third.warnings[0]
    assert fetch(drop, third.cursor, max_files=2).payloads[0].meta["file"] == "ok.csv"


def test_a_folder_too_big_to_read_in_time_fails_with_timeout(drop: Path) -> None:
    """The clock advances 0.3 s each time it is read: the 1 s deadline passes a few files in."""
    for i in range(50):
        (drop / f"f{i:02}.csv").write_bytes(CSV)
    ticks = iter(range(1000))
    begun = settings(deadline=1.0).begun(clock=lambda: next(ticks) * 0.3)
    with pytest.raises(SourceError) as caught:
        LISTENER.fetch(source(drop), None, begun)
    assert caught.value.kind is ErrorKind.TIMEOUT and "fetch.deadline_seconds" in str(caught.value)
    assert next(ticks) < 10  # stopped a few files in, not after all fifty
