"""The soak engine: the real bot process under a mixed load of simulated users (see
benchmarks/soak.py for what it does and reports; tests/test_soak.py runs a short one)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.botapi import BotApiServer, Chat, Posted

ROOT = Path(__file__).resolve().parent.parent

QUESTIONS = [
    "Al-Hol camp",
    "Who visited Iraq?",
    "Pezeshkian visit Baghdad",
    "What happened to Soleimani?",
    "how many Iraqis returned from Syria",
    "Iraq football results",  # nothing found: did-you-mean buttons
    "irann presdent visit",  # typos
    "harbour news",  # the feed's articles
    # hostile ones: markup, entities, emoji, right-to-left, invisible, long, punctuation
    "<b>Iraq</b> & <script>alert(1)</script> &amp; &#0; &lt;",
    "🇮🇶🔥 Iraq?? 😀😀😀",
    "من زار العراق؟",
    "\u200b\u200e\u202e Iraq \u2066",
    "?!?!…",
    "Iraq " * 800,
]
INLINE = ["", "Iraq", "Al-Hol", "<i>", "من زار", "x" * 256]
COMMANDS = ["/start", "/help", "/headlines 5", "/headlines 20", "/settings", "/ask", "/nonsense"]
# (action, weight): what a user does next.
ACTIONS = [
    ("question", 40),
    ("press", 16),
    ("inline", 10),
    ("command", 8),
    ("group", 7),
    ("unsupported", 10),
    ("edit", 6),
    ("channel", 3),
]
ERROR_RECORD = re.compile(r"^\S+ \S+ (ERROR|CRITICAL) ", re.MULTILINE)


@dataclass
class Config:
    users: int = 1000
    seconds: float = 600.0
    rate: float = 20.0  # user actions per second
    groups: int = 10
    subscribers: float = 0.3  # share of users with a daily digest
    broadcast_in: float = 120.0  # seconds from the start to the digest time (0: due now)
    drain: float = 120.0  # seconds the bot gets to catch up after the load
    seed: int = 7


@dataclass
class Report:
    """What a soak measured; `broken` lists the invariants that did not hold."""

    seconds: float = 0.0  # of load, from the first subscription to the last action
    drained: float = 0.0  # seconds the bot then took to answer what was still owed
    actions: Counter[str] = field(default_factory=Counter)
    updates: int = 0
    questions: int = 0
    answered: int = 0
    presses: int = 0
    inline_queries: int = 0
    unanswered_presses: int = 0
    unanswered_inline: int = 0
    subscribers: int = 0
    digests: int = 0
    api_errors: Counter[str] = field(default_factory=Counter)
    error_records: int = 0
    tracebacks: int = 0
    first_errors: list[str] = field(default_factory=list)
    rss_mb: dict[str, float] = field(default_factory=dict)
    broken: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------- the soak


async def soak(config: Config, workdir: Path) -> Report:
    """Run one soak in `workdir` (store, settings, the bot's log in bot.log)."""
    report = Report()
    server = BotApiServer(
        messages_per_second=30, messages_per_minute_per_group=20, ignore_allowed_updates=True
    )
    async with server, feed_server() as feed_url, bot_process(server, workdir, feed_url) as pid:
        users = Users(server, config, report)
        await users.wait_until_up()
        memory = asyncio.create_task(sample_rss(pid, report))
        started = time.monotonic()
        await users.load(started)
        report.seconds = time.monotonic() - started
        await users.drain(config.drain)
        report.drained = time.monotonic() - started - report.seconds
        memory.cancel()
        report.rss_mb["end"] = rss_mb(pid)
    users.tally()
    read_log(workdir / "bot.log", report)
    judge(report)
    return report


@contextlib.asynccontextmanager
async def feed_server() -> AsyncIterator[str]:
    """An RSS feed on 127.0.0.1 that gains one item at every request (last 30 kept)."""
    served = 0

    async def feed(request: web.Request) -> web.Response:
        nonlocal served
        served += 1
        now = datetime.now(UTC)
        items = []
        for n in range(max(1, served - 29), served + 1):
            items.append(
                f"<item><title>Harbour news {n}: ferry timetable changes</title>"
                f"<link>https://harbour.example/news/{n}</link><guid>harbour-{n}</guid>"
                f"<pubDate>{format_datetime(now - timedelta(minutes=served - n))}</pubDate>"
                f"<description>&lt;p&gt;The harbour office announced change {n} to the "
                f"ferry timetable on Monday.&lt;/p&gt;</description></item>"
            )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            "<title>Harbour Times</title><link>https://harbour.example/</link>"
            f"{''.join(items)}</channel></rss>"
        )
        return web.Response(text=body, content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/feed.xml", feed)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = int(runner.addresses[0][1])
    try:
        yield f"http://127.0.0.1:{port}/feed.xml"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def bot_process(server: BotApiServer, workdir: Path, feed_url: str) -> AsyncIterator[int]:
    """`python -m bot run` against `server`, logging to workdir/bot.log; yields its pid."""
    config = workdir / "newsbot.toml"
    config.write_text(
        'log_level = "INFO"\n'
        f'[[feeds]]\nurl = "{feed_url}"\nrefresh_minutes = 1\n'
        "[digest]\ngroup_admins_only = false\n"
    )
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": server.token,
        "TELEGRAM_API_BASE_URL": server.base_url,
        "NEWSBOT_DB": str(workdir / "soak.db"),
        "NEWSBOT_CONFIG": str(config),
        "PTB_TIMEDELTA": "true",
    }
    with (workdir / "bot.log").open("wb") as log:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=env, cwd=ROOT, stderr=log, stdout=log
        )
        try:
            yield child.pid
        finally:
            if child.returncode is None:
                child.terminate()  # run_polling stops cleanly on SIGTERM
                try:
                    await asyncio.wait_for(child.wait(), 30)
                except TimeoutError:
                    child.kill()
                    await child.wait()


