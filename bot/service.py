"""NewsDesk: the one API every adapter calls (ingest, ask, headlines, feedback)."""

from __future__ import annotations

import hashlib
import logging
import shutil
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import httpx

from bot import analysis, boilerplate, reading, stored_reading
from bot.answer import card, complete
from bot.changes import ChangeFeed, margin_before, stamp_now
from bot.digest import Digest, compose_stories, pick_stories
from bot.errors import SourceError
from bot.feed_desk import FeedDesk
from bot.follows import FollowDesk
from bot.languages import LanguageDesk
from bot.models import (
    Answer,
    Article,
    FeedStatus,
    Hit,
    QueryContext,
    Result,
    StoryRow,
    Subscription,
)
from bot.retrieval import FOUND_THRESHOLD, Search
from bot.schedule import Due, due_now, missed, next_delivery, parse_clock, parse_timezone
from bot.search_engine import SearchEngine, open_engine
from bot.settings import Settings, default_db_path
from bot.sources import Problem, load_path
from bot.sources.feeds import FeedState, FetchResult, fetch_feed
from bot.sources.fulltext import with_full_text
from bot.store import Store, UpsertCounts
from bot.stories import WINDOW as STORY_WINDOW
from bot.stories import Idf, Story, build_stories, group_articles, spread
from bot.tables.connection import is_postgres

log = logging.getLogger(__name__)

# Articles are parsed, stored and indexed this many at a time, so a large file (or a whole
# store, when the index is rebuilt) never sits in memory at once; one transaction still
# covers a whole ingest.
INGEST_BATCH = 500
T = TypeVar("T")

# A followed topic is looked for among this many best articles for it.
TOPIC_HITS = 200
# Hits the story spread reorders, whatever `top` asks for: one order for every length.
SPREAD_WINDOW = 20

# A digest looks at this many times its size of the newest unsent articles for its stories.
DIGEST_CANDIDATES = 10

# Articles are grouped into stories this much news (by date) at a time.
STORY_CHUNK = timedelta(days=7)

# `newsbot stories` without --since: the stories of the last two days of news.
STORY_DAYS = timedelta(days=2)

# Longer questions are cut, not refused: search needs only the first few sentences.
MAX_QUESTION_CHARS = 500


def bundled_seeds() -> Path:
    """The seed articles: inside the installed package, or `seeds/` beside a source checkout."""
    packaged = Path(str(resources.files("bot"))) / "_seeds"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "seeds"


def index_dir_for(db: Path | str) -> Path:
    """Where the search index of the store at `db` lives by default.

    Beside a SQLite file, `<name>.index/`; for a PostgreSQL URL, in the data dir, named after
    its host, port and database (each machine keeps its own index of the shared store).
    """
    if not is_postgres(db):
        path = Path(db)
        return path.with_name(path.name + ".index")
    where = urlsplit(str(db))
    name = f"{where.hostname or 'local'}-{where.port or 5432}-{where.path.strip('/') or 'db'}"
    if where.query:  # say a search_path in `options`: one index per schema
        name += "-" + hashlib.sha256(where.query.encode()).hexdigest()[:8]
    return default_db_path().parent / "postgresql" / (name + ".index")


def index_dir(settings: Settings) -> Path:
    """The index folder: `index_dir` when set, else the default for the store."""
    return settings.index_dir or index_dir_for(settings.db)


def store_health(db: Path | str) -> int:
    """Open the store and count its articles (raises StoreError when it cannot)."""
    store = Store.open(db)
    try:
        return store.count()
    finally:
        store.close()


def end_of_day(day: date) -> datetime:
    """A bare date as an "as of" moment: the end of that day in UTC, so its articles count."""
    return datetime.combine(day, time.max, tzinfo=UTC)


def clean_question(text: str) -> str:
    """Drop control characters and cut to MAX_QUESTION_CHARS; keeps any script or emoji."""
    kept = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)
    return " ".join(kept.split())[:MAX_QUESTION_CHARS]


