"""The store: one API over every table family (`bot.tables`), on SQLite or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from bot.tables.articles import ArticlesTables, UpsertCounts
from bot.tables.cards import CardsTables
from bot.tables.chats import ChatsTables
from bot.tables.connection import open_database
from bot.tables.feedback import FeedbackTables
from bot.tables.feeds import FeedsTables
from bot.tables.follows import FollowsTables
from bot.tables.readings import ReadingsTables
from bot.tables.replicas import ReplicasTables
from bot.tables.schema import MIGRATIONS, SCHEMA_VERSION, migrate
from bot.tables.stories import StoriesTables

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Store", "UpsertCounts"]


class Store(
    ArticlesTables,
    ChatsTables,
    CardsTables,
    FeedbackTables,
    FeedsTables,
    FollowsTables,
    ReadingsTables,
    ReplicasTables,
    StoriesTables,
):
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
        migrate(self)
