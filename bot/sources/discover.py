"""Feed autodiscovery: a site's home page URL leads to the feed its page links to.

A page names its feeds with ``<link rel="alternate" type="application/rss+xml" href=...>``
(or ``application/atom+xml``). The page is downloaded by :mod:`bot.sources.fetch` with the
same guards as a feed (http(s) only, size cap, timeout, bounded redirects), and so is the
feed it names.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from html.parser import HTMLParser

import httpx

from bot.sources.feeds import (
    FEED_ACCEPT,
    FeedFetchError,
    FetchResult,
    canonical_url,
    fetch_feed,
    fetch_result,
)
from bot.sources.fetch import HTML_ACCEPT, FetchError, fetch

FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml"})
_HTML = re.compile(rb"<!doctype\s+html|<html[\s>]|<head[\s>]", re.IGNORECASE)


class NoFeedFound(FetchError):
    """The URL is a web page that links to no RSS or Atom feed."""


class _FeedLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: (value or "").strip() for name, value in attrs}
        if tag == "base" and values.get("href") and self.base is None:
            self.base = values["href"]
        rels = values.get("rel", "").lower().split()
        kind = values.get("type", "").lower().split(";")[0].strip()
        if tag == "link" and "alternate" in rels and kind in FEED_TYPES and values.get("href"):
            self.links.append(values["href"])

    handle_startendtag = handle_starttag


def feed_links(html: bytes, base_url: str) -> list[str]:
    """The feed URLs a page links to, absolute, in page order, without duplicates.

    Only http(s) links count; a ``<base href>`` is honoured. Pure: no I/O, never raises.
    """
    parser = _FeedLinks()
    parser.feed(html.decode("utf-8", errors="replace"))
    parser.close()
    base = canonical_url(parser.base, base=base_url) if parser.base else None
    found: list[str] = []
    for href in parser.links:
        url = canonical_url(href, base=base or base_url)
        if url and url not in found:
            found.append(url)
    return found


def find_feed(
    url: str,
    *,
    client: httpx.Client | None = None,
    timeout: float = 10.0,
    max_bytes: int = 5_000_000,
    retries: int = 1,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
) -> FetchResult:
    """Fetch `url` as a feed, or, when it is an HTML page, the first feed the page links to.

    Returns:
        The fetched and parsed feed; its `url` is the feed's own address (the page's link
        when one was followed).

    Raises:
        NoFeedFound: an HTML page without a feed link (one line naming `url`).
        SourceError: the URL (or the feed it links to) cannot be fetched or is no feed.
    """
    own = client is None
    http = client or httpx.Client()
    try:
        download = fetch(
            url,
            client=http,
            accept=f"{FEED_ACCEPT}, {HTML_ACCEPT};q=0.5",
            timeout=timeout,
            max_bytes=max_bytes,
            retries=retries,
            sleep=sleep,
        )
        try:
            return fetch_result(url, download, None, clock())
        except FeedFetchError:
            if not _HTML.search(download.body[:4096]):
                raise
        links = feed_links(download.body, download.final_url)
        if not links:
            raise NoFeedFound(url, "a web page with no RSS or Atom feed link")
        return fetch_feed(
            links[0],
            client=http,
            timeout=timeout,
            max_bytes=max_bytes,
            retries=retries,
            sleep=sleep,
            clock=clock,
        )
    finally:
        if own:
            http.close()
