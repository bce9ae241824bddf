"""Thin handlers: unpack the update, make one call into the NewsDesk, send what render made."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import unicodedata
from contextlib import suppress

from telegram import Bot, Chat, ChatMember, Message, ReplyParameters, Update
from telegram.error import BadRequest, ChatMigrated, Forbidden, TelegramError
from telegram.ext import filters

from bot import i18n
from bot.cards import CardExpired
from bot.errors import NewsbotError
from bot.follows import TopicError
from bot.i18n import Translator
from bot.models import Card
from bot.schedule import ScheduleError
from bot.tg import jobs, render
from bot.tg.context import NewsContext

log = logging.getLogger(__name__)


class _AddressedToBot(filters.MessageFilter):
    """A group message meant for the bot: a reply to one of its messages, or an @mention."""

    def filter(self, message: Message) -> bool:
        bot = message.get_bot()
        replied = message.reply_to_message
        if replied and replied.from_user and replied.from_user.id == bot.id:
            return True
        mentions = message.parse_entities(["mention"]).values()
        return any(m[1:].lower() == (bot.username or "").lower() for m in mentions)


ADDRESSED_TO_BOT = _AddressedToBot(name="AddressedToBot")
MAX_DIGEST_NUMBER = 20  # "/ask N ...": N up to the largest digest (digest.size <= 20)


# ---------------------------------------------------------------------------------- commands


async def start(update: Update, context: NewsContext) -> None:
    """/start: a short hello."""
    user = update.effective_user
    await _reply(update, render.start(user.first_name if user else None, tr=_tr(update, context)))


async def help_(update: Update, context: NewsContext) -> None:
    """/help: how to ask."""
    await _reply(update, render.help_text(context.bot.username, tr=_tr(update, context)))


async def ask_command(update: Update, context: NewsContext) -> None:
    """/ask <question>, in any chat; /ask N <question> asks about story N of the digest."""
    message = update.effective_message
    question = _command_argument(message)
    tr = _tr(update, context)
    if not question or message is None:
        await _reply(update, render.ask_usage(tr=tr))
        return
    number, rest = _story_number(question)
    if not _has_words(rest) and number is None:
        await _reply(update, render.no_words(tr=tr))
        return
    await _answer(context, message, rest, tr, story=number)


async def headlines(update: Update, context: NewsContext) -> None:
    """/headlines [N]: the latest N headlines, each a button that opens its card."""
    wanted = context.args[0] if context.args else ""
    limit = int(wanted) if wanted.isdigit() else render.DEFAULT_HEADLINES
    limit = max(1, min(limit, render.MAX_HEADLINES))
    chat = update.effective_chat
    zone = context.desk.digests.timezone(chat.id) if chat else context.desk.settings.timezone
    latest = context.desk.headlines(limit)
    await _reply(update, render.headlines(latest, zone=zone, tr=_tr(update, context)))


async def subscribe(update: Update, context: NewsContext) -> None:
    """/subscribe [HH:MM] [timezone]: a daily digest at that local time."""
    chat, user = update.effective_chat, update.effective_user
    tr = _tr(update, context)
    if chat is None or not await _may_configure(update, context):
        await _reply(update, render.admins_only(tr=tr))
        return
    at, timezone = _time_and_zone(context.args or [])
    now = context.bot_data.clock()
    try:
        subscription = context.desk.digests.subscribe(chat.id, at, timezone, now=now)
    except ScheduleError as exc:
        await _reply(update, render.schedule_error(exc, tr=tr))
        return
    # the digest arrives unasked: it speaks the subscriber's language unless the chat chose
    context.desk.languages.note(chat.id, user.language_code if user else None)
    when = jobs.schedule_digest(context.app, chat.id)
    next_at = when if when is not None and when > now else None
    if next_at is None:
        next_at = context.desk.digests.next_delivery(subscription, now).at
    await _reply(update, render.subscribed(subscription, next_at, now=when == now, tr=tr))


async def unsubscribe(update: Update, context: NewsContext) -> None:
    """/unsubscribe: stop the daily digest."""
    chat = update.effective_chat
    tr = _tr(update, context)
    if chat is None or not await _may_configure(update, context):
        await _reply(update, render.admins_only(tr=tr))
        return
    was_active = context.desk.digests.unsubscribe(chat.id)
    jobs.cancel_digest(context.app, chat.id)
    await _reply(update, render.unsubscribed(was_active, tr=tr))


async def follow(update: Update, context: NewsContext) -> None:
    """/follow TOPIC [--alert]: stories on TOPIC lead the digest; --alert also sends them."""
    chat, tr = update.effective_chat, _tr(update, context)
    if chat is None or not await _may_configure(update, context):
        await _reply(update, render.admins_only_follow(tr=tr))
        return
    words = _command_argument(update.effective_message).split()
    topic = " ".join(word for word in words if word.lower() != "--alert")
    try:
        followed = context.desk.follows.follow(
            chat.id, topic, alert=len(words) > len(topic.split()), now=context.bot_data.clock()
        )
    except TopicError as exc:
        await _reply(update, render.topic_error(exc, tr=tr))
        return
    await _reply(update, render.followed(followed, context.desk.settings.alerts, tr=tr))


async def unfollow(update: Update, context: NewsContext) -> None:
    """/unfollow TOPIC: stop following it."""
    chat, tr = update.effective_chat, _tr(update, context)
    if chat is None or not await _may_configure(update, context):
        await _reply(update, render.admins_only_follow(tr=tr))
        return
    topic = _command_argument(update.effective_message)
    found = bool(topic) and context.desk.follows.unfollow(chat.id, topic)
    await _reply(update, render.unfollowed(topic, found, tr=tr))


async def following(update: Update, context: NewsContext) -> None:
    """/following: the chat's topics."""
    chat = update.effective_chat
    if chat is None:
        return
    follows = context.desk.follows.following(chat.id)
    await _reply(update, render.following(follows, tr=_tr(update, context)))


