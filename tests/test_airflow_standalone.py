"""`earshot airflow` (airflow standalone) started for real: healthy, every DAG imported, a listen run with one
broken source triggered through the REST API, its failure visible in the run's state and in the UI, its task
logs read back through Airflow, and every process gone after SIGTERM or SIGINT."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
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
PASSWORD = "s3cret-test"
MALFORMED = rss([{"guid": "m1", "title": "Tips & tricks for restores"}, {"guid": "m2", "title": "Second post"}])
"""A bare ``&`` in XML: feedparser flags the feed (bozo) and still yields both entries."""


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
                "Accept": "application/json",
                **({"Authorization": f"Bearer {self.token}"} if self.token else {}),
            },
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")

    def patient(self, method: str, path: str, body: dict | None = None, tries: int = 5) -> Any:
        """A busy 2-core machine can make the api-server slow to answer: try again."""
        for attempt in range(tries):
            try:
                return self.call(method, path, body)
            except (TimeoutError, urllib.error.URLError):
                if attempt == tries - 1:
                    raise
                time.sleep(3)
        return None

    def wait_healthy(self, proc: subprocess.Popen, log: Path, timeout: float = 300) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"earshot airflow exited {proc.returncode}:\n{log.read_text()[-3000:]}")
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
        pytest.fail(f"earshot airflow not healthy within {timeout}s:\n{log.read_text()[-3000:]}")

    def sign_in(self) -> None:
        self.token = self.call("POST", "/auth/token", {"username": "admin", "password": PASSWORD})["access_token"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """One earshot home and listening plan for the module: the second start reuses the migrated database."""
    server = LoopbackServer()
    server.thread.start()
    server.routes.update(
        {
            "/ok.xml": Reply(200, rss([{"guid": "1", "title": "Restores are slow"}, {"guid": "2", "title": "MFA"}])),
            "/mangled.xml": Reply(200, MALFORMED, {"Content-Type": "application/rss+xml"}),
            "/gone.xml": Reply(404, b"not found"),
        }
    )
    root = tmp_path_factory.mktemp("standalone")
    market = write_market(
        root / "market.yaml", server, {"ok": "/ok.xml", "mangled": "/mangled.xml", "gone": "/gone.xml"}
    )
    home = root / "home"
    (home / "airflow").mkdir(parents=True)
    (home / "airflow" / "simple_auth_manager_passwords.json").write_text(json.dumps({"admin": PASSWORD}))
    yield home, market
    server.httpd.shutdown()
    server.httpd.server_close()


def start(home: Path, market: Path, log: Path) -> tuple[subprocess.Popen, Api, int]:
    port = free_port()
    env = {**os.environ, "EARSHOT_HOME": str(home), "EARSHOT_CONFIG": str(market), "EARSHOT_RETRIES": "0"}
    env.pop("AIRFLOW_HOME", None)
    with log.open("a") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "earshot.cli", "airflow", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    return proc, Api(f"http://127.0.0.1:{port}"), port


def everything_below(proc: subprocess.Popen) -> list[psutil.Process]:
    return psutil.Process(proc.pid).children(recursive=True)


def stop_with(proc: subprocess.Popen, signum: int, log: Path) -> None:
    """Send ``signum`` to `earshot airflow` alone (not its group, as `kill PID` does) and check that it, and
    every process it had started, is gone within a minute."""
    below = everything_below(proc)
    names = sorted({" ".join(p.cmdline()[1:3]) for p in below if p.is_running()})
    assert len(below) >= 4, names  # standalone, scheduler, api-server, dag-processor, triggerer...
    proc.send_signal(signum)
    try:
        proc.wait(timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"earshot airflow still running 90 s after {signal.Signals(signum).name}:\n{log.read_text()[-3000:]}"
        )
    _, alive = psutil.wait_procs(below, timeout=5)
    survivors = [f"{p.pid} {' '.join(p.cmdline())[:120]}" for p in alive if _alive(p)]
    assert survivors == [], f"left running after {signal.Signals(signum).name}: {survivors}"


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _cleanup(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        for child in everything_below(proc):
            child.kill()
        proc.kill()
        proc.wait(timeout=30)


def test_a_run_with_a_broken_source_fails_shows_its_logs_and_sigterm_stops_everything(
    site: tuple[Path, Path], browser: WebDriver, tmp_path: Path
) -> None:
    home, market = site
    log = tmp_path / "standalone.log"
    proc, api, port = start(home, market, log)
    try:
        api.wait_healthy(proc, log)
        api.sign_in()
        listening = {c.laddr.ip for p in everything_below(proc) for c in _listening(p) if c.laddr.port == port}
        assert listening == {"127.0.0.1"}  # the UI is not on the network unless --host says so

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the dag-processor parses the folder shortly after start
            dags = {d["dag_id"]: d for d in api.patient("GET", "/api/v2/dags")["dags"]}
            if set(dags) >= EARSHOT_DAGS:
                break
            time.sleep(2)
        assert set(dags) >= EARSHOT_DAGS, sorted(dags)
        assert api.call("GET", "/api/v2/importErrors")["total_entries"] == 0
        assert all(d["is_paused"] for d in dags.values())  # nothing runs until someone says so
        assert "one mapped task per source" in api.call("GET", "/api/v2/dags/earshot_listen/details")["doc_md"]

        run_id = _run_listen(api, log)
        tasks = api.patient("GET", f"/api/v2/dags/earshot_listen/dagRuns/{run_id}/taskInstances")["task_instances"]
        states = {(t["task_id"], t["rendered_map_index"] or "", t["state"]) for t in tasks}
        assert states == {
            ("plan", "", "success"),
            ("fetch", "ok", "success"),
            ("fetch", "mangled", "success"),
            ("fetch", "gone", "failed"),
            ("load", "", "success"),
            ("check_sources", "", "failed"),
        }
        with reader(home / "earshot.duckdb") as con:  # the healthy sources were loaded all the same
            assert con.execute("SELECT source_id, count(*) FROM mention_sources GROUP BY 1 ORDER BY 1").fetchall() == [
                ("mangled", 2),
                ("ok", 2),
            ]
            assert con.execute(
                "SELECT status FROM runs WHERE stage = 'listen' AND run_id = ?", [run_id]
            ).fetchone() == ("partial",)

        # task logs, read through Airflow's REST API as the UI reads them
        index = {t["rendered_map_index"]: t["map_index"] for t in tasks if t["task_id"] == "fetch"}
        mangled = _task_log(api, run_id, "fetch", index["mangled"])
        assert "listen.fetch: started" in mangled and "listen.fetch: done in" in mangled
        assert "source_id=mangled status=warning items=2" in mangled
        assert any(
            "malformed feed, loaded 2 entries anyway" in line["event"] and line.get("level") == "warning"
            for line in _task_log_lines(api, run_id, "fetch", index["mangled"])
        )
        assert "listen.load: done in" in _task_log(api, run_id, "load") and "items=4" in _task_log(api, run_id, "load")
        verdict = _task_log(api, run_id, "check_sources")
        assert "1 of 3 sources failed (the others were loaded)" in verdict and "gone" in verdict

        _screenshots(browser, api, run_id, index["mangled"])
        stop_with(proc, signal.SIGTERM, log)
    finally:
        _cleanup(proc)


def test_sigint_stops_every_airflow_process(site: tuple[Path, Path], tmp_path: Path) -> None:
    home, market = site
    log = tmp_path / "standalone.log"
    proc, api, _ = start(home, market, log)
    try:
        api.wait_healthy(proc, log)
        stop_with(proc, signal.SIGINT, log)  # what Ctrl-C sends
        assert proc.returncode == 0
        assert "SIGINT, stopping every Airflow process" in log.read_text()
    finally:
        _cleanup(proc)


def _listening(process: psutil.Process) -> list[Any]:
    try:
        return [c for c in process.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN]
    except psutil.Error:
        return []


def _run_listen(api: Api, log: Path) -> str:
    api.patient("PATCH", "/api/v2/dags/earshot_listen", {"is_paused": False})
    run = api.patient("POST", "/api/v2/dags/earshot_listen/dagRuns", {"logical_date": None})
    run_id, state = run["dag_run_id"], run["state"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and state not in {"success", "failed"}:
        time.sleep(3)
        try:
            state = api.call("GET", f"/api/v2/dags/earshot_listen/dagRuns/{run_id}")["state"]
        except (TimeoutError, urllib.error.URLError):
            continue
    assert state == "failed", log.read_text()[-3000:]  # a source failed: the run says so
    return run_id


def _task_log_lines(api: Api, run_id: str, task_id: str, map_index: int = -1) -> list[dict[str, Any]]:
    path = (
        f"/api/v2/dags/earshot_listen/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances/{task_id}/logs/1"
        f"?map_index={map_index}&full_content=true"
    )
    content = api.patient("GET", path)["content"]
    return [line if isinstance(line, dict) else {"event": str(line)} for line in content]


def _task_log(api: Api, run_id: str, task_id: str, map_index: int = -1) -> str:
    """Every line with every field (an exception's message sits in ``error_detail``, not in ``event``)."""
    lines = _task_log_lines(api, run_id, task_id, map_index)
    return "\n".join(json.dumps(line, ensure_ascii=False, default=str) for line in lines)


def _screenshots(browser: WebDriver, api: Api, run_id: str, mangled_index: int) -> None:
    """The home page and the DAG list after the failed run, and the task log with its warning."""
    set_viewport(browser, DESKTOP)
    browser.get(f"{api.base}/")
    assert _wait_for(browser, "input[name=username]"), browser.page_source[:2000]
    screenshot(browser, "airflow-standalone-login")
    browser.find_element(By.CSS_SELECTOR, "input[name=username]").send_keys("admin")
    browser.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert _wait_until_gone(browser, "input[name=username]"), "still on the login page after signing in"

    for name, url, expected in (
        ("airflow-standalone-home-failed-run", f"{api.base}/", "Failed"),
        ("airflow-standalone-dag-list-failed-run", f"{api.base}/dags", "earshot_listen"),
        ("airflow-standalone-listen-failed-run", f"{api.base}/dags/earshot_listen/runs/{run_id}", "check_sources"),
    ):
        for _ in range(3):  # a busy machine can answer the first navigation before the UI has its data
            browser.get(url)
            if _wait_for(browser, "body", text=expected, timeout=40):
                break
        body = browser.find_element(By.TAG_NAME, "body").text
        assert expected in body, (name, body[:2000])
        time.sleep(2)  # let charts and badges draw
        assert screenshot(browser, name).stat().st_size > 10_000
    assert "failed" in browser.find_element(By.TAG_NAME, "body").text.lower()

    log_page = f"{api.base}/dags/earshot_listen/runs/{run_id}/tasks/fetch/mapped/{mangled_index}"
    for _ in range(3):
        browser.get(log_page)
        if _wait_for(browser, "body", text="malformed feed", timeout=40):
            break
    assert "malformed feed, loaded 2 entries anyway" in browser.find_element(By.TAG_NAME, "body").text
    assert screenshot(browser, "airflow-standalone-task-log").stat().st_size > 10_000


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
