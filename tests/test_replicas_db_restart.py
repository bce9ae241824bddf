"""PostgreSQL restarted under running replicas: the replicas' connections to it are cut and
refused for a while (through a TCP relay on 127.0.0.1 the test controls, since the shared
server itself must stay up), then it answers again. The replicas stay up, reconnect on
their own, and answer every question asked once it is back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from bot.service import NewsDesk
from bot.settings import Settings
from bot.tg.render import SORRY
from tests import postgres
from tests.botapi import BotApiServer
from tests.ports import closed_port
from tests.replica_harness import replicas
from tests.test_replicas_e2e import ANSWER, QUESTION


class Relay:
    """A TCP relay on loopback port `on` to PostgreSQL at `host`:`port` that can be cut (every
    connection closed, new ones refused) and restored, as a server restart looks from its
    clients. `on` is a closed_port() the caller holds, so no one else takes it while cut."""

    def __init__(self, host: str, port: int, *, on: int) -> None:
        self.target = (host, port)
        self.port = on
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def cut(self) -> None:
        """Close every connection and refuse new ones (the server is down)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._open |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._open -= {writer, up_writer}


@pytest.fixture
async def relayed() -> AsyncIterator[tuple[str, Relay]]:
    """A fresh PostgreSQL schema, and its URL through a relay."""
    with postgres.fresh_schema() as url, closed_port() as port:
        NewsDesk.open(Settings(db=url)).close()
        parts = urlsplit(url)
        relay = Relay(parts.hostname or "127.0.0.1", parts.port or 5432, on=port)
        await relay.start()
        netloc = (
            f"{parts.username}@127.0.0.1:{relay.port}"
            if parts.username
            else (f"127.0.0.1:{relay.port}")
        )
        try:
            yield urlunsplit(parts._replace(netloc=netloc)), relay
        finally:
            await relay.cut()


async def test_replicas_reconnect_after_postgresql_restarts(
    botapi: BotApiServer, relayed: tuple[str, Relay], tmp_path: Path
) -> None:
    url, relay = relayed
    async with replicas(botapi, url, 2, tmp_path) as (group, _):
        before = [botapi.private_chat(botapi.user(f"Before {n}")) for n in range(4)]
        for chat in before:
            await chat.send(QUESTION)
        for chat in before:
            (reply,) = await botapi.wait_for_messages(chat.id, timeout=60)
            assert reply["text"].startswith(ANSWER)

        await asyncio.sleep(1.0)  # the handlers record their cards after replying
        await relay.cut()  # PostgreSQL goes down
        during = [botapi.private_chat(botapi.user(f"During {n}")) for n in range(4)]
        for chat in during:
            await chat.send(QUESTION)
        for chat in during:  # each gets one reply: the polite error, the store being away
            (reply,) = await botapi.wait_for_messages(chat.id, timeout=60)
            assert reply["text"] == SORRY
        await asyncio.sleep(1.0)
        await relay.start()  # and comes back

        after = [botapi.private_chat(botapi.user(f"After {n}")) for n in range(6)]
        for chat in after:
            await chat.send(QUESTION)
        for chat in after:
            (reply,) = await botapi.wait_for_messages(chat.id, timeout=60)
            assert reply["text"].startswith(ANSWER)
        assert all(r.process is not None and r.process.returncode is None for r in group)
        assert botapi.pending_updates == 0
    for chat in before + during + after:
        assert len(botapi.sent(chat.id)) == 1, [m["text"][:60] for m in botapi.sent(chat.id)]