async def digest_settings(update: Update, context: NewsContext) -> None:
    """/settings: the chat's digest time, timezone and status."""
    chat = update.effective_chat
    if chat is None:
        return
    digests = context.desk.digests
    subscription = digests.subscription(chat.id)
    now = context.bot_data.clock()
    next_at = digests.next_delivery(subscription, now).at if subscription else None
    language = context.desk.languages.chosen(chat.id)
    shown = render.digest_settings(
        subscription, next_at, language=language, tr=_tr(update, context)
    )
    await _reply(update, shown)


async def language(update: Update, context: NewsContext) -> None:
    """/language [ar|en|auto]: the language the bot speaks in this chat (group admins)."""
    chat = update.effective_chat
    if chat is None:
        return
    languages = context.desk.languages
    wanted = context.args[0].lower() if context.args else ""
    if wanted != "auto" and wanted not in i18n.languages():
        await _reply(
            update, render.language_usage(languages.chosen(chat.id), tr=_tr(update, context))
        )
        return
    if not await _is_admin(update, context):
        await _reply(update, render.admins_only_language(tr=_tr(update, context)))
        return
    chosen = languages.choose(chat.id, None if wanted == "auto" else wanted)
    tr = _tr(update, context)  # the new language already
    await _reply(update, render.language_set(tr=tr) if chosen else render.language_auto(tr=tr))


async def feeds(update: Update, context: NewsContext) -> None:
    """/feeds (operators only): each feed's origin, last success, last error and counts."""
    tr = _tr(update, context)
    if not _is_operator(update, context):
        await _reply(update, render.admins_command_only(tr=tr))
        return
    desk = context.desk
    await _reply(update, render.feeds(desk.sources.sources(), desk.feeds(), tr=tr))