@dataclass
class IngestReport:
    """What one ingest did. `problems` name each file (and line) that failed, with why."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.problems)

    def merge(self, other: IngestReport) -> None:
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.problems += other.problems

    def absorb(self, counts: UpsertCounts) -> None:
        self.added += counts.added
        self.updated += counts.updated
        self.unchanged += counts.unchanged


class NewsDesk:
    """Articles in, answers out. Created once at start-up and passed to every adapter."""

    def __init__(self, settings: Settings, store: Store, retriever: SearchEngine) -> None:
        self.settings = settings
        self.store = store
        self.retriever = retriever
        self.digests = DigestDesk(self)
        self.languages = LanguageDesk(store)
        self.follows = FollowDesk(self)
        self.sources = FeedDesk(self)
        # The index is not thread-safe; feed refreshes write it from worker threads while
        # the bot searches it on the event loop.
        self._index_lock = threading.RLock()
        self._changes = ChangeFeed(store)  # see _catch_up
        self._followed = store.generation  # the store generation the index has caught up to
        # Per source, the keys of its boilerplate paragraphs (see bot.boilerplate).
        self._boilerplate = store.repeated_paragraphs(boilerplate.MIN_ARTICLES)

    @classmethod
    def open(cls, settings: Settings, *, seed: bool = True) -> NewsDesk:
        """Open the store and its index, rebuilding a stale index and seeding an empty store."""
        store = Store.open(settings.db)
        retriever = open_engine(settings.search_engine, index_dir(settings))
        desk = cls(settings, store, retriever)
        desk._sync_index()
        desk.backfill_stories()
        if seed and store.count() == 0:
            report = desk.ingest([settings.seeds or bundled_seeds()])
            log.info("seeded an empty store with %d articles", report.added)
        return desk

    def close(self) -> None:
        self.retriever.close()
        self.store.close()

    def _sync_index(self) -> None:
        """Rebuild the index from the store when it was saved at another generation."""
        generation = self.store.generation
        if self.retriever.generation == generation and len(self.retriever) > 0:
            return
        if self.store.count() == 0 and len(self.retriever) == 0:
            return
        log.info("rebuilding the search index (store generation %d)", generation)
        folder = index_dir(self.settings)
        self.retriever.close()
        shutil.rmtree(folder, ignore_errors=True)
        self.retriever = open_engine(self.settings.search_engine, folder)
        for batch in _batches(self.store.iter_articles(), INGEST_BATCH):
            self.retriever.add(self._stripped(batch))
        self.retriever.save(generation)
        self._changes.skip_present()
        self._followed = generation

    # -- ingest -------------------------------------------------------------------------------

    def ingest(self, paths: Sequence[Path | str]) -> IngestReport:
        """Load files and directories into the store and the index.

        One bad file or article is reported in `problems` and the rest still load; the
        store write is one transaction, so a crash leaves the store as it was before.
        """
        report = IngestReport()
        files = [Path(path) for path in paths if not _is_url(path)]
        items = (item for file in files for item in _load(file))
        # Older articles that come to hold boilerplate are re-indexed once, at the end.
        stale: set[str] = set()
        # The articles' text is read in worker processes, ahead of the store and index writes.
        processes = analysis.workers(self.settings.ingest_processes)
        with self._index_lock:  # also over the save: a feed refresh may add meanwhile
            try:
                with self.store.transaction():
                    batches = _batches(items, INGEST_BATCH)
                    ahead = analysis.read_ahead(batches, processes, self._boilerplate)
                    for chunk, read in ahead:
                        report.problems += [i for i in chunk if isinstance(i, Problem)]
                        articles = [i for i in chunk if isinstance(i, Article)]
                        self._add(articles, report, stale, read)
                    self._reindex(sorted(stale), processes)
            except BaseException:
                self._reload_index()  # it may hold articles the store just rolled back
                raise
            if report.added or report.updated:
                self.retriever.save(self.store.generation)
        for path in paths:
            if _is_url(path):
                report.merge(self.ingest_feed(str(path)))
        return report

    def ingest_feed(
        self,
        url: str,
        *,
        name: str | None = None,
        full_text: bool | None = None,
        fetched: FetchResult | None = None,
    ) -> IngestReport:
        """Fetch one feed (conditional GET) and add its items; remember how it went.

        A failure is one problem naming the feed and the reason, and leaves the articles
        exactly as they were: the feed's items are written all at once or not at all.
        `full_text` None asks the feed's own setting; `fetched` is a fetch already made.
        """
        report = IngestReport()
        previous = self.store.feed_status(url)
        now = datetime.now(UTC)
        try:
            fetched = fetched or fetch_feed(
                url, state=_feed_state(url, previous), timeout=self.settings.feed_timeout
            )
        except SourceError as exc:
            report.problems.append(Problem(url, None, str(exc)))
            self.store.save_feed_status(
                (previous or FeedStatus(url=url, name=name)).model_copy(
                    update={"last_error": str(exc), "last_error_at": now}
                )
            )
            return report
        articles = fetched.feed.articles if fetched.feed else []
        if name:
            articles = [a.model_copy(update={"source": name}) for a in articles]
        if self.sources.wants_full_text(url) if full_text is None else full_text:
            articles = self._full_text(articles)
        self.add_articles(articles, report)
        self.store.link_feed_articles(url, [article.id for article in articles])
        self.store.save_feed_status(
            FeedStatus(
                url=url,
                name=name
                or (fetched.feed.title if fetched.feed else None)
                or (previous and previous.name),
                etag=fetched.state.etag,
                last_modified=fetched.state.last_modified,
                last_success=now,
                last_error=None,
                items=fetched.state.item_count,
                added=(previous.added if previous else 0) + report.added,
            )
        )
        return report

    def _full_text(self, articles: list[Article]) -> list[Article]:
        """New items with their pages' text; items already stored keep what they have."""
        known = self.store.get_many([article.id for article in articles])
        fresh = [article for article in articles if article.id not in known]
        with httpx.Client() as client:
            return with_full_text(fresh, client=client, timeout=self.settings.feed_timeout)

    def feeds(self) -> list[FeedStatus]:
        """Every feed fetched so far, with its last success, last error and item counts."""
        return self.store.feed_statuses()

    def add_articles(self, articles: Iterable[Article], report: IngestReport) -> None:
        """Upsert articles in one transaction and update the index incrementally."""
        with self._index_lock:
            if self._add(articles, report):
                self.retriever.save(self.store.generation)

    def _add(
        self,
        articles: Iterable[Article],
        report: IngestReport,
        stale: set[str] | None = None,
        read: Mapping[str, analysis.Analysis] | None = None,
    ) -> bool:
        """Upsert and index, without saving the index; True when anything changed.

        Older articles whose paragraphs have just become boilerplate are re-indexed at
        once, or added to `stale` when given (a bulk ingest re-indexes each of them once).
        `read` holds some of the articles' `bot.analysis.analyse` by id, made ahead.
        """
        batch = _dedupe(articles)
        read = read or {}
        started = stamp_now()
        # Each paragraph is hashed once: the store counts the keys, stripping reads them.
        keys = {
            article.id: made.keys
            if (made := read.get(article.id))
            else boilerplate.body_keys(article)
            for article in batch
        }
        counts, changed = self.store.upsert(batch, paragraph_keys=keys)
        report.absorb(counts)
        if changed:
            self._changes.note([article.id for article in changed], started)
            found = self._learn_boilerplate(changed, keys) - {article.id for article in changed}
            if stale is None:
                self._reindex(sorted(found))
            else:
                stale |= found
            stripped = self._stripped(changed, keys)
            # What was read ahead was stripped of the boilerplate known then.
            readings = {
                kept.id: ahead
                for kept in stripped
                if (ahead := analysis.fits(read.get(kept.id), kept)) is not None
            }
            self.retriever.add(stripped, readings)
            self._save_readings(stripped)
            self._group(changed, {i: made.signature for i, made in read.items()})
        return bool(changed)

    def _stripped(
        self,
        articles: Sequence[Article],
        keys: Mapping[str, Sequence[str | None]] | None = None,
    ) -> list[Article]:
        """The articles without their source's boilerplate paragraphs.

        `keys` are the articles' `boilerplate.body_keys` by id, when already computed.
        """
        known = self._boilerplate
        return [
            boilerplate.strip(
                a, known.get(boilerplate.source_of(a), ()), keys.get(a.id) if keys else None
            )
            for a in articles
        ]

    def _readable(self, article: Article) -> Article:
        """The article as excerpts read it (boilerplate stripped), its reading made at
        ingest put in the reading cache when it is still the article's (bot.stored_reading)."""
        stripped = self._stripped([article])[0]
        if self.settings.store_readings and not reading.is_read(stripped):
            stored_reading.recall([stripped], self.store.readings([article.id]))
        return stripped

    def _save_readings(self, articles: Sequence[Article]) -> None:
        """Keep the articles' readings in the store, when the settings ask for it: reading
        costs about as much CPU as indexing, so it is paid at ingest only on request."""
        if self.settings.store_readings:
            self.store.save_readings(stored_reading.made(list(articles)))

    def _learn_boilerplate(
        self, changed: Sequence[Article], keys: Mapping[str, Sequence[str | None]]
    ) -> set[str]:
        """Count the new articles' paragraphs; returns the ids of the articles of their
        sources that hold a paragraph which has just become boilerplate (to re-index, so
        it leaves the index). `keys` are the articles' `boilerplate.body_keys` by id."""
        stale: set[str] = set()
        for source, new_keys in self._new_boilerplate(changed, keys).items():
            stale.update(self.store.articles_holding(source, new_keys))
        return stale

    def _new_boilerplate(
        self, articles: Sequence[Article], keys: Mapping[str, Sequence[str | None]]
    ) -> dict[str, set[str]]:
        """Learn which of these stored articles' paragraphs have become boilerplate; returns
        them per source.

        Only the articles' keys not yet boilerplate are looked up: a paragraph becomes
        boilerplate when an article holding it is stored, so the cost follows the articles,
        not the store.
        """
        wanted: dict[str, set[str]] = {}
        for article in articles:
            source = boilerplate.source_of(article)
            known = self._boilerplate.get(source, set())
            wanted.setdefault(source, set()).update(
                key for key in keys[article.id] if key is not None and key not in known
            )
        fresh = self.store.repeated_among(boilerplate.MIN_ARTICLES, wanted)
        for source, new_keys in fresh.items():
            self._boilerplate[source] = self._boilerplate.get(source, set()) | new_keys
        return fresh

    def _reindex(self, article_ids: Iterable[str], processes: int = 0) -> None:
        """Index these stored articles again, as the boilerplate known now strips them
        (read in `processes` worker processes when there are enough of them)."""
        stripped = (
            self._stripped(list(self.store.get_many(batch).values()))
            for batch in _batches(article_ids, INGEST_BATCH)
        )
        for again, read in analysis.read_ahead(stripped, processes, self._boilerplate):
            if again:
                readings = {a.id: r for a in again if (r := analysis.fits(read.get(a.id), a))}
                self.retriever.add(again, readings)
                self._save_readings(again)

    def _group(
        self, articles: Sequence[Article], signatures: Mapping[str, dict[str, int]] | None = None
    ) -> None:
        """Put new or changed articles into stories, with the index's idf (see bot.stories).

        Taken a week of news at a time, so the stories compared with sit in memory a week
        and two windows' worth at most, however many days a batch spans. `signatures` are
        some of the articles' `bot.stories.signature` by id, when already made.
        """
        now = datetime.now(UTC)
        dated = sorted(articles, key=lambda article: article.published or now)
        idf = _IdfCache(self.retriever.idf)  # the index does not change while grouping
        chunk: list[Article] = []
        for article in dated:
            if chunk and (article.published or now) - (chunk[0].published or now) > STORY_CHUNK:
                self._group_chunk(chunk, now, idf, signatures)
                chunk = []
            chunk.append(article)
        if chunk:
            self._group_chunk(chunk, now, idf, signatures)

    def _group_chunk(
        self,
        articles: Sequence[Article],
        now: datetime,
        idf: _IdfCache,
        signatures: Mapping[str, dict[str, int]] | None = None,
    ) -> None:
        first, last = articles[0].published or now, articles[-1].published or now
        members = group_articles(
            articles,
            known=self.store.stories_of([article.id for article in articles]),
            pool=self.store.story_members(first - STORY_WINDOW, last + STORY_WINDOW),
            idf=idf,
            next_id=-len(articles),  # provisional; the store allocates the real ids
            now=now,
            signatures=signatures,
        )
        self.store.save_story_members(members)

    def backfill_stories(self) -> int:
        """Group the articles that have no story yet (a store from before stories, or an
        ingest that stopped between its article and story writes); returns how many.

        Only the articles written since the last time all were found grouped (less the
        change feed's MARGIN, for writes committed late) are looked at: a start-up's check
        follows what was written since the last one, not the size of the store.
        """
        done = 0
        started = stamp_now()
        through = self.store.grouped_through
        since = None if through is None else margin_before(through)
        with self._index_lock:
            while batch := self.store.ungrouped(INGEST_BATCH, since):
                self._group(batch)
                done += len(batch)
        # Nothing written since the mark: it still holds, and a start-up writes nothing.
        newest = self.store.newest_write()
        if through is None or (newest is not None and newest >= through):
            self.store.save_grouped_through(started)
        if done:
            log.info("grouped %d articles into stories", done)
        return done

    def stories(
        self, *, since: datetime | None = None, until: datetime | None = None, limit: int = 10
    ) -> list[Story]:
        """The top stories with an article at or after `since` (default: the two days up to
        the newest article), best first; see bot.stories for the score and headline.

        With `until`, as they stood then: articles from `until` on are left out.
        """
        if since is None:
            newest = self.store.newest_at()
            if newest is None:
                return []
            since = (newest if until is None else min(newest, until)) - STORY_DAYS
        rows = self.store.story_rows(since=since, until=until)
        return build_stories(rows)[: max(limit, 0)]

    def _reload_index(self) -> None:
        self.retriever.close()  # drops what the rolled-back ingest wrote
        self.retriever = open_engine(self.settings.search_engine, index_dir(self.settings))
        self._sync_index()

    def remove_feed(self, url: str, purge: Sequence[str]) -> int:
        """Forget a stored feed, deleting the `purge` articles from the store and the index.

        Returns:
            How many articles were deleted.
        """
        with self._index_lock:
            removed = self.store.remove_feed_source(url, purge)
            if removed:
                self.retriever.remove(list(purge))
                self.retriever.save(self.store.generation)
        return removed

    def prune(self, older_than: datetime) -> int:
        """Delete articles published before `older_than` (undated ones are kept).

        Returns:
            How many articles were deleted (0 when none were that old).
        """
        with self._index_lock:
            ids = self.store.published_before(older_than)
            removed = self.store.delete(ids)
            if removed:
                self.retriever.remove(ids)
                self.retriever.save(self.store.generation)
        return removed

    # -- questions ------------------------------------------------------------------------------

    def ask(
        self,
        question: str,
        *,
        as_of: datetime | None = None,
        top: int | None = None,
        within: Sequence[str] | None = None,
        context: QueryContext | None = None,
        excerpts: int | None = None,
    ) -> Answer:
        """Answer a free-text question from the articles published up to `as_of` (default now).

        Returns found=False with the closest articles as did-you-mean when nothing clears
        the confidence threshold (an empty or unusable question finds nothing). `within`
        restricts the answer to those article ids (e.g. a digest's stories); `context` is
        what a follow-up question leans on (see `Retriever.search`). Only the first
        `excerpts` results get their excerpt (None: all); the others are `pending` until
        `complete` builds theirs, when they are shown.
        """
        cleaned = clean_question(question)
        limit = top or self.settings.top
        if not cleaned:
            return Answer(question=question, found=False)
        window = max(limit, SPREAD_WINDOW)
        allowed = None if within is None else set(within)
        with self._index_lock:  # the ranking is explained over the index it was made on
            self._catch_up()
            ranking = self.retriever.rank(
                cleaned,
                as_of=as_of,
                limit=window if allowed is None else max(limit, 100),
                context=context,
            )
            ids = list(ranking.article_ids)
            if allowed is not None:
                ids = [article_id for article_id in ids if article_id in allowed][:window]
            # Only the results shown are explained (their best passage and confidence).
            search = ranking.search(self._spread(ids)[:limit])
        results = self._results(search.hits, search, excerpts)
        if allowed is not None:
            found = bool(results) and search.hits[0].score >= FOUND_THRESHOLD
            return Answer(question=question, found=found, results=results)
        return Answer(question=question, found=search.found and bool(results), results=results)

    def topic_articles(self, topic: str, limit: int = TOPIC_HITS) -> list[str]:
        """The articles `topic`, asked as a question, finds with an answer's confidence
        (FOUND_THRESHOLD), best first; none for an empty topic."""
        cleaned = clean_question(topic)
        if not cleaned:
            return []
        hits = self._search(cleaned, as_of=None, limit=limit).hits
        return [hit.article_id for hit in hits if hit.score >= FOUND_THRESHOLD]

    def _spread(self, article_ids: Sequence[str]) -> list[str]:
        """No two articles of one story in a row (a light reorder; the ranking is retrieval's).

        Callers pass the first SPREAD_WINDOW articles whatever they show, so the first
        results are the same for any `top` up to it (and the More button walks that order).
        """
        return spread(article_ids, self.store.stories_of(list(article_ids)))

    def _search(
        self,
        question: str,
        *,
        as_of: datetime | None,
        limit: int,
        context: QueryContext | None = None,
    ) -> Search:
        """Search the index, first catching up with articles another process stored."""
        with self._index_lock:
            self._catch_up()
            return self.retriever.search(question, as_of=as_of, limit=limit, context=context)

    def catch_up(self) -> int | None:
        """Take in what another process stored (see _catch_up); the store generation the
        index has caught up to."""
        with self._index_lock:
            self._catch_up()
            return self._followed

    def _catch_up(self) -> None:
        """Index the articles another process (`newsbot ingest`, another replica) wrote.

        One small query per search while the store's generation stays put; when it moves,
        the articles written since the last look (bot.changes) are fetched and indexed, and
        deleted ones dropped. Cost follows what changed, not the size of the store.
        """
        generation = self.store.generation
        if generation == self._followed:
            return
        fresh = self._changes.take()
        if fresh:
            articles = list(self.store.get_many(fresh).values())
            self._new_boilerplate(articles, {a.id: boilerplate.body_keys(a) for a in articles})
            self.retriever.add(self._stripped(articles))
            log.info("indexed %d articles stored by another process", len(articles))
        if self.store.count() != len(self.retriever):  # some were deleted elsewhere
            present = {change.id for change in self.store.changed_since(None)}
            self.retriever.remove([i for i in self.retriever.article_ids() if i not in present])
        self._followed = generation

    def _results(
        self, hits: Sequence[Hit], search: Search, excerpts: int | None = None
    ) -> list[Result]:
        """The results of `hits`: the first `excerpts` (None: all) with their excerpt."""
        ids = [hit.article_id for hit in hits]
        first = len(ids) if excerpts is None else excerpts
        # Those shown later need no text now (`complete` reads their article then).
        light = set(ids[first:])
        articles = self.store.get_many(ids[first:], text=False)
        articles.update(self.store.get_many(ids[:first]))
        results: list[Result] = []
        for hit in hits:
            article = articles.get(hit.article_id)
            if article is None:
                continue
            later = excerpts is not None and len(results) >= excerpts
            if not later:
                if hit.article_id in light:  # one before it was deleted meanwhile
                    article = self.store.get(hit.article_id) or article
                article = self._readable(article)
            results.append(card(article, hit, search.question, search.terms, later=later))
        return results

    def complete(self, result: Result) -> Result:
        """`result` with its excerpt built, if it was left for later (see `ask`); an
        article deleted since is shown without one."""
        if result.pending is None:
            return result
        article = self.store.get(result.article_id)
        if article is None:
            return result.model_copy(update={"pending": None})
        return complete(result, self._readable(article))

    def result(self, article_id: str, question: str | None = None) -> Result | None:
        """The card of one article: the excerpt that best matches `question`, else its lead."""
        article = self.store.get(article_id)
        if article is None:
            return None
        if question:
            with self._index_lock:
                self._catch_up()
                ranking = self.retriever.rank(clean_question(question), as_of=None, limit=20)
                ranked = article_id in ranking.article_ids
                search = ranking.search([article_id] if ranked else [])
            if ranked:
                hit = search.hits[0]
                return card(self._readable(article), hit, search.question, search.terms)
        return card(self._readable(article), None)  # no question: the lead

    def article(self, article_id: str) -> Article | None:
        return self.store.get(article_id)

    def headlines(self, limit: int = 5, since: datetime | None = None) -> list[Article]:
        """The newest articles, newest first."""
        return self.store.latest(limit, since)


