"""Telegram markup: the HTML, keyboards, inline results and callback data the bot sends.

This is the only module that knows Telegram's HTML and button formats. Everything from an
article is escaped here. Callback data carries a card's id and a rank, never the question:
the card in the store (bot.cards) holds the rest, so buttons keep working after a restart
and without the question's message:

    n:<card>:<rank>          show result <rank> (0-based) of the card (More/Back)
    s:<card>:<rank>          open did-you-mean suggestion <rank> of the card as its own card
    v:<card>:<rank>:<1|0>    feedback on result <rank> of the card: helpful or not
    a:<card>                 ask an expired card's question again
    o:<article_id>           open the card of one article (headlines)

Buttons sent before cards existed (m:<rank>, f:<1|0>:<article_id>) get a polite answer.
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
from bot.feed_desk import FeedAdded, FeedRemoved
from bot.follows import Alert, TopicError
from bot.i18n import ENGLISH, Translator, languages, paragraph, translator
from bot.models import (
    Answer,
    Article,
    Card,
    FeedSource,
    FeedStatus,
    Follow,
    Result,
    Subscription,
)
from bot.schedule import ScheduleError
from bot.settings import AlertSettings

MAX_MESSAGE = int(MessageLimit.MAX_TEXT_LENGTH)  # 4096 UTF-16 code units, after parsing
MAX_CALLBACK_DATA = int(InlineKeyboardButtonLimit.MAX_CALLBACK_DATA)  # 64 bytes
MAX_HEADLINES = 20
DEFAULT_HEADLINES = 5
MAX_SUGGESTIONS = 3
MAX_INLINE_RESULTS = 10
_HEADLINE_CHARS = 300  # a hostile feed cannot blow up a card
_BUTTON_CHARS = 60
_ABOUT_CHARS = 60
_SUMMARY_CHARS = 120
_DIGEST_SUMMARY_CHARS = 240
# Cc and Cs, and the bidi embeddings, overrides and isolates (U+202A-E, U+2066-9): text
# from a feed or a user cannot flip the order of what follows it.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def N_(message: str) -> str:
    """Marks a message id for the catalogues where it is defined; translated where shown."""
    return message


# Command menu: (command, description) in English; `commands(tr)` gives them translated.
_COMMANDS = [
    ("ask", N_("Ask about the news: /ask who visited Iraq?")),
    ("headlines", N_("Latest headlines: /headlines 10")),
    ("subscribe", N_("Daily digest: /subscribe 07:30 Asia/Baghdad")),
    ("unsubscribe", N_("Stop the daily digest")),
    ("settings", N_("Your digest time, timezone and status")),
    ("follow", N_("Follow a topic: /follow Iraq elections")),
    ("following", N_("Topics this chat follows")),
    ("language", N_("The bot's language in this chat: /language ar")),
    ("help", N_("How to use this bot")),
    ("start", N_("Say hello")),
]
DESCRIPTION = N_(
    "Ask me about the news and I answer with the article that covers it: headline, date, "
    "and the passage that answers you."
)
SHORT_DESCRIPTION = N_("Questions about the news, answered from the articles.")

# Plain-text notices (callback answers are not HTML): show them as `tr.gettext(EXPIRED)`.
EXPIRED = N_("This answer has expired. Please ask again.")
NO_MORE = N_("No more results.")
GONE = N_("That article is no longer available.")
OLD_BUTTON = N_("This button is from an older version of the bot. Please send your question again.")
THANKS = N_("Thanks, noted.")
SORRY = N_("Sorry, something went wrong. Please try again.")
UNTITLED = "…"  # a headline with nothing printable in it (needs no translation)


@dataclass(frozen=True)
class Reply:
    """One message to send: Telegram HTML and an optional inline keyboard."""

    html: str
    keyboard: InlineKeyboardMarkup | None = None


@dataclass(frozen=True)
class Press:
    """A decoded button press.

    `action`: "show" (More/Back), "suggestion" (open a did-you-mean), "vote" (👍/👎) and
    "again" (re-ask an expired card) name `card_id` (and `rank`, `helpful`); "open" names
    `article_id`; "old" is a button from before cards, which only gets a polite answer.
    """

    action: str
    card_id: str | None = None
    rank: int | None = None
    article_id: str | None = None
    helpful: bool | None = None


# ---------------------------------------------------------------------------------- texts


def commands(tr: Translator = ENGLISH) -> list[BotCommand]:
    """The command menu in `tr`'s language (set per language at start-up)."""
    return [BotCommand(name, tr.gettext(description)) for name, description in _COMMANDS]


