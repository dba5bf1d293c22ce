"""The bounded send queue, with a stand-in socket whose writes the test releases."""

from __future__ import annotations

import asyncio
from typing import Any

from signaling.connection import Connection, QueueLimits


class GatedSocket:
    """Records frames; send_str waits until the test opens the gate (a stuck reader)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed_with: tuple[int, bytes] | None = None
        self.gate = asyncio.Event()

    async def send_str(self, text: str) -> None:
        await self.gate.wait()
        self.sent.append(text)

    async def close(self, *, code: int, message: bytes, drain: bool = True) -> bool:
        self.closed_with = (code, message)
        return True


def make(limits: QueueLimits) -> tuple[Connection, GatedSocket, list[Connection]]:
    socket = GatedSocket()
    overflowed: list[Connection] = []
    socket_any: Any = socket
    return Connection("m", socket_any, None, limits, overflowed.append), socket, overflowed


def test_frames_are_sent_in_order_then_closed() -> None:
    async def scenario() -> None:
        connection, socket, overflowed = make(QueueLimits(max_messages=10, max_bytes=1000))
        for i in range(5):
            assert connection.deliver(f"m{i}")
        connection.close_after_flush(4000, "bye")
        assert not connection.deliver("late")
        socket.gate.set()
        await connection.drained()
        assert socket.sent == [f"m{i}" for i in range(5)]
        assert socket.closed_with == (4000, b"bye")
        assert not overflowed

    asyncio.run(scenario())


def test_overflow_by_count_or_bytes_drops_the_queue_and_reports_once() -> None:
    async def scenario(limits: QueueLimits, frame: str) -> None:
        connection, socket, overflowed = make(limits)
        await asyncio.sleep(0)
        accepted = 0
        while connection.deliver(frame):
            accepted += 1
        assert overflowed == [connection] and connection.overflowed
        assert connection.queued_bytes == 0
        assert not connection.deliver(frame)
        assert overflowed == [connection]
        await connection.abort(4001, "slow", timeout_s=1)
        assert socket.closed_with == (4001, b"slow")
        assert accepted <= max(limits.max_messages, limits.max_bytes // len(frame)) + 1

    asyncio.run(scenario(QueueLimits(max_messages=5, max_bytes=10**9), "x"))
    asyncio.run(scenario(QueueLimits(max_messages=10**9, max_bytes=1000), "y" * 100))
