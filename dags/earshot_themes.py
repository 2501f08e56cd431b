"""
### earshot · themes

Runs whenever new mentions land (asset `earshot://warehouse/mentions`).

1. **embed** — embeds each distinct mention text once per model (all-MiniLM-L6-v2 by default, loaded
   offline); vectors are cached in the `embeddings` table.
2. **signals** — scores sentiment and the intents marketing acts on (pain, solution and advice
   requests, praise, pricing, competitor mentions) for new or changed mentions.
3. **cluster** — assigns new mentions to the existing themes, or refits (reclusters everything) on
   schedule or when drift is measured (the policy is in `models/refit_policy.py`); labels themes with
   distinctive keyphrases, picks representative quotes, keeps theme ids stable and records merges and
   splits in `theme_lineage`.
4. **trends** — per theme and audience: weekly volume, growth against a baseline window with an exact
   significance test, emerging flag, spread across audiences, influencer echo (`theme_snapshots`).
5. **hypotheses** — proposes hypotheses from the snapshots by the rules in `market.yaml`, re-measures
   every open hypothesis against its baseline and applies the verdicts.
6. **publish** — updates the `earshot://warehouse/themes` asset, which triggers **earshot_report**
   between its weekly runs, only when the theme landscape changed: a theme appeared, merged, split or
   retired, or a hypothesis was proposed or changed status. Otherwise it is *skipped*, and its log says
   that nothing changed.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from earshot.airflow_support import MENTIONS, THEMES, WAREHOUSE_POOL, default_args


@dag(
    dag_id="earshot_themes",
    schedule=[MENTIONS],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["earshot", "themes"],
    default_args=default_args(),
    dagrun_timeout=timedelta(hours=10),  # a first embedding of a large corpus on CPUs takes hours
    doc_md=__doc__,
)
def earshot_themes() -> None:
    @task(execution_timeout=timedelta(hours=4))
    def embed(**context: object) -> dict:
        """Embed new texts; holds the warehouse lock only to read inputs and write vectors."""
        from earshot import themes
        from earshot.airflow_support import run_context

        return themes.embed(run_context(context))

    @task(pool=WAREHOUSE_POOL, execution_timeout=timedelta(hours=1))
    def signals(**context: object) -> dict:
        """Score sentiment and intents of new or changed mentions."""
        from earshot import themes
        from earshot.airflow_support import run_context

        return themes.signals(run_context(context))

    @task(pool=WAREHOUSE_POOL, execution_timeout=timedelta(hours=3))
    def cluster(**context: object) -> dict:
        """Assign or refit, label and identify themes for this run."""
        from earshot import themes
        from earshot.airflow_support import run_context

        return themes.cluster(run_context(context))

    @task(pool=WAREHOUSE_POOL, execution_timeout=timedelta(minutes=30))
    def trends(**context: object) -> dict:
        """Snapshot volume, growth and significance per theme and audience."""
        from earshot import trends
        from earshot.airflow_support import run_context

        return trends.snapshot(run_context(context))

    @task(pool=WAREHOUSE_POOL, execution_timeout=timedelta(minutes=30))
    def hypotheses(**context: object) -> dict:
        """Propose hypotheses from the snapshots; re-measure open ones against their baseline."""
        from earshot import hypotheses
        from earshot.airflow_support import run_context

        return hypotheses.propose_and_measure(run_context(context))

    @task(outlets=[THEMES], execution_timeout=timedelta(minutes=5))
    def publish(clustered: dict, proposed: dict) -> str:
        """Update the themes asset (and so trigger a report) only when the theme landscape changed."""
        from airflow.sdk.exceptions import AirflowSkipException

        from earshot.report_triggers import theme_news

        news = theme_news(clustered, proposed)
        if news is None:
            raise AirflowSkipException("no theme news (no theme appeared, merged, split or retired; no hypothesis "
                                       "proposed or changed status): the report waits for its weekly run")  # fmt: skip
        return news

    clustered = cluster()
    proposed = hypotheses()
    [embed(), signals()] >> clustered >> trends() >> proposed
    publish(clustered, proposed)


earshot_themes()