def start(first_name: str | None, *, tr: Translator = ENGLISH) -> Reply:
    name = escape(first_name or "").strip()
    hello = tr.gettext("Hi, {name}!", name=tr.isolate(name)) if name else tr.gettext("Hi!")
    return Reply(
        hello
        + " "
        + tr.gettext(
            "Ask me anything about the news and I will find the article that answers it."
            "\n\nTry: <i>Who visited Iraq?</i> — or see /help."
        )
    )


def help_text(bot_username: str | None, *, tr: Translator = ENGLISH) -> Reply:
    lines = [
        tr.gettext("<b>Ask me about the news.</b>"),
        tr.gettext("• In this chat: just write your question."),
        tr.gettext("• In groups: <code>/ask who visited Iraq?</code> or reply to my message."),
        tr.gettext("• <code>/headlines 10</code>: the latest headlines."),
    ]
    if bot_username:
        lines.append(
            tr.gettext("• Type <code>@{bot} Iraq</code> in any chat.", bot=escape(bot_username))
        )
    lines += [
        "",
        tr.gettext("<b>Daily digest</b>"),
        tr.gettext(
            "• <code>/subscribe 07:30 Asia/Baghdad</code>: the newest headlines every day at "
            "that time (time and timezone are optional)."
        ),
        tr.gettext(
            "• Reply to a digest with a question, or <code>/ask 2 what happened?</code> about "
            "its story 2."
        ),
        tr.gettext("• /settings shows your digest; /unsubscribe stops it."),
        "",
        tr.gettext("<b>Language</b>"),
        tr.gettext(
            "• <code>/language {codes}</code>: the language I speak in this chat.",
            codes="|".join(languages()),
        ),
    ]
    return Reply("\n".join(lines))


def ask_usage(*, tr: Translator = ENGLISH) -> Reply:
    return Reply(tr.gettext("Ask like this: <code>/ask who visited Iraq?</code>"))


def no_words(*, tr: Translator = ENGLISH) -> Reply:
    """A question with no letters or digits in it (only marks, punctuation or emoji)."""
    return Reply(tr.gettext("Please ask with words, for example: <i>Who visited Iraq?</i>"))


def text_only(*, tr: Translator = ENGLISH) -> Reply:
    return Reply(tr.gettext("I can only read text. Please send your question as a message."))


def sorry(*, tr: Translator = ENGLISH) -> Reply:
    return Reply(escape(tr.gettext(SORRY)))


# ---------------------------------------------------------------------------------- languages


def language_set(*, tr: Translator) -> Reply:
    """/language xx: the chat now speaks `tr`'s language (the reply is in it already)."""
    return Reply(tr.gettext("This chat's language: {language}.", language=tr.name))


def language_auto(*, tr: Translator = ENGLISH) -> Reply:
    """/language auto: back to each person's Telegram language."""
    return Reply(tr.gettext("From now on I answer in each person's Telegram language."))


def language_usage(chosen: str | None, *, tr: Translator = ENGLISH) -> Reply:
    """/language without a known code: what the chat speaks now and the choices."""
    choices = ", ".join(
        f"<code>{code}</code> ({tr.isolate(escape(translator(code).name))})" for code in languages()
    )
    current = (
        tr.gettext("This chat's language: {language}.", language=translator(chosen).name)
        if chosen
        else tr.gettext("I answer in each person's Telegram language.")
    )
    return Reply(
        current
        + "\n"
        + tr.gettext(
            "Choose one with <code>/language {code}</code>: {choices}; "
            "<code>/language auto</code> follows each person's Telegram language.",
            code=tr.language,
            choices=choices,
        )
    )


def admins_only_language(*, tr: Translator = ENGLISH) -> Reply:
    return Reply(tr.gettext("Only this group’s admins can change its language."))


# ---------------------------------------------------------------------------------- digests


