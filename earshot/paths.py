"""Where earshot keeps things. Every path comes from the environment, with sane defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paths:
    """The data directory and everything under it."""

    home: Path

    @classmethod
    def from_env(cls) -> Paths:
        """``EARSHOT_HOME`` (default ``./data``), made absolute so tasks in other processes agree."""
        return cls(Path(os.environ.get("EARSHOT_HOME", "data")).resolve())

    @property
    def warehouse(self) -> Path:
        return Path(os.environ.get("EARSHOT_WAREHOUSE", self.home / "earshot.duckdb"))

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
