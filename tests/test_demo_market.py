"""The bundled demo market: deterministic, with the planted themes it promises, parseable, and served
like a real feed host. The demo's report is only a proof if its data is exactly what these tests say."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, timedelta
from email.utils import format_datetime

import feedparser
import httpx
import pytest

from earshot.config import load_market
from earshot.demo import (
    ANCHOR,
    MALFORMED_FEED,
    MARKET_PATH,
    PLANTED_THEMES,
    DemoFeed,
    DemoItem,
    DemoServer,
    build_demo_feeds,
    render_feed,
)


@pytest.fixture(scope="module")
def feeds() -> list[DemoFeed]:
    return build_demo_feeds()


@pytest.fixture(scope="module")
def items(feeds: list[DemoFeed]) -> list[DemoItem]:
    return [item for feed in feeds for item in feed.items]


@pytest.fixture(scope="module")
def server(feeds: list[DemoFeed]):
    with DemoServer(feeds) as running:
        yield running


def _words(item: DemoItem) -> str:
    return f"{item.title} {item.text}".lower()


def _has(keyword: str, item: DemoItem) -> bool:
    return re.search(rf"\b{re.escape(keyword)}\b", _words(item)) is not None


# --- the data ---------------------------------------------------------------------------------------


def test_two_builds_render_identical_bytes() -> None:
    first, second = build_demo_feeds(), build_demo_feeds()
    assert [render_feed(f) for f in first] == [render_feed(f) for f in second]
    assert [render_feed(f) for f in build_demo_feeds(seed=8)] != [render_feed(f) for f in first]


def test_volumes_themes_and_noise(items: list[DemoItem]) -> None:
    assert 300 <= len(items) <= 450
    per_theme = Counter(item.theme for item in items if item.theme is not None)
    assert set(per_theme) == set(PLANTED_THEMES)
    assert len(PLANTED_THEMES) >= 5
    assert all(count >= 40 for count in per_theme.values()), per_theme
    noise_share = sum(item.theme is None for item in items) / len(items)
    assert 0.10 <= noise_share <= 0.20


def test_each_theme_has_its_own_audience_mix(items: list[DemoItem]) -> None:
    mix = {theme: Counter(i.audience for i in items if i.theme == theme) for theme in PLANTED_THEMES}
    assert mix["downtime_cost"].most_common(1)[0][0] == "customers_customers"
    assert mix["msp_pricing"].most_common(1)[0][0] == "customers"
    assert mix["m365_backup"].most_common(1)[0][0] == "customers"
    assert mix["cyber_insurance"].most_common(1)[0][0] == "influencers"
    ransomware = mix["ransomware_recovery"]
    assert min(ransomware.values()) >= 0.25 * sum(ransomware.values()), "ransomware is heard everywhere"


@pytest.mark.parametrize("theme", list(PLANTED_THEMES))
def test_theme_keywords_are_frequent_in_their_theme_and_absent_elsewhere(theme: str, items: list[DemoItem]) -> None:
    keywords = PLANTED_THEMES[theme]
    assert 4 <= len(keywords) <= 8
    assert all(k == k.lower() and len(k.split()) <= 2 for k in keywords)
    own = [i for i in items if i.theme == theme]
    others = [i for i in items if i.theme != theme]
    for keyword in keywords:
        share = sum(_has(keyword, i) for i in own) / len(own)
        assert share >= 0.3, f"{keyword!r} is in only {share:.0%} of {theme}"
        leaks = [i.title for i in others if _has(keyword, i)]
        assert not leaks, f"{keyword!r} leaks outside {theme}: {leaks[:3]}"


def test_noise_items_are_each_on_their_own_topic(items: list[DemoItem]) -> None:
    noise = [i for i in items if i.theme is None]
    assert len({i.title for i in noise}) == len(noise)
    # No two noise texts share a distinctive (long) word beyond a couple: they must not form a cluster.
    vocab = [set(re.findall(r"[a-z]{7,}", _words(i))) for i in noise]
    overlaps = [len(a & b) for n, a in enumerate(vocab) for b in vocab[n + 1 :]]
    assert max(overlaps) <= 2


def test_texts_are_unique_and_forum_sized(items: list[DemoItem]) -> None:
    texts = [i.text for i in items]
    assert len(set(texts)) == len(texts)
    assert all(15 <= len(t.split()) <= 60 for t in texts), min(texts, key=lambda t: len(t.split()))
    assert len({i.title for i in items}) >= 0.9 * len(items)


def test_items_look_like_real_feed_items(feeds: list[DemoFeed], items: list[DemoItem]) -> None:
    for feed in feeds:
        for item in feed.items:
            assert item.audience == feed.audience
            assert item.published.tzinfo is not None and item.published.utcoffset() == timedelta(0)
            assert ANCHOR - timedelta(weeks=8) <= item.published <= ANCHOR
            assert re.match(r"^https://[a-z0-9.-]+\.example/", item.link), item.link
            assert item.html.startswith("<p>") and item.html.endswith("</p>")
            assert item.author
        dates = [item.published for item in feed.items]
        assert dates == sorted(dates, reverse=True), f"{feed.name} lists newest first"
    every_html = " ".join(i.html for i in items)
    for markup in ("<b>", "<a href=", "&amp;", "<br/>"):
        assert markup in every_html


def test_guids_and_links_are_unique(items: list[DemoItem]) -> None:
    assert len({i.guid for i in items}) == len(items)
    assert len({i.link for i in items}) == len(items)


def test_cyber_insurance_is_rising_in_the_last_two_weeks(items: list[DemoItem]) -> None:
    def recent_share(theme: str) -> float:
        dates = [i.published for i in items if i.theme == theme]
        return sum(ANCHOR - d <= timedelta(weeks=2) for d in dates) / len(dates)

    assert recent_share("cyber_insurance") >= 0.45
    for theme in PLANTED_THEMES.keys() - {"cyber_insurance"}:
        assert recent_share(theme) <= 0.35, theme


def test_three_feeds_per_audience_in_both_formats(feeds: list[DemoFeed]) -> None:
    assert Counter(f.audience for f in feeds) == {"customers": 3, "customers_customers": 3, "influencers": 3}
    assert {f.format for f in feeds} == {"rss", "atom"}
    assert all(f.influencer == (f.audience == "influencers") for f in feeds)
    assert len({f.name for f in feeds}) == len(feeds)
    assert MALFORMED_FEED in {f.name for f in feeds}


@pytest.mark.parametrize("index", range(9))
def test_every_feed_parses_and_only_the_designated_one_is_bozo(index: int, feeds: list[DemoFeed]) -> None:
    feed = feeds[index]
    parsed = feedparser.parse(render_feed(feed))
    assert bool(parsed.bozo) == (feed.name == MALFORMED_FEED), parsed.get("bozo_exception")
    assert parsed.version == ("rss20" if feed.format == "rss" else "atom10")
    assert [e.title for e in parsed.entries] == [i.title for i in feed.items]
    assert [e.id for e in parsed.entries] == [i.guid for i in feed.items]
    assert [e.link for e in parsed.entries] == [i.link for i in feed.items]
    for entry, item in zip(parsed.entries, feed.items, strict=True):
        assert entry.published_parsed[:6] == item.published.astimezone(UTC).timetuple()[:6]
        assert entry.get("author") == item.author


# --- market.yaml ------------------------------------------------------------------------------------


def test_market_yaml_validates_and_matches_the_feeds(monkeypatch: pytest.MonkeyPatch, feeds: list[DemoFeed]) -> None:
    monkeypatch.setenv("EARSHOT_DEMO_URL", "http://127.0.0.1:43125")
    market = load_market(MARKET_PATH)
    assert market.company.name == "Vaultline"
    assert 3 <= len(market.offer.benefits) <= 4
    by_id = {s.id: s for s in market.sources}
    assert list(by_id) == [f.name for f in feeds]
    for feed in feeds:
        source = by_id[feed.name]
        assert source.audience.value == feed.audience
        assert source.influencer == feed.influencer
        assert source.name == feed.title
        assert source.url == f"http://127.0.0.1:43125{feed.path}"


def test_market_yaml_needs_the_demo_url(monkeypatch: pytest.MonkeyPatch) -> None:
    from earshot.config import ConfigError

    monkeypatch.delenv("EARSHOT_DEMO_URL", raising=False)
    with pytest.raises(ConfigError, match="EARSHOT_DEMO_URL"):
        load_market(MARKET_PATH)


# --- the server -------------------------------------------------------------------------------------


def test_get_serves_the_feed_with_validators(server: DemoServer, feeds: list[DemoFeed]) -> None:
    feed = feeds[0]
    response = httpx.get(server.base_url + feed.path)
    assert response.status_code == 200
    assert response.content == render_feed(feed)
    assert response.headers["content-type"] == feed.content_type
    assert re.fullmatch(r'"[0-9a-f]{16,64}"', response.headers["etag"])
    assert response.headers["last-modified"] == format_datetime(feed.last_modified, usegmt=True)
    assert server.base_url.startswith("http://127.0.0.1:")


def test_atom_feeds_say_so(server: DemoServer, feeds: list[DemoFeed]) -> None:
    atom = next(f for f in feeds if f.format == "atom")
    response = httpx.get(server.base_url + atom.path)
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"


def test_if_none_match_gives_304_without_a_body(server: DemoServer, feeds: list[DemoFeed]) -> None:
    url = server.base_url + feeds[1].path
    etag = httpx.get(url).headers["etag"]
    response = httpx.get(url, headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert httpx.get(url, headers={"If-None-Match": '"something-else"'}).status_code == 200
    assert (feeds[1].path, 304) in server.requests


def test_if_modified_since(server: DemoServer, feeds: list[DemoFeed]) -> None:
    feed = feeds[2]
    url = server.base_url + feed.path
    same = format_datetime(feed.last_modified, usegmt=True)
    later = format_datetime(feed.last_modified + timedelta(hours=1), usegmt=True)
    earlier = format_datetime(feed.last_modified - timedelta(seconds=1), usegmt=True)
    assert httpx.get(url, headers={"If-Modified-Since": same}).status_code == 304
    assert httpx.get(url, headers={"If-Modified-Since": later}).status_code == 304
    assert httpx.get(url, headers={"If-Modified-Since": earlier}).status_code == 200
    assert httpx.get(url, headers={"If-Modified-Since": "not a date"}).status_code == 200


def test_unknown_paths_are_404(server: DemoServer) -> None:
    for path in ("/", "/feeds/nope.xml", "/feeds/backupwire", "/etc/passwd"):
        assert httpx.get(server.base_url + path).status_code == 404
    assert ("/feeds/nope.xml", 404) in server.requests


def test_head_has_headers_but_no_body(server: DemoServer, feeds: list[DemoFeed]) -> None:
    response = httpx.head(server.base_url + feeds[0].path)
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) == len(render_feed(feeds[0]))


def test_every_demo_feed_is_served(server: DemoServer, feeds: list[DemoFeed]) -> None:
    for feed in feeds:
        parsed = feedparser.parse(httpx.get(server.base_url + feed.path).content)
        assert len(parsed.entries) == len(feed.items)


def test_server_stops_and_releases_its_port(feeds: list[DemoFeed]) -> None:
    demo = DemoServer(feeds[:1]).start()
    url = demo.base_url + feeds[0].path
    assert httpx.get(url).status_code == 200
    demo.stop()
    demo.stop()  # idempotent
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)
    with pytest.raises(RuntimeError):
        _ = demo.base_url
