"""Crash safety: `kill -9` the bot in the middle of a 1,000-chat broadcast, start it again.

The bot runs as its own OS process (`python -m bot run`, production wiring and flood
limits, ~30 messages/s) against tests.botapi in this process. Every chat must end with its
digest (none lost); a chat may get it twice only if its send was in flight at the kill:
claimed in the store, reached Telegram, not yet recorded. So duplicates are bounded by the
claims left in state "sending", which the test reads from the SQLite file after the kill.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.service import NewsDesk
from bot.settings import Settings
from tests.botapi import BotApiServer

ROOT = Path(__file__).resolve().parent.parent
CHATS = 1000
KILL_AFTER = 300  # successful sends seen by the server
LEASE_SECONDS = 3  # a dead process's claims are retried this soon


def digests_per_chat(botapi: BotApiServer) -> Counter[int]:
    return Counter(c.chat_id for c in botapi.calls_to("sendMessage") if c.status == 200)


def states(db: Path) -> Counter[str]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state")
        return Counter({state: count for state, count in rows})


async def until(check: object, what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        await asyncio.sleep(0.05)


async def start_bot(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as sink:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=env, cwd=ROOT, stdout=sink, stderr=sink
        )


@pytest.mark.slow
async def test_kill_9_mid_broadcast_loses_no_digest(botapi: BotApiServer, tmp_path: Path) -> None:
    chats = [botapi.private_chat(botapi.user(f"Reader {n}")) for n in range(CHATS)]
    db = tmp_path / "news.db"
    due = (datetime.now(UTC) - timedelta(minutes=2)).strftime("%H:%M")  # due now, in grace
    desk = NewsDesk.open(Settings(db=db))
    try:
        for chat in chats:
            desk.digests.subscribe(chat.id, due, "UTC")
    finally:
        desk.close()
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": botapi.token,
        "TELEGRAM_API_BASE_URL": botapi.base_url,
        "NEWSBOT_DB": str(db),
        "NEWSBOT_DIGEST__CLAIM_LEASE_SECONDS": str(LEASE_SECONDS),
        "PTB_TIMEDELTA": "true",
    }
    env.pop("NEWSBOT_CONFIG", None)
    log = tmp_path / "bot.log"

    bot = await start_bot(env, log)
    try:
        await until(lambda: sum(digests_per_chat(botapi).values()) >= KILL_AFTER, "sends", 40)
    finally:
        bot.send_signal(signal.SIGKILL)
        await bot.wait()
    sent_before = sum(digests_per_chat(botapi).values())
    at_kill = states(db)
    in_flight = at_kill["sending"]

    bot = await start_bot(env, log)
    try:
        await until(lambda: states(db)["sent"] == CHATS, "every digest recorded", 50)
    finally:
        bot.terminate()
        await bot.wait()

    per_chat = digests_per_chat(botapi)
    lost = sum(1 for chat in chats if per_chat[chat.id] == 0)
    duplicates = sum(1 for chat in chats if per_chat[chat.id] > 1)
    print(
        f"\ncrash figures: {CHATS} chats, killed after {sent_before} sends with "
        f"{in_flight} claims in flight ({dict(at_kill)}); lost {lost}, "
        f"duplicates {duplicates}, most copies {max(per_chat.values())}"
    )
    assert sent_before < CHATS  # the kill really was mid-broadcast
    assert lost == 0
    assert duplicates <= in_flight
    assert max(per_chat.values()) <= 2
    assert "Traceback" not in log.read_text(encoding="utf-8", errors="replace")
