"""End to end over the Bot API test server: story digests and followed topics."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.settings import Settings
from tests.botapi import BotApiServer
from tests.test_push_e2e import DIGEST, Clock, command, running, utc

EVENTS = Path(__file__).parent / "fixtures" / "stories" / "events.jsonl"


@pytest.fixture(autouse=True)
def _timedeltas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22 warns otherwise; warnings are errors


@pytest.fixture
def clock() -> Clock:
    return Clock(utc(2025, 3, 8, 7, 29, 58))


@pytest.fixture
def with_events(settings: Settings, tmp_path: Path) -> Settings:
    """The store starts with one event from three outlets, its follow-up and other news."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(EVENTS, seeds / "events.jsonl")
    settings.seeds = seeds
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
