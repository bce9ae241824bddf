"""Feed ingest throughput: a generated 1,000-item RSS feed served from 127.0.0.1.

Run: python benchmarks/bench_feeds.py [--items 1000] [--rounds 5]
Prints one row per stage (download only, parse only, fetch = download + parse, and a
conditional re-fetch answered with 304), with the median of the rounds.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from bot.service import NewsDesk
from bot.settings import Settings
from bot.sources.feeds import fetch_feed, parse_feed

ETAG = '"bench-1"'


def generate_feed(items: int) -> bytes:
    """An RSS 2.0 feed with content:encoded HTML, tracking links and dates on every item."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">',
        "<channel><title>Bench Gazette</title><link>https://bench.example.org/</link>",
        "<description>Generated</description>",
    ]
    for n in range(items):
        paragraphs = "".join(
            f"<p>Paragraph {p} of story {n}: the council met on <b>Tuesday</b> and agreed "
            f"to repair the harbour wall &amp; the ferry pier before the winter storms.</p>"
            for p in range(6)
        )
        parts.append(
            f"<item><title>Story {n}: harbour works &amp; ferry plans</title>"
            f"<link>https://bench.example.org/news/{n}?utm_source=rss&amp;utm_medium=feed</link>"
            f"<guid isPermaLink='false'>bench-{n}</guid>"
            f"<pubDate>Tue, 05 Mar 2024 {n % 24:02d}:{n % 60:02d}:00 GMT</pubDate>"
            f"<description>Story {n} in brief.</description>"
            f"<content:encoded><![CDATA[<h2>Update</h2>{paragraphs}"
            f"<script>track({n})</script>]]></content:encoded></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


@contextmanager
def serve(body: bytes, etag: str = ETAG) -> Iterator[str]:
    """Serve `body` at http://127.0.0.1:<port>/feed.xml, honouring If-None-Match."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/feed.xml"
    finally:
        server.shutdown()
        server.server_close()


def timed(run: Callable[[], object], rounds: int) -> float:
    """The median wall time of `rounds` runs, after one warm-up run."""
    run()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def desk_stages(url: str, items: int) -> list[tuple[str, float, int]]:
    """Into a real store and index: a first ingest, then one new item made answerable."""
    with tempfile.TemporaryDirectory() as folder:
        desk = NewsDesk.open(Settings(db=Path(folder) / "news.db"), seed=False)
        started = time.perf_counter()
        report = desk.ingest_feed(url)
        first = time.perf_counter() - started
        assert report.added == items, report
        # A new item appears: a changed feed (new ETag) with one more story; the time is
        # one refresh (fetch, parse, store, index) until a question finds it.
        with serve(generate_feed(items + 1), etag='"bench-2"') as changed:
            started = time.perf_counter()
            desk.ingest_feed(changed)
            answer = desk.ask(f"Story {items}: harbour works and ferry plans")
            latest = time.perf_counter() - started
        assert answer.found and answer.results[0].headline.startswith(f"Story {items}:")
        desk.close()
    return [
        ("fetch + store + index", first, items),
        ("new item: refresh to answer", latest, 1),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    body = generate_feed(args.items)
    now = datetime.now(UTC)
    with serve(body) as url, httpx.Client() as client:
        first = fetch_feed(url, client=client, timeout=30)
        assert first.feed is not None and len(first.feed.articles) == args.items
        rows = [
            ("download only", timed(lambda: client.get(url).content, args.rounds), args.items),
            (
                "parse only",
                timed(lambda: parse_feed(body, url=url, fetched_at=now), args.rounds),
                args.items,
            ),
            (
                "fetch (download + parse)",
                timed(lambda: fetch_feed(url, client=client, timeout=30), args.rounds),
                args.items,
            ),
            (
                "re-fetch, 304 via ETag",
                timed(
                    lambda: fetch_feed(url, state=first.state, client=client, timeout=30),
                    args.rounds,
                ),
                0,
            ),
        ]
        rows += desk_stages(url, args.items)

    size_mb = len(body) / 1_000_000
    print(f"feed: {args.items} items, {size_mb:.2f} MB; median of {args.rounds} rounds")
    print(f"{'stage':<26} {'seconds':>9} {'items/s':>10} {'MB/s':>8}")
    for stage, seconds, items in rows:
        rate = f"{items / seconds:,.0f}" if items else "-"
        mb_rate = f"{size_mb / seconds:.1f}" if items else "-"
        print(f"{stage:<26} {seconds:>9.4f} {rate:>10} {mb_rate:>8}")


if __name__ == "__main__":
    main()
