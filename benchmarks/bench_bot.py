"""End-to-end bot benchmark: simulated users ask questions through the local Bot API server.

Run by hand from the project root:

    python benchmarks/bench_bot.py [--users 50] [--rates 100,200,300] [--seconds 5]
                                   [--concurrency 10] [--questions 60] [--telegram-limits]

The bot runs in its own process, as in production (build_application + run_polling over
HTTP), against tests.botapi's server in this process, with a fresh store seeded with the
bundled articles. Every user is a private chat. Latency is from a question reaching the
server to the bot's answer reaching it: long-poll pickup, handling, search, HTTP reply.

Two loads, one table row each:
- closed loop: `--concurrency` users each ask, wait for the answer, and ask again; the
  peak rate the bot sustains (latency there is mostly queueing behind each other);
- open loop: questions arrive at each of `--rates` per second for `--seconds`, spread
  over `--users` chats, whether or not earlier ones were answered: latency at that load.

By default the bot's AIORateLimiter has its flood limits off (retries on 429 stay on),
which measures the bot, not Telegram's cap; --telegram-limits keeps the production
limits (about 30 messages a second overall), to see that cap.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telegram.ext import AIORateLimiter  # noqa: E402

from bot.settings import load_settings  # noqa: E402
from bot.tg.app import ALLOWED_UPDATES, MAX_RETRIES, build_application  # noqa: E402
from tests.botapi import BotApiServer, Chat, Posted  # noqa: E402

QUESTIONS = [
    "Al-Hol camp",
    "Pezeshkian visit Baghdad",
    "What happened to Soleimani?",
    "Iranian president trip",
    "how many Iraqis returned from Syria",
    "US troops in Iraq",
    "Iraq football results",  # finds nothing: the did-you-mean path
    "irann presdent visit",  # typos
]


@dataclass
class Run:
    """One measured load: what was asked, how long it took, and the CPU each side used."""

    label: str
    latencies: list[float]  # seconds, one per answered question
    elapsed: float
    bot_cpu: float  # seconds of CPU in the bot process
    harness_cpu: float  # seconds of CPU in this process (server and users)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=int, default=50, help="chats for the open loop")
    parser.add_argument("--rates", default="100,200,300", help="open-loop questions/s")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each open loop")
    parser.add_argument("--concurrency", type=int, default=10, help="closed-loop users")
    parser.add_argument("--questions", type=int, default=60, help="per closed-loop user")
    parser.add_argument(
        "--telegram-limits", action="store_true", help="keep the production flood limits"
    )
    parser.add_argument("--serve-bot", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bot:
        serve_bot(telegram_limits=args.telegram_limits)
        return 0
    return asyncio.run(bench(args))


def serve_bot(*, telegram_limits: bool) -> None:
    """The child process: the production Application, polling the benchmark's server."""
    logging.basicConfig(level=logging.WARNING)
    limiter = None
    if not telegram_limits:
        limiter = AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=MAX_RETRIES)
    application = build_application(load_settings(), rate_limiter=limiter)
    application.run_polling(allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False)


async def bench(args: argparse.Namespace) -> int:
    async with BotApiServer() as server:
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                **os.environ,
                "TELEGRAM_BOT_TOKEN": server.token,
                "TELEGRAM_API_BASE_URL": server.base_url,
                "NEWSBOT_DB": str(Path(tmp) / "bench.db"),
                "PTB_TIMEDELTA": "true",
            }
            env.pop("NEWSBOT_CONFIG", None)
            flags = ["--telegram-limits"] if args.telegram_limits else []
            child = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--serve-bot", *flags, env=env, cwd=ROOT
            )
            try:
                runs = await drive(server, args, child.pid)
            finally:
                child.terminate()  # run_polling stops cleanly on SIGTERM
                await child.wait()
    failed = [c for c in server.calls if c.status != 200]
    print_table(args, runs, len(failed))
    return 1 if failed else 0


