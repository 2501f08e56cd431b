"""
### earshot · record a hypothesis test result

Marketing ran a test of a hypothesis (a message test, a survey, a content piece, interviews) and
records its result here. earshot judges it by the hypothesis's success criteria and moves its status
(`proposed → testing → validated | rejected`); every change is kept with when, by whom and why.

**How to record a result from the UI**

1. Find the hypothesis id: `earshot hypotheses list` (or the report's hypotheses section).
2. Open this DAG, click **Trigger DAG w/ config** (the ▶ button, then *Trigger DAG w/ config*).
3. Fill in the form:
   * `hypothesis_id` — e.g. `h_1a2b3c4d5e` (a unique prefix is enough);
   * `kind` — `message_test`, `survey`, `content` or `interview`;
   * `metric` — what was measured: `reply_rate`, `click_rate`, `agree` …;
   * `value` — the tested rate or share, between 0 and 1 (`0.052` for 5.2 %);
   * `sample` — how many were reached or asked;
   * `control` / `control_sample` — the control group's rate and size (message tests and content
     pieces are judged with a two-proportion test against it);
   * `recorded_by` — your name; `note` — anything worth keeping.
4. Trigger. The `record` task's log and XCom show the verdict and the new status.

A wrong id or value fails the task at once (no retry) with a message naming the problem. Re-running
the same DAG run never records the result twice. The same can be done from a shell:
`earshot hypotheses record ID --kind message_test --metric reply_rate --value 5.2% --sample 400
--control 3.1% --by "Ana"`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task

from earshot.airflow_support import WAREHOUSE_POOL, default_args

KINDS = ["message_test", "survey", "content", "interview"]


@dag(
    dag_id="earshot_hypotheses_record",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["earshot", "hypotheses"],
    default_args=default_args(),
    dagrun_timeout=timedelta(minutes=30),
    doc_md=__doc__,
    params={
        "hypothesis_id": Param(
            "", type="string", minLength=4, title="Hypothesis id", description="From `earshot hypotheses list`."
        ),
        "kind": Param("message_test", type="string", enum=KINDS, title="Kind of test"),
        "metric": Param("reply_rate", type="string", minLength=1, title="Metric", description="What was measured."),
        "value": Param(
            0.0, type="number", minimum=0, maximum=1, title="Value", description="Tested rate or share, 0..1."
        ),
        "sample": Param(None, type=["null", "integer"], minimum=1, title="Sample", description="How many reached."),
        "control": Param(
            None,
            type=["null", "number"],
            minimum=0,
            maximum=1,
            title="Control rate",
            description="Control group, 0..1.",
        ),
        "control_sample": Param(None, type=["null", "integer"], minimum=1, title="Control sample"),
        "recorded_by": Param("", type="string", minLength=1, title="Recorded by"),
        "note": Param("", type="string", title="Note"),
    },
)
def earshot_hypotheses_record() -> None:
    @task(pool=WAREHOUSE_POOL, execution_timeout=timedelta(minutes=10))
    def record(**context: object) -> dict:
        """Record the result and apply the status flow; a bad id or value fails without retrying."""
        from airflow.sdk.exceptions import AirflowFailException

        from earshot.hypotheses import HypothesisError, record_from_params
        from earshot.paths import Paths

        params, run_after = dict(context["params"]), context["dag_run"].run_after  # type: ignore[call-overload, attr-defined]
        try:
            return record_from_params(Paths.from_env().warehouse, params, run_id=str(context["run_id"]), at=run_after)
        except HypothesisError as exc:
            raise AirflowFailException(f"cannot record this result: {exc}") from None

    record()


earshot_hypotheses_record()
