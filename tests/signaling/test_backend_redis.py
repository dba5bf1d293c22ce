"""Rooms shared through a real redis-server by several signaling servers."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import aiohttp
import pytest

from signaling.protocol import ErrorCode
from signaling.server import ServerConfig
from tests.signaling.support import connect, redis_server, running_server, start_redis

pytest.importorskip("redis", reason="the redis package is not installed (pip install redis)")
needs_redis = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="redis-server not installed (apt-get install -y redis-server)")

from signaling.backend_redis import RedisBackend, parse_records  # noqa: E402


def test_parse_records_uses_byte_lengths() -> None:
    frames = ['{"type":"offer","sdp":"\\n\n"}', "é€ not ascii", ""]
    data = b"".join(f"m{i}\n{len(f.encode())}\n".encode() + f.encode()
                    for i, f in enumerate(frames))
    assert parse_records(data) == [(f"m{i}", f) for i, f in enumerate(frames)]


@asynccontextmanager
async def two_servers(redis_url: str, capacity: int = 2) -> AsyncIterator[list[str]]:
    config = ServerConfig(room_capacity=capacity)
    async with AsyncExitStack() as stack:
        urls = []
        for _ in range(2):
            backend = RedisBackend(redis_url, capacity, alive_ttl_s=2.0)
            _, url = await stack.enter_async_context(running_server(config, backend))
            urls.append(url)
        yield urls


@needs_redis
def test_clients_on_two_servers_call_each_other() -> None:
    async def scenario(redis_url: str) -> None:
        async with two_servers(redis_url) as (url_a, url_b):
            a, b = await connect(url_a), await connect(url_b)
            await a.join("shared")
            joined = await b.join("shared")
            assert joined["peers"] == [a.id]
            assert (await a.expect("peer-joined"))["id"] == b.id
            await b.send({"type": "offer", "sdp": "o", "to": a.id})
            assert await a.expect("offer") == {"type": "offer", "sdp": "o", "to": a.id,
                                               "from": b.id}
            await a.send({"type": "answer", "sdp": "a"})
            assert (await b.expect("answer"))["from"] == a.id
            for i in range(10):  # order is kept
                await a.send({"type": "candidate", "candidate": {"candidate": f"c{i}",
                                                                 "sdpMid": "0"}})
            for i in range(10):
                assert (await b.expect("candidate"))["candidate"]["candidate"] == f"c{i}"
            await b.send({"type": "bye", "to": "nobody"})
            assert (await b.expect("error"))["code"] == ErrorCode.NO_SUCH_PEER
            await b.close()
            assert (await a.expect("peer-left"))["id"] == b.id
            await a.close()

    with redis_server() as redis_url:
        asyncio.run(scenario(redis_url))


@needs_redis
def test_capacity_holds_across_servers() -> None:
    async def scenario(redis_url: str) -> None:
        async with two_servers(redis_url) as (url_a, url_b):
            a, b, c = await connect(url_a), await connect(url_b), await connect(url_a)
            await a.join("cap")
            await b.join("cap")
            await c.send({"type": "join", "room": "cap"})
            assert (await c.expect("error"))["code"] == ErrorCode.ROOM_FULL
            for client in (a, b, c):
                await client.close()

    with redis_server() as redis_url:
        asyncio.run(scenario(redis_url))


@needs_redis
def test_server_shutdown_tells_members_on_the_other_server() -> None:
    async def scenario(redis_url: str) -> None:
        async with two_servers(redis_url) as (url_a, _):
            backend = RedisBackend(redis_url, 2)
            async with running_server(backend=backend) as (leaving_server, url_c):
                a, c = await connect(url_a), await connect(url_c)
                await a.join("down")
                await c.join("down")
                await a.expect("peer-joined")
                await leaving_server.shutdown()
                assert (await a.expect("peer-left"))["id"] == c.id
                assert (await c.expect("error"))["code"] == ErrorCode.SHUTDOWN
                await a.close()
                await c.close()

    with redis_server() as redis_url:
        asyncio.run(scenario(redis_url))


@needs_redis
def test_members_of_a_crashed_server_are_removed_at_the_next_join() -> None:
    async def scenario(redis_url: str) -> None:
        async with two_servers(redis_url) as (url_a, url_b):
            crashed = RedisBackend(redis_url, 2)
            await crashed.start(lambda member, text: None)
            await crashed.join("crash", "ghost", "{}")
            a = await connect(url_a)
            assert (await a.join("crash"))["peers"] == ["ghost"]
            await crashed.close()  # its alive key is gone, its member stays in the room hash
            b = await connect(url_b)
            assert (await b.join("crash"))["peers"] == [a.id]  # the ghost no longer counts
            assert await a.expect("peer-left") == {"type": "peer-left", "id": "ghost"}
            assert (await a.expect("peer-joined"))["id"] == b.id
            await a.close()
            await b.close()

    with redis_server() as redis_url:
        asyncio.run(scenario(redis_url))


@needs_redis
def test_health_reports_redis_down() -> None:
    async def scenario() -> None:
        process, redis_url = start_redis()
        try:
            async with running_server(backend=RedisBackend(redis_url, 2)) as (_, url), \
                    aiohttp.ClientSession() as http:
                async with http.get(url + "/healthz") as response:
                    assert response.status == 200
                    assert (await response.json())["backend"] == "redis"
                process.terminate()
                process.wait(10)
                async with http.get(url + "/healthz") as response:
                    assert response.status == 503
                    assert (await response.json())["status"] == "unavailable"
                client = await connect(url)  # a join now fails cleanly, the socket stays
                await client.send({"type": "join", "room": "r"})
                assert (await client.expect("error"))["code"] == ErrorCode.UNAVAILABLE
                await client.close()
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait(10)

    asyncio.run(scenario())


@needs_redis
def test_what_a_joiner_sends_at_once_never_overtakes_peer_joined() -> None:
    async def scenario(redis_url: str) -> None:
        async with two_servers(redis_url) as (url_a, url_b):
            for i in range(20):
                a, b = await connect(url_a), await connect(url_b)
                await a.join(f"race{i}")
                await b.join(f"race{i}")  # and send at once
                await b.send({"type": "offer", "sdp": "o"})
                assert (await a.expect("peer-joined"))["id"] == b.id
                assert (await a.expect("offer"))["from"] == b.id
                await a.close()
                await b.close()

    with redis_server() as redis_url:
        asyncio.run(scenario(redis_url))


class SlowBackend(RedisBackend):
    """A Redis backend whose answers come 0.2 s late, like a busy server's."""

    async def join(self, room: str, member: str, announce: str) -> tuple[list[str], list[str]]:
        result = await super().join(room, member, announce)
        await asyncio.sleep(0.2)
        return result

    def relay(self, room: str, sender: str, to: str | None, text: str) -> asyncio.Future[int]:
        late: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def later() -> None:
            await asyncio.sleep(0.2)
            try:
                late.set_result(await super(SlowBackend, self).relay(room, sender, to, text))
            except Exception as exc:
                late.set_exception(exc)

        self._pending_relay = asyncio.ensure_future(later())
        return late


