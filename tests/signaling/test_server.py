"""The server over real loopback sockets: relay, refusals, limits, timeouts, shutdown."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from signaling.connection import QueueLimits
from signaling.protocol import CloseCode, ErrorCode
from signaling.server import ServerConfig
from signaling.tokens import mint_token
from tests.signaling.support import connect, running_server, wait_until


def test_two_members_call_setup_is_relayed_with_from_and_fields_kept() -> None:
    async def scenario() -> None:
        async with running_server() as (_, url):
            a, b = await connect(url), await connect(url)
            joined_a = await a.join("r1")
            assert joined_a["peers"] == [] and joined_a["v"] == 1 and joined_a["room"] == "r1"
            joined_b = await b.join("r1", v=1)
            assert joined_b["peers"] == [a.id]
            assert (await a.expect("peer-joined"))["id"] == b.id
            await b.send({"type": "offer", "sdp": "v=0 offer", "extra": [1, {"x": None}]})
            offer = await a.expect("offer")
            assert offer == {"type": "offer", "sdp": "v=0 offer", "extra": [1, {"x": None}],
                             "from": b.id}
            await a.send({"type": "answer", "sdp": "v=0 answer", "to": b.id})
            assert (await b.expect("answer"))["from"] == a.id
            candidate = {"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host",
                         "sdpMid": "0", "sdpMLineIndex": 0}
            await a.send({"type": "candidate", "candidate": candidate})
            assert (await b.expect("candidate"))["candidate"] == candidate
            await a.send({"type": "candidate", "candidate": None})
            assert (await b.expect("candidate"))["candidate"] is None
            await b.send({"type": "bye"})
            assert (await a.expect("bye"))["from"] == b.id
            await b.close()
            assert (await a.expect("peer-left"))["id"] == b.id
            await a.close()

    asyncio.run(scenario())


def test_a_from_field_sent_by_a_client_is_overwritten() -> None:
    async def scenario() -> None:
        async with running_server() as (_, url):
            a, b = await connect(url), await connect(url)
            await a.join("r")
            await b.join("r")
            await a.expect("peer-joined")
            await b.send({"type": "bye", "from": "someone-else"})
            assert (await a.expect("bye"))["from"] == b.id
            await a.close()
            await b.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(("messages", "code"), [
    ([{"type": "offer", "sdp": "x"}], ErrorCode.NOT_JOINED),
    ([{"type": "join", "room": "r"}, {"type": "join", "room": "r2"}], ErrorCode.ALREADY_JOINED),
    ([{"type": "join", "room": "r"}, {"type": "offer", "sdp": "x", "to": "nobody"}],
     ErrorCode.NO_SUCH_PEER),
    (["{not json"], ErrorCode.BAD_JSON),
    ([{"type": "teleport"}], ErrorCode.UNKNOWN_TYPE),
    ([{"type": "join", "room": "r", "v": 7}], ErrorCode.UNSUPPORTED_VERSION),
    ([{"type": "join", "room": "bad room!"}], ErrorCode.BAD_MESSAGE),
])
def test_refusals_get_an_error_frame_and_the_socket_stays_usable(
        messages: list[dict[str, object] | str], code: ErrorCode) -> None:
    async def scenario() -> None:
        async with running_server() as (server, url):
            client = await connect(url)
            for message in messages[:-1]:
                await client.send(message)
                assert (await client.recv()) is not None
            await client.send(messages[-1])
            error = await client.expect("error")
            assert error["code"] == code and error["message"]
            await client.send({"type": "ping", "n": 1})
            assert await client.expect("pong") == {"type": "pong", "n": 1}
            assert server.metrics.errors[str(code)] == 1
            await client.close()

    asyncio.run(scenario())


def test_binary_frame_is_refused_with_an_error_frame() -> None:
    async def scenario() -> None:
        async with running_server() as (_, url):
            client = await connect(url)
            await client.ws.send_bytes(b"\x00\x01")
            assert (await client.expect("error"))["code"] == ErrorCode.BAD_MESSAGE
            await client.close()

    asyncio.run(scenario())


def test_room_capacity_is_enforced_and_configurable() -> None:
    async def scenario(capacity: int) -> None:
        async with running_server(ServerConfig(room_capacity=capacity)) as (_, url):
            clients = [await connect(url) for _ in range(capacity + 1)]
            for client in clients[:capacity]:
                await client.join("full")
            await clients[-1].send({"type": "join", "room": "full"})
            assert (await clients[-1].expect("error"))["code"] == ErrorCode.ROOM_FULL
            await clients[0].close()  # a place frees up
            await clients[-1].join("full")
            for client in clients[1:]:
                await client.close()

    asyncio.run(scenario(2))
    asyncio.run(scenario(3))


def test_oversized_message_closes_with_1009() -> None:
    async def scenario() -> None:
        async with running_server(ServerConfig(max_message_bytes=2048)) as (_, url):
            client = await connect(url)
            await client.send({"type": "ping", "pad": "x" * 1000})
            await client.expect("pong")
            await client.send({"type": "ping", "pad": "x" * 4000})
            assert await client.recv() is None
            assert client.close_frame_code == CloseCode.MESSAGE_TOO_BIG
            await client.close()

    asyncio.run(scenario())


def test_socket_that_never_joins_is_told_and_closed() -> None:
    async def scenario() -> None:
        async with running_server(ServerConfig(join_timeout_s=0.3)) as (server, url):
            client = await connect(url)
            assert (await client.expect("error"))["code"] == ErrorCode.JOIN_TIMEOUT
            assert await client.recv() is None
            assert client.close_frame_code == CloseCode.JOIN_TIMEOUT
            await wait_until(lambda: not server.connections)
            await client.close()

    asyncio.run(scenario())


def test_member_that_vanishes_without_closing_is_evicted_and_the_other_told() -> None:
    async def scenario() -> None:
        async with running_server(ServerConfig(heartbeat_s=0.4)) as (server, url):
            alive = await connect(url)
            await alive.join("hb")
            # Never answers pings (autoping off, nobody reads): like a frozen or unplugged peer.
            ghost = await connect(url, autoping=False)
            await ghost.join("hb")
            started = time.monotonic()
            await alive.expect("peer-joined")
            left = await alive.expect("peer-left", timeout_s=5)  # meanwhile alive answers pings
            assert left["id"] == ghost.id
            assert time.monotonic() - started < 3
            assert server.metrics.evictions["heartbeat"] == 1
            assert list(server.connections) == [alive.id]
            await ghost.close()
            await alive.close()

    asyncio.run(scenario())


def test_slow_reader_is_closed_with_4001_and_the_sender_is_not_blocked() -> None:
    limits = QueueLimits(max_messages=10_000, max_bytes=256 * 1024)
    async def scenario() -> None:
        async with running_server(ServerConfig(send_queue=limits)) as (server, url):
            fast = await connect(url)
            await fast.join("slow")
            slow = await connect(url)
            await slow.join("slow")
            await fast.expect("peer-joined")
            blob = "c" * 60_000
            # 30 MB towards a reader that reads nothing: socket buffers fill, then the queue.
            for _ in range(500):
                await fast.send({"type": "candidate", "candidate": blob})
                if server.metrics.evictions["slow-consumer"]:
                    break
            assert server.metrics.evictions["slow-consumer"] == 1
            assert (await fast.expect("peer-left"))["id"] == slow.id
            await fast.send({"type": "ping"})
            await fast.expect("pong")  # the sender's socket still works
            while (await slow.recv()) is not None:  # reads what was already written
                pass
            assert slow.close_frame_code == CloseCode.SLOW_CONSUMER
            await slow.close()
            await fast.close()

    asyncio.run(scenario())


def test_origin_allow_list() -> None:
    async def scenario() -> None:
        config = ServerConfig(allowed_origins=("https://good.example",))
        async with running_server(config) as (_, url):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await connect(url, origin="https://evil.example")
            assert refused.value.status == 403
            for origin in ("https://good.example", url, None):
                client = await connect(url, origin=origin)
                await client.join("o")
                await client.close()

    asyncio.run(scenario())


def test_token_admission() -> None:
    secret = "s3cret"
    async def scenario() -> None:
        async with running_server(ServerConfig(token_secret=secret)) as (_, url):
            client = await connect(url)
            now = time.time()
            for token in (None, "garbage", mint_token("other", "t", 60, now),
                          mint_token(secret, "other-room", 60, now),
                          mint_token(secret, "t", 60, now - 120)):
                await client.send({"type": "join", "room": "t", "token": token})
                error = await client.expect("error")
                assert error["code"] == ErrorCode.BAD_TOKEN, token
            await client.join("t", token=mint_token(secret, "t", 60, now))
            await client.close()

    asyncio.run(scenario())


def test_shutdown_tells_every_client() -> None:
    async def scenario() -> None:
        async with running_server() as (server, url):
            a, b = await connect(url), await connect(url)
            await a.join("s")
            await server.shutdown()
            for client in (a, b):
                assert (await client.expect("error"))["code"] == ErrorCode.SHUTDOWN
                assert await client.recv() is None
                assert client.close_frame_code == CloseCode.GOING_AWAY
                await client.close()
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await connect(url)

    asyncio.run(scenario())


def test_healthz_and_metrics() -> None:
    async def scenario() -> None:
        async with running_server() as (_, url):
            a, b = await connect(url), await connect(url)
            await a.join("m")
            await b.join("m")
            await a.expect("peer-joined")
            await b.send({"type": "offer", "sdp": "x"})
            await a.expect("offer")
            await a.send({"type": "nonsense"})
            await a.expect("error")
            async with aiohttp.ClientSession() as http:
                async with http.get(url + "/healthz") as response:
                    assert response.status == 200
                    health = await response.json()
                    assert health["status"] == "ok" and health["connections"] == 2
                async with http.get(url + "/metrics") as response:
                    assert response.headers["Content-Type"].startswith("text/plain")
                    text = await response.text()
            lines = set(text.splitlines())
            assert "signaling_connections 2" in lines
            assert "signaling_rooms 1" in lines
            assert 'signaling_messages_relayed_total{type="offer"} 1' in lines
            assert 'signaling_errors_total{code="unknown-type"} 1' in lines
            assert "# TYPE signaling_messages_relayed_total counter" in lines
            await a.close()
            await b.close()

    asyncio.run(scenario())


def test_demo_page_is_served() -> None:
    async def scenario() -> None:
        async with running_server() as (_, url), aiohttp.ClientSession() as http:
            async with http.get(url + "/?room=x&autojoin=1") as response:
                assert response.status == 200
                page = await response.text()
            assert 'id="local"' in page and 'id="remote"' in page
            async with http.get(url + "/static/app.js") as response:
                assert response.status == 200
                assert "getStats" in await response.text()

    asyncio.run(scenario())


def test_many_rooms_are_isolated() -> None:
    async def scenario() -> None:
        async with running_server() as (_, url):
            pairs = []
            for i in range(10):
                a, b = await connect(url), await connect(url)
                await a.join(f"room{i}")
                await b.join(f"room{i}")
                await a.expect("peer-joined")
                pairs.append((a, b))
            for i, (_, b) in enumerate(pairs):
                await b.send({"type": "offer", "sdp": f"sdp{i}"})
            for i, (a, _) in enumerate(pairs):
                assert (await a.expect("offer"))["sdp"] == f"sdp{i}"
            for a, b in pairs:
                await a.send({"type": "ping"})
                assert (await a.recv()) == {"type": "pong"}  # nothing else arrived
                await a.close()
                await b.close()

    asyncio.run(scenario())


def test_json_is_compact_text() -> None:
    async def scenario() -> None:
        async with running_server() as (_, url):
            client = await connect(url)
            await client.send({"type": "ping"})
            frame = await client.ws.receive(timeout=5)
            assert frame.type == aiohttp.WSMsgType.TEXT and json.loads(frame.data)
            await client.close()

    asyncio.run(scenario())
