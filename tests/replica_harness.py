"""Bot replicas for tests: `python -m bot run` processes in webhook mode behind a small
round-robin HTTP proxy on 127.0.0.1 (the test's load balancer, not part of the product),
with tests.botapi delivering updates to the proxy as Telegram delivers to a webhook."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from aiohttp import web

from tests.botapi import BotApiServer
from tests.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "replica-Secret_42"
HOOK_PATH = "/telegram/hook"
RUN = ("-m", "bot", "run")  # what a replica runs, after the Python executable
PORT_TAKEN = "Address already in use"  # how a replica that lost its port exits (EADDRINUSE)
ATTEMPTS = 5  # ports a replica tries before the test gives up


class RoundRobinProxy:
    """Each request goes to the next backend in turn. A backend that refuses the
    connection is skipped for that request (a dead replica); one that fails after taking
    the request gets 502 back, as load balancers do for a POST, and Telegram redelivers."""

    def __init__(self) -> None:
        self.backends: list[str] = []  # the replicas' URLs, once they all serve (replicas())
        self.forwarded: Counter[str] = Counter()  # answered requests per backend
        self.log: list[str] = []  # the backend that answered each request, in order
        self.failed = 0  # requests no backend answered
        self._turn = itertools.count()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0  # known once started

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        # port 0: the kernel picks a free port as it binds, so none can be taken in between
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])

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
            backend = self.backends[next(self._turn) % len(self.backends)]
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
    """One `python -m bot run` process serving the webhook on a loopback port of its own."""

    def __init__(self, env: dict[str, str], log: Path, command: Sequence[str] = RUN) -> None:
        self.command = list(command)
        self.env = env
        self.log = log
        self.port = 0  # known once started
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def serve(self) -> None:
        """Start the replica and wait until it serves its webhook. Its port is only probed
        free, so another process may bind it first; the replica then exits saying so and is
        started again on another port, its log set aside (the test reads one clean run)."""
        for _ in range(ATTEMPTS):
            await self.start(free_port())
            if await self.listening():
                return
            self.log.rename(self.log.with_name(f"{self.log.stem}.port-{self.port}-taken.log"))
        raise AssertionError(f"{self.log.stem}: {ATTEMPTS} ports taken before it bound one")

    async def start(self, port: int) -> None:
        self.port = port
        env = {**self.env, "NEWSBOT_WEBHOOK__PORT": str(port)}
        with self.log.open("ab") as sink:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, *self.command, env=env, cwd=ROOT, stdout=sink, stderr=sink
            )

    async def listening(self, seconds: float = 60) -> bool:
        """Wait until the replica serves its webhook; False if it exited, its port taken."""
        deadline = asyncio.get_running_loop().time() + seconds
        assert self.process is not None
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            while not await self._serves_webhook(session):
                if self.process.returncode is not None:
                    if PORT_TAKEN in self.log_text():
                        return False
                    raise AssertionError(self.log_text())
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"replica on {self.port} never listened")
                await asyncio.sleep(0.1)
        return True

    async def _serves_webhook(self, session: aiohttp.ClientSession) -> bool:
        """Whether the port answers a POST without the secret token as the replica's webhook
        does, with 403: whoever else took the port first would answer otherwise, if at all."""
        try:
            async with session.post(self.url + HOOK_PATH, json={}) as response:
                return response.status == 403
        except (aiohttp.ClientError, TimeoutError):
            return False

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
    """`count` replicas on database `db` behind a round-robin proxy, all serving (and the
    webhook set) before the block starts; stopped after it."""
    proxy = RoundRobinProxy()
    await proxy.start()  # first: the replicas set its URL as the webhook
    env = replica_env(botapi, db, proxy, **extra)
    group = [
        # each with its own search index, as on machines of their own
        Replica(
            {**env, "NEWSBOT_INDEX_DIR": str(logs / f"replica-{n}.index")},
            logs / f"replica-{n}.log",
            command,
        )
        for n in range(count)
    ]
    try:
        await asyncio.gather(*(replica.serve() for replica in group))
        proxy.backends = [replica.url for replica in group]  # the ports they finally bound
        yield group, proxy
    finally:
        await asyncio.gather(*(replica.stop() for replica in group))
        await proxy.stop()
