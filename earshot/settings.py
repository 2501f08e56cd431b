"""earshot's settings from the environment, typed and validated in one place.

Every ``EARSHOT_*`` variable earshot itself reads is a field of :class:`Settings`, with its default; nothing
else reads the environment for them. Read at the moment of use (``Settings.from_environ()``), never cached at
import time, so a test or a child process that sets a variable is obeyed. Not here on purpose: secrets whose
names the listening plan chooses (``credentials_env`` prefixes for SMTP and Reddit) and ``${VAR}`` references
inside ``market.yaml``, which are read where they are used and never stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_core import PydanticUseDefault
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

PREFIX = "EARSHOT_"


class SettingsError(ValueError):
    """An environment variable has a value earshot cannot use; the message names the variable."""


class Settings(BaseSettings):
    """What the environment says; ``EARSHOT_<FIELD>`` sets each field (an empty value means the default)."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_ignore_empty=True, extra="ignore", frozen=True, str_strip_whitespace=True
    )

    home: Path = Field(Path("data"), description="Data directory: warehouse, landing zone, reports.")
    config: Path = Field(Path("market.yaml"), description="The listening plan.")
    warehouse: Path | None = Field(None, description="The DuckDB file (default $EARSHOT_HOME/earshot.duckdb).")
    analyst_snapshot: Path | None = Field(None, description="The analysts' read-only copy (default beside it).")
    retries: int = Field(2, ge=0, le=20, description="Airflow retries of a failed task.")
    retry_delay_seconds: float = Field(120.0, gt=0, description="First Airflow retry delay; doubles each retry.")
    warehouse_lock_wait: float = Field(600.0, ge=0, description="Seconds a writer waits for the warehouse.")
    lake_attempts: int = Field(8, ge=1, description="Tries of one unit of work on DuckLake commit conflicts.")
    report_schedule: str = Field("0 7 * * 1", description="When the report DAG runs: cron or preset.")
    backup_schedule: str = Field("30 2 * * *", description="When the backup DAG runs: cron or preset.")
    backup_keep: int = Field(7, ge=1, description="Warehouse backups kept, newest first.")
    backup_dir: Path | None = Field(None, description="Where backups go (default backups/ beside the warehouse).")
    catalog: str | None = Field(None, description="DuckLake catalog (PostgreSQL), no password.")
    catalog_conn_id: str | None = Field(None, description="Airflow connection holding the DuckLake catalog.")
    lake_data: str | None = Field(None, description="DuckLake's Parquet folder or s3:// URL.")
    demo_home: Path = Field(Path("data/demo"), description="Data directory of `earshot demo`.")
    log_level: str = Field("WARNING", description="Level of earshot's own log lines on the command line.")
    airflow_home: Path | None = Field(
        None,
        validation_alias=AliasChoices("AIRFLOW_HOME"),
        description="Airflow's own variable (default $EARSHOT_HOME/airflow for `earshot airflow` and the demo).",
    )

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        """A variable set to spaces means the default, as an empty one does."""
        if isinstance(value, str) and not value.strip():
            raise PydanticUseDefault
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings in ``environ`` (default: this process's environment).

        Raises:
            SettingsError: a variable holds something unusable, named with the reason.
        """
        try:
            if environ is None:
                return cls()
            return cls(_build_sources=((_MappingSource(cls, environ),), {}))
        except ValidationError as exc:
            problems = []
            for error in exc.errors():
                field = str(error["loc"][0]) if error["loc"] else ""
                name = "AIRFLOW_HOME" if field in {"airflow_home", "AIRFLOW_HOME"} else PREFIX + field.upper()
                problems.append(f"{name}={error.get('input')!r}: {error['msg'].removeprefix('Value error, ')}")
            raise SettingsError("; ".join(problems)) from None


class _MappingSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {name.lower(): value for name, value in self._environ.items() if value != ""}


def settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Shorthand for :meth:`Settings.from_environ`."""
    return Settings.from_environ(environ)


def variables() -> dict[str, str]:
    """Each ``EARSHOT_*`` variable and what it means (for help texts and the docs' table)."""
    return {
        PREFIX + name.upper(): field.description or ""
        for name, field in Settings.model_fields.items()
        if name != "airflow_home"
    }
