"""Telegram markup: the HTML, keyboards, inline results and callback data the bot sends.

This is the only module that knows Telegram's HTML and button formats. Everything from an
article is escaped here. Callback data carries ids and ranks, never objects, so buttons
keep working after a restart:

    m:<rank>                 show result number <rank> (0-based) for the answered question
    o:<article_id>           open the card of one article (did-you-mean, headlines)
    f:<1|0>:<article_id>     feedback on an article: helpful or not
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha1
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
)
from telegram.constants import InlineKeyboardButtonLimit, MessageLimit, ParseMode

from bot.digest import Digest
from bot.models import Answer, Article, FeedStatus, Result, Subscription
from bot.settings import FeedSettings

MAX_MESSAGE = int(MessageLimit.MAX_TEXT_LENGTH)  # 4096 UTF-16 code units, after parsing
MAX_CALLBACK_DATA = int(InlineKeyboardButtonLimit.MAX_CALLBACK_DATA)  # 64 bytes
MAX_HEADLINES = 20
DEFAULT_HEADLINES = 5
MAX_SUGGESTIONS = 3
MAX_INLINE_RESULTS = 10
_HEADLINE_CHARS = 300  # a hostile feed cannot blow up a card
_BUTTON_CHARS = 60
_SUMMARY_CHARS = 120
_DIGEST_SUMMARY_CHARS = 240
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")  # Cc and Cs

COMMANDS = [
    BotCommand("ask", "Ask about the news: /ask who visited Iraq?"),
    BotCommand("headlines", "Latest headlines: /headlines 10"),
    BotCommand("subscribe", "Daily digest: /subscribe 07:30 Asia/Baghdad"),
    BotCommand("unsubscribe", "Stop the daily digest"),
    BotCommand("settings", "Your digest time, timezone and status"),
    BotCommand("help", "How to use this bot"),
    BotCommand("start", "Say hello"),
]
DESCRIPTION = (
    "Ask me about the news and I answer with the article that covers it: headline, date, "
    "and the passage that answers you."
)
SHORT_DESCRIPTION = "Questions about the news, answered from the articles."

# Plain-text notices (callback answers are not HTML).
EXPIRED = "This answer has expired. Please ask again."
NO_MORE = "No more results."
GONE = "That article is no longer available."
THANKS = "Thanks, noted."
SORRY = "Sorry, something went wrong. Please try again."


@dataclass(frozen=True)
class Reply:
    """One message to send: Telegram HTML and an optional inline keyboard."""

    html: str
    keyboard: InlineKeyboardMarkup | None = None


@dataclass(frozen=True)
class Press:
    """A decoded button press. `rank` is set for "more", `article_id` for "open"/"feedback"."""

    action: str  # "more" | "open" | "feedback"
    rank: int | None = None
    article_id: str | None = None
    helpful: bool | None = None


# ---------------------------------------------------------------------------------- texts


def start(first_name: str | None) -> Reply:
    name = f", {escape(first_name)}" if first_name else ""
    return Reply(
        f"Hi{name}! Ask me anything about the news and I will find the article that answers "
        "it.\n\nTry: <i>Who visited Iraq?</i> — or see /help."
    )


def help_text(bot_username: str | None) -> Reply:
    inline = (
        f"\n• Type <code>@{escape(bot_username)} Iraq</code> in any chat." if bot_username else ""
    )
    return Reply(
        "<b>Ask me about the news.</b>\n"
        "• In this chat: just write your question.\n"
        "• In groups: <code>/ask who visited Iraq?</code> or reply to my message.\n"
        f"• <code>/headlines 10</code>: the latest headlines.{inline}\n"
        "\n<b>Daily digest</b>\n"
        "• <code>/subscribe 07:30 Asia/Baghdad</code>: the newest headlines every day at "
        "that time (time and timezone are optional).\n"
        "• Reply to a digest with a question, or <code>/ask 2 what happened?</code> about "
        "its story 2.\n"
        "• /settings shows your digest; /unsubscribe stops it."
    )


def ask_usage() -> Reply:
    return Reply("Ask like this: <code>/ask who visited Iraq?</code>")


def text_only() -> Reply:
    return Reply("I can only read text. Please send your question as a message.")


def sorry() -> Reply:
    return Reply(escape(SORRY))


# ---------------------------------------------------------------------------------- digests


def digest(value: Digest) -> Reply:
    """The daily digest: numbered stories, each headline linked when it has a URL, with one
    line of summary; or a short line when nothing is new. May exceed one message: `split` it."""
    title = f"<b>Your news digest · {value.day.strftime('%d %b %Y')}</b>"
    if not value.items:
        return Reply(f"{title}\nNo new stories since your last digest.")
    lines = [title, ""]
    for item in value.items:
        lines.append(f"{item.number}. {_headline(item.headline, item.url)}")
        summary = _short(_clean(item.summary), _DIGEST_SUMMARY_CHARS)
        if summary:
            lines.append(escape(summary))
        lines.append("")
    lines.append(
        "<i>Reply to this message with a question, or send /ask and a story number, "
        "e.g. /ask 2 what happened?</i>"
    )
    return Reply("\n".join(lines))


def subscribed(subscription: Subscription, next_at: datetime, *, now: bool) -> Reply:
    """The reply to /subscribe: the daily time and when the next digest arrives (local)."""
    first = (
        "Today’s digest is on its way now."
        if now
        else f"Next digest: {escape(_local(next_at, subscription.timezone))}."
    )
    return Reply(
        f"Subscribed: your digest arrives every day at <b>{escape(subscription.at)}</b> "
        f"({escape(subscription.timezone)}).\n{first}\n"
        "Change it with <code>/subscribe HH:MM Area/City</code>; stop it with /unsubscribe."
    )


def unsubscribed(was_active: bool) -> Reply:
    if was_active:
        return Reply("Unsubscribed: no more daily digests. /subscribe brings them back.")
    return Reply("This chat has no daily digest. Start one with /subscribe.")


def digest_settings(subscription: Subscription | None, next_at: datetime | None) -> Reply:
    """/settings: the chat's digest time, timezone and status."""
    if subscription is None:
        return Reply(
            "No daily digest yet. Start one with <code>/subscribe 07:30 Asia/Baghdad</code>."
        )
    status = "active" if subscription.active else "stopped (/subscribe to restart)"
    lines = [
        "<b>Your daily digest</b>",
        f"Time: {escape(subscription.at)}",
        f"Timezone: {escape(subscription.timezone)}",
        f"Status: {status}",
    ]
    if subscription.active and next_at is not None:
        lines.append(f"Next: {escape(_local(next_at, subscription.timezone))}")
    return Reply("\n".join(lines))


