"""The README's main job, end to end: `earshot demo` serves the demo market on loopback and runs the
three DAGs through real Airflow; the report must contain the planted themes. Re-running is safe."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from earshot.demo import MARKET_PATH, PLANTED_THEMES
from tests.conftest import latest_themes
from warehouse.connection import reader

pytestmark = pytest.mark.e2e


def planted_key(keywords: list[str]) -> tuple[str | None, int]:
    """The planted theme whose words best match ``keywords`` (words inside phrases count)."""
    words = {w for k in keywords for w in [k.lower(), *k.lower().split()]}
    scores = {key: sum(p in words for p in planted) for key, planted in PLANTED_THEMES.items()}
    best = max(scores, key=scores.__getitem__)
    return (best, scores[best]) if scores[best] >= 2 else (None, scores[best])


def test_every_planted_theme_is_found_once(demo: tuple) -> None:
    _, _, themes, _ = demo
    matches = [planted_key(keywords)[0] for _, _, keywords, _ in themes]
    assert sorted(m for m in matches if m) == sorted(PLANTED_THEMES), [(t[1], t[2]) for t in themes]
    assert all(volume >= 30 for *_, volume in themes)


def test_the_report_shows_the_planted_themes_with_linked_quotes(demo: tuple) -> None:
    home, first_out, themes, _ = demo
    report = Path(re.search(r"report: (\S+\.html)", first_out).group(1))  # type: ignore[union-attr]
    assert report.is_relative_to(home / "reports")
    page = report.read_text()
    for _, label, keywords, _volume in themes:
        assert html.escape(label) in page
        assert all(html.escape(k) in page for k in keywords[:3])
    assert page.count("<blockquote") >= 3 * len(themes)
    assert len(re.findall(r'href="https://[^"]+\.example/', page)) >= 3 * len(themes)
    markdown = report.with_suffix(".md").read_text()
    assert all(label.split(" · ")[0].split()[0] in markdown for _, label, _, _ in themes)


def test_demo_prints_where_the_report_is_and_a_summary(demo: tuple) -> None:
    _, first_out, themes, _ = demo
    assert "airflow: earshot_listen success" in first_out
    assert "airflow: earshot_themes success" in first_out
    assert "airflow: earshot_report success" in first_out
    assert "sources: 8 ok, 1 warning" in first_out
    assert "  warning: mainstreet-owners: malformed feed, loaded 42 entries anyway" in first_out
    assert f"themes: {len(themes)}" in first_out


def test_rerunning_is_safe_and_stable(demo: tuple) -> None:
    home, _, first_themes, second_out = demo
    db = home / "earshot.duckdb"
    with reader(db) as con:
        mentions = con.execute("SELECT count(*), count(DISTINCT mention_id) FROM mentions").fetchone()
        second_fetch = con.execute(
            """
            SELECT status, count(*) FROM fetches
            WHERE run_id = (SELECT run_id FROM runs WHERE stage = 'listen' ORDER BY finished_at DESC LIMIT 1)
            GROUP BY 1
            """
        ).fetchall()
        reports = con.execute("SELECT count(*) FROM runs WHERE stage = 'report' AND status = 'success'").fetchone()
    assert mentions == (352, 352)
    assert second_fetch == [("not_modified", 9)]  # conditional GET: nothing re-downloaded
    assert "sources: 9 not_modified" in second_out
    assert [(t[0], t[1], t[3]) for t in latest_themes(db)] == [(t[0], t[1], t[3]) for t in first_themes]
    assert reports == (2,)
    assert len([p for p in (home / "reports").iterdir() if p.is_dir()]) == 2


def test_quotes_of_a_theme_are_not_copies_of_each_other(demo: tuple) -> None:
    import numpy as np

    home = demo[0]
    with reader(home / "earshot.duckdb") as con:
        rows = con.execute(
            """
            SELECT q.theme_id, e.vector FROM theme_quotes q JOIN mentions m USING (mention_id)
            JOIN embeddings e USING (content_hash)
            WHERE q.run_id = (SELECT run_id FROM runs WHERE stage = 'themes' ORDER BY finished_at DESC LIMIT 1)
            ORDER BY q.theme_id, q.rank
            """
        ).fetchall()
    by_theme: dict[str, list] = {}
    for theme_id, vector in rows:
        by_theme.setdefault(theme_id, []).append(vector)
    for theme_id, vectors in by_theme.items():
        v = np.asarray(vectors)
        pairs = v @ v.T - np.eye(len(v)) * 2
        assert len(v) >= 3 and pairs.max() < 0.80, (theme_id, pairs.max())


def test_themes_carry_the_signals_marketing_acts_on(demo: tuple) -> None:
    _, first_out, themes, _ = demo
    page = Path(re.search(r"report: (\S+\.html)", first_out).group(1)).read_text()  # type: ignore[union-attr]
    cards = page.split('<article class="theme"')[1:]
    assert len(cards) == len(themes) and all('class="signals"' in card for card in cards)
    downtime = next(card for card in cards if "Downtime" in card.split("</h3>")[0])
    share = re.search(r"Pain <strong>(\d+)%", downtime)
    assert share and int(share.group(1)) >= 50  # small businesses offline: pain, loud and clear


def test_doctor_checks_the_demos_own_warehouse_and_writes_nothing(demo: tuple) -> None:
    home = demo[0]
    db = home / "earshot.duckdb"
    before = db.read_bytes()
    env = {**os.environ, "EARSHOT_HOME": str(home), "EARSHOT_CONFIG": str(MARKET_PATH),
           "EARSHOT_DEMO_URL": "http://127.0.0.1:9"}  # fmt: skip
    proc = subprocess.run([sys.executable, "-m", "earshot.cli", "doctor", "--offline", "--quick"],
                          env=env, capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "✓ warehouse" in proc.stdout and "schema version 9" in proc.stdout and "Traceback" not in proc.stderr
    assert db.read_bytes() == before and not Path(f"{db}.wal").exists()
