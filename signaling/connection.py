"""One client's outgoing side: a bounded send queue drained by one writer task.

Frames for a member are queued without waiting, so a slow reader never stalls the member who
sent to it. When the queue holds more than its limit (messages or bytes) the connection is
marked overflowed, the queue is dropped and `on_overflow` is called: the server then evicts the
member and closes its socket with CloseCode.SLOW_CONSUMER.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

log = logging.getLogger("signaling")


@dataclass(frozen=True)
class QueueLimits:
    max_messages: int = 256
    max_bytes: int = 1024 * 1024


@dataclass(frozen=True)
class _Close:
    code: int
    reason: bytes


class Connection:
    def __init__(self, member_id: str, socket: web.WebSocketResponse,
                 transport: asyncio.Transport | None, limits: QueueLimits,
                 on_overflow: Callable[[Connection], None]) -> None:
        self.id = member_id
        self.socket = socket
        self._transport = transport
        self.room: str | None = None
        self.overflowed = False
        self.pending_relays: set[asyncio.Future[int]] = set()  # relays the backend still holds
        self._limits = limits
        self._on_overflow = on_overflow
        self._queue: deque[str | _Close] = deque()
        self._queued_bytes = 0
        self._wakeup = asyncio.Event()
        self._closing = False
        self._writer = asyncio.create_task(self._write_loop(), name=f"writer-{member_id}")

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    def deliver(self, text: str) -> bool:
        """Queue one frame; False when it was dropped (closing, or the queue overflowed)."""
        if self._closing or self.overflowed:
            return False
        self._queue.append(text)
        self._queued_bytes += len(text)
        if len(self._queue) > self._limits.max_messages or (
            self._queued_bytes > self._limits.max_bytes
        ):
            self.overflowed = True
            self._queue.clear()
            self._queued_bytes = 0
            self._on_overflow(self)
            return False
        self._wakeup.set()
        return True

    def close_after_flush(self, code: int, reason: str) -> None:
        """Send what is queued, then close the socket with `code`."""
        if self._closing or self.overflowed:
            return
        self._closing = True
        self._queue.append(_Close(code, reason.encode()[:120]))
        self._wakeup.set()

    async def abort(self, code: int, reason: str, timeout_s: float) -> None:
        """Drop the queue and close now (the close frame goes after bytes already written)."""
        self._closing = True
        self._queue.clear()
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        try:
            await asyncio.wait_for(
                self.socket.close(code=code, message=reason.encode()[:120], drain=False),
                timeout_s,
            )
        except (TimeoutError, ConnectionError, RuntimeError):
            pass
        finally:
            if self._transport is not None and not self._transport.is_closing():
                self._transport.abort()

    async def stop(self) -> None:
        """End the writer (the socket is already closed)."""
        self._closing = True
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer

    async def drained(self) -> None:
        """Wait until the writer has finished (after close_after_flush)."""
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(self._writer)

    async def _write_loop(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                item = self._queue.popleft()
                try:
                    if isinstance(item, _Close):
                        await self.socket.close(code=item.code, message=item.reason)
                        return
                    self._queued_bytes -= len(item)
                    await self.socket.send_str(item)
                except (ConnectionError, RuntimeError) as exc:
                    log.debug("send to %s failed: %s", self.id, exc)
                    return
