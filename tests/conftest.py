"""Shared fixtures. Everything runs offline: Telegram is played by tests.botapi."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.botapi import BotApiServer


@pytest.fixture
async def botapi() -> AsyncIterator[BotApiServer]:
    """A local Bot API server on 127.0.0.1 (random port), stopped after the test."""
    async with BotApiServer() as server:
        yield server
