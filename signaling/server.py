"""The signaling server: rooms of WebSocket members relaying offer/answer/candidate/bye.

The protocol is in signaling/PROTOCOL.md and `signaling.protocol`. Rooms live in a `Backend`
(in memory by default, Redis to share rooms between processes). A bad message gets an error
frame and the socket stays open; one failing socket never disturbs another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from signaling.backend import Backend, MemoryBackend
from signaling.connection import Connection, QueueLimits
from signaling.metrics import CONTENT_TYPE, Metrics
from signaling.origins import origin_allowed
from signaling.protocol import (
    PROTOCOL_VERSION,
    CloseCode,
    ErrorCode,
    Join,
    Ping,
    ProtocolError,
    Relay,
    encode,
    error_frame,
    parse_client_message,
)
from signaling.tokens import TokenError, verify_token

log = logging.getLogger("signaling")
STATIC_DIR = Path(__file__).with_name("static")
ABNORMAL_CLOSURE = 1006


@dataclass(frozen=True)
class ServerConfig:
    room_capacity: int = 2  # members per room
    max_message_bytes: int = 64 * 1024  # larger frames: close 1009
    send_queue: QueueLimits = field(default_factory=QueueLimits)  # overflow: close 4001
    heartbeat_s: float = 15.0  # ping interval; no pong within heartbeat_s / 2: evicted
    join_timeout_s: float = 10.0  # no join by then: error "join-timeout", close 4000
    allowed_origins: tuple[str, ...] = ()  # browser Origins besides the server's own; "*": any
    token_secret: str | None = None  # when set, join needs a token (signaling.tokens)
    close_timeout_s: float = 2.0  # how long a close handshake may take
    max_pending_relays: int = 64  # per member; then its socket is read only as relays finish


class SignalingServer:
    def __init__(self, config: ServerConfig | None = None, backend: Backend | None = None) -> None:
        self.config = config or ServerConfig()
        self.backend: Backend = backend or MemoryBackend(self.config.room_capacity)
        self.metrics = Metrics()
        self.connections: dict[str, Connection] = {}
        self._local_rooms: dict[str, set[str]] = {}
        self._started = False
        self._shutting_down = False
        self._evictions: set[asyncio.Task[None]] = set()  # referenced until done

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/ws", self.handle_socket)
        app.router.add_get("/", self.handle_index)
        app.router.add_get("/healthz", self.handle_health)
        app.router.add_get("/metrics", self.handle_metrics)
        if STATIC_DIR.is_dir():
            app.router.add_static("/static/", STATIC_DIR)
        app.on_startup.append(self._on_startup)
        app.on_shutdown.append(self._on_shutdown)
        app.on_cleanup.append(self._on_cleanup)
        return app

    async def start(self) -> None:
        if not self._started:
            self._started = True
            await self.backend.start(self._deliver)

    async def _on_startup(self, app: web.Application) -> None:
        await self.start()

    async def _on_shutdown(self, app: web.Application) -> None:
        await self.shutdown()

    async def _on_cleanup(self, app: web.Application) -> None:
        await self.backend.close()

    # --- HTTP ---

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        page = STATIC_DIR / "index.html"
        if not page.is_file():
            raise web.HTTPNotFound(text="the demo page is not installed")
        return web.FileResponse(page, headers={"Cache-Control": "no-cache"})

    async def handle_health(self, request: web.Request) -> web.Response:
        healthy = not self._shutting_down and await self.backend.healthy()
        body = {"status": "ok" if healthy else "unavailable", "backend": self.backend.name,
                "connections": len(self.connections), "rooms": len(self._local_rooms)}
        return web.json_response(body, status=200 if healthy else 503)

    async def handle_metrics(self, request: web.Request) -> web.Response:
        text = self.metrics.render({
            "signaling_connections": lambda: len(self.connections),
            "signaling_rooms": lambda: len(self._local_rooms),
        })
        return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})

    # --- WebSocket ---

    async def handle_socket(self, request: web.Request) -> web.StreamResponse:
        if self._shutting_down:
            self.metrics.errors[str(ErrorCode.SHUTDOWN)] += 1
            raise web.HTTPServiceUnavailable(text="the server is shutting down; reconnect later")
        origin = request.headers.get("Origin")
        if not origin_allowed(origin, request.host, self.config.allowed_origins):
            self.metrics.errors["bad-origin"] += 1
            raise web.HTTPForbidden(
                text=f"origin {origin!r} is not allowed; start the server with --allow-origin"
            )
        socket = web.WebSocketResponse(
            max_msg_size=self.config.max_message_bytes, heartbeat=self.config.heartbeat_s,
            timeout=self.config.close_timeout_s, compress=False,  # CPU over bytes; no reorder
        )
        await socket.prepare(request)
        await self.start()
        member = Connection(secrets.token_hex(6), socket, request.transport,
                            self.config.send_queue, self._on_overflow)
        self.connections[member.id] = member
        self.metrics.connections_total += 1
        loop = asyncio.get_running_loop()
        join_timer = loop.call_later(self.config.join_timeout_s, self._join_timeout, member)
        try:
            async for frame in socket:
                if frame.type == WSMsgType.TEXT:
                    await self._on_text(member, frame.data)
                    if member.room is not None:
                        join_timer.cancel()
                elif frame.type == WSMsgType.BINARY:
                    self._refuse(member, ProtocolError(
                        ErrorCode.BAD_MESSAGE, "binary frames are not accepted; send JSON text"))
            if socket.close_code == CloseCode.MESSAGE_TOO_BIG:
                self.metrics.errors[str(int(CloseCode.MESSAGE_TOO_BIG))] += 1
            elif socket.close_code == ABNORMAL_CLOSURE and member.room is not None:
                self.metrics.evictions["heartbeat"] += 1  # no pong in time, or connection lost
        finally:
            join_timer.cancel()
            self.connections.pop(member.id, None)
            await self._leave(member)
            await member.stop()
        return socket

    def _deliver(self, member_id: str, text: str) -> None:
        member = self.connections.get(member_id)
        if member is not None:
            member.deliver(text)

    def _send(self, member: Connection, message: dict[str, Any]) -> None:
        member.deliver(encode(message))

    def _refuse(self, member: Connection, error: ProtocolError) -> None:
        self.metrics.errors[str(error.code)] += 1
        self._send(member, error.frame())

    async def _on_text(self, member: Connection, text: str) -> None:
        try:
            message = parse_client_message(text)
            if isinstance(message, Join):
                await self._join(member, message)
            elif isinstance(message, Relay):
                if member.room is None:
                    raise ProtocolError(ErrorCode.NOT_JOINED,
                                        f"join a room before sending {message.kind!r}")
                outgoing = encode({**message.fields, "from": member.id})
                # Not awaited: the next frame from this member is read at once, and its
                # relays keep their order in the backend; a refusal comes when known.
                sent = self.backend.relay(member.room, member.id, message.to, outgoing)
                if sent.done():
                    self._relayed(member, message.kind, sent)
                    return
                sent.add_done_callback(partial(self._relayed, member, message.kind))
                pending = member.pending_relays
                pending.add(sent)
                sent.add_done_callback(pending.discard)
                if len(pending) >= self.config.max_pending_relays:  # backpressure on a flood
                    await asyncio.wait(list(pending), return_when=asyncio.FIRST_COMPLETED)
            elif isinstance(message, Ping):
                self._send(member, {**message.fields, "type": "pong"})
        except ProtocolError as error:
            self._refuse(member, error)
        except Exception:  # a backend failure must not kill this socket's loop
            log.exception("handling a message from %s failed", member.id)
            self._refuse(member, ProtocolError(
                ErrorCode.UNAVAILABLE, "the server could not handle this message; try again"))

    def _relayed(self, member: Connection, kind: str, sent: asyncio.Future[int]) -> None:
        if sent.cancelled():
            return
        error = sent.exception()
        if error is None:
            self.metrics.relayed[kind] += 1
        elif isinstance(error, ProtocolError):
            self._refuse(member, error)
        else:
            log.warning("relaying %s from %s failed: %s", kind, member.id, error)
            self._refuse(member, ProtocolError(
                ErrorCode.UNAVAILABLE, f"the server could not relay this {kind}; try again"))

    async def _join(self, member: Connection, join: Join) -> None:
        if member.room is not None:
            raise ProtocolError(ErrorCode.ALREADY_JOINED,
                                f"already in room {member.room!r}; open another socket to switch")
        if self.config.token_secret is not None:
            try:
                verify_token(self.config.token_secret, join.token, join.room, time.time())
            except TokenError as exc:
                raise ProtocolError(ErrorCode.BAD_TOKEN, str(exc)) from None
        # The others hear "peer-joined" in the same backend step as the join, so nothing the
        # joiner sends after "joined" can overtake it.
        others, stale = await self.backend.join(
            join.room, member.id, encode({"type": "peer-joined", "id": member.id}))
        member.room = join.room
        self._local_rooms.setdefault(join.room, set()).add(member.id)
        self.metrics.joins_total += 1
        self.metrics.evictions["stale"] += len(stale)  # members of a server process that died
        self._send(member, {"type": "joined", "v": PROTOCOL_VERSION, "room": join.room,
                            "id": member.id, "peers": others})

    async def _leave(self, member: Connection) -> None:
        room, member.room = member.room, None
        if room is None:
            return
        local = self._local_rooms.get(room)
        if local is not None:
            local.discard(member.id)
            if not local:
                del self._local_rooms[room]
        try:
            await self.backend.leave(room, member.id)
            await self.backend.relay(room, member.id, None,
                                     encode({"type": "peer-left", "id": member.id}))
        except Exception:
            log.exception("leaving room %s for %s failed", room, member.id)

    def _join_timeout(self, member: Connection) -> None:
        if member.room is None and member.id in self.connections:
            self.metrics.errors[str(ErrorCode.JOIN_TIMEOUT)] += 1
            self._send(member, error_frame(
                ErrorCode.JOIN_TIMEOUT,
                f"no join within {self.config.join_timeout_s:g} s; "
                "send join right after connecting"))
            member.close_after_flush(CloseCode.JOIN_TIMEOUT, "join timeout")

    def _on_overflow(self, member: Connection) -> None:
        self.metrics.evictions["slow-consumer"] += 1
        self.metrics.errors[str(int(CloseCode.SLOW_CONSUMER))] += 1
        task = asyncio.get_running_loop().create_task(self._evict_slow(member))
        self._evictions.add(task)
        task.add_done_callback(self._evictions.discard)

    async def _evict_slow(self, member: Connection) -> None:
        await self._leave(member)
        await member.abort(CloseCode.SLOW_CONSUMER, "slow consumer: send queue overflowed",
                           self.config.close_timeout_s)

    async def shutdown(self) -> None:
        """Tell every client (error "shutdown", close 1001) and wait briefly for the closes."""
        self._shutting_down = True
        members = list(self.connections.values())
        for member in members:
            self._send(member, error_frame(ErrorCode.SHUTDOWN,
                                           "the server is shutting down; reconnect later"))
            member.close_after_flush(CloseCode.GOING_AWAY, "server shutting down")
        for member in members:
            await self._leave(member)
        if members:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*(m.drained() for m in members)), self.config.close_timeout_s)