async def add_feed(update: Update, context: NewsContext) -> None:
    """/addfeed URL [name] (operators only): fetch it now and refresh it from now on."""
    tr = _tr(update, context)
    if not _is_operator(update, context):
        await _reply(update, render.admins_command_only(tr=tr))
        return
    args = context.args or []
    if not args:
        await _reply(update, render.addfeed_usage(tr=tr))
        return
    name = " ".join(args[1:]) or None
    try:  # the fetch blocks: off the loop (this chat's later updates wait for it)
        added = await asyncio.to_thread(context.desk.sources.add, args[0], name=name)
    except NewsbotError as exc:
        await _reply(update, render.feed_refused(str(exc), tr=tr))
        return
    jobs.sync_feed(context.app, added.source.url)
    await _reply(update, render.feed_added(added, tr=tr))


async def remove_feed(update: Update, context: NewsContext) -> None:
    """/removefeed URL_OR_NAME [purge] (operators only): stop refreshing it; its articles
    stay unless `purge` follows."""
    tr = _tr(update, context)
    if not _is_operator(update, context):
        await _reply(update, render.admins_command_only(tr=tr))
        return
    words = list(context.args or [])
    purge = len(words) > 1 and words[-1].casefold() in ("purge", "--purge")
    wanted = " ".join(words[:-1] if purge else words)
    if not wanted:
        await _reply(update, render.removefeed_usage(tr=tr))
        return
    try:
        removed = await asyncio.to_thread(context.desk.sources.remove, wanted, purge=purge)
    except NewsbotError as exc:
        await _reply(update, render.feed_refused(str(exc), tr=tr))
        return
    jobs.sync_feed(context.app, removed.source.url)
    await _reply(update, render.feed_removed(removed, purge=purge, tr=tr))


# ---------------------------------------------------------------------------------- messages


async def ask_private(update: Update, context: NewsContext) -> None:
    """Any text in a private chat is a question (about the digest when replying to one)."""
    message = update.effective_message
    if message and message.text:
        await _answer_question(update, context, message, message.text, private=True)


async def ask_addressed(update: Update, context: NewsContext) -> None:
    """A group message replying to the bot or mentioning it is a question."""
    message = update.effective_message
    question = _question(message, context.bot.username)
    if not question or message is None:
        await _reply(update, render.ask_usage(tr=_tr(update, context)))
        return
    await _answer_question(update, context, message, question)


async def _answer_question(
    update: Update, context: NewsContext, message: Message, question: str, *, private: bool = False
) -> None:
    """Reply with the answer card, or ask for words when the text has none to search."""
    tr = _tr(update, context)
    if not _has_words(question):
        await _reply(update, render.no_words(tr=tr))
        return
    await _answer(context, message, question, tr, private=private)


async def text_only(update: Update, context: NewsContext) -> None:
    """Stickers, photos and other non-text messages in a private chat."""
    await _reply(update, render.text_only(tr=_tr(update, context)))


# ---------------------------------------------------------------------------------- buttons


async def button(update: Update, context: NewsContext) -> None:
    """A press on one of our inline buttons, answered from the card it names alone."""
    query = update.callback_query
    if query is None:
        return
    press = render.parse_press(query.data)
    message = query.message if isinstance(query.message, Message) else None
    tr = _tr(update, context)
    notice: str | None = render.EXPIRED
    if press is not None and message is not None:
        notice = await _on_press(message, context, press, tr)
    await query.answer(tr.gettext(notice) if notice else None)


