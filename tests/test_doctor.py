"""``earshot doctor`` on a real installation: each problem found, named, with its fix; nothing written."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest
import yaml

from earshot.doctor import FAIL, OK, WARN, render, run_checks
from tests.conftest import LoopbackServer, Reply, rss


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def market(tmp_path: Path, http_server: LoopbackServer, earshot_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    http_server.routes["/ok.xml"] = Reply(200, rss([{"guid": "a", "title": "A restore story"}]))
    (tmp_path / "drops").mkdir()
    plan = {
        "company": {"name": "Testco"},
        "offer": {"summary": "Backups"},
        "audiences": {a: {} for a in ("customers", "customers_customers", "influencers")},
        "fetch": {"timeout_seconds": 2},
        "sources": [
            {"id": "ok", "kind": "feed", "audience": "customers", "url": http_server.url("/ok.xml")},
            {"id": "gone", "kind": "feed", "audience": "customers", "url": http_server.url("/missing")},
            {"id": "down", "kind": "feed", "audience": "influencers", "url": f"http://127.0.0.1:{closed_port()}/f"},
            {"id": "drops", "kind": "filedrop", "audience": "customers_customers", "folder": "drops",
             "columns": {"text": "body"}},
            {"id": "nodir", "kind": "filedrop", "audience": "customers_customers", "folder": "nowhere",
             "columns": {"text": "body"}},
            {"id": "sub", "kind": "reddit", "audience": "customers", "subreddits": ["msp"],
             "credentials_env": "DOCTOR_TEST_REDDIT"},
        ],
    }  # fmt: skip
    path = tmp_path / "market.yaml"
    path.write_text(yaml.safe_dump(plan))
    monkeypatch.setenv("EARSHOT_CONFIG", str(path))
    for suffix in ("CLIENT_ID", "CLIENT_SECRET", "USER_AGENT"):
        monkeypatch.delenv(f"DOCTOR_TEST_REDDIT_{suffix}", raising=False)
    return path


def test_doctor_finds_each_problem_and_says_how_to_fix_it(market: Path, earshot_home: Path) -> None:
    checks = {c.name: c for c in run_checks(load_model=False, timeout=2)}
    assert checks["data folder"].status == OK
    assert checks["config"].status == OK
    assert checks["warehouse"].status == WARN and "earshot run" in checks["warehouse"].fix
    assert all(checks[f"extension {name}"].status == OK for name in ("fts", "vss", "ducklake"))
    assert checks["source ok"].status == OK and "HTTP 200" in checks["source ok"].detail
    assert checks["source gone"].status == FAIL and checks["source gone"].detail.startswith("http_4xx")
    assert checks["source down"].status == FAIL and "cannot be reached" in checks["source down"].fix
    assert checks["source drops"].status == WARN and "0 file(s)" in checks["source drops"].detail
    assert checks["source nodir"].status == FAIL and "does not exist" in checks["source nodir"].detail
    assert checks["credentials sub"].status == FAIL and "DOCTOR_TEST_REDDIT_CLIENT_ID" in checks["credentials sub"].fix
    assert not (earshot_home / "earshot.duckdb").exists()  # read-only: the doctor created nothing
    text = render(list(checks.values()))
    assert "✗ source gone" in text and "fix: " in text and text.endswith("failed")


def test_doctor_reports_a_broken_config_and_a_loadable_model(
    tmp_path: Path, earshot_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "market.yaml"
    broken.write_text("company: {name: X}\nsources: []\n")
    monkeypatch.setenv("EARSHOT_CONFIG", str(broken))
    checks = {c.name: c for c in run_checks(timeout=1)}
    assert checks["config"].status == FAIL and str(broken) in checks["config"].detail
    assert "embedding model" not in checks  # nothing to check it against without a config

    monkeypatch.setenv("EARSHOT_CONFIG", str(tmp_path / "absent.yaml"))
    assert "earshot init" in {c.name: c for c in run_checks(load_model=False)}["config"].fix


def test_doctor_loads_the_configured_embedding_model_offline(market: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    checks = {c.name: c for c in run_checks(probe_sources=False)}
    assert checks["embedding model"].status == OK and "384-d" in checks["embedding model"].detail


def test_doctor_reads_a_migrated_warehouse_without_writing_to_it(
    market: Path, earshot_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from earshot.cli import main
    from warehouse.migrate import available

    main(["run", "--stage", "listen"])
    db = earshot_home / "earshot.duckdb"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    capsys.readouterr()
    assert main(["doctor", "--offline", "--quick"]) == 1  # one failure: the Reddit source has no credentials
    out = capsys.readouterr().out
    assert [line.split()[1] for line in out.splitlines() if line.startswith("✗")] == ["credentials"]
    assert f"schema version {available()[-1].version} (EARSHOT_WAREHOUSE)" in out  # no traceback, no write
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before and not Path(f"{db}.wal").exists()
