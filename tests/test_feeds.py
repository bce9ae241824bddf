"""RSS/Atom source: parsing fixtures, ids, HTML cleaning, and fetching over loopback HTTP only."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Request, Response

from bot.errors import SourceError
from bot.sources.feeds import (
    Feed,
    FeedState,
    canonical_url,
    fetch_feed,
    html_to_blocks,
    parse_feed,
)
from tests.ports import closed_port

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
FEED_URL = "https://feeds.example.org/rss.xml"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse(name: str, url: str | None = FEED_URL) -> Feed:
    return parse_feed(fixture(name), url=url, fetched_at=NOW)


def rss(items: str, *, title: str = "Test Feed", link: str = "https://site.example/") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>{link}</link><description>d</description>"
        f"{items}</channel></rss>"
    ).encode()


def all_text(feed: Feed) -> str:
    return "\n".join(f"{a.headline}\n{a.text}" for a in feed.articles)


# --- parsing ------------------------------------------------------------------------------


def test_rss2_content_encoded_becomes_clean_paragraphs() -> None:
    feed = parse("rss2_content_encoded.xml")
    assert feed.title == "Harbour Gazette"
    assert feed.link == "https://news.example.org/"
    first = feed.articles[0]
    assert first.headline == "Council approves new ferry timetable"
    assert first.source == "Harbour Gazette"
    assert first.published == datetime(2024, 3, 5, 8, 30, tzinfo=UTC)
    assert first.body == [
        "The council voted 7–2 for a new timetable.",
        "What changes",
        "Ferries will leave every 20 minutes at peak times & every hour at night.",
        "First ferry: 05:40",
        "Last ferry: 23:50",
        "Fares stay the same.",
        "Season tickets remain valid.",
    ]
    assert first.subheadings == ["What changes"]
    assert first.summary == []  # the description only repeats the first paragraph
    assert first.url == "https://news.example.org/2024/03/ferry-timetable?id=42"
    assert first.id.startswith("feed:")


def test_rss2_relative_link_and_untitled_item() -> None:
    feed = parse("rss2_content_encoded.xml")
    lighthouse, herring = feed.articles[1], feed.articles[2]
    assert lighthouse.url == "https://news.example.org/2024/03/lighthouse"  # channel link
    assert lighthouse.body == [
        "The lighthouse on the north pier is open to visitors again. Tours start at noon."
    ]
    assert herring.headline == "Fishermen reported a record catch of herring this week."
    assert herring.url == "https://news.example.org/2024/03/herring"


def test_rss1_rdf() -> None:
    feed = parse("rss1_rdf.xml")
    assert feed.title == "Valley Courier"
    assert [a.headline for a in feed.articles] == [
        "Old bridge closed for inspection",
        "School choir wins regional prize",
    ]
    bridge = feed.articles[0]
    assert bridge.published == datetime(2024, 2, 10, 7, 0, tzinfo=UTC)
    assert bridge.url == "https://valley.example.net/articles/bridge"


def test_atom_html_and_xhtml_content() -> None:
    feed = parse("atom_html.xml")
    snow, lift = feed.articles
    assert snow.headline == "Snow & ice close the high pass"
    assert snow.published == datetime(2024, 1, 20, 12, 45, tzinfo=UTC)  # published, not updated
    assert snow.body == [
        "The high pass is closed until further notice.",
        'Crews are clearing "avalanche debris" near the summit.',
    ]
    assert snow.url == "https://mountain.example.com/news/pass-closed?ref=home"
    assert lift.published == datetime(2024, 1, 18, 10, 0, tzinfo=UTC)  # only updated given
    assert lift.body == [
        "Forty new cabins arrive in March.",
        "The lift will close for a week to fit them.",
    ]


def test_teaser_description_is_not_repeated_as_summary() -> None:
    item = (
        "<item><title>T</title><guid>t</guid><description>First words of the…</description>"
        "<content:encoded><![CDATA[<p>First words of the story.</p><p>More.</p>]]>"
        "</content:encoded></item>"
        "<item><title>U</title><guid>u</guid><description>A different standfirst.</description>"
        "<content:encoded><![CDATA[<p>Body.</p>]]></content:encoded></item>"
    )
    document = rss(item).replace(
        b'<rss version="2.0">',
        b'<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">',
    )
    teaser, standfirst = parse_feed(document, url=FEED_URL, fetched_at=NOW).articles
    assert teaser.summary == [] and teaser.body == ["First words of the story.", "More."]
    assert standfirst.summary == ["A different standfirst."] and standfirst.body == ["Body."]


def test_feed_without_dates_gives_none_not_now() -> None:
    feed = parse("no_dates.xml")
    assert len(feed.articles) == 2
    assert all(a.published is None for a in feed.articles)


def test_date_far_in_the_future_is_dropped() -> None:
    items = (
        "<item><title>Soon</title><guid>a</guid><pubDate>Sun, 02 Jun 2024 06:00:00 GMT</pubDate>"
        "</item><item><title>Never</title><guid>b</guid>"
        "<pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate></item>"
    )
    soon, never = parse_feed(rss(items), url=FEED_URL, fetched_at=NOW).articles
    assert soon.published == datetime(2024, 6, 2, 6, 0, tzinfo=UTC)  # within a day's skew
    assert never.published is None


def test_scripts_are_removed_and_empty_items_skipped() -> None:
    feed = parse("scripts.xml")
    text = all_text(feed)
    for leaked in ("alert", "tracking pixel", "color", "Enable JS", "<", "var x"):
        assert leaked not in text
    benches = feed.articles[0]
    assert benches.headline == "Park gets new benches"
    assert benches.body == ["Twelve new benches were installed.", "They are made of oak."]
    assert [a.headline for a in feed.articles] == ["Park gets new benches", "Only a script"]
    assert feed.skipped == ["item 3: no headline or text"]


def test_feedparser_does_not_expand_billion_laughs() -> None:
    # The claim the guard backs up: feedparser drops nested entity declarations by itself.
    started = time.monotonic()
    parsed = feedparser.parse(fixture("entity_bomb.xml"))
    assert time.monotonic() - started < 5
    assert len(parsed.entries[0].title) < 100


def test_entity_bomb_is_refused() -> None:
    with pytest.raises(SourceError, match=r"feed https://feeds\.example\.org/rss\.xml: .*entit"):
        parse("entity_bomb.xml")


def test_quadratic_entity_blowup_is_refused() -> None:
    # feedparser keeps long flat entities and would expand this to 200 MB in its loose parser.
    document = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "' + b"x" * 100_000 + b'">\n]>\n'
        b'<rss version="2.0"><channel><title>Q</title><item><title>t</title><description>'
        + b"&a;" * 2_000
        + b"</description></item></channel></rss>"
    )
    with pytest.raises(SourceError, match="unsafe XML entities"):
        parse_feed(document, url=FEED_URL, fetched_at=NOW)


def test_utf16_entity_bomb_is_refused() -> None:
    document = fixture("entity_bomb.xml").decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    with pytest.raises(SourceError, match="unsafe XML entities"):
        parse_feed(document.encode("utf-16"), url=FEED_URL, fetched_at=NOW)


def test_entity_bomb_behind_a_comment_is_refused() -> None:
    bomb = fixture("entity_bomb.xml").replace(b"[\n", b"[\n<!-- <hide> -->\n", 1)
    with pytest.raises(SourceError, match="unsafe XML entities"):
        parse_feed(bomb, url=FEED_URL, fetched_at=NOW)


def test_short_character_entities_are_allowed() -> None:
    document = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY nbsp "&#160;">\n]>\n'
        b'<rss version="2.0"><channel><title>E</title><item><title>A&nbsp;B</title>'
        b"<guid>1</guid></item></channel></rss>"
    )
    (article,) = parse_feed(document, url=FEED_URL, fetched_at=NOW).articles
    assert article.headline == "A B"


def test_malformed_xml_raises_with_reason() -> None:
    with pytest.raises(SourceError, match=r"feed https://\S+: malformed XML: .* at line \d+"):
        parse("malformed.xml")


def test_html_page_raises() -> None:
    with pytest.raises(SourceError, match="an HTML page, not an RSS or Atom feed"):
        parse("html_page.xml")


@pytest.mark.parametrize("content", [b"", b"   \n", b'{"json": true}'])
def test_empty_or_non_xml_raises(content: bytes) -> None:
    with pytest.raises(SourceError, match="feed https://"):
        parse_feed(content, url=FEED_URL, fetched_at=NOW)


def test_valid_empty_feed_has_no_articles() -> None:
    feed = parse_feed(rss(""), url=FEED_URL, fetched_at=NOW)
    assert feed.articles == [] and feed.skipped == [] and feed.warning is None


def test_recoverable_malformed_feed_keeps_items_with_warning() -> None:
    document = rss("<item><title>One</title><guid>1</guid><description>a & b</description></item>")
    feed = parse_feed(document, url=FEED_URL, fetched_at=NOW)
    assert [a.headline for a in feed.articles] == ["One"]
    assert feed.warning is not None and feed.warning.startswith("malformed XML")


def test_naive_fetched_at_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_feed(rss(""), url=FEED_URL, fetched_at=datetime(2024, 1, 1))


@pytest.mark.parametrize(
    "name",
    ["rss2_content_encoded.xml", "rss1_rdf.xml", "atom_html.xml", "no_dates.xml", "scripts.xml"],
)
def test_reparse_gives_identical_ids(name: str) -> None:
    first = [a.id for a in parse(name).articles]
    again = [a.id for a in parse(name, url="https://mirror.example.net/feed").articles]
    assert first == again
    assert len(set(first)) == len(first)
    assert all(i.startswith("feed:") and len(i) <= 200 for i in first)


@pytest.mark.parametrize(
    "link",
    [
        "https://site.example/story?id=7",
        "https://site.example/story?utm_source=rss&amp;id=7&amp;utm_medium=feed",
        "https://site.example/story?id=7&amp;fbclid=IwAR0abc",
        "https://site.example/story?gclid=x&amp;id=7#comments",
        "HTTPS://Site.Example:443/story?id=7&amp;mc_cid=1&amp;pk_campaign=z",
    ],
)
def test_tracking_variants_of_a_link_give_the_same_id(link: str) -> None:
    expected = parse_feed(
        rss("<item><title>S</title><link>https://site.example/story?id=7</link></item>"),
        url=FEED_URL,
        fetched_at=NOW,
    ).articles[0]
    (article,) = parse_feed(
        rss(f"<item><title>S</title><link>{link}</link></item>"), url=FEED_URL, fetched_at=NOW
    ).articles
    assert article.url == "https://site.example/story?id=7"
    assert article.id == expected.id


def test_guid_keeps_the_id_when_the_link_changes() -> None:
    before = rss("<item><title>S</title><guid>x-1</guid><link>https://a.example/1</link></item>")
    after = rss("<item><title>S2</title><guid>x-1</guid><link>https://a.example/one</link></item>")
    (a,) = parse_feed(before, url=FEED_URL, fetched_at=NOW).articles
    (b,) = parse_feed(after, url=FEED_URL, fetched_at=NOW).articles
    assert a.id == b.id


def test_bare_guids_of_different_sites_do_not_collide() -> None:
    item = "<item><title>S</title><guid>1001</guid></item>"
    (a,) = parse_feed(rss(item, link="https://one.example/"), url=None, fetched_at=NOW).articles
    (b,) = parse_feed(rss(item, link="https://two.example/"), url=None, fetched_at=NOW).articles
    assert a.id != b.id
    assert a.url is None  # a bare guid is no link


def test_duplicate_items_are_skipped() -> None:
    item = "<item><title>S</title><guid>same</guid></item>"
    feed = parse_feed(rss(item * 2), url=FEED_URL, fetched_at=NOW)
    assert len(feed.articles) == 1
    assert feed.skipped == ["item 2: duplicate of item 1"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM", "http://example.com/"),
        ("https://example.com:8443/a?b=1&utm_term=x#top", "https://example.com:8443/a?b=1"),
        ("http://example.com:80/a?ref=1", "http://example.com/a?ref=1"),
        ("javascript:alert(1)", None),
        ("file:///etc/passwd", None),
        ("/relative/only", None),
        ("", None),
    ],
)
def test_canonical_url(url: str, expected: str | None) -> None:
    assert canonical_url(url) == expected


def test_html_to_blocks() -> None:
    blocks = html_to_blocks(
        "<div>One&nbsp;&amp; <b>two</b><br>three</div><h3>Sub</h3><script>x<y</script>"
        "<noscript><p>hidden</p></noscript><svg><path d='M0'/><text>no</text></svg>tail"
    )
    assert blocks.paragraphs == ["One & two", "three", "Sub", "tail"]
    assert blocks.headings == ["Sub"]


# --- fetching over loopback HTTP ------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[HTTPServer]:
    srv = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    srv.start()
    yield srv
    srv.clear()
    srv.stop()


@pytest.fixture
def http(server: HTTPServer) -> HTTPServer:
    server.clear()
    assert server.url_for("/").startswith("http://127.0.0.1:"), "tests must stay on loopback"
    return server


class Counter:
    """Counts requests as they arrive (before any slow handler finishes)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def wrap(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def counted(request: Request) -> Response:
            with self._lock:
                self.count += 1
            return handler(request)

        return counted


def serve_feed(http: HTTPServer, path: str = "/feed.xml", **headers: str) -> None:
    http.expect_request(path).respond_with_data(
        fixture("rss2_content_encoded.xml"),
        content_type="application/rss+xml; charset=utf-8",
        headers=headers,
    )


def test_fetch_stores_validators_and_parses(http: HTTPServer) -> None:
    serve_feed(http, ETag='"v1"', **{"Last-Modified": "Tue, 05 Mar 2024 10:00:00 GMT"})
    url = http.url_for("/feed.xml")
    result = fetch_feed(url, state=None, timeout=5, clock=lambda: NOW)
    assert result.status == 200 and not result.not_modified and result.attempts == 1
    assert result.feed is not None and len(result.feed.articles) == 3
    assert result.state == FeedState(
        url=url,
        etag='"v1"',
        last_modified="Tue, 05 Mar 2024 10:00:00 GMT",
        fetched_at=NOW,
        last_success=NOW,
        item_count=3,
    )
    request, _ = http.log[0]
    assert request.headers["User-Agent"].startswith("newsbot/")
    assert "If-None-Match" not in request.headers


def test_etag_gives_304_not_modified(http: HTTPServer) -> None:
    url = http.url_for("/feed.xml")
    http.expect_request("/feed.xml", headers={"If-None-Match": '"v1"'}).respond_with_data(
        "", status=304, headers={"ETag": '"v1"'}
    )
    serve_feed(http, ETag='"v1"')
    first = fetch_feed(url, timeout=5, clock=lambda: NOW)
    later = NOW + timedelta(minutes=15)
    second = fetch_feed(url, state=first.state, timeout=5, clock=lambda: later)
    assert second.not_modified and second.feed is None and second.status == 304
    assert second.state.etag == '"v1"'
    assert second.state.item_count == 3  # carried over from the last parsed feed
    assert second.state.last_success == later


def test_last_modified_gives_304(http: HTTPServer) -> None:
    stamp = "Tue, 05 Mar 2024 10:00:00 GMT"
    url = http.url_for("/lm.xml")
    http.expect_request("/lm.xml", headers={"If-Modified-Since": stamp}).respond_with_data(
        "", status=304
    )
    state = FeedState(url=url, last_modified=stamp, item_count=4)
    result = fetch_feed(url, state=state, timeout=5, clock=lambda: NOW)
    assert result.not_modified
    assert result.state.last_modified == stamp and result.state.item_count == 4


def test_state_of_another_url_is_ignored(http: HTTPServer) -> None:
    serve_feed(http)
    other = FeedState(url="http://127.0.0.1:1/other.xml", etag='"x"')
    result = fetch_feed(http.url_for("/feed.xml"), state=other, timeout=5)
    assert not result.not_modified
    request, _ = http.log[0]
    assert "If-None-Match" not in request.headers


def test_slow_response_times_out_and_is_retried(http: HTTPServer) -> None:
    counter = Counter()

    def slow(request: Request) -> Response:
        time.sleep(0.5)
        return Response(fixture("rss1_rdf.xml"))

    http.expect_request("/slow.xml").respond_with_handler(counter.wrap(slow))
    sleeps: list[float] = []
    with pytest.raises(SourceError, match=r"/slow\.xml: timed out .*\(after 2 attempts\)"):
        fetch_feed(
            http.url_for("/slow.xml"), timeout=0.1, retries=1, backoff=0.01, sleep=sleeps.append
        )
    assert counter.count == 2
    assert sleeps == [0.01]


def test_404_is_not_retried(http: HTTPServer) -> None:
    counter = Counter()
    http.expect_request("/gone.xml").respond_with_handler(
        counter.wrap(lambda _: Response("no", status=404))
    )
    sleeps: list[float] = []
    with pytest.raises(SourceError, match=r"feed http://127\.0\.0\.1:\d+/gone\.xml: HTTP 404"):
        fetch_feed(http.url_for("/gone.xml"), timeout=5, sleep=sleeps.append)
    assert counter.count == 1 and sleeps == []


def test_500_is_retried_with_backoff(http: HTTPServer) -> None:
    counter = Counter()
    http.expect_request("/err.xml").respond_with_handler(
        counter.wrap(lambda _: Response("boom", status=500))
    )
    sleeps: list[float] = []
    with pytest.raises(SourceError, match=r"HTTP 500 INTERNAL SERVER ERROR \(after 3 attempts\)"):
        fetch_feed(http.url_for("/err.xml"), timeout=5, retries=2, sleep=sleeps.append)
    assert counter.count == 3
    assert sleeps == [0.5, 1.0]


def test_500_then_success(http: HTTPServer) -> None:
    http.expect_ordered_request("/flaky.xml").respond_with_data("busy", status=503)
    http.expect_ordered_request("/flaky.xml").respond_with_data(fixture("atom_html.xml"))
    result = fetch_feed(http.url_for("/flaky.xml"), timeout=5, sleep=lambda _: None)
    assert result.attempts == 2 and result.feed is not None and len(result.feed.articles) == 2


def test_connection_refused_is_retried() -> None:
    sleeps: list[float] = []
    with (
        closed_port() as port,
        pytest.raises(SourceError, match=r"connection failed.*\(after 2 attempts\)"),
    ):
        fetch_feed(f"http://127.0.0.1:{port}/x", timeout=2, retries=1, sleep=sleeps.append)
    assert len(sleeps) == 1


def test_redirects_are_followed(http: HTTPServer) -> None:
    http.expect_request("/old").respond_with_data("", status=301, headers={"Location": "/older"})
    http.expect_request("/older").respond_with_data(
        "", status=308, headers={"Location": http.url_for("/feed.xml")}
    )
    http.expect_request("/temp").respond_with_data("", status=302, headers={"Location": "/old"})
    serve_feed(http)
    moved = fetch_feed(http.url_for("/old"), timeout=5)
    assert moved.final_url == http.url_for("/feed.xml")
    assert moved.moved_to == http.url_for("/feed.xml")
    assert moved.state.url == http.url_for("/old")
    temporary = fetch_feed(http.url_for("/temp"), timeout=5)
    assert temporary.final_url == http.url_for("/feed.xml") and temporary.moved_to is None


def test_redirect_loop_is_reported(http: HTTPServer) -> None:
    http.expect_request("/a").respond_with_data("", status=302, headers={"Location": "/b"})
    http.expect_request("/b").respond_with_data("", status=302, headers={"Location": "/a"})
    with pytest.raises(SourceError, match=r"feed http://\S+/a: redirect loop at http://\S+/a$"):
        fetch_feed(http.url_for("/a"), timeout=5)


def test_too_many_redirects(http: HTTPServer) -> None:
    for hop in range(8):
        http.expect_request(f"/hop{hop}").respond_with_data(
            "", status=307, headers={"Location": f"/hop{hop + 1}"}
        )
    with pytest.raises(SourceError, match=r"too many redirects \(more than 5\)"):
        fetch_feed(http.url_for("/hop0"), timeout=5)
    assert sum(r.path.startswith("/hop") for r, _ in http.log) == 6


def test_redirect_to_file_is_refused(http: HTTPServer) -> None:
    http.expect_request("/sneaky").respond_with_data(
        "", status=302, headers={"Location": "file:///etc/passwd"}
    )
    with pytest.raises(SourceError, match=r"refused redirect to a non-http\(s\) URL: file:///etc"):
        fetch_feed(http.url_for("/sneaky"), timeout=5)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/feed", "feed.xml"])
def test_non_http_urls_are_refused(url: str) -> None:
    with pytest.raises(SourceError, match=r"only http\(s\) URLs are fetched"):
        fetch_feed(url)


def lazy_body(total: int, served: list[int]) -> Iterator[bytes]:
    chunk = b"<!-- " + b"x" * 65_526 + b" -->"  # 64 KiB of valid XML comment
    while served[0] < total:
        served[0] += len(chunk)
        yield chunk


def test_50_mb_response_is_aborted_while_streaming(http: HTTPServer) -> None:
    served = [0]
    total = 50 * 1024 * 1024
    http.expect_request("/huge.xml").respond_with_handler(
        lambda _: Response(lazy_body(total, served), content_type="application/rss+xml")
    )
    with pytest.raises(SourceError, match=r"/huge\.xml: response larger than 5 MB$"):
        fetch_feed(http.url_for("/huge.xml"), timeout=10)
    assert served[0] < total // 2  # stopped early, never read it all


def test_declared_oversize_is_refused_before_reading(http: HTTPServer) -> None:
    served = [0]
    total = 50 * 1024 * 1024
    http.expect_request("/declared.xml").respond_with_handler(
        lambda _: Response(
            lazy_body(total, served),
            headers={"Content-Length": str(total)},
            direct_passthrough=True,
        )
    )
    with pytest.raises(SourceError, match=r"response larger than 5 MB \(Content-Length 52428800\)"):
        fetch_feed(http.url_for("/declared.xml"), timeout=10)
    assert served[0] < total // 2


def test_fetched_html_page_names_the_configured_url(http: HTTPServer) -> None:
    http.expect_request("/page").respond_with_data("", status=301, headers={"Location": "/home"})
    http.expect_request("/home").respond_with_data(
        fixture("html_page.xml"), content_type="text/html"
    )
    with pytest.raises(SourceError, match=r"^feed http://\S+/page: an HTML page"):
        fetch_feed(http.url_for("/page"), timeout=5)


def test_injected_transport_needs_no_server() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=fixture("rss1_rdf.xml"), headers={"ETag": "W/1"})

    result = fetch_feed(
        "https://valley.example.net/rss", transport=httpx.MockTransport(handler), clock=lambda: NOW
    )
    assert result.state.etag == "W/1" and result.feed is not None
    assert [str(r.url) for r in seen] == ["https://valley.example.net/rss"]


def test_failed_state_keeps_validators() -> None:
    state = FeedState(url=FEED_URL, etag='"v"', item_count=2)
    failed = state.failed("feed x: HTTP 500", NOW).failed("feed x: HTTP 500", NOW)
    assert failed.failures == 2 and failed.etag == '"v"' and failed.last_error == "feed x: HTTP 500"
