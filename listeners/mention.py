"""The normalised unit every listener produces: one row per source item."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime


def stable_id(*parts: str) -> str:
    """A short, stable identifier derived from its parts (same parts → same id, across runs)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:24]


def content_hash(text: str) -> str:
    """Key for embeddings: identical texts are embedded once, whatever source they came from."""
    normalised = " ".join(text.split()).casefold()
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Mention:
    """One item heard from one source, normalised.

    ``mention_id`` is stable across runs (source id + the item's own id or link), so re-fetching an
    item upserts it instead of duplicating it.
    """

    mention_id: str
    source_id: str
    audience: str
    url: str | None
    author: str | None
    title: str
    text: str
    published_at: datetime | None
    content_hash: str

    @property
    def body(self) -> str:
        return mention_body(self.title, self.text)


def mention_body(title: str | None, text: str | None) -> str:
    """The text that is embedded and clustered: title and text together, the title not repeated."""
    title, text = (title or "").strip(), (text or "").strip()
    if title and text and not text.startswith(title):
        return f"{title.rstrip('.')}. {text}"
    return text or title
