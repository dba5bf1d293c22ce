from __future__ import annotations

import asyncio

import pytest

from signaling.backend import MemoryBackend
from signaling.protocol import ErrorCode, ProtocolError


def test_memory_backend_announces_joins_and_relays_in_order() -> None:
    async def scenario() -> None:
        delivered: list[tuple[str, str]] = []
        backend = MemoryBackend(capacity=3)
        await backend.start(lambda member, text: delivered.append((member, text)))
        assert await backend.join("r", "a", "a-joined") == ([], [])
        assert await backend.join("r", "b", "b-joined") == (["a"], [])
        assert await backend.join("r", "c", "c-joined") == (["a", "b"], [])
        assert delivered == [("a", "b-joined"), ("a", "c-joined"), ("b", "c-joined")]
        delivered.clear()
        assert await backend.relay("r", "a", None, "1") == 2
        assert await backend.relay("r", "a", "c", "2") == 1
        assert delivered == [("b", "1"), ("c", "1"), ("c", "2")]
        with pytest.raises(ProtocolError) as refused:
            await backend.relay("r", "a", "zz", "3")
        assert refused.value.code == ErrorCode.NO_SUCH_PEER
        with pytest.raises(ProtocolError) as full:
            await backend.join("r", "d", "d-joined")
        assert full.value.code == ErrorCode.ROOM_FULL
        await backend.leave("r", "a")
        assert await backend.relay("r", "b", None, "4") == 1
        assert await backend.healthy()
        await backend.close()

    asyncio.run(scenario())


def test_relay_result_is_ready_at_once() -> None:
    async def scenario() -> None:
        backend = MemoryBackend(capacity=2)
        await backend.start(lambda member, text: None)
        await backend.join("r", "a", "")
        future = backend.relay("r", "a", None, "x")
        assert future.done() and future.result() == 0

    asyncio.run(scenario())
