"""Two bot replicas on one store: a subscription made through one gets a digest job in the
other, and each feed is refreshed by one replica an interval.

Replica A polls the local Bot API server; replica B is a second Application on the same
SQLite file whose jobs are run by hand (a webhook replica would get no updates here).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pytest_httpserver import HTTPServer

from bot.settings import Settings
from bot.tg import jobs
from bot.tg.app import build_application
from bot.tg.context import NewsApp
from tests.botapi import BotApiServer
from tests.test_feed_sources import serve
from tests.test_push_e2e import Clock, clock, command, desk_of, running

__all__ = ["clock"]  # the fixture


@asynccontextmanager
async def idle_replica(settings: Settings, clock: Clock) -> AsyncIterator[NewsApp]:
    """A replica that gets no updates: started as `newsbot run` starts, jobs not running."""
    application = build_application(settings)
    application.bot_data.clock = clock
    await application.initialize()
    assert application.post_init is not None and application.post_shutdown is not None
    await application.post_init(application)
    try:
        yield application
    finally:
        await application.shutdown()
        await application.post_shutdown(application)


def digest_job(application: NewsApp, chat_id: int) -> object | None:
    assert application.job_queue is not None
    found = application.job_queue.get_jobs_by_name(jobs.digest_job_name(chat_id))
    return found[0].data if found else None


async def test_a_subscription_made_through_one_replica_is_planned_by_the_other(
    botapi: BotApiServer, settings: Settings, clock: Clock
) -> None:
    chat = botapi.private_chat(botapi.user("Ali"))
    async with running(settings, clock) as a, idle_replica(settings, clock) as b:
        assert digest_job(b, chat.id) is None
        await command(botapi, chat, "/subscribe 07:30 Asia/Baghdad")
        assert digest_job(a, chat.id) is not None
        assert jobs.sync_digests(b) == ([chat.id], [])
        planned = digest_job(b, chat.id)
        assert planned == desk_of(b).digests.subscription(chat.id)
        assert jobs.sync_digests(b) == ([], [])  # nothing changed: nothing replanned

        await command(botapi, chat, "/subscribe 09:00")  # a new time, through A
        assert jobs.sync_digests(b) == ([chat.id], [])
        assert getattr(digest_job(b, chat.id), "at", None) == "09:00"

        await command(botapi, chat, "/unsubscribe")
        assert jobs.sync_digests(b) == ([], [chat.id])
        assert digest_job(b, chat.id) is None


async def test_each_feed_is_refreshed_by_one_replica_an_interval(
    botapi: BotApiServer, settings: Settings, clock: Clock, httpserver: HTTPServer
) -> None:
    base = serve(httpserver)
    url = f"{base}/harbour.xml"

    def fetches() -> int:
        return sum(1 for request, _ in httpserver.log if request.path == "/harbour.xml")

    async with idle_replica(settings, clock) as a, idle_replica(settings, clock) as b:
        desk_of(a).sources.add(url)
        for replica in (a, b):
            jobs.sync_feeds(replica)
        assert fetches() == 1  # the add fetched it once

        async def run_feed_job(replica: NewsApp) -> None:
            assert replica.job_queue is not None
            (job,) = replica.job_queue.get_jobs_by_name(jobs.feed_job_name(url))
            await job.run(replica)

        await run_feed_job(a)
        assert fetches() == 2
        await run_feed_job(b)  # within A's interval: B leaves it
        assert fetches() == 2
        await run_feed_job(a)  # A holds the lease: its next run refreshes
        assert fetches() == 3
        tables = desk_of(a).store
        assert tables.lease_holder(jobs.feed_job_name(url), time.time()) == a.bot_data.replica
        # A dies: its lease runs out (here: released), and B takes the feed over
        tables.release_lease(jobs.feed_job_name(url), a.bot_data.replica)
        await run_feed_job(b)
        assert fetches() == 4
        await run_feed_job(a)
        assert fetches() == 4