def digest(value: Digest, *, tr: Translator = ENGLISH) -> Reply:
    """The daily digest: numbered stories, each headline linked when it has a URL, with one
    line of summary; or a short line when nothing is new. May exceed one message: `split` it."""
    title = tr.gettext("<b>Your news digest · {date}</b>", date=tr.date(value.day))
    if not value.items:
        return Reply(title + "\n" + tr.gettext("No new stories since your last digest."))
    lines = [title, ""]
    for item in value.items:
        marks = ""
        if item.topic:
            marks += f"<b>{tr.isolate(escape(_short(_clean(item.topic), 60)))}</b> · "
        if item.update:
            marks += "<i>" + tr.gettext("update") + "</i> · "
        lines.append(f"{item.number}. {marks}{_headline(item.headline, item.url)}")
        summary = _short(_clean(item.summary), _DIGEST_SUMMARY_CHARS)
        if summary:
            lines.append(paragraph(escape(summary)))
        if item.also_in:
            sources = tr.join([escape(_clean(source)) for source in item.also_in])
            lines.append("<i>" + tr.gettext("also in: {sources}", sources=sources) + "</i>")
        lines.append("")
    lines.append(
        tr.gettext(
            "<i>Reply to this message with a question, or send /ask and a story number, "
            "e.g. /ask 2 what happened?</i>"
        )
    )
    return Reply("\n".join(lines))


def subscribed(
    subscription: Subscription, next_at: datetime, *, now: bool, tr: Translator = ENGLISH
) -> Reply:
    """The reply to /subscribe: the daily time and when the next digest arrives (local)."""
    first = (
        tr.gettext("Today’s digest is on its way now.")
        if now
        else tr.gettext("Next digest: {when}.", when=_local(next_at, subscription.timezone, tr))
    )
    lines = [
        tr.gettext(
            "Subscribed: your digest arrives every day at <b>{time}</b> ({timezone}).",
            time=escape(subscription.at),
            timezone=tr.isolate(escape(subscription.timezone)),
        ),
        first,
        tr.gettext(
            "Change it with <code>/subscribe HH:MM Area/City</code>; stop it with /unsubscribe."
        ),
    ]
    return Reply("\n".join(lines))


def unsubscribed(was_active: bool, *, tr: Translator = ENGLISH) -> Reply:
    if was_active:
        return Reply(
            tr.gettext("Unsubscribed: no more daily digests. /subscribe brings them back.")
        )
    return Reply(tr.gettext("This chat has no daily digest. Start one with /subscribe."))


def digest_settings(
    subscription: Subscription | None,
    next_at: datetime | None,
    *,
    language: str | None = None,
    tr: Translator = ENGLISH,
) -> Reply:
    """/settings: the chat's digest time, timezone and status, and the language it chose
    (`language`, a code; None: each person's own)."""
    chosen = (
        translator(language).name if language else tr.gettext("each person's Telegram language")
    )
    speaks = tr.gettext("Language: {language}", language=tr.isolate(escape(chosen)))
    if subscription is None:
        return Reply(
            tr.gettext(
                "No daily digest yet. Start one with <code>/subscribe 07:30 Asia/Baghdad</code>."
            )
            + "\n"
            + speaks
        )
    status = (
        tr.gettext("active")
        if subscription.active
        else tr.gettext("stopped (/subscribe to restart)")
    )
    lines = [
        tr.gettext("<b>Your daily digest</b>"),
        tr.gettext("Time: {time}", time=escape(subscription.at)),
        tr.gettext("Timezone: {timezone}", timezone=tr.isolate(escape(subscription.timezone))),
        tr.gettext("Status: {status}", status=status),
    ]
    if subscription.active and next_at is not None:
        lines.append(tr.gettext("Next: {when}", when=_local(next_at, subscription.timezone, tr)))
    lines.append(speaks)
    return Reply("\n".join(lines))


def schedule_error(error: ScheduleError | str, *, tr: Translator = ENGLISH) -> Reply:
    """A time or timezone that does not parse: what was wrong, and an example."""
    if isinstance(error, ScheduleError) and error.kind == "time":
        problem = tr.gettext(
            "“{value}” is not a time of day: use HH:MM, e.g. 07:30",
            value=tr.isolate(escape(error.value)),
        )
    elif isinstance(error, ScheduleError) and error.kind == "timezone":
        problem = tr.gettext(
            "“{value}” is not a timezone: use a name like Europe/London or Asia/Baghdad",
            value=tr.isolate(escape(error.value)),
        )
    else:
        problem = escape(str(error))
    return Reply(
        problem
        + "\n"
        + tr.gettext(
            "For example: <code>/subscribe 07:30 Asia/Baghdad</code> "
            "or <code>/subscribe 18:00</code>."
        )
    )


# ---------------------------------------------------------------------------------- follows


