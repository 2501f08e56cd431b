"""Feeds without their DTDs: no entity a document declares ever reaches feedparser.

feedparser keeps a document's "safe" internal entities (plain text) and, when expat refuses the document,
its loose parser expands them itself: one 100 kB entity referenced 10,000 times became 1 GB of text and
2.9 GB of memory. No feed needs entities of its own, so a document whose prolog declares any, or carries an
internal DTD subset, reaches feedparser without its prolog (an XML declaration in its place) and loads with
a warning. The check reads the document as feedparser will decode it (its own charset rules), so UTF-16,
UTF-7 or a charset header cannot hide a declaration from it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from feedparser.encodings import convert_to_utf8

NOTE = "its DTD was removed before parsing (entities a feed declares are never expanded)"
_ROOT = re.compile(rb"<\w")  # where feedparser's own head ends: the first tag that is not <! or <?
_ENTITY = re.compile(rb"<!entity", re.IGNORECASE)
_DOCTYPE = re.compile(rb"<!doctype", re.IGNORECASE)
# Inside a declaration: literals, comments and processing instructions are skipped whole; brackets open and
# close the internal subset; ">" outside it ends the declaration.
_TOKEN = re.compile(rb"\"[^\"]*\"|'[^']*'|<!--.*?-->|<\?.*?\?>|[\[\]>]", re.DOTALL)
_DECLARATION = b"<?xml version='1.0' encoding='utf-8'?>\n"


def defuse(body: bytes, headers: Mapping[str, str]) -> tuple[bytes, dict[str, str], str | None]:
    """What to hand feedparser: ``body`` and ``headers`` unchanged, or, when the prolog declares entities or
    an internal subset, the document (UTF-8) from its root element on, and a note saying so."""
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    decoded: dict[str, object] = {}
    utf8 = convert_to_utf8(lowered, body, decoded)
    end = prolog_end(utf8)
    head = utf8[:end]
    doctype = _DOCTYPE.search(head)
    if not _ENTITY.search(head) and not (doctype and b"[" in head[doctype.start() :]):
        return body, dict(headers), None
    note = NOTE
    if decoded.get("bozo_exception") is not None:
        note = f"{NOTE}; {decoded['bozo_exception']}"
    cleaned_headers = {**lowered, "content-type": "application/xml; charset=utf-8"}
    return _DECLARATION + utf8[end:], cleaned_headers, note


def prolog_end(data: bytes) -> int:
    """Where the root element starts: comments, processing instructions and declarations (a DOCTYPE with
    its internal subset) skipped whole; ``len(data)`` when there is none."""
    at, size = 0, len(data)
    while (start := data.find(b"<", at)) >= 0:
        if data.startswith(b"<!--", start):
            at = _after(data, b"-->", start + 4)
        elif data.startswith(b"<?", start):
            at = _after(data, b"?>", start + 2)
        elif data.startswith(b"<!", start):
            at = _declaration_end(data, start + 2)
        elif _ROOT.match(data, start):
            return start
        else:
            at = start + 1
    return size


def _after(data: bytes, closing: bytes, start: int) -> int:
    found = data.find(closing, start)
    return len(data) if found < 0 else found + len(closing)


def _declaration_end(data: bytes, start: int) -> int:
    depth = 0
    for token in _TOKEN.finditer(data, start):
        text = token.group()
        if text == b"[":
            depth += 1
        elif text == b"]":
            depth = max(0, depth - 1)
        elif text == b">" and not depth:
            return token.end()
    return len(data)
