"""Soak: the real bot under a mixed load from many simulated users, with feeds and digests.

Run by hand from the project root:

    python benchmarks/soak.py [--users 1000] [--minutes 10] [--rate 20] [--groups 10]
                              [--subscribers 0.3] [--broadcast-in 120]

The bot is `python -m bot run` in its own process (polling, the production rate limiter and
flood limits, a fresh SQLite store seeded with the bundled articles), talking over HTTP to
tests.botapi's server in this process, which enforces Telegram's flood limits (30 messages/s,
20 a minute per group) and, harsher than Telegram, delivers every kind of update although
the bot asks only for messages, buttons and inline queries. A feed on 127.0.0.1 gains an item
at every request and is refreshed each minute; a share of the users subscribe to a daily
digest due `--broadcast-in` seconds after the start (0: due at once), so a broadcast runs
while questions keep coming.

Users (private chats, and groups where they use /ask) send questions, hostile ones included;
press More/Back/feedback/did-you-mean buttons, a third of the time on a card whose question was
deleted (no reply_to_message); type inline queries; edit their messages; send voice, stickers,
polls, dice, photos without caption and messages with no text; a channel posts. After the
load, the bot gets `--drain` seconds to catch up.

Reported: updates/s, questions asked and answered, buttons and inline queries answered,
digests delivered, Bot API errors, ERROR records and tracebacks in the bot's log, and the
bot's RSS at start (after its first answer), one minute in, at the end and at its peak.
Exit status 1 when an invariant breaks (an unanswered question, button or inline query, an
error record, a refused request other than 429).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.soak import Config, Report, soak  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0, help="user actions per second")
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--subscribers", type=float, default=0.3, help="share with a digest")
    parser.add_argument("--broadcast-in", type=float, default=120.0, help="seconds; 0: now")
    parser.add_argument("--drain", type=float, default=120.0, help="seconds to catch up")
    parser.add_argument("--log", type=Path, help="keep the bot's log here")
    args = parser.parse_args(argv)
    config = Config(
        users=args.users,
        seconds=args.minutes * 60,
        rate=args.rate,
        groups=args.groups,
        subscribers=args.subscribers,
        broadcast_in=args.broadcast_in,
        drain=args.drain,
    )
    with tempfile.TemporaryDirectory(prefix="newsbot-soak-") as tmp:
        report = asyncio.run(soak(config, Path(tmp)))
        if args.log:
            args.log.write_text((Path(tmp) / "bot.log").read_text(errors="replace"))
    print_report(config, report)
    return 1 if report.broken else 0


def print_report(config: Config, report: Report) -> None:
    print(
        f"soak: {config.users} users, {config.seconds / 60:g} min at {config.rate:g} actions/s, "
        f"{config.groups} groups, {os.cpu_count()} CPUs"
    )
    print()
    rows = [
        ("updates sent (all kinds)", f"{report.updates}"),
        ("updates/s during the load", f"{report.updates / report.seconds:.1f}"),
        ("seconds to answer what was owed after the load", f"{report.drained:.1f}"),
        ("actions", ", ".join(f"{k} {v}" for k, v in sorted(report.actions.items()))),
        ("questions answered / asked", f"{report.answered} / {report.questions}"),
        ("button presses unanswered / made", f"{report.unanswered_presses} / {report.presses}"),
        (
            "inline queries unanswered / made",
            f"{report.unanswered_inline} / {report.inline_queries}",
        ),
        ("digests delivered / subscribers", f"{report.digests} / {report.subscribers}"),
        ("Bot API errors", ", ".join(f"{k}: {v}" for k, v in report.api_errors.items()) or "0"),
        ("ERROR records / tracebacks in the log", f"{report.error_records} / {report.tracebacks}"),
        (
            "bot RSS MB: start, 1 min, end, peak",
            ", ".join(
                f"{report.rss_mb[k]:.0f}" if k in report.rss_mb else "-"
                for k in ("start", "1 min", "end", "peak")
            ),
        ),
    ]
    print("| measure | value |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    for line in report.first_errors:
        print(f"log: {line}")
    print()
    print("invariants: " + ("all held" if not report.broken else "; ".join(report.broken)))


if __name__ == "__main__":
    raise SystemExit(main())
