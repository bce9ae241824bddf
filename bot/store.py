"""The article store: SQLite schema, migrations and every query (the only module with SQL)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot import boilerplate
from bot.errors import StoreError
from bot.models import (
    Article,
    Card,
    FeedSource,
    FeedStatus,
    Follow,
    StoryMember,
    StoryRow,
    Subscription,
)
from bot.passages import split_passages

# Each entry migrates the schema from version i to i + 1; append, never edit.
MIGRATIONS: tuple[str | Callable[[sqlite3.Connection], None], ...] = (
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
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class UpsertCounts:
    """What an upsert did: new articles, changed ones, and identical re-ingests."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _digest(article: Article) -> str:
    return hashlib.sha256(article.model_dump_json().encode()).hexdigest()[:32]


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Store:
    """One SQLite file (or ':memory:') holding articles and bot state.

    Safe to share between the event loop and worker threads: every call takes a lock.
    `generation` grows with every change to the articles, so an index saved at one
    generation can tell that it is stale.
    """

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection
        self._lock = threading.RLock()
        self._depth = 0  # transactions open in this one (the lock's holder only)
        self._migrate()

    @classmethod
    def open(cls, path: Path | str) -> Store:
        """Open (creating if needed) the store at `path`; ':memory:' for a throwaway one."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA busy_timeout=5000")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the store at {path}: {exc}") from exc
        return cls(db)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All-or-nothing: a crash or an exception inside leaves the store as it was.

        Nests: a transaction opened inside another is part of the outer one.
        """
        with self._lock:
            if self._depth:  # inside another transaction: part of it, all or nothing
                self._depth += 1
                try:
                    yield self._db
                finally:
                    self._depth -= 1
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0
            self._db.execute("COMMIT")

    def _migrate(self) -> None:
        try:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"not a newsbot store: {exc}") from exc
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the store has schema version {version}, newer than this newsbot "
                f"({SCHEMA_VERSION}); upgrade newsbot"
            )
        for number in range(version, SCHEMA_VERSION):
            with self.transaction() as db:
                step = MIGRATIONS[number]
                if callable(step):
                    step(db)
                else:
                    for statement in step.split(";"):
                        if statement.strip():
                            db.execute(statement)
                db.execute(f"PRAGMA user_version = {number + 1}")

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    @property
    def generation(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0])

    @property
    def alert_mark(self) -> int:
        """The generation the last alert pass covered (0 before the first)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'alert_mark'").fetchone()
        return int(row[0]) if row else 0

    def save_alert_mark(self, generation: int) -> None:
        """Record that an alert pass covered `generation`; the mark never moves back."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('alert_mark', ?) ON CONFLICT (key) DO "
                "UPDATE SET value = MAX(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))",
                (str(generation),),
            )

    # -- articles ---------------------------------------------------------------------------

    def upsert(self, articles: Iterable[Article]) -> tuple[UpsertCounts, list[Article]]:
        """Insert or update articles in one transaction.

        Returns the counts and the articles that were added or changed (what an index must
        take in). An identical re-ingest changes nothing, not even the generation.
        """
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
                _write_passages(db, article)
                _write_paragraphs(db, article)
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
                db.execute(f"DELETE FROM passages WHERE article_id IN ({marks})", chunk)
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
        with self._lock:
            row = self._db.execute(
                "SELECT text FROM passages WHERE article_id = ? AND ordinal = ?",
                (article_id, ordinal),
            ).fetchone()
        return str(row["text"]) if row else None

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

    # -- stories ------------------------------------------------------------------------------

    def story_members(self, start: datetime, end: datetime) -> list[StoryMember]:
        """Grouped articles whose `at` lies in [start, end], oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM story_articles WHERE at BETWEEN ? AND ? ORDER BY at, article_id",
                (_iso(start), _iso(end)),
            ).fetchall()
        # Trusted rows (written by save_story_members): built without validating every term.
        return [
            StoryMember.model_construct(
                article_id=row["article_id"],
                story_id=row["story_id"],
                at=datetime.fromisoformat(row["at"]),
                terms=json.loads(row["terms"]),
            )
            for row in rows
        ]

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

    def stories_of(self, article_ids: Sequence[str]) -> dict[str, int]:
        """The story of each grouped article; ungrouped or unknown ids are absent."""
        result: dict[str, int] = {}
        with self._lock:
            for chunk in _chunks(list(article_ids), 500):
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    "SELECT article_id, story_id FROM story_articles"
                    f" WHERE article_id IN ({marks})",
                    chunk,
                ).fetchall()
                result.update((row[0], int(row[1])) for row in rows)
        return result

    def save_story_members(self, members: Sequence[StoryMember]) -> None:
        """Record (or move) articles into stories; a story id not yet known is created."""
        now = _now()
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO stories (id, created_at) VALUES (?, ?)",
                [(m.story_id, now) for m in members],
            )
            db.executemany(
                "INSERT OR REPLACE INTO story_articles (article_id, story_id, at, terms)"
                " VALUES (?, ?, ?, ?)",
                [
                    (m.article_id, m.story_id, _iso(m.at), json.dumps(m.terms, ensure_ascii=False))
                    for m in members
                ],
            )

    def next_story_id(self) -> int:
        """An id no story has yet (ids only grow, so a deleted story's id is not reused)."""
        with self._lock:
            row = self._db.execute(
                "SELECT MAX(m) FROM (SELECT MAX(id) AS m FROM stories"
                " UNION ALL SELECT MAX(story_id) FROM story_articles)"
            ).fetchone()
        return int(row[0] or 0) + 1

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

    def story_rows(
        self, since: datetime | None = None, story_ids: Sequence[int] | None = None
    ) -> list[StoryRow]:
        """Every grouped article of the stories that have one at or after `since` (or of
        `story_ids`), with what a story listing needs; oldest first within a story."""
        query = """
            SELECT s.story_id, s.article_id, s.at, a.headline, a.source, a.url
            FROM story_articles s JOIN articles a ON a.id = s.article_id
        """
        params: list[object] = []
        if story_ids is not None:
            marks = ",".join("?" * len(story_ids))
            query += f" WHERE s.story_id IN ({marks})"
            params += list(story_ids)
        elif since is not None:
            query += " WHERE s.story_id IN (SELECT story_id FROM story_articles WHERE at >= ?)"
            params.append(_iso(since))
        query += " ORDER BY s.story_id, s.at, s.article_id"
        with self._lock:
            rows = self._db.execute(query, params).fetchall()
        return [
            StoryRow(
                story_id=int(row["story_id"]),
                article_id=row["article_id"],
                at=datetime.fromisoformat(row["at"]),
                headline=row["headline"],
                source=row["source"],
                url=row["url"],
            )
            for row in rows
        ]

    def newest_at(self) -> datetime | None:
        """When the newest grouped article happened (None for a store without stories)."""
        with self._lock:
            row = self._db.execute("SELECT MAX(at) FROM story_articles").fetchone()
        return _when(row[0])

    # -- follows ------------------------------------------------------------------------------

    def follows(self, chat_id: int | None = None) -> list[Follow]:
        """The chat's followed topics (or every chat's), oldest first."""
        query = "SELECT * FROM follows"
        params: tuple[int, ...] = ()
        if chat_id is not None:
            query += " WHERE chat_id = ?"
            params = (chat_id,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY chat_id, rowid", params).fetchall()
        return [
            Follow(
                chat_id=row["chat_id"],
                topic=row["topic"],
                alert=bool(row["alert"]),
                since=datetime.fromisoformat(row["created_at"]),
            )
            for row in rows
        ]

    def save_follow(self, follow: Follow, key: str, limit: int) -> bool:
        """Follow a topic (or change its alert); False when the chat already has `limit`
        other topics, and then nothing is written."""
        with self.transaction() as db:
            count = db.execute(
                "SELECT COUNT(*) FROM follows WHERE chat_id = ? AND key != ?",
                (follow.chat_id, key),
            ).fetchone()[0]
            if count >= limit:
                return False
            db.execute(
                """
                INSERT INTO follows (chat_id, key, topic, alert, created_at)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (chat_id, key) DO UPDATE SET topic = excluded.topic,
                    alert = excluded.alert
                """,
                (follow.chat_id, key, follow.topic, int(follow.alert), _iso(follow.since)),
            )
        return True

    def delete_follow(self, chat_id: int, key: str) -> bool:
        with self.transaction() as db:
            cursor = db.execute("DELETE FROM follows WHERE chat_id = ? AND key = ?", (chat_id, key))
            return cursor.rowcount == 1

    def alerted(self, chat_id: int, story_ids: Sequence[int]) -> set[int]:
        """Which of the stories the chat had (or is being sent) an alert for."""
        if not story_ids:
            return set()
        marks = ",".join("?" * len(story_ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT story_id FROM alerts WHERE chat_id = ? AND story_id IN ({marks})"
                " AND state != 'failed'",
                (chat_id, *story_ids),
            ).fetchall()
        return {int(row[0]) for row in rows}

    def alerts_sent_on(self, chat_id: int, local_day: str) -> int:
        """Alerts sent, or being sent, to the chat on its local day (for the daily cap)."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM alerts WHERE chat_id = ? AND local_day = ?"
                " AND state IN ('sent', 'sending')",
                (chat_id, local_day),
            ).fetchone()
        return int(row[0])

    def claim_alert(
        self,
        chat_id: int,
        story_id: int,
        article_id: str,
        local_day: str,
        now: datetime,
        lease_seconds: float,
    ) -> bool:
        """Take the right to alert `chat_id` of a story, as claim_delivery does for digests:
        free when never tried, failed, or claimed longer than the lease ago."""
        stamp = now.astimezone(UTC).isoformat()
        stale = (now.astimezone(UTC) - timedelta(seconds=lease_seconds)).isoformat()
        with self.transaction() as db:
            cursor = db.execute(
                """
                INSERT INTO alerts (chat_id, story_id, article_id, local_day, state, claimed_at)
                VALUES (?, ?, ?, ?, 'sending', ?)
                ON CONFLICT (chat_id, story_id) DO UPDATE SET state = 'sending',
                    article_id = excluded.article_id, local_day = excluded.local_day,
                    claimed_at = excluded.claimed_at, finished_at = NULL, detail = NULL
                WHERE alerts.state = 'failed'
                   OR (alerts.state = 'sending' AND alerts.claimed_at < ?)
                """,
                (chat_id, story_id, article_id, local_day, stamp, stale),
            )
            return cursor.rowcount == 1

    def finish_alert(
        self, chat_id: int, story_id: int, state: str, detail: str | None = None
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE alerts SET state = ?, finished_at = ?, detail = ?"
                " WHERE chat_id = ? AND story_id = ?",
                (state, _now(), detail, chat_id, story_id),
            )

    def alert_states(self, chat_id: int) -> list[tuple[int, str, str]]:
        """(story_id, article_id, state) of the chat's alerts, for operators and tests."""
        with self._lock:
            rows = self._db.execute(
                "SELECT story_id, article_id, state FROM alerts WHERE chat_id = ?"
                " ORDER BY claimed_at, story_id",
                (chat_id,),
            ).fetchall()
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    # -- feedback ---------------------------------------------------------------------------

    def add_feedback(
        self,
        chat_id: int,
        question: str,
        article_id: str,
        helpful: bool,
        *,
        card_id: str | None = None,
        rank: int | None = None,
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO feedback (chat_id, question, article_id, helpful, at, card_id, rank)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (chat_id, question, article_id, int(helpful), _now(), card_id, rank),
            )

    def feedback(self) -> list[dict[str, Any]]:
        """Every verdict, oldest first: question, article_id, rank (0-based; None for
        verdicts given before cards recorded it), helpful, at, card_id and chat_id."""
        with self._lock:
            rows = self._db.execute(
                "SELECT question, article_id, rank, helpful, at, card_id, chat_id"
                " FROM feedback ORDER BY id"
            ).fetchall()
        return [{**dict(row), "helpful": bool(row["helpful"])} for row in rows]

    def feedback_counts(self) -> tuple[int, int]:
        """(helpful, unhelpful) verdicts recorded so far."""
        with self._lock:
            row = self._db.execute(
                "SELECT COALESCE(SUM(helpful), 0), COALESCE(SUM(1 - helpful), 0) FROM feedback"
            ).fetchone()
        return int(row[0]), int(row[1])

    # -- cards ----------------------------------------------------------------------------------

    def save_card(self, card: Card) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO cards (id, chat_id, message_id, asked_at, state)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    card.id,
                    card.chat_id,
                    card.message_id,
                    _iso(card.asked_at),
                    card.model_dump_json(),
                ),
            )

    def card(self, card_id: str) -> Card | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM cards WHERE id = ?", (card_id,)).fetchone()
        return _card(row) if row else None

    def latest_card(self, chat_id: int) -> Card | None:
        """The chat's most recently asked card."""
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM cards WHERE chat_id = ? ORDER BY asked_at DESC, rowid DESC LIMIT 1",
                (chat_id,),
            ).fetchone()
        return _card(row) if row else None

    def card_by_message(self, chat_id: int, message_id: int) -> Card | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM cards WHERE chat_id = ? AND message_id = ?", (chat_id, message_id)
            ).fetchone()
        return _card(row) if row else None

    def set_card_message(self, card_id: str, message_id: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE cards SET message_id = ? WHERE id = ?", (message_id, card_id))

    def set_card_shown(self, card_id: str, rank: int) -> None:
        """Which result the card shows now (what a follow-up leans on)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE cards SET state = json_set(state, '$.shown', ?) WHERE id = ?",
                (rank, card_id),
            )

    def delete_cards_before(self, cutoff: datetime) -> int:
        """Delete cards asked before `cutoff`; returns how many."""
        with self.transaction() as db:
            return db.execute("DELETE FROM cards WHERE asked_at < ?", (_iso(cutoff),)).rowcount

    # -- digests --------------------------------------------------------------------------------

    def subscription(self, chat_id: int) -> Subscription | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM subscriptions WHERE chat_id = ?", (chat_id,)
            ).fetchone()
        return _subscription(row) if row else None

    def save_subscription(self, subscription: Subscription) -> None:
        with self.transaction() as db:
            db.execute(
                """
                INSERT INTO subscriptions (chat_id, at, timezone, active, updated_at)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (chat_id) DO UPDATE SET at = excluded.at,
                    timezone = excluded.timezone, active = excluded.active,
                    updated_at = excluded.updated_at
                """,
                (
                    subscription.chat_id,
                    subscription.at,
                    subscription.timezone,
                    int(subscription.active),
                    _iso(subscription.since) or _now(),
                ),
            )

    def active_subscriptions(self) -> list[Subscription]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM subscriptions WHERE active = 1 ORDER BY chat_id"
            ).fetchall()
        return [_subscription(row) for row in rows]

    def move_chat(self, old_id: int, new_id: int) -> None:
        """A group became a supergroup: everything the store knows moves to the new id."""
        with self.transaction() as db:
            for table in (
                "subscriptions",
                "deliveries",
                "sent_articles",
                "digest_messages",
                "chat_languages",
                "cards",
                "follows",
                "alerts",
            ):
                db.execute(
                    f"UPDATE OR REPLACE {table} SET chat_id = ? WHERE chat_id = ?",
                    (new_id, old_id),
                )

    def claim_delivery(self, chat_id: int, day: str, now: datetime, lease_seconds: float) -> bool:
        """Take the right to send `chat_id` its digest for local `day`; False if not ours.

        Free when nothing was recorded, or when an earlier attempt failed, or when a claim
        is older than the lease (its process died between claiming and recording). A sent
        or skipped day is never claimed again: that is what makes a digest exactly once.
        """
        stamp = now.astimezone(UTC).isoformat()
        stale = (now.astimezone(UTC) - timedelta(seconds=lease_seconds)).isoformat()
        with self.transaction() as db:
            cursor = db.execute(
                """
                INSERT INTO deliveries (chat_id, day, state, claimed_at) VALUES (?, ?, 'sending', ?)
                ON CONFLICT (chat_id, day) DO UPDATE SET state = 'sending',
                    claimed_at = excluded.claimed_at, finished_at = NULL, detail = NULL
                WHERE deliveries.state = 'failed'
                   OR (deliveries.state = 'sending' AND deliveries.claimed_at < ?)
                """,
                (chat_id, day, stamp, stale),
            )
            return cursor.rowcount == 1

    def finish_delivery(
        self,
        chat_id: int,
        day: str,
        state: str,
        *,
        article_ids: Sequence[str] = (),
        message_ids: Sequence[int] = (),
        detail: str | None = None,
        also_sent: Sequence[str] = (),
    ) -> None:
        """Record how a claimed delivery ended, with what it sent, in one transaction.

        `article_ids` are the digest's numbered articles; `also_sent` the other articles of
        its stories, recorded as had by the chat but not numbered.
        """
        now = _now()
        with self.transaction() as db:
            db.execute(
                "UPDATE deliveries SET state = ?, finished_at = ?, detail = ?"
                " WHERE chat_id = ? AND day = ?",
                (state, now, detail, chat_id, day),
            )
            db.executemany(
                "INSERT OR IGNORE INTO sent_articles (chat_id, article_id, sent_at)"
                " VALUES (?, ?, ?)",
                [(chat_id, article_id, now) for article_id in [*article_ids, *also_sent]],
            )
            listed = json.dumps(list(article_ids))
            db.executemany(
                "INSERT OR REPLACE INTO digest_messages (chat_id, message_id, article_ids)"
                " VALUES (?, ?, ?)",
                [(chat_id, message_id, listed) for message_id in message_ids],
            )

    def delivery_state(self, chat_id: int, day: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT state FROM deliveries WHERE chat_id = ? AND day = ?", (chat_id, day)
            ).fetchone()
        return str(row["state"]) if row else None

    def deliveries(self, chat_id: int | None = None) -> list[tuple[int, str, str]]:
        """(chat_id, day, state) rows, for operators and tests."""
        query = "SELECT chat_id, day, state FROM deliveries"
        params: tuple[int, ...] = ()
        if chat_id is not None:
            query += " WHERE chat_id = ?"
            params = (chat_id,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY chat_id, day", params).fetchall()
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

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

    def sent_among(self, chat_id: int, article_ids: Sequence[str]) -> set[str]:
        """Which of `article_ids` the chat already had in a digest."""
        found: set[str] = set()
        with self._lock:
            for chunk in _chunks(list(article_ids), 500):
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    "SELECT article_id FROM sent_articles WHERE chat_id = ?"
                    f" AND article_id IN ({marks})",
                    (chat_id, *chunk),
                ).fetchall()
                found.update(row[0] for row in rows)
        return found

    def digest_article_ids(self, chat_id: int, message_id: int | None = None) -> list[str]:
        """Articles of the digest sent as `message_id`, or of the chat's latest digest."""
        query = "SELECT article_ids FROM digest_messages WHERE chat_id = ?"
        params: tuple[int, ...] = (chat_id,)
        if message_id is not None:
            query += " AND message_id = ?"
            params = (chat_id, message_id)
        with self._lock:
            row = self._db.execute(query + " ORDER BY message_id DESC LIMIT 1", params).fetchone()
        return list(json.loads(row["article_ids"])) if row else []

    # -- languages ----------------------------------------------------------------------------

    def chat_language(self, chat_id: int) -> tuple[str, bool] | None:
        """The chat's language code and whether the chat chose it; None if never set."""
        with self._lock:
            row = self._db.execute(
                "SELECT language, chosen FROM chat_languages WHERE chat_id = ?", (chat_id,)
            ).fetchone()
        return (str(row["language"]), bool(row["chosen"])) if row else None

    def save_chat_language(self, chat_id: int, language: str | None, *, chosen: bool) -> None:
        """Set the chat's language (`chosen` by the chat, or noted); None forgets it."""
        with self.transaction() as db:
            if language is None:
                db.execute("DELETE FROM chat_languages WHERE chat_id = ?", (chat_id,))
            else:
                db.execute(
                    "INSERT OR REPLACE INTO chat_languages (chat_id, language, chosen) "
                    "VALUES (?, ?, ?)",
                    (chat_id, language, int(chosen)),
                )

    # -- feeds --------------------------------------------------------------------------------

    def feed_status(self, url: str) -> FeedStatus | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM feeds WHERE url = ?", (url,)).fetchone()
        return _feed(row) if row else None

    def feed_statuses(self) -> list[FeedStatus]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM feeds ORDER BY url").fetchall()
        return [_feed(row) for row in rows]

    def save_feed_status(self, status: FeedStatus) -> None:
        with self.transaction() as db:
            db.execute(
                """
                INSERT OR REPLACE INTO feeds (url, name, etag, last_modified, last_success,
                    last_error, last_error_at, items, added)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                (
                    status.url,
                    status.name,
                    status.etag,
                    status.last_modified,
                    _iso(status.last_success),
                    status.last_error,
                    _iso(status.last_error_at),
                    status.items,
                    status.added,
                ),
            )

    # -- feed sources -------------------------------------------------------------------------

    def feed_sources(self) -> list[FeedSource]:
        """Feeds added at run time, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM feed_sources ORDER BY added_at, url").fetchall()
        return [_feed_source(row) for row in rows]

    def add_feed_source(self, source: FeedSource) -> bool:
        """Store a feed; False (and nothing changed) when its URL is already stored."""
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO feed_sources (url, name, refresh_minutes, full_text, "
                "added_at) VALUES (?, ?, ?, ?, ?)",
                (
                    source.url,
                    source.name,
                    source.refresh_minutes,
                    int(source.full_text),
                    _iso(source.added_at) or _now(),
                ),
            )
        return cursor.rowcount == 1

    def link_feed_articles(self, feed_url: str, article_ids: Sequence[str]) -> None:
        """Remember that `feed_url` carried these articles (so removing it can purge them)."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO feed_articles (feed_url, article_id) VALUES (?, ?)",
                [(feed_url, article_id) for article_id in article_ids],
            )

    def feed_article_ids(self, feed_url: str) -> tuple[list[str], list[str]]:
        """Stored articles this feed brought: (only this feed, also another feed)."""
        with self._lock:
            rows = self._db.execute(
                """
                SELECT l.article_id,
                    EXISTS (SELECT 1 FROM feed_articles o
                            WHERE o.article_id = l.article_id AND o.feed_url != l.feed_url)
                        AS shared
                FROM feed_articles l JOIN articles a ON a.id = l.article_id
                WHERE l.feed_url = ? ORDER BY l.article_id
                """,
                (feed_url,),
            ).fetchall()
        own = [row["article_id"] for row in rows if not row["shared"]]
        shared = [row["article_id"] for row in rows if row["shared"]]
        return own, shared

    def remove_feed_source(self, url: str, purge: Sequence[str] = ()) -> int:
        """Forget a stored feed (its status and article links), deleting `purge` articles.

        All or nothing. Returns how many articles were deleted.
        """
        with self.transaction() as db:
            db.execute("DELETE FROM feed_sources WHERE url = ?", (url,))
            db.execute("DELETE FROM feeds WHERE url = ?", (url,))
            db.execute("DELETE FROM feed_articles WHERE feed_url = ?", (url,))
            removed = self.delete(purge)
            if purge:
                for chunk in _chunks(purge, 500):
                    marks = ",".join("?" * len(chunk))
                    db.execute(f"DELETE FROM feed_articles WHERE article_id IN ({marks})", chunk)
        return removed

    @staticmethod
    def _bump_generation(db: sqlite3.Connection) -> None:
        db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")


def _add_passages_table(db: sqlite3.Connection) -> None:
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


def _add_paragraphs_table(db: sqlite3.Connection) -> None:
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


def _write_paragraphs(db: sqlite3.Connection, article: Article) -> None:
    db.execute("DELETE FROM paragraphs WHERE article_id = ?", (article.id,))
    source = boilerplate.source_of(article)
    db.executemany(
        "INSERT OR IGNORE INTO paragraphs (source, key, article_id) VALUES (?, ?, ?)",
        [(source, key, article.id) for key in boilerplate.paragraph_keys(article)],
    )


def _write_passages(db: sqlite3.Connection, article: Article) -> None:
    db.execute("DELETE FROM passages WHERE article_id = ?", (article.id,))
    db.executemany(
        "INSERT INTO passages (article_id, ordinal, kind, text) VALUES (?, ?, ?, ?)",
        [(p.article_id, p.ordinal, p.kind, p.text) for p in split_passages(article)],
    )


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _subscription(row: sqlite3.Row) -> Subscription:
    return Subscription(
        chat_id=row["chat_id"],
        at=row["at"],
        timezone=row["timezone"],
        active=bool(row["active"]),
        since=_when(row["updated_at"]),
    )


def _feed(row: sqlite3.Row) -> FeedStatus:
    return FeedStatus(
        url=row["url"],
        name=row["name"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        last_success=_when(row["last_success"]),
        last_error=row["last_error"],
        last_error_at=_when(row["last_error_at"]),
        items=row["items"],
        added=row["added"],
    )


def _card(row: sqlite3.Row) -> Card:
    card = Card.model_validate_json(row["state"])
    return card.model_copy(update={"chat_id": row["chat_id"], "message_id": row["message_id"]})


def _feed_source(row: sqlite3.Row) -> FeedSource:
    return FeedSource(
        url=row["url"],
        name=row["name"],
        refresh_minutes=row["refresh_minutes"],
        full_text=bool(row["full_text"]),
        origin="store",
        added_at=_when(row["added_at"]),
    )


def _article(row: sqlite3.Row) -> Article:
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
