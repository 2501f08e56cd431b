"""Every CSV earshot writes is safe to open in a spreadsheet: reports/safe_csv.py, and `earshot sql --csv`
on a real analyst snapshot full of hostile scraped text."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reports.safe_csv import csv_text, spreadsheet_safe
from warehouse.analyst import refresh_snapshot
from warehouse.connection import writer

HOSTILE = [
    '=HYPERLINK("http://evil.example","click me")',
    "=cmd|' /C calc'!A0",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
    "  =1+1",
    "\uff1dSUM(A1:A2)",  # full-width equals sign
    "=",
    "-",
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d")


def _dangerous(cell: str) -> bool:
    """What a spreadsheet could run: a cell starting with a formula character, after any blanks."""
    return cell.startswith(("\t", "\r", "\n")) or cell.lstrip()[:1] in FORMULA_START


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_defused_and_otherwise_kept(text: str) -> None:
    safe = spreadsheet_safe(text)
    assert safe == "'" + text and not _dangerous(safe)  # kept verbatim behind the apostrophe
    flat = spreadsheet_safe(text, one_line=True)
    assert flat == "'" + " ".join(text.split()) and not _dangerous(flat)


@pytest.mark.parametrize("text", ["plain", "a = b", "e-mail me", "", "50% off", "'quoted already", "x\n=1"])
def test_harmless_text_is_untouched(text: str) -> None:
    assert spreadsheet_safe(text) == text


def test_numbers_dates_and_nulls_stay_what_they_are() -> None:
    at = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    text = csv_text(["n", "x", "at", "none", "flag", "text"], [[-3, -0.5, at, None, True, "-3"]])
    assert text == "n,x,at,none,flag,text\r\n-3,-0.5,2026-03-02T07:00:00+00:00,,True,'-3\r\n"
    assert csv_text(["a"], [["é"]], bom=True).startswith("\ufeffa\r\n")


def test_every_cell_of_a_hostile_table_reads_back_safe() -> None:
    rows = [[text, text, 1] for text in HOSTILE]
    read = list(csv.reader(io.StringIO(csv_text(["=title", "text", "n"], rows), newline="")))
    assert read[0] == ["'=title", "text", "n"]
    assert all(not _dangerous(cell) for row in read for cell in row)
    assert [row[0] for row in read[1:]] == ["'" + text for text in HOSTILE]


def test_earshot_sql_csv_defuses_scraped_text(tmp_path: Path) -> None:
    db = tmp_path / "earshot.duckdb"
    with writer(db) as con:
        for n, text in enumerate(HOSTILE):
            con.execute(
                "INSERT INTO mentions (mention_id, source_id, audience, title, text, content_hash, first_seen_run, "
                "last_seen_run, first_seen_at, last_seen_at, score) "
                "VALUES (?, 'src', 'customers', ?, ?, ?, 'r1', 'r1', now(), now(), ?)",
                [f"m{n:02d}", text, text, f"h{n}", -n],
            )
    refresh_snapshot(db, model="none")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "earshot.cli",
            "sql",
            "--csv",
            "SELECT mention_id, title, text, score FROM mentions ORDER BY mention_id",
        ],
        env={**os.environ, "EARSHOT_HOME": str(tmp_path), "EARSHOT_WAREHOUSE": str(db)},
        capture_output=True,
        check=False,
        timeout=120,
    )  # fmt: skip  (bytes: text mode would turn a CR inside a cell into a newline)
    assert proc.returncode == 0, proc.stderr.decode()
    read = list(csv.reader(io.StringIO(proc.stdout.decode("utf-8"), newline="")))
    assert read[0] == ["mention_id", "title", "text", "score"]
    assert len(read) == len(HOSTILE) + 1
    assert [cell for row in read[1:] for cell in row[1:3] if _dangerous(cell)] == []
    assert [row[1] for row in read[1:]] == ["'" + text for text in HOSTILE]  # literal, apart from the apostrophe
    assert [row[3] for row in read[1:]] == [str(-n) for n in range(len(HOSTILE))]  # numbers stay numbers
