"""Run identity: every stage of one run shares a run id and a logical time (never ``now()`` in logic)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from earshot.config import Market, load_market
from earshot.paths import Paths, config_path


@dataclass(frozen=True)
class RunContext:
    """Everything a stage needs to know about the run it belongs to."""

    run_id: str
    run_at: datetime
    paths: Paths
    market: Market

    @classmethod
    def create(cls, run_id: str | None = None, run_at: datetime | None = None) -> RunContext:
        """From the environment: ``EARSHOT_HOME`` and ``EARSHOT_CONFIG``."""
        at = (run_at or datetime.now(UTC)).astimezone(UTC)
        return cls(
            run_id=run_id or f"cli__{at:%Y-%m-%dT%H:%M:%S.%f}",
            run_at=at,
            paths=Paths.from_env().ensure(),
            market=load_market(config_path()),
        )
