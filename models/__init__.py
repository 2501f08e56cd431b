"""Pure modelling: embedding, themes, signals, hypotheses. No network, no DuckDB, no Airflow."""
