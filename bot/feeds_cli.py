"""`newsbot feeds ...`: list, add, remove, import and export feeds (thin, over FeedDesk)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.errors import NewsbotError
from bot.feed_desk import FeedAdded, FeedRemoved, ImportLine, counts, items
from bot.models import FeedSource, FeedStatus
from bot.service import NewsDesk
from bot.settings import Settings


def add_parser(commands: Any) -> None:
    """`feeds` and its subcommands, on the top-level subparsers `commands`."""
    feeds = commands.add_parser(
        "feeds", help="list feeds; add, remove, import or export them (see `feeds -h`)"
    )
    actions = feeds.add_subparsers(dest="feeds_command", metavar="ACTION")
    add = actions.add_parser("add", help="add a feed (or a site whose page links to one)")
    add.add_argument("url", metavar="URL")
    add.add_argument("--name", help="shown as the articles' source (default: the feed's title)")
    add.add_argument("--refresh-minutes", type=_positive, help="default: feed_refresh_minutes")
    add.add_argument("--full-text", action="store_true", help="fetch each article's page")
    remove = actions.add_parser("remove", help="stop refreshing an added feed")
    remove.add_argument("feed", metavar="URL_OR_NAME")
    remove.add_argument("--purge", action="store_true", help="also delete its articles")
    opml = actions.add_parser("import", help="add every feed of an OPML file")
    opml.add_argument("file", type=Path, metavar="FILE.opml")
    actions.add_parser("export", help="every feed as OPML 2.0 on stdout")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def cmd_feeds(settings: Settings, args: argparse.Namespace) -> int:
    desk = NewsDesk.open(settings, seed=False)
    try:
        action = args.feeds_command
        if action == "add":
            added = desk.sources.add(
                args.url,
                name=args.name,
                refresh_minutes=args.refresh_minutes,
                full_text=args.full_text,
            )
            print(render_added(added))
        elif action == "remove":
            print(render_removed(desk.sources.remove(args.feed, purge=args.purge)))
        elif action == "import":
            return _import(desk, args.file)
        elif action == "export":
            sys.stdout.write(desk.sources.export_opml() + "\n")
        else:
            print(render_list(desk.sources.sources(), desk.feeds()))
    finally:
        desk.close()
    return 0


def _import(desk: NewsDesk, path: Path) -> int:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NewsbotError(f"cannot read {path}: {exc.strerror or exc}") from None
    lines = desk.sources.import_opml(data, label=str(path))
    for line in lines:
        print(render_import_line(line), flush=True)
    tally = counts(lines)
    print(f"added {tally['added']}, already present {tally['present']}, failed {tally['failed']}")
    return 1 if tally["failed"] else 0


def render_added(added: FeedAdded) -> str:
    title = added.title or added.source.url
    newest = f"; newest: {added.newest}" if added.newest else ""
    return f"added {title} ({added.source.url}): {items(added.items)}{newest}"


def render_removed(removed: FeedRemoved) -> str:
    url = removed.source.url
    what = f"{removed.title} ({url})" if removed.title else url
    if removed.removed:
        also = f"; kept {removed.kept} that other feeds also carry" if removed.kept else ""
        return f"removed {what} and {removed.removed} of its articles{also}"
    return f"removed {what}; kept its {removed.kept} articles (--purge deletes them)"


def render_import_line(line: ImportLine) -> str:
    label = {"added": "added", "present": "already present", "failed": "failed"}[line.outcome]
    return f"outline {line.number}: {label}: {line.detail or line.url}"


def render_list(sources: list[FeedSource], statuses: list[FeedStatus]) -> str:
    """Every feed: config file's, then added ones, then URLs only ingested once."""
    known = {status.url: status for status in statuses}
    blocks = [render_feed(s.url, known.get(s.url), label=_label(s)) for s in sources]
    listed = {source.url for source in sources}
    blocks += [
        render_feed(url, known[url], label="ingested once, not refreshed")
        for url in sorted(set(known) - listed)
    ]
    if not blocks:
        return "no feeds: `newsbot feeds add URL`, or [[feeds]] in the config file"
    return "\n".join(blocks)


def _label(source: FeedSource) -> str:
    if source.origin == "config":
        return "config file"
    if source.shadowed:
        return "added, but the config file lists it too and wins"
    return f"added {source.added_at:%Y-%m-%d}" if source.added_at else "added"


def render_feed(url: str, status: FeedStatus | None, *, label: str) -> str:
    """One feed in a few lines: name (where it comes from), last success, last error."""

    def when(moment: datetime | None) -> str:
        return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"

    name = (status.name if status else None) or url
    lines = [f"{name} ({label})", f"  url: {url}"]
    if status is None:
        lines.append("  not fetched yet")
        return "\n".join(lines)
    lines.append(
        f"  last success: {when(status.last_success)}; items {status.items}, added {status.added}"
    )
    if status.last_error:
        lines.append(f"  last error: {when(status.last_error_at)}: {status.last_error}")
    return "\n".join(lines)
