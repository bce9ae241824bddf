"""Wiring: build the Application (handlers, services, limits) and run it by polling or webhook."""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    ApplicationBuilder,
    BaseRateLimiter,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    ExtBot,
    InlineQueryHandler,
    JobQueue,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot import i18n
from bot.errors import ConfigError
from bot.service import NewsDesk
from bot.settings import Settings
from bot.tg import handlers, jobs, render
from bot.tg.context import BotData, NewsApp, NewsContext
from bot.tg.limiter import SharedRateLimiter
from bot.tg.push import PUSH_CONCURRENCY
from bot.tg.updates import UpdatesRequest

log = logging.getLogger(__name__)

# Only what the handlers use; Telegram then does not even send the rest.
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.INLINE_QUERY]
MAX_RETRIES = 3  # on 429 Too Many Requests, after waiting what Telegram asks
MESSAGES_PER_SECOND = 30  # Telegram's overall flood limit
MAX_CONCURRENT_UPDATES = 256
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Updates of one chat are handled in order; different chats concurrently.

    So a slow or failing chat (a 429 wait, a blocked user) does not hold up the others,
    and one user's question is never answered after their next one.
    """

    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT_UPDATES) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = _chat_key(update)
        if key is None:
            await coroutine
            return
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            await coroutine

    async def initialize(self) -> None:
        """Nothing to set up: locks are made per chat as updates arrive."""

    async def shutdown(self) -> None:
        """Nothing to release."""


def build_application(
    settings: Settings,
    desk: NewsDesk | None = None,
    *,
    rate_limiter: BaseRateLimiter[Any] | None = None,
) -> NewsApp:
    """The Telegram application with every handler, service and limit wired in.

    Args:
        settings: needs `telegram_bot_token`; `telegram_api_base_url` points at another
            Bot API server (a local one, or a test double).
        desk: an open NewsDesk to use (the caller closes it); None opens one from
            `settings` in post_init and closes it in post_shutdown.
        rate_limiter: replaces the default AIORateLimiter (Telegram's flood limits,
            retrying 429s up to MAX_RETRIES times); benchmarks pass one without limits.

    Raises:
        ConfigError: no bot token.
    """
    token = _token(settings)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs URLs, which hold the token
    job_queue: JobQueue[NewsContext] = JobQueue()
    builder = (
        ApplicationBuilder()
        .token(token)
        .context_types(ContextTypes(context=NewsContext, bot_data=BotData))
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .rate_limiter(rate_limiter or _rate_limiter())
        .get_updates_request(UpdatesRequest())  # an unreadable update does not stall polling
        .concurrent_updates(PerChatUpdateProcessor())
        .job_queue(job_queue)
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if settings.telegram_api_base_url:
        root = settings.telegram_api_base_url.rstrip("/")
        builder = builder.base_url(f"{root}/bot").base_file_url(f"{root}/file/bot")
    application: NewsApp = builder.build()
    application.bot_data.settings = settings
    application.bot_data.desk = desk
    _add_handlers(application)
    return application


def build_bot(
    settings: Settings, *, rate_limiter: BaseRateLimiter[Any] | None = None
) -> ExtBot[None]:
    """A bot for digest pushes outside the Application (`newsbot push`); same limits.

    Use it as `async with build_bot(settings) as bot:`, then `await share_rate_budget(bot,
    desk)` and `await push.push_due(bot, desk, now)`.

    Raises:
        ConfigError: no bot token.
    """
    root = (settings.telegram_api_base_url or "https://api.telegram.org").rstrip("/")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return ExtBot(
        _token(settings),
        base_url=f"{root}/bot",
        base_file_url=f"{root}/file/bot",
        defaults=Defaults(
            parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
        ),
        rate_limiter=rate_limiter or _rate_limiter(),
        # one connection per concurrent send, so a send leaves when the limiter lets it
        request=HTTPXRequest(connection_pool_size=PUSH_CONCURRENCY),
    )


async def share_rate_budget(bot: ExtBot[Any], desk: NewsDesk) -> None:
    """Count `bot` among the replicas on `desk`'s store that split Telegram's 30 messages/s
    (bot.tg.limiter) until it shuts down; nothing if it paces with another limiter.

    Every process that sends through the bot joins: `newsbot run` replicas and a
    `newsbot push` beside them, which would otherwise send at the whole budget on top of
    theirs.
    """
    limiter = bot.rate_limiter
    if isinstance(limiter, SharedRateLimiter):
        await limiter.attach(desk.store)


def _rate_limiter() -> SharedRateLimiter:
    """Telegram's flood limits (30 messages/s, 20 a minute per group), retrying 429s.

    The overall rate is paced evenly, a little under 30/s, rather than "30 per second": a
    burst of 30 leaves Telegram no slack for requests that arrive bunched up, and each
    429 stops every send for retry_after seconds. Replicas on one database split the
    budget between them (bot.tg.limiter).
    """
    return SharedRateLimiter(messages_per_second=MESSAGES_PER_SECOND, max_retries=MAX_RETRIES)


def _token(settings: Settings) -> str:
    token = settings.telegram_bot_token
    if token is None or not token.get_secret_value().strip():
        raise ConfigError("no Telegram bot token: set TELEGRAM_BOT_TOKEN (ask @BotFather for one)")
    return token.get_secret_value()


def _add_handlers(application: NewsApp) -> None:
    """Every handler in one place. Within a group the first match wins, so order matters."""
    message = filters.UpdateType.MESSAGE  # edits, channel posts and the like are ignored
    private = filters.ChatType.PRIVATE & message
    groups = filters.ChatType.GROUPS & message
    application.add_handlers(
        [
            # commands first, so "/ask ..." is never taken for a plain question
            CommandHandler("start", handlers.start, filters=message),
            CommandHandler("help", handlers.help_, filters=message),
            CommandHandler("ask", handlers.ask_command, filters=message),
            CommandHandler("headlines", handlers.headlines, filters=message),
            CommandHandler("subscribe", handlers.subscribe, filters=message),
            CommandHandler("unsubscribe", handlers.unsubscribe, filters=message),
            CommandHandler("settings", handlers.digest_settings, filters=message),
            CommandHandler("follow", handlers.follow, filters=message),
            CommandHandler("unfollow", handlers.unfollow, filters=message),
            CommandHandler("following", handlers.following, filters=message),
            CommandHandler("language", handlers.language, filters=message),
            CommandHandler("feeds", handlers.feeds, filters=message),
            CommandHandler("addfeed", handlers.add_feed, filters=message),
            CommandHandler("removefeed", handlers.remove_feed, filters=message),
            MessageHandler(private & filters.COMMAND, handlers.help_),  # unknown commands
            MessageHandler(private & filters.TEXT, handlers.ask_private),
            MessageHandler(private, handlers.text_only),
            # in groups only what is addressed to the bot; other chatter gets silence
            MessageHandler(
                groups & filters.TEXT & handlers.ADDRESSED_TO_BOT, handlers.ask_addressed
            ),
            CallbackQueryHandler(handlers.button),
            InlineQueryHandler(handlers.inline_query),
        ]
    )
    # a later group runs after the handler above (or its error), so it can time it
    application.add_handler(TypeHandler(Update, handlers.log_update), group=1)
    application.add_error_handler(handlers.on_error)


async def _post_init(application: NewsApp) -> None:
    """Open the NewsDesk once, schedule the jobs from the store, then describe the bot to
    Telegram (a refusal only logs)."""
    data = application.bot_data
    if data.desk is None:
        assert data.settings is not None  # set by build_application
        data.desk = NewsDesk.open(data.settings)
        data.owns_desk = True
    limiter = application.bot.rate_limiter
    if isinstance(limiter, SharedRateLimiter):
        data.replica = limiter.replica
    await share_rate_budget(application.bot, data.desk)
    jobs.start(application)  # digests per chat, feed refreshes, retention
    for language in i18n.languages():
        await _describe(application, language)


async def _describe(application: NewsApp, language: str) -> None:
    """Command menu and descriptions in `language`: the default language's are what users
    of any language without a catalogue see; a refusal only logs."""
    bot = application.bot
    tr = i18n.translator(language)
    code = None if language == i18n.DEFAULT_LANGUAGE else language
    describe: list[tuple[str, Callable[[], Awaitable[bool]]]] = [
        ("commands", lambda: bot.set_my_commands(render.commands(tr), language_code=code)),
        (
            "description",
            lambda: bot.set_my_description(tr.gettext(render.DESCRIPTION), language_code=code),
        ),
        (
            "short description",
            lambda: bot.set_my_short_description(
                tr.gettext(render.SHORT_DESCRIPTION), language_code=code
            ),
        ),
    ]
    for what, call in describe:
        try:
            await call()
        except TelegramError as exc:
            log.warning("Telegram refused the bot's %s (%s): %s", what, language, exc)


async def _post_shutdown(application: NewsApp) -> None:
    """Close the NewsDesk if post_init opened it."""
    data = application.bot_data
    if data.desk is not None and data.owns_desk:
        data.desk.close()
        data.desk, data.owns_desk = None, False


@asynccontextmanager
async def polling(application: NewsApp, *, poll_timeout: int = 10) -> AsyncIterator[NewsApp]:
    """Run `application` by long polling inside the current event loop until the block ends.

    The same steps as `run_polling` (init, post_init, start, stop, shutdown, post_shutdown)
    without taking over the loop or signals: for tests, benchmarks and embedding.
    """
    updater = application.updater
    assert updater is not None
    await application.initialize()
    try:
        if application.post_init:
            await application.post_init(application)
        await updater.start_polling(
            timeout=poll_timeout, allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False
        )
        await application.start()
        try:
            yield application
        finally:
            await updater.stop()
            await application.stop()
            if application.post_stop:
                await application.post_stop(application)
    finally:
        await application.shutdown()
        if application.post_shutdown:
            await application.post_shutdown(application)


def webhook_options(settings: Settings) -> dict[str, Any]:
    """Arguments for PTB's webhook server (`run_webhook` / `Updater.start_webhook`).

    PTB answers 403 to any request whose X-Telegram-Bot-Api-Secret-Token header is not
    `secret_token`, so only Telegram can post updates.

    Raises:
        ConfigError: `webhook.url` is set without a valid `webhook.secret_token`.
    """
    webhook = settings.webhook
    secret = webhook.secret_token.get_secret_value() if webhook.secret_token else ""
    if not _SECRET_TOKEN.fullmatch(secret):
        raise ConfigError(
            "webhook.url is set, so webhook.secret_token is required: 1-256 characters "
            "of A-Z, a-z, 0-9, _ and -"
        )
    return {
        "listen": webhook.listen,
        "port": webhook.port,
        "url_path": urlsplit(webhook.url or "").path.lstrip("/"),
        "webhook_url": webhook.url,
        "secret_token": secret,
        "allowed_updates": ALLOWED_UPDATES,
        "drop_pending_updates": False,
    }


def run(settings: Settings) -> None:
    """Serve until interrupted: a webhook when `settings.webhook.url` is set, else long polling.

    Raises:
        ConfigError: no bot token, or a webhook without a valid secret_token.
    """
    webhook = settings.webhook
    options = webhook_options(settings) if webhook.url else None
    application = build_application(settings)
    if options is not None:
        log.info("serving a webhook on %s:%d", webhook.listen, webhook.port)
        application.run_webhook(**options)
    else:
        log.info("long polling for updates")
        application.run_polling(allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False)


def _chat_key(update: object) -> int | None:
    """Which queue an update waits in: its chat, else its user (inline queries)."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat:
        return update.effective_chat.id
    return update.effective_user.id if update.effective_user else None