async def _on_press(
    message: Message, context: NewsContext, press: render.Press, tr: Translator
) -> str | None:
    """Do what the press asks; returns a notice (a message id) for the callback answer."""
    if press.action == "old":
        return render.OLD_BUTTON
    if press.action == "open" and press.article_id:
        return await _open_article(message, context, press.article_id, tr)
    now = context.bot_data.clock()
    try:
        card = context.cards.card(press.card_id or "", message.chat_id, now=now)
    except CardExpired as expired:
        return await _expired(message, context, expired.card, press, tr)
    if card is None:
        return render.EXPIRED  # pruned, or not this chat's
    rank = press.rank if press.rank is not None else card.shown
    if press.action == "show":
        shown = context.cards.show(card, rank)
        if shown is None:
            return render.NO_MORE
        reply = render.answer_card(shown, zone=_zone(context, message.chat_id), tr=tr)
        await _edit(message, reply)
    elif press.action == "suggestion":
        opened = context.cards.open(card, rank, now=now)
        if opened is None:
            return render.GONE
        await _send_card(context, opened, tr, reply_to=message)
    elif press.action == "vote":
        return render.THANKS if context.cards.vote(card, rank, bool(press.helpful)) else render.GONE
    elif press.action == "again":
        await _ask_again(message, context, card, tr)
    return None


async def _expired(
    message: Message, context: NewsContext, card: Card, press: render.Press, tr: Translator
) -> str | None:
    """A press on an expired card: "Ask again" asks anew; any other button turns the card's
    buttons into one "Ask again" and says why (the notice is already translated)."""
    if press.action == "again":
        await _ask_again(message, context, card, tr)
        return None
    keep_days = context.desk.settings.cards.keep_days
    with suppress(BadRequest):  # already showing "Ask again": a double tap
        await message.edit_reply_markup(render.expired(card.id, keep_days, tr=tr).keyboard)
    return render.expired_notice(keep_days, tr=tr)


async def _ask_again(message: Message, context: NewsContext, card: Card, tr: Translator) -> None:
    """The card's question asked now, as a new card replying to the old one (a follow-up's
    with the words it leaned on: "when?" alone would find nothing)."""
    now = context.bot_data.clock()
    focus = card.focus
    fresh: Card | None = None
    if card.question:
        fresh = context.cards.ask(message.chat_id, card.topic or card.question, now=now)
    elif focus is not None:  # an article opened from the headlines: that article again
        fresh = context.cards.open_article(message.chat_id, focus.article_id, now=now)
    if fresh is None:
        gone = render.Reply(render.escape(tr.gettext(render.GONE)))
        await _send(context.bot, message.chat_id, gone, reply_to=message)
        return
    await _send_card(context, fresh, tr, reply_to=message)


async def _open_article(
    message: Message, context: NewsContext, article_id: str, tr: Translator
) -> str | None:
    """A headline's button: the article as a card of its own, replying to the list."""
    now = context.bot_data.clock()
    opened = context.cards.open_article(message.chat_id, article_id, now=now)
    if opened is None:
        return render.GONE
    await _send_card(context, opened, tr, reply_to=message)
    return None


async def _edit(message: Message, reply: render.Reply) -> None:
    """Show `reply` in place of `message`; plain text if Telegram refuses the markup."""
    try:
        await message.edit_text(reply.html, reply_markup=reply.keyboard)
    except BadRequest as exc:
        if "not modified" in str(exc).lower():
            return  # a double tap: the card already shows this result
        if not _markup_refused(exc):
            raise
        log.warning("Telegram refused our HTML (%s); editing as plain text", exc)
        await message.edit_text(
            render.plain(reply.html), parse_mode=None, reply_markup=reply.keyboard
        )


# ---------------------------------------------------------------------------------- inline


async def inline_query(update: Update, context: NewsContext) -> None:
    """@bot <question> anywhere: article results; an empty query shows the latest headlines."""
    query = update.inline_query
    if query is None:
        return
    desk = context.desk
    text = query.query.strip()
    if text:
        results = desk.ask(text, top=render.MAX_INLINE_RESULTS).results
    else:
        latest = desk.headlines(render.MAX_INLINE_RESULTS)
        results = [r for r in (desk.result(a.id) for a in latest) if r is not None]
    # An inline query has no chat of ours: dates show in the default timezone, words in
    # the asker's Telegram language.
    tr = i18n.translator(query.from_user.language_code)
    shown = render.inline_results(results, zone=desk.settings.timezone, tr=tr)
    await query.answer(shown, cache_time=30)


