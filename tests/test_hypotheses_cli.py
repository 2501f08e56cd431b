"""Recording and reading hypotheses from the outside: `earshot hypotheses ...` and the Airflow DAG
`earshot_hypotheses_record` triggered with params (a real ``dag.test(run_conf=...)``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from earshot.cli import main
from earshot.hypotheses import load_hypothesis
from earshot.paths import Paths
from models.hypotheses import hypothesis_id
from tests.test_hypotheses import T0, ctx_at, demo_like, market, themes_run
from warehouse.connection import reader

DOWN = hypothesis_id("t_down", "customers_customers")
CYBER = hypothesis_id("t_cyber", "customers_customers")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from earshot.hypotheses import propose_and_measure

    home = tmp_path_factory.mktemp("template")
    themes_run(Paths(home).warehouse, "th1", T0, demo_like())
    propose_and_measure(ctx_at(home, market(), T0))
    return Paths(home).warehouse


@pytest.fixture
def db(earshot_home: Path, template: Path) -> Path:
    target = Paths(earshot_home).warehouse
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, target)
    return target


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["hypotheses", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_list_ranks_what_to_test_first(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"{CYBER}  proposed") and "listening_watch" in lines[0]
    assert lines[1].strip().startswith("Small-business owners (your customers' customers) increasingly talk about")
    assert out.index(CYBER) < out.index(DOWN)  # ranked: the rising theme first
    assert run(capsys, "list", "--status", "testing")[1].startswith("no hypotheses")

    code, out, _ = run(capsys, "list", "--json")
    listed = json.loads(out)
    assert code == 0 and next(h["hypothesis_id"] for h in listed) == CYBER
    first = listed[0]
    assert first["baseline"]["recent"] == 9 and first["latest"]["run_id"] == "th1"
    assert first["quotes"][0]["url"] == "https://ex.test/t_cyber/customers_customers"
    assert first["events"][0]["to_status"] == "proposed" and first["rank"]["reasons"]


def test_record_judges_the_result_and_show_tells_the_whole_story(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    test = ["--kind", "message_test", "--metric", "reply_rate", "--value", "15%", "--sample", "400"]
    code, out, _ = run(capsys, "record", DOWN[:6], *test, "--control", "32/400", "--by", "Ana", "--note", "subject A")
    assert code == 0, out
    assert f"for {DOWN}: validated: reply_rate 15% vs 8% for the control (n = 400 and 400)" in out
    assert "status: proposed → validated" in out

    code, out, _ = run(capsys, "show", DOWN)
    assert code == 0
    for expected in (
        f"{DOWN} · validated",
        "feel real pain around Downtime · lost sales",
        "Message test: send small-business owners",
        "Validated when the tested rate beats the control by at least 20%",
        "baseline  2026-11-16",
        "message_test by Ana: validated",
        "note: subject A",
        "— → proposed by earshot",
        "proposed → testing by earshot: a message_test result was recorded by Ana",
        "testing → validated by earshot",
        "https://ex.test/t_down/customers_customers",
    ):
        assert expected in out, expected
    shown = json.loads(run(capsys, "show", DOWN, "--json")[1])
    assert shown["status"] == "validated" and shown["results"][0]["note"] == "subject A"


def test_set_status_keeps_who_and_why(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "set-status", CYBER, "rejected", "--by", "Ana", "--why", "a one-off news spike")
    assert (code, out.strip()) == (0, f"{CYBER}: proposed → rejected (by Ana: a one-off news spike)")
    assert "already rejected" in run(capsys, "set-status", CYBER, "rejected", "--by", "Ana", "--why", "x")[1]
    with reader(db) as con:
        event = load_hypothesis(con, CYBER).events[-1]
    assert (event.from_status, event.to_status, event.by, event.why, event.manual) == (
        "proposed", "rejected", "Ana", "a one-off news spike", True
    )  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["show", "h_nothere"], "no hypothesis 'h_nothere' (see `earshot hypotheses list`)"),
        (
            [
                "record",
                "h_nothere",
                "--kind",
                "survey",
                "--metric",
                "agree",
                "--value",
                "60%",
                "--sample",
                "120",
                "--by",
                "Ana",
            ],
            "no hypothesis 'h_nothere'",
        ),
        (
            [
                "record",
                DOWN,
                "--kind",
                "survey",
                "--metric",
                "agree",
                "--value",
                "60",
                "--sample",
                "120",
                "--by",
                "Ana",
            ],
            "'60' is not a rate between 0 and 1 (write 5.2% or 0.052, not 5.2)",
        ),
        (
            [
                "record",
                DOWN,
                "--kind",
                "message_test",
                "--metric",
                "reply_rate",
                "--value",
                "5%",
                "--sample",
                "400",
                "--by",
                "Ana",
            ],
            "message_test results need the control group's rate (--control)",
        ),
        (
            ["record", DOWN, "--kind", "survey", "--metric", "agree", "--value", "60%", "--by", "Ana"],
            "sample: how many were reached or asked",
        ),
        (["set-status", "h_nothere", "testing", "--by", "Ana", "--why", "x"], "no hypothesis 'h_nothere'"),
        (["set-status", DOWN, "testing", "--by", "Ana", "--why", " "], "why: say why the status changes"),
    ],
)
def test_mistakes_exit_2_and_name_the_problem(
    db: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.startswith("earshot hypotheses: ") and message in err


def test_bad_choices_are_refused_by_the_parser(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["hypotheses", "record", DOWN, "--kind", "poll", "--metric", "m", "--value", "1%", "--by", "A"])
    assert exited.value.code == 2 and "invalid choice: 'poll'" in capsys.readouterr().err


def test_without_a_warehouse_the_cli_says_what_to_do(earshot_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "list")
    assert code == 2 and "no warehouse at" in err and "earshot run" in err
    assert not Paths(earshot_home).warehouse.exists()
    code, _, err = run(capsys, "set-status", DOWN, "testing", "--by", "A", "--why", "b")
    assert code == 2 and not Paths(earshot_home).warehouse.exists()


CHILD = textwrap.dedent(
    """
    import json, sys
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.pool import Pool
    from airflow.utils.db import upgradedb

    upgradedb()
    Pool.create_or_update_pool("earshot_warehouse", 1, "earshot: one writer", False)
    dag = DagBag(dag_folder=sys.argv[1]).get_dag("earshot_hypotheses_record")
    out = []
    for conf in json.loads(sys.argv[2]):
        try:
            run = dag.test(run_conf=conf)
        except Exception as exc:  # params that break the DAG's schema never start a run
            out.append({"refused": f"{type(exc).__name__}: {exc}"})
            continue
        tis = {ti.task_id: {"state": str(ti.state), "tries": ti.try_number} for ti in run.get_task_instances()}
        out.append({"run_id": run.run_id, "state": str(run.state), "tasks": tis})
    print("RESULT " + json.dumps(out))
    """
)


@pytest.mark.e2e
def test_results_recorded_from_airflow_params(tmp_path: Path, db: Path, earshot_home: Path) -> None:
    from earshot.airflow_runner import airflow_env

    good = {"hypothesis_id": DOWN[:7], "kind": "message_test", "metric": "reply_rate", "value": 0.15, "sample": 400,
            "control": 0.08, "control_sample": 400, "recorded_by": "Ana", "note": "from the UI"}  # fmt: skip
    unknown = {**good, "hypothesis_id": "h_nothere"}
    out_of_range = {**good, "value": 5.2}
    env = airflow_env(tmp_path / "airflow", {**os.environ, "EARSHOT_HOME": str(earshot_home),
                                             "EARSHOT_RETRIES": "1", "EARSHOT_RETRY_DELAY_SECONDS": "1"})  # fmt: skip
    dag_file = Path(__file__).parents[1] / "dags" / "earshot_hypotheses.py"
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(dag_file), json.dumps([good, unknown, out_of_range])],
        env=env, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    recorded, failed, refused = json.loads(proc.stdout.split("RESULT ", 1)[1])

    assert recorded["state"] == "success" and recorded["tasks"]["record"]["state"] == "success"
    assert failed["state"] == "failed"
    assert failed["tasks"]["record"] == {"state": "failed", "tries": 1}  # a wrong id is not retried
    assert "value" in refused["refused"]
    with reader(db) as con:
        view = load_hypothesis(con, DOWN)
        results = con.execute("SELECT source, source_run_id, recorded_by, note FROM hypothesis_results").fetchall()
    assert results == [("airflow", recorded["run_id"], "Ana", "from the UI")]
    assert view.status == "validated"
    assert [(e.to_status, e.run_id) for e in view.events][1:] == [
        ("testing", recorded["run_id"]),
        ("validated", recorded["run_id"]),
    ]
