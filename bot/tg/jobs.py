"""Scheduled work in the running bot: one digest job per chat, feed refreshes, topic
alerts, retention.

Job names say what they are for and make rescheduling idempotent: "digest:<chat_id>",
"feed:<url>", "feeds:sync", "digests:sync", "alerts" and "retention". Scheduling a name
first removes any job with that name, so a job is replaced, never doubled. Digest jobs are
one-shot: each run plans the next.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram.ext import Job

from bot.models import FeedSource
from bot.service import NewsDesk
from bot.tg import push
from bot.tg.context import NewsApp, NewsContext

log = logging.getLogger(__name__)

FIRST_FEED_DELAY = 5.0  # seconds after start-up before the first feed refresh
FEED_STAGGER = 1.0  # seconds between the first refreshes of successive feeds
# A feed's lease lasts this share of its interval: the holder's next run renews it, and the
# other replicas' runs, at other moments of the interval, find it taken.
FEED_LEASE_SHARE = 0.9
FEED_SYNC = timedelta(minutes=1)  # how soon a feed added or removed elsewhere is followed
FEED_SYNC_JOB = "feeds:sync"
DIGEST_SYNC = timedelta(minutes=1)  # how soon a subscription made elsewhere gets a job here
DIGEST_SYNC_JOB = "digests:sync"
ALERTS_JOB = "alerts"
FIRST_PRUNE_DELAY = 60.0
PRUNE_EVERY = timedelta(days=1)
LEASE_MARGIN = 1.0  # seconds after a foreign claim expires before trying again
FAILED_RETRY_SECONDS = 15 * 60  # a failed digest is tried again this often, within grace
FULL_ALERT_PASS = 10 * 60.0  # seconds: alerts are offered at least this often, new or not

# A one-shot job whose moment passed while the loop was busy (thousands due at 08:00)
# must still run, however late: APScheduler would otherwise drop it after 1 s.
_RUN_LATE = {"misfire_grace_time": None, "coalesce": True}


def digest_job_name(chat_id: int) -> str:
    return f"digest:{chat_id}"


def feed_job_name(url: str) -> str:
    return f"feed:{url}"


def start(application: NewsApp) -> None:
    """Schedule everything from the store and settings (called once the desk is open)."""
    rebuild_digests(application)
    schedule_digest_sync(application)
    schedule_feeds(application)
    schedule_feed_sync(application)
    schedule_retention(application)
    schedule_alerts(application)


# ---------------------------------------------------------------------------------- digests


def rebuild_digests(application: NewsApp) -> int:
    """One job per active subscription, due ones first; logs digests missed beyond grace.

    Returns:
        How many digest jobs are scheduled.
    """
    desk = _desk(application)
    now = application.bot_data.clock()
    for job in application.job_queue.jobs() if application.job_queue else ():
        if job.name and job.name.startswith("digest:"):
            job.schedule_removal()
    count = 0
    for subscription in desk.digests.active():
        late = desk.digests.skip_missed(subscription, now)
        if late is not None:
            log.warning(
                "chat %d: digest for %s skipped, beyond the grace window",
                subscription.chat_id,
                late.day,
            )
        if schedule_digest(application, subscription.chat_id) is not None:
            count += 1
    log.info("scheduled %d digest jobs", count)
    return count


def schedule_digest(
    application: NewsApp, chat_id: int, *, after: datetime | None = None
) -> datetime | None:
    """(Re)place the chat's digest job; remove it when the chat has no active subscription.

    Args:
        after: plan the first delivery strictly after this moment (default: a digest due
            now runs now, else the next one).

    Returns:
        When the job runs (by the bot's clock), or None when there is no job.
    """
    cancel_digest(application, chat_id)
    desk = _desk(application)
    subscription = desk.digests.subscription(chat_id)
    if subscription is None or not subscription.active or application.job_queue is None:
        return None
    now = application.bot_data.clock()
    if after is None and desk.digests.due(subscription, now) is not None:
        when = now
    else:
        when = max(desk.digests.next_delivery(subscription, after or now).at, now)
    application.job_queue.run_once(
        _digest_job,
        (when - now).total_seconds(),
        name=digest_job_name(chat_id),
        chat_id=chat_id,
        data=subscription,  # what it was planned for: see sync_digests
        job_kwargs=_RUN_LATE,
    )
    return when


def cancel_digest(application: NewsApp, chat_id: int) -> None:
    if application.job_queue is None:
        return
    for job in application.job_queue.get_jobs_by_name(digest_job_name(chat_id)):
        job.schedule_removal()


async def _digest_job(context: NewsContext) -> None:
    """Deliver one chat's digest, then plan its next one."""
    application = context.app
    job = context.job
    if job is None or job.chat_id is None:
        return
    chat_id = job.chat_id
    desk = context.desk
    subscription = await asyncio.to_thread(desk.digests.subscription, chat_id)
    if subscription is None or not subscription.active:
        return
    moved: list[int] = []

    def on_move(old: int, new: int) -> None:
        moved.append(new)

    async with context.bot_data.push_slots:
        now = context.bot_data.clock()
        outcome = await push.deliver(context.bot, desk, subscription, now, on_move=on_move)
    log.info("digest chat=%d outcome=%s", chat_id, outcome)
    for new in moved:
        cancel_digest(application, chat_id)
        chat_id = new
    now = context.bot_data.clock()
    still_due = await asyncio.to_thread(_still_due, desk, chat_id, now)
    if outcome == push.TAKEN and still_due:
        # Claimed by an attempt that may have died (a crash, another process): look again
        # once its lease has run out.
        lease = desk.settings.digest.claim_lease_seconds
        _retry_later(application, chat_id, lease + LEASE_MARGIN)
        return
    if outcome == push.FAILED and still_due:
        # Telegram or the network failed us a few times in a row: try again later today,
        # for as long as the grace window lasts.
        _retry_later(application, chat_id, FAILED_RETRY_SECONDS)
        return
    schedule_digest(application, chat_id, after=now)


def _still_due(desk: NewsDesk, chat_id: int, now: datetime) -> bool:
    current = desk.digests.subscription(chat_id)
    return current is not None and desk.digests.due(current, now) is not None


def _retry_later(application: NewsApp, chat_id: int, seconds: float) -> None:
    cancel_digest(application, chat_id)
    if application.job_queue is not None:
        application.job_queue.run_once(
            _digest_job,
            seconds,
            name=digest_job_name(chat_id),
            chat_id=chat_id,
            data=_desk(application).digests.subscription(chat_id),
            job_kwargs=_RUN_LATE,
        )


def _repeat_alone(
    application: NewsApp,
    callback: Callable[[NewsContext], Coroutine[Any, Any, None]],
    name: str,
    **options: Any,
) -> Job[NewsContext] | None:
    """`run_repeating(callback, name=name, **options)` in place of any job of that name
    (a second start-up must not double a bot-wide job); None without a job queue."""
    queue = application.job_queue
    if queue is None:
        return None
    for old in queue.get_jobs_by_name(name):
        old.schedule_removal()
    return queue.run_repeating(callback, name=name, **options)


def schedule_digest_sync(application: NewsApp) -> Job[NewsContext] | None:
    """A job that every DIGEST_SYNC makes the digest jobs match the subscriptions in the
    store: a chat that subscribed, changed its time or left through another replica (or
    `newsbot` beside the bot) gets its job here too, so any replica can send its digest."""
    return _repeat_alone(
        application, _digest_sync_job, DIGEST_SYNC_JOB, interval=DIGEST_SYNC, first=DIGEST_SYNC
    )


async def _digest_sync_job(context: NewsContext) -> None:
    sync_digests(context.app)


def sync_digests(application: NewsApp) -> tuple[list[int], list[int]]:
    """(Re)plan the digest jobs of chats whose subscription is not the one their job was
    planned for (new or changed), and remove the jobs of chats no longer subscribed.

    Returns:
        The chats whose jobs were (re)planned, and those whose jobs were removed.
    """
    queue = application.job_queue
    if queue is None:
        return [], []
    active = {s.chat_id: s for s in _desk(application).digests.active()}
    planned = {
        job.chat_id: job.data
        for job in queue.jobs()
        if (job.name or "").startswith("digest:") and job.chat_id is not None
    }
    changed = sorted(chat for chat, sub in active.items() if planned.get(chat) != sub)
    gone = sorted(planned.keys() - active.keys())
    for chat_id in changed:
        schedule_digest(application, chat_id)
    for chat_id in gone:
        cancel_digest(application, chat_id)
    if changed or gone:
        log.info("digest jobs: %d planned, %d removed from the store", len(changed), len(gone))
    return changed, gone


# ---------------------------------------------------------------------------------- feeds


def schedule_feeds(application: NewsApp) -> list[Job[NewsContext]]:
    """One repeating job per feed refreshed (the config file's and added ones); the first
    runs soon after start-up, staggered."""
    scheduled: list[Job[NewsContext]] = []
    for index, source in enumerate(_desk(application).sources.active()):
        job = sync_feed(application, source.url, first=FIRST_FEED_DELAY + index * FEED_STAGGER)
        if job is not None:
            scheduled.append(job)
    return scheduled


def schedule_feed_sync(application: NewsApp) -> Job[NewsContext] | None:
    """A job that every FEED_SYNC makes the feed jobs match the store, for feeds another
    process added or removed (`newsbot feeds add/remove` while the bot runs)."""
    return _repeat_alone(
        application, _feed_sync_job, FEED_SYNC_JOB, interval=FEED_SYNC, first=FEED_SYNC
    )


async def _feed_sync_job(context: NewsContext) -> None:
    sync_feeds(context.app)


def sync_feeds(application: NewsApp) -> tuple[list[str], list[str]]:
    """Schedule feeds that have no job and remove jobs of feeds that are gone.

    Returns:
        The URLs whose jobs were added, and those whose jobs were removed.
    """
    queue = application.job_queue
    if queue is None:
        return [], []
    active = {source.url for source in _desk(application).sources.active()}
    scheduled = {
        str(job.data)
        for job in queue.jobs()
        if (job.name or "").startswith("feed:") and isinstance(job.data, str)
    }
    added, removed = sorted(active - scheduled), sorted(scheduled - active)
    for url in added + removed:
        sync_feed(application, url)  # an added one was fetched by whoever added it
    if added or removed:
        log.info("feed jobs: %d added, %d removed by another process", len(added), len(removed))
    return added, removed


def sync_feed(
    application: NewsApp, url: str, *, first: float | None = None
) -> Job[NewsContext] | None:
    """Make the jobs match the feed list for `url`: (re)place its refresh job when the feed
    is refreshed, remove it when not (after /removefeed; a config-file feed stays).

    Args:
        first: seconds before the first refresh; None waits one interval (the feed was
            just fetched).

    Returns:
        The job, or None when the feed has none now.
    """
    queue = application.job_queue
    if queue is None:
        return None
    desk = _desk(application)
    source = desk.sources.source(url)
    for name in {url, source.url if source else url}:
        for old in queue.get_jobs_by_name(feed_job_name(name)):
            old.schedule_removal()
    if source is None:
        return None
    interval = _interval(desk, source)
    start = datetime.now(UTC) + (interval if first is None else timedelta(seconds=first))
    return queue.run_repeating(
        _feed_job,
        interval=interval,
        first=start,
        name=feed_job_name(source.url),
        data=source.url,
        job_kwargs={
            # a refresh still running when the next is due is skipped, not stacked
            "max_instances": 1,
            "coalesce": True,
            # Jobs added before the scheduler starts (post_init) get their first run time
            # when it starts; one already past would move a whole interval on. Pinned, it
            # runs late instead.
            "next_run_time": start,
            "misfire_grace_time": None,
        },
    )


def _interval(desk: NewsDesk, source: FeedSource) -> timedelta:
    return timedelta(minutes=source.refresh_minutes or desk.settings.feed_refresh_minutes)


async def _feed_job(context: NewsContext) -> None:
    """Refresh one feed in a worker thread, so neither the loop nor other feeds wait."""
    job = context.job
    if job is None or not isinstance(job.data, str):
        return
    source = context.desk.sources.source(job.data)
    if source is None:  # removed by `newsbot feeds remove`
        job.schedule_removal()
        return
    if not await _take_feed(context, job.data, _interval(context.desk, source)):
        return  # another replica refreshed it within this interval
    await refresh_feed(context.desk, job.data)  # new stories: the alerts job sends them


async def _take_feed(context: NewsContext, url: str, interval: timedelta) -> bool:
    """Whether this replica refreshes `url` now: it takes the feed's lease for most of an
    interval, so replicas on one database refresh each feed once an interval between them;
    if the holder dies, another takes over once the lease runs out."""
    seconds = interval.total_seconds() * FEED_LEASE_SHARE
    return await asyncio.to_thread(
        context.desk.store.take_lease,
        feed_job_name(url),
        context.bot_data.replica,
        time.time(),
        seconds,
    )


async def refresh_feed(desk: NewsDesk, url: str) -> bool:
    """Fetch and ingest one feed off the event loop; one log line with how it went.

    Returns:
        Whether any article was added or changed.
    """
    try:
        report = await asyncio.to_thread(desk.sources.refresh, url)
    except Exception:  # a bug in one feed's parsing must not kill its future refreshes
        log.exception("feed %s: refresh crashed", url)
        return False
    log.info(
        "feed %s: added %d, updated %d, failed %d%s",
        url,
        report.added,
        report.updated,
        report.failed,
        f" ({report.problems[0].reason})" if report.problems else "",
    )
    return bool(report.added or report.updated)


# ---------------------------------------------------------------------------------- alerts


@dataclass
class _AlertPasses:
    last_full: float = float("-inf")  # time.monotonic() of the last pass


def schedule_alerts(application: NewsApp) -> Job[NewsContext] | None:
    """A repeating job offering alerts the stories stored since the last pass, every
    `alerts.check_seconds`, whoever stored them."""
    every = _desk(application).settings.alerts.check_seconds
    return _repeat_alone(
        application,
        _alerts_job,
        ALERTS_JOB,
        interval=every,
        first=every,
        data=_AlertPasses(),
        job_kwargs={"max_instances": 1, "coalesce": True},
    )


async def _alerts_job(context: NewsContext) -> None:
    """Send the alerts of stories stored since the last pass: by this bot's feed refresh,
    /addfeed, or `newsbot ingest` beside it. Every FULL_ALERT_PASS a pass runs anyway,
    for stories held back by quiet hours, the daily cap or a failed send."""
    job = context.job
    if job is None or not isinstance(job.data, _AlertPasses):
        return
    follows = context.desk.follows
    generation = await asyncio.to_thread(follows.unalerted)
    started = time.monotonic()
    if generation is None and started - job.data.last_full < FULL_ALERT_PASS:
        return
    await push.send_alerts(context.bot, context.desk, context.bot_data.clock())
    job.data.last_full = started
    if generation is not None:
        follows.covered(generation)


# ---------------------------------------------------------------------------------- retention


def schedule_retention(application: NewsApp) -> Job[NewsContext] | None:
    """A daily job deleting expired answer cards, and articles older than `retention_days`
    when that is set."""
    return _repeat_alone(
        application, _retention_job, "retention", interval=PRUNE_EVERY, first=FIRST_PRUNE_DELAY
    )


async def _retention_job(context: NewsContext) -> None:
    """Prune expired cards, and articles older than the retention window, in a worker thread."""
    now = context.bot_data.clock()
    cards = await asyncio.to_thread(context.cards.prune, now)
    log.info("retention: deleted %d expired cards", cards)
    days = context.desk.settings.retention_days
    if days is None:
        return
    cutoff = now - timedelta(days=days)
    removed = await asyncio.to_thread(context.desk.prune, cutoff)
    log.info("retention: deleted %d articles published before %s", removed, cutoff.date())


def _desk(application: NewsApp) -> NewsDesk:
    desk = application.bot_data.desk
    if desk is None:
        raise RuntimeError("the NewsDesk is not open: post_init has not run")
    return desk