async def drive(server: BotApiServer, args: argparse.Namespace, bot_pid: int) -> list[Run]:
    chats = [server.private_chat(server.user(f"User {n}")) for n in range(args.users)]
    await chats[0].send("/start")
    await server.wait_for_messages(chats[0].id, timeout=60)  # the bot is up
    await closed_loop(server, chats[: args.concurrency], 2)  # warm up
    runs = [
        await measure(
            f"closed loop, {args.concurrency} users",
            bot_pid,
            lambda: closed_loop(server, chats[: args.concurrency], args.questions),
        )
    ]
    for rate in (float(r) for r in args.rates.split(",") if r):
        runs.append(
            await measure(
                f"open loop, {rate:.0f}/s over {args.users} users",
                bot_pid,
                functools.partial(open_loop, server, chats, rate, args.seconds),
            )
        )
    return runs


async def measure(label: str, bot_pid: int, load: Callable[[], Awaitable[list[float]]]) -> Run:
    cpu = time.process_time(), cpu_seconds(bot_pid)
    started = time.perf_counter()
    latencies = await load()
    elapsed = time.perf_counter() - started
    harness, bot = time.process_time() - cpu[0], cpu_seconds(bot_pid) - cpu[1]
    return Run(label, latencies, elapsed, bot, harness)


async def closed_loop(server: BotApiServer, chats: list[Chat], rounds: int) -> list[float]:
    """Each chat asks, waits for the answer, asks again."""

    async def user(index: int) -> list[float]:
        chat, latencies = chats[index], []
        for turn in range(rounds):
            asked = await chat.send(QUESTIONS[(index + turn) % len(QUESTIONS)])
            await server.wait_for_messages(chat.id, timeout=30)
            latencies.append(server.sent_times(chat.id)[-1] - asked.at)
        return latencies

    per_user = await asyncio.gather(*(user(i) for i in range(len(chats))))
    return [latency for latencies in per_user for latency in latencies]


async def open_loop(
    server: BotApiServer, chats: list[Chat], rate: float, seconds: float
) -> list[float]:
    """Questions arrive at `rate` per second, round-robin over the chats, for `seconds`."""
    total = int(rate * seconds)
    asked: list[tuple[Chat, Posted]] = []
    start = time.perf_counter()
    for n in range(total):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        chat = chats[n % len(chats)]
        asked.append((chat, await chat.send(QUESTIONS[n % len(QUESTIONS)])))
    counts: dict[int, int] = {}
    for chat, _ in asked:
        counts[chat.id] = counts.get(chat.id, 0) + 1
    await asyncio.gather(
        *(server.wait_for_messages(chat_id, n, timeout=60) for chat_id, n in counts.items())
    )
    answered_at = {
        (chat_id, message["reply_to_message"]["message_id"]): at
        for chat_id in counts
        for message, at in zip(server.sent(chat_id), server.sent_times(chat_id), strict=True)
    }
    return [answered_at[(chat.id, posted.message_id)] - posted.at for chat, posted in asked]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process `pid` so far; 0 where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def print_table(args: argparse.Namespace, runs: list[Run], failed: int) -> None:
    limits = "production" if args.telegram_limits else "off"
    print(f"bench_bot: {os.cpu_count()} CPUs, seed articles, flood limits {limits}")
    print()
    print(
        "| load | answered | answers/s | p50 ms | p90 ms | p99 ms | max ms "
        "| bot CPU | server+users CPU |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for run in runs:
        ms = sorted(x * 1000 for x in run.latencies)
        cuts = statistics.quantiles(ms, n=100, method="inclusive")
        print(
            f"| {run.label} | {len(ms)} | {len(ms) / run.elapsed:.0f} "
            f"| {cuts[49]:.1f} | {cuts[89]:.1f} | {cuts[98]:.1f} | {ms[-1]:.1f} "
            f"| {run.bot_cpu / run.elapsed:.0%} | {run.harness_cpu / run.elapsed:.0%} |"
        )
    print()
    print(f"Bot API errors: {failed}")


if __name__ == "__main__":
    raise SystemExit(main())
