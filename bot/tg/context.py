"""The typed state handlers reach: the shared NewsDesk in bot_data, timing per update."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from telegram.ext import Application, CallbackContext, ExtBot, JobQueue

from bot.cards import CardDesk
from bot.errors import ConfigError
from bot.service import NewsDesk
from bot.settings import Settings
from bot.tg.limiter import replica_id
from bot.tg.push import PUSH_CONCURRENCY


class BotData:
    """`application.bot_data`: services created once at start-up (see app.post_init)."""

    def __init__(self) -> None:
        self.settings: Settings | None = None
        self.desk: NewsDesk | None = None
        self.owns_desk = False  # True when post_init opened it, so post_shutdown closes it
        # What "now" is for digests and their jobs; tests pin or move it.
        self.clock: Callable[[], datetime] = utc_now
        # Digest sends in flight at once across all chats (see bot.tg.jobs).
        self.push_slots = asyncio.Semaphore(PUSH_CONCURRENCY)
        # This process's name among the replicas on one database (feed leases, heartbeats).
        self.replica = replica_id()


def utc_now() -> datetime:
    """The real clock, in UTC."""
    return datetime.now(UTC)


class NewsContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """The context every handler gets: `desk` is the shared NewsDesk."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application, chat_id, user_id)
        self.started = time.perf_counter()  # for the per-update log line

    @property
    def app(self) -> NewsApp:
        """`application`, with the types this bot gives it."""
        return cast("NewsApp", self.application)

    @property
    def desk(self) -> NewsDesk:
        desk = self.bot_data.desk
        if desk is None:
            raise ConfigError("the NewsDesk is not open: post_init has not run")
        return desk

    @property
    def cards(self) -> CardDesk:
        """Answer cards, kept in the desk's store (a light view: made per use)."""
        return CardDesk(self.desk)


NewsApp = Application[
    ExtBot[None], NewsContext, dict[Any, Any], dict[Any, Any], BotData, JobQueue[NewsContext]
]
