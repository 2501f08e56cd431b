"""Where earshot keeps things. Every path comes from the environment, with sane defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paths:
    """The data directory and everything under it."""

    home: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Paths:
        """``EARSHOT_HOME`` (default ``./data``), made absolute so tasks in other processes agree."""
        env = os.environ if environ is None else environ
        return cls(Path(env.get("EARSHOT_HOME", "data")).resolve())

    @property
    def warehouse(self) -> Path:
        return Path(os.environ.get("EARSHOT_WAREHOUSE", self.home / "earshot.duckdb"))

    @property
    def lake_data(self) -> str:
        """Where a DuckLake warehouse keeps its Parquet files (only used when a catalog is set)."""
        return lake_data(self.home)

    @property
    def landing(self) -> Path:
        """Raw payloads as fetched, append-only, partitioned by source and date."""
        return self.home / "landing"

    @property
    def outcomes(self) -> Path:
        """Per-run, per-source fetch outcomes: how a failed fetch task still reaches the warehouse."""
        return self.home / "outcomes"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def airflow_home(self) -> Path:
        return Path(os.environ.get("AIRFLOW_HOME", self.home / "airflow"))

    def ensure(self) -> Paths:
        for folder in (self.home, self.landing, self.outcomes, self.reports):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def config_path() -> Path:
    """The listening plan: ``EARSHOT_CONFIG`` or ``./market.yaml``."""
    return Path(os.environ.get("EARSHOT_CONFIG", "market.yaml")).resolve()


def lake_data(home: Path, environ: Mapping[str, str] | None = None) -> str:
    """``EARSHOT_LAKE_DATA``: a directory (made absolute) or an object-store URL such as ``s3://bucket/earshot/``;
    default ``$EARSHOT_HOME/lake/``."""
    env = os.environ if environ is None else environ
    value = env.get("EARSHOT_LAKE_DATA", "").strip()
    if "://" in value:
        return value if value.endswith("/") else value + "/"
    return f"{Path(value).resolve() if value else home / 'lake'}/"


def catalog_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """``EARSHOT_CATALOG``: the DuckLake catalog (``postgres:dbname=earshot host=... user=...``, no password);
    unset means the single DuckDB file (``EARSHOT_WAREHOUSE``)."""
    env = os.environ if environ is None else environ
    return env.get("EARSHOT_CATALOG", "").strip() or None


def catalog_conn_id(environ: Mapping[str, str] | None = None) -> str | None:
    """``EARSHOT_CATALOG_CONN_ID``: an Airflow connection holding the PostgreSQL catalog, password included."""
    env = os.environ if environ is None else environ
    return env.get("EARSHOT_CATALOG_CONN_ID", "").strip() or None
