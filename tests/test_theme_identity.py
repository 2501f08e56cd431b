"""Stable theme identities across runs: refit or assign (policy), lineage of merges and splits, and
signals re-scored when the scorer's configuration changes. Real DuckDB in tmp_path; vectors are
synthetic groups around orthogonal centres, inserted as a fake embedding model's rows."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pytest
import yaml

from earshot import themes
from earshot.runs import RunContext
from models.identity import Link, new_theme_id, reconcile
from models.refit_policy import Facts, LastRefit, PolicySettings, decide, fingerprint
from warehouse.bulk import staged
from warehouse.connection import reader, transaction, writer
from warehouse.migrate import available

DIMS = 32
MODEL = "fake-model"
T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
WORDS = {
    0: "ransomware immutable snapshots backup restore attack encrypted vault",
    1: "pricing license per seat invoice cost expensive renewal quote",
    2: "downtime outage offline hours lost revenue customers waiting",
    3: "migration cloud tenant mailbox sharepoint onedrive move cutover",
    4: "compliance audit retention policy regulator evidence legal hold",
    5: "laptop endpoint agent install deploy fleet remote workers",
}
_MENTION = {"mention_id": "VARCHAR", "source_id": "VARCHAR", "audience": "VARCHAR", "title": "VARCHAR",
            "text": "VARCHAR", "content_hash": "VARCHAR", "first_seen_run": "VARCHAR", "last_seen_run": "VARCHAR",
            "first_seen_at": "TIMESTAMPTZ", "last_seen_at": "TIMESTAMPTZ"}  # fmt: skip
_EMBEDDING = {"content_hash": "VARCHAR", "model": "VARCHAR", "dims": "INTEGER", "vector": "FLOAT[]",
              "created_at": "TIMESTAMPTZ"}  # fmt: skip


def plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, competitors: tuple[str, ...] = (), **theme_settings: object):
    market = {
        "company": {"name": "T"}, "offer": {"summary": "o"},
        "audiences": {a: {} for a in ("customers", "customers_customers", "influencers")},
        "competitors": list(competitors),
        "sources": [{"id": f"s{i}", "kind": "feed", "audience": "customers", "url": f"http://127.0.0.1:9/{i}"}
                    for i in range(3)],
        "themes": {"model": MODEL, "min_cluster_size": 10, **theme_settings},
    }  # fmt: skip
    (tmp_path / "market.yaml").write_text(yaml.safe_dump(market))
    monkeypatch.setenv("EARSHOT_CONFIG", str(tmp_path / "market.yaml"))


def ctx(run_id: str, days: float = 0) -> RunContext:
    return RunContext.create(run_id=run_id, run_at=T0 + timedelta(days=days))


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def group(centre: int, n: int, seed: int, spread: float = 0.08) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return unit(np.eye(DIMS)[centre] + spread * rng.normal(size=(n, DIMS)))


def rows(prefix: str, vectors: np.ndarray, topic: int | None) -> tuple[list[tuple], list[tuple]]:
    """Mention and embedding rows ``prefix-000..``: texts drawn from ``topic``'s words (None: noise)."""
    rng = np.random.default_rng(int(hashlib.sha256(prefix.encode()).hexdigest()[:8], 16))
    words = (WORDS[topic] if topic is not None else "misc note random thing today").split()
    mentions, embeddings = [], []
    for i, vector in enumerate(vectors):
        text = f"{' '.join(rng.choice(words, size=6))} item {prefix} {i}"
        digest = hashlib.sha256(text.encode()).hexdigest()
        mentions.append((f"{prefix}-{i:03d}", f"s{i % 3}", "customers", "", text, digest, "l1", "l1", T0, T0))
        embeddings.append((digest, MODEL, DIMS, vector.astype(np.float32), T0))
    return mentions, embeddings


