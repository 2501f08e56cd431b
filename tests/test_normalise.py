"""From feed bytes to mentions: text extraction, stable ids, timestamps, bozo handling."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from listeners.errors import ErrorKind, SourceError
from listeners.feeds import parse_feed
from listeners.mention import content_hash, mention_body
from listeners.text import html_to_text
from tests.conftest import rss


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>One</p><p>Two &amp; three</p>", "One\nTwo & three"),
        ("Plain <b>bold</b> and <a href='x'>link</a>", "Plain bold and link"),
        ("<script>alert(1)</script><style>p{}</style>Visible", "Visible"),
        ("a<br/>b", "a\nb"),
        ("  lots   of \t space\u00a0here ", "lots of space here"),
        ("&lt;not a tag&gt; &#8217;quoted&#8217;", "<not a tag> \u2019quoted\u2019"),
        ("", ""),
        (None, ""),
    ],
)
def test_html_to_text(html: str | None, text: str) -> None:
    assert html_to_text(html) == text


def test_entries_become_mentions_with_stable_ids_and_utc_times() -> None:
    body = rss(
        [
            {
                "title": "Restore &lt;b&gt;took&lt;/b&gt; days",
                "link": "https://forum.example/t/1",
                "guid": "post-1",
                "description": "&lt;p&gt;Our backups were encrypted.&lt;/p&gt;",
                "pubDate": "Mon, 16 Nov 2026 10:00:00 +0200",
                "author": "dana@example.com (Dana)",
            }
        ]
    )
    first = parse_feed("msp-forum", "customers", body)
    again = parse_feed("msp-forum", "customers", body)
    (mention,) = first.mentions
    assert mention == again.mentions[0]  # deterministic
    assert mention.title == "Restore took days"
    assert mention.text == "Our backups were encrypted."
    assert mention.url == "https://forum.example/t/1"
    assert mention.published_at == datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
    assert mention.audience == "customers"
    assert mention.content_hash == content_hash("Restore took days. Our backups were encrypted.")
    other_source = parse_feed("other", "customers", body).mentions[0]
    assert other_source.mention_id != mention.mention_id  # ids are per source
    assert other_source.content_hash == mention.content_hash  # embeddings are shared by text
    assert first.warning is None


def test_same_guid_keeps_its_id_when_the_text_changes() -> None:
    before = parse_feed("s", "customers", rss([{"guid": "g1", "title": "v1"}])).mentions[0]
    after = parse_feed("s", "customers", rss([{"guid": "g1", "title": "v2 edited"}])).mentions[0]
    assert before.mention_id == after.mention_id
    assert before.content_hash != after.content_hash


def test_malformed_feed_with_entries_loads_with_a_warning() -> None:
    body = rss([{"title": "Fish & chips", "guid": "1"}, {"title": "Second", "guid": "2"}])
    parsed = parse_feed("s", "customers", body)
    assert [m.title for m in parsed.mentions] == ["Fish & chips", "Second"]
    assert parsed.warning and parsed.warning.startswith("malformed feed, loaded 2 entries anyway")


def test_entries_without_text_are_skipped_and_counted() -> None:
    parsed = parse_feed("s", "customers", rss([{"guid": "1"}, {"guid": "2", "title": "kept"}]))
    assert [m.title for m in parsed.mentions] == ["kept"]
    assert parsed.skipped == 1 and "1 entries without any text" in (parsed.warning or "")


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (
            b"<!DOCTYPE html><html><head><title>Login</title></head><body>Sign in</body></html>",
            ErrorKind.NOT_A_FEED,
        ),
        (b'{"items": []}', ErrorKind.MALFORMED),
        (b"\x00\x01\x02 binary junk", ErrorKind.MALFORMED),
    ],
)
def test_fatal_feeds_raise_a_source_error_naming_the_source(body: bytes, kind: ErrorKind) -> None:
    with pytest.raises(SourceError) as caught:
        parse_feed("vendor-blog", "influencers", body)
    assert caught.value.kind == kind
    assert str(caught.value).startswith("source 'vendor-blog': ")


def test_valid_empty_feed_is_not_an_error() -> None:
    assert parse_feed("s", "customers", rss([])).mentions == []


@pytest.mark.parametrize(
    ("title", "text", "body"),
    [
        ("Title", "Text", "Title. Text"),
        ("Title.", "Text", "Title. Text"),
        ("", "Text", "Text"),
        ("Title", "", "Title"),
        ("Same start", "Same start and more", "Same start and more"),
    ],
)
def test_mention_body(title: str, text: str, body: str) -> None:
    assert mention_body(title, text) == body
