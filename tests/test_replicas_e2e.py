"""End to end: two or three `python -m bot run` replicas in webhook mode on one database,
behind a round-robin proxy on 127.0.0.1; tests.botapi delivers updates to the proxy as
Telegram delivers to a webhook (secret token header, redelivery until answered 2xx).

Each scenario runs on a SQLite file shared by the replicas (replicas on one machine), and on
PostgreSQL (tests/postgres.py) where a server answers; that half skips, saying why, elsewhere.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from bot.service import NewsDesk
from bot.settings import Settings
from tests import postgres
from tests.botapi import BotApiServer
from tests.botapi.server import Chat
from tests.replica_harness import replicas
from tests.test_feed_sources import FERRY, serve

QUESTION = "How many US troops are in Iraq?"
ANSWER = "Iran’s president visits Iraq on first foreign trip"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The replicas' database (a fresh PostgreSQL schema, see tests/postgres.py), migrated
    and seeded before any replica starts, as `newsbot migrate` would."""
    if request.param == "sqlite":
        db = str(tmp_path / "news.db")
        NewsDesk.open(Settings(db=db)).close()
        yield db
        return
    with postgres.fresh_schema() as url:
        NewsDesk.open(Settings(db=url)).close()
        yield url


async def until(check: Callable[[], bool], what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        await asyncio.sleep(0.05)


async def ask(botapi: BotApiServer, chat: Chat, text: str) -> str:
    asked = await chat.send(text)
    assert asked.delivered
    (reply,) = await botapi.wait_for_messages(chat.id, timeout=60)
    return str(reply["text"])


async def test_questions_from_100_users_are_each_answered_once(
    botapi: BotApiServer, database: str, tmp_path: Path
) -> None:
    async with replicas(botapi, database, 3, tmp_path) as (group, proxy):
        chats = [botapi.private_chat(botapi.user(f"Reader {n}")) for n in range(100)]
        for chat in chats:
            assert (await chat.send(QUESTION)).delivered
        for chat in chats:
            (reply,) = await botapi.wait_for_messages(chat.id, timeout=90)
            assert reply["text"].startswith(ANSWER)
        await until(lambda: botapi.pending_updates == 0, "every update delivered", 30)
        await asyncio.sleep(1.0)  # room for a duplicate to show
        assert all(len(botapi.sent(chat.id)) == 1 for chat in chats)
        answered = Counter(post.update_id for post in botapi.webhook_posts if post.ok)
        assert len(answered) == 100 and set(answered.values()) == {1}
        assert len(proxy.forwarded) == 3  # every replica took its turn
    for replica in group:
        assert "Traceback" not in replica.log_text()


async def test_a_feed_added_through_one_replica_is_answered_through_the_others(
    botapi: BotApiServer, database: str, tmp_path: Path, httpserver: HTTPServer
) -> None:
    base = serve(httpserver)
    admin = botapi.user("Olga")
    ids = json.dumps([admin["id"]])
    async with replicas(botapi, database, 3, tmp_path, NEWSBOT_ADMIN_IDS=ids) as (_, proxy):
        dm = botapi.private_chat(admin)
        assert not (await ask(botapi, dm, "When does the first ferry leave?")).startswith(FERRY)
        added = await ask(botapi, dm, f"/addfeed {base}/harbour.xml")
        assert added.startswith("Added Harbour Gazette: 3 items.")
        adder = proxy.log[-1]
        # the next three questions go to the three replicas in turn, the two others first
        answers = [await ask(botapi, dm, "When does the first ferry leave?") for _ in range(3)]
        assert set(proxy.log[-3:]) == set(proxy.backends) and proxy.log[-3] != adder
        assert all(answer.startswith(FERRY) for answer in answers), answers


LEASE_SECONDS = 20  # above the longest claim-to-record time on a loaded machine (see docs)
CHATS = 1000
KILL_AFTER = 300


@pytest.mark.slow
async def test_kill_9_one_replica_mid_broadcast_the_others_finish_it(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with BotApiServer(messages_per_second=30) as botapi:
        chats = [botapi.private_chat(botapi.user(f"Reader {n}")) for n in range(CHATS)]
        due = (datetime.now(UTC) - timedelta(minutes=2)).strftime("%H:%M")  # due, in grace
        desk = NewsDesk.open(Settings(db=database))
        try:
            for chat in chats:
                desk.digests.subscribe(chat.id, due, "UTC")

            def states() -> Counter[str]:
                return Counter(state for _, _, state in desk.digests.deliveries())

            def per_chat() -> Counter[int]:
                return Counter(c.chat_id for c in botapi.calls_to("sendMessage") if c.status == 200)

            lease = {"NEWSBOT_DIGEST__CLAIM_LEASE_SECONDS": str(LEASE_SECONDS)}
            async with replicas(botapi, database, 3, tmp_path, **lease) as (group, _):
                await until(lambda: sum(per_chat().values()) >= KILL_AFTER, "sends", 240)
                group[0].kill()
                assert group[0].process is not None
                await group[0].process.wait()
                sent_before, in_flight = sum(per_chat().values()), states()["sending"]
                await until(lambda: states()["sent"] == CHATS, "every digest recorded", 400)
                for replica in group[1:]:  # (stopping later may cancel a job mid-run)
                    assert "Traceback" not in replica.log_text()
        finally:
            desk.close()
        sent = per_chat()
        lost = sum(1 for chat in chats if sent[chat.id] == 0)
        duplicates = sum(1 for chat in chats if sent[chat.id] > 1)
        floods = len([c for c in botapi.calls_to("sendMessage") if c.status == 429])
        print(
            f"\nreplica failover: {CHATS} chats, 3 replicas, one killed after {sent_before} "
            f"sends with {in_flight} claims in flight; lost {lost}, duplicates {duplicates}, "
            f"429s {floods}"
        )
        assert sent_before < CHATS  # the kill really was mid-broadcast
        assert lost == 0
        assert duplicates <= in_flight
