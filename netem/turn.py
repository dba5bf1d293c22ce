"""A TURN server core (RFC 8656 over UDP, the subset WebRTC clients use), sans-I/O.

Feed it what arrives and drain what it wants sent, aioquic-style:

* ``receive_client_datagram(data, client, now_ms)``: a datagram on the listen socket;
* ``receive_peer_datagram(relayed, data, peer, now_ms)``: a datagram on the relay socket
  of the allocation whose relayed address is ``relayed``;
* ``datagrams_to_send(now_ms) -> list[Datagram]``: ``Datagram.source`` is ``None`` for the
  listen socket, else the relayed address whose socket must send it;
* ``next_timer() -> float | None`` and ``handle_timer(now_ms)``.

Relay sockets come from a :class:`RelayPorts` plug-in, links from a
``netem.turn_paths.LinkFactory``; nothing here reads a clock or touches a socket.

Supported: Binding; Allocate (UDP only; XOR-RELAYED-ADDRESS, XOR-MAPPED-ADDRESS, LIFETIME);
Refresh (LIFETIME 0 deletes); CreatePermission; ChannelBind; Send and Data indications;
ChannelData. Long-term credentials (``netem.turn_auth``); every response to an
authenticated request carries MESSAGE-INTEGRITY, and all responses FINGERPRINT. A request
on an allocation from another user than its owner gets 441. Default lifetimes: allocation
600 s (at most 3600 s), permission 300 s, channel 600 s; a live channel also keeps its own
peer reachable (``netem.turn_alloc``). Only the last XOR-PEER-ADDRESS of a CreatePermission
counts, and unknown comprehension-required attributes (EVEN-PORT, RESERVATION-TOKEN,
REQUESTED-ADDRESS-FAMILY...) are ignored rather than answered with 420, because aioice's
parser keeps one value per attribute type and drops types it does not know. IPv4 only.

Shaping. Every allocation has a real UDP relay socket, so any peer can reach it. Data a
client sends out through its allocation (Send indication or ChannelData) crosses a link
before it leaves. Allocations are numbered in creation order; for data from allocation X to
the relayed address of allocation Y, the path is (first, second) and the direction UP when
X comes first, DOWN otherwise. The older allocation comes first, unless
``TurnConfig.up_usernames`` (``--up-user``) holds the user of exactly one of the two: that
one comes first. So in a two-party call where each side holds one allocation (what aiortc
and Chromium make on loopback, relay-only), ``--up`` shapes what the side that allocated
first sends (with aiortc, the offerer: it gathers candidates first; an offering Chromium
allocated after our answering peer, and more than once). Give the two sides their own users
and name the sender's in ``up_usernames`` to make its sending UP whatever the order, as
``experiments.run`` does. When the link delivers
it, the datagram is handed to Y inside the server, exactly as if Y's relay socket had
received it from X's relayed address (Y's permissions apply); that saves two system calls
per packet. A datagram that does reach Y's socket from X's address is likewise not shaped
twice. Data between an allocation and an outside peer (not a relayed address here) uses
the path (allocation, peer): UP for what the client sends, DOWN for what the peer sends,
shaped before it reaches the client. Each path has its own pair of links (ICE may try
several). A side holding several allocations gets one path per pair, each ordered on its
own, so if its allocations straddle the other side's in time, its traffic can take both
directions (``--up-user`` avoids that).

Bad input never raises: malformed datagrams, failed authentication, unknown channels,
data from or to peers without permission, and more than ``request_rate_per_s`` STUN
requests per second from one address (any STUN datagram, from an address without an
allocation) are dropped or answered with the TURN error, and counted in ``counters``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, fields
from typing import Any, Protocol

from aioice import stun

from netem.turn_alloc import (
    ALLOCATION_LIFETIME_S_DEFAULT,
    ALLOCATION_LIFETIME_S_MAX,
    CHANNEL_LIFETIME_S,
    PERMISSION_LIFETIME_S,
    Address,
    Allocation,
    granted_lifetime_s,
)
from netem.turn_auth import AuthOutcome, LongTermAuth
from netem.turn_limit import RateLimiter
from netem.turn_paths import Direction, LinkFactory, Paths, Relayed

UDP_PROTOCOL = 17
SOFTWARE = "rtvc-netem"
HOUSEKEEPING_INTERVAL_MS = 1000.0
REQUEST_RATE_PER_S_DEFAULT = 200.0
CHANNEL_HEADER = struct.Struct("!HH")
STUN_COOKIE = struct.pack("!I", stun.COOKIE)


class RelayPorts(Protocol):
    """Opens and closes the relay sockets of allocations (``netem.relay`` binds real ones)."""

    def open(self) -> Address:
        """Bind a new relay socket and return its address; raise OSError when none is left."""
        ...

    def close(self, relayed: Address) -> None: ...


@dataclass(frozen=True)
class TurnConfig:
    """Server settings; lifetimes in seconds as TURN puts them on the wire."""

    auth: LongTermAuth
    allocation_lifetime_s: int = ALLOCATION_LIFETIME_S_DEFAULT
    allocation_lifetime_max_s: int = ALLOCATION_LIFETIME_S_MAX
    permission_lifetime_s: int = PERMISSION_LIFETIME_S
    channel_lifetime_s: int = CHANNEL_LIFETIME_S
    request_rate_per_s: float = REQUEST_RATE_PER_S_DEFAULT
    max_allocations: int = 100
    # Allocations made by these users come first in any pair with one made by another user,
    # whatever their age (so a sender can be put on the UP link by its credentials).
    up_usernames: frozenset[str] = frozenset()


@dataclass
class TurnCounters:
    malformed: int = 0
    auth_failures: int = 0
    stale_nonces: int = 0
    bad_requests: int = 0
    allocation_mismatch: int = 0
    unknown_channel: int = 0
    permission_denied: int = 0
    no_allocation: int = 0
    rate_limited: int = 0
    allocations_created: int = 0
    allocations_deleted: int = 0
    allocations_expired: int = 0
    relay_port_failures: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class Datagram:
    source: Address | None
    data: bytes
    dest: Address


def _error(code: int, reason: str, **attrs: Any) -> dict[str, Any]:
    return {"ERROR-CODE": (code, reason), **attrs}


class TurnServer:
    def __init__(self, config: TurnConfig, ports: RelayPorts, links: LinkFactory) -> None:
        self.config = config
        self.counters = TurnCounters()
        self._ports = ports
        self._paths = Paths(links)
        self._by_client: dict[Address, Allocation] = {}
        self._by_relayed: dict[Address, Allocation] = {}
        self._limiter = RateLimiter(config.request_rate_per_s)
        self._out: list[Datagram] = []
        self._seq = 0
        self._housekeeping_ms: float | None = None

    # -- inspection ------------------------------------------------------------------------

    @property
    def allocations(self) -> list[Allocation]:
        return list(self._by_client.values())

    def allocation_for(self, client: Address) -> Allocation | None:
        return self._by_client.get(client)

    # -- input -----------------------------------------------------------------------------

    def receive_client_datagram(self, data: bytes, client: Address, now_ms: float) -> None:
        self._tick(now_ms)
        if len(data) >= 4 and data[0] & 0xC0 == 0x40:
            self._channel_data(data, client, now_ms)
            return
        is_request = len(data) >= 2 and (data[0] << 8 | data[1]) & 0x0110 == 0
        if (is_request or client not in self._by_client) and not self._limiter.allow(
            client, now_ms
        ):
            self.counters.rate_limited += 1
            return
        if data[4:8] != STUN_COOKIE:
            self.counters.malformed += 1
            return
        try:
            message = stun.parse_message(data)
        except Exception:  # aioice raises ValueError, struct.error, UnicodeDecodeError...
            self.counters.malformed += 1
            return
        if message.message_class == stun.Class.REQUEST:
            self._request(message, client, now_ms)
        elif (
            message.message_class == stun.Class.INDICATION
            and message.message_method == stun.Method.SEND
        ):
            self._send_indication(message, client, now_ms)
        else:
            self.counters.malformed += 1

    def receive_peer_datagram(
        self, relayed: Address, data: bytes, peer: Address, now_ms: float
    ) -> None:
        self._tick(now_ms)
        self._peer_datagram(relayed, data, peer, now_ms)

    def _peer_datagram(self, relayed: Address, data: bytes, peer: Address, now_ms: float) -> None:
        alloc = self._live_allocation(self._by_relayed.get(relayed), now_ms)
        if alloc is None:
            return
        if not alloc.reachable(peer, now_ms):
            self.counters.permission_denied += 1
            return
        item = Relayed(True, relayed, peer, data)
        if peer in self._by_relayed:  # shaped when it left the sending allocation
            self._to_client(item, now_ms)
        else:
            self._paths.send(relayed, peer, Direction.DOWN, item, now_ms)

    # -- output and timers -----------------------------------------------------------------

    def datagrams_to_send(self, now_ms: float) -> list[Datagram]:
        for item in self._paths.deliveries(now_ms):
            if item.to_client:
                self._to_client(item, now_ms)
            elif item.relayed not in self._by_relayed:
                self.counters.no_allocation += 1
            elif item.peer in self._by_relayed:  # to an allocation here: hand it over
                self._peer_datagram(item.peer, item.data, item.relayed, now_ms)
            else:
                self._out.append(Datagram(item.relayed, item.data, item.peer))
        out, self._out = self._out, []
        return out

    def next_timer(self) -> float | None:
        link_ms = self._paths.next_event_time()
        if link_ms is None:
            return self._housekeeping_ms
        if self._housekeeping_ms is None:
            return link_ms
        return min(link_ms, self._housekeeping_ms)

    def handle_timer(self, now_ms: float) -> None:
        self._tick(now_ms)

    def close(self) -> None:
        for alloc in list(self._by_client.values()):
            self._delete(alloc)

    # -- internals -------------------------------------------------------------------------

    def _tick(self, now_ms: float) -> None:
        if self._housekeeping_ms is not None and now_ms < self._housekeeping_ms:
            return
        self._housekeeping_ms = now_ms + HOUSEKEEPING_INTERVAL_MS
        for alloc in list(self._by_client.values()):
            if alloc.expired(now_ms):
                self.counters.allocations_expired += 1
                self._delete(alloc)
            else:
                alloc.expire(now_ms)
        self._limiter.prune(now_ms)

    def _delete(self, alloc: Allocation) -> None:
        self._by_client.pop(alloc.client, None)
        self._by_relayed.pop(alloc.relayed, None)
        self._paths.forget(alloc.relayed)
        self._ports.close(alloc.relayed)

    def _reply(
        self,
        request: stun.Message,
        client: Address,
        attrs: dict[str, Any],
        key: bytes | None,
    ) -> None:
        cls = stun.Class.ERROR if "ERROR-CODE" in attrs else stun.Class.RESPONSE
        response = stun.Message(request.message_method, cls, request.transaction_id, attrs)
        response.attributes["SOFTWARE"] = SOFTWARE
        if key is not None:
            response.add_message_integrity(key)
        else:
            response.add_fingerprint()
        self._out.append(Datagram(None, bytes(response), client))

    def _request(self, request: stun.Message, client: Address, now_ms: float) -> None:
        method = request.message_method
        if method == stun.Method.BINDING:
            self._reply(request, client, {"XOR-MAPPED-ADDRESS": client}, None)
            return
        auth = self.config.auth
        result = auth.check(request, now_ms)
        if result.outcome is not AuthOutcome.OK:
            self._refuse(request, client, result.outcome, now_ms)
            return
        assert result.key is not None and result.username is not None
        key, username = result.key, result.username
        alloc = self._by_client.get(client)
        if alloc is not None and alloc.expired(now_ms):
            self.counters.allocations_expired += 1
            self._delete(alloc)
            alloc = None
        if alloc is not None and alloc.username != username:
            self.counters.auth_failures += 1
            self._reply(request, client, _error(441, "Wrong Credentials"), key)
            return
        if method == stun.Method.ALLOCATE:
            self._allocate(request, client, alloc, username, key, now_ms)
        elif alloc is None:
            self.counters.allocation_mismatch += 1
            self._reply(request, client, _error(437, "Allocation Mismatch"), key)
        elif method == stun.Method.REFRESH:
            self._refresh(request, alloc, now_ms)
        elif method == stun.Method.CREATE_PERMISSION:
            self._create_permission(request, alloc, now_ms)
        elif method == stun.Method.CHANNEL_BIND:
            self._channel_bind(request, alloc, now_ms)
        else:
            self.counters.bad_requests += 1
            self._reply(request, client, _error(400, "Bad Request"), key)

    def _refuse(
        self, request: stun.Message, client: Address, outcome: AuthOutcome, now_ms: float
    ) -> None:
        auth = self.config.auth
        nonce = auth.make_nonce(now_ms)
        if outcome is AuthOutcome.BAD_REQUEST:
            self.counters.bad_requests += 1
            attrs = _error(400, "Bad Request")
        elif outcome is AuthOutcome.STALE_NONCE:
            self.counters.stale_nonces += 1
            attrs = _error(438, "Stale Nonce", REALM=auth.realm, NONCE=nonce)
        else:
            if outcome is AuthOutcome.REJECTED:
                self.counters.auth_failures += 1
            attrs = _error(401, "Unauthorized", REALM=auth.realm, NONCE=nonce)
        self._reply(request, client, attrs, None)

    def _allocate(
        self,
        request: stun.Message,
        client: Address,
        alloc: Allocation | None,
        username: str,
        key: bytes,
        now_ms: float,
    ) -> None:
        if alloc is not None:
            if alloc.allocate_transaction == request.transaction_id:  # a retransmission
                self._reply(request, client, self._allocate_success(alloc, client), key)
            else:
                self.counters.allocation_mismatch += 1
                self._reply(request, client, _error(437, "Allocation Mismatch"), key)
            return
        transport = request.attributes.get("REQUESTED-TRANSPORT")
        if transport is None:
            self.counters.bad_requests += 1
            self._reply(request, client, _error(400, "Bad Request"), key)
            return
        if transport >> 24 != UDP_PROTOCOL:
            self.counters.bad_requests += 1
            self._reply(request, client, _error(442, "Unsupported Transport Protocol"), key)
            return
        if len(self._by_client) >= self.config.max_allocations:
            self.counters.relay_port_failures += 1
            self._reply(request, client, _error(486, "Allocation Quota Reached"), key)
            return
        try:
            relayed = self._ports.open()
        except OSError:
            self.counters.relay_port_failures += 1
            self._reply(request, client, _error(508, "Insufficient Capacity"), key)
            return
        lifetime_s = self._lifetime(request)
        self._seq += 1
        alloc = Allocation(
            seq=self._seq,
            client=client,
            relayed=relayed,
            username=username,
            key=key,
            expires_ms=now_ms + lifetime_s * 1e3,
            allocate_transaction=request.transaction_id,
            lifetime_s=lifetime_s,
        )
        self._by_client[client] = alloc
        self._by_relayed[relayed] = alloc
        self.counters.allocations_created += 1
        self._reply(request, client, self._allocate_success(alloc, client), key)

    def _allocate_success(self, alloc: Allocation, client: Address) -> dict[str, Any]:
        return {
            "XOR-RELAYED-ADDRESS": alloc.relayed,
            "LIFETIME": alloc.lifetime_s,
            "XOR-MAPPED-ADDRESS": client,
        }

    def _lifetime(self, request: stun.Message) -> int:
        return granted_lifetime_s(
            request.attributes.get("LIFETIME"),
            self.config.allocation_lifetime_s,
            self.config.allocation_lifetime_max_s,
        )

    def _refresh(self, request: stun.Message, alloc: Allocation, now_ms: float) -> None:
        if request.attributes.get("LIFETIME") == 0:
            self.counters.allocations_deleted += 1
            self._delete(alloc)
            self._reply(request, alloc.client, {"LIFETIME": 0}, alloc.key)
            return
        alloc.lifetime_s = self._lifetime(request)
        alloc.expires_ms = now_ms + alloc.lifetime_s * 1e3
        self._reply(request, alloc.client, {"LIFETIME": alloc.lifetime_s}, alloc.key)

    def _create_permission(self, request: stun.Message, alloc: Allocation, now_ms: float) -> None:
        peer = request.attributes.get("XOR-PEER-ADDRESS")
        if peer is None:
            self.counters.bad_requests += 1
            self._reply(request, alloc.client, _error(400, "Bad Request"), alloc.key)
            return
        alloc.permit(peer[0], now_ms, self.config.permission_lifetime_s)
        self._reply(request, alloc.client, {}, alloc.key)

    def _channel_bind(self, request: stun.Message, alloc: Allocation, now_ms: float) -> None:
        peer = request.attributes.get("XOR-PEER-ADDRESS")
        channel = request.attributes.get("CHANNEL-NUMBER")
        if peer is None or channel is None or not alloc.can_bind(channel, peer):
            self.counters.bad_requests += 1
            self._reply(request, alloc.client, _error(400, "Bad Request"), alloc.key)
            return
        alloc.bind(channel, peer, now_ms, self.config.channel_lifetime_s)
        alloc.permit(peer[0], now_ms, self.config.permission_lifetime_s)
        self._reply(request, alloc.client, {}, alloc.key)

    def _send_indication(self, message: stun.Message, client: Address, now_ms: float) -> None:
        peer = message.attributes.get("XOR-PEER-ADDRESS")
        data = message.attributes.get("DATA")
        if peer is None or data is None:
            self.counters.malformed += 1
            return
        alloc = self._live_allocation(self._by_client.get(client), now_ms)
        if alloc is None:
            return
        self._from_client(alloc, peer, data, now_ms)

    def _live_allocation(self, alloc: Allocation | None, now_ms: float) -> Allocation | None:
        """The allocation if it is still alive; else None, counted."""
        if alloc is None or alloc.expired(now_ms):
            self.counters.no_allocation += 1
            return None
        return alloc

    def _channel_data(self, data: bytes, client: Address, now_ms: float) -> None:
        channel, length = CHANNEL_HEADER.unpack_from(data)
        if len(data) < 4 + length:
            self.counters.malformed += 1
            return
        alloc = self._live_allocation(self._by_client.get(client), now_ms)
        if alloc is None:
            return
        peer = alloc.channel_peer(channel, now_ms)
        if peer is None:
            self.counters.unknown_channel += 1
            return
        self._from_client(alloc, peer, data[4 : 4 + length], now_ms)

    def _from_client(self, alloc: Allocation, peer: Address, data: bytes, now_ms: float) -> None:
        if not alloc.reachable(peer, now_ms):
            self.counters.permission_denied += 1
            return
        item = Relayed(False, alloc.relayed, peer, data)
        other = self._by_relayed.get(peer)
        if other is None or self._comes_first(alloc, other):
            self._paths.send(alloc.relayed, peer, Direction.UP, item, now_ms)
        else:
            self._paths.send(peer, alloc.relayed, Direction.DOWN, item, now_ms)

    def _comes_first(self, a: Allocation, b: Allocation) -> bool:
        """Is ``a`` the first allocation of the pair (its sending is UP)?"""
        up_users = self.config.up_usernames
        if up_users:
            a_up, b_up = a.username in up_users, b.username in up_users
            if a_up != b_up:
                return a_up
        return a.seq < b.seq

    def _to_client(self, item: Relayed, now_ms: float) -> None:
        alloc = self._by_relayed.get(item.relayed)
        if alloc is None:
            self.counters.no_allocation += 1
            return
        channel = alloc.channel_for(item.peer, now_ms)
        if channel is not None:
            data = CHANNEL_HEADER.pack(channel, len(item.data)) + item.data
        else:
            indication = stun.Message(
                stun.Method.DATA,
                stun.Class.INDICATION,
                attributes={"XOR-PEER-ADDRESS": item.peer, "DATA": item.data},
            )
            data = bytes(indication)
        self._out.append(Datagram(None, data, alloc.client))
