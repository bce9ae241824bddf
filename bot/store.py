"""The article store: one API over every table; migrations and the articles family (SQL)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot import boilerplate
from bot.errors import StoreError
from bot.models import (
    Article,
)
from bot.passages import split_passages
from bot.tables.cards import CardsTables
from bot.tables.chats import ChatsTables
from bot.tables.connection import Database, Row, open_database
from bot.tables.db import _chunks, _iso, _now, _when
from bot.tables.feedback import FeedbackTables
from bot.tables.feeds import FeedsTables
from bot.tables.follows import FollowsTables
from bot.tables.stories import StoriesTables

# Each entry migrates the schema from version i to i + 1; append, never edit.
MIGRATIONS: tuple[str | Callable[[Database], None], ...] = (
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta (key, value) VALUES ('generation', '0');
    CREATE TABLE articles (
        id          TEXT PRIMARY KEY,
        headline    TEXT NOT NULL,
        published   TEXT,            -- ISO 8601, UTC, or NULL when unknown
        summary     TEXT NOT NULL,   -- JSON list of bullets
        dateline    TEXT,
        body        TEXT NOT NULL,   -- JSON list of paragraphs
        subheadings TEXT NOT NULL,   -- JSON list
        caption     TEXT,
        source      TEXT,
        url         TEXT,
        digest      TEXT NOT NULL,   -- content hash: tells an update from a no-op re-ingest
        ingested_at TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE INDEX articles_published ON articles (published);
    CREATE TABLE feedback (
        id         INTEGER PRIMARY KEY,
        chat_id    INTEGER NOT NULL,
        question   TEXT NOT NULL,
        article_id TEXT NOT NULL,
        helpful    INTEGER NOT NULL,
        at         TEXT NOT NULL
    );
    """,
    # 2: daily digests (subscriptions, exactly-once deliveries, per-chat sent log) and feeds.
    """
    CREATE TABLE subscriptions (
        chat_id    INTEGER PRIMARY KEY,
        at         TEXT NOT NULL,      -- local time of day, HH:MM
        timezone   TEXT NOT NULL,      -- IANA name
        active     INTEGER NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE deliveries (
        chat_id     INTEGER NOT NULL,
        day         TEXT NOT NULL,     -- the chat's local date the digest is for
        state       TEXT NOT NULL,     -- sending | sent | skipped | failed
        claimed_at  TEXT NOT NULL,
        finished_at TEXT,
        detail      TEXT,
        PRIMARY KEY (chat_id, day)
    );
    CREATE TABLE sent_articles (
        chat_id    INTEGER NOT NULL,
        article_id TEXT NOT NULL,
        sent_at    TEXT NOT NULL,
        PRIMARY KEY (chat_id, article_id)
    );
    CREATE TABLE digest_messages (
        chat_id     INTEGER NOT NULL,
        message_id  INTEGER NOT NULL,
        article_ids TEXT NOT NULL,     -- JSON list, in the order the digest numbers them
        PRIMARY KEY (chat_id, message_id)
    );
    CREATE TABLE feeds (
        url           TEXT PRIMARY KEY,
        name          TEXT,
        etag          TEXT,
        last_modified TEXT,
        last_success  TEXT,
        last_error    TEXT,
        last_error_at TEXT,
        items         INTEGER NOT NULL DEFAULT 0,
        added         INTEGER NOT NULL DEFAULT 0
    );
    """,
    # 3: passages, so an excerpt needs one row instead of re-splitting its article.
    lambda db: _add_passages_table(db),
    # 4: the language each chat speaks: chosen with /language, or noted from a subscriber.
    """
    CREATE TABLE chat_languages (
        chat_id  INTEGER PRIMARY KEY,
        language TEXT NOT NULL,
        chosen   INTEGER NOT NULL
    );
    """,
    # 5: stories: articles about one event, grouped at ingest (see bot.stories). `at` is when
    # the article happened (published, else ingested); `terms` its signature, JSON.
    """
    CREATE TABLE stories (id INTEGER PRIMARY KEY, created_at TEXT NOT NULL);
    CREATE TABLE story_articles (
        article_id TEXT PRIMARY KEY,
        story_id   INTEGER NOT NULL,
        at         TEXT NOT NULL,
        terms      TEXT NOT NULL
    );
    CREATE INDEX story_articles_story ON story_articles (story_id);
    CREATE INDEX story_articles_at ON story_articles (at);
    """,
    # 6: answer cards (what each showed, so its buttons need nothing else) and feedback
    # that says which card and rank it was given on.
    """
    CREATE TABLE cards (
        id         TEXT PRIMARY KEY,
        chat_id    INTEGER NOT NULL,
        message_id INTEGER,           -- the message showing it, once sent
        asked_at   TEXT NOT NULL,     -- ISO 8601, UTC: the as_of of its search
        state      TEXT NOT NULL      -- JSON of bot.cards.Card
    );
    CREATE INDEX cards_chat ON cards (chat_id, asked_at);
    CREATE INDEX cards_message ON cards (chat_id, message_id);
    CREATE INDEX cards_asked ON cards (asked_at);
    ALTER TABLE feedback ADD COLUMN card_id TEXT;
    ALTER TABLE feedback ADD COLUMN rank INTEGER;
    """,
    # 7: followed topics per chat, and story alerts sent exactly once per (chat, story).
    """
    CREATE TABLE follows (
        chat_id    INTEGER NOT NULL,
        key        TEXT NOT NULL,      -- the topic folded: case and spacing do not count
        topic      TEXT NOT NULL,
        alert      INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (chat_id, key)
    );
    CREATE TABLE alerts (
        chat_id     INTEGER NOT NULL,
        story_id    INTEGER NOT NULL,
        article_id  TEXT NOT NULL,
        local_day   TEXT NOT NULL,     -- the chat's date when claimed, for the daily cap
        state       TEXT NOT NULL,     -- sending | sent | skipped | failed
        claimed_at  TEXT NOT NULL,
        finished_at TEXT,
        detail      TEXT,
        PRIMARY KEY (chat_id, story_id)
    );
    """,
    # 8: feeds added at run time (CLI, /addfeed, OPML) and which articles each feed brought.
    """
    CREATE TABLE feed_sources (
        url             TEXT PRIMARY KEY,
        name            TEXT,
        refresh_minutes INTEGER,
        full_text       INTEGER NOT NULL DEFAULT 0,
        added_at        TEXT NOT NULL
    );
    CREATE TABLE feed_articles (
        feed_url   TEXT NOT NULL,
        article_id TEXT NOT NULL,
        PRIMARY KEY (feed_url, article_id)
    );
    CREATE INDEX feed_articles_article ON feed_articles (article_id);
    """,
    # 9: which articles of each source hold each body paragraph, by key (bot.boilerplate):
    # a paragraph many of a source's articles hold is that site's boilerplate.
    lambda db: _add_paragraphs_table(db),
    # 10: no body kept twice: a passage is split again from its article's body when asked
    # for (bot.passages is deterministic), so the passages table goes. Its pages are reused
    # by later writes; `VACUUM` gives them back to the disk.
    "DROP TABLE passages",
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class UpsertCounts:
    """What an upsert did: new articles, changed ones, and identical re-ingests."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0


def _digest(article: Article) -> str:
    return hashlib.sha256(article.model_dump_json().encode()).hexdigest()[:32]


class Store(ChatsTables, CardsTables, FeedbackTables, FeedsTables, FollowsTables, StoriesTables):
    """One SQLite file (or ':memory:'), or one PostgreSQL database, holding articles and bot
    state.

    The SQL of each table family lives in its module under `bot.tables`; this class puts
    them behind one API. Safe to share between the event loop and worker threads: every call
    takes a lock. `generation` grows with every change to the articles, so an index saved at
    one generation can tell that it is stale.
    """

    @classmethod
    def open(cls, location: Path | str) -> Store:
        """Open the store at `location`, creating and migrating its schema as needed.

        Args:
            location: a SQLite path (its folder is created), ':memory:' for a throwaway one,
                or a `postgresql://` URL.

        Raises:
            StoreError: it cannot be reached or opened, a migration failed (and was rolled
                back), or its schema is newer than this newsbot.
        """
        return cls(open_database(location))

    def _migrate(self) -> None:
        """Bring the schema up to SCHEMA_VERSION, one transaction per step.

        Under the database's migration lock, so processes starting together migrate once;
        a step that fails is rolled back whole (DDL is transactional on both databases).
        """
        with self._lock, self._db.migration_lock():
            version = self._db.schema_version()
            self.migrated_from = version
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the store has schema version {version}, newer than this newsbot "
                    f"({SCHEMA_VERSION}); upgrade newsbot"
                )
            for number in range(version, SCHEMA_VERSION):
                try:
                    self._migrate_step(number)
                except StoreError:
                    raise
                except Exception as exc:
                    raise StoreError(
                        f"migration to schema version {number + 1} failed and was rolled "
                        f"back: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}"
                    ) from exc

    def _migrate_step(self, number: int) -> None:
        with self.transaction() as db:
            if db.schema_version() > number:  # another process took this step meanwhile
                return
            step = MIGRATIONS[number]
            if callable(step):
                step(db)
            else:
                for statement in step.split(";"):
                    if statement.strip():
                        db.execute(statement)
            db.set_schema_version(number + 1)

    # -- articles ---------------------------------------------------------------------------

    def upsert(
        self,
        articles: Iterable[Article],
        paragraph_keys: Mapping[str, Collection[str | None]] | None = None,
    ) -> tuple[UpsertCounts, list[Article]]:
        """Insert or update articles in one transaction.

        `paragraph_keys` maps article ids to their `boilerplate.body_keys` when the caller
        has them already; the others are computed here.

        Returns the counts and the articles that were added or changed (what an index must
        take in). An identical re-ingest changes nothing, not even the generation.
        """
        keys = paragraph_keys or {}
        added = updated = unchanged = 0
        changed: list[Article] = []
        now = _now()
        with self.transaction() as db:
            for article in articles:
                digest = _digest(article)
                row = db.execute(
                    "SELECT digest FROM articles WHERE id = ?", (article.id,)
                ).fetchone()
                if row is not None and row["digest"] == digest:
                    unchanged += 1
                    continue
                db.execute(
                    """
                    INSERT INTO articles (id, headline, published, summary, dateline, body,
                        subheadings, caption, source, url, digest, ingested_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET
                        headline = excluded.headline, published = excluded.published,
                        summary = excluded.summary, dateline = excluded.dateline,
                        body = excluded.body, subheadings = excluded.subheadings,
                        caption = excluded.caption, source = excluded.source,
                        url = excluded.url, digest = excluded.digest,
                        updated_at = excluded.updated_at
                    """,
                    (
                        article.id,
                        article.headline,
                        _iso(article.published),
                        json.dumps(article.summary, ensure_ascii=False),
                        article.dateline,
                        json.dumps(article.body, ensure_ascii=False),
                        json.dumps(article.subheadings, ensure_ascii=False),
                        article.caption,
                        article.source,
                        article.url,
                        digest,
                        now,
                        now,
                    ),
                )
                _write_paragraphs(db, article, keys.get(article.id), replace=row is not None)
                changed.append(article)
                if row is None:
                    added += 1
                else:
                    updated += 1
            if changed:
                self._bump_generation(db)
        return UpsertCounts(added, updated, unchanged), changed

    def delete(self, article_ids: Sequence[str]) -> int:
        """Remove articles by id; returns how many existed."""
        if not article_ids:
            return 0
        with self.transaction() as db:
            removed = 0
            for chunk in _chunks(article_ids, 500):
                marks = ",".join("?" * len(chunk))
                cursor = db.execute(f"DELETE FROM articles WHERE id IN ({marks})", chunk)
                removed += cursor.rowcount
                db.execute(f"DELETE FROM paragraphs WHERE article_id IN ({marks})", chunk)
                db.execute(f"DELETE FROM story_articles WHERE article_id IN ({marks})", chunk)
            if removed:
                self._bump_generation(db)
        return removed

    def published_before(self, cutoff: datetime) -> list[str]:
        """Ids of articles published before `cutoff` (for retention)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM articles WHERE published < ?", (_iso(cutoff),)
            ).fetchall()
        return [row["id"] for row in rows]

    def passage(self, article_id: str, ordinal: int) -> str | None:
        """The text of one passage (see `split_passages`), None when there is no such one."""
        article = self.get(article_id)
        if article is None or ordinal < 0:
            return None
        passages = split_passages(article)
        return passages[ordinal].text if ordinal < len(passages) else None

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    def get(self, article_id: str) -> Article | None:
        found = self.get_many([article_id])
        return found.get(article_id)

    def get_many(self, article_ids: Sequence[str]) -> dict[str, Article]:
        """Articles by id; ids not in the store are simply absent from the result."""
        result: dict[str, Article] = {}
        with self._lock:
            for chunk in _chunks(list(article_ids), 500):
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT * FROM articles WHERE id IN ({marks})", chunk
                ).fetchall()
                result.update((row["id"], _article(row)) for row in rows)
        return result

    def iter_articles(self, batch: int = 1000) -> Iterator[Article]:
        """Every article, in id order, fetched in batches (for index rebuilds)."""
        last = ""
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT * FROM articles WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
                ).fetchall()
            if not rows:
                return
            yield from (_article(row) for row in rows)
            last = rows[-1]["id"]

    def latest(self, limit: int, since: datetime | None = None) -> list[Article]:
        """Newest first by published date (undated articles last, newest ingest first)."""
        query = "SELECT * FROM articles"
        params: list[object] = []
        if since is not None:
            query += " WHERE published >= ?"
            params.append(_iso(since))
        query += " ORDER BY published IS NULL, published DESC, ingested_at DESC, id LIMIT ?"
        params.append(limit)
        with self._lock:
            rows = self._db.execute(query, params).fetchall()
        return [_article(row) for row in rows]

    # -- paragraphs (boilerplate) ----------------------------------------------------------

    def repeated_paragraphs(
        self, min_articles: int, sources: Collection[str] | None = None
    ) -> dict[str, set[str]]:
        """Per source, the keys of the paragraphs at least `min_articles` of its articles hold.

        Limited to `sources` when given (say those of a batch just ingested).
        """
        query = "SELECT source, key FROM paragraphs"
        params: list[object] = []
        if sources is not None:
            if not sources:
                return {}
            query += f" WHERE source IN ({','.join('?' * len(sources))})"
            params += list(sources)
        query += " GROUP BY source, key HAVING COUNT(*) >= ?"
        result: dict[str, set[str]] = {}
        with self._lock:
            for row in self._db.execute(query, [*params, min_articles]):
                result.setdefault(row["source"], set()).add(row["key"])
        return result

    def articles_holding(self, source: str, keys: Collection[str]) -> list[str]:
        """Ids of the source's articles that hold any of these paragraph keys."""
        ids: set[str] = set()
        with self._lock:
            for chunk in _chunks(sorted(keys), 500):
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT article_id FROM paragraphs WHERE source = ? AND key IN ({marks})",
                    [source, *chunk],
                )
                ids.update(row["article_id"] for row in rows)
        return sorted(ids)

    def ungrouped(self, limit: int) -> list[Article]:
        """Articles not in any story yet (stores from before stories, or an interrupted
        ingest), oldest first."""
        with self._lock:
            rows = self._db.execute(
                """
                SELECT * FROM articles WHERE id NOT IN (SELECT article_id FROM story_articles)
                ORDER BY published IS NULL, published, ingested_at, id LIMIT ?
                """,
                (limit,),
            ).fetchall()
        return [_article(row) for row in rows]

    def unsent_articles(self, chat_id: int, limit: int) -> list[Article]:
        """The newest articles this chat has not had in a digest yet, newest first."""
        with self._lock:
            rows = self._db.execute(
                """
                SELECT * FROM articles WHERE id NOT IN
                    (SELECT article_id FROM sent_articles WHERE chat_id = ?)
                ORDER BY published IS NULL, published DESC, ingested_at DESC, id LIMIT ?
                """,
                (chat_id, limit),
            ).fetchall()
        return [_article(row) for row in rows]


