"""The shared rate limiter: replicas on one real database (a SQLite file, and PostgreSQL
where it answers) split Telegram's 30 messages/s through heartbeats, join without a burst
over the budget, and keep PTB's retry on 429."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram.error import RetryAfter

from bot.store import Store
from bot.tg.limiter import ALIVE_WITHIN, ARRIVAL_SLACK, WINDOW, Pacer, SharedRateLimiter, pace
from tests.botapi import busiest_second

LIMIT = 30  # Telegram's: messages in any one second


@pytest.fixture
async def stores(store_location: Path | str) -> AsyncIterator[list[Store]]:
    opened = [Store.open(store_location) for _ in range(3)]
    yield opened
    for store in opened:
        store.close()


async def send(
    limiter: SharedRateLimiter,
    sent: list[float],
    chat_id: int = 1,
    check: Callable[[], None] | None = None,
) -> Any:
    async def call() -> bool:
        if check is not None:
            check()
        sent.append(time.monotonic())
        return True

    return await limiter.process_request(call, (), {}, "sendMessage", {"chat_id": chat_id}, None)


@pytest.mark.parametrize("replicas", [1, 2, 3, 4, 5])
def test_evenly_paced_replicas_stay_within_the_limit_in_any_second_whatever_their_phases(
    replicas: int,
) -> None:
    interval = pace(LIMIT, replicas)
    rng = random.Random(replicas)
    for _ in range(200):
        arrivals = []
        for _ in range(replicas):
            start = rng.uniform(0, interval)
            arrivals += [
                start + k * interval + rng.uniform(0, ARRIVAL_SLACK * 0.99) for k in range(100)
            ]
        assert busiest_second(arrivals) <= LIMIT
    if replicas <= 3:  # the broadcast target: at least 27 messages/s together
        assert replicas / interval >= 27


def test_pacing_at_exactly_the_limit_would_be_refused_by_a_strict_second() -> None:
    """Why the pace leaves slack: a send arriving a little late, the next on time."""
    arrivals = [k / LIMIT for k in range(LIMIT + 1)]
    arrivals[0] += 0.01
    assert busiest_second(arrivals) == LIMIT + 1


def _join_arrivals(rng: random.Random, peers: int, first_after: float) -> list[float]:
    """Arrivals around a join: `peers` replicas at their share slow down when they count
    the newcomer (within a join poll before its release at t=5), whose first send comes
    `first_after` seconds after the release; every arrival wanders by less than the slack."""
    arrivals: list[float] = []
    starts = [rng.uniform(0, pace(LIMIT, peers)) for _ in range(peers)]
    switches = [5.0 - rng.uniform(0, 0.1) for _ in range(peers)]
    for t, switch in [*zip(starts, switches, strict=True), (5.0 + first_after, 0.0)]:
        while t < 10:
            arrivals.append(t + rng.uniform(0, ARRIVAL_SLACK * 0.99))
            t += pace(LIMIT, peers if t < switch else peers + 1)
    return arrivals


@pytest.mark.parametrize("peers", [1, 2])
def test_a_newcomer_starting_one_window_after_its_release_keeps_the_join_within_the_limit(
    peers: int,
) -> None:
    rng = random.Random(peers)
    assert max(busiest_second(_join_arrivals(rng, peers, WINDOW)) for _ in range(2000)) <= LIMIT


def test_a_newcomer_starting_one_interval_after_its_release_could_go_over() -> None:
    """Why the newcomer waits a whole window: the peers' sends at their old share still fill
    the sliding second when it starts."""
    rng = random.Random(2)
    first = pace(LIMIT, 3)
    assert max(busiest_second(_join_arrivals(rng, 2, first)) for _ in range(2000)) > LIMIT


async def test_a_slower_pace_or_a_hold_applies_to_sends_already_waiting() -> None:
    pacer = Pacer(0.001)
    passed: list[float] = []

    async def one() -> None:
        async with pacer:
            passed.append(time.monotonic())

    await one()
    pacer.interval = 0.2
    pacer.hold()
    waiting = [asyncio.create_task(one()) for _ in range(3)]
    await asyncio.sleep(0.3)
    assert len(passed) == 1  # held
    pacer.release()
    await asyncio.gather(*waiting)
    assert all(b - a >= 0.2 for a, b in itertools.pairwise(passed))


async def test_live_replicas_split_the_budget_and_a_leaver_gives_its_share_back(
    stores: list[Store],
) -> None:
    a, b, c = (SharedRateLimiter(replica=name) for name in "abc")
    await a.attach(stores[0])
    assert (a.replicas, a.share) == (1, pytest.approx(LIMIT / (1 + ARRIVAL_SLACK)))
    await b.attach(stores[1])
    await c.attach(stores[2])
    await a.beat()
    assert [x.replicas for x in (a, b, c)] == [3, 2, 3]  # b counts c at its next beat
    await b.beat()
    assert [x.share for x in (a, b, c)] == [pytest.approx(10 / (1 + ARRIVAL_SLACK))] * 3
    await c.shutdown()  # a clean stop leaves at once
    await a.beat()
    await b.beat()
    assert (a.share, b.share) == (pytest.approx(15 / (1 + ARRIVAL_SLACK)),) * 2
    await a.shutdown()
    await b.shutdown()


async def test_a_replica_silent_beyond_the_window_stops_counting(stores: list[Store]) -> None:
    now = [1000.0]
    a = SharedRateLimiter(replica="a", clock=lambda: now[0])
    dead = SharedRateLimiter(replica="dead", clock=lambda: now[0])
    await dead.attach(stores[1])
    await a.attach(stores[0])
    assert a.replicas == 2
    for task in dead._tasks:  # killed: no more beats, no leave
        task.cancel()
    now[0] += ALIVE_WITHIN + 0.1
    await a.beat()
    assert a.replicas == 1
    await a.shutdown()


async def test_a_newcomer_sends_nothing_until_the_others_have_counted_it(
    stores: list[Store],
) -> None:
    a, b = SharedRateLimiter(replica="a"), SharedRateLimiter(replica="b")
    await a.attach(stores[0])
    await b.attach(stores[1])
    assert b.joining and a.replicas == 1

    def a_counts_b() -> None:
        assert a.replicas == 2, "b sent before a slowed down for it"

    sent: list[float] = []
    first = asyncio.create_task(send(b, sent, check=a_counts_b))
    await asyncio.sleep(0.3)
    assert not sent
    await a.beat()  # or a's own heartbeat, whichever comes first
    await asyncio.wait_for(first, timeout=5)
    assert not b.joining and sent
    await a.shutdown()
    await b.shutdown()


async def test_replicas_starting_together_stay_within_the_limit_in_any_second(
    stores: list[Store],
) -> None:
    limiters = [SharedRateLimiter(replica=name) for name in "abc"]
    await asyncio.gather(*(x.attach(s) for x, s in zip(limiters, stores, strict=True)))
    sent: list[float] = []
    tasks = [
        asyncio.create_task(send(x, sent, chat_id=i)) for i in range(80) for x in limiters
    ]  # more than 6 s of sends, due at once
    # Started together, each may find the others and hold until they have beaten (up to
    # HEARTBEAT, longer on a loaded machine), then wait one WINDOW: watch the sends for
    # three seconds after the last release, whenever that comes.
    async with asyncio.timeout(10):
        while any(x.joining for x in limiters):  # noqa: ASYNC110 (a property, no event)
            await asyncio.sleep(0.05)
    await asyncio.sleep(3.0)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert len(sent) > LIMIT, "the replicas hardly sent"
    assert busiest_second(sent) <= LIMIT
    assert {x.replicas for x in limiters} == {3}
    for limiter in limiters:
        await limiter.shutdown()


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


async def test_sends_queued_during_a_429_wait_leave_paced_not_all_at_once(
    stores: list[Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    """PTB waits out a 429 after a send passed its limit; sends paced meanwhile would
    otherwise all go together when the wait ends, and meet the next 429."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    limiter = SharedRateLimiter(replica="a", max_retries=2)
    await limiter.attach(stores[0])
    refused: list[float] = []
    sent: list[float] = []

    async def call() -> bool:
        if not refused:
            refused.append(time.monotonic())
            raise RetryAfter(timedelta(seconds=1))
        sent.append(time.monotonic())
        return True

    await asyncio.gather(
        *(
            limiter.process_request(call, (), {}, "sendMessage", {"chat_id": i}, None)
            for i in range(10)
        )
    )
    assert len(sent) == 10 and min(sent) - refused[0] >= 1
    assert all(b - a >= pace(LIMIT, 1) * 0.99 for a, b in itertools.pairwise(sent))
    await limiter.shutdown()