def insert(con: duckdb.DuckDBPyConnection, mentions: list[tuple], embeddings: list[tuple]) -> list[str]:
    with staged(con, "m", _MENTION, mentions):
        con.execute(f"INSERT INTO mentions ({', '.join(_MENTION)}) SELECT * FROM m")
    with staged(con, "e", _EMBEDDING, embeddings):
        con.execute("INSERT INTO embeddings SELECT * FROM e")
    return [m[0] for m in mentions]


def add(db: Path, prefix: str, vectors: np.ndarray, topic: int | None) -> list[str]:
    with writer(db) as con, transaction(con):
        return insert(con, *rows(prefix, vectors, topic))


def move(db: Path, mention_ids: list[str], vectors: np.ndarray) -> None:
    """Give mentions new vectors (as a changed embedding would), keeping their texts."""
    with writer(db) as con:
        for mention_id, vector in zip(mention_ids, vectors, strict=True):
            con.execute(
                "UPDATE embeddings SET vector = ? WHERE model = ? AND content_hash = "
                "(SELECT content_hash FROM mentions WHERE mention_id = ?)",
                [vector.astype(np.float32).tolist(), MODEL, mention_id],
            )


def members(db: Path, run_id: str) -> dict[str, str]:
    with reader(db) as con:
        return dict(con.execute("SELECT mention_id, theme_id FROM theme_members WHERE run_id = ?", [run_id]).fetchall())


def theme_of(db: Path, run_id: str, mention_ids: list[str]) -> set[str | None]:
    placed = members(db, run_id)
    return {placed.get(m) for m in mention_ids}


def lineage(db: Path, run_id: str) -> set[tuple[str, str, str]]:
    with reader(db) as con:
        rows = con.execute(
            "SELECT parent_theme_id, child_theme_id, kind FROM theme_lineage WHERE run_id = ?", [run_id]
        ).fetchall()
    return set(rows)


def snapshot(db: Path, run_id: str) -> dict[str, list[tuple]]:
    """Every row this run wrote, for 'same run twice, same rows'."""
    queries = {
        "members": "SELECT * FROM theme_members WHERE run_id = $r ORDER BY ALL",
        "quotes": "SELECT * FROM theme_quotes WHERE run_id = $r ORDER BY ALL",
        "lineage": "SELECT * FROM theme_lineage WHERE run_id = $r ORDER BY ALL",
        "fits": "SELECT * FROM theme_fits WHERE run_id = $r",
        "centroids": "SELECT * FROM theme_centroids WHERE fit_run_id = $r ORDER BY ALL",
        "themes": "SELECT * FROM themes ORDER BY theme_id",
        "seen": "SELECT * FROM theme_seen ORDER BY ALL",
    }
    with reader(db) as con:
        return {
            name: con.execute(sql, {"r": run_id} if "$r" in sql else {}).fetchall() for name, sql in queries.items()
        }


@pytest.fixture
def market(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, earshot_home: Path) -> dict[str, list[str]]:
    """Three themes (60, 45, 40 mentions) and 15 noise mentions, in a warehouse at tmp_path."""
    plan(tmp_path, monkeypatch)
    db = ctx("setup").paths.warehouse
    rng = np.random.default_rng(7)
    return {
        "a": add(db, "a", group(0, 60, seed=1), 0),
        "b": add(db, "b", group(1, 45, seed=2), 1),
        "c": add(db, "c", group(2, 40, seed=3), 2),
        "noise": add(db, "n", unit(rng.normal(size=(15, DIMS))), None),
    }


def db_path() -> Path:
    return ctx("any").paths.warehouse


# --- the policy: pure, table-driven ---

LAST = LastRefit(fitted_at=T0, model=MODEL, fingerprint="f1", mentions=1000, unassigned_share=0.10)