def schedule_error(message: str) -> Reply:
    """A time or timezone that does not parse: the core's message and an example."""
    return Reply(
        f"{escape(message)}\nFor example: <code>/subscribe 07:30 Asia/Baghdad</code> "
        "or <code>/subscribe 18:00</code>."
    )


def admins_only() -> Reply:
    return Reply("Only this group’s admins can change its daily digest.")


def feeds(configured: Sequence[FeedSettings], statuses: Sequence[FeedStatus]) -> Reply:
    """/feeds for admins: each feed with its last success, last error and item counts."""
    known = {status.url: status for status in statuses}
    urls = [feed.url for feed in configured]
    urls += sorted(set(known) - set(urls))
    if not urls:
        return Reply("No feeds configured.")
    blocks = []
    for url in urls:
        status = known.get(url)
        name = (status.name if status else None) or url
        lines = [f"<b>{escape(_short(name, _HEADLINE_CHARS))}</b>", escape(url)]
        if status is None:
            lines.append("not fetched yet")
        else:
            lines.append(
                f"last success: {_when(status.last_success)}; items {status.items}, "
                f"added {status.added}"
            )
            if status.last_error:
                error = _short(status.last_error, _SUMMARY_CHARS)
                lines.append(f"last error: {_when(status.last_error_at)}: {escape(error)}")
        blocks.append("\n".join(lines))
    return Reply("\n\n".join(blocks))