class DigestDesk:
    """Daily digests: subscriptions, what is due, exactly-once claims, digest-scoped Q&A.

    Reached as `NewsDesk.digests`; time is always passed in (`now`), so tests pin it.
    """

    def __init__(self, desk: NewsDesk) -> None:
        self._desk = desk
        self._store = desk.store
        self._settings = desk.settings.digest

    def subscribe(
        self,
        chat_id: int,
        at: str | None = None,
        timezone: str | None = None,
        *,
        now: datetime | None = None,
    ) -> Subscription:
        """Subscribe or change the time; an omitted timezone keeps the chat's current one.

        Raises:
            ScheduleError: `at` is not HH:MM or `timezone` is not an IANA name.
        """
        current = self._store.subscription(chat_id)
        clock = parse_clock(at or (current.at if current else self._settings.default_time))
        zone = parse_timezone(
            timezone or (current.timezone if current else self._desk.settings.timezone)
        )
        subscription = Subscription(
            chat_id=chat_id,
            at=clock.strftime("%H:%M"),
            timezone=zone.key,
            active=True,
            since=now or datetime.now(UTC),
        )
        self._store.save_subscription(subscription)
        return subscription

    def unsubscribe(self, chat_id: int) -> bool:
        """Stop the digest (the time and timezone are kept for a later /subscribe)."""
        current = self._store.subscription(chat_id)
        if current is None or not current.active:
            return False
        self._store.save_subscription(current.model_copy(update={"active": False}))
        return True

    def subscription(self, chat_id: int) -> Subscription | None:
        return self._store.subscription(chat_id)

    def timezone(self, chat_id: int) -> str:
        """The chat's timezone: the one of its digest (even a stopped one), else the default."""
        subscription = self._store.subscription(chat_id)
        return subscription.timezone if subscription else self._desk.settings.timezone

    def active(self) -> list[Subscription]:
        return self._store.active_subscriptions()

    def next_delivery(self, subscription: Subscription, now: datetime) -> Due:
        """The next scheduled delivery strictly after `now`."""
        return next_delivery(
            parse_clock(subscription.at), parse_timezone(subscription.timezone), now
        )

    def due(self, subscription: Subscription, now: datetime) -> Due | None:
        """Today's (or yesterday's) digest when it is due and not yet sent or skipped."""
        grace = timedelta(hours=self._settings.grace_hours)
        due = due_now(
            parse_clock(subscription.at), parse_timezone(subscription.timezone), now, grace
        )
        if due is None:
            return None
        state = self._store.delivery_state(subscription.chat_id, due.day.isoformat())
        return None if state in {"sent", "skipped"} else due

    def skip_missed(self, subscription: Subscription, now: datetime) -> Due | None:
        """Record as skipped the latest scheduled digest when it is past its grace window
        and never went out (the bot was down); earlier days are left alone.

        Returns:
            That delivery (for the caller to log), or None when nothing was missed.
        """
        grace = timedelta(hours=self._settings.grace_hours)
        clock, zone = parse_clock(subscription.at), parse_timezone(subscription.timezone)
        latest = missed(clock, zone, now, grace)
        if latest is None:
            return None
        if subscription.since is not None and latest.at < subscription.since:
            return None  # scheduled before the chat subscribed: nothing was missed
        if not self.claim(subscription.chat_id, latest.day, now):
            return None  # sent, skipped, or being sent
        reason = f"missed: more than {self._settings.grace_hours:g} h late"
        self._store.finish_delivery(
            subscription.chat_id, latest.day.isoformat(), "skipped", detail=reason
        )
        return latest

    def claim(self, chat_id: int, day: date, now: datetime) -> bool:
        """Take the right to send this day's digest (see Store.claim_delivery)."""
        lease = self._settings.claim_lease_seconds
        return self._store.claim_delivery(chat_id, day.isoformat(), now, lease)

    def compose(self, chat_id: int, day: date, topics: Mapping[int, str] | None = None) -> Digest:
        """The top stories this chat has not had yet (or that grew an update), numbered:
        each story once, those matching `topics` (story id -> topic) first."""
        size = self._settings.size
        candidates = self._store.unsent_articles(chat_id, size * DIGEST_CANDIDATES)
        story_of = self._store.stories_of([article.id for article in candidates])
        rows = self._store.story_rows(story_ids=sorted(set(story_of.values())))
        # not grouped yet (an ingest stopped half way): each its own story until the next open
        rows += [
            StoryRow(
                story_id=-n,
                article_id=article.id,
                at=article.published or datetime.now(UTC),
                headline=article.headline,
                source=article.source,
                url=article.url,
            )
            for n, article in enumerate(candidates, start=1)
            if article.id not in story_of
        ]
        sent = self._store.sent_among(chat_id, [row.article_id for row in rows])
        if topics is None:
            topics = self._desk.follows.story_topics(chat_id, {row.story_id for row in rows})
        picks = pick_stories(rows, sent, topics)[:size]
        articles = self._store.get_many([pick.lead.article_id for pick in picks])
        return compose_stories(chat_id, day, picks, articles)

    def delivered(self, digest: Digest, message_ids: Sequence[int]) -> None:
        state = "sent" if message_ids else "skipped"
        self._store.finish_delivery(
            digest.chat_id,
            digest.day.isoformat(),
            state,
            article_ids=digest.article_ids,
            message_ids=message_ids,
            also_sent=digest.covered,
        )

    def failed(self, chat_id: int, day: date, reason: str) -> None:
        """A claimed delivery that did not go out; it may be claimed again."""
        self._store.finish_delivery(chat_id, day.isoformat(), "failed", detail=reason[:500])

    def chat_gone(self, chat_id: int, day: date | None, reason: str) -> None:
        """The bot was blocked or removed: stop the digest, and say why in the log."""
        log.warning("chat %d is gone (%s): digest deactivated", chat_id, reason)
        current = self._store.subscription(chat_id)
        if current is not None:
            self._store.save_subscription(current.model_copy(update={"active": False}))
        if day is not None:
            self._store.finish_delivery(chat_id, day.isoformat(), "skipped", detail=reason[:500])

    def chat_moved(self, old_id: int, new_id: int) -> None:
        """A group became a supergroup: its subscription and history follow it."""
        log.info("chat %d moved to %d", old_id, new_id)
        self._store.move_chat(old_id, new_id)

    def deliveries(self, chat_id: int | None = None) -> list[tuple[int, str, str]]:
        return self._store.deliveries(chat_id)

    def ask(
        self,
        chat_id: int,
        question: str,
        *,
        message_id: int | None = None,
        number: int | None = None,
        context: QueryContext | None = None,
        excerpts: int | None = None,
    ) -> Answer:
        """Answer from the chat's digest first (the one sent as `message_id`, else the latest).

        With `number`, the answer is that story of the digest; when the digest has no such
        story, the number is read as part of the question ("/ask 12 dead"). Falls back to
        all articles when the digest's stories do not answer the question. `context` and
        `excerpts` are as in `NewsDesk.ask`.
        """
        ids = self._store.digest_article_ids(chat_id, message_id)
        if number is not None and 1 <= number <= len(ids):
            result = self._desk.result(ids[number - 1], question)
            if result is not None:
                return Answer(question=question, found=True, results=[result])
        if number is not None:  # no such story: the number was part of the question
            question = f"{number} {question}".strip()
        answer = (
            self._desk.ask(question, within=ids, context=context, excerpts=excerpts)
            if ids
            else None
        )
        if answer is not None and answer.found:
            return answer
        return self._desk.ask(question, context=context, excerpts=excerpts)