def followed(follow: Follow, alerts: AlertSettings, *, tr: Translator = ENGLISH) -> Reply:
    """The reply to /follow: what following does, and the alert terms when asked for."""
    topic = tr.isolate(escape(follow.topic))
    lines = [
        tr.gettext("Following <b>{topic}</b>: its stories come first in your digest.", topic=topic)
    ]
    if follow.alert:
        lines.append(
            tr.gettext(
                "New stories on it are also sent as they come in: at most {count} a day, "
                "none between {quiet}.",
                count=tr.number(alerts.max_per_day),
                quiet=tr.isolate(alerts.quiet_hours),
            )
        )
    return Reply("\n".join(lines))


def topic_error(error: TopicError, *, tr: Translator = ENGLISH) -> Reply:
    """A topic that cannot be followed: usage, too long, or too many."""
    if error.kind == "long":
        return Reply(
            tr.ngettext(
                "That topic is too long: at most {count} character. Try a few key words.",
                "That topic is too long: at most {count} characters. Try a few key words.",
                error.limit,
            )
        )
    if error.kind == "many":
        return Reply(
            tr.ngettext(
                "This chat already follows {count} topic, the most it may. /unfollow one first.",
                "This chat already follows {count} topics, the most it may. /unfollow one first.",
                error.limit,
            )
        )
    return Reply(
        tr.gettext(
            "Follow a topic: <code>/follow Iraq elections</code>. Add <code>--alert</code> "
            "to also get each new story on it as it comes in."
        )
    )


def unfollowed(topic: str, found: bool, *, tr: Translator = ENGLISH) -> Reply:
    shown = tr.isolate(escape(_short(_clean(topic), 100)))
    if not topic.strip():
        return Reply(tr.gettext("Say which topic: <code>/unfollow Iraq elections</code>."))
    if found:
        return Reply(tr.gettext("No longer following <b>{topic}</b>.", topic=shown))
    return Reply(
        tr.gettext(
            "This chat does not follow <b>{topic}</b>. /following lists its topics.", topic=shown
        )
    )


def following(follows: Sequence[Follow], *, tr: Translator = ENGLISH) -> Reply:
    """/following: the chat's topics, those with alerts marked."""
    if not follows:
        return Reply(
            tr.gettext(
                "This chat follows no topics. Start with <code>/follow Iraq elections</code>."
            )
        )
    lines = [tr.gettext("<b>Topics this chat follows</b>")]
    for follow in follows:
        line = "• " + tr.isolate(escape(follow.topic))
        if follow.alert:
            line += " · <i>" + tr.gettext("alerts on") + "</i>"
        lines.append(line)
    return Reply("\n".join(lines))


def alert(value: Alert, *, tr: Translator = ENGLISH) -> Reply:
    """One story sent as it came in, for the followed topic that found it."""
    lines = [
        tr.gettext("New on <b>{topic}</b>", topic=tr.isolate(escape(_short(value.topic, 60)))),
        _headline(value.headline, value.url),
    ]
    summary = _short(_clean(value.summary), _DIGEST_SUMMARY_CHARS)
    if summary:
        lines.append(paragraph(escape(summary)))
    if value.also_in:
        sources = ", ".join(escape(_clean(source)) for source in value.also_in)
        lines.append("<i>" + tr.gettext("also in: {sources}", sources=sources) + "</i>")
    return Reply("\n".join(lines))


def admins_only_follow(*, tr: Translator = ENGLISH) -> Reply:
    return Reply(tr.gettext("Only this group’s admins can change the topics it follows."))


def admins_only(*, tr: Translator = ENGLISH) -> Reply:
    return Reply(tr.gettext("Only this group’s admins can change its daily digest."))