def facts(**changes: object) -> Facts:
    base = {"run_at": T0 + timedelta(days=2), "model": MODEL, "fingerprint": "f1", "mentions": 1012,
            "new_mentions": 12, "active_themes": 8, "last_refit": LAST}  # fmt: skip
    return Facts(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "mode", "reason"),
    [
        ({}, "assign", "2 days since refit, 12 new mentions"),
        ({"new_unassigned": 2}, "assign", "2 days since refit, 12 new mentions: 10 assigned"),
        ({"forced": True}, "refit", "refit requested"),
        ({"active_themes": 0}, "refit", "no themes yet"),
        ({"last_refit": None}, "refit", "no refit recorded yet"),
        ({"model": "other"}, "refit", f"embedding model changed ({MODEL} -> other)"),
        ({"fingerprint": "f2"}, "refit", "clustering settings changed since the last refit"),
        ({"last_refit": replace(LAST, fingerprint="")}, "refit",
         "the last refit's clustering settings are unknown (recorded before fingerprints)"),
        ({"run_at": T0 + timedelta(days=9)}, "refit", "9 days since last refit (every 7)"),
        ({"run_at": T0 + timedelta(days=6, hours=23)}, "assign", "6 days since refit, 12 new mentions"),
        ({"run_at": T0 - timedelta(days=3)}, "assign", "0 days since refit, 12 new mentions"),
        ({"mentions": 1250}, "refit", "corpus grew 25% since last refit (1000 -> 1250 mentions; refit at 25%)"),
        ({"mentions": 1249}, "assign", "2 days since refit, 12 new mentions"),
        # drift: 60 new, 20 unassigned = 33 % vs 10 % at the last refit: +23 points >= 15
        ({"new_mentions": 60, "new_unassigned": 20}, "refit",
         "drift: 33% of 60 new mentions fit no theme (last refit left 10% unassigned; margin 15%)"),
        ({"new_mentions": 60, "new_unassigned": 14}, "assign", "2 days since refit, 60 new mentions: 46 assigned"),
        ({"new_mentions": 49, "new_unassigned": 49}, "assign", "2 days since refit, 49 new mentions: 0 assigned"),
    ],
)  # fmt: skip
def test_refit_policy(changes: dict, mode: str, reason: str) -> None:
    decision = decide(facts(**changes))
    assert (decision.mode, decision.reason) == (mode, reason)
    assert str(decision) == f"{mode}: {reason}"


def test_policy_settings_are_honoured() -> None:
    assert decide(facts(), PolicySettings(refit_every_days=2)).reason == "2 days since last refit (every 2)"
    assert decide(facts(mentions=1100), PolicySettings(refit_growth=0.1)).mode == "refit"
    strict = PolicySettings(drift_margin=0.35, drift_min_mentions=10)
    assert decide(facts(new_unassigned=6), strict).mode == "refit"  # 50 % of 12 new vs 10 %: +40 points
    assert decide(facts(new_unassigned=5), strict).mode == "assign"


def test_settings_fingerprint_is_stable_and_sensitive() -> None:
    base = {"min_cluster_size": None, "reduce_to": 30, "assign_threshold": 0.35}
    assert fingerprint(base) == fingerprint(dict(reversed(list(base.items()))))
    assert fingerprint(base) != fingerprint({**base, "assign_threshold": 0.4})


# --- identity: pure ---


def test_reconcile_continue_merge_split_new_retired() -> None:
    prev = ["t_a", "t_b", "t_c", "t_d", "t_e"]
    # parents: a 0-59, b 60-99, c 100-139 (split 25/15), d 140-159 (gone to noise), e none; 160-179 new
    parents = np.array([0] * 60 + [1] * 40 + [2] * 40 + [3] * 20 + [-1] * 20)
    # clusters: 0 = a + b (merge), 1 = c's first 25, 2 = c's other 15, 3 = the 20 new ones
    labels = np.array([0] * 100 + [1] * 25 + [2] * 15 + [-1] * 20 + [3] * 20)
    centroids = np.eye(4, DIMS)
    ids = reconcile(labels, parents, prev, centroids, None, [["m0"], ["m1"], ["m2"], ["m3"]])
    assert ids.ids[:2] == ["t_a", "t_c"] and ids.ids[2] == new_theme_id("m2") and ids.ids[3] == new_theme_id("m3")
    assert {(link.parent, link.child, link.kind, link.share) for link in ids.lineage} == {
        ("t_a", "t_a", "merge", 1.0),
        ("t_b", "t_a", "merge", 1.0),
        ("t_c", "t_c", "split", 0.625),
        ("t_c", new_theme_id("m2"), "split", 0.375),
        ("t_d", "", "retired", 1.0),
        ("t_e", "", "retired", 1.0),  # no members here, no centroid to match: retired
        ("", new_theme_id("m3"), "new", 1.0),
    }


