"""closed_port(): what the relay and the in-process webhook test rely on holding a port."""

from __future__ import annotations

import asyncio
import socket

import pytest

from tests.ports import closed_port


async def refused(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except ConnectionRefusedError:
        return True
    writer.close()
    await writer.wait_closed()
    return False


def stranger_binds(port: int) -> None:
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", port))


async def test_a_held_port_refuses_others_and_lets_our_listener_come_and_go() -> None:
    with closed_port() as port:
        assert await refused(port)
        with pytest.raises(OSError, match="in use"):
            stranger_binds(port)
        for _ in range(2):  # open, close (a server going down), and open again
            server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", port)
            assert not await refused(port)
            server.close()
            await server.wait_closed()
            assert await refused(port)
            with pytest.raises(OSError, match="in use"):
                stranger_binds(port)