def feeds(
    sources: Sequence[FeedSource],
    statuses: Sequence[FeedStatus],
    *,
    tr: Translator = ENGLISH,
) -> Reply:
    """/feeds for admins: each feed, where it comes from, last success, last error, counts."""
    known = {status.url: status for status in statuses}
    listed = [(source.url, _origin(source, tr)) for source in sources]
    seen = {url for url, _ in listed}
    listed += [(url, tr.gettext("ingested once")) for url in sorted(set(known) - seen)]
    if not listed:
        return Reply(tr.gettext("No feeds yet. Add one with <code>/addfeed URL</code>."))
    blocks = []
    for url, origin in listed:
        status = known.get(url)
        name = (status.name if status else None) or url
        title = paragraph(escape(_short(name, _HEADLINE_CHARS)))
        lines = [f"<b>{title}</b> ({origin})", escape(url)]
        if status is None:
            lines.append(tr.gettext("not fetched yet"))
        else:
            lines.append(
                tr.gettext(
                    "last success: {when}; items {items}, added {added}",
                    when=_when(status.last_success, tr),
                    items=tr.number(status.items),
                    added=tr.number(status.added),
                )
            )
            if status.last_error:
                error = _short(status.last_error, _SUMMARY_CHARS)
                lines.append(
                    tr.gettext(
                        "last error: {when}: {error}",
                        when=_when(status.last_error_at, tr),
                        error=tr.isolate(escape(error)),
                    )
                )
        blocks.append("\n".join(lines))
    return Reply("\n\n".join(blocks))


def _origin(source: FeedSource, tr: Translator) -> str:
    if source.origin == "config":
        return tr.gettext("config file")
    if source.shadowed:
        return tr.gettext("added; the config file wins")
    return tr.gettext("added")


def feed_added(added: FeedAdded, *, tr: Translator = ENGLISH) -> Reply:
    """/addfeed done: the feed's title, item count and newest headline."""
    title = tr.isolate(escape(_short(added.title or added.source.url, _HEADLINE_CHARS)))
    lines = [
        tr.ngettext(
            "Added <b>{title}</b>: {count} item.",
            "Added <b>{title}</b>: {count} items.",
            added.items,
            title=title,
        ),
        escape(added.source.url),
    ]
    if added.newest:
        newest = tr.isolate(escape(_short(added.newest, _HEADLINE_CHARS)))
        lines.append(tr.gettext("Newest: {headline}", headline=newest))
    lines.append(tr.gettext("Its articles can be asked about now; it is refreshed from now on."))
    return Reply("\n".join(lines))


def feed_removed(removed: FeedRemoved, *, purge: bool = False, tr: Translator = ENGLISH) -> Reply:
    """/removefeed done: no longer refreshed, and how many articles stay; with `purge`, how
    many were deleted and how many stay because another feed also carried them."""
    what = tr.isolate(escape(_short(removed.title or removed.source.url, _HEADLINE_CHARS)))
    if not purge:
        return Reply(
            tr.ngettext(
                "Removed <b>{title}</b>: no longer refreshed. Its {count} article is kept.",
                "Removed <b>{title}</b>: no longer refreshed. Its {count} articles are kept.",
                removed.kept,
                title=what,
            )
        )
    lines = [
        tr.ngettext(
            "Removed <b>{title}</b>: no longer refreshed, and its {count} article deleted.",
            "Removed <b>{title}</b>: no longer refreshed, and its {count} articles deleted.",
            removed.removed,
            title=what,
        )
    ]
    if removed.kept:
        lines.append(
            tr.ngettext(
                "{count} article another feed also carried is kept.",
                "{count} articles other feeds also carried are kept.",
                removed.kept,
            )
        )
    return Reply(" ".join(lines))


def feed_refused(reason: str, *, tr: Translator = ENGLISH) -> Reply:
    """A feed that could not be added or removed: the one-line reason; nothing changed."""
    return Reply(
        tr.gettext("Nothing changed: {reason}", reason=tr.isolate(escape(_short(reason, 400))))
    )


def addfeed_usage(*, tr: Translator = ENGLISH) -> Reply:
    return Reply(
        tr.gettext(
            "Send <code>/addfeed URL [name]</code>: a feed’s URL, or a site’s home page that "
            "links to its feed."
        )
    )


def removefeed_usage(*, tr: Translator = ENGLISH) -> Reply:
    return Reply(
        tr.gettext(
            "Send <code>/removefeed URL</code> or <code>/removefeed name</code>; add "
            "<code>purge</code> to delete its articles too."
        )
    )


def admins_command_only(*, tr: Translator = ENGLISH) -> Reply:
    return Reply(tr.gettext("Sorry, that command is for the bot’s operators."))


# ---------------------------------------------------------------------------------- answers


def answer_card(value: Card, *, zone: str = "UTC", tr: Translator = ENGLISH) -> Reply:
    """A card from the store as it shows now: its result `shown` with More/Back (an
    answer), that one result (an opened article), or nothing-found with did-you-mean
    buttons (suggestions). Dates show in the chat's timezone `zone` (an IANA name)."""
    if value.kind == "suggestions" or not value.results:
        return nothing_found(value.results, card_id=value.id, about=value.about, tr=tr)
    rank = max(0, min(value.shown, len(value.results) - 1))
    total = len(value.results) if value.kind == "answer" else 1
    result = value.results[rank]
    return card(
        result, rank=rank, total=total, zone=zone, card_id=value.id, about=value.about, tr=tr
    )