def test_reconcile_falls_back_to_centroids_and_never_reuses_an_id() -> None:
    prev = ["t_old"]
    centroid = np.eye(1, DIMS)
    # no member overlap at all (previous members all gone), but the same centre: the id carries over
    ids = reconcile(np.array([0, 0]), np.array([-1, -1]), prev, centroid, centroid, [["x", "y"]])
    assert ids.ids == ["t_old"] and {link.kind for link in ids.lineage} == {"continue"}
    # a new cluster whose most central member once anchored a theme still active gets the next candidate
    taken = new_theme_id("x")
    ids = reconcile(np.array([0, 0]), np.array([-1, -1]), [taken], centroid, -centroid, [["x", "y"]])
    assert ids.ids == [new_theme_id("y")]


# --- the stage, on a real warehouse ---


def test_same_data_twice_keeps_ids_and_memberships(market: dict[str, list[str]]) -> None:
    db = db_path()
    first = themes.cluster(ctx("r1"))
    assert (first["mode"], first["reason"], first["themes"]) == ("refit", "no themes yet", 3)
    with reader(db) as con:  # what assign runs measure against: the refit's reduction and its centroids there
        assert con.execute("SELECT rows, len(mean), len(components) FROM theme_projections").fetchall() == [
            (30, DIMS, 30 * DIMS)
        ]
        reduced = con.execute("SELECT len(reduced_centroid) FROM theme_centroids WHERE fit_run_id = 'r1'")
        assert reduced.fetchall() == [(30,)] * 3
    second = themes.cluster(ctx("r2", days=1))
    assert (second["mode"], second["reason"]) == ("assign", "1 day since refit, 0 new mentions")
    assert members(db, "r2") == members(db, "r1")
    assert lineage(db, "r2") == {(t, t, "continue") for t in set(members(db, "r1").values())}
    forced = themes.cluster(ctx("r3", days=2), refit=True)
    assert (forced["mode"], forced["reason"]) == ("refit", "refit requested")
    assert members(db, "r3") == members(db, "r1")
    assert {kind for *_, kind in lineage(db, "r3")} == {"continue"}
    quotes = {run: [q[1:] for q in snapshot(db, run)["quotes"]] for run in ("r1", "r2", "r3")}
    assert len(quotes["r1"]) == 3 * 4 and quotes["r1"] == quotes["r2"] == quotes["r3"]


def test_new_mentions_near_a_theme_join_it_without_moving_it(market: dict[str, list[str]]) -> None:
    db = db_path()
    themes.cluster(ctx("r1"))
    (theme_a,) = theme_of(db, "r1", market["a"][:50])
    with reader(db) as con:
        before = con.execute("SELECT theme_id, label, centroid, size FROM themes ORDER BY 1").fetchall()
    joined = add(db, "a2", group(0, 12, seed=11), 0)
    result = themes.cluster(ctx("r2", days=2))
    assert (result["mode"], result["reason"]) == ("assign", "2 days since refit, 12 new mentions: 12 assigned")
    assert theme_of(db, "r2", joined) == {theme_a}
    with reader(db) as con:
        after = con.execute("SELECT theme_id, label, centroid, size FROM themes ORDER BY 1").fetchall()
        fit = con.execute("SELECT mode, new_mentions, assigned_new, refit_run_id FROM theme_fits WHERE run_id = 'r2'")
        assert fit.fetchone() == ("assign", 12, 12, "r1")
    assert [row[:3] for row in after] == [row[:3] for row in before]  # ids, labels, centroids fixed
    sizes = {row[0]: row[3] for row in after}
    assert sizes[theme_a] == {row[0]: row[3] for row in before}[theme_a] + 12


