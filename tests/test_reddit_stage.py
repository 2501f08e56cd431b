"""Reddit through the listen stage: praw unchanged against a loopback Reddit API, credentials from
the environment; the secret never reaches the warehouse, the landing zone, outcomes or the output."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from earshot.cli import main
from tests.fake_reddit import FakeReddit
from warehouse.connection import reader


@pytest.fixture
def fake() -> Iterator[FakeReddit]:
    with FakeReddit() as server:
        yield server


def plan(tmp_path: Path, fake: FakeReddit) -> Path:
    market = {
        "company": {"name": "Testco"},
        "offer": {"summary": "Backups"},
        "audiences": {a: {} for a in ("customers", "customers_customers", "influencers")},
        "fetch": {"retries": 0},
        "sources": [{
            "id": "reddit-msp", "kind": "reddit", "audience": "customers", "subreddits": ["msp"], "limit": 10,
            "comments": {"enabled": True, "depth": 2, "limit": 5}, "credentials_env": "TEST_REDDIT",
            "influencer_authors": ["vendor_watcher"], "oauth_url": fake.url, "reddit_url": fake.url,
        }],
    }  # fmt: skip
    path = tmp_path / "market.yaml"
    path.write_text(yaml.safe_dump(market))
    return path


def test_reddit_listens_incrementally_and_never_leaks_the_secret(
    tmp_path: Path, fake: FakeReddit, earshot_home: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    fake.add_posts("msp", 4)
    fake.add_posts("msp", 1, author="vendor_watcher")
    monkeypatch.setenv("EARSHOT_CONFIG", str(plan(tmp_path, fake)))
    monkeypatch.setenv("TEST_REDDIT_CLIENT_ID", fake.client_id)
    monkeypatch.setenv("TEST_REDDIT_CLIENT_SECRET", fake.client_secret)
    monkeypatch.setenv("TEST_REDDIT_USER_AGENT", "earshot-tests/0.1 by u/earshot")

    assert main(["run", "--stage", "listen"]) == 0
    db = earshot_home / "earshot.duckdb"
    with reader(db) as con:
        kinds = dict(con.execute("SELECT kind, count(*) FROM mentions GROUP BY 1").fetchall())
        influencers = con.execute("SELECT DISTINCT author FROM mention_sources WHERE influencer").fetchall()
        engagement = con.execute("SELECT count(*) FROM mentions WHERE kind = 'post' AND score IS NOT NULL").fetchone()
    assert kinds["post"] == 5 and kinds["comment"] > 0
    assert influencers == [("vendor_watcher",)]
    assert engagement == (5,)

    fake.add_posts("msp", 2)
    assert main(["run", "--stage", "listen"]) == 0
    with reader(db) as con:
        new_posts = con.execute(
            """
            SELECT count(*) FROM mentions
            WHERE kind = 'post' AND first_seen_run = (SELECT run_id FROM runs WHERE stage = 'listen'
                                                     ORDER BY finished_at DESC LIMIT 1)
            """
        ).fetchone()
        posts = con.execute("SELECT count(*) FROM mentions WHERE kind = 'post'").fetchone()
    assert new_posts == (2,) and posts == (7,)  # only the new posts are new; the boundary one upserts

    secret = fake.client_secret.encode()
    leaked = subprocess.run(
        ["grep", "-rla", "--", secret.decode(), str(earshot_home)], capture_output=True, check=False
    )
    assert leaked.stdout == b"", leaked.stdout  # not in the warehouse file, landing zone, outcomes or reports
    assert fake.client_secret not in capsys.readouterr().out


def test_missing_credentials_name_the_variables(
    tmp_path: Path, fake: FakeReddit, earshot_home: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("EARSHOT_CONFIG", str(plan(tmp_path, fake)))
    for name in ("TEST_REDDIT_CLIENT_ID", "TEST_REDDIT_CLIENT_SECRET", "TEST_REDDIT_USER_AGENT"):
        monkeypatch.delenv(name, raising=False)
    assert main(["run", "--stage", "listen"]) == 3
    err = capsys.readouterr().err
    assert "! reddit-msp: source 'reddit-msp': auth:" in err and "TEST_REDDIT_CLIENT_SECRET" in err


CONNECTION = """
from earshot.config import RedditSource
from earshot.credentials import reddit_credentials
from listeners.errors import SourceError

block = {"id": "r", "kind": "reddit", "audience": "customers", "subreddits": ["msp"]}
print(repr(reddit_credentials(RedditSource.model_validate({**block, "airflow_conn_id": "reddit_app"}))))
try:
    reddit_credentials(RedditSource.model_validate({**block, "airflow_conn_id": "absent"}))
except SourceError as exc:
    print(exc)
"""


def test_credentials_can_come_from_an_airflow_connection(tmp_path: Path) -> None:
    import os
    import sys

    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow"),
           "AIRFLOW_CONN_REDDIT_APP": '{"conn_type": "generic", "login": "app-id", "password": "app-secret-123",'
                                      ' "extra": {"user_agent": "earshot/0.1 by u/us"}}'}  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", CONNECTION], env=env, capture_output=True, text=True, check=True)
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "RedditCredentials(client_id='app-id', client_secret='***', user_agent='earshot/0.1 by u/us')"
    assert lines[1] == "source 'r': auth: Airflow connection 'absent' is not available (AirflowNotFoundException)"
    assert "app-secret-123" not in proc.stdout + proc.stderr