class _IdfCache:
    """An index's idf of stems, each looked up once while the index stays as it is (a
    batch's week-chunks share most of their stems with their neighbours' pools)."""

    def __init__(self, idf: Idf) -> None:
        self._idf = idf
        self._known: dict[str, float] = {}

    def __call__(self, terms: Iterable[str]) -> dict[str, float]:
        wanted = list(terms)
        missing = [term for term in wanted if term not in self._known]
        if missing:
            self._known.update(self._idf(missing))
        return {term: self._known[term] for term in wanted}


def _feed_state(url: str, status: FeedStatus | None) -> FeedState | None:
    if status is None:
        return None
    return FeedState(
        url=url,
        etag=status.etag,
        last_modified=status.last_modified,
        last_success=status.last_success,
        item_count=status.items,
    )


def _load(path: Path) -> Iterator[Article | Problem]:
    """The articles of a file or folder; one that cannot be read at all is one problem."""
    try:
        yield from load_path(path)
    except SourceError as exc:
        yield Problem(str(path), None, str(exc).removeprefix(f"{path}: "))


def _is_url(path: Path | str) -> bool:
    return isinstance(path, str) and "://" in path


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _dedupe(articles: Iterable[Article]) -> list[Article]:
    """Last one wins when a batch holds the same id twice (e.g. a feed listed twice)."""
    return list({article.id: article for article in articles}.values())
