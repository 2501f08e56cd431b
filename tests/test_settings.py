"""earshot/settings.py: the one typed reader of earshot's environment variables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from earshot.paths import Paths, lake_data
from earshot.settings import Settings, SettingsError, settings, variables

REPO = Path(__file__).resolve().parent.parent


def test_defaults_are_the_documented_ones() -> None:
    s = settings({})
    assert (s.home, s.config, s.warehouse, s.retries, s.retry_delay_seconds) == (
        Path("data"), Path("market.yaml"), None, 2, 120.0
    )  # fmt: skip
    assert (s.warehouse_lock_wait, s.lake_attempts, s.report_schedule, s.catalog, s.log_level) == (
        600.0, 8, "0 7 * * 1", None, "WARNING"
    )  # fmt: skip


def test_values_are_typed_and_blank_means_the_default() -> None:
    s = settings({"EARSHOT_RETRIES": "5", "EARSHOT_RETRY_DELAY_SECONDS": "1.5", "EARSHOT_REPORT_SCHEDULE": "  ",
                  "EARSHOT_CATALOG": " ", "EARSHOT_LOG_LEVEL": "debug", "UNRELATED": "x"})  # fmt: skip
    assert (s.retries, s.retry_delay_seconds, s.report_schedule, s.catalog, s.log_level) == (
        5, 1.5, "0 7 * * 1", None, "DEBUG"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"EARSHOT_RETRIES": "twice"}, "EARSHOT_RETRIES='twice'"),
        ({"EARSHOT_RETRIES": "-1"}, "EARSHOT_RETRIES='-1'"),
        ({"EARSHOT_RETRY_DELAY_SECONDS": "0"}, "EARSHOT_RETRY_DELAY_SECONDS='0'"),
        ({"EARSHOT_LOG_LEVEL": "loud"}, "EARSHOT_LOG_LEVEL='loud'"),
    ],
)
def test_a_bad_value_names_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(named)):
        settings(environ)


def test_the_process_environment_is_read_at_the_moment_of_use(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EARSHOT_HOME", str(tmp_path / "a"))
    assert Paths.from_env().home == tmp_path / "a"
    monkeypatch.setenv("EARSHOT_HOME", str(tmp_path / "b"))
    monkeypatch.setenv("EARSHOT_WAREHOUSE", str(tmp_path / "w.duckdb"))
    paths = Paths.from_env()
    assert (paths.home, paths.warehouse) == (tmp_path / "b", tmp_path / "w.duckdb")
    assert lake_data(paths.home, {"EARSHOT_LAKE_DATA": "s3://bucket/x"}) == "s3://bucket/x/"


def test_settings_is_the_only_reader_of_earshot_variables() -> None:
    """No module outside earshot/settings.py looks up an EARSHOT_* variable itself."""
    lookup = re.compile(r"""(environ\.get\(|getenv\(|environ\[)\s*f?["']EARSHOT_\w*["'](?!\]\s*=[^=])""")
    offenders = []
    for folder in ("earshot", "listeners", "models", "warehouse", "reports", "dags"):
        for path in (REPO / folder).rglob("*.py"):
            if path.name != "settings.py" and lookup.search(path.read_text(encoding="utf-8")):
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


def test_the_readme_lists_every_variable() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = [name for name in variables() if f"`{name}`" not in readme]
    assert missing == []
    assert set(variables()) == {"EARSHOT_" + name.upper() for name in Settings.model_fields if name != "airflow_home"}