# ---------------------------------------------------------------------------------- errors, log


async def on_error(update: object, context: NewsContext) -> None:
    """Log every failure with its trace; tell the user only that something went wrong."""
    error = context.error
    log.error("handling an update failed: %r", error, exc_info=error)
    if isinstance(error, Forbidden | ChatMigrated) or not isinstance(update, Update):
        return  # nobody to tell, or the chat moved: a reply would fail the same way
    tr = i18n.ENGLISH
    with suppress(Exception):  # the failure may be the store itself: then say it in English
        tr = _tr(update, context)
    with suppress(TelegramError):
        if update.callback_query:
            await update.callback_query.answer(tr.gettext(render.SORRY))
        elif update.effective_message and update.effective_chat:
            await _reply(update, render.sorry(tr=tr))


async def log_update(update: object, context: NewsContext) -> None:
    """One INFO line per update: chat type, kind, command and latency; never message text."""
    if not isinstance(update, Update):
        return
    chat = update.effective_chat
    command = "-"
    if update.callback_query:
        kind = "button"
        command = (update.callback_query.data or "").partition(":")[0] or "-"
    elif update.inline_query:
        kind = "inline"
    elif update.message:
        kind = "message" if update.message.text or update.message.caption else "media"
        match = re.match(r"/(\w{1,32})", update.message.text or "")
        command = f"/{match[1]}" if match else "-"
    else:
        kind = "other"
    log.info(
        "update %s chat=%s kind=%s command=%s latency_ms=%.1f",
        update.update_id,
        chat.type if chat else "-",
        kind,
        command,
        (time.perf_counter() - context.started) * 1000,
    )


# ---------------------------------------------------------------------------------- helpers


async def _answer(
    context: NewsContext,
    message: Message,
    question: str,
    tr: Translator,
    *,
    story: int | None = None,
    private: bool = False,
) -> None:
    """Ask as a new card and send it quoting `message`. A reply to one of our messages is a
    follow-up (to a card) or a question within a digest; so is a digest story number."""
    replied = message.reply_to_message
    author = replied.from_user if replied else None
    replied_id = replied.message_id if replied and author and author.id == context.bot.id else None
    card = context.cards.ask(
        message.chat_id,
        question,
        now=context.bot_data.clock(),
        reply_to=replied_id,
        story=story,
        private=private,
    )
    await _send_card(context, card, tr, reply_to=message)


async def _send_card(
    context: NewsContext, card: Card, tr: Translator, *, reply_to: Message
) -> None:
    """Send a card and remember the message that shows it (replies to it find the card)."""
    reply = render.answer_card(card, zone=_zone(context, card.chat_id), tr=tr)
    sent = await _send(context.bot, card.chat_id, reply, reply_to=reply_to)
    if sent is not None:
        context.cards.sent(card, sent.message_id)


def _zone(context: NewsContext, chat_id: int) -> str:
    return context.desk.digests.timezone(chat_id)


def _story_number(question: str) -> tuple[int | None, str]:
    """ "2 who said it?" -> (2, "who said it?"): a leading story number of a digest."""
    match = re.fullmatch(r"(\d{1,2})(?:\s+(.*))?", question, flags=re.DOTALL)
    if match is None or not 1 <= int(match[1]) <= MAX_DIGEST_NUMBER:
        return None, question
    return int(match[1]), (match[2] or "").strip()


def _time_and_zone(args: list[str]) -> tuple[str | None, str | None]:
    """/subscribe arguments: "07:30 Asia/Baghdad", "07:30", "Asia/Baghdad" or nothing."""
    if not args:
        return None, None
    if any(ch.isdigit() for ch in args[0]):
        return args[0], " ".join(args[1:]) or None
    return None, " ".join(args)