def _add_passages_table(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE passages (
            article_id TEXT NOT NULL,
            ordinal    INTEGER NOT NULL,
            kind       TEXT NOT NULL,
            text       TEXT NOT NULL,
            PRIMARY KEY (article_id, ordinal)
        )
        """
    )
    for row in db.execute("SELECT * FROM articles").fetchall():
        _write_passages(db, _article(row))


def _add_paragraphs_table(db: Database) -> None:
    # One statement at a time: executescript would commit the migration's transaction.
    db.execute(
        """
        CREATE TABLE paragraphs (
            source     TEXT NOT NULL,
            key        TEXT NOT NULL,
            article_id TEXT NOT NULL,
            PRIMARY KEY (source, key, article_id)
        )
        """
    )
    db.execute("CREATE INDEX paragraphs_article ON paragraphs (article_id)")
    for row in db.execute("SELECT * FROM articles").fetchall():
        _write_paragraphs(db, _article(row))


def _write_paragraphs(
    db: Database,
    article: Article,
    keys: Collection[str | None] | None = None,
    *,
    replace: bool = True,
) -> None:
    if replace:
        db.execute("DELETE FROM paragraphs WHERE article_id = ?", (article.id,))
    source = boilerplate.source_of(article)
    found = boilerplate.paragraph_keys(article) if keys is None else set(keys) - {None}
    db.executemany(
        "INSERT INTO paragraphs (source, key, article_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        [(source, key, article.id) for key in found],
    )


def _write_passages(db: Database, article: Article) -> None:
    # Only migration 3 writes passages now (migration 10 drops the table again).
    db.execute("DELETE FROM passages WHERE article_id = ?", (article.id,))
    db.executemany(
        "INSERT INTO passages (article_id, ordinal, kind, text) VALUES (?, ?, ?, ?)",
        [(p.article_id, p.ordinal, p.kind, p.text) for p in split_passages(article)],
    )


def _article(row: Row) -> Article:
    return Article(
        id=row["id"],
        headline=row["headline"],
        published=_when(row["published"]),
        summary=json.loads(row["summary"]),
        dateline=row["dateline"],
        body=json.loads(row["body"]),
        subheadings=json.loads(row["subheadings"]),
        caption=row["caption"],
        source=row["source"],
        url=row["url"],
    )
