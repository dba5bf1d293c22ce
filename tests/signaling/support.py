"""Helpers for the signaling tests: a real server on a free loopback port, and raw clients."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from signaling.backend import Backend
from signaling.server import ServerConfig, SignalingServer

REPLY_TIMEOUT_S = 5.0
REPO_ROOT = Path(__file__).resolve().parents[2]


@asynccontextmanager
async def running_server(
    config: ServerConfig | None = None, backend: Backend | None = None
) -> AsyncIterator[tuple[SignalingServer, str]]:
    """A SignalingServer on 127.0.0.1:free port; yields (server, "http://127.0.0.1:PORT")."""
    server = SignalingServer(config, backend)
    runner = web.AppRunner(server.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


class Client:
    """A raw test client: sends dicts or raw text, reads decoded frames with a timeout."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse):
        self.session = session
        self.ws = ws
        self.id: str | None = None
        self.close_frame_code: int | None = None  # the code in the server's close frame

    async def send(self, message: dict[str, Any] | str) -> None:
        await self.ws.send_str(message if isinstance(message, str) else json.dumps(message))

    async def recv(self, timeout_s: float = REPLY_TIMEOUT_S) -> dict[str, Any] | None:
        """The next JSON message, or None when the socket closed."""
        frame = await self.ws.receive(timeout=timeout_s)
        if frame.type == aiohttp.WSMsgType.CLOSE:
            self.close_frame_code = int(frame.data)
        if frame.type != aiohttp.WSMsgType.TEXT:
            return None
        message = json.loads(frame.data)
        assert isinstance(message, dict)
        return message

    async def expect(self, kind: str, timeout_s: float = REPLY_TIMEOUT_S) -> dict[str, Any]:
        message = await self.recv(timeout_s)
        assert message is not None, f"socket closed while waiting for {kind!r}"
        assert message["type"] == kind, message
        return message

    async def join(self, room: str, **extra: Any) -> dict[str, Any]:
        await self.send({"type": "join", "room": room, **extra})
        joined = await self.expect("joined")
        self.id = joined["id"]
        return joined

    async def close(self) -> None:
        await self.ws.close()
        await self.session.close()


async def connect(base_url: str, **kwargs: Any) -> Client:
    session = aiohttp.ClientSession()
    try:
        ws = await session.ws_connect(base_url.replace("http", "ws", 1) + "/ws", **kwargs)
    except BaseException:
        await session.close()
        raise
    return Client(session, ws)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    """Start a throw-away redis-server on a free loopback port; returns (process, URL)."""
    binary = shutil.which("redis-server")
    assert binary is not None
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    return process, f"redis://127.0.0.1:{port}/0"


@contextmanager
def redis_server() -> Iterator[str]:
    """A throw-away redis-server on a free loopback port; yields its URL."""
    process, url = start_redis()
    try:
        yield url
    finally:
        process.terminate()
        process.wait(10)


async def wait_until(predicate: Any, timeout_s: float = REPLY_TIMEOUT_S) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


@contextmanager
def signaling_process(*extra_args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`python -m signaling --port 0` as a child process; yields (process, "http://H:P")."""
    process = subprocess.Popen(
        [sys.executable, "-m", "signaling", "--host", "127.0.0.1", "--port", "0", *extra_args],
        cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        match = re.search(r"http://([\d.]+):(\d+)/", line)
        assert match, f"unexpected first line from the server: {line!r}"
        yield process, f"http://{match.group(1)}:{match.group(2)}"
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(10)
