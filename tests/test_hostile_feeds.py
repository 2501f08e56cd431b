"""Hostile XML: entity declarations never reach feedparser, so no document can expand past its own size."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from listeners.defuse_xml import NOTE, defuse, prolog_end
from listeners.feeds import parse_feed
from tests.conftest import rss
from tests.hostile import billion_laughs_feed, quadratic_entity_feed, xxe_feed

FEED = rss([{"guid": "1", "title": "Restores on trial", "description": "It worked"}])


def parsed_within(body: bytes, headers: dict[str, str] | None = None) -> tuple[object, float, int]:
    tracemalloc.start()
    started = time.monotonic()
    try:
        result = parse_feed("hostile", "customers", body, headers)
    finally:
        seconds, peak = time.monotonic() - started, tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return result, seconds, peak


def test_quadratic_entity_blowup_loads_unexpanded_in_bounded_memory() -> None:
    """130 kB declaring one 100 kB entity referenced 10,000 times: 1 GB once expanded, 2.9 GB of memory
    in feedparser's loose parser. Without the DTD it is 130 kB of text with a warning."""
    body = quadratic_entity_feed()
    assert len(body) < 200_000
    parsed, seconds, peak = parsed_within(body)
    (mention,) = parsed.mentions  # type: ignore[attr-defined]
    assert mention.title == "Blowup" and "x" * 100 not in mention.text
    assert parsed.warning.startswith(NOTE)  # type: ignore[attr-defined]
    assert peak < 40_000_000 and seconds < 5  # tracemalloc slows parsing several times over


@pytest.mark.parametrize(
    "body",
    [
        billion_laughs_feed(),
        xxe_feed("file:///etc/passwd"),
        xxe_feed("http://169.254.169.254/latest/meta-data/"),
    ],
    ids=["billion-laughs", "xxe-file", "xxe-url"],
)
def test_other_entity_attacks_load_without_their_entities(body: bytes) -> None:
    parsed, _, peak = parsed_within(body)
    (mention,) = parsed.mentions  # type: ignore[attr-defined]
    assert "lollol" not in mention.text and "root:" not in mention.text
    assert parsed.warning.startswith(NOTE) and peak < 10_000_000  # type: ignore[attr-defined]


def test_declarations_cannot_hide_behind_another_encoding() -> None:
    """feedparser decodes UTF-16 (and any charset a header names) before looking for entities; so does the
    check, on the very same decoded bytes."""
    text = quadratic_entity_feed().decode().replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="utf-16"?>')
    parsed, _, peak = parsed_within(text.encode("utf-16"))
    assert parsed.warning.startswith(NOTE) and peak < 40_000_000  # type: ignore[attr-defined]
    utf7 = text.replace("utf-16", "utf-7").replace("<!", "+ADwAIQ-")  # "<!" as UTF-7 can spell it
    parsed, _, _ = parsed_within(utf7.encode(), {"content-type": "application/xml; charset=utf-7"})
    assert parsed.warning.startswith(NOTE)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "prolog",
    [
        '<!ENTITY big "{x}">',  # an entity declared outside any DOCTYPE: feedparser would still keep it
        '<!DOCTYPE rss>\n<!-- note -->\n<!ENTITY big "{x}">',
        '<!--\n<!ENTITY big "{x}">\n-->',  # inside a comment, on a line of its own: feedparser's regex matches
        '<!doctype rss [<!entity big "{x}">]>',
    ],
    ids=["bare", "after-doctype", "in-comment", "lower-case"],
)
def test_entity_declarations_anywhere_before_the_root_are_removed(prolog: str) -> None:
    body = f'<?xml version="1.0"?>\n{prolog.format(x="x" * 1000)}\n' + FEED.decode().split("?>", 1)[1]
    cleaned, headers, note = defuse(body.encode(), {})
    assert note == NOTE and b"ENTITY" not in cleaned.upper() and headers["content-type"].endswith("utf-8")
    parsed, _, _ = parsed_within(body.encode())
    assert [m.title for m in parsed.mentions] == ["Restores on trial"]  # type: ignore[attr-defined]


def test_ordinary_feeds_and_public_doctypes_pass_untouched() -> None:
    netscape = FEED.replace(
        b"<rss",
        b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        b'"http://my.netscape.com/publish/formats/rss-0.91.dtd">\n<rss',
        1,
    )
    for body in (FEED, netscape):
        assert defuse(body, {"content-type": "application/rss+xml"}) == (
            body,
            {"content-type": "application/rss+xml"},
            None,
        )
        assert parse_feed("fine", "customers", body).warning is None


@pytest.mark.parametrize(
    ("document", "root"),
    [
        (b"<rss/>", 0),
        (b'<?xml version="1.0"?>\n<rss/>', 22),
        (b"<!-- <a> --><rss/>", 12),
        (b"<?pi <a> ?><rss/>", 11),
        (b'<!DOCTYPE r SYSTEM "<a>"><rss/>', 25),
        (b'<!DOCTYPE r [<!ENTITY a "]>"> <!-- ]> --> <?p ]>?>]><rss/>', 52),
        (b"<!DOCTYPE r [", 13),  # never closed: no root at all
        (b"no markup", 9),
    ],
)
def test_prolog_end_skips_comments_instructions_and_whole_declarations(document: bytes, root: int) -> None:
    assert prolog_end(document) == root
