"""`newsbot push` as operators run it: a real process against tests.botapi over HTTP."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.service import NewsDesk
from bot.settings import Settings
from bot.tg.limiter import SharedRateLimiter
from tests.botapi import BotApiServer, busiest_second

ROOT = Path(__file__).resolve().parent.parent


async def newsbot(botapi: BotApiServer, db: Path | str, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    env |= {
        "TELEGRAM_BOT_TOKEN": botapi.token,
        "TELEGRAM_API_BASE_URL": botapi.base_url,
        "PTB_TIMEDELTA": "true",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--db", str(db), *args,
        env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_push_sends_due_digests_and_now_forces_the_rest_once(
    botapi: BotApiServer, tmp_path: Path
) -> None:
    db = tmp_path / "news.db"
    due, later = botapi.private_chat(botapi.user("Due")), botapi.private_chat(botapi.user("Later"))
    now = datetime.now(UTC)
    desk = NewsDesk.open(Settings(db=db))
    try:
        desk.digests.subscribe(due.id, (now - timedelta(minutes=5)).strftime("%H:%M"), "UTC")
        desk.digests.subscribe(later.id, (now + timedelta(hours=2)).strftime("%H:%M"), "UTC")
    finally:
        desk.close()

    code, out, err = await newsbot(botapi, db, "push")
    assert code == 0, err
    assert "sent 1" in out and "not_due 1" in out
    assert len(botapi.calls_to("sendMessage", due.id)) == 1
    assert botapi.calls_to("sendMessage", later.id) == []

    code, out, err = await newsbot(botapi, db, "push", "--now", "--chat", str(later.id))
    assert code == 0, err
    assert out.strip() == "sent 1"
    (digest,) = botapi.calls_to("sendMessage", later.id)
    assert "Al-Hol" in digest.params["text"]

    # Exactly once per chat and local day, however often operators push.
    code, out, err = await newsbot(botapi, db, "push", "--now")
    assert code == 0, err
    assert "sent" not in out
    assert len(botapi.calls_to("sendMessage")) == 2


async def test_push_for_an_unknown_chat_is_a_clear_error(
    botapi: BotApiServer, tmp_path: Path
) -> None:
    code, _, err = await newsbot(botapi, tmp_path / "news.db", "push", "--chat", "12345")
    assert code == 2
    assert "no active subscription" in err and "Traceback" not in err


def test_push_and_run_without_a_token_say_which_variable_is_missing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN" and "NEWSBOT" not in k}
    for command in ("push", "run"):
        done = subprocess.run(
            [sys.executable, "-m", "bot", "--db", str(tmp_path / "news.db"), command],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 1
        assert "TELEGRAM_BOT_TOKEN" in done.stderr and "Traceback" not in done.stderr


async def test_push_beside_a_running_replica_sends_at_its_share_of_the_rate(
    store_location: Path | str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with BotApiServer(messages_per_second=30) as botapi:
        chats = [botapi.private_chat(botapi.user(f"Reader {i}")) for i in range(40)]
        due = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%H:%M")
        desk = NewsDesk.open(Settings(db=store_location))
        running = SharedRateLimiter(replica="running bot")  # its heartbeats, as `newsbot run`'s
        try:
            for chat in chats:
                desk.digests.subscribe(chat.id, due, "UTC")
            await running.attach(desk.store)
            pushing = asyncio.create_task(newsbot(botapi, store_location, "push"))
            counted = set()
            while not pushing.done():
                counted.add(running.replicas)
                await asyncio.sleep(0.05)
            code, out, err = await pushing
        finally:
            await running.shutdown()
            desk.close()
    assert code == 0, err
    assert out.strip() == "sent 40"
    assert 2 in counted  # the push counted among the replicas while it ran
    sends = botapi.calls_to("sendMessage")
    assert {c.status for c in sends} == {200}
    assert busiest_second(c.at for c in sends) <= 30 // 2  # its share, the replica's left
