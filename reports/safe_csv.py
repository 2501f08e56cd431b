"""The one CSV writer earshot uses: every file it writes opens safely in a spreadsheet.

Scraped text is hostile: a cell such as ``=HYPERLINK("http://evil.example","click")``, ``=cmd|' /C calc'!A0``
or ``@SUM(A1:A9)`` is run as a formula by Excel, LibreOffice and Google Sheets (CSV injection). A text cell
that a spreadsheet could read as a formula (first non-blank character ``=``, ``+``, ``-``, ``@`` or their
full-width forms, or a leading tab or carriage return) gets a leading apostrophe, which spreadsheets show
as text and do not display. Numbers, dates and empty cells are written as they are, so a negative figure
stays a number. RFC 4180: comma-separated, quoted where needed, CRLF line ends.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, TextIO

FORMULA_START = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
"""First characters a spreadsheet may read as the start of a formula (ASCII and full-width)."""
CONTROL_START = ("\t", "\r", "\n")
"""Leading characters some spreadsheets strip before deciding, so a formula could hide behind them."""


def spreadsheet_safe(value: str, *, one_line: bool = False) -> str:
    """``value`` as text no spreadsheet runs; ``one_line`` also folds runs of whitespace into one space
    (CRM imports want one line per record)."""
    text = " ".join(value.split()) if one_line else value
    if text.startswith(CONTROL_START) or text.lstrip()[:1] in FORMULA_START:
        return "'" + text
    return text


def cell(value: Any, *, one_line: bool = False) -> Any:
    """One cell: text made safe, dates in ISO 8601, ``None`` empty, numbers and booleans as they are."""
    if value is None:
        return ""
    if isinstance(value, str):
        return spreadsheet_safe(value, one_line=one_line)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bool | int | float):
        return value
    return spreadsheet_safe(str(value), one_line=one_line)


def write_csv(out: TextIO, header: Sequence[str], rows: Iterable[Sequence[Any]], *, one_line: bool = False) -> int:
    """Write ``header`` and ``rows`` to ``out``; return how many rows were written."""
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([cell(name, one_line=one_line) for name in header])
    count = 0
    for row in rows:
        writer.writerow([cell(value, one_line=one_line) for value in row])
        count += 1
    return count


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]], *, one_line: bool = False, bom: bool = False) -> str:
    """The CSV as a string; ``bom`` prefixes UTF-8's byte-order mark so spreadsheets read accents right."""
    buffer = io.StringIO()
    write_csv(buffer, header, rows, one_line=one_line)
    return ("\ufeff" if bom else "") + buffer.getvalue()
