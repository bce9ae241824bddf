"""Shared fixtures. Everything runs offline: Telegram is played by tests.botapi."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.settings import Settings
from tests import postgres
from tests.botapi import BotApiServer


@pytest.fixture(autouse=True, scope="session")
def data_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The data dir of every test and of the `newsbot` processes tests start: a temporary
    one, so nothing lands in the user's (a PostgreSQL store's default index lives there, one
    folder per test schema)."""
    with pytest.MonkeyPatch.context() as patch:
        home = tmp_path_factory.mktemp("data-home")
        patch.setenv("XDG_DATA_HOME", str(home))
        yield home


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


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path | str]:
    """Where a store test opens its store: a fresh SQLite file, then a fresh PostgreSQL schema
    (skipped, with the reason, where no server answers)."""
    if request.param == "sqlite":
        yield tmp_path / "news.db"
        return
    with postgres.fresh_schema() as url:
        yield url


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say plainly whether the PostgreSQL half of the store's tests ran."""
    if not postgres.unavailable.cache_info().currsize:
        return  # no test asked for PostgreSQL
    reason = postgres.unavailable()
    if reason is None:
        terminalreporter.write_line(f"PostgreSQL store tests ran against {postgres.SERVER}")
    else:
        terminalreporter.write_line(f"PostgreSQL store tests SKIPPED: {reason}", yellow=True)
