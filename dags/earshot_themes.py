"""
### earshot · themes

Runs whenever new mentions land (asset `earshot://warehouse/mentions`).

1. **embed** — embeds each distinct mention text once per model (all-MiniLM-L6-v2 by default, loaded
   offline); vectors are cached in the `embeddings` table.
2. **signals** — scores sentiment and the intents marketing acts on (pain, solution and advice
   requests, praise, pricing, competitor mentions) for new or changed mentions.
3. **cluster** — reduces dimensions, clusters with HDBSCAN, labels themes with distinctive
   keyphrases (class-based TF-IDF), picks representative quotes and keeps theme ids stable across
   runs. Writes this run's partition of `theme_members` / `theme_quotes` and updates the
   `earshot://warehouse/themes` asset, which triggers **earshot_report**.
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

    @task(pool=WAREHOUSE_POOL, outlets=[THEMES])
    def cluster(**context: object) -> dict:
        """Cluster, label and identify themes for this run."""
        from earshot import themes
        from earshot.airflow_support import run_context

        return themes.cluster(run_context(context))

    [embed(), signals()] >> cluster()


earshot_themes()
