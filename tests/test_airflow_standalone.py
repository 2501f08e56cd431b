"""`earshot airflow` (airflow standalone) started for real: healthy, every DAG imported, a run triggered
through the REST API to success, and the UI seen in headless Chromium."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser import (
    DESKTOP,
    chromium,  # noqa: F401 (registers the browser fixture)
    screenshot,
    set_viewport,
)
from tests.conftest import LoopbackServer, Reply, rss
from tests.test_listen_stage import write_market
from warehouse.connection import reader

pytestmark = pytest.mark.e2e
EARSHOT_DAGS = {"earshot_listen", "earshot_themes", "earshot_report"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    def __init__(self, base: str) -> None:
        self.base = base
        self.token = ""

    def call(self, method: str, path: str, body: dict | None = None) -> Any:
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {self.token}"} if self.token else {}),
            },
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")

    def wait_healthy(self, proc: subprocess.Popen, log: Path, timeout: float = 240) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"airflow standalone exited {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                health = self.call("GET", "/api/v2/monitor/health")
                if all(
                    health.get(part, {}).get("status") == "healthy"
                    for part in ("metadatabase", "scheduler", "dag_processor")
                ):
                    return health
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(2)
        pytest.fail(f"airflow standalone not healthy within {timeout}s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def standalone(tmp_path: Path, http_server: LoopbackServer) -> Iterator[tuple[Api, Path, Path]]:
    http_server.routes["/ok.xml"] = Reply(
        200, rss([{"guid": "1", "title": "Restores are slow"}, {"guid": "2", "title": "MFA for insurance"}])
    )
    market = write_market(tmp_path / "market.yaml", http_server, {"ok": "/ok.xml"})
    home = tmp_path / "home"
    (home / "airflow").mkdir(parents=True)
    (home / "airflow" / "simple_auth_manager_passwords.json").write_text(json.dumps({"admin": "s3cret-test"}))
    port = free_port()
    log = tmp_path / "standalone.log"
    env = {**os.environ, "EARSHOT_HOME": str(home), "EARSHOT_CONFIG": str(market), "EARSHOT_RETRIES": "0"}
    env.pop("AIRFLOW_HOME", None)
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "earshot.cli", "airflow", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        api = Api(f"http://127.0.0.1:{port}")
        api.wait_healthy(proc, log)
        yield api, home, log
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def test_standalone_loads_every_dag_runs_one_and_serves_the_ui(
    standalone: tuple[Api, Path, Path], browser: WebDriver
) -> None:
    api, home, log = standalone
    token = api.call("POST", "/auth/token", {"username": "admin", "password": "s3cret-test"})
    api.token = token["access_token"]

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # the dag-processor parses the folder shortly after start
        dags = {d["dag_id"]: d for d in api.call("GET", "/api/v2/dags")["dags"]}
        if set(dags) >= EARSHOT_DAGS:
            break
        time.sleep(2)
    assert set(dags) >= EARSHOT_DAGS, sorted(dags)
    assert api.call("GET", "/api/v2/importErrors")["total_entries"] == 0
    assert all(d["is_paused"] for d in dags.values())  # nothing runs until someone says so
    details = api.call("GET", "/api/v2/dags/earshot_listen/details")
    assert "one mapped task per source" in details["doc_md"]

    api.call("PATCH", "/api/v2/dags/earshot_listen", {"is_paused": False})
    run = api.call("POST", "/api/v2/dags/earshot_listen/dagRuns", {"logical_date": None})
    run_id = run["dag_run_id"]
    deadline = time.monotonic() + 300
    state = run["state"]
    while time.monotonic() < deadline and state not in {"success", "failed"}:
        time.sleep(3)
        try:  # a busy 2-core machine can make the api-server slow to answer: keep polling
            state = api.call("GET", f"/api/v2/dags/earshot_listen/dagRuns/{run_id}")["state"]
        except (TimeoutError, urllib.error.URLError):
            continue
    assert state == "success", log.read_text()[-3000:]
    tasks = api.call("GET", f"/api/v2/dags/earshot_listen/dagRuns/{run_id}/taskInstances")["task_instances"]
    assert {(t["task_id"], t["state"]) for t in tasks} == {
        ("plan", "success"),
        ("fetch", "success"),
        ("load", "success"),
    }
    assert [t["rendered_map_index"] for t in tasks if t["task_id"] == "fetch"] == ["ok"]  # one instance per source
    with reader(home / "earshot.duckdb") as con:
        assert con.execute("SELECT count(*) FROM mentions").fetchone() == (2,)
        # unpausing also starts the latest scheduled interval (catchup=False): ours is the manual run
        listen_run = con.execute("SELECT status FROM runs WHERE stage = 'listen' AND run_id = ?", [run_id]).fetchone()
        assert listen_run == ("success",)

    set_viewport(browser, DESKTOP)
    browser.get(f"{api.base}/")
    login = screenshot(browser, "airflow-standalone-login") if _wait_for(browser, "input[name=username]") else None
    assert login is not None, browser.page_source[:2000]
    browser.find_element(By.CSS_SELECTOR, "input[name=username]").send_keys("admin")
    browser.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys("s3cret-test")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert _wait_until_gone(browser, "input[name=username]"), "still on the login page after signing in"
    for _ in range(3):  # a busy machine can answer the first navigation before the UI has loaded its DAGs
        browser.get(f"{api.base}/dags/earshot_listen")
        if _wait_for(browser, "body", text="earshot_listen", timeout=40):
            break
    assert "earshot_listen" in browser.find_element(By.TAG_NAME, "body").text, browser.page_source[:2000]
    time.sleep(3)  # let the grid draw the run
    shot = screenshot(browser, "airflow-standalone-listen-dag")
    assert shot.stat().st_size > 10_000
    assert (
        "one mapped task per source" in browser.find_element(By.TAG_NAME, "body").text
        or "earshot_listen" in browser.title
    )


def _wait_until_gone(browser: WebDriver, selector: str, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not browser.find_elements(By.CSS_SELECTOR, selector):
            return True
        time.sleep(0.5)
    return False


def _wait_for(browser: WebDriver, selector: str, text: str = "", timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = browser.find_elements(By.CSS_SELECTOR, selector)
        if found and (not text or any(text in element.text for element in found)):
            return True
        time.sleep(0.5)
    return False