def _tr(update: Update, context: NewsContext) -> Translator:
    """The words for this update: the chat's /language choice, else the sender's Telegram
    language, else English."""
    chat, user = update.effective_chat, update.effective_user
    code = context.desk.languages.language(
        chat.id if chat else None, user.language_code if user else None
    )
    return i18n.translator(code)


def _has_words(question: str) -> bool:
    """Whether `question` has a letter or digit to search for: not only diacritics,
    punctuation, emoji or tatweel (U+0640, a letter by category but only a stretch)."""
    return any(unicodedata.category(ch)[0] in "LN" and ch != "\u0640" for ch in question)


def _is_operator(update: Update, context: NewsContext) -> bool:
    """Whether the sender is one of the bot's operators (`admin_ids`)."""
    user = update.effective_user
    return user is not None and user.id in context.desk.settings.admin_ids


async def _may_configure(update: Update, context: NewsContext) -> bool:
    """Whether the sender may change this chat's digest: anyone in a private chat; in
    groups only admins (when digest.group_admins_only), asked of Telegram each time."""
    chat = update.effective_chat
    if chat is None or chat.type == Chat.PRIVATE:
        return True
    if not context.desk.settings.digest.group_admins_only:
        return True
    return await _is_admin(update, context)


async def _is_admin(update: Update, context: NewsContext) -> bool:
    """Whether the sender administers this chat (anyone does a private chat)."""
    chat, message, user = update.effective_chat, update.effective_message, update.effective_user
    if chat is None or chat.type == Chat.PRIVATE:
        return True
    if message is not None and message.sender_chat and message.sender_chat.id == chat.id:
        return True  # an anonymous admin, posting as the group
    if user is None:
        return False
    member = await context.bot.get_chat_member(chat.id, user.id)
    return member.status in (ChatMember.OWNER, ChatMember.ADMINISTRATOR)


async def _reply(update: Update, reply: render.Reply) -> None:
    """Answer the update's message in its chat (and forum topic), quoting it."""
    message = update.effective_message
    if message is None:
        return
    await _send(message.get_bot(), message.chat_id, reply, reply_to=message)


async def _send(
    bot: Bot, chat_id: int, reply: render.Reply, *, reply_to: Message
) -> Message | None:
    """Send `reply` cut to Telegram's limit (keyboard on the last part) as a reply to
    `reply_to`, in its forum topic; plain text if Telegram refuses the markup.

    Returns:
        The last message sent (the one with the keyboard), None when nothing was.
    """
    thread = reply_to.message_thread_id if reply_to.is_topic_message else None
    quote = ReplyParameters(reply_to.message_id, allow_sending_without_reply=True)
    parts = render.split(reply.html)
    sent: Message | None = None
    for number, part in enumerate(parts, start=1):
        keyboard = reply.keyboard if number == len(parts) else None
        try:
            sent = await bot.send_message(
                chat_id,
                part,
                reply_markup=keyboard,
                reply_parameters=quote,
                message_thread_id=thread,
            )
        except BadRequest as exc:
            if not _markup_refused(exc):
                raise
            log.warning("Telegram refused our HTML (%s); resending as plain text", exc)
            sent = await bot.send_message(
                chat_id,
                render.plain(part),
                parse_mode=None,
                reply_markup=keyboard,
                reply_parameters=quote,
                message_thread_id=thread,
            )
    return sent


def _markup_refused(error: BadRequest) -> bool:
    return "can't parse entities" in str(error).lower()


def _command_argument(message: Message | None) -> str:
    """The text after a leading /command (newlines kept); "" when there is none."""
    if message is None or not message.text:
        return ""
    return re.sub(r"^/\w+(@\w+)?", "", message.text, count=1).strip()


def _question(message: Message | None, bot_username: str | None) -> str:
    """A message's text as a question, without any @mention of the bot."""
    if message is None or not message.text:
        return ""
    text = message.text
    if bot_username:
        text = re.sub(rf"@{re.escape(bot_username)}\b", " ", text, flags=re.IGNORECASE)
    return text.strip()
