"""Loopback ports for tests. A port probed free stays free only until someone binds it (any
outgoing connection may take it as its local port), so: servers in this process bind port 0
and read theirs back; a subprocess given a probed port is started again on another if it finds
it taken (tests/replica_harness.py); and a port that must stay ours is held bound."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    """A loopback port that was free a moment ago (for a subprocess to bind; it may lose it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections until the block ends. It is bound here and never
    listening: outgoing connections and probes for a free port pass it by, while a listener of
    this process that sets SO_REUSEADDR (asyncio, aiohttp and tornado do) may open on it and
    close again, the port staying ours in between."""
    with socket.socket() as held:
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])
