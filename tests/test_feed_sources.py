"""Feeds added at run time: add (and autodiscovery), remove, OPML import/export, bad input.

Every feed and page is served over real HTTP on 127.0.0.1 (pytest-httpserver); the store is
a real SQLite file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from bot.errors import SourceError
from bot.feed_desk import FeedExistsError, FeedNotFoundError, counts
from bot.opml import OpmlError, parse_opml
from bot.service import NewsDesk
from bot.settings import FeedSettings, Settings
from bot.sources.discover import NoFeedFound, feed_links
from bot.sources.fetch import FetchError, fetch
from tests.ports import closed_port

FIXTURES = Path(__file__).parent / "fixtures"
FEEDS = FIXTURES / "feeds"
OPML = FIXTURES / "opml"
FERRY = "Council approves new ferry timetable"


def serve(httpserver: HTTPServer) -> str:
    """The harbour RSS feed, the mountain Atom feed behind a home page, a page without a
    feed link and a 404; returns the server's base URL."""
    feed = (FEEDS / "rss2_content_encoded.xml").read_bytes()
    atom = (FEEDS / "atom_html.xml").read_bytes()
    httpserver.expect_request("/harbour.xml").respond_with_data(feed, content_type="text/xml")
    httpserver.expect_request("/atom.xml").respond_with_data(
        atom, content_type="application/atom+xml"
    )
    httpserver.expect_request("/").respond_with_data(
        (FEEDS / "home_page.html").read_bytes(), content_type="text/html"
    )
    httpserver.expect_request("/plain").respond_with_data(
        (FEEDS / "no_feed_page.html").read_bytes(), content_type="text/html; charset=utf-8"
    )
    httpserver.expect_request("/gone.xml").respond_with_data("gone", status=404)
    return httpserver.url_for("/").rstrip("/")


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[NewsDesk]:
    desk = NewsDesk.open(Settings(db=tmp_path / "news.db", feed_timeout=5), seed=False)
    yield desk
    desk.close()


def snapshot(desk: NewsDesk) -> tuple[object, ...]:
    """Everything a failed change must leave as it was."""
    return (
        desk.store.count(),
        desk.store.generation,
        desk.store.feed_sources(),
        desk.store.feed_statuses(),
        desk.sources.sources(),
    )


# ---------------------------------------------------------------------------------- add


def test_add_fetches_at_once_and_the_articles_answer(
    httpserver: HTTPServer, desk: NewsDesk
) -> None:
    base = serve(httpserver)
    added = desk.sources.add(f"{base}/harbour.xml", refresh_minutes=7)
    assert added.title == "Harbour Gazette" and added.items == 3 and added.added == 3
    assert added.newest == FERRY
    assert desk.ask("ferry timetable").results[0].headline == FERRY
    (source,) = desk.sources.active()
    assert source.url == f"{base}/harbour.xml" and source.refresh_minutes == 7
    assert source.origin == "store" and source.added_at is not None
    # the feed's status is remembered as for a configured feed (items, conditional GET)
    (status,) = desk.feeds()
    assert status.items == 3 and status.last_success is not None


def test_a_name_becomes_the_articles_source(httpserver: HTTPServer, desk: NewsDesk) -> None:
    base = serve(httpserver)
    added = desk.sources.add(f"{base}/harbour.xml", name="  The   Gazette ")
    assert added.title == "The Gazette"
    assert desk.ask("ferry timetable").results[0].source == "The Gazette"


def test_a_home_page_leads_to_its_feed(httpserver: HTTPServer, desk: NewsDesk) -> None:
    base = serve(httpserver)
    added = desk.sources.add(f"{base}/")
    # the first feed link in page order (Atom), resolved against the page
    assert added.source.url == f"{base}/atom.xml"
    assert added.title == "Mountain Post" and added.items == 2
    assert added.newest is not None and "high pass" in added.newest
    assert desk.ask("ski lift cabins").found