def admins_command_only() -> Reply:
    return Reply("Sorry, that command is for the bot’s operators.")


# ---------------------------------------------------------------------------------- answers


def answer(result: Answer, *, rank: int = 0, zone: str = "UTC") -> Reply:
    """The reply to a question: the card of result `rank`, or nothing-found with suggestions.

    Dates show in the chat's timezone `zone` (an IANA name).
    """
    if not result.found or not result.results:
        return nothing_found(result.results)
    rank = max(0, min(rank, len(result.results) - 1))
    return card(result.results[rank], rank=rank, total=len(result.results), zone=zone)


def card(result: Result, *, rank: int | None = None, total: int = 1, zone: str = "UTC") -> Reply:
    """An answer card: bold (linked) headline, date and source, excerpt with marked terms.

    With `rank`, the card belongs to a ranked answer and gets Back/More buttons as needed;
    without, it is a single article (opened from a list). Always fits one message.
    """
    lines = [_headline(result.headline, result.url)]
    when = date(result.published, zone)
    meta = " · ".join(filter(None, [when, _clean(result.source or "")]))
    if meta:
        lines.append(f"<i>{escape(meta)}</i>")
    if result.excerpt.strip():
        lines.append("")
        lines.append(marked(result.excerpt, result.marks))
    if rank is not None and total > 1:
        lines.append("")
        lines.append(f"<i>Result {rank + 1} of {total}</i>")
    return Reply("\n".join(lines), _card_keyboard(result, rank, total))


def nothing_found(suggestions: Sequence[Result]) -> Reply:
    """Say plainly that nothing answers, offering up to MAX_SUGGESTIONS did-you-mean buttons."""
    picks = [s for s in suggestions if _fits(open_data(s.article_id))][:MAX_SUGGESTIONS]
    if not picks:
        return Reply("I found nothing in the news about that. Try other words?")
    rows = [[_button(s.headline, callback_data=open_data(s.article_id))] for s in picks]
    return Reply(
        "I found nothing in the news that answers that. Did you mean one of these?",
        InlineKeyboardMarkup(rows),
    )


def headlines(articles: Sequence[Article], *, zone: str = "UTC") -> Reply:
    """A numbered list of headlines, newest first, each with a button that opens its card."""
    if not articles:
        return Reply("No headlines yet.")
    lines = ["<b>Latest headlines</b>", ""]
    rows = []
    for number, article in enumerate(articles, start=1):
        when = date(article.published, zone)
        suffix = f" <i>({escape(when)})</i>" if when else ""
        lines.append(f"{number}. {escape(_short(article.headline, _HEADLINE_CHARS))}{suffix}")
        data = open_data(article.id)
        if _fits(data):
            rows.append([_button(f"{number}. {article.headline}", callback_data=data)])
    return Reply("\n".join(lines), InlineKeyboardMarkup(rows) if rows else None)


def inline_results(
    results: Sequence[Result], *, zone: str = "UTC"
) -> list[InlineQueryResultArticle]:
    """Up to MAX_INLINE_RESULTS inline articles: headline, date and excerpt; sends a card."""
    articles = []
    for result in results[:MAX_INLINE_RESULTS]:
        shown = card(result, zone=zone)
        source = _source_keyboard(result.url)
        summary = " · ".join(filter(None, [date(result.published, zone), _clean(result.excerpt)]))
        articles.append(
            InlineQueryResultArticle(
                id=_result_id(result.article_id),
                title=_short(result.headline, _HEADLINE_CHARS),
                description=_short(summary, _SUMMARY_CHARS),
                input_message_content=InputTextMessageContent(
                    shown.html, parse_mode=ParseMode.HTML
                ),
                reply_markup=source,
                url=_safe_url(result.url),
            )
        )
    return articles


# --------------------------------------------------------------------------- callback data


def more_data(rank: int) -> str:
    return _checked(f"m:{rank}")


def open_data(article_id: str) -> str:
    return f"o:{article_id}"


def feedback_data(article_id: str, helpful: bool) -> str:
    return f"f:{int(helpful)}:{article_id}"


