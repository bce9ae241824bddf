"""Webhook mode over real HTTP: the secret token is required, a wrong one is rejected."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from bot.settings import Settings, WebhookSettings
from bot.tg.app import build_application, webhook_options
from bot.tg.context import NewsApp
from tests.botapi import BotApiServer
from tests.ports import closed_port

SECRET = "s3cret-Token_1"


@pytest.fixture
async def webhook_app(botapi: BotApiServer, tmp_path: Path) -> AsyncIterator[tuple[NewsApp, str]]:
    # the webhook URL is set before its server binds: the port is held till it does (and on)
    with closed_port() as port:
        settings = Settings(
            db=tmp_path / "news.db",
            telegram_bot_token=SecretStr(botapi.token),
            telegram_api_base_url=botapi.base_url,
            webhook=WebhookSettings(
                url=f"http://127.0.0.1:{port}/telegram/hook",
                listen="127.0.0.1",
                port=port,
                secret_token=SecretStr(SECRET),
            ),
        )
        application = build_application(settings)
        updater = application.updater
        assert updater is not None
        await application.initialize()
        assert application.post_init is not None
        await application.post_init(application)
        await updater.start_webhook(**webhook_options(settings))
        await application.start()
        try:
            yield application, f"http://127.0.0.1:{port}/telegram/hook"
        finally:
            await updater.stop()
            await application.stop()
            await application.shutdown()
            assert application.post_shutdown is not None
            await application.post_shutdown(application)


def update(update_id: int, user: dict[str, object], text: str) -> dict[str, object]:
    """A private message from `user`, as Telegram would POST it to the webhook."""
    chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
    message = {"message_id": update_id, "date": 1_700_000_000, "chat": chat, "from": user}
    return {"update_id": update_id, "message": {**message, "text": text}}


async def test_webhook_rejects_a_wrong_secret_and_answers_the_right_one(
    botapi: BotApiServer, webhook_app: tuple[NewsApp, str]
) -> None:
    _, url = webhook_app
    assert botapi.webhook["url"] == url
    assert botapi.webhook["secret_token"] == SECRET
    user = botapi.user()
    chat_id = botapi.private_chat(user).id
    body = json.dumps(update(1, user, "How many US troops are in Iraq?"))
    headers = {"Content-Type": "application/json"}
    async with httpx.AsyncClient() as client:
        missing = await client.post(url, content=body, headers=headers)
        wrong = await client.post(
            url, content=body, headers={**headers, "X-Telegram-Bot-Api-Secret-Token": "nope"}
        )
        assert missing.status_code == 403
        assert wrong.status_code == 403
        assert botapi.calls_to("sendMessage", chat_id) == []

        right = await client.post(
            url, content=body, headers={**headers, "X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
        assert right.status_code == 200
    (reply,) = await botapi.wait_for_messages(chat_id)
    assert reply["text"].startswith("Iran’s president visits Iraq on first foreign trip")
    assert "2,500" in reply["text"]
