"""End to end over the Bot API test server: story digests and followed topics."""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from bot.service import NewsDesk
from bot.settings import AlertSettings, FeedSettings, Settings
from bot.tg import jobs, push
from tests.botapi import BotApiServer
from tests.test_push_e2e import DIGEST, Clock, command, desk_of, running, until, utc

EVENTS = Path(__file__).parent / "fixtures" / "stories" / "events.jsonl"
BACKGROUND = EVENTS.with_name("background.jsonl")
TOPIC = "Kesselbach dam Lindau valley"


@pytest.fixture
def clock() -> Clock:
    return Clock(utc(2025, 3, 8, 7, 29, 58))


@pytest.fixture
def with_events(settings: Settings, tmp_path: Path) -> Settings:
    """The store starts with one event from three outlets, its follow-up and other news.

    The alerts job is left for later (an hour): tests that want it set check_seconds.
    """
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(EVENTS, seeds / "events.jsonl")
    shutil.copy(BACKGROUND, seeds / "background.jsonl")  # other news of February
    settings.seeds = seeds
    settings.alerts = AlertSettings(check_seconds=3600)
    return settings


async def test_three_outlets_one_event_is_one_digest_entry_with_also_in(
    botapi: BotApiServer, with_events: Settings, clock: Clock
) -> None:
    chat = botapi.private_chat(botapi.user("Ali"))
    async with running(with_events, clock):
        reply = await command(botapi, chat, "/subscribe 07:30 UTC")
        assert "07:30" in reply
        (digest,) = await botapi.wait_for_messages(chat.id, timeout=10)
    text = digest["text"]
    assert text.startswith(f"{DIGEST} · 8 Mar 2025")
    assert text.count("Kesselbach dam bursts, thousands flee the Lindau valley") == 1
    assert "also in: Valley Herald, Wire Daily" in text
    # the other outlets' versions of the event are not listed again
    assert "State of emergency as reservoir floods valley villages" not in text
    assert "what we know about the Lindau valley flood" not in text
    # the follow-up four days on is its own story
    assert "Corroded gates blamed as Kesselbach dam inquiry opens" in text
    links = [e["url"] for e in digest["entities"] if e["type"] == "text_link"]
    assert "https://harborpost.example/dam" in links
    assert "https://valleyherald.example/news/kesselbach" not in links


async def test_the_readme_example_digest_is_what_the_bot_sends(
    botapi: BotApiServer, with_events: Settings, clock: Clock
) -> None:
    """README's "A digest as users see it": the same chat, topic and articles, sent for real."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    intro = readme.index("A digest as users see it:")
    start = readme.index("```\n", intro) + 4
    example = readme[start : readme.index("\n```", start)]
    chat = botapi.private_chat(botapi.user("Ali"))
    async with running(with_events, clock):
        await command(botapi, chat, "/follow central bank interest rates")
        await command(botapi, chat, "/subscribe 07:30 UTC")
        (digest,) = await botapi.wait_for_messages(chat.id, timeout=10)
    sent = digest["text"].split("\n\n")
    shown = example.split("\n\n")
    # the README shows the first entries only: the same header, entries in order, and footer
    assert len(shown) >= 4 and shown[0] == sent[0] and shown[-1] == sent[-1]
    assert shown[1:-1] == sent[1 : len(shown) - 1]


async def test_follow_list_alert_once_and_unfollow(
    botapi: BotApiServer, with_events: Settings, clock: Clock
) -> None:
    chat = botapi.private_chat(botapi.user("Ali"))
    clock.set(utc(2025, 3, 3, 16, 0))  # the afternoon of the dam burst
    async with running(with_events, clock) as app:
        reply = await command(botapi, chat, f"/follow {TOPIC} --alert")
        assert f"Following {TOPIC}" in reply and "at most 3 a day" in reply
        assert "22:00-07:00" in reply
        assert f"{TOPIC} · alerts on" in await command(botapi, chat, "/following")
        # a topic of 2,000 characters: one clear line, and nothing stored
        reply = await command(botapi, chat, "/follow " + "flood " * 333)
        assert "too long: at most 100 characters" in reply
        assert await command(botapi, chat, "/follow") == (
            "Follow a topic: /follow Iraq elections. Add --alert to also get each new story "
            "on it as it comes in."
        )

        desk = desk_of(app)
        assert await push.send_alerts(app.bot, desk, clock()) == {"sent": 1}
        (alert,) = await botapi.wait_for_messages(chat.id)
        assert alert["text"].startswith(f"New on {TOPIC}\nKesselbach dam bursts")
        assert "also in: Valley Herald, Wire Daily" in alert["text"]
        # exactly once: the next checks find nothing to send
        assert await push.send_alerts(app.bot, desk, clock()) == {}
        assert await push.send_alerts(app.bot, desk, clock()) == {}

        reply = await command(botapi, chat, f"/unfollow {TOPIC.upper()}")
        assert reply == f"No longer following {TOPIC.upper()}."
        assert "does not follow" in await command(botapi, chat, f"/unfollow {TOPIC}")
        assert "follows no topics" in await command(botapi, chat, "/following")
    assert sum(1 for m in botapi.sent(chat.id) if m["text"].startswith("New on")) == 1


async def test_alerts_wait_out_quiet_hours(
    botapi: BotApiServer, with_events: Settings, clock: Clock
) -> None:
    chat = botapi.private_chat(botapi.user("Ali"))
    clock.set(utc(2025, 3, 3, 22, 30))  # after 22:00 UTC, the chat's quiet hours
    async with running(with_events, clock) as app:
        await command(botapi, chat, f"/follow {TOPIC} --alert")
        desk = desk_of(app)
        assert await push.send_alerts(app.bot, desk, clock()) == {}
        clock.set(utc(2025, 3, 4, 7, 5))  # quiet hours over, the story still fresh
        assert await push.send_alerts(app.bot, desk, clock()) == {"sent": 1}
        (alert,) = await botapi.wait_for_messages(chat.id)
        assert alert["text"].startswith(f"New on {TOPIC}")


async def test_only_group_admins_change_followed_topics(
    botapi: BotApiServer, with_events: Settings, clock: Clock
) -> None:
    admin, member = botapi.user("Alice"), botapi.user("Bob")
    group = botapi.group("Readers", [admin, member], supergroup=True)
    group.promote(admin)
    async with running(with_events, clock):
        refused = "Only this group’s admins can change the topics it follows."
        assert await command(botapi, group, f"/follow {TOPIC}", user=member) == refused
        assert "Following" in await command(botapi, group, f"/follow {TOPIC}", user=admin)
        assert await command(botapi, group, f"/unfollow {TOPIC}", user=member) == refused
        assert TOPIC in await command(botapi, group, "/following", user=member)


async def test_a_feed_refresh_alerts_a_following_chat_at_once(
    botapi: BotApiServer,
    with_events: Settings,
    httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jobs, "FIRST_FEED_DELAY", 2.0)  # time to /follow before it runs
    now = datetime.now(UTC)
    published = format_datetime(now - timedelta(hours=1))
    rss = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Alpine Wire</title>
    <item><title>Kesselbach dam breaks again, Lindau valley flooded for the second time</title>
    <link>https://alpinewire.example/dam-again</link><pubDate>{published}</pubDate>
    <description>Water poured over the repaired Kesselbach dam on Sunday and flooded the
    Lindau valley villages of Ober and Unterlindau again, the regional governor said.
    </description></item>
    <item><title>Ski lifts reopen after the storm</title><pubDate>{published}</pubDate>
    <description>The ski lifts above the town reopened on Sunday.</description></item>
    </channel></rss>"""
    httpserver.expect_request("/alpine.xml").respond_with_data(rss, content_type="text/xml")
    with_events.feeds = [FeedSettings(url=httpserver.url_for("/alpine.xml"))]
    # whatever the hour now
    with_events.alerts = AlertSettings(quiet_hours="00:00-00:00", check_seconds=0.5)
    chat = botapi.private_chat(botapi.user("Ali"))
    async with running(with_events, Clock(now)):
        assert "Following" in await command(botapi, chat, f"/follow {TOPIC} --alert")
        (alert,) = await botapi.wait_for_messages(chat.id, timeout=15)
    assert alert["text"].startswith(f"New on {TOPIC}\nKesselbach dam breaks again")
    assert "Ski lifts" not in alert["text"]