def parse_press(data: str | None) -> Press | None:
    """Decode callback data made by this module; None for anything else (old or forged)."""
    verb, _, rest = (data or "").partition(":")
    if verb == "m" and rest.isdigit():
        return Press("more", rank=int(rest))
    if verb == "o" and rest:
        return Press("open", article_id=rest)
    flag, _, article_id = rest.partition(":")
    if verb == "f" and flag in ("0", "1") and article_id:
        return Press("feedback", article_id=article_id, helpful=flag == "1")
    return None


# ---------------------------------------------------------------------------------- pieces


def escape(text: str) -> str:
    """Text as Telegram HTML: control characters dropped, &, < and > escaped."""
    return html.escape(_clean(text), quote=False)


def marked(text: str, marks: Sequence[tuple[int, int]]) -> str:
    """`text` escaped, with the (start, end) character ranges in `marks` in bold."""
    out, position = [], 0
    for start, end in sorted(marks):
        start, end = max(start, position), min(end, len(text))
        if start >= end:
            continue  # overlapping or out of range
        out.append(escape(text[position:start]))
        out.append(f"<b>{escape(text[start:end])}</b>")
        position = end
    out.append(escape(text[position:]))
    return "".join(out)


def date(published: datetime | None, zone: str = "UTC") -> str:
    """ "11 Sep 2024", or "28 Nov 2026, 05:03 +03" in timezone `zone` when the source gave a
    time; "" when unknown. A bare date (midnight UTC) stays as given, in no timezone.
    """
    if published is None:
        return ""
    moment = published.astimezone(UTC)
    if (moment.hour, moment.minute) == (0, 0):
        return moment.strftime("%d %b %Y")
    return moment.astimezone(ZoneInfo(zone)).strftime("%d %b %Y, %H:%M %Z")


def plain(markup: str) -> str:
    """Telegram HTML as plain text: the fallback when Telegram refuses our markup."""
    return html.unescape(re.sub(r"<[^>]*>", "", markup))


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits."""
    return len(text.encode("utf-16-le")) // 2


# Tags, entities, or one character; the units a split may fall between.
_TOKEN = re.compile(r"<(/?)([a-zA-Z][\w-]*)[^>]*>|&#?\w+;|[^<&]", re.DOTALL)


def split(markup: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Cut Telegram HTML into messages of at most `limit` UTF-16 units each.

    Cuts fall between paragraphs if possible, else between lines, sentences or words,
    never inside a tag or an entity; tags open at a cut are closed before it and reopened
    after it, so every part is valid on its own. Parts with no visible text are dropped.
    """
    if utf16_len(markup) <= limit:
        return [markup] if plain(markup).strip() else []
    tokens = [m[0] for m in _TOKEN.finditer(markup)]
    parts: list[str] = []
    opened: list[str] = []  # open tags at the start of the current part
    start = 0
    while start < len(tokens):
        end, opened_at_end = _cut(tokens, start, opened, limit)
        body = "".join(tokens[start:end])
        closing = "".join(_closing(tag) for tag in reversed(opened_at_end))
        part = "".join(opened) + body + closing
        if plain(part).strip():
            parts.append(part)
        opened, start = opened_at_end, end
        while start < len(tokens) and tokens[start].isspace():
            start += 1  # a part does not start with blank lines
    return parts


def _cut(tokens: list[str], start: int, opened: list[str], limit: int) -> tuple[int, list[str]]:
    """Where the part beginning at `start` ends, and the tags open there."""
    stack = list(opened)
    size = sum(map(utf16_len, opened))
    best: dict[int, tuple[int, list[str]]] = {}  # boundary quality -> latest cut
    index = start
    while index < len(tokens):
        after = _track(stack, tokens[index])
        grown = size + utf16_len(tokens[index])
        if grown + sum(utf16_len(_closing(t)) for t in after) > limit and index > start:
            break
        stack, size, index = after, grown, index + 1
        quality = _boundary(tokens, index)
        if quality:
            best[quality] = (index, stack)
    else:
        return index, stack
    for quality in (4, 3, 2, 1):
        cut = best.get(quality)
        if cut and (cut[0] - start) * 4 >= index - start:  # not a tiny part
            return cut
    return index, stack  # one long word: cut anywhere outside a tag or an entity


