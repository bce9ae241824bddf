"""Telegram's flood limits shared by every replica on one database.

Each replica keeps PTB's AIORateLimiter (20 messages a minute per group, retrying a 429
after the wait Telegram asks) and paces its own sends at an equal share of the overall
30 messages/s: with N replicas alive, one message every N/30 s. N comes from a heartbeat
table in the store (bot.tables.replicas): every HEARTBEAT seconds each replica records that
it is alive and counts the replicas heard from within ALIVE_WITHIN. So N replicas together
stay under 30/s with no database round trip per message; a replica that dies stops
counting after ALIVE_WITHIN and the others take its share, and one that stops cleanly
leaves at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Coroutine
from secrets import token_hex
from typing import Any

from aiolimiter import AsyncLimiter
from telegram._utils.types import JSONDict
from telegram.ext import AIORateLimiter

from bot.tables.replicas import ReplicasTables

log = logging.getLogger(__name__)

MESSAGES_PER_SECOND = 30  # Telegram's overall flood limit for a bot
HEARTBEAT = 2.0  # seconds between a replica's heartbeats
ALIVE_WITHIN = 3 * HEARTBEAT  # a replica not heard from for this long is taken for dead

Request = Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]]


def replica_id() -> str:
    """This process's name among the replicas: host, pid and a random suffix (a pid can be
    reused by a restarted container)."""
    return f"{socket.gethostname()}:{os.getpid()}:{token_hex(3)}"


class SharedRateLimiter(AIORateLimiter):
    """AIORateLimiter whose overall budget, `messages_per_second`, is split evenly among
    the live replicas (see the module docstring). Alone, or before `attach`, it paces
    at the whole budget, one message every 1/messages_per_second s."""

    def __init__(
        self,
        *,
        messages_per_second: float = MESSAGES_PER_SECOND,
        max_retries: int = 3,
        replica: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            overall_max_rate=1, overall_time_period=1 / messages_per_second, max_retries=max_retries
        )
        self.replica = replica or replica_id()
        self.replicas = 1  # live replicas at the last heartbeat, this one included
        self._rate = messages_per_second
        self._clock = clock
        self._tables: ReplicasTables | None = None
        self._beating: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._ready.set()

    @property
    def share(self) -> float:
        """This replica's messages per second now."""
        return self._rate / self.replicas

    async def attach(self, tables: ReplicasTables) -> None:
        """Join the replicas recorded in `tables` and keep beating until `shutdown`.

        A replica that finds others already alive holds its sends for one HEARTBEAT, so
        that they have counted it (and slowed down) before it sends.
        """
        self._tables = tables
        await self.beat()
        if self.replicas > 1:
            self._ready.clear()
            asyncio.get_running_loop().call_later(HEARTBEAT, self._ready.set)
        self._beating = asyncio.create_task(self._keep_beating(), name="rate-limit heartbeat")

    async def beat(self) -> None:
        """Record that this replica is alive; take its share of the budget from the count."""
        tables = self._tables
        if tables is None:
            return
        alive = await asyncio.to_thread(tables.heartbeat, self.replica, self._clock(), ALIVE_WITHIN)
        if alive != self.replicas:
            log.info(
                "%d replica(s) alive: sending at most %.1f messages/s", alive, self._rate / alive
            )
            self.replicas = alive
            # Sends already waiting keep the old pace; the next ones take the new one.
            self._base_limiter = AsyncLimiter(1, alive / self._rate)

    async def _keep_beating(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            try:
                await self.beat()
            except Exception:  # a database hiccup: keep the last share, try again
                log.warning("rate-limit heartbeat failed; keeping %d replica(s)", self.replicas)

    async def shutdown(self) -> None:
        """Stop beating and leave, so the other replicas take this one's share at once."""
        if self._beating is not None:
            self._beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beating
            self._beating = None
        if self._tables is not None:
            with contextlib.suppress(Exception):  # the store may already be closed
                await asyncio.to_thread(self._tables.leave, self.replica)
            self._tables = None
        await super().shutdown()

    async def process_request(
        self,
        callback: Request,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        """Wait while joining (see `attach`), then PTB's limits at this replica's share."""
        if data.get("chat_id") is not None:
            await self._ready.wait()
        return await super().process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )
