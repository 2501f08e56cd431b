"""Every SQL example in the analysts' guide and the README runs against the demo's warehouse and returns rows:
what an analyst copies from the docs works."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from warehouse.analyst import open_snapshot

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parent.parent
DOCS = ("docs/analysts.md", "README.md")


def sql_examples(text: str) -> list[str]:
    """Statements of every ```sql block, and every `earshot sql "..."` command in the shell blocks."""
    statements = []
    for block in re.findall(r"```sql\n(.*?)```", text, re.S):
        for statement in re.split(r";\s*\n", block):
            code = [line for line in statement.splitlines() if line.strip() and not line.strip().startswith("--")]
            if code:
                statements.append(statement.strip().rstrip(";"))
    statements += re.findall(r'earshot sql (?:--csv )?"([^"]+)"', text)
    return statements


EXAMPLES = [(doc, sql) for doc in DOCS for sql in sql_examples((REPO / doc).read_text(encoding="utf-8"))]


def test_the_docs_have_sql_examples_to_check() -> None:
    assert len([e for e in EXAMPLES if e[0] == "docs/analysts.md"]) >= 6  # fts, vss, two examples, the CLI's
    assert len([e for e in EXAMPLES if e[0] == "README.md"]) >= 2
    assert sql_examples('```sql\n-- a\nSELECT 1;\n\nSELECT 2\n```\nearshot sql --csv "SELECT 3"') == [
        "-- a\nSELECT 1",
        "SELECT 2",
        "SELECT 3",
    ]


@pytest.mark.parametrize(("doc", "sql"), EXAMPLES, ids=[f"{d}:{n}" for n, (d, _) in enumerate(EXAMPLES)])
def test_every_sql_example_returns_rows_on_the_demo(demo: tuple, doc: str, sql: str) -> None:
    home = demo[0]
    con = open_snapshot(home / "analyst.duckdb")
    try:
        rows = con.execute(sql).fetchall()
    finally:
        con.close()
    assert rows, f"{doc}: no rows from\n{sql}"
