"""The landing zone: every raw payload as fetched, append-only, compressed, replayable.

Layout: ``landing/source=<id>/date=<YYYY-MM-DD>/<HHMMSS>-<digest>.<ext>.gz`` with a ``.json`` sidecar
holding the URL, status and response headers. Identical payloads on the same day share a digest and
are written once.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from datetime import datetime
from pathlib import Path


def land(root: Path, source_id: str, fetched_at: datetime, body: bytes, meta: dict[str, object]) -> Path:
    """Store ``body`` under the landing zone and return its path."""
    digest = hashlib.sha256(body).hexdigest()[:16]
    folder = root / f"source={source_id}" / f"date={fetched_at:%Y-%m-%d}"
    folder.mkdir(parents=True, exist_ok=True)
    existing = sorted(folder.glob(f"*-{digest}.payload.gz"))
    if existing:
        return existing[0]
    path = folder / f"{fetched_at:%H%M%S}-{digest}.payload.gz"
    atomic_write(path, gzip.compress(body, mtime=0))
    sidecar = {"source_id": source_id, "fetched_at": fetched_at.isoformat(), "sha256_16": digest, **meta}
    atomic_write(path.with_suffix("").with_suffix(".json"), json.dumps(sidecar, indent=1).encode())
    return path


def read_payload(path: Path) -> bytes:
    return gzip.decompress(Path(path).read_bytes())


def atomic_write(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename: readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
