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
   every open hypothesis against its baseline and applies the verdicts; updates the
   `earshot://warehouse/themes` asset (the weekly **earshot_report** reads it).
"""

from __future__ import annotations

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
    doc_md=__doc__,
)
def earshot_themes() -> None:
    @task
    def embed(**context: object) -> dict:
        """Embed new texts; holds the warehouse lock only to read inputs and write vectors."""
        from earshot import themes
        from earshot.airflow_support import run_context

        return themes.embed(run_context(context))

    @task(pool=WAREHOUSE_POOL)
    def signals(**context: object) -> dict:
        """Score sentiment and intents of new or changed mentions."""
        from earshot import themes
        from earshot.airflow_support import run_context

        return themes.signals(run_context(context))

    @task(pool=WAREHOUSE_POOL)
    def cluster(**context: object) -> dict:
        """Assign or refit, label and identify themes for this run."""
        from earshot import themes
        from earshot.airflow_support import run_context

        return themes.cluster(run_context(context))

    @task(pool=WAREHOUSE_POOL)
    def trends(**context: object) -> dict:
        """Snapshot volume, growth and significance per theme and audience."""
        from earshot import trends
        from earshot.airflow_support import run_context

        return trends.snapshot(run_context(context))

    @task(pool=WAREHOUSE_POOL, outlets=[THEMES])
    def hypotheses(**context: object) -> dict:
        """Propose hypotheses from the snapshots; re-measure open ones against their baseline."""
        from earshot import hypotheses
        from earshot.airflow_support import run_context

        return hypotheses.propose_and_measure(run_context(context))

    [embed(), signals()] >> cluster() >> trends() >> hypotheses()


earshot_themes()
