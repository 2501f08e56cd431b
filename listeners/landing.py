"""The landing zone: every raw payload as fetched, append-only, compressed, replayable.

Layout, per source and UTC day::

    landing/source=<id>/date=<YYYY-MM-DD>/<sha256 prefix>.payload.gz   the bytes, stored once
    landing/source=<id>/date=<YYYY-MM-DD>/manifest.jsonl               one line per fetch

A manifest line records the run, the source's configuration at the time, each payload's file and
metadata, and the cursor the fetch produced: everything ``earshot replay`` needs to rebuild the
mentions without the network.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any


def store_payload(root: Path, source_id: str, fetched_at: datetime, body: bytes) -> Path:
    """Store ``body`` (once per day and content) and return its path."""
    folder = _folder(root, source_id, fetched_at)
    path = folder / f"{hashlib.sha256(body).hexdigest()[:24]}.payload.gz"
    if not path.exists():
        atomic_write(path, gzip.compress(body, mtime=0))
    return path


def append_manifest(root: Path, source_id: str, fetched_at: datetime, entry: dict[str, Any]) -> Path:
    """Record one fetch. One line, one ``write`` on an ``O_APPEND`` file: lines never interleave."""
    path = _folder(root, source_id, fetched_at) / "manifest.jsonl"
    line = (json.dumps(entry, sort_keys=True, default=str) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    return path


def read_manifests(root: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every manifest line under ``root`` with the folder holding its payloads, in no particular order."""
    for path in sorted(root.glob("source=*/date=*/manifest.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    yield path.parent, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{number}: unreadable manifest line ({exc})") from None


def read_payload(path: Path) -> bytes:
    return gzip.decompress(Path(path).read_bytes())


def _folder(root: Path, source_id: str, fetched_at: datetime) -> Path:
    folder = root / f"source={source_id}" / f"date={fetched_at:%Y-%m-%d}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def atomic_write(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename: readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