class Users:
    """The simulated users: who they are, what they did, and what they are still owed."""

    def __init__(self, server: BotApiServer, config: Config, report: Report) -> None:
        self.server, self.config, self.report = server, config, report
        self.random = random.Random(config.seed)
        people = [server.user(f"User {n}") for n in range(config.users)]
        self.chats = [server.private_chat(user) for user in people]
        self.groups = [
            server.group(f"Readers {n}", self.random.sample(people, min(5, len(people))))
            for n in range(config.groups)
        ]
        self.news_channel = server.channel()
        self.questions: list[tuple[int, int]] = []  # (chat id, message id)
        self.last: dict[int, Posted] = {}  # each chat's last text message

    async def wait_until_up(self) -> None:
        first = self.chats[0]
        await first.send("/start")
        await self.server.wait_for_messages(first.id, timeout=120)

    async def load(self, started: float) -> None:
        """Subscribe a share of the users, then act at `rate` until the time is up."""
        await self.subscribe(started)
        names = [name for name, _ in ACTIONS]
        weights = [weight for _, weight in ACTIONS]
        step = 1 / self.config.rate
        n = 0
        while (elapsed := time.monotonic() - started) < self.config.seconds:
            n += 1
            delay = n * step - elapsed
            if delay > 0:
                await asyncio.sleep(delay)
            action = self.random.choices(names, weights)[0]
            await getattr(self, action)()
            self.report.actions[action] += 1

    async def subscribe(self, started: float) -> None:
        """A share of the users subscribe, paced like the rest, to one digest time."""
        now = datetime.now(UTC)
        if self.config.broadcast_in > 0:
            when = now + timedelta(seconds=self.config.broadcast_in + 59)
        else:
            when = now - timedelta(minutes=1)  # due already: sent at once
        at = when.strftime("%H:%M")
        count = int(len(self.chats) * self.config.subscribers)
        for chat in self.random.sample(self.chats, count):
            await chat.send(f"/subscribe {at} UTC")
            self.report.actions["subscribe"] += 1
            await asyncio.sleep(1 / self.config.rate)
        self.report.subscribers = count

    def _private(self) -> Chat:
        return self.random.choice(self.chats)

    async def question(self) -> None:
        chat = self._private()
        posted = await chat.send(self.random.choice(QUESTIONS))
        self.questions.append((chat.id, posted.message_id))
        self.last[chat.id] = posted

    async def group(self) -> None:
        group = self.random.choice(self.groups)
        user = self.random.choice(group.members)
        posted = await group.send(f"/ask {self.random.choice(QUESTIONS)[:200]}", user=user)
        self.questions.append((group.id, posted.message_id))

    async def press(self) -> None:
        """A button on the newest bot message with callback buttons in some chat."""
        chat = self._private()
        for sent in reversed(self.server.sent(chat.id)[-5:]):
            current = self.server.message(chat.id, sent["message_id"])
            rows = current.get("reply_markup", {}).get("inline_keyboard", [])
            data = [b["callback_data"] for row in rows for b in row if "callback_data" in b]
            if data:
                deleted = self.random.random() < 1 / 3
                with contextlib.suppress(LookupError):  # edited meanwhile: no such button
                    await chat.press(current, self.random.choice(data), question_deleted=deleted)
                    self.report.presses += 1
                return
        await self.question()  # nothing to press yet: ask instead

    async def inline(self) -> None:
        self.server.inline_query(self._private().members[0], self.random.choice(INLINE))
        self.report.inline_queries += 1

    async def command(self) -> None:
        await self._private().send(self.random.choice(COMMANDS))

    async def unsupported(self) -> None:
        chat = self._private()
        kind = self.random.randrange(6)
        if kind == 0:
            await chat.send_sticker()
        elif kind == 1:
            await chat.send_photo()
        elif kind == 2:
            voice = {"file_id": "AwACvoice", "file_unique_id": "AgADvoice", "duration": 3}
            await chat.send(None, voice=voice)
        elif kind == 3:
            await chat.send(None, poll=_poll())
        elif kind == 4:
            await chat.send(None, dice={"emoji": "🎲", "value": 4})
        else:
            await chat.send(None)  # a message with no text and nothing else

    async def edit(self) -> None:
        chat = self._private()
        posted = self.last.get(chat.id)
        if posted is None:
            await self.question()
            return
        await chat.edit(posted, self.random.choice(QUESTIONS))

    async def channel(self) -> None:
        await self.news_channel.send(self.random.choice(QUESTIONS))

    async def drain(self, seconds: float) -> None:
        """Wait until every question, button and inline query is answered and every update
        fetched, or `seconds`.

        An update still queued at the stop (an edit or a sticker sent in the last second) would
        reach a getUpdates in flight as the bot stops; PTB then logs it at CRITICAL and leaves it
        for the next start. That is the shutdown's behaviour, not the load's, so the soak stops
        only once Telegram's queue is empty.
        """
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            callbacks, inline = self.server.unanswered()
            answered = self._answered() == len(self.questions)
            if not callbacks and not inline and answered and not self.server.pending_updates:
                return
            await asyncio.sleep(1)

    def _answered(self) -> int:
        replied = {
            (chat_id, message["reply_to_message"]["message_id"])
            for chat_id in {chat_id for chat_id, _ in self.questions}
            for message in self.server.sent(chat_id)
            if "reply_to_message" in message
        }
        return sum(question in replied for question in self.questions)

    def tally(self) -> None:
        report, server = self.report, self.server
        report.questions, report.answered = len(self.questions), self._answered()
        callbacks, inline = server.unanswered()
        report.unanswered_presses, report.unanswered_inline = len(callbacks), len(inline)
        report.updates = sum(report.actions.values()) + 1  # and the first /start
        report.digests = sum(
            1
            for chat in self.chats
            for message in server.sent(chat.id)
            if message["text"].startswith("Your news digest")
        )
        for call in server.calls:
            if call.status != 200:
                report.api_errors[f"{call.method} {call.status}"] += 1