def test_feed_links_are_read_from_the_page_only() -> None:
    page = (FEEDS / "home_page.html").read_bytes()
    assert feed_links(page, "http://site.example/news/") == [
        "http://site.example/atom.xml",
        "http://site.example/comments.rss",
    ]
    assert feed_links((FEEDS / "no_feed_page.html").read_bytes(), "http://x.example/") == []
    based = b'<head><base href="https://cdn.example/a/"><link rel="Alternate feed" '
    based += b'type="application/RSS+XML" href="rss"><link rel=alternate '
    based += b'type="application/rss+xml" href="javascript:alert(1)"></head>'
    assert feed_links(based, "http://site.example/") == ["https://cdn.example/a/rss"]


def test_bad_input_is_one_line_and_changes_nothing(httpserver: HTTPServer, desk: NewsDesk) -> None:
    base = serve(httpserver)
    desk.sources.add(f"{base}/harbour.xml")
    before = snapshot(desk)

    with pytest.raises(NoFeedFound, match=rf"^{base}/plain: a web page with no RSS or Atom feed"):
        desk.sources.add(f"{base}/plain")
    with pytest.raises(SourceError, match=r"HTTP 404"):
        desk.sources.add(f"{base}/gone.xml")
    with (
        closed_port() as port,
        pytest.raises(SourceError, match=rf"127\.0\.0\.1:{port}/x\.xml: connection failed"),
    ):
        desk.sources.add(f"http://127.0.0.1:{port}/x.xml")
    with pytest.raises(SourceError, match="only http"):
        desk.sources.add("file:///etc/passwd")
    # duplicates, also when written differently or reached through the home page
    with pytest.raises(FeedExistsError, match="already present"):
        desk.sources.add(f"{base}/harbour.xml")
    with pytest.raises(FeedExistsError, match="already present"):
        desk.sources.add(f"{base}/harbour.xml?utm_source=x#top")
    assert snapshot(desk) == before
    desk.sources.add(f"{base}/")
    before = snapshot(desk)
    with pytest.raises(FeedExistsError, match=r"atom\.xml"):
        desk.sources.add(f"{base}/")
    for message in (str(e) for e in _errors(desk, base)):
        assert "\n" not in message
    assert snapshot(desk) == before


def _errors(desk: NewsDesk, base: str) -> list[Exception]:
    errors: list[Exception] = []
    for url in (f"{base}/plain", f"{base}/gone.xml", f"{base}/atom.xml"):
        try:
            desk.sources.add(url)
        except (SourceError, FeedExistsError) as exc:
            errors.append(exc)
    assert len(errors) == 3
    return errors


def test_the_config_file_wins_on_a_duplicate_url(httpserver: HTTPServer, tmp_path: Path) -> None:
    base = serve(httpserver)
    db = tmp_path / "news.db"
    first = NewsDesk.open(Settings(db=db), seed=False)
    try:
        first.sources.add(f"{base}/harbour.xml", name="Stored name", refresh_minutes=3)
    finally:
        first.close()
    configured = FeedSettings(url=f"{base}/harbour.xml", name="Config name")
    desk = NewsDesk.open(Settings(db=db, feeds=[configured]), seed=False)
    try:
        config, stored = desk.sources.sources()
        assert (config.origin, config.name, config.shadowed) == ("config", "Config name", False)
        assert (stored.origin, stored.name, stored.shadowed) == ("store", "Stored name", True)
        assert desk.sources.active() == [config]
        with pytest.raises(FeedExistsError, match="in the config file"):
            desk.sources.add(f"{base}/harbour.xml")
        # removing the stored entry leaves the configured feed refreshed
        removed = desk.sources.remove("Stored name")
        assert removed.source.url == config.url
        assert desk.sources.active() == [config]
        with pytest.raises(FeedNotFoundError, match=r"config file: remove its \[\[feeds\]\]"):
            desk.sources.remove(config.url)
    finally:
        desk.close()


# ---------------------------------------------------------------------------------- remove


def test_remove_keeps_articles_unless_purged(httpserver: HTTPServer, desk: NewsDesk) -> None:
    base = serve(httpserver)
    desk.sources.add(f"{base}/harbour.xml", name="Gazette")
    desk.sources.add(f"{base}/")
    removed = desk.sources.remove("gazette")  # by name, any case
    assert (removed.kept, removed.removed) == (3, 0)
    assert desk.store.count() == 5 and desk.ask("ferry timetable").found
    assert [s.url for s in desk.sources.active()] == [f"{base}/atom.xml"]
    assert f"{base}/harbour.xml" not in {s.url for s in desk.feeds()}

    purged = desk.sources.remove(f"{base}/atom.xml", purge=True)
    assert (purged.kept, purged.removed) == (0, 2)
    assert desk.store.count() == 3
    assert not desk.ask("ski lift cabins").found  # gone from the index too
    assert desk.sources.active() == []
    with pytest.raises(FeedNotFoundError, match="no feed with the URL or name 'nothing'"):
        desk.sources.remove("nothing")


