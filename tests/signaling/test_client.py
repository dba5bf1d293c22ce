from __future__ import annotations

import asyncio

import pytest

from signaling.client import SignalingClient, SignalingError
from signaling.server import ServerConfig
from tests.signaling.support import free_port, running_server


def test_two_clients_join_and_exchange_messages() -> None:
    async def scenario() -> None:
        async with running_server() as (_, url):
            ws_url = url.replace("http", "ws") + "/ws"
            a, b = SignalingClient(ws_url), SignalingClient(ws_url)
            await a.connect()
            await b.connect()
            assert await a.join("c") == []
            assert await b.join("c") == [a.id]
            assert await a.receive() == {"type": "peer-joined", "id": b.id}
            await b.send({"type": "offer", "sdp": "x"})
            assert await a.receive() == {"type": "offer", "sdp": "x", "from": b.id}
            await b.close()
            assert await a.receive() == {"type": "peer-left", "id": b.id}
            await a.close()
            assert await a.receive() is None
            assert await a.receive() is None

    asyncio.run(scenario())


def test_refused_join_and_unreachable_server_raise_signaling_error() -> None:
    async def scenario() -> None:
        async with running_server(ServerConfig(room_capacity=1)) as (_, url):
            ws_url = url.replace("http", "ws") + "/ws"
            a, b = SignalingClient(ws_url), SignalingClient(ws_url)
            await a.connect()
            await b.connect()
            await a.join("solo")
            with pytest.raises(SignalingError, match="room-full"):
                await b.join("solo")
            await a.close()
            await b.close()
        nobody = SignalingClient(f"ws://127.0.0.1:{free_port()}/ws")
        with pytest.raises(SignalingError, match="cannot reach"):
            await nobody.connect()
        with pytest.raises(SignalingError, match="not connected"):
            await nobody.send({"type": "bye"})

    asyncio.run(scenario())


def test_a_busy_client_still_answers_heartbeats() -> None:
    async def scenario() -> None:
        async with running_server(ServerConfig(heartbeat_s=0.2)) as (server, url):
            client = SignalingClient(url.replace("http", "ws") + "/ws")
            await client.connect()
            await client.join("busy")
            await asyncio.sleep(1.0)  # not calling receive(): the reader task answers pings
            assert client.id in server.connections
            await client.close()

    asyncio.run(scenario())
