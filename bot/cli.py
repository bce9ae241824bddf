"""The `newsbot` command line: a thin adapter over NewsDesk (ingest, ask, headlines, eval, run)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from bot import feeds_cli, store_admin
from bot.errors import NewsbotError
from bot.models import Answer, Result
from bot.service import NewsDesk, end_of_day, store_health
from bot.settings import CONFIG_ENV, Settings, load_settings
from bot.tables.connection import is_postgres

log = logging.getLogger(__name__)


class UsageError(NewsbotError):
    """A malformed argument or input line."""


def parse_day(text: str) -> datetime:
    """'YYYY-MM-DD' -> the end of that day in UTC (articles of that day count as known)."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"not a date (YYYY-MM-DD): {text!r}") from None
    return end_of_day(day)


def _day_arg(text: str) -> datetime:
    try:
        return parse_day(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _day_start(text: str) -> datetime:
    """'YYYY-MM-DD' -> the start of that day in UTC (its articles count as since it)."""
    try:
        return datetime.combine(date.fromisoformat(text.strip()), datetime.min.time(), UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _day_end(text: str) -> datetime:
    """'YYYY-MM-DD' -> the end of that day in UTC (the start of the next one)."""
    return _day_start(text) + timedelta(days=1)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsbot", description="Ask questions about the news, here or in Telegram."
    )
    parser.add_argument(
        "--db",
        help="the store: a SQLite file or a postgresql:// URL (default: $NEWSBOT_DB or data dir)",
    )
    parser.add_argument("--config", type=Path, help=f"TOML settings file (or ${CONFIG_ENV})")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = commands.add_parser("ingest", help="add articles from files, directories or feeds")
    ingest.add_argument("paths", nargs="+", metavar="PATH_OR_URL")

    ask = commands.add_parser("ask", help="answer a question (or one per line from stdin)")
    ask.add_argument("question", nargs="?", help="the question; omit to read stdin")
    ask.add_argument("--json", action="store_true", help="one JSON object per question")
    ask.add_argument("--top", type=_positive, default=None, help="results per question")
    ask.add_argument("--as-of", type=_day_arg, help="answer as of this date (YYYY-MM-DD)")

    headlines = commands.add_parser("headlines", help="latest headlines, newest first")
    headlines.add_argument("--limit", type=_positive, default=10)
    headlines.add_argument("--since", type=_day_arg, help="only since this date (YYYY-MM-DD)")

    stories = commands.add_parser("stories", help="top stories: one event, every source")
    stories.add_argument("--limit", type=_positive, default=10)
    stories.add_argument(
        "--since", type=_day_start, help="stories with news since this date (YYYY-MM-DD)"
    )
    stories.add_argument(
        "--until", type=_day_end, help="as they stood at the end of this date (YYYY-MM-DD)"
    )
    stories.add_argument("--json", action="store_true", help="one JSON object per story")

    evaluate = commands.add_parser("eval", help="score retrieval on a questions file")
    evaluate.add_argument("questions", type=Path, metavar="QUESTIONS.jsonl")
    evaluate.add_argument("--typos", type=float, default=0.0, help="share of words mistyped")
    evaluate.add_argument("--no-dates", action="store_true", help="ignore each as_of date")
    evaluate.add_argument("--seed", type=int, default=13, help="random seed for typos")

    commands.add_parser("run", help="start the Telegram bot (needs TELEGRAM_BOT_TOKEN)")
    push = commands.add_parser("push", help="send due daily digests now (operators)")
    push.add_argument("--now", action="store_true", help="today's digest even before its time")
    push.add_argument("--chat", type=int, metavar="ID", help="only this chat")

    feedback = commands.add_parser("feedback", help="export 👍/👎 verdicts on answer cards")
    feedback.add_argument("--json", action="store_true", help="one JSON object per verdict")
    feedback.add_argument("--with-chats", action="store_true", help="include chat ids")

    feeds_cli.add_parser(commands)
    commands.add_parser("check", help="health check: the store opens and answers (exit 0)")
    commands.add_parser("migrate", help="bring the store's schema up to date (run also does)")
    copy = commands.add_parser(
        "copy", help="copy a store into a new one (say SQLite into PostgreSQL), verified"
    )
    copy.add_argument("source", metavar="SOURCE", help="a SQLite file (or a postgresql:// URL)")
    copy.add_argument("target", metavar="TARGET", help="a postgresql:// URL (or a SQLite file)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        if args.config is not None:
            os.environ[CONFIG_ENV] = str(args.config)
        settings = load_settings(db=args.db)
        return COMMANDS[args.command](settings, args)
    except NewsbotError as exc:
        print(f"newsbot: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def cmd_ingest(settings: Settings, args: argparse.Namespace) -> int:
    desk = NewsDesk.open(settings, seed=False)
    try:
        report = desk.ingest(args.paths)
    finally:
        desk.close()
    for problem in report.problems:
        where = f"{problem.path}:{problem.line}" if problem.line else problem.path
        print(f"{where}: {problem.reason}", file=sys.stderr)
    print(
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"failed {report.failed}"
    )
    return 1 if report.failed else 0


def cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    desk = NewsDesk.open(settings)
    try:
        if args.question is not None:
            questions: Iterator[tuple[str, datetime | None]] = iter([(args.question, args.as_of)])
        else:
            questions = _stdin_questions(sys.stdin, args.as_of)
        for number, (question, as_of) in enumerate(questions):
            answer = desk.ask(question, as_of=as_of, top=args.top)
            if args.json:
                print(json.dumps(answer_json(answer), ensure_ascii=False), flush=True)
            else:
                if number:
                    print()
                print(render_answer(answer, bold=sys.stdout.isatty()), flush=True)
    finally:
        desk.close()
    return 0


def _stdin_questions(
    stream: TextIO, default_as_of: datetime | None
) -> Iterator[tuple[str, datetime | None]]:
    """Plain lines, or JSON objects {"question": ..., "as_of": "YYYY-MM-DD"}; blanks skipped."""
    for number, line in enumerate(stream, start=1):
        text = line.strip()
        if not text:
            continue
        if not text.startswith("{"):
            yield text, default_as_of
            continue
        try:
            record = json.loads(text)
            question = record["question"]
            as_of = record.get("as_of")
            if not isinstance(question, str):
                raise TypeError("question must be a string")
            yield question, parse_day(as_of) if as_of else default_as_of
        except (ValueError, KeyError, TypeError, UsageError) as exc:
            raise UsageError(f"stdin line {number}: not a question: {exc}") from None


def answer_json(answer: Answer) -> dict[str, Any]:
    """The JSON contract of `newsbot ask --json`."""
    return {
        "question": answer.question,
        "found": answer.found,
        "results": [
            {
                "article_id": r.article_id,
                "headline": r.headline,
                "excerpt": r.excerpt,
                "published": r.published.isoformat() if r.published else None,
                "url": r.url,
                "score": r.score,
            }
            for r in answer.results
        ],
    }


def _marked(result: Result, bold: bool) -> str:
    if not bold:
        return result.excerpt
    out, last = [], 0
    for start, end in result.marks:
        out += [result.excerpt[last:start], "\033[1m", result.excerpt[start:end], "\033[0m"]
        last = end
    out.append(result.excerpt[last:])
    return "".join(out)


def _dated(result: Result) -> str:
    parts = [result.published.strftime("%d %b %Y")] if result.published else []
    parts += [p for p in (result.source, result.url) if p]
    return " · ".join(parts)


def render_answer(answer: Answer, *, bold: bool = False) -> str:
    """A terminal rendering: best result with its excerpt, then the next-best headlines."""
    if not answer.found:
        lines = ["Nothing found for that question."]
        if answer.results:
            lines.append("Did you mean:")
            lines += [f"  - {r.headline}" for r in answer.results[:3]]
        return "\n".join(lines)
    best, *rest = answer.results
    lines = [best.headline]
    if meta := _dated(best):
        lines.append(meta)
    lines += ["", _marked(best, bold)]
    if rest:
        lines += ["", "Also:"]
        lines += [f"  {n}. {r.headline}" for n, r in enumerate(rest, start=2)]
    return "\n".join(lines)


def cmd_headlines(settings: Settings, args: argparse.Namespace) -> int:
    desk = NewsDesk.open(settings)
    try:
        for article in desk.headlines(args.limit, args.since):
            day = article.published.strftime("%Y-%m-%d") if article.published else "undated"
            print(f"{day}  {article.headline}")
    finally:
        desk.close()
    return 0


def cmd_stories(settings: Settings, args: argparse.Namespace) -> int:
    desk = NewsDesk.open(settings)
    try:
        for story in desk.stories(since=args.since, until=args.until, limit=args.limit):
            if args.json:
                print(story.json_line())
                continue
            sources = ", ".join(story.sources) or "unknown source"
            print(f"{story.first_seen:%Y-%m-%d}  {story.headline}")
            print(
                f"            {len(story.sources)} sources: {sources}"
                if len(story.sources) > 1
                else f"            {sources}"
            )
            print(
                f"            score {story.score:.3f}, story {story.story_id}: "
                + ", ".join(story.article_ids)
            )
    finally:
        desk.close()
    return 0


def cmd_eval(settings: Settings, args: argparse.Namespace) -> int:
    from bot.evaluation import evaluate, load_questions

    questions = load_questions(args.questions)
    desk = NewsDesk.open(settings)
    try:
        report = evaluate(
            desk, questions, typos=args.typos, dates=not args.no_dates, seed=args.seed
        )
    finally:
        desk.close()
    print(report.table())
    return 0


def cmd_push(settings: Settings, args: argparse.Namespace) -> int:
    """Send due digests through the Bot API, exactly once per chat and local day as always."""
    import asyncio

    from bot.tg.app import build_bot, share_rate_budget
    from bot.tg.push import push_due

    async def push(desk: NewsDesk) -> dict[str, int]:
        async with build_bot(settings) as bot:
            await share_rate_budget(bot, desk)  # with any replicas running on this store
            now = datetime.now(UTC)
            return await push_due(bot, desk, now, chat_id=args.chat, force=args.now)

    desk = NewsDesk.open(settings)
    try:
        counts = asyncio.run(push(desk))
    finally:
        desk.close()
    if args.chat is not None and not counts:
        raise UsageError(f"chat {args.chat} has no active subscription")
    print(
        ", ".join(f"{outcome} {n}" for outcome, n in sorted(counts.items())) or "no subscriptions"
    )
    return 1 if counts.get("failed") else 0


def cmd_feedback(settings: Settings, args: argparse.Namespace) -> int:
    """Verdicts oldest first: question, article, rank shown, helpful; chat ids on request."""
    desk = NewsDesk.open(settings, seed=False)
    try:
        verdicts = desk.store.feedback()
    finally:
        desk.close()
    for verdict in verdicts:
        if not args.with_chats:
            verdict.pop("chat_id")
        if args.json:
            print(json.dumps(verdict, ensure_ascii=False))
        else:
            rank = "-" if verdict["rank"] is None else verdict["rank"] + 1
            mark = "+" if verdict["helpful"] else "-"
            print(f"{mark} #{rank} {verdict['article_id']}  {verdict['question']}")
    return 0


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    print(f"ok: {store_health(settings.db)} articles in {store_admin.describe(settings.db)}")
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    found, now = store_admin.migrate(settings.db)
    where = store_admin.describe(settings.db)
    if found == now:
        print(f"{where}: schema version {now}, up to date")
    else:
        print(f"{where}: schema version {found} -> {now}")
    return 0


def cmd_copy(settings: Settings, args: argparse.Namespace) -> int:
    source = _location(args.source)
    target = _location(args.target)
    report = store_admin.copy(source, target)
    print(f"{'table':<16} {'rows':>9} {'copied':>9}  {'checksum':<16}  {'copied':<16}")
    for table in report:
        print(
            f"{table.table:<16} {table.source_rows:>9} {table.target_rows:>9}  "
            f"{table.source_checksum:<16}  {table.target_checksum:<16}"
            f"{'' if table.ok else '  MISMATCH'}"
        )
    bad = [table.table for table in report if not table.ok]
    if bad:
        print(f"newsbot: copy differs in {', '.join(bad)}", file=sys.stderr)
        return 1
    total = sum(table.source_rows for table in report)
    print(
        f"ok: {total} rows in {len(report)} tables copied from "
        f"{store_admin.describe(source)} to {store_admin.describe(target)}"
    )
    return 0


def _location(value: str) -> Path | str:
    return value if is_postgres(value) else Path(value).expanduser()


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.tg.app import run

    if not args.verbose:  # a service logs at its configured level; -v forces INFO
        logging.getLogger().setLevel(settings.log_level.upper())

    # The store first: unreachable, or a failed migration, is one line before Telegram is
    # contacted; replicas starting together migrate once (under the store's migration lock).
    store_admin.migrate(settings.db)
    run(settings)
    return 0


COMMANDS = {
    "ingest": cmd_ingest,
    "ask": cmd_ask,
    "headlines": cmd_headlines,
    "stories": cmd_stories,
    "eval": cmd_eval,
    "run": cmd_run,
    "check": cmd_check,
    "migrate": cmd_migrate,
    "copy": cmd_copy,
    "feeds": feeds_cli.cmd_feeds,
    "feedback": cmd_feedback,
    "push": cmd_push,
}