def _store_elsewhere(settings: Settings, tmp_path: Path, article: dict[str, str]) -> None:
    """Ingest one article as `newsbot ingest` would beside the bot: its own NewsDesk and
    connection on the same SQLite file."""
    path = tmp_path / f"{article['id']}.jsonl"
    path.write_text(json.dumps(article) + "\n", encoding="utf-8")
    other = NewsDesk.open(settings, seed=False)
    try:
        assert other.ingest([path]).added == 1
    finally:
        other.close()


async def test_stories_stored_by_another_process_are_alerted_once_across_restarts(
    botapi: BotApiServer, with_events: Settings, tmp_path: Path
) -> None:
    with_events.alerts = AlertSettings(quiet_hours="00:00-00:00", check_seconds=0.2)
    now = datetime.now(UTC)
    chat = botapi.private_chat(botapi.user("Ali"))

    def alerts_sent() -> list[str]:
        return [m["text"] for m in botapi.sent(chat.id) if m["text"].startswith("New on")]

    first = {
        "id": "dam-again",
        "source": "Alpine Wire",
        "published": (now - timedelta(hours=1)).isoformat(),
        "url": "https://alpinewire.example/dam-again",
        "headline": "Kesselbach dam breaks again, Lindau valley flooded for the second time",
        "body": "Water poured over the repaired Kesselbach dam and flooded the Lindau valley "
        "villages of Ober and Unterlindau again, the regional governor said.",
    }
    async with running(with_events, Clock(now)) as app:
        assert "Following" in await command(botapi, chat, f"/follow {TOPIC} --alert")
        await asyncio.to_thread(_store_elsewhere, with_events, tmp_path, first)
        (alert,) = await botapi.wait_for_messages(chat.id, timeout=15)
        assert alert["text"].startswith(f"New on {TOPIC}\nKesselbach dam breaks again")
        desk = desk_of(app)
        await until(lambda: desk.store.alert_mark == desk.store.generation, "the alert mark")
        await asyncio.sleep(1.0)  # five more checks: nothing more to send
    assert len(alerts_sent()) == 1

    # stored while the bot is down: sent after the restart, and the first alert is not resent
    second = {
        "id": "dam-inquiry-report",
        "source": "Alpine Wire",
        "published": (now - timedelta(minutes=10)).isoformat(),
        "url": "https://alpinewire.example/dam-report",
        "headline": "Kesselbach dam report: Lindau valley warned of cracks a year ago",
        "body": "Engineers warned a year ago that the Kesselbach dam above the Lindau valley "
        "had cracks in its spillway, a report published on Tuesday shows.",
    }
    _store_elsewhere(with_events, tmp_path, second)
    async with running(with_events, Clock(datetime.now(UTC))) as app:
        (alert,) = await botapi.wait_for_messages(chat.id, timeout=15)
        assert alert["text"].startswith(f"New on {TOPIC}\nKesselbach dam report")
        desk = desk_of(app)
        await until(lambda: desk.store.alert_mark == desk.store.generation, "the alert mark")
        await asyncio.sleep(1.0)
    assert len(alerts_sent()) == 2