@needs_redis
def test_a_later_joiner_gets_no_stale_peer_joined_from_a_slow_server() -> None:
    async def scenario(redis_url: str) -> None:
        async with running_server(backend=SlowBackend(redis_url, 2)) as (_, slow_url), \
                running_server(backend=RedisBackend(redis_url, 2)) as (_, url):
            a, b = await connect(slow_url), await connect(url)
            await a.join("slow-first")
            assert (await b.join("slow-first"))["peers"] == [a.id]
            await asyncio.sleep(0.4)
            await b.send({"type": "ping"})
            assert await b.recv() == {"type": "pong"}  # not {"type": "peer-joined", a.id}
            assert (await a.expect("peer-joined"))["id"] == b.id
            await a.close()
            await b.close()

    with redis_server() as redis_url:
        asyncio.run(scenario(redis_url))


@needs_redis
def test_a_flood_of_relays_is_read_with_backpressure_and_delivered_in_order() -> None:
    async def scenario(redis_url: str) -> None:
        config = ServerConfig(max_pending_relays=4)
        backend_a, backend_b = RedisBackend(redis_url, 2), RedisBackend(redis_url, 2)
        async with running_server(config, backend_a) as (server, url_a), \
                running_server(config, backend_b) as (_, url_b):
            a, b = await connect(url_a), await connect(url_b)
            await a.join("flood")
            await b.join("flood")
            await a.expect("peer-joined")
            for i in range(300):
                await a.send({"type": "candidate", "candidate": f"c{i}"})
            for i in range(300):
                assert (await b.expect("candidate"))["candidate"] == f"c{i}"
            member = server.connections[a.id]
            assert not member.pending_relays
            assert server.metrics.relayed["candidate"] == 300
            await a.close()
            await b.close()

    with redis_server() as redis_url:
        asyncio.run(scenario(redis_url))
