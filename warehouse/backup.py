"""Backups of the warehouse file: consistent, written atomically beside the data, kept N deep, restorable.

A backup is a byte copy of the DuckDB file taken under the writer lock once any log a killed writer left
has been folded in, so the copy holds every commit and nothing changes the file while it is copied
(writers wait for the copy; readers do not). The copy is written under a temporary name, flushed to disk,
opened in a child process to prove it reads (schema version and mention count go in its ``.json`` note),
and only then renamed into place, so a backup folder never holds half a file. Older backups beyond
``keep`` are deleted. :func:`restore` swaps a backup in under the writer lock and keeps the file it
replaces beside it. On DuckLake there is no file: back up the catalog database and the data path instead.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from earshot.settings import settings
from warehouse import wal
from warehouse.connection import exclusive, held, is_lake

KEEP = settings().backup_keep
SUFFIX = ".duckdb"


class BackupError(RuntimeError):
    """A backup could not be taken, read or restored; says which file and why."""


@dataclass(frozen=True)
class Backup:
    path: Path
    created_at: datetime
    bytes: int
    schema_version: int | None
    mentions: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path), "created_at": self.created_at.isoformat(), "bytes": self.bytes,
            "schema_version": self.schema_version, "mentions": self.mentions,
        }  # fmt: skip


def backup_dir(db_path: Path) -> Path:
    """``EARSHOT_BACKUP_DIR``, or ``backups/`` beside the warehouse file."""
    return Path(settings().backup_dir or Path(db_path).parent / "backups")


def _refuse_lake(what: str) -> None:
    if is_lake():
        raise BackupError(
            f"{what}: the warehouse is a DuckLake (EARSHOT_CATALOG): back up its PostgreSQL catalog (pg_dump) and its "
            "data path (EARSHOT_LAKE_DATA) instead; docs/scale-out.md"
        )


def create(db_path: Path, *, at: datetime, keep: int = KEEP, folder: Path | None = None) -> Backup:
    """Take a consistent backup of ``db_path`` into ``folder`` (default :func:`backup_dir`); keep ``keep``."""
    _refuse_lake("earshot backup")
    db_path, folder = Path(db_path), Path(folder or backup_dir(db_path))
    if not db_path.exists():
        raise BackupError(f"no warehouse at {db_path} to back up: run `earshot run` first")
    if keep < 1:
        raise BackupError(f"keep must be at least 1 (got {keep})")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{db_path.stem}-{at.astimezone(UTC):%Y%m%dT%H%M%SZ}{SUFFIX}"
    taken = next((b for b in list_backups(db_path, folder) if b.path == target), None)
    if taken is not None:  # a retried task, or a second backup within the same second: it is there already
        return taken
    _remove_stale_scratch(folder, at)
    scratch = folder / f".{target.name}.{os.getpid()}.tmp"
    try:
        with exclusive(db_path):  # every commit is in the file, and no writer can change it while we copy
            _copy_durably(db_path, scratch)
        probe = wal.check(scratch)  # opened in a child: a copy that does not read is never kept
        if not probe.ok:
            raise BackupError(f"the copy of {db_path} does not read back ({probe.error}); nothing kept")
        backup = Backup(target, at.astimezone(UTC), scratch.stat().st_size, probe.facts.get("version"),
                        probe.facts.get("mentions"))  # fmt: skip
        _write_note(backup)
        scratch.replace(target)
        _fsync_dir(folder)
    finally:
        scratch.unlink(missing_ok=True)
    for old in list_backups(db_path, folder)[keep:]:
        old.path.unlink(missing_ok=True)
        _note_path(old.path).unlink(missing_ok=True)
    return backup


def list_backups(db_path: Path, folder: Path | None = None) -> list[Backup]:
    """The backups of ``db_path``, newest first."""
    folder = Path(folder or backup_dir(db_path))
    found = []
    for path in folder.glob(f"{Path(db_path).stem}-*{SUFFIX}"):
        note = _note_path(path)
        facts = json.loads(note.read_text(encoding="utf-8")) if note.exists() else {}
        stamp = path.name.removeprefix(f"{Path(db_path).stem}-").removesuffix(SUFFIX)
        try:
            created = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            continue  # not one of ours
        found.append(Backup(path, created, path.stat().st_size, facts.get("schema_version"), facts.get("mentions")))
    return sorted(found, key=lambda b: b.created_at, reverse=True)


@dataclass(frozen=True)
class Restored:
    backup: Backup
    replaced: Path | None  # where the file it replaced was kept (None: there was none)


def restore(db_path: Path, *, at: datetime, name: str | None = None, folder: Path | None = None) -> Restored:
    """Put a backup (``name``: a file name or path; default the newest) in place of ``db_path``.

    The current file (and a log beside it, replayable or not) is kept as ``<file>.replaced-<time>``: a restore
    can be undone by hand. Works on a warehouse that cannot be opened: the log is not replayed first.
    """
    _refuse_lake("earshot restore")
    db_path = Path(db_path)
    backups = list_backups(db_path, folder)
    if name:
        chosen = next((b for b in backups if name in (b.path.name, str(b.path))), None)
        if chosen is None and Path(name).is_file():
            chosen = Backup(Path(name), at, Path(name).stat().st_size, None, None)
        if chosen is None:
            raise BackupError(f"no backup named {name!r} in {Path(folder or backup_dir(db_path))}")
    elif backups:
        chosen = backups[0]
    else:
        raise BackupError(f"no backups in {Path(folder or backup_dir(db_path))}: take one with `earshot backup`")
    probe = wal.check(chosen.path)
    if not probe.ok:
        raise BackupError(f"backup {chosen.path} does not read ({probe.error}); the warehouse was not touched")
    scratch = db_path.with_name(f".{db_path.name}.restore.{os.getpid()}.tmp")
    kept = db_path.with_name(f"{db_path.name}.replaced-{at.astimezone(UTC):%Y%m%dT%H%M%SZ}")
    try:
        with held(db_path):  # the writer lock, without replaying the current log: it may be the problem
            _copy_durably(chosen.path, scratch)
            if db_path.exists():
                db_path.replace(kept)
            if wal.wal_path(db_path).exists():
                wal.wal_path(db_path).replace(kept.with_name(kept.name + ".wal"))
            scratch.replace(db_path)
            _fsync_dir(db_path.parent)
    finally:
        scratch.unlink(missing_ok=True)
    replaced = kept if kept.exists() else None
    return Restored(chosen, replaced)


def _remove_stale_scratch(folder: Path, at: datetime) -> None:
    """Half-written copies of backups that were killed (a day old: no live backup takes that long)."""
    for leftover in folder.glob(".*.tmp"):
        if at.timestamp() - leftover.stat().st_mtime > 86_400:
            leftover.unlink(missing_ok=True)


def _copy_durably(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)
    with target.open("rb+") as handle:
        os.fsync(handle.fileno())


def _note_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _write_note(backup: Backup) -> None:
    note = _note_path(backup.path)
    scratch = note.with_name(f".{note.name}.tmp")
    scratch.write_text(json.dumps(backup.as_json(), indent=1) + "\n", encoding="utf-8")
    scratch.replace(note)


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX); a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
