"""Shared fixtures. Everything runs offline: Telegram is played by tests.botapi."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.settings import Settings
from tests.botapi import BotApiServer


@pytest.fixture
async def botapi(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[BotApiServer]:
    """A local Bot API server on 127.0.0.1 (random port), stopped after the test."""
    # PTB 22 warns when it builds RetryAfter unless opted in to timedeltas; warnings are errors
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with BotApiServer() as server:
        yield server


@pytest.fixture
def settings(botapi: BotApiServer, tmp_path: Path) -> Settings:
    """Settings for a bot talking to `botapi`, with its store in a fresh SQLite file."""
    return Settings(
        db=tmp_path / "news.db",
        telegram_bot_token=SecretStr(botapi.token),
        telegram_api_base_url=botapi.base_url,
    )
