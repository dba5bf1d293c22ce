"""Rooms shared by several server processes through Redis (`--redis redis://H:P/N`).

Keys (all under a prefix, "signaling:" by default):
  {prefix}room:{ROOM}   hash member id → id of the server process holding its socket
  {prefix}alive:{SID}   set with a TTL while server SID runs; refreshed every TTL/3
Channel {prefix}server:{SID} carries batches of "MEMBER\\nLENGTH\\nFRAME" records to server
SID, which writes each FRAME to MEMBER's socket. Joins, leaves and relays run in one Lua
script, batched and in order, so the capacity check and the fan-out are atomic; a join also
removes members whose server stopped refreshing its alive key (a crashed process), and reports
them so the others are told peer-left. For a single Redis server, not Redis Cluster (the
script touches keys it does not declare).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import zlib
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from signaling.backend import Deliver
from signaling.protocol import EXCERPT_CHARS, ErrorCode, ProtocolError

log = logging.getLogger("signaling")

# One script call runs a batch of operations in order: ("j", member, announcement) joins,
# ("l", member) leaves, ("r", sender, to, frame) relays, each on the room hash in KEYS at its
# position.
# Relayed frames are published once per destination server, at the end of the batch.
OPS_SCRIPT = """
local alive_prefix, channel_prefix = ARGV[1], ARGV[2]
local capacity, server_id = tonumber(ARGV[3]), ARGV[4]
local out, order, results = {}, {}, {}
local function add(server, member, text)
  if not out[server] then out[server] = {}; table.insert(order, server) end
  local records = out[server]
  records[#records + 1] = member .. '\\n' .. #text .. '\\n' .. text
end
local function join(key, member, announce)
  local entries = redis.call('HGETALL', key)
  local others, servers, stale = {}, {}, {}
  for j = 1, #entries, 2 do
    if redis.call('EXISTS', alive_prefix .. entries[j + 1]) == 0 then
      redis.call('HDEL', key, entries[j])
      table.insert(stale, entries[j])
    elseif entries[j] == member then
      return {-1, others, stale}
    else
      table.insert(others, entries[j])
      table.insert(servers, entries[j + 1])
    end
  end
  if #others >= capacity then return {0, others, stale} end
  redis.call('HSET', key, member, server_id)
  for j = 1, #others do
    for _, gone in ipairs(stale) do
      add(servers[j], others[j], '{"type":"peer-left","id":"' .. gone .. '"}')
    end
    add(servers[j], others[j], announce)
  end
  return {1, others, stale}
end
local function relay(key, sender, to, text)
  if to ~= '' then
    local server = false
    if to ~= sender then server = redis.call('HGET', key, to) end
    if not server then return -1 end
    add(server, to, text)
    return 1
  end
  local n = 0
  local entries = redis.call('HGETALL', key)
  for j = 1, #entries, 2 do
    if entries[j] ~= sender then add(entries[j + 1], entries[j], text); n = n + 1 end
  end
  return n
end
local a = 5
for i = 1, #KEYS do
  local op = ARGV[a]
  if op == 'j' then
    results[i] = join(KEYS[i], ARGV[a + 1], ARGV[a + 2]); a = a + 3
  elseif op == 'l' then
    results[i] = redis.call('HDEL', KEYS[i], ARGV[a + 1]); a = a + 2
  else
    results[i] = relay(KEYS[i], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]); a = a + 4
  end
end
for _, server in ipairs(order) do
  redis.call('PUBLISH', channel_prefix .. server, table.concat(out[server]))
end
return results
"""


def parse_records(data: bytes) -> list[tuple[str, str]]:
    """Split one published batch into (member, frame) records: MEMBER \\n LENGTH \\n FRAME..."""
    records = []
    position = 0
    while position < len(data):
        member_end = data.index(b"\n", position)
        length_end = data.index(b"\n", member_end + 1)
        length = int(data[member_end + 1:length_end])
        frame_end = length_end + 1 + length
        records.append((data[position:member_end].decode(),
                        data[length_end + 1:frame_end].decode()))
        position = frame_end
    return records


class _OpBatcher:
    """Sends room operations to Redis, many per round trip, in the order they were made.

    redis-py spends most of a command's cost in Python, so the operations that queue up while
    one script call is in flight go together in the next call. One call at a time per batcher
    keeps the operations given to it in order; when they come one at a time, each goes at
    once."""

    MAX_BATCH = 256

    def __init__(self, client: aioredis.Redis, header: list[str | int]) -> None:
        self._client = client
        self._header = header
        self._pending: list[tuple[str, list[str], asyncio.Future[Any]]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def submit(self, key: str, op: list[str]) -> asyncio.Future[Any]:
        """Queue one operation now; the future gives the script's result for it."""
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((key, op, future))
        self._wakeup.set()
        return future

    async def call(self, key: str, op: list[str]) -> Any:
        return await self.submit(key, op)

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            batch = self._pending[: self.MAX_BATCH]
            del self._pending[: self.MAX_BATCH]
            if self._pending:
                self._wakeup.set()
            keys = [key for key, _, _ in batch]
            args: list[str | int] = list(self._header)
            for _, op, _ in batch:
                args += op
            try:
                results = await self._client.eval(OPS_SCRIPT, len(keys), *keys, *args)
            except (RedisError, OSError) as exc:
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, _, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for _, _, future in self._pending:
            if not future.done():
                future.set_exception(RedisError("the Redis backend is closing"))
        self._pending = []