def _poll() -> dict[str, Any]:
    return {
        "id": "5123",
        "question": "Which story?",
        "options": [
            {"persistent_id": "0", "text": "A", "voter_count": 0},
            {"persistent_id": "1", "text": "B", "voter_count": 0},
        ],
        "total_voter_count": 0,
        "is_closed": False,
        "is_anonymous": True,
        "type": "regular",
        "allows_multiple_answers": False,
        "allows_revoting": False,  # Bot API 9.6
        "members_only": False,  # Bot API 10.0
    }


# ---------------------------------------------------------------------------- measuring


def rss_mb(pid: int) -> float:
    """Resident memory of process `pid` in MB; 0 where /proc is missing."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, flags=re.MULTILINE)
    return int(match[1]) / 1024 if match else 0.0


async def sample_rss(pid: int, report: Report) -> None:
    """RSS now (the bot has answered), a minute in, and the peak every 5 s until cancelled."""
    started = time.monotonic()
    report.rss_mb["start"] = report.rss_mb["peak"] = rss_mb(pid)
    while True:
        await asyncio.sleep(5)
        now = rss_mb(pid)
        report.rss_mb["peak"] = max(report.rss_mb["peak"], now)
        if "1 min" not in report.rss_mb and time.monotonic() - started >= 60:
            report.rss_mb["1 min"] = now


def read_log(path: Path, report: Report) -> None:
    text = path.read_text(errors="replace")
    records = ERROR_RECORD.findall(text)
    report.error_records = len(records)
    report.tracebacks = text.count("Traceback (most recent call last)")
    report.first_errors = [line for line in text.splitlines() if ERROR_RECORD.match(line + "\n")][
        :5
    ]


def judge(report: Report) -> None:
    if report.answered < report.questions:
        report.broken.append(f"{report.questions - report.answered} questions unanswered")
    if report.unanswered_presses:
        report.broken.append(f"{report.unanswered_presses} button presses unanswered")
    if report.unanswered_inline:
        report.broken.append(f"{report.unanswered_inline} inline queries unanswered")
    if report.error_records or report.tracebacks:
        report.broken.append(
            f"{report.error_records} ERROR records, {report.tracebacks} tracebacks in the log"
        )
    refused = {k: v for k, v in report.api_errors.items() if not k.endswith(" 429")}
    if refused:
        report.broken.append(f"Bot API refused requests: {refused}")
    if report.subscribers and report.digests < report.subscribers:
        report.broken.append(f"{report.digests} digests for {report.subscribers} subscribers")
