"""The normalised unit every listener produces: one row per source item."""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from listeners.text import valid_unicode


def stable_id(*parts: str) -> str:
    """A short, stable identifier derived from its parts (same parts → same id, across runs)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return digest[:24]


def content_hash(text: str) -> str:
    """Key for embeddings: identical texts are embedded once, whatever source they came from."""
    normalised = " ".join(text.split()).casefold()
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Mention:
    """One item heard from one source, normalised.

    ``mention_id`` is stable across runs (source id + the item's own id or link), so re-fetching an
    item upserts it instead of duplicating it. ``content_hash`` must be ``content_hash(self.body)``:
    build mentions with :func:`make_mention`, which fills it in.
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
    kind: str = "post"  # post | comment | article | review
    parent_id: str | None = None  # the mention a comment replies to
    score: int | None = None  # engagement: votes, points
    comments: int | None = None  # engagement: replies
    rating: float | None = None  # reviews: stars
    flags: tuple[str, ...] = ()  # e.g. "nsfw", "removed", "deleted"
    influencer: bool = False  # said by a source or author named as an influencer

    @property
    def body(self) -> str:
        return mention_body(self.title, self.text)


def mention_body(title: str | None, text: str | None) -> str:
    """The text that is embedded and clustered: title and text together, the title not repeated."""
    title, text = (title or "").strip(), (text or "").strip()
    if title and text and not text.startswith(title):
        return f"{title.rstrip('.')}. {text}"
    return text or title


INT32 = 2**31 - 1  # the warehouse's INTEGER columns (score, comments)
_TEXT_FIELDS = ("title", "text")
_OPTIONAL_TEXT_FIELDS = ("url", "author")


def _optional_text(value: object) -> str | None:
    return valid_unicode(value) if isinstance(value, str) and value else None


def _count(value: object) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and -INT32 - 1 <= value <= INT32
    return value if ok else None  # type: ignore[return-value]


def _rating(value: object) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None  # type: ignore[arg-type]


def make_mention(**fields: object) -> Mention:
    """A :class:`Mention` with its ``content_hash`` computed from its title and text.

    Whatever a source sent, the fields come out as the warehouse stores them: text is text (lone surrogates
    replaced), counts fit an INTEGER, a rating is a finite number, else they are left empty. One odd value
    must never fail the load that every other source's mentions share.
    """
    fields.setdefault("content_hash", "")
    for name in _TEXT_FIELDS:
        value = fields.get(name)
        fields[name] = valid_unicode(value) if isinstance(value, str) else ""
    for name in _OPTIONAL_TEXT_FIELDS:
        fields[name] = _optional_text(fields.get(name))
    for name in ("score", "comments"):
        fields[name] = _count(fields.get(name))
    fields["rating"] = _rating(fields.get("rating"))
    if not isinstance(fields.get("published_at"), datetime):
        fields["published_at"] = None
    draft = Mention(**fields)  # type: ignore[arg-type]
    return replace(draft, content_hash=content_hash(draft.body))


_TRACKING_PARAMS = re.compile(r"^(utm_[a-z]+|fbclid|gclid|mc_cid|mc_eid|ref|ref_src|igshid)$", re.IGNORECASE)
_WORD = re.compile(r"\w+")
NEAR_KEY_MIN_WORDS = 8


def canonical_url(url: str | None) -> str | None:
    """The URL as a conversation key: scheme and host lower-cased, ``www.``, fragments, trailing slashes
    and tracking parameters dropped, remaining parameters sorted. ``None`` for non-web URLs."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    host = parts.netloc.lower().removeprefix("www.")
    query = urlencode(
        sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING_PARAMS.match(k))
    )
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(("https", host, path, query, ""))


def near_key(text: str) -> str | None:
    """Key under which near-identical texts (same words; case, punctuation and spacing aside) meet.
    Short texts ("Thanks!", "+1") get none: they are not the same conversation just by being alike."""
    words = _WORD.findall(text.casefold())
    if len(words) < NEAR_KEY_MIN_WORDS:
        return None
    return hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest()[:32]