class RedisBackend:
    name = "redis"

    def __init__(self, url: str, capacity: int, prefix: str = "signaling:",
                 alive_ttl_s: float = 15.0, shards: int = 8) -> None:
        self.url = url
        self.capacity = capacity
        self.prefix = prefix
        self.server_id = secrets.token_hex(6)
        self.alive_ttl_s = alive_ttl_s
        self._redis = aioredis.from_url(url, decode_responses=True)
        header: list[str | int] = [f"{prefix}alive:", f"{prefix}server:", capacity,
                                   self.server_id]
        # Operations on one room always go through the same batcher (so they stay in order);
        # several batchers keep several script calls in flight.
        self._shards = [_OpBatcher(self._redis, header) for _ in range(shards)]
        self._subscriber = aioredis.from_url(url)  # bytes: records carry byte lengths
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def _channel(self) -> str:
        return f"{self.prefix}server:{self.server_id}"

    def _room_key(self, room: str) -> str:
        return f"{self.prefix}room:{room}"

    def _ops(self, room: str) -> _OpBatcher:
        return self._shards[zlib.crc32(room.encode()) % len(self._shards)]

    async def start(self, deliver: Deliver) -> None:
        await self._refresh_alive()
        pubsub = self._subscriber.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self._channel)
        self._tasks = [asyncio.create_task(self._listen(pubsub, deliver)),
                       asyncio.create_task(self._keep_alive())]

    async def _refresh_alive(self) -> None:
        await self._redis.set(f"{self.prefix}alive:{self.server_id}", "1",
                              px=int(self.alive_ttl_s * 1000))

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self.alive_ttl_s / 3)
            try:
                await self._refresh_alive()
            except RedisError as exc:
                log.warning("cannot refresh this server's alive key in Redis: %s", exc)

    async def _listen(self, pubsub: aioredis.client.PubSub, deliver: Deliver) -> None:
        while True:
            try:
                async for message in pubsub.listen():
                    data = message.get("data")
                    if message.get("type") == "message" and isinstance(data, bytes):
                        for member, text in parse_records(data):
                            deliver(member, text)
            except RedisError as exc:
                log.warning("Redis subscription failed (%s); resubscribing in 1 s", exc)
                await asyncio.sleep(1.0)
                with contextlib.suppress(RedisError):
                    await pubsub.subscribe(self._channel)

    async def join(self, room: str, member: str, announce: str) -> tuple[list[str], list[str]]:
        status, others, stale = await self._ops(room).call(self._room_key(room),
                                                           ["j", member, announce])
        if status == -1:
            raise ProtocolError(ErrorCode.ALREADY_JOINED, f"already in room {room!r}")
        if status == 0:
            raise ProtocolError(
                ErrorCode.ROOM_FULL,
                f"room {room!r} is full ({self.capacity} members); pick another room")
        return list(others), list(stale)

    async def leave(self, room: str, member: str) -> None:
        await self._ops(room).call(self._room_key(room), ["l", member])

    def relay(self, room: str, sender: str, to: str | None, text: str) -> asyncio.Future[int]:
        raw = self._ops(room).submit(self._room_key(room), ["r", sender, to or "", text])
        result: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def settle(done: asyncio.Future[Any]) -> None:
            if result.cancelled():
                return
            error = done.exception() if not done.cancelled() else RedisError("cancelled")
            if error is not None:
                result.set_exception(error)
            elif int(done.result()) < 0:
                result.set_exception(ProtocolError(
                    ErrorCode.NO_SUCH_PEER,
                    f"no other member {(to or '')[:EXCERPT_CHARS]!r} in room {room!r}; "
                    "use an id from joined/peer-joined"))
            else:
                result.set_result(int(done.result()))

        raw.add_done_callback(settle)
        return result

    async def healthy(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, RedisError):
                await task
        self._tasks = []
        for shard in self._shards:
            await shard.close()
        with contextlib.suppress(RedisError, OSError):
            await self._redis.delete(f"{self.prefix}alive:{self.server_id}")
        await self._redis.aclose()
        await self._subscriber.aclose()