def answer(result: Answer, *, rank: int = 0, zone: str = "UTC", tr: Translator = ENGLISH) -> Reply:
    """An answer without a card (no buttons but Source): the result `rank`, or nothing found.

    Dates show in the chat's timezone `zone` (an IANA name).
    """
    if not result.found or not result.results:
        return nothing_found(result.results, tr=tr)
    rank = max(0, min(rank, len(result.results) - 1))
    return card(result.results[rank], rank=rank, total=len(result.results), zone=zone, tr=tr)


def card(
    result: Result,
    *,
    rank: int | None = None,
    total: int = 1,
    zone: str = "UTC",
    card_id: str | None = None,
    about: str | None = None,
    tr: Translator = ENGLISH,
) -> Reply:
    """An answer card: bold (linked) headline, date and source, excerpt with marked terms.

    With `rank` and `total` > 1 the card is one of a ranked answer ("Result 2 of 5"), with
    Back/More buttons when it has a `card_id`; 👍/👎 need a `card_id` too. `about` is the
    headline a follow-up leaned on, said on top. Always fits one message. The headline and
    excerpt keep their own direction (an Arabic story in an English chat too).
    """
    when = date(result.published, zone, tr=tr)
    source = tr.isolate(escape(_short(_clean(result.source or ""), _SUMMARY_CHARS)))
    meta = " · ".join(filter(None, [escape(when), source]))
    footer = []
    if rank is not None and total > 1:
        result_n = tr.gettext(
            "Result {rank} of {total}", rank=tr.number(rank + 1), total=tr.number(total)
        )
        footer = ["", f"<i>{result_n}</i>"]
    keyboard = _card_keyboard(result, card_id, rank, total, tr)
    # Escaping can make markup five times its text: a hostile excerpt or URL is shortened
    # (the link dropped, the excerpt cut) until the card fits one message.
    for cut, linked in _CARD_FITS:
        lines = [_about(about, tr)] if about else []
        lines.append(_headline(result.headline, result.url if linked else None))
        if meta:
            lines.append(f"<i>{meta}</i>")
        excerpt, marks = _cut_excerpt(result, cut)
        if excerpt.strip():
            lines += ["", paragraph(marked(excerpt, marks))]
        markup = "\n".join(lines + footer)
        if utf16_len(markup) <= MAX_MESSAGE:
            break
    return Reply(markup, keyboard)


# (excerpt characters kept, headline linked): the ways a card is tried, longest first.
# The link goes before the excerpt does: the Source button still carries it.
_CARD_FITS = (
    (None, True),
    (1000, True),
    (None, False),
    (1000, False),
    (400, False),
    (100, False),
    (0, False),
)