def _boundary(tokens: list[str], index: int) -> int:
    """How good a cut before tokens[index] is: 4 paragraph, 3 line, 2 sentence, 1 word."""
    before = tokens[index - 1]
    if before == "\n":
        return 4 if index >= 2 and tokens[index - 2] == "\n" else 3
    if before == " " and index >= 2 and tokens[index - 2] in (".", "!", "?", "…"):
        return 2
    return 1 if before == " " else 0


def _track(stack: list[str], token: str) -> list[str]:
    """The open tags after `token`, given those open before it (a new list if it changed)."""
    match = _TOKEN.fullmatch(token)
    if match is None or match[2] is None:
        return stack
    if not match[1]:
        return [*stack, token]
    if stack and _tag_name(stack[-1]) == match[2].lower():
        return stack[:-1]
    return stack


def _tag_name(tag: str) -> str:
    match = _TOKEN.fullmatch(tag)
    return match[2].lower() if match and match[2] else ""


def _closing(tag: str) -> str:
    return f"</{_tag_name(tag)}>"


def _headline(headline: str, url: str | None) -> str:
    text = f"<b>{escape(_short(headline, _HEADLINE_CHARS))}</b>"
    safe = _safe_url(url)
    return f'<a href="{html.escape(safe, quote=True)}">{text}</a>' if safe else text


def _card_keyboard(result: Result, rank: int | None, total: int) -> InlineKeyboardMarkup | None:
    rows: list[list[InlineKeyboardButton]] = []
    if rank is not None:
        paging = []
        if rank > 0:
            paging.append(_button("◀ Back", callback_data=more_data(rank - 1)))
        if rank + 1 < total:
            paging.append(_button("More ▶", callback_data=more_data(rank + 1)))
        if paging:
            rows.append(paging)
    safe = _safe_url(result.url)
    if safe:
        rows.append([_button("Source", url=safe)])
    votes = [feedback_data(result.article_id, helpful) for helpful in (True, False)]
    if all(map(_fits, votes)):
        rows.append([_button("👍", callback_data=votes[0]), _button("👎", callback_data=votes[1])])
    return InlineKeyboardMarkup(rows) if rows else None


def _source_keyboard(url: str | None) -> InlineKeyboardMarkup | None:
    safe = _safe_url(url)
    return InlineKeyboardMarkup([[_button("Source", url=safe)]]) if safe else None


def _button(
    text: str, *, callback_data: str | None = None, url: str | None = None
) -> InlineKeyboardButton:
    label = _short(_clean(text), _BUTTON_CHARS) or "Open"
    if callback_data is not None:
        return InlineKeyboardButton(label, callback_data=_checked(callback_data))
    return InlineKeyboardButton(label, url=url)


def _fits(data: str) -> bool:
    return len(data.encode()) <= MAX_CALLBACK_DATA


def _checked(data: str) -> str:
    if not _fits(data):
        raise ValueError(f"callback data over {MAX_CALLBACK_DATA} bytes: {data!r}")
    return data


def _result_id(article_id: str) -> str:
    """Inline result ids are 1-64 bytes; longer article ids are hashed."""
    return article_id if len(article_id.encode()) <= 64 else sha1(article_id.encode()).hexdigest()


def _safe_url(url: str | None) -> str | None:
    """`url` if it is an http(s) URL Telegram accepts on a button, else None."""
    if not url:
        return None
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or re.search(r"\s", url):
        return None
    return url


def _local(moment: datetime, timezone: str) -> str:
    """ "Wed 11 Sep, 07:30" in the chat's timezone."""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%a %d %b, %H:%M")


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%d %b %Y, %H:%M UTC") if moment else "never"


def _clean(text: str) -> str:
    """Drop control characters (except newlines and tabs) and stray surrogates."""
    return _UNPRINTABLE.sub("", text)


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
