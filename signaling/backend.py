"""Where rooms live: the `Backend` plug-in point and the in-memory backend (one process).

A backend keeps room membership and carries already-encoded frames to members; the server
owns the sockets and hands the backend a `deliver(member_id, text)` callback for the members
connected to this process. `signaling.backend_redis` shares rooms between processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from signaling.protocol import ProtocolError
from signaling.rooms import Rooms

Deliver = Callable[[str, str], None]


class Backend(Protocol):
    name: str

    async def start(self, deliver: Deliver) -> None:
        """Begin delivering frames for members of this process through `deliver`."""

    async def join(self, room: str, member: str, announce: str) -> tuple[list[str], list[str]]:
        """Add `member` and send `announce` to the others, as one step.

        Returns (members already there, stale members just removed; the others have been
        sent peer-left for those). Raises ProtocolError(ROOM_FULL) when the room is full."""
        ...

    async def leave(self, room: str, member: str) -> None: ...

    def relay(self, room: str, sender: str, to: str | None, text: str) -> asyncio.Future[int]:
        """Send `text` to the other members (or only `to`); the future gives how many got it.

        Takes its place in line at once (a member's frames keep their order without the
        caller waiting); the future fails with ProtocolError(NO_SUCH_PEER) when `to` is not
        another member of the room."""
        ...

    async def healthy(self) -> bool: ...

    async def close(self) -> None: ...


class MemoryBackend:
    """Rooms in this process only; the default."""

    name = "memory"

    def __init__(self, capacity: int) -> None:
        self.rooms = Rooms(capacity)
        self._deliver: Deliver | None = None

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def join(self, room: str, member: str, announce: str) -> tuple[list[str], list[str]]:
        others = self.rooms.join(room, member)
        if self._deliver is not None:
            for other in others:
                self._deliver(other, announce)
        return others, []

    async def leave(self, room: str, member: str) -> None:
        self.rooms.leave(room, member)

    def relay(self, room: str, sender: str, to: str | None, text: str) -> asyncio.Future[int]:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        try:
            targets = self.rooms.recipients(room, sender, to)
        except ProtocolError as error:
            future.set_exception(error)
            return future
        if self._deliver is not None:
            for target in targets:
                self._deliver(target, text)
        future.set_result(len(targets))
        return future

    async def healthy(self) -> bool:
        return True

    async def close(self) -> None:
        self._deliver = None
