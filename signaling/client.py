"""A small asyncio client for the signaling server, used by the Python peer.

A background task reads the socket all the time (so the server's heartbeat pings are always
answered, even while the caller is busy) and queues messages for `receive()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import aiohttp

from signaling.protocol import PROTOCOL_VERSION


class SignalingError(Exception):
    """The server refused something, or could not be reached; the message says which."""


class SignalingClient:
    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url
        self.token = token
        self.id: str | None = None
        self.close_code: int | None = None
        self._session: aiohttp.ClientSession | None = None
        self._socket: aiohttp.ClientWebSocketResponse | None = None
        self._inbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self._session = aiohttp.ClientSession()
        try:
            self._socket = await self._session.ws_connect(self.url, heartbeat=20)
        except (aiohttp.ClientError, OSError) as exc:
            await self._session.close()
            raise SignalingError(f"cannot reach signaling server {self.url}: {exc}") from None
        self._reader = asyncio.create_task(self._read_loop(self._socket))

    async def _read_loop(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for frame in socket:
                if frame.type == aiohttp.WSMsgType.TEXT:
                    try:
                        message = json.loads(frame.data)
                    except ValueError:
                        continue
                    if isinstance(message, dict):
                        self._inbox.put_nowait(message)
                elif frame.type == aiohttp.WSMsgType.ERROR:
                    break
        finally:
            self.close_code = socket.close_code
            self._inbox.put_nowait(None)

    async def join(self, room: str, token: str | None = None) -> list[str]:
        """Join `room`; returns the ids of the members already there."""
        message: dict[str, Any] = {"type": "join", "room": room, "v": PROTOCOL_VERSION}
        if token or self.token:
            message["token"] = token or self.token
        await self.send(message)
        reply = await self.receive()
        if reply is None:
            raise SignalingError("signaling server closed the connection during join")
        if reply.get("type") == "error":
            raise SignalingError(
                f"cannot join room {room!r}: {reply.get('message')} ({reply.get('code')})")
        if reply.get("type") != "joined":
            raise SignalingError(f"unexpected reply to join: {reply.get('type')!r}")
        self.id = reply["id"]
        return list(reply["peers"])

    async def send(self, message: dict[str, Any]) -> None:
        if self._socket is None or self._socket.closed:
            raise SignalingError("not connected to the signaling server")
        try:
            await self._socket.send_str(json.dumps(message))
        except (ConnectionError, RuntimeError) as exc:
            raise SignalingError(f"signaling connection lost: {exc}") from None

    async def receive(self) -> dict[str, Any] | None:
        """The next message, or None once the connection is closed."""
        if self._reader is None:
            return None
        message = await self._inbox.get()
        if message is None:
            self._inbox.put_nowait(None)  # every later call also sees the end
        return message

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._session is not None:
            await self._session.close()
