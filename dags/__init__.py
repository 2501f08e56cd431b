"""Airflow DAG files: wiring only; the work lives in the earshot packages."""
