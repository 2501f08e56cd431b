"""The analysts' snapshot (fts + vss indexes, readable while the pipeline writes), Parquet export and the
data dictionary, on a real DuckDB file."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from warehouse.analyst import open_snapshot, refresh_snapshot
from warehouse.connection import writer
from warehouse.dictionary import data_dictionary, undocumented
from warehouse.export import export_parquet

TEXTS = {
    "m1": ("Ransomware hit our clinic", "Attackers encrypted the server and the backups with ransomware."),
    "m2": ("Insurance renewal", "Our cyber insurance renewal asks about MFA on every account."),
    "m3": ("Mailbox restore", "We lost a Microsoft 365 mailbox and the retention had run out."),
}
VECTORS = {"m1": [1.0, 0.0, 0.0], "m2": [0.0, 1.0, 0.0], "m3": [0.6, 0.0, 0.8]}


def _fill(db: Path) -> None:
    with writer(db) as con:
        for mention_id, (title, text) in TEXTS.items():
            con.execute(
                """
                INSERT INTO mentions (mention_id, source_id, audience, title, text, content_hash, first_seen_run,
                    last_seen_run, first_seen_at, last_seen_at)
                VALUES (?, 'src', 'customers', ?, ?, ?, 'r1', 'r1', now(), now())
                """,
                [mention_id, title, text, f"h_{mention_id}"],
            )
            con.execute(
                "INSERT INTO embeddings VALUES (?, 'test-model', 3, ?, now())", [f"h_{mention_id}", VECTORS[mention_id]]
            )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "earshot.duckdb"
    _fill(path)
    return path


def test_snapshot_answers_full_text_and_similarity_search(db: Path) -> None:
    summary = refresh_snapshot(db, model="test-model")
    assert (summary.mentions, summary.vectors) == (3, 3)
    con = open_snapshot(summary.path)
    try:
        ranked = con.execute(
            """
            SELECT mention_id FROM (
                SELECT mention_id, fts_main_mentions.match_bm25(mention_id, 'encrypted backups') AS score FROM mentions
            ) WHERE score IS NOT NULL ORDER BY score DESC
            """
        ).fetchall()
        assert ranked == [("m1",)]
        query = (
            "SELECT mention_id FROM mention_vectors "
            "ORDER BY array_cosine_distance(vector, [0.5, 0.0, 0.9]::FLOAT[3]) LIMIT 2"
        )
        assert [r[0] for r in con.execute(query).fetchall()] == ["m3", "m1"]
        plan = "\n".join(str(r) for r in con.execute("EXPLAIN " + query).fetchall())
        assert "HNSW" in plan.upper()
        with pytest.raises(duckdb.Error):  # read-only: analysts cannot damage it
            con.execute("DELETE FROM mentions")
    finally:
        con.close()


def test_snapshot_is_readable_while_the_pipeline_holds_the_warehouse(db: Path) -> None:
    first = refresh_snapshot(db, model="test-model")
    analyst = open_snapshot(first.path)
    try:
        with writer(db) as con:  # the pipeline writes...
            con.execute("DELETE FROM mentions WHERE mention_id = 'm2'")
            # ...while the analyst keeps querying the snapshot
            assert analyst.execute("SELECT count(*) FROM mentions").fetchone() == (3,)
        refreshed = refresh_snapshot(db, model="test-model")  # swapped in atomically
        assert analyst.execute("SELECT count(*) FROM mentions").fetchone() == (3,)  # old connection: old snapshot
    finally:
        analyst.close()
    again = open_snapshot(refreshed.path)
    try:
        assert again.execute("SELECT count(*) FROM mentions").fetchone() == (2,)
    finally:
        again.close()


def test_any_table_exports_to_parquet(db: Path, tmp_path: Path) -> None:
    with writer(db) as con:
        written = export_parquet(con, ["mentions", "embeddings"], tmp_path / "parquet")
        with pytest.raises(ValueError, match="unknown table or view nope"):
            export_parquet(con, ["nope"], tmp_path / "parquet")
    assert written == {"mentions": 3, "embeddings": 3}
    rows = duckdb.sql(
        f"SELECT mention_id, title FROM '{tmp_path / 'parquet' / 'mentions.parquet'}' ORDER BY 1"
    ).fetchall()
    assert rows[0] == ("m1", TEXTS["m1"][0])


def test_dictionary_lists_every_relation_and_flags_undocumented_columns(db: Path) -> None:
    with writer(db) as con:
        con.execute("CREATE TABLE scratch_notes (a INTEGER, b VARCHAR)")
        con.execute("COMMENT ON TABLE scratch_notes IS 'Notes | with a pipe'")
        con.execute("COMMENT ON COLUMN scratch_notes.a IS 'first'")
        missing = undocumented(con)
        text = data_dictionary(con)
    assert "scratch_notes.b" in missing and "scratch_notes.a" not in missing and "scratch_notes" not in missing
    assert "## scratch_notes" in text and "Notes \\| with a pipe" in text and "| `a` | INTEGER | first |" in text


def test_every_table_view_and_column_is_documented_and_the_dictionary_is_current() -> None:
    from warehouse.migrate import migrate

    con = duckdb.connect()
    try:
        migrate(con)
        assert undocumented(con) == []
        generated = data_dictionary(con)
    finally:
        con.close()
    committed = (Path(__file__).parents[1] / "docs" / "data-dictionary.md").read_text(encoding="utf-8")
    assert committed == generated, (
        "docs/data-dictionary.md is stale: run `earshot dictionary --out docs/data-dictionary.md`"
    )
    for view in ("mentions_enriched", "theme_trends", "hypotheses_evidence", "source_health"):
        assert f"## {view}" in generated


def test_copies_left_by_a_killed_refresh_are_removed(db: Path) -> None:
    import os
    import time

    stale = [db.with_name(".analyst.duckdb.4242.tmp"), db.with_name(".analyst.duckdb.4242.tmp.wal")]
    recent = db.with_name(".analyst.duckdb.4343.tmp")  # perhaps a refresh running right now: left alone
    for path in (*stale, recent):
        path.write_bytes(b"half a copy")
    for path in stale:
        os.utime(path, (time.time() - 7200,) * 2)
    refresh_snapshot(db, model="test-model")
    assert not any(path.exists() for path in stale) and recent.exists()
