"""Bot replicas for tests: `python -m bot run` processes in webhook mode behind a small
round-robin HTTP proxy on 127.0.0.1 (the test's load balancer, not part of the product),
with tests.botapi delivering updates to the proxy as Telegram delivers to a webhook."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import sys
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from aiohttp import web

from tests.botapi import BotApiServer

ROOT = Path(__file__).resolve().parent.parent
SECRET = "replica-Secret_42"
HOOK_PATH = "/telegram/hook"
RUN = ("-m", "bot", "run")  # what a replica runs, after the Python executable


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RoundRobinProxy:
    """Each request goes to the next backend in turn. A backend that refuses the
    connection is skipped for that request (a dead replica); one that fails after taking
    the request gets 502 back, as load balancers do for a POST, and Telegram redelivers."""

    def __init__(self, backends: Sequence[str]) -> None:
        self.backends = list(backends)
        self.forwarded: Counter[str] = Counter()  # answered requests per backend
        self.log: list[str] = []  # the backend that answered each request, in order
        self.failed = 0  # requests no backend answered
        self._turn = itertools.cycle(range(len(self.backends)))
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        body = await request.read()
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in {"host", "content-length"}
        }
        for _ in self.backends:
            backend = self.backends[next(self._turn)]
            try:
                async with self._session.request(
                    request.method, backend + request.path_qs, data=body, headers=headers
                ) as response:
                    payload = await response.read()
                    self.forwarded[backend] += 1
                    self.log.append(backend)
                    return web.Response(
                        status=response.status,
                        body=payload,
                        content_type=response.content_type,
                    )
            except aiohttp.ClientConnectorError:
                continue  # never reached it: the next one may take it
            except (aiohttp.ClientError, TimeoutError):
                break
        self.failed += 1
        return web.Response(status=502, text="no replica answered")


class Replica:
    """One `python -m bot run` process listening for the webhook on its own port."""

    def __init__(
        self, env: dict[str, str], log: Path, port: int, command: Sequence[str] = RUN
    ) -> None:
        self.command = list(command)
        self.port = port
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "NEWSBOT_WEBHOOK__PORT": str(self.port)}
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as sink:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, *self.command, env=self.env, cwd=ROOT, stdout=sink, stderr=sink
            )

    async def listening(self, seconds: float = 60) -> None:
        """Wait until the replica accepts connections on its port."""
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            assert self.process is not None and self.process.returncode is None, self.log_text()
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"replica on {self.port} never listened") from None
                await asyncio.sleep(0.1)
                continue
            writer.close()
            await writer.wait_closed()
            return

    def kill(self) -> None:
        """kill -9: no clean shutdown, claims and leases left as they were."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""


def replica_env(
    botapi: BotApiServer, db: str, proxy: RoundRobinProxy, **extra: str
) -> dict[str, str]:
    """The environment of every replica: one database, the proxy as the webhook URL."""
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": botapi.token,
        "TELEGRAM_API_BASE_URL": botapi.base_url,
        "NEWSBOT_DB": db,
        "NEWSBOT_WEBHOOK__URL": proxy.url + HOOK_PATH,
        "NEWSBOT_WEBHOOK__LISTEN": "127.0.0.1",
        "NEWSBOT_WEBHOOK__SECRET_TOKEN": SECRET,
        "PTB_TIMEDELTA": "true",
        **extra,
    }
    env.pop("NEWSBOT_CONFIG", None)
    return env


@asynccontextmanager
async def replicas(
    botapi: BotApiServer,
    db: str,
    count: int,
    logs: Path,
    *,
    command: Sequence[str] = RUN,
    **extra: str,
) -> AsyncIterator[tuple[list[Replica], RoundRobinProxy]]:
    """`count` replicas on database `db` behind a round-robin proxy, all listening (and the
    webhook set) before the block starts; stopped after it."""
    ports = [free_port() for _ in range(count)]
    proxy = RoundRobinProxy([f"http://127.0.0.1:{port}" for port in ports])
    env = replica_env(botapi, db, proxy, **extra)
    group = [
        # each with its own search index, as on machines of their own
        Replica(
            {**env, "NEWSBOT_INDEX_DIR": str(logs / f"replica-{n}.index")},
            logs / f"replica-{n}.log",
            port,
            command,
        )
        for n, port in enumerate(ports)
    ]
    await proxy.start()
    try:
        await asyncio.gather(*(replica.start() for replica in group))
        await asyncio.gather(*(replica.listening() for replica in group))
        yield group, proxy
    finally:
        await asyncio.gather(*(replica.stop() for replica in group))
        await proxy.stop()