def _cut_excerpt(result: Result, cut: int | None) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The excerpt cut to `cut` characters (None: whole), "…" marking a cut; marks kept inside."""
    if cut is None or len(result.excerpt) <= cut:
        return result.excerpt, result.marks
    marks = tuple((start, min(end, cut)) for start, end in result.marks if start < cut)
    return (result.excerpt[:cut] + "…" if cut else ""), marks


def nothing_found(
    suggestions: Sequence[Result],
    *,
    card_id: str | None = None,
    about: str | None = None,
    tr: Translator = ENGLISH,
) -> Reply:
    """Say plainly that nothing answers, offering up to MAX_SUGGESTIONS did-you-mean buttons
    (those of a card open the suggestion as a card of its own; without one, the article)."""
    lead = _about(about, tr) + "\n" if about else ""
    datas = [
        suggestion_data(card_id, rank) if card_id else open_data(s.article_id)
        for rank, s in enumerate(suggestions)
    ]
    picks = [(s, d) for s, d in zip(suggestions, datas, strict=True) if _fits(d)]
    if not picks:
        return Reply(lead + tr.gettext("I found nothing in the news about that. Try other words?"))
    rows = [[_button(s.headline, callback_data=d, tr=tr)] for s, d in picks[:MAX_SUGGESTIONS]]
    return Reply(
        lead
        + tr.gettext("I found nothing in the news that answers that. Did you mean one of these?"),
        InlineKeyboardMarkup(rows),
    )


def expired(card_id: str, keep_days: int, *, tr: Translator = ENGLISH) -> Reply:
    """An expired card: say so kindly and offer to ask its question again (the keyboard
    replaces the card's buttons; the text is for where a message fits)."""
    again = _button(tr.gettext("🔄 Ask again"), callback_data=again_data(card_id))
    return Reply(escape(expired_notice(keep_days, tr=tr)), InlineKeyboardMarkup([[again]]))


def expired_notice(keep_days: int, *, tr: Translator = ENGLISH) -> str:
    """The plain-text notice for a press on an expired card (a callback answer)."""
    return tr.ngettext(
        "Sorry, this answer is more than {count} day old and has expired. "
        "Tap “Ask again” for today’s news.",
        "Sorry, this answer is more than {count} days old and has expired. "
        "Tap “Ask again” for today’s news.",
        keep_days,
    )


def headlines(articles: Sequence[Article], *, zone: str = "UTC", tr: Translator = ENGLISH) -> Reply:
    """A numbered list of headlines, newest first, each with a button that opens its card."""
    if not articles:
        return Reply(tr.gettext("No headlines yet."))
    title = tr.ngettext(
        "<b>The latest headline</b>", "<b>The latest {count} headlines</b>", len(articles)
    )
    lines = [title, ""]
    rows = []
    for number, article in enumerate(articles, start=1):
        when = date(article.published, zone, tr=tr)
        suffix = f" <i>({escape(when)})</i>" if when else ""
        headline = tr.isolate(escape(_short(article.headline, _HEADLINE_CHARS)))
        lines.append(f"{number}. {headline}{suffix}")
        data = open_data(article.id)
        if _fits(data):
            rows.append([_button(f"{number}. {article.headline}", callback_data=data, tr=tr)])
    return Reply("\n".join(lines), InlineKeyboardMarkup(rows) if rows else None)


def inline_results(
    results: Sequence[Result], *, zone: str = "UTC", tr: Translator = ENGLISH
) -> list[InlineQueryResultArticle]:
    """Up to MAX_INLINE_RESULTS inline articles: headline, date and excerpt; sends a card."""
    articles = []
    for result in results[:MAX_INLINE_RESULTS]:
        shown = card(result, zone=zone, tr=tr)
        source = _source_keyboard(result.url, tr)
        when = date(result.published, zone, tr=tr)
        summary = " · ".join(filter(None, [when, _clean(result.excerpt)]))
        articles.append(
            InlineQueryResultArticle(
                id=_result_id(result.article_id),
                title=_short(_clean(result.headline), _HEADLINE_CHARS) or UNTITLED,
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


def show_data(card_id: str, rank: int) -> str:
    return _checked(f"n:{card_id}:{rank}")


def suggestion_data(card_id: str, rank: int) -> str:
    return _checked(f"s:{card_id}:{rank}")


def vote_data(card_id: str, rank: int, helpful: bool) -> str:
    return _checked(f"v:{card_id}:{rank}:{int(helpful)}")


def again_data(card_id: str) -> str:
    return _checked(f"a:{card_id}")


def open_data(article_id: str) -> str:
    return f"o:{article_id}"


def parse_press(data: str | None) -> Press | None:
    """Decode callback data made by this module; None for anything else (forged)."""
    verb, _, rest = (data or "").partition(":")
    parts = rest.split(":")
    card_id = parts[0]
    ranked = len(parts) >= 2 and bool(card_id) and parts[1].isdigit()
    if verb in ("n", "s") and ranked and len(parts) == 2:
        return Press("show" if verb == "n" else "suggestion", card_id, int(parts[1]))
    if verb == "v" and ranked and len(parts) == 3 and parts[2] in ("0", "1"):
        return Press("vote", card_id, int(parts[1]), helpful=parts[2] == "1")
    if verb == "a" and card_id and len(parts) == 1:
        return Press("again", card_id)
    if verb == "o" and rest:
        return Press("open", article_id=rest)
    if (verb == "m" and rest.isdigit()) or (verb == "f" and rest[:2] in ("0:", "1:")):
        return Press("old")
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


def date(published: datetime | None, zone: str = "UTC", *, tr: Translator = ENGLISH) -> str:
    """ "11 Sep 2024", or "28 Nov 2026, 05:03 +03" in timezone `zone` when the source gave a
    time ("11 سبتمبر 2024" in Arabic); "" when unknown. A bare date (midnight UTC) stays as
    given, in no timezone. Plain text: escape it for HTML.
    """
    if published is None:
        return ""
    moment = published.astimezone(UTC)
    if (moment.hour, moment.minute) == (0, 0):
        return tr.date(moment, "dd MMM y")
    try:
        local = moment.astimezone(ZoneInfo(zone))
    except OverflowError:  # the calendar's last day seen from a zone ahead of UTC
        local = moment
    return tr.gettext(
        "{date}, {time} {zone}",
        date=tr.date(local, "dd MMM y"),
        time=local.strftime("%H:%M"),
        zone=local.strftime("%Z"),
    )


def plain(markup: str) -> str:
    """Telegram HTML as plain text: the fallback when Telegram refuses our markup."""
    return html.unescape(re.sub(r"<[^>]*>", "", markup))


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits."""
    return len(text.encode("utf-16-le")) // 2


_SENTENCE_ENDS = (".", "!", "?", "…", "؟", "۔")  # the Arabic question mark and full stop
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
    if before == " " and index >= 2 and tokens[index - 2] in _SENTENCE_ENDS:
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
    text = f"<b>{paragraph(escape(_short(_clean(headline), _HEADLINE_CHARS) or UNTITLED))}</b>"
    safe = _safe_url(url)
    return f'<a href="{html.escape(safe, quote=True)}">{text}</a>' if safe else text


def _about(headline: str, tr: Translator) -> str:
    """ "about: <headline>…": what a follow-up leaned on."""
    short = tr.isolate(escape(_short(headline, _ABOUT_CHARS)))
    return "<i>" + tr.gettext("about: {headline}", headline=short) + "</i>"


def _card_keyboard(
    result: Result, card_id: str | None, rank: int | None, total: int, tr: Translator
) -> InlineKeyboardMarkup | None:
    rows: list[list[InlineKeyboardButton]] = []
    if card_id and rank is not None and total > 1:
        paging = []
        if rank > 0:
            back = show_data(card_id, rank - 1)
            paging.append(_button(tr.gettext("◀ Back"), callback_data=back))
        if rank + 1 < total:
            more = show_data(card_id, rank + 1)
            paging.append(_button(tr.gettext("More ▶"), callback_data=more))
        if paging:
            # right to left, "back" is on the right and "more" on the left
            rows.append(paging[::-1] if tr.rtl else paging)
    safe = _safe_url(result.url)
    if safe:
        rows.append([_button(tr.gettext("Source"), url=safe)])
    if card_id:
        votes = [vote_data(card_id, rank or 0, helpful) for helpful in (True, False)]
        rows.append([_button("👍", callback_data=votes[0]), _button("👎", callback_data=votes[1])])
    return InlineKeyboardMarkup(rows) if rows else None


def _source_keyboard(url: str | None, tr: Translator) -> InlineKeyboardMarkup | None:
    safe = _safe_url(url)
    return InlineKeyboardMarkup([[_button(tr.gettext("Source"), url=safe)]]) if safe else None


def _button(
    text: str,
    *,
    callback_data: str | None = None,
    url: str | None = None,
    tr: Translator = ENGLISH,
) -> InlineKeyboardButton:
    label = _short(_clean(text), _BUTTON_CHARS) or tr.gettext("Open")
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
    try:
        parts = urlsplit(url)
    except ValueError:  # a malformed host such as "http://[x"
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    if re.search(r"\s", url) or _UNPRINTABLE.search(url):
        return None
    return url


def _local(moment: datetime, timezone: str, tr: Translator) -> str:
    """ "Wed 11 Sep, 07:30" in the chat's timezone."""
    local = moment.astimezone(ZoneInfo(timezone))
    return tr.gettext(
        "{date}, {time}", date=tr.date(local, "EEE dd MMM"), time=local.strftime("%H:%M")
    )


def _when(moment: datetime | None, tr: Translator) -> str:
    if moment is None:
        return tr.gettext("never")
    utc = moment.astimezone(UTC)
    return tr.gettext(
        "{date}, {time} {zone}",
        date=tr.date(utc, "dd MMM y"),
        time=utc.strftime("%H:%M"),
        zone="UTC",
    )


def _clean(text: str) -> str:
    """Drop control characters (except newlines and tabs) and stray surrogates."""
    return _UNPRINTABLE.sub("", text)


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
