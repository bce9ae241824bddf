"""FeedDesk: the feeds the bot refreshes, added and removed at run time, OPML in and out.

Two lists make up the feeds: the config file's `[[feeds]]` and the feeds stored by
`newsbot feeds add`, `/addfeed` or an OPML import. On a duplicate URL the config file wins:
it is what the operator wrote by hand, and a restart must not silently change it. A stored
entry for that URL is kept but `shadowed` (not refreshed) until the config entry goes.
URLs are compared in canonical form (scheme and host case, tracking parameters, fragment).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import httpx
from pydantic import BaseModel, ConfigDict

from bot.errors import NewsbotError, SourceError
from bot.models import Article, FeedSource
from bot.opml import Outline, build_opml, parse_opml
from bot.sources.discover import find_feed
from bot.sources.feeds import canonical_url

if TYPE_CHECKING:
    from bot.service import IngestReport, NewsDesk

log = logging.getLogger(__name__)

MAX_NAME_CHARS = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class FeedExistsError(NewsbotError):
    """The feed is already one the bot refreshes; nothing was changed."""


class FeedNotFoundError(NewsbotError):
    """No stored feed has that URL or name."""


class FeedAdded(BaseModel):
    """A feed just added and fetched: what its first fetch brought.

    `items` counts the feed's usable items, `added` the articles new to the store;
    `newest` is the headline of the newest dated item (else the first), None when empty.
    """

    model_config = ConfigDict(frozen=True)

    source: FeedSource
    title: str | None
    items: int
    added: int
    newest: str | None


class FeedRemoved(BaseModel):
    """A stored feed removed: `kept` articles stay searchable, `removed` were purged."""

    model_config = ConfigDict(frozen=True)

    source: FeedSource
    title: str | None
    kept: int
    removed: int


class ImportLine(BaseModel):
    """The outcome for one OPML outline: added, already present, or failed with why."""

    model_config = ConfigDict(frozen=True)

    number: int
    url: str | None
    outcome: Literal["added", "present", "failed"]
    detail: str | None = None


class FeedDesk:
    """Reached as `NewsDesk.sources`; every change goes through the store."""

    def __init__(self, desk: NewsDesk) -> None:
        self._desk = desk
        self._store = desk.store
        self._settings = desk.settings

    # -- the lists -----------------------------------------------------------------------------

    def sources(self) -> list[FeedSource]:
        """Every feed: the config file's first, in its order, then stored ones by age."""
        configured = [
            FeedSource(
                url=feed.url,
                name=feed.name,
                refresh_minutes=feed.refresh_minutes,
                full_text=feed.full_text,
                origin="config",
            )
            for feed in self._settings.feeds
        ]
        taken = {_key(feed.url) for feed in configured}
        stored = [
            source.model_copy(update={"shadowed": _key(source.url) in taken})
            for source in self._store.feed_sources()
        ]
        return configured + stored

    def active(self) -> list[FeedSource]:
        """The feeds the running bot refreshes (shadowed stored entries left out)."""
        return [source for source in self.sources() if not source.shadowed]

    def source(self, url: str) -> FeedSource | None:
        """The active feed with this URL (canonical comparison), or None."""
        key = _key(url)
        return next((s for s in self.active() if _key(s.url) == key), None)

    def wants_full_text(self, url: str) -> bool:
        source = self.source(url)
        return bool(source and source.full_text)

    # -- changes ---------------------------------------------------------------------------

    def add(
        self,
        url: str,
        *,
        name: str | None = None,
        refresh_minutes: int | None = None,
        full_text: bool = False,
        client: httpx.Client | None = None,
    ) -> FeedAdded:
        """Fetch a feed (or the feed a home page links to), store it and its articles.

        The articles are searchable when this returns. Nothing is stored when it fails.

        Raises:
            FeedExistsError: the URL (or the feed the page links to) is already a feed.
            SourceError: unreachable, not a feed, or a page without a feed link (one line
                naming the URL).
        """
        url = url.strip()
        name = " ".join((name or "").split())[:MAX_NAME_CHARS] or None
        self._check_new(url)
        fetched = find_feed(url, client=client, timeout=self._settings.feed_timeout)
        feed_url = fetched.url
        if feed_url != url:
            self._check_new(feed_url)
        source = FeedSource(
            url=feed_url,
            name=name,
            refresh_minutes=refresh_minutes,
            full_text=full_text,
            added_at=datetime.now(UTC),
        )
        report = self._desk.ingest_feed(feed_url, name=name, full_text=full_text, fetched=fetched)
        if report.problems:  # the fetch succeeded, so this is a store problem: say it
            raise SourceError(report.problems[0].reason)
        if not self._store.add_feed_source(source):
            raise FeedExistsError(f"already present: {feed_url}")
        feed = fetched.feed
        articles = feed.articles if feed else []
        log.info("feed %s: added with %d items", feed_url, len(articles))
        return FeedAdded(
            source=source,
            title=name or (feed.title if feed else None),
            items=len(articles),
            added=report.added,
            newest=_newest(articles),
        )

    def remove(self, url_or_name: str, *, purge: bool = False) -> FeedRemoved:
        """Stop refreshing a stored feed; its articles stay unless `purge`.

        With `purge`, articles another feed also carried are kept (and counted as kept).

        Raises:
            FeedNotFoundError: no stored feed has that URL or name (a config-file feed says
                so: it is removed from the config file).
        """
        source = self._find_stored(url_or_name)
        title = source.name or self.title(source.url)
        own, shared = self._store.feed_article_ids(source.url)
        purged = own if purge else []
        removed = self._desk.remove_feed(source.url, purged)
        log.info("feed %s: removed (%d articles deleted)", source.url, removed)
        return FeedRemoved(
            source=source, title=title, kept=len(own) + len(shared) - removed, removed=removed
        )

    def import_opml(self, data: bytes, *, label: str = "OPML") -> list[ImportLine]:
        """Add every feed outline of an OPML document, each on its own.

        One bad outline never stops the others, and leaves the store as it was for it.

        Raises:
            OpmlError: the document as a whole is unusable (nothing is imported).
        """
        return [self._import_one(outline) for outline in parse_opml(data, label=label)]

    def _import_one(self, outline: Outline) -> ImportLine:
        number, url = outline.number, outline.url
        if url is None:
            return ImportLine(number=number, url=None, outcome="failed", detail=outline.problem)
        try:
            added = self.add(url, name=outline.name)
        except FeedExistsError as exc:  # the outcome says "already present" once
            detail = str(exc).removeprefix("already present: ")
            return ImportLine(number=number, url=url, outcome="present", detail=detail)
        except SourceError as exc:
            return ImportLine(number=number, url=url, outcome="failed", detail=str(exc))
        detail = f"{added.title or added.source.url}: {items(added.items)}"
        return ImportLine(number=number, url=url, outcome="added", detail=detail)

    def export_opml(self, now: datetime | None = None) -> str:
        """Every active feed as an OPML 2.0 document, named as `newsbot feeds` shows it.

        A feed added without a name is exported under its own title, so that a reader (or
        another newsbot) importing the file does not name it by its URL.
        """
        named = [
            source if source.name else source.model_copy(update={"name": self.title(source.url)})
            for source in self.active()
        ]
        return build_opml(named, now=now or datetime.now(UTC))

    def refresh(self, url: str) -> IngestReport:
        """Fetch one feed again (conditional GET) with its current name and full-text choice."""
        source = self.source(url)
        name = source.name if source else None
        return self._desk.ingest_feed(url, name=name, full_text=bool(source and source.full_text))

    # -- helpers -----------------------------------------------------------------------------

    def _check_new(self, url: str) -> None:
        key = _key(url)
        for source in self.sources():
            if _key(source.url) == key:
                where = "in the config file" if source.origin == "config" else "added before"
                raise FeedExistsError(f"already present: {source.url} ({where})")

    def _names(self, source: FeedSource) -> set[str]:
        """What a feed may be called: its given name and the title its feed gives."""
        return {name.casefold() for name in (source.name, self.title(source.url)) if name}

    def title(self, url: str) -> str | None:
        """The feed's own title (or given name) as last fetched; None if never fetched."""
        status = self._store.feed_status(url)
        return status.name if status else None

    def _find_stored(self, url_or_name: str) -> FeedSource:
        wanted = url_or_name.strip()
        key, folded = _key(wanted), wanted.casefold()
        sources = self.sources()
        by_url = [s for s in sources if _key(s.url) == key]
        matches = by_url or [s for s in sources if folded in self._names(s)]
        stored = [s for s in matches if s.origin == "store"]
        if len(stored) > 1:
            raise FeedNotFoundError(
                f"{len(stored)} feeds are named {wanted!r}: remove one by its URL"
            )
        if stored:
            return stored[0]
        if matches:
            raise FeedNotFoundError(
                f"{matches[0].url} is listed in the config file: remove its [[feeds]] entry there"
            )
        raise FeedNotFoundError(f"no feed with the URL or name {wanted!r}")


def _newest(articles: Sequence[Article]) -> str | None:
    """The headline of the newest dated article, else of the first; None when none."""
    dated = [a for a in articles if a.published is not None]
    if dated:
        return max(dated, key=lambda a: a.published or _EPOCH).headline
    return articles[0].headline if articles else None


def _key(url: str) -> str:
    """How URLs are compared for duplicates: canonical when possible, else as written."""
    return canonical_url(url) or url.strip()


def items(count: int) -> str:
    """'1 item', '3 items'."""
    return f"{count} item" if count == 1 else f"{count} items"


def counts(lines: Sequence[ImportLine]) -> dict[str, int]:
    """How many outlines ended each way (for a one-line summary)."""
    tally = {"added": 0, "present": 0, "failed": 0}
    for line in lines:
        tally[line.outcome] += 1
    return tally
