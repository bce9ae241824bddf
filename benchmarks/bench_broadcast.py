"""Digest broadcast benchmark: push_due to N subscribed chats through the local Bot API server.

Run by hand from the project root:

    python benchmarks/bench_broadcast.py [--chats 10000] [--modes limited,raw]

The push runs in its own process, as `newsbot push` would (build_bot + push_due, a fresh
store with N private chats due now), against tests.botapi's server in this process.

- limited: the production AIORateLimiter (30 messages/s, 429 retries); the server enforces
  Telegram's 30 messages/s budget with 429s, so zero 429s means the limiter kept under it.
  Target: >= 27 messages/s (90 % of 30).
- raw: flood limits off on both sides: what the push code itself sustains.

messages/s is successful sends over the time from the first to the last one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telegram.ext import AIORateLimiter  # noqa: E402

from bot.service import NewsDesk  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from bot.tg.app import MAX_RETRIES, build_bot  # noqa: E402
from bot.tg.push import push_due  # noqa: E402
from tests.botapi import BotApiServer  # noqa: E402

TELEGRAM_PER_SECOND = 30.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chats", type=int, default=10_000)
    parser.add_argument("--modes", default="limited,raw", help="limited, raw or both")
    parser.add_argument("--child", choices=["limited", "raw"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return asyncio.run(child(args.child))
    rows = [asyncio.run(bench(mode, args.chats)) for mode in args.modes.split(",")]
    print_table(args.chats, rows)
    return 0 if all(r["lost"] == 0 for r in rows) else 1


async def child(mode: str) -> int:
    """The pushing process: production build_bot, limiter on or off."""
    logging.basicConfig(level=logging.WARNING)
    settings = load_settings()
    limiter = None
    if mode == "raw":
        limiter = AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=MAX_RETRIES)
    desk = NewsDesk.open(settings)
    try:
        async with build_bot(settings, rate_limiter=limiter) as bot:
            counts = await push_due(bot, desk, datetime.now(UTC))
    finally:
        desk.close()
    print(json.dumps(counts))
    return 0


async def bench(mode: str, chats: int) -> dict[str, object]:
    limited = mode == "limited"
    per_second = TELEGRAM_PER_SECOND if limited else None
    async with BotApiServer(messages_per_second=per_second) as server:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "bench.db"
            ids = [server.private_chat(server.user(f"Reader {n}")).id for n in range(chats)]
            subscribe(db, ids)
            env = {
                **os.environ,
                "TELEGRAM_BOT_TOKEN": server.token,
                "TELEGRAM_API_BASE_URL": server.base_url,
                "NEWSBOT_DB": str(db),
                "PTB_TIMEDELTA": "true",
            }
            env.pop("NEWSBOT_CONFIG", None)
            started = time.perf_counter()
            process = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--child", mode, env=env, cwd=ROOT,
                stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, _ = await process.communicate()
            wall = time.perf_counter() - started
    sends = [c for c in server.calls if c.method == "sendMessage"]
    ok = sorted(c.at for c in sends if c.status == 200)
    span = ok[-1] - ok[0] if len(ok) > 1 else float("nan")
    delivered = {c.chat_id for c in sends if c.status == 200}
    return {
        "mode": mode,
        "sent": len(ok),
        "rate": (len(ok) - 1) / span if len(ok) > 1 else float("nan"),
        "429s": sum(1 for c in sends if c.status == 429),
        "lost": len(set(ids) - delivered),
        "wall": wall,
        "outcomes": out.decode().strip().splitlines()[-1] if out else "?",
    }


def subscribe(db: Path, chat_ids: list[int]) -> None:
    due = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%H:%M")
    desk = NewsDesk.open(load_settings(db=db))
    try:
        for chat_id in chat_ids:
            desk.digests.subscribe(chat_id, due, "UTC")
    finally:
        desk.close()


def print_table(chats: int, rows: list[dict[str, object]]) -> None:
    print(f"\nbroadcast of one digest to {chats} chats (target: >= 27 msg/s, 0 x 429 limited)")
    print(f"{'mode':<8} {'sent':>7} {'msg/s':>8} {'429s':>5} {'lost':>5} {'wall s':>7}  outcomes")
    for row in rows:
        print(
            f"{row['mode']:<8} {row['sent']:>7} {row['rate']:>8.1f} {row['429s']:>5} "
            f"{row['lost']:>5} {row['wall']:>7.1f}  {row['outcomes']}"
        )


if __name__ == "__main__":
    sys.exit(main())
