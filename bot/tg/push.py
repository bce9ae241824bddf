"""Daily digest delivery over Telegram: claim, compose, render, send, record (exactly once).

One delivery is a claim in the store (per chat and local day, with a lease), the send, and
the record of what was sent. The store calls (durable commits, a round trip each on
PostgreSQL) run in worker threads, so the event loop goes on sending and answering
meanwhile. A crash between send and record leaves a claim that expires
after `digest.claim_lease_seconds`; the digest is then sent again. So no digest is lost,
and a duplicate is possible only for a chat whose send was in flight at the crash.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.digest import Digest
from bot.i18n import translator
from bot.models import Subscription
from bot.schedule import Due, parse_timezone
from bot.service import NewsDesk
from bot.tg import render

log = logging.getLogger(__name__)

# Outcomes of one delivery (the keys of push_due's counts).
SENT = "sent"  # the digest went out and is recorded
EMPTY = "empty"  # nothing new and digest.send_when_empty is off: recorded as skipped
NOT_DUE = "not_due"  # not its time, or past the grace window (see jobs.rebuild_digests)
TAKEN = "taken"  # already sent or skipped today, or claimed by another attempt
GONE = "gone"  # 403: blocked, kicked or deleted; the subscription is deactivated
FAILED = "failed"  # still failing after MAX_ATTEMPTS; recorded, may be claimed again

PUSH_CONCURRENCY = 32  # chats sent to at once; the rate limiter paces the actual sends
MAX_ATTEMPTS = 3  # sends per delivery on network errors and 429s the limiter gave up on
MAX_RETRY_WAIT = 60.0  # seconds; a longer flood wait fails the delivery instead

Moved = Callable[[int, int], None]


async def push_due(
    bot: Bot,
    desk: NewsDesk,
    now: datetime,
    *,
    chat_id: int | None = None,
    force: bool = False,
    concurrency: int = PUSH_CONCURRENCY,
) -> dict[str, int]:
    """Deliver every due digest (or only `chat_id`'s), `concurrency` chats at a time.

    One chat's failure never stops the others. With `force`, today's digest goes out now
    even before its time, still at most once per local day.

    Returns:
        How many chats ended with each outcome, e.g. {"sent": 980, "gone": 2, ...}.
    """
    active = await asyncio.to_thread(desk.digests.active)
    subscriptions = [s for s in active if chat_id is None or s.chat_id == chat_id]
    slots = asyncio.Semaphore(concurrency)

    async def one(subscription: Subscription) -> str:
        async with slots:
            return await deliver(bot, desk, subscription, now, force=force)

    outcomes = await asyncio.gather(*(one(s) for s in subscriptions))
    counts = dict(Counter(outcomes))
    log.info("digest push: %s", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return counts


async def deliver(
    bot: Bot,
    desk: NewsDesk,
    subscription: Subscription,
    now: datetime,
    *,
    force: bool = False,
    on_move: Moved | None = None,
) -> str:
    """Deliver one chat's digest if due: claim, compose, render, send, record.

    Args:
        force: send today's digest now even if its time has not come.
        on_move: called with (old, new) chat ids when the group became a supergroup;
            the digest is then sent to the new id.

    Returns:
        One of SENT, EMPTY, NOT_DUE, TAKEN, GONE, FAILED.
    """
    claimed = await asyncio.to_thread(_claim, desk, subscription, now, force)
    if isinstance(claimed, str):
        return claimed
    digest = claimed
    try:
        return await _send_claimed(bot, desk, digest, on_move)
    except Exception as exc:  # a bug must not stop the other chats, nor hold the claim
        log.exception("chat %d: digest delivery crashed", digest.chat_id)
        await asyncio.to_thread(desk.digests.failed, digest.chat_id, digest.day, repr(exc))
        return FAILED


def _claim(desk: NewsDesk, subscription: Subscription, now: datetime, force: bool) -> Digest | str:
    """The store's part before the send (blocking): the claimed digest to send, or the
    outcome when there is nothing to send (NOT_DUE, TAKEN, EMPTY)."""
    digests = desk.digests
    chat_id = subscription.chat_id
    due = digests.due(subscription, now)
    if due is None and force:
        due = Due(now.astimezone(parse_timezone(subscription.timezone)).date(), now)
    if due is None:
        return NOT_DUE
    if not digests.claim(chat_id, due.day, now):
        return TAKEN
    digest = digests.compose(chat_id, due.day)
    if not digest.items and not desk.settings.digest.send_when_empty:
        digests.delivered(digest, [])
        return EMPTY
    return digest


async def _send_claimed(bot: Bot, desk: NewsDesk, digest: Digest, on_move: Moved | None) -> str:
    """Send a claimed digest and record the outcome; retries are bounded."""
    digests = desk.digests
    language = await asyncio.to_thread(desk.languages.language, digest.chat_id)
    reply = render.digest(digest, tr=translator(language))
    reason = "no attempt"
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            message_ids = await send(bot, digest.chat_id, reply)
        except Forbidden as exc:
            await asyncio.to_thread(digests.chat_gone, digest.chat_id, digest.day, str(exc))
            return GONE
        except ChatMigrated as exc:
            old, new = digest.chat_id, exc.new_chat_id
            await asyncio.to_thread(digests.chat_moved, old, new)  # the claim moves too
            if on_move is not None:
                on_move(old, new)
            digest = digest.model_copy(update={"chat_id": new})
            reason = str(exc)
            continue
        except RetryAfter as exc:  # the rate limiter already retried and gave up
            wait = _seconds(exc)
            reason = str(exc)
            if wait > MAX_RETRY_WAIT:
                break
            log.warning("chat %d: flood wait %.0f s (attempt %d)", digest.chat_id, wait, attempt)
            await asyncio.sleep(wait)
            continue
        except BadRequest as exc:  # will not get better by retrying (BadRequest is a NetworkError)
            reason = str(exc)
            break
        except NetworkError as exc:  # timeouts and connection errors: the next try may work
            reason = str(exc)
            log.warning("chat %d: send failed (%s), attempt %d", digest.chat_id, exc, attempt)
            if attempt < MAX_ATTEMPTS:
                await asyncio.sleep(attempt)
            continue
        except TelegramError as exc:
            reason = str(exc)
            break
        await asyncio.to_thread(digests.delivered, digest, message_ids)
        return SENT
    log.error("chat %d: digest for %s failed: %s", digest.chat_id, digest.day, reason)
    await asyncio.to_thread(digests.failed, digest.chat_id, digest.day, reason)
    return FAILED


async def send_alerts(bot: Bot, desk: NewsDesk, now: datetime) -> dict[str, int]:
    """Send every due topic alert (see bot.follows): claim, send, record, exactly once per
    (chat, story). One chat's failure never stops the others; a failed alert is tried
    again at the next check.

    Returns:
        How many alerts ended each way (SENT, TAKEN, GONE, FAILED).
    """
    counts: Counter[str] = Counter()
    follows = desk.follows
    for alert in await asyncio.to_thread(follows.due_alerts, now):
        if not await asyncio.to_thread(follows.claim, alert, now):
            counts[TAKEN] += 1
            continue
        language = await asyncio.to_thread(desk.languages.language, alert.chat_id)
        reply = render.alert(alert, tr=translator(language))
        try:
            await send(bot, alert.chat_id, reply)
        except Forbidden as exc:
            await asyncio.to_thread(follows.chat_gone, alert, str(exc))
            counts[GONE] += 1
            continue
        except TelegramError as exc:
            log.warning("chat %d: alert of story %d failed: %s", alert.chat_id, alert.story_id, exc)
            await asyncio.to_thread(follows.failed, alert, str(exc))
            counts[FAILED] += 1
            continue
        await asyncio.to_thread(follows.sent, alert)
        counts[SENT] += 1
    if counts:
        log.info("alerts: %s", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return dict(counts)


async def send(bot: Bot, chat_id: int, reply: render.Reply) -> list[int]:
    """Send `reply` in as many messages as Telegram's length limit needs; their ids.

    Falls back to plain text for a part whose HTML Telegram refuses.
    """
    parts = render.split(reply.html)
    sent: list[int] = []
    for number, part in enumerate(parts, start=1):
        keyboard = reply.keyboard if number == len(parts) else None
        try:
            message = await bot.send_message(
                chat_id,
                part,
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        except BadRequest as exc:
            if "can't parse entities" not in str(exc).lower():
                raise
            log.warning("Telegram refused our HTML (%s); resending as plain text", exc)
            message = await bot.send_message(
                chat_id, render.plain(part), parse_mode=None, reply_markup=keyboard
            )
        sent.append(message.message_id)
    return sent


def _seconds(error: RetryAfter) -> float:
    value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
