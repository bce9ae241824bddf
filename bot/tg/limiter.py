"""Telegram's flood limits shared by every replica on one database.

Telegram lets a bot send about 30 messages a second; read strictly, at most 30 in any
sliding second. Each replica keeps PTB's AIORateLimiter (20 messages a minute per group,
retrying a 429 after the wait Telegram asks) and paces its own sends evenly at its share:
with N replicas alive, floor(30 / N) messages every 1 + ARRIVAL_SLACK seconds. The slack
is for requests that reach Telegram unevenly (a send that left on time arrives late, the
next one on time): paced at exactly 30/s, a strict 30-in-any-second limit would refuse
the 31st message of about every other second. With the slack, N evenly paced replicas
together stay within 30 in any second whatever their phases, as long as arrivals wander
by less than ARRIVAL_SLACK: about 28.6 messages/s for 1, 2 or 3 replicas.

N comes from a heartbeat table in the store (bot.tables.replicas): every HEARTBEAT seconds
each replica records that it is alive and counts the replicas heard from within
ALIVE_WITHIN, with no database round trip per message. A replica that dies stops counting
after ALIVE_WITHIN and the others take its share; one that stops cleanly leaves at once.

Joining is the delicate moment (replicas that start together with digests already due):
a newcomer's count includes the replicas already there, but theirs does not include it
until their next heartbeat. So a replica that finds others alive when it attaches sends
nothing until each of them has beaten since (and so counted it): at most HEARTBEAT. The
others go on at their share meanwhile, so the budget is not left unused; then they slow
down, and the newcomer's first send comes one WINDOW after its release. Starting sooner
(one interval later) balances the old share's sends leaving the sliding second against
the new shares' entering it only on average: rounding per stream put a 31st message into
the second straddling the change in about one broadcast in four (measured). Waiting one
window costs the newcomer one second of its share, once. Of replicas
attaching at the same moment, the later to commit its heartbeat sees the earlier (the
count is read after the commit), so every pair is ordered. A new share applies to the
next send, those already waiting included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import time
from collections.abc import Callable, Collection, Coroutine
from secrets import token_hex
from typing import Any

from aiolimiter import AsyncLimiter
from telegram._utils.types import JSONDict
from telegram.ext import AIORateLimiter

from bot.tables.replicas import ReplicasTables

log = logging.getLogger(__name__)

MESSAGES_PER_SECOND = 30  # Telegram's overall flood limit for a bot
ARRIVAL_SLACK = 0.05  # seconds by which requests may reach Telegram unevenly
WINDOW = 1 + ARRIVAL_SLACK  # seconds: Telegram's second, as a replica must allow for it
HEARTBEAT = 1.0  # seconds between a replica's heartbeats: also the longest wait to join
ALIVE_WITHIN = 6.0  # a replica not heard from for this long is taken for dead
JOIN_POLL = 0.1  # seconds between looks at whether the others have counted a newcomer

Request = Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]]


def replica_id() -> str:
    """This process's name among the replicas: host, pid and a random suffix (a pid can be
    reused by a restarted container)."""
    return f"{socket.gethostname()}:{os.getpid()}:{token_hex(3)}"


def pace(messages_per_second: float, replicas: int) -> float:
    """Seconds between two sends of one of `replicas` replicas splitting
    `messages_per_second` (see the module docstring); at least one message a window."""
    per_window = max(1, math.floor(messages_per_second / max(1, replicas)))
    return WINDOW / per_window


class Pacer(AsyncLimiter):
    """One send at a time, `interval` seconds apart, unless held.

    Unlike aiolimiter's bucket, whose waiting senders keep the rate they started with, a
    changed `interval` or a `hold` applies to the next send, those already waiting included.
    """

    def __init__(self, interval: float, gate: asyncio.Event | None = None) -> None:
        """`gate`, while clear, holds the sends too (PTB's wait after a 429)."""
        super().__init__(max_rate=1, time_period=interval)
        self.interval = interval
        self._gate = gate
        self._turn = asyncio.Lock()
        self._open = asyncio.Event()
        self._open.set()
        self._last = -math.inf  # loop time of the last send let through
        self._not_before = -math.inf  # loop time before which nothing goes (see release)

    def hold(self) -> None:
        """Let nothing through until `release`."""
        self._open.clear()

    def release(self, *, first_after: float = 0.0) -> None:
        """Let sends through again; the first `first_after` seconds from now."""
        if first_after > 0:
            self._not_before = asyncio.get_running_loop().time() + first_after
        self._open.set()

    @property
    def held(self) -> bool:
        return not self._open.is_set()

    def has_capacity(self, amount: float = 1) -> bool:
        loop = asyncio.get_running_loop()
        return not self.held and loop.time() >= self._next()

    def _next(self) -> float:
        """Loop time from which the next send may go."""
        return max(self._last + self.interval, self._not_before)

    async def acquire(self, amount: float = 1) -> None:
        """Wait for this sender's turn; `amount` is taken as one send."""
        loop = asyncio.get_running_loop()
        async with self._turn:
            while True:
                await self._open.wait()
                if self._gate is not None and not self._gate.is_set():
                    await self._gate.wait()
                    continue
                wait = self._next() - loop.time()
                if wait <= 0:
                    break
                await asyncio.sleep(wait)  # then look again: the pace may have slowed
            self._last = loop.time()


class SharedRateLimiter(AIORateLimiter):
    """AIORateLimiter whose overall budget, `messages_per_second`, is split evenly among
    the live replicas (see the module docstring). Alone, or before `attach`, it paces
    at the whole budget."""

    def __init__(
        self,
        *,
        messages_per_second: float = MESSAGES_PER_SECOND,
        max_retries: int = 3,
        replica: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(overall_max_rate=1, overall_time_period=1, max_retries=max_retries)
        self.replica = replica or replica_id()
        self.replicas = 1  # live replicas last counted, this one included
        self._rate = messages_per_second
        # PTB's overall limit, on every send to a chat. PTB waits out a 429 only after a
        # send has passed this limit, so the sends paced meanwhile would all go at once
        # when the wait ends (and meet another 429): the pacer holds them instead.
        self._pacer = Pacer(pace(messages_per_second, 1), gate=self._retry_after_event)
        self._base_limiter = self._pacer
        self._clock = clock
        self._tables: ReplicasTables | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def share(self) -> float:
        """This replica's messages per second now."""
        return 1 / self._pacer.interval

    @property
    def joining(self) -> bool:
        """Whether sends wait for the other replicas to count this one."""
        return self._pacer.held

    async def attach(self, tables: ReplicasTables) -> None:
        """Join the replicas recorded in `tables` and keep beating until `shutdown`.

        A replica that finds others alive holds its sends until they have counted it.
        """
        self._tables = tables
        alive = await self._beat(tables)
        joined = self._clock()  # after the heartbeat's commit: a later beat has seen it
        peers = set(alive) - {self.replica}
        if peers:
            self._pacer.hold()
            self._tasks.append(
                asyncio.create_task(self._join(tables, joined, peers), name="rate-limit join")
            )
        self._tasks.append(asyncio.create_task(self._keep_beating(), name="rate-limit heartbeat"))

    async def beat(self) -> None:
        """Record that this replica is alive; take its share of the budget from the count."""
        if self._tables is not None:
            await self._beat(self._tables)

    async def _beat(self, tables: ReplicasTables) -> dict[str, float]:
        alive = await asyncio.to_thread(tables.heartbeat, self.replica, self._clock(), ALIVE_WITHIN)
        self._count(alive)
        return alive

    def _count(self, alive: Collection[str]) -> None:
        replicas = len(set(alive) | {self.replica})
        if replicas != self.replicas:
            self.replicas = replicas
            self._pacer.interval = pace(self._rate, replicas)
            log.info("%d replica(s) alive: sending at most %.1f messages/s", replicas, self.share)

    async def _join(self, tables: ReplicasTables, joined: float, peers: set[str]) -> None:
        """Release the sends once every peer seen at `joined` has beaten since (or gone),
        the first one window later (see the module docstring)."""
        try:
            while True:
                await asyncio.sleep(JOIN_POLL)
                try:
                    alive = await asyncio.to_thread(tables.alive, self._clock() - ALIVE_WITHIN)
                except Exception:  # a database hiccup: look again
                    log.warning("rate-limit join: could not read the heartbeats")
                    continue
                self._count(alive)
                if all(alive.get(peer, joined) >= joined for peer in peers):
                    self._pacer.release(first_after=WINDOW)
                    return
        finally:
            self._pacer.release()  # cancelled (shut down): let nothing wait for ever

    async def _keep_beating(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            try:
                await self.beat()
            except Exception:  # a database hiccup: keep the last share, try again
                log.warning("rate-limit heartbeat failed; keeping %d replica(s)", self.replicas)

    async def shutdown(self) -> None:
        """Stop beating and leave, so the other replicas take this one's share at once."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._tables is not None:
            with contextlib.suppress(Exception):  # the store may already be closed
                await asyncio.to_thread(self._tables.leave, self.replica)
            self._tables = None
        await super().shutdown()
