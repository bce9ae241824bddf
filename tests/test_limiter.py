"""The shared rate limiter: replicas on one real SQLite file split Telegram's 30 messages/s
through heartbeats, and keep PTB's retry on 429."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram.error import RetryAfter

from bot.store import Store
from bot.tg.limiter import ALIVE_WITHIN, SharedRateLimiter


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[list[Store]]:
    opened = [Store.open(tmp_path / "news.db") for _ in range(3)]
    yield opened
    for store in opened:
        store.close()


async def send(limiter: SharedRateLimiter, sent: list[float], chat_id: int = 1) -> Any:
    async def call() -> bool:
        sent.append(time.monotonic())
        return True

    return await limiter.process_request(call, (), {}, "sendMessage", {"chat_id": chat_id}, None)


async def test_live_replicas_split_the_budget_and_a_leaver_gives_its_share_back(
    stores: list[Store],
) -> None:
    a, b, c = (SharedRateLimiter(replica=name) for name in "abc")
    await a.attach(stores[0])
    assert (a.replicas, a.share) == (1, 30)
    await b.attach(stores[1])
    await c.attach(stores[2])
    await a.beat()
    assert [x.replicas for x in (a, b, c)] == [3, 2, 3]  # b counts c at its next beat
    await b.beat()
    assert {x.share for x in (a, b, c)} == {10}
    await c.shutdown()  # a clean stop leaves at once
    await a.beat()
    await b.beat()
    assert (a.share, b.share) == (15, 15)
    await a.shutdown()
    await b.shutdown()


async def test_a_replica_silent_beyond_the_window_stops_counting(stores: list[Store]) -> None:
    now = [1000.0]
    a = SharedRateLimiter(replica="a", clock=lambda: now[0])
    dead = SharedRateLimiter(replica="dead", clock=lambda: now[0])
    await dead.attach(stores[1])
    await a.attach(stores[0])
    assert a.replicas == 2
    dead._beating.cancel()  # type: ignore[union-attr]  # killed: no more beats, no leave
    now[0] += ALIVE_WITHIN + 0.1
    await a.beat()
    assert a.replicas == 1
    await a.shutdown()


async def test_two_replicas_together_stay_within_the_budget(stores: list[Store]) -> None:
    a, b = SharedRateLimiter(replica="a"), SharedRateLimiter(replica="b")
    await a.attach(stores[0])
    await b.attach(stores[1])  # finds a: waits a heartbeat before sending
    await a.beat()
    sent: list[float] = []
    tasks = [asyncio.create_task(send(x, sent, i)) for i in range(60) for x in (a, b)]
    await asyncio.sleep(1.5)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert sent, "nothing was sent"
    span = [t for t in sent if t - sent[0] < 1.0]
    # 15/s each, plus the one message each limiter lets through at once
    assert len(span) <= 30 + 2
    await a.shutdown()
    await b.shutdown()


async def test_a_429_is_retried_after_the_wait_telegram_asks(
    stores: list[Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # RetryAfter with a timedelta, no warning
    limiter = SharedRateLimiter(replica="a", max_retries=2)
    await limiter.attach(stores[0])
    calls = 0

    async def flaky() -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RetryAfter(timedelta(seconds=0))
        return True

    result = await limiter.process_request(flaky, (), {}, "sendMessage", {"chat_id": 5}, None)
    assert result is True and calls == 2
    await limiter.shutdown()
