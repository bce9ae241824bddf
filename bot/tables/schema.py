"""The schema: its migrations, one list for SQLite and PostgreSQL, and how they are applied."""

from __future__ import annotations

from collections.abc import Callable

from bot import boilerplate
from bot.errors import StoreError
from bot.models import Article
from bot.passages import split_passages
from bot.tables.articles import _article, _number
from bot.tables.connection import Database
from bot.tables.db import StoreBase

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
    # 11: replicas on one database (bot.tables.replicas): who refreshes a feed now (leases),
    # which replicas are alive (heartbeats, to share Telegram's rate budget), and what was
    # written since a replica last looked (articles by updated_at).
    """
    CREATE TABLE leases (
        name       TEXT PRIMARY KEY,
        owner      TEXT NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL     -- Unix time
    );
    CREATE TABLE replicas (
        id      TEXT PRIMARY KEY,
        seen_at DOUBLE PRECISION NOT NULL        -- Unix time of the last heartbeat
    );
    CREATE INDEX articles_updated ON articles (updated_at);
    """,
    # 12: story ids from a counter, bumped in the transaction that saves new stories (not
    # MAX + 1, which two replicas grouping at once could both take); it starts at the max.
    """
    INSERT INTO meta (key, value)
    SELECT 'story_id', CAST(COALESCE(MAX(known.m), 0) AS TEXT) FROM (
        SELECT MAX(id) AS m FROM stories UNION ALL SELECT MAX(story_id) FROM story_articles
    ) AS known
    """,
    # 13: each article's reading made at ingest (bot.stored_reading), under the key of the
    # text and code it was made from. Articles stored before have none: read when asked.
    """
    CREATE TABLE readings (
        article_id TEXT PRIMARY KEY,
        key        TEXT NOT NULL,
        reading    TEXT NOT NULL      -- JSON: sentences, folded sentences, passage ordinals
    );
    """,
    # 14: the paragraph keys in a third of the bytes: each key a 64-bit integer instead of 16
    # hex digits, in one B-tree ordered by its primary key (SQLite: WITHOUT ROWID) and no
    # second index by article (an article's keys are read again from its body to delete them).
    lambda db: _narrow_paragraphs(db),
    # 15: the boilerplate itself, kept beside the counts at every write: the (source, key)
    # pairs that bot.boilerplate.MIN_ARTICLES (5 here) or more of a source's articles hold, so
    # a process starting up reads them instead of counting every paragraph key.
    lambda db: _keep_boilerplate(db),
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(store: StoreBase) -> None:
    """Bring the schema up to SCHEMA_VERSION, one transaction per step.

    Under the database's migration lock, so processes starting together migrate once;
    a step that fails is rolled back whole (DDL is transactional on both databases).

    Raises:
        StoreError: the schema is newer than this newsbot, or a step failed.
    """
    with store._lock, store._db.migration_lock():
        version = store._db.schema_version()
        store.migrated_from = version
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the store has schema version {version}, newer than this newsbot "
                f"({SCHEMA_VERSION}); upgrade newsbot"
            )
        for number in range(version, SCHEMA_VERSION):
            try:
                _migrate_step(store, number)
            except StoreError:
                raise
            except Exception as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                raise StoreError(
                    f"migration to schema version {number + 1} failed and was rolled back: {reason}"
                ) from exc


def _migrate_step(store: StoreBase, number: int) -> None:
    with store.transaction() as db:
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


def _narrow_paragraphs(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE paragraph_keys (
            source     TEXT NOT NULL,
            key        INTEGER NOT NULL,   -- bot.boilerplate.paragraph_key as a signed integer
            article_id TEXT NOT NULL,
            PRIMARY KEY (source, key, article_id)
        )
        """
        + (" WITHOUT ROWID" if db.dialect == "sqlite" else "")
    )
    last = 0
    while True:  # in pages, so a large table never sits in memory at once
        rows = db.execute(
            "SELECT rowid, source, key, article_id FROM paragraphs WHERE rowid > ?"
            " ORDER BY rowid LIMIT 10000",
            (last,),
        ).fetchall()
        if not rows:
            break
        db.executemany(
            "INSERT INTO paragraph_keys (source, key, article_id) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            [(row["source"], _number(row["key"]), row["article_id"]) for row in rows],
        )
        last = rows[-1]["rowid"]
    db.execute("DROP TABLE paragraphs")


def _keep_boilerplate(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE boilerplate_keys (
            source TEXT NOT NULL,
            key    INTEGER NOT NULL,
            PRIMARY KEY (source, key)
        )
        """
        + (" WITHOUT ROWID" if db.dialect == "sqlite" else "")
    )
    db.execute(
        "INSERT INTO boilerplate_keys (source, key) SELECT source, key FROM paragraph_keys"
        " GROUP BY source, key HAVING COUNT(*) >= 5"
    )


def _write_paragraphs(db: Database, article: Article) -> None:
    # Only migration 9 writes the paragraphs table (migration 14 replaces it).
    source = boilerplate.source_of(article)
    db.executemany(
        "INSERT INTO paragraphs (source, key, article_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        [(source, key, article.id) for key in boilerplate.paragraph_keys(article)],
    )


def _write_passages(db: Database, article: Article) -> None:
    # Only migration 3 writes passages now (migration 10 drops the table again).
    db.execute("DELETE FROM passages WHERE article_id = ?", (article.id,))
    db.executemany(
        "INSERT INTO passages (article_id, ordinal, kind, text) VALUES (?, ?, ?, ?)",
        [(p.article_id, p.ordinal, p.kind, p.text) for p in split_passages(article)],
    )
