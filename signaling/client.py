"""A small asyncio client for the signaling server, used by the Python peer."""

from __future__ import annotations

import json
from typing import Any

import aiohttp


class SignalingError(Exception):
    """The server refused something, or could not be reached; the message says which."""


class SignalingClient:
    def __init__(self, url: str) -> None:
        self.url = url
        self.id: str | None = None
        self._session: aiohttp.ClientSession | None = None
        self._socket: aiohttp.ClientWebSocketResponse | None = None

    async def connect(self) -> None:
        self._session = aiohttp.ClientSession()
        try:
            self._socket = await self._session.ws_connect(self.url, heartbeat=20)
        except (aiohttp.ClientError, OSError) as exc:
            await self._session.close()
            raise SignalingError(f"cannot reach signaling server {self.url}: {exc}") from None

    async def join(self, room: str) -> list[str]:
        """Join `room`; returns the ids of the members already there."""
        await self.send({"type": "join", "room": room})
        reply = await self.receive()
        if reply is None:
            raise SignalingError("signaling server closed the connection during join")
        if reply.get("type") == "error":
            raise SignalingError(f"cannot join room {room!r}: {reply.get('message')}")
        if reply.get("type") != "joined":
            raise SignalingError(f"unexpected reply to join: {reply.get('type')!r}")
        self.id = reply["id"]
        return list(reply["peers"])

    async def send(self, message: dict[str, Any]) -> None:
        if self._socket is None or self._socket.closed:
            raise SignalingError("not connected to the signaling server")
        await self._socket.send_str(json.dumps(message))

    async def receive(self) -> dict[str, Any] | None:
        """The next message, or None once the connection is closed."""
        if self._socket is None:
            return None
        async for frame in self._socket:
            if frame.type == aiohttp.WSMsgType.TEXT:
                try:
                    message = json.loads(frame.data)
                except ValueError:
                    continue
                if isinstance(message, dict):
                    return message
            elif frame.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE):
                break
        return None

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._session is not None:
            await self._session.close()
