"""End to end: operators add and remove feeds from the chat; the running bot's jobs follow.

The real Application polls the local Bot API server over HTTP; the feeds are served on
127.0.0.1 by pytest-httpserver; the store is a real SQLite file.
"""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from bot.service import NewsDesk
from bot.settings import Settings
from bot.tg import jobs
from tests.botapi import BotApiServer
from tests.test_feed_sources import FEEDS, FERRY, serve
from tests.test_push_e2e import Clock, command, desk_of, job_names, running, utc

JOB_INTERVAL_MINUTES = 9


@pytest.fixture
def clock() -> Clock:
    return Clock(utc(2024, 9, 11, 3, 0))


def hits(httpserver: HTTPServer, path: str) -> int:
    return sum(1 for request, _ in httpserver.log if request.path == path)


async def test_an_admin_adds_a_feed_and_asks_about_it_at_once(
    botapi: BotApiServer, settings: Settings, clock: Clock, httpserver: HTTPServer
) -> None:
    base = serve(httpserver)
    admin, visitor = botapi.user("Olga"), botapi.user("Vic")
    settings.admin_ids = [admin["id"]]
    settings.feed_refresh_minutes = JOB_INTERVAL_MINUTES
    dm, other = botapi.private_chat(admin), botapi.private_chat(visitor)
    async with running(settings, clock) as app:
        desk = desk_of(app)
        assert not any(name.startswith("feed:") for name in job_names(app))
        assert not desk.ask("ferry timetable").found

        refused = await command(botapi, other, f"/addfeed {base}/harbour.xml")
        assert "for the bot’s operators" in refused
        assert desk.sources.sources() == [] and hits(httpserver, "/harbour.xml") == 0

        added = await command(botapi, dm, f"/addfeed {base}/harbour.xml")
        assert added.startswith("Added Harbour Gazette: 3 items.")
        assert f"Newest: {FERRY}" in added
        # the next message is answered from the new feed's articles
        answer = await command(botapi, dm, "When does the first ferry leave?")
        assert answer.startswith(FERRY) and "Harbour Gazette" in answer

        # the running bot refreshes it from now on: a repeating job, which fetches again
        (job,) = app.job_queue.get_jobs_by_name(f"feed:{base}/harbour.xml")  # type: ignore[union-attr]
        assert job.job.trigger.interval.total_seconds() == JOB_INTERVAL_MINUTES * 60
        await job.run(app)
        assert hits(httpserver, "/harbour.xml") == 2
        assert desk.feeds()[0].last_success is not None

        shown = await command(botapi, dm, "/feeds")
        assert "Harbour Gazette (added)" in shown and "items 3" in shown

        for text, reply in [
            ("/addfeed", "Send /addfeed URL [name]"),
            (f"/addfeed {base}/harbour.xml", "already present"),
            (f"/addfeed {base}/plain", f"{base}/plain: a web page with no RSS or Atom feed"),
            ("/removefeed nothing-like-it", "no feed with the URL or name"),
        ]:
            got = await command(botapi, dm, text)
            assert reply in got
            assert got.startswith("Nothing changed: ") is (text != "/addfeed")
        assert [s.url for s in desk.sources.active()] == [f"{base}/harbour.xml"]

        refused = await command(botapi, other, "/removefeed Harbour Gazette")
        assert "operators" in refused and len(desk.sources.active()) == 1

        removed = await command(botapi, dm, "/removefeed Harbour Gazette")
        assert removed.startswith("Removed Harbour Gazette: no longer refreshed.")
        assert "3 articles are kept" in removed
        assert not app.job_queue.get_jobs_by_name(f"feed:{base}/harbour.xml")  # type: ignore[union-attr]
        assert desk.ask("ferry timetable").found  # the articles stay


async def test_added_feeds_are_scheduled_at_start_up(
    botapi: BotApiServer, settings: Settings, clock: Clock, httpserver: HTTPServer
) -> None:
    base = serve(httpserver)
    admin = botapi.user("Olga")
    settings.admin_ids = [admin["id"]]
    async with running(settings, clock) as app:
        await command(botapi, botapi.private_chat(admin), f"/addfeed {base}/ Mountain")
        assert f"feed:{base}/atom.xml" in job_names(app)
    async with running(settings, clock) as app:  # a restart: the stored feed is refreshed
        name = f"feed:{base}/atom.xml"
        assert name in job_names(app)
        desk = desk_of(app)
        assert desk.sources.active()[0].name == "Mountain"
        # removed by another process (`newsbot feeds remove`): its job stops at its next run
        desk.store.remove_feed_source(f"{base}/atom.xml")
        (job,) = app.job_queue.get_jobs_by_name(name)  # type: ignore[union-attr]
        fetched = hits(httpserver, "/atom.xml")
        await job.run(app)
        assert hits(httpserver, "/atom.xml") == fetched and name not in job_names(app)

        # added by another process (`newsbot feeds add` beside `newsbot run`): the sync job
        # gives it a refresh job, and takes it away again once that process removes it
        other = NewsDesk.open(settings)
        try:
            other.sources.add(f"{base}/harbour.xml")
            (sync,) = app.job_queue.get_jobs_by_name(jobs.FEED_SYNC_JOB)  # type: ignore[union-attr]
            await sync.run(app)
            assert f"feed:{base}/harbour.xml" in job_names(app)
            assert desk.ask("ferry timetable").found
            other.sources.remove(f"{base}/harbour.xml")
            await sync.run(app)
            assert not any(n.startswith("feed:") for n in job_names(app))
        finally:
            other.close()


async def test_an_admin_removes_a_feed_with_its_articles(
    botapi: BotApiServer, settings: Settings, clock: Clock, httpserver: HTTPServer
) -> None:
    base = serve(httpserver)
    # the same items at a second address: both feeds carry them
    mirror = (FEEDS / "rss2_content_encoded.xml").read_bytes()
    httpserver.expect_request("/mirror.xml").respond_with_data(mirror, content_type="text/xml")
    admin, visitor = botapi.user("Olga"), botapi.user("Vic")
    settings.admin_ids = [admin["id"]]
    dm, other = botapi.private_chat(admin), botapi.private_chat(visitor)
    async with running(settings, clock) as app:
        desk = desk_of(app)
        before = desk.store.count()
        await command(botapi, dm, f"/addfeed {base}/harbour.xml")
        await command(botapi, dm, f"/addfeed {base}/mirror.xml Mirror")
        stored = desk.store.count()
        assert stored == before + 3 and desk.ask("ferry timetable").found

        refused = await command(botapi, other, "/removefeed Mirror purge")
        assert "operators" in refused and desk.store.count() == stored

        # purging one of two feeds that carried the items deletes none of them
        shared = await command(botapi, dm, "/removefeed Harbour Gazette purge")
        assert shared.startswith("Removed Harbour Gazette: no longer refreshed")
        assert "its 0 articles deleted. 3 articles other feeds also carried are kept." in shared
        assert desk.store.count() == stored and desk.ask("ferry timetable").found

        purged = await command(botapi, dm, "/removefeed Mirror purge")
        assert purged == "Removed Mirror: no longer refreshed, and its 3 articles deleted."
        assert desk.store.count() == before and not desk.ask("ferry timetable").found
        assert not any(name.startswith("feed:") for name in job_names(app))
        assert desk.sources.sources() == []

        usage = await command(botapi, dm, "/removefeed")
        assert "add purge to delete its articles too" in usage
