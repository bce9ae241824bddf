"""Feeds into the store over real HTTP on 127.0.0.1: counts, 304s, failures that change nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bot.service import NewsDesk
from bot.settings import FeedSettings, Settings

ROOT = Path(__file__).resolve().parent.parent
FEEDS = Path(__file__).parent / "fixtures" / "feeds"


@pytest.fixture
def desk(tmp_path: Path) -> NewsDesk:
    desk = NewsDesk.open(Settings(db=tmp_path / "news.db"), seed=False)
    yield desk  # type: ignore[misc]
    desk.close()


def serve_with_etag(httpserver: HTTPServer, path: str, body: bytes, etag: str) -> None:
    def handler(request: Request) -> Response:
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(body, headers={"ETag": etag, "Content-Type": "application/rss+xml"})

    httpserver.expect_request(path).respond_with_handler(handler)


def test_feed_url_ingest_then_not_modified(httpserver: HTTPServer, desk: NewsDesk) -> None:
    body = (FEEDS / "rss2_content_encoded.xml").read_bytes()
    serve_with_etag(httpserver, "/feed.xml", body, '"v1"')
    url = httpserver.url_for("/feed.xml")

    first = desk.ingest([url])
    assert first.failed == 0
    assert first.added > 0
    count = desk.store.count()
    status = desk.feeds()[0]
    assert status.url == url and status.etag == '"v1"' and status.last_success is not None

    again = desk.ingest([url])
    assert (again.added, again.updated, again.failed) == (0, 0, 0)
    assert desk.store.count() == count

    # New items are answerable at once: the index took them in without a rebuild.
    headline = desk.headlines(1)[0].headline
    answer = desk.ask(headline)
    assert answer.found
    assert answer.results[0].headline == headline


def test_broken_feed_changes_nothing_and_is_recorded(
    httpserver: HTTPServer, desk: NewsDesk
) -> None:
    httpserver.expect_request("/bad.xml").respond_with_data(
        (FEEDS / "malformed.xml").read_bytes(), content_type="application/rss+xml"
    )
    httpserver.expect_request("/gone.xml").respond_with_data("no", status=404)
    generation = desk.store.generation
    report = desk.ingest([httpserver.url_for("/bad.xml"), httpserver.url_for("/gone.xml")])
    assert report.added == 0
    assert report.failed == 2
    assert "malformed XML" in report.problems[0].reason
    assert "404" in report.problems[1].reason
    assert desk.store.count() == 0
    assert desk.store.generation == generation
    errors = {s.url.rsplit("/", 1)[1]: s.last_error for s in desk.feeds()}
    assert errors["bad.xml"] and errors["gone.xml"]


def test_file_urls_are_refused(desk: NewsDesk, tmp_path: Path) -> None:
    report = desk.ingest([f"file://{FEEDS / 'atom_html.xml'}"])
    assert report.failed == 1
    assert report.added == 0


PAGE = """<html><head><title>Harbour wall</title></head><body>
<nav><a href="/">Home</a> | <a href="/world">World</a></nav>
<article><h1>Harbour wall to be rebuilt</h1>
<p>The council voted on Tuesday to rebuild the harbour wall before the winter storms, after
engineers found cracks along forty metres of the old stone.</p>
<p>Work will start in October and cost 2.4 million pounds, the council said, with the ferry
pier closed for six weeks while divers inspect the foundations.</p>
<p>Fishermen welcomed the decision but asked for the slipway to stay open during the work,
which the harbour master promised for weekday mornings.</p>
</article><footer>Subscribe to our newsletter</footer></body></html>"""


def teaser_feed(link: str) -> bytes:
    return f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Teasers</title>
<link>{link}</link><item><title>Harbour wall to be rebuilt</title><link>{link}</link>
<guid>harbour-1</guid><pubDate>Tue, 05 Mar 2024 09:00:00 GMT</pubDate>
<description>The council voted to rebuild the wall.</description></item>
</channel></rss>""".encode()


def full_text_desk(httpserver: HTTPServer, tmp_path: Path, page: str) -> tuple[NewsDesk, str]:
    """A desk whose one configured feed, full_text on, links its item to `page`."""
    httpserver.expect_request("/teasers.xml").respond_with_data(
        teaser_feed(page), content_type="application/rss+xml"
    )
    url = httpserver.url_for("/teasers.xml")
    feeds = [FeedSettings(url=url, full_text=True)]
    return NewsDesk.open(Settings(db=tmp_path / "news.db", feeds=feeds), seed=False), url


def test_full_text_feed_takes_the_article_page(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/news/harbour").respond_with_data(
        PAGE, content_type="text/html; charset=utf-8"
    )
    desk, url = full_text_desk(httpserver, tmp_path, httpserver.url_for("/news/harbour"))
    try:
        assert desk.ingest([url]).added == 1
        article = desk.headlines(1)[0]
        assert article.summary == ["The council voted to rebuild the wall."]
        assert any("2.4 million pounds" in paragraph for paragraph in article.body)
        assert not any("newsletter" in paragraph for paragraph in article.body)
        answer = desk.ask("How much will the harbour wall cost?")
        assert answer.found and "2.4 million" in answer.results[0].excerpt
    finally:
        desk.close()


def test_full_text_page_failure_keeps_the_teaser(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/gone").respond_with_data("no", status=404)
    desk, url = full_text_desk(httpserver, tmp_path, httpserver.url_for("/gone"))
    try:
        report = desk.ingest([url])
        assert (report.added, report.failed) == (1, 0)
        assert desk.headlines(1)[0].body == ["The council voted to rebuild the wall."]
    finally:
        desk.close()


def test_cli_feed_failures_are_one_line_each_and_exit_non_zero(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request("/loop").respond_with_data(
        "", status=302, headers={"Location": "/loop"}
    )
    httpserver.expect_request("/page").respond_with_data(
        (FEEDS / "html_page.xml").read_bytes(), content_type="text/html"
    )
    httpserver.expect_request("/ok.xml").respond_with_data(
        (FEEDS / "atom_html.xml").read_bytes(), content_type="application/atom+xml"
    )
    urls = [httpserver.url_for(p) for p in ("/loop", "/page", "/ok.xml")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    run = subprocess.run(
        [sys.executable, "-m", "bot", "--db", str(tmp_path / "news.db"), "ingest", *urls],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert run.returncode == 1
    errors = run.stderr.strip().splitlines()
    assert len(errors) == 2
    assert urls[0] in errors[0] and "redirect loop" in errors[0]
    assert urls[1] in errors[1] and "HTML page" in errors[1]
    assert run.stdout.startswith("added ") and "failed 2" in run.stdout
    assert "Traceback" not in run.stderr