# ---------------------------------------------------------------------------------- OPML


def test_import_reports_every_outline_and_never_stops(
    httpserver: HTTPServer, desk: NewsDesk
) -> None:
    base = serve(httpserver)
    data = (OPML / "feedly_export.opml").read_text().replace("{base}", base).encode()
    lines = desk.sources.import_opml(data)
    outcomes = [(line.number, line.outcome) for line in lines]
    assert outcomes == [(1, "added"), (2, "failed"), (3, "failed"), (4, "added"), (5, "present")]
    assert "HTTP 404" in (lines[1].detail or "") and "xmlUrl" in (lines[2].detail or "")
    assert counts(lines) == {"added": 2, "present": 1, "failed": 2}
    assert [s.url for s in desk.sources.active()] == [f"{base}/harbour.xml", f"{base}/atom.xml"]
    assert {s.url for s in desk.feeds()} == {f"{base}/harbour.xml", f"{base}/atom.xml"}
    # importing again adds nothing
    again = desk.sources.import_opml(data)
    assert counts(again) == {"added": 0, "present": 3, "failed": 2}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("malformed.opml", r"malformed XML: mismatched tag: line 6"),
        ("entities.opml", r"refused: EntitiesForbidden"),
    ],
)
def test_bad_opml_imports_nothing(desk: NewsDesk, name: str, message: str) -> None:
    before = snapshot(desk)
    with pytest.raises(OpmlError, match=message):
        desk.sources.import_opml((OPML / name).read_bytes(), label=name)
    with pytest.raises(OpmlError, match="not an OPML document"):
        desk.sources.import_opml((FEEDS / "rss2_content_encoded.xml").read_bytes())
    assert snapshot(desk) == before


def test_export_is_opml_2_that_imports_back(httpserver: HTTPServer, tmp_path: Path) -> None:
    base = serve(httpserver)
    configured = FeedSettings(url=f"{base}/atom.xml", name="Mountain & <Co>")
    desk = NewsDesk.open(Settings(db=tmp_path / "a.db", feeds=[configured]), seed=False)
    try:
        desk.sources.add(f"{base}/harbour.xml")
        exported = desk.sources.export_opml()
    finally:
        desk.close()
    assert exported.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    outlines = parse_opml(exported.encode())
    assert [(o.url, o.name) for o in outlines] == [
        (f"{base}/atom.xml", "Mountain & <Co>"),
        (f"{base}/harbour.xml", "Harbour Gazette"),  # no name given: the feed's own title
    ]
    other = NewsDesk.open(Settings(db=tmp_path / "b.db"), seed=False)
    try:
        assert counts(other.sources.import_opml(exported.encode()))["added"] == 2
    finally:
        other.close()


# ---------------------------------------------------------------------------------- fetch


def test_the_fetch_client_guards_every_source(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/big").respond_with_data(b"x" * 5000)
    httpserver.expect_request("/to-file").respond_with_data(
        "", status=302, headers={"Location": "file:///etc/passwd"}
    )
    httpserver.expect_request("/loop").respond_with_data(
        "", status=301, headers={"Location": "/loop2"}
    )
    httpserver.expect_request("/loop2").respond_with_data(
        "", status=301, headers={"Location": "/loop"}
    )
    with pytest.raises(FetchError, match="larger than 1 kB"):
        fetch(httpserver.url_for("/big"), max_bytes=1000)
    with pytest.raises(FetchError, match="refused redirect to a non-http"):
        fetch(httpserver.url_for("/to-file"))
    with pytest.raises(FetchError, match="redirect loop"):
        fetch(httpserver.url_for("/loop"))
    ok = fetch(httpserver.url_for("/big"))
    assert ok.status == 200 and len(ok.body) == 5000 and ok.attempts == 1
