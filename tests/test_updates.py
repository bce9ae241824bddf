"""An update the bot cannot read is set aside: the updates after it are still answered.

PTB alone would log the batch and fetch it again forever, so that one update would stall
every chat; the real application is run against the local Bot API server to check it does not.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import pytest

from bot.settings import Settings
from bot.tg.app import build_application, polling
from bot.tg.context import NewsApp
from bot.tg.updates import readable_updates
from tests.botapi import BotApiServer
from tests.test_tg_e2e import AL_HOL, IRAN, ask

UNREADABLE = [
    {"message": {"message_id": 1}},  # no date, no chat
    {"message": {"message_id": 1, "date": "yesterday", "chat": {"id": 1, "type": "private"}}},
    {"callback_query": {"id": "1"}},  # no chat_instance, no from
    {"message": "hello"},
]
GOOD = {
    "update_id": 3,
    "message": {"message_id": 2, "date": 0, "chat": {"id": 1, "type": "private"}},
}


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[NewsApp]:
    async with polling(build_application(settings), poll_timeout=1) as application:
        yield application


@pytest.mark.parametrize("bad", UNREADABLE)
def test_an_unreadable_update_is_replaced_by_its_bare_id(
    bad: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    payload = json.dumps({"ok": True, "result": [{"update_id": 2, **bad}, GOOD]}).encode()
    kept = json.loads(readable_updates(payload))
    assert kept == {"ok": True, "result": [{"update_id": 2}, GOOD]}
    (record,) = caplog.records
    assert record.levelno == logging.ERROR and "update 2 cannot be read" in record.message
    assert "hello" not in caplog.text and "yesterday" not in caplog.text  # no content logged


def test_readable_answers_and_other_payloads_pass_unchanged() -> None:
    for payload in (
        json.dumps({"ok": True, "result": [GOOD]}).encode(),
        json.dumps({"ok": True, "result": []}).encode(),
        json.dumps({"ok": False, "error_code": 409, "description": "Conflict"}).encode(),
        b"not json",
    ):
        assert readable_updates(payload) is payload
    no_id = json.dumps({"ok": True, "result": [{"message": "x"}, GOOD]}).encode()
    assert json.loads(readable_updates(no_id))["result"] == [GOOD]


async def test_an_unreadable_update_does_not_stall_the_bot(
    botapi: BotApiServer, app: NewsApp, caplog: pytest.LogCaptureFixture
) -> None:
    dm = botapi.private_chat(botapi.user())
    other = botapi.private_chat(botapi.user("Bob"))
    assert (await ask(botapi, dm, "Al-Hol camp"))["text"].startswith(AL_HOL)

    bad = botapi.push_raw_update(UNREADABLE[0])
    asked = await dm.send("Pezeshkian visit")
    later = await other.send("Al-Hol camp")
    (reply,) = await botapi.wait_for_messages(dm.id)
    assert reply["text"].startswith(IRAN)
    assert reply["reply_to_message"]["message_id"] == asked.message_id
    (reply,) = await botapi.wait_for_messages(other.id)
    assert reply["reply_to_message"]["message_id"] == later.message_id
    assert caplog.text.count(f"update {bad} cannot be read (KeyError") == 1  # not fetched again
