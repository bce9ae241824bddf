"""Replicas benchmark: answers/s and latency with 1, 2 and 3 webhook replicas on one
database, and a digest broadcast's messages/s across replicas under Telegram's 30/s.

Run by hand from the project root:

    python benchmarks/bench_replicas.py [--replicas 1,2,3] [--concurrency 20]
        [--questions 15] [--chats 600] [--skip-answers]

Every replica is its own process (production wiring, webhook mode) behind the round-robin
proxy of tests/replica_harness.py; tests.botapi, in this process, delivers updates to the
proxy as Telegram delivers to a webhook. Latency is from a question reaching the server to
its answer reaching it: webhook delivery, proxy, handling, search, reply.

- answers: a closed loop of `--concurrency` users each asking `--questions` questions, with
  the replicas' flood limits off (this measures the bot, not Telegram's cap). One replica on
  SQLite, then 1, 2 and 3 replicas on PostgreSQL (a fresh schema of NEWSBOT_TEST_POSTGRES,
  as the tests use; its rows are left out, saying why, where no server answers). On a
  2-core machine shared with other work, more processes cannot add CPU: compare the CPU
  per answer, not only the rates.
- broadcast: `--chats` chats whose digest is due, sent by the replicas with the production
  limiter (bot.tg.limiter: 30/s split among live replicas, 429s retried) while the server
  enforces at most 30 messages in any second with 429s. Rate is digests over the time
  from the first send to the last; "busiest second" is the most messages the server
  accepted within any one second.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_bot import QUESTIONS  # noqa: E402  # the single-bot benchmark's (a sibling script)
from telegram.ext import AIORateLimiter  # noqa: E402

from bot.service import NewsDesk  # noqa: E402
from bot.settings import Settings, load_settings  # noqa: E402
from bot.tg.app import MAX_RETRIES, build_application, webhook_options  # noqa: E402
from tests import postgres  # noqa: E402
from tests.botapi import BotApiServer, Chat, busiest_second  # noqa: E402
from tests.replica_harness import replicas  # noqa: E402

SELF = ("benchmarks/bench_replicas.py",)


@dataclass
class Row:
    label: str
    count: int
    elapsed: float
    cpu: float  # seconds of CPU, all replicas together
    latencies: list[float]
    errors: int  # Bot API calls that failed (answers) or were refused with 429 (broadcast)
    duplicates: int = 0  # chats that got their digest twice (broadcast)
    busiest: int = 0  # the most messages accepted within any one second (broadcast)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--replicas", default="1,2,3")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--questions", type=int, default=15, help="per user")
    parser.add_argument("--chats", type=int, default=600, help="digests in the broadcast")
    parser.add_argument("--skip-answers", action="store_true", help="the broadcast table only")
    parser.add_argument("--serve-replica", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-limits", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_replica:
        serve_replica(no_limits=args.no_limits)
        return 0
    return asyncio.run(bench(args))


def serve_replica(*, no_limits: bool) -> None:
    """A child: the production Application in webhook mode, flood limits off if asked."""
    logging.basicConfig(level=logging.WARNING)
    settings = load_settings()
    limiter = None
    if no_limits:
        limiter = AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=MAX_RETRIES)
    application = build_application(settings, rate_limiter=limiter)
    application.run_webhook(**webhook_options(settings))


@contextmanager
def fresh(kind: str, tmp: Path) -> Iterator[str | None]:
    """An empty store of `kind`, migrated and seeded; None (said why) when it cannot be had.
    PostgreSQL is a new schema of NEWSBOT_TEST_POSTGRES (see tests/postgres.py)."""
    if kind == "SQLite":
        db = str(tmp / f"bench-{time.monotonic_ns()}.db")
        NewsDesk.open(Settings(db=db)).close()
        yield db
        return
    reason = postgres.unavailable()
    if reason is not None:
        print(f"PostgreSQL rows left out: {reason}", file=sys.stderr)
        yield None
        return
    with postgres.fresh_schema() as url:
        NewsDesk.open(Settings(db=url)).close()
        yield url


async def bench(args: argparse.Namespace) -> int:
    counts = [int(n) for n in args.replicas.split(",") if n]
    plans = [("SQLite", 1)] + [("PostgreSQL", n) for n in counts]
    answers: list[Row] = []
    broadcasts: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for kind, n in plans:
            label = f"{n} replica{'s' if n > 1 else ''}, {kind}"
            if not args.skip_answers:
                with fresh(kind, tmp) as db:
                    if db is not None:
                        answers.append(await answer_load(label, db, n, args, tmp))
            with fresh(kind, tmp) as db:
                if db is not None:
                    broadcasts.append(await broadcast(label, db, n, args.chats, tmp))
    if answers:
        print_answers(args, answers)
    print_broadcasts(args, broadcasts)
    return 0


async def answer_load(label: str, db: str, n: int, args: argparse.Namespace, tmp: Path) -> Row:
    async with BotApiServer() as server:
        command = (*SELF, "--serve-replica", "--no-limits")
        async with replicas(server, db, n, tmp, command=command) as (group, _):
            chats = [server.private_chat(server.user(f"User {i}")) for i in range(args.concurrency)]
            await closed_loop(server, chats, 2)  # warm-up: every replica answers once or more
            pids = [r.process.pid for r in group if r.process is not None]
            cpu0 = sum(cpu_seconds(pid) for pid in pids)
            started = time.perf_counter()
            latencies = await closed_loop(server, chats, args.questions)
            elapsed = time.perf_counter() - started
            cpu = sum(cpu_seconds(pid) for pid in pids) - cpu0
        errors = len([c for c in server.calls if c.status != 200])
    return Row(label, len(latencies), elapsed, cpu, latencies, errors)


async def closed_loop(server: BotApiServer, chats: list[Chat], rounds: int) -> list[float]:
    async def user(index: int) -> list[float]:
        chat, latencies = chats[index], []
        for turn in range(rounds):
            asked = await chat.send(QUESTIONS[(index + turn) % len(QUESTIONS)])
            await server.wait_for_messages(chat.id, timeout=60)
            latencies.append(server.sent_times(chat.id)[-1] - asked.at)
        return latencies

    per_user = await asyncio.gather(*(user(i) for i in range(len(chats))))
    return [latency for latencies in per_user for latency in latencies]


async def broadcast(label: str, db: str, n: int, chats_n: int, tmp: Path) -> Row:
    async with BotApiServer(messages_per_second=30) as server:
        chats = [server.private_chat(server.user(f"Reader {i}")) for i in range(chats_n)]
        due = (datetime.now(UTC) - timedelta(minutes=2)).strftime("%H:%M")
        desk = NewsDesk.open(Settings(db=db))
        try:
            for chat in chats:
                desk.digests.subscribe(chat.id, due, "UTC")
            command = (*SELF, "--serve-replica")
            async with replicas(server, db, n, tmp, command=command) as (group, _):
                pids = [r.process.pid for r in group if r.process is not None]
                cpu0 = sum(cpu_seconds(pid) for pid in pids)
                deadline = time.monotonic() + chats_n / 10 + 120
                while time.monotonic() < deadline:
                    states = Counter(state for _, _, state in desk.digests.deliveries())
                    if states["sent"] >= chats_n:
                        break
                    await asyncio.sleep(0.2)
                cpu = sum(cpu_seconds(pid) for pid in pids) - cpu0
        finally:
            desk.close()
        sends = [c for c in server.calls if c.method == "sendMessage"]
        ok = [c.at for c in sends if c.status == 200]
        floods = sum(1 for c in sends if c.status == 429)
        per_chat = Counter(c.chat_id for c in sends if c.status == 200)
        duplicates = sum(1 for v in per_chat.values() if v > 1)
        elapsed = (max(ok) - min(ok)) if len(ok) > 1 else float("nan")
        busiest = busiest_second(ok)
        return Row(label, len(per_chat), elapsed, cpu, [], floods, duplicates, busiest)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process `pid` so far; 0 where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


def print_answers(args: argparse.Namespace, rows: list[Row]) -> None:
    print(
        f"\nanswers: closed loop, {args.concurrency} users x {args.questions} questions, "
        "flood limits off\n"
    )
    print("| replicas | answers | answers/s | p50 ms | p99 ms | replica CPU ms/answer | errors |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for r in rows:
        print(
            f"| {r.label} | {r.count} | {r.count / r.elapsed:.0f} | "
            f"{percentile(r.latencies, 50) * 1000:.0f} | "
            f"{percentile(r.latencies, 99) * 1000:.0f} | "
            f"{r.cpu / max(r.count, 1) * 1000:.1f} | {r.errors} |"
        )


def print_broadcasts(args: argparse.Namespace, rows: list[Row]) -> None:
    print(
        f"\nbroadcast: {args.chats} digests due at once, production limiter, server enforcing "
        "at most 30 messages in any second\n"
    )
    print(
        "| replicas | chats reached | messages/s | busiest second | 429s | duplicates "
        "| replica CPU s |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|")
    for r in rows:
        print(
            f"| {r.label} | {r.count} | {r.count / r.elapsed:.1f} | {r.busiest} | {r.errors} | "
            f"{r.duplicates} | {r.cpu:.1f} |"
        )


if __name__ == "__main__":
    raise SystemExit(main())
