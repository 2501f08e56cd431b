"""Where earshot keeps things: every path from the settings (``earshot.settings``), with sane defaults."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from earshot.settings import settings


class HomeError(OSError):
    """``EARSHOT_HOME`` cannot be used as a data directory; the message says why in one line."""


@dataclass(frozen=True)
class Paths:
    """The data directory and everything under it."""

    home: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Paths:
        """``EARSHOT_HOME`` (default ``./data``), made absolute so tasks in other processes agree."""
        return cls(settings(environ).home.resolve())

    @property
    def warehouse(self) -> Path:
        return settings().warehouse or self.home / "earshot.duckdb"

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
        return settings().airflow_home or self.home / "airflow"

    def ensure(self) -> Paths:
        """Create the folders; a home that is a file or cannot be written raises :class:`HomeError`."""
        check_home(self.home)
        try:
            for folder in (self.home, self.landing, self.outcomes, self.reports):
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise HomeError(f"EARSHOT_HOME={self.home}: cannot create {folder} ({exc.strerror or exc})") from None
        return self


def check_home(home: Path) -> None:
    """Whether ``home`` is, or can become, a folder earshot writes in; :class:`HomeError` says why not in one
    line. Nothing is created: the nearest existing folder is tried with a temporary file (permission bits
    say nothing for root or a read-only file system)."""
    where = f"EARSHOT_HOME={home}"
    existing = next((p for p in (home, *home.parents) if p.exists()), None)
    if existing is None:
        return
    if not existing.is_dir():
        what = "is a file, not a folder" if existing == home else f"cannot be created: {existing} is a file"
        raise HomeError(f"{where}: {what}")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise HomeError(f"{where}: cannot write in {existing} ({exc.strerror or exc})") from None


def config_path() -> Path:
    """The listening plan: ``EARSHOT_CONFIG`` or ``./market.yaml``."""
    return settings().config.resolve()


def lake_data(home: Path, environ: Mapping[str, str] | None = None) -> str:
    """``EARSHOT_LAKE_DATA``: a directory (made absolute) or an object-store URL such as ``s3://bucket/earshot/``;
    default ``$EARSHOT_HOME/lake/``."""
    value = settings(environ).lake_data or ""
    if "://" in value:
        return value if value.endswith("/") else value + "/"
    return f"{Path(value).resolve() if value else home / 'lake'}/"


def catalog_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """``EARSHOT_CATALOG``: the DuckLake catalog (``postgres:dbname=earshot host=... user=...``, no password);
    unset means the single DuckDB file (``EARSHOT_WAREHOUSE``)."""
    return settings(environ).catalog


def catalog_conn_id(environ: Mapping[str, str] | None = None) -> str | None:
    """``EARSHOT_CATALOG_CONN_ID``: an Airflow connection holding the PostgreSQL catalog, password included."""
    return settings(environ).catalog_conn_id
