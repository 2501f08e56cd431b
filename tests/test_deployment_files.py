"""docker-compose.yml and the Dockerfile, checked statically (no Docker engine runs here)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parents[1]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_is_valid_and_complete() -> None:
    services = compose()["services"]
    assert {
        "postgres",
        "airflow-init",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
    } <= set(services)
    init = services["airflow-init"]["command"]
    assert "db migrate" in init and "pools set earshot_warehouse 1" in init
    for name, service in services.items():
        if name.startswith("airflow"):
            assert "earshot-data:/opt/earshot-data" in service["volumes"], name
            assert service["environment"]["EARSHOT_HOME"] == "/opt/earshot-data"


def test_every_file_the_image_copies_exists() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = [src for line in re.findall(r"^COPY (?:--\S+ )*(.+) \S+$", dockerfile, re.M) for src in line.split()]
    assert copied
    for source in copied:
        assert (ROOT / source).exists(), source


def test_versions_agree_with_pyproject_and_constraints() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    airflow = re.search(r"ARG AIRFLOW_VERSION=(\S+)", dockerfile).group(1)  # type: ignore[union-attr]
    python = re.search(r"-python(\d+\.\d+)", dockerfile).group(1)  # type: ignore[union-attr]
    pins = {
        canonicalize_name(name): version
        for name, version in (
            line.split("==", 1)
            for line in (ROOT / "constraints.txt").read_text().splitlines()
            if "==" in line and not line.startswith("#")
        )
    }
    assert pins["apache-airflow"] == airflow
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "apache-airflow>=3.3,<3.4" in project["dependencies"] and airflow.startswith("3.3.")
    assert SpecifierSet(project["requires-python"]).contains(f"{python}.0")
    assert pins["torch"] == "2.13.0" and "torch==2.13.0" in project["dependencies"]
    assert pins["duckdb"] == "1.5.5"
    for ext in ("vss", "fts", "ducklake"):
        assert pins[f"duckdb-extension-{ext}"] == pins["duckdb"]