def test_a_new_dense_group_waits_for_a_refit_then_gets_a_new_id(market: dict[str, list[str]]) -> None:
    db = db_path()
    themes.cluster(ctx("r1"))
    old_ids = set(members(db, "r1").values())
    fresh = add(db, "d", group(3, 30, seed=12), 3)
    assigned = themes.cluster(ctx("r2", days=1))
    assert assigned["mode"] == "assign" and assigned["reason"].endswith("30 new mentions: 0 assigned")
    assert theme_of(db, "r2", fresh) == {None}  # nothing forced into a theme it does not belong to
    refit = themes.cluster(ctx("r3", days=2), refit=True)
    assert refit["themes"] == 4
    (new_id,) = theme_of(db, "r3", fresh)
    assert new_id not in old_ids and new_id is not None
    assert ("", new_id, "new") in lineage(db, "r3")
    assert {(p, c, k) for p, c, k in lineage(db, "r3") if k != "new"} == {(t, t, "continue") for t in old_ids}


def test_drift_and_schedule_trigger_a_refit(
    market: dict[str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan(tmp_path, monkeypatch, refit_growth=10)  # 55 new mentions would otherwise be growth enough
    db = db_path()
    themes.cluster(ctx("r1"))
    add(db, "d", group(3, 55, seed=13), 3)
    drifted = themes.cluster(ctx("r2", days=1))
    assert drifted["mode"] == "refit" and drifted["reason"].startswith("drift: 100% of 55 new mentions fit no theme")
    assert drifted["themes"] == 4
    later = themes.cluster(ctx("r3", days=9))
    assert (later["mode"], later["reason"]) == ("refit", "8 days since last refit (every 7)")
    with reader(db) as con:
        details = con.execute("SELECT details->>'mode', details->>'reason' FROM runs WHERE run_id = 'r3'").fetchone()
    assert details == ("refit", "8 days since last refit (every 7)")


def test_two_themes_whose_mentions_merge_keep_the_larger_id(market: dict[str, list[str]]) -> None:
    db = db_path()
    themes.cluster(ctx("r1"))
    (theme_a,) = theme_of(db, "r1", market["a"][:50])
    (theme_b,) = theme_of(db, "r1", market["b"][:40])
    move(db, market["b"], group(0, 45, seed=21))  # b now talks like a
    themes.cluster(ctx("r2", days=1), refit=True)
    assert theme_of(db, "r2", market["a"][:50] + market["b"][:40]) == {theme_a}
    assert {(theme_a, theme_a, "merge"), (theme_b, theme_a, "merge")} <= lineage(db, "r2")
    with reader(db) as con:
        active = dict(con.execute("SELECT theme_id, active FROM themes").fetchall())
    assert active[theme_a] and not active[theme_b]


def test_a_theme_split_in_two_keeps_its_id_on_the_larger_part(market: dict[str, list[str]]) -> None:
    db = db_path()
    themes.cluster(ctx("r1"))
    (theme_a,) = theme_of(db, "r1", market["a"][:50])
    move(db, market["a"][36:], group(4, 24, seed=22))  # 24 of a's 60 move to a new subject
    themes.cluster(ctx("r2", days=1), refit=True)
    (kept,) = theme_of(db, "r2", market["a"][:30])
    (other,) = theme_of(db, "r2", market["a"][40:])
    assert kept == theme_a and other not in (None, theme_a)
    assert {(theme_a, theme_a, "split"), (theme_a, other, "split")} <= lineage(db, "r2")


def test_rerunning_a_run_id_gives_identical_rows(market: dict[str, list[str]]) -> None:
    db = db_path()
    themes.cluster(ctx("r1"))
    first = snapshot(db, "r1")
    themes.cluster(ctx("r1"))
    assert snapshot(db, "r1") == first
    add(db, "a2", group(0, 12, seed=11), 0)
    add(db, "d", group(3, 8, seed=12), 3)
    assigned = themes.cluster(ctx("r2", days=1))
    assert assigned["mode"] == "assign" and assigned["assigned_new"] == 12
    second = snapshot(db, "r2")
    assert themes.cluster(ctx("r2", days=1)) == assigned
    assert snapshot(db, "r2") == second
    move(db, market["b"], group(0, 45, seed=21))
    themes.cluster(ctx("r3", days=2), refit=True)
    third = snapshot(db, "r3")
    themes.cluster(ctx("r3", days=2), refit=True)
    assert snapshot(db, "r3") == third


def test_a_changed_text_is_placed_again(market: dict[str, list[str]]) -> None:
    db = db_path()
    themes.cluster(ctx("r1"))
    (theme_a,) = theme_of(db, "r1", market["a"][:50])
    (theme_b,) = theme_of(db, "r1", market["b"][:40])
    edited = market["a"][0]
    with writer(db) as con:  # the post was edited: new text, new content hash, a vector near b
        con.execute("UPDATE mentions SET text = 'edited', content_hash = 'edited-hash' WHERE mention_id = ?", [edited])
        con.execute(
            "INSERT INTO embeddings VALUES ('edited-hash', ?, ?, ?, ?)",
            [MODEL, DIMS, group(1, 1, seed=30)[0].astype(np.float32).tolist(), T0],
        )
    result = themes.cluster(ctx("r2", days=1))
    assert (result["mode"], result["new_mentions"], result["assigned_new"]) == ("assign", 1, 1)
    assert members(db, "r1")[edited] == theme_a and members(db, "r2")[edited] == theme_b


def test_cli_refit_flag_prints_the_mode_and_reason(
    market: dict[str, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from earshot.cli import main

    assert main(["run", "--stage", "themes"]) == 0
    assert "themes: refit (no themes yet); 3 themes over 160 mentions" in capsys.readouterr().out
    assert main(["run", "--stage", "themes"]) == 0
    assert "themes: assign (0 days since refit, 0 new mentions); 3 themes" in capsys.readouterr().out
    assert main(["run", "--stage", "themes", "--refit"]) == 0
    assert "themes: refit (refit requested); 3 themes" in capsys.readouterr().out


def test_signals_are_rescored_when_the_competitor_list_changes(
    market: dict[str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = db_path()
    assert themes.signals(ctx("r1"))["scored"] == 160
    assert themes.signals(ctx("r2"))["scored"] == 0
    with writer(db) as con:
        con.execute("UPDATE mentions SET text = text || ' vs Veeam' WHERE mention_id = 'a-000'")
    plan(tmp_path, monkeypatch, competitors=("Veeam",))
    assert themes.signals(ctx("r3"))["scored"] == 160  # every mention, not only the edited one
    with reader(db) as con:
        flagged = con.execute(
            "SELECT mention_id FROM mention_signals WHERE list_contains(intents, 'competitor')"
        ).fetchall()
        scorers = con.execute("SELECT count(DISTINCT scorer) FROM mention_signals").fetchone()
    assert flagged == [("a-000",)] and scorers == (1,)
    assert themes.signals(ctx("r4"))["scored"] == 0
    plan(tmp_path, monkeypatch, competitors=(" veeam ",))  # the same list as matched: nothing to redo
    assert themes.signals(ctx("r5"))["scored"] == 0
    monkeypatch.setattr("models.signals.SCORER_VERSION", 2)  # new rules: everything again
    assert themes.signals(ctx("r6"))["scored"] == 160


def test_a_warehouse_from_before_version_4_keeps_its_theme_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, earshot_home: Path
) -> None:
    plan(tmp_path, monkeypatch)
    db = db_path()
    db.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(db))  # a version-3 warehouse with one themes run made by the old code
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ)")
    for migration in available()[:3]:
        con.execute(migration.sql)
        con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [migration.version, migration.name])
    a = insert(con, *rows("a", group(0, 60, seed=1), 0))
    b = insert(con, *rows("b", group(1, 45, seed=2), 1))
    c = insert(con, *rows("c", group(2, 40, seed=3), 2))
    for theme_id, centre, ids in (("t_old_a", 0, a), ("t_old_b", 1, b)):
        con.execute(
            "INSERT INTO themes VALUES (?, 'old', [], ?, ?, ?, 0.9, 'legacy', 'legacy', TRUE)",
            [theme_id, MODEL, np.eye(DIMS)[centre].tolist(), len(ids)],
        )
        con.execute("INSERT INTO theme_members SELECT 'legacy', unnest(?), ?, 0.9", [ids, theme_id])
    con.execute(
        "INSERT INTO runs VALUES ('legacy', 'themes', ?, ?, 'success', ?, NULL)",
        [T0 - timedelta(days=1), T0 - timedelta(days=1), '{"model": "fake-model", "mentions": 145, "themes": 2}'],
    )
    con.close()
    result = themes.cluster(ctx("r1"))
    assert (result["mode"], result["reason"]) == (
        "refit",
        "the last refit's clustering settings are unknown (recorded before fingerprints)",
    )
    assert theme_of(db, "r1", a) == {"t_old_a"} and theme_of(db, "r1", b) == {"t_old_b"}
    (theme_c,) = theme_of(db, "r1", c)
    assert lineage(db, "r1") == {
        ("t_old_a", "t_old_a", "continue"), ("t_old_b", "t_old_b", "continue"), ("", theme_c, "new")
    }  # fmt: skip
    assert themes.cluster(ctx("r2", days=1))["mode"] == "assign"


def test_a_cluster_left_without_members_is_not_a_theme(
    market: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from models import clustering

    real = clustering.cluster

    def with_an_empty_cluster(vectors: np.ndarray, settings: clustering.ClusterSettings) -> clustering.Clustering:
        r = real(vectors, settings)  # then cluster 1 loses every member (as ejection can leave it)
        labels = np.where(r.labels >= 1, r.labels + 1, r.labels)
        centroids = np.insert(r.centroids, 1, np.eye(DIMS)[5], axis=0)
        reduced = np.insert(r.reduced_centroids, 1, r.reduced_centroids[0], axis=0)
        coherence = np.insert(r.coherence, 1, 0.0)
        return clustering.Clustering(labels, r.similarity, centroids, coherence, reduced, r.projection)

    monkeypatch.setattr(clustering, "cluster", with_an_empty_cluster)
    result = themes.cluster(ctx("r1"))
    db = db_path()
    assert result["themes"] == 3 and len(set(members(db, "r1").values())) == 3
    assert {kind for *_, kind in lineage(db, "r1")} == {"new"} and len(lineage(db, "r1")) == 3
    assert theme_of(db, "r1", market["c"][:30]) != theme_of(db, "r1", market["b"][:30])


def test_reconcile_keeps_the_id_of_a_theme_whose_core_survived() -> None:
    # t_a had 100 members; 20 of them form this run's cluster (with 10 new ones), the rest went to noise
    parents = np.array([0] * 100 + [-1] * 10)
    labels = np.array([0] * 20 + [-1] * 80 + [0] * 10)
    ids = reconcile(labels, parents, ["t_a"], np.eye(1, DIMS), -np.eye(1, DIMS), [["m"]])
    assert ids.ids == ["t_a"] and ids.lineage == [Link("t_a", "t_a", "continue", 0.2)]
