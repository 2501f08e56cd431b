"""Text from untrusted input: HTML to plain text for mentions, and short escaped excerpts for messages."""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser

_BLOCK = {
    "p", "div", "br", "li", "ul", "ol", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "pre", "section", "article", "header", "footer", "table", "hr",
}  # fmt: skip
_SKIP = {"script", "style", "noscript", "template", "head", "iframe", "object", "svg"}
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_LINES = re.compile(r"\s*\n\s*")
# Control characters, line and paragraph separators, bidirectional overrides and lone surrogates: what would
# break a log line, repaint a terminal, reorder what a reader sees, or fail a UTF-8 encoder.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skipping += 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(value: str | None) -> str:
    """Visible text of an HTML fragment, whitespace folded, paragraphs kept as single newlines."""
    if not value:
        return ""
    extractor = _TextExtractor()
    extractor.feed(value)
    extractor.close()
    text = _SPACES.sub(" ", "".join(extractor.parts))
    return _LINES.sub("\n", text).strip()


def excerpt(value: str, limit: int = 40) -> str:
    """At most ``limit`` characters of untrusted text, safe inside a one-line message: unsafe characters
    escaped (``\\x1b``, ``\\u202e``), and ``…`` when cut. Error messages quote input only through this."""
    cut = value[:limit]
    safe = _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), cut)
    return safe + ("…" if len(value) > limit else "")


def display_name(name: str) -> str:
    """A file name as text, whatever its bytes: bytes that are not UTF-8 written as ``\\xe9``, control
    characters escaped. The same name always gives the same text, so it can key a cursor."""
    text = os.fsencode(name).decode("utf-8", "backslashreplace")
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def valid_unicode(value: str) -> str:
    """``value`` with any lone surrogate (from ``\\ud800`` in JSON, or undecodable bytes) replaced by U+FFFD:
    such text cannot be written as UTF-8, so one of them would fail a whole load."""
    return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value
