"""The sans-I/O TURN core in virtual time: protocol answers, lifetimes, relaying, bad input."""

from __future__ import annotations

import struct

import pytest
from aioice import stun

from netem.turn import Datagram, TurnConfig, TurnServer
from netem.turn_auth import LongTermAuth, make_integrity_key
from netem.turn_paths import Direction

USER, PASSWORD, REALM = "alice", "secret", "test"
A = ("127.0.0.1", 40001)
B = ("127.0.0.1", 40002)
OUTSIDE = ("127.0.0.2", 9999)
UDP = 0x11000000


class FakePorts:
    def __init__(self) -> None:
        self.open_ports: set[tuple[str, int]] = set()
        self.next_port = 50000
        self.fail = False

    def open(self) -> tuple[str, int]:
        if self.fail:
            raise OSError("no ports")
        self.next_port += 1
        addr = ("127.0.0.1", self.next_port)
        self.open_ports.add(addr)
        return addr

    def close(self, relayed: tuple[str, int]) -> None:
        self.open_ports.discard(relayed)


class DelayLink:
    """A link that only delays: enough to see which direction a datagram took."""

    def __init__(self, direction: Direction, delay_ms: float, log: list) -> None:
        self.direction = direction
        self.delay_ms = delay_ms
        self.log = log
        self.queue: list[tuple[float, object]] = []

    def enqueue(self, size_bytes: int, payload: object, now_ms: float) -> None:
        self.log.append((self.direction, size_bytes))
        self.queue.append((now_ms + self.delay_ms, payload))

    def deliveries(self, now_ms: float) -> list[object]:
        due = [p for t, p in self.queue if t <= now_ms]
        self.queue = [(t, p) for t, p in self.queue if t > now_ms]
        return due

    def next_event_time(self) -> float | None:
        return min((t for t, _ in self.queue), default=None)


class Harness:
    def __init__(self, **config: object) -> None:
        self.ports = FakePorts()
        self.link_log: list[tuple[Direction, int]] = []
        auth = LongTermAuth(users={USER: PASSWORD, "bob": "pw"}, realm=REALM)
        self.server = TurnServer(
            TurnConfig(auth=auth, **config),  # type: ignore[arg-type]
            self.ports,
            lambda d, now_ms: DelayLink(d, 10.0 if d is Direction.UP else 20.0, self.link_log),
        )
        self.nonce: bytes | None = None

    def request(
        self,
        method: stun.Method,
        client: tuple[str, int],
        now_ms: float,
        attrs: dict | None = None,
        user: str = USER,
        password: str = PASSWORD,
        auth: bool = True,
    ) -> stun.Message:
        msg = stun.Message(method, stun.Class.REQUEST, attributes=dict(attrs or {}))
        if auth:
            if self.nonce is None:
                self.nonce = self.server.config.auth.make_nonce(now_ms)
            msg.attributes.update(USERNAME=user, REALM=REALM, NONCE=self.nonce)
            msg.add_message_integrity(make_integrity_key(user, REALM, password))
        self.server.receive_client_datagram(bytes(msg), client, now_ms)
        [response] = self.sent(now_ms)
        assert response.dest == client and response.source is None
        parsed = stun.parse_message(response.data)
        assert parsed.transaction_id == msg.transaction_id
        return parsed

    def allocate(self, client: tuple[str, int], now_ms: float = 0.0) -> tuple[str, int]:
        resp = self.request(stun.Method.ALLOCATE, client, now_ms, {"REQUESTED-TRANSPORT": UDP})
        assert resp.message_class == stun.Class.RESPONSE, resp
        return resp.attributes["XOR-RELAYED-ADDRESS"]

    def sent(self, now_ms: float) -> list[Datagram]:
        return self.server.datagrams_to_send(now_ms)


def key() -> bytes:
    return make_integrity_key(USER, REALM, PASSWORD)


def test_allocate_needs_credentials_then_succeeds_with_signed_response() -> None:
    h = Harness()
    challenge = h.request(stun.Method.ALLOCATE, A, 0.0, {"REQUESTED-TRANSPORT": UDP}, auth=False)
    assert challenge.message_class == stun.Class.ERROR
    assert challenge.error_code == 401
    assert challenge.attributes["REALM"] == REALM and challenge.attributes["NONCE"]
    assert "FINGERPRINT" in challenge.attributes
    h.nonce = challenge.attributes["NONCE"]
    resp = h.request(stun.Method.ALLOCATE, A, 1.0, {"REQUESTED-TRANSPORT": UDP, "LIFETIME": 900})
    assert resp.message_class == stun.Class.RESPONSE
    assert resp.check_message_integrity(key())
    assert resp.attributes["XOR-MAPPED-ADDRESS"] == A
    assert resp.attributes["XOR-RELAYED-ADDRESS"] in h.ports.open_ports
    assert resp.attributes["LIFETIME"] == 900
    assert h.server.counters.allocations_created == 1


def test_wrong_password_and_unknown_user_are_refused_and_counted() -> None:
    h = Harness()
    for user, password in [(USER, "wrong"), ("mallory", PASSWORD)]:
        resp = h.request(
            stun.Method.ALLOCATE, A, 0.0, {"REQUESTED-TRANSPORT": UDP}, user=user,
            password=password,
        )
        assert resp.error_code == 401
    assert h.server.counters.auth_failures == 2
    assert h.server.allocations == []


def test_stale_nonce_gets_438_with_a_fresh_nonce() -> None:
    h = Harness()
    h.nonce = h.server.config.auth.make_nonce(0.0)
    late_ms = h.server.config.auth.nonce_lifetime_ms + 1.0
    resp = h.request(stun.Method.ALLOCATE, A, late_ms, {"REQUESTED-TRANSPORT": UDP})
    assert resp.error_code == 438
    assert resp.attributes["NONCE"] != h.nonce
    h.nonce = resp.attributes["NONCE"]
    h.allocate(A, late_ms)


def test_other_user_on_an_allocation_gets_441() -> None:
    h = Harness()
    h.allocate(A)
    resp = h.request(stun.Method.REFRESH, A, 5.0, {"LIFETIME": 600}, user="bob", password="pw")
    assert resp.error_code == 441
    assert resp.check_message_integrity(make_integrity_key("bob", REALM, "pw"))


def test_allocate_rules() -> None:
    h = Harness()
    assert h.request(stun.Method.ALLOCATE, A, 0.0, {}).error_code == 400
    tcp = {"REQUESTED-TRANSPORT": 0x06000000}
    assert h.request(stun.Method.ALLOCATE, A, 0.0, tcp).error_code == 442
    h.allocate(A)
    # a second Allocate on the same 5-tuple is a mismatch
    again = h.request(stun.Method.ALLOCATE, A, 0.0, {"REQUESTED-TRANSPORT": UDP})
    assert again.error_code == 437
    h.ports.fail = True
    assert h.request(stun.Method.ALLOCATE, B, 0.0, {"REQUESTED-TRANSPORT": UDP}).error_code == 508


def test_allocate_retransmission_returns_the_same_allocation() -> None:
    h = Harness()
    h.nonce = h.server.config.auth.make_nonce(0.0)
    msg = stun.Message(stun.Method.ALLOCATE, stun.Class.REQUEST)
    msg.attributes.update({"REQUESTED-TRANSPORT": UDP, "USERNAME": USER, "REALM": REALM})
    msg.attributes["NONCE"] = h.nonce
    msg.add_message_integrity(key())
    relayed = []
    for _ in range(2):
        h.server.receive_client_datagram(bytes(msg), A, 0.0)
        [out] = h.sent(0.0)
        relayed.append(stun.parse_message(out.data).attributes["XOR-RELAYED-ADDRESS"])
    assert relayed[0] == relayed[1]
    assert len(h.server.allocations) == 1


def test_refresh_and_expiry() -> None:
    h = Harness()
    relayed = h.allocate(A)
    resp = h.request(stun.Method.REFRESH, A, 500_000.0, {"LIFETIME": 600})
    assert resp.attributes["LIFETIME"] == 600
    h.server.handle_timer(1_000_000.0)  # 500 s after the refresh: still there
    assert h.server.allocation_for(A) is not None
    h.server.handle_timer(1_100_001.0)  # 600 s after it: gone, port closed
    assert h.server.allocation_for(A) is None
    assert relayed not in h.ports.open_ports
    assert h.server.counters.allocations_expired == 1
    assert h.request(stun.Method.REFRESH, A, 1_100_002.0, {"LIFETIME": 600}).error_code == 437


def test_refresh_with_lifetime_zero_deletes() -> None:
    h = Harness()
    relayed = h.allocate(A)
    resp = h.request(stun.Method.REFRESH, A, 10.0, {"LIFETIME": 0})
    assert resp.message_class == stun.Class.RESPONSE and resp.attributes["LIFETIME"] == 0
    assert h.server.allocations == [] and relayed not in h.ports.open_ports


def test_permissions_and_relaying_to_an_outside_peer() -> None:
    h = Harness()
    relayed = h.allocate(A)
    send = stun.Message(
        stun.Method.SEND, stun.Class.INDICATION,
        attributes={"XOR-PEER-ADDRESS": OUTSIDE, "DATA": b"hello"},
    )
    h.server.receive_client_datagram(bytes(send), A, 1.0)
    assert h.server.counters.permission_denied == 1
    resp = h.request(stun.Method.CREATE_PERMISSION, A, 2.0, {"XOR-PEER-ADDRESS": OUTSIDE})
    assert resp.message_class == stun.Class.RESPONSE and resp.check_message_integrity(key())
    h.server.receive_client_datagram(bytes(send), A, 3.0)
    assert h.sent(3.0) == [] and h.server.next_timer() == 13.0  # UP link delays 10 ms
    assert h.sent(13.0) == [Datagram(relayed, b"hello", OUTSIDE)]
    # the peer answers: DOWN link (20 ms), then a Data indication to the client
    h.server.receive_peer_datagram(relayed, b"back", OUTSIDE, 20.0)
    assert h.sent(39.0) == []
    [out] = h.sent(40.0)
    data = stun.parse_message(out.data)
    assert out.dest == A and data.message_method == stun.Method.DATA
    assert data.attributes == {"XOR-PEER-ADDRESS": OUTSIDE, "DATA": b"back"}
    # a peer without permission is dropped; so is everything after the permission expires
    h.server.receive_peer_datagram(relayed, b"x", ("127.0.0.3", 1), 41.0)
    h.server.receive_peer_datagram(relayed, b"x", OUTSIDE, 2.0 + 300_000.0)
    assert h.server.counters.permission_denied == 3
    assert [d for d, _ in h.link_log] == [Direction.UP, Direction.DOWN]


def test_channel_bind_and_channel_data_between_two_allocations() -> None:
    h = Harness()
    ra = h.allocate(A)
    rb = h.allocate(B)
    for client, peer in [(A, rb), (B, ra)]:
        attrs = {"CHANNEL-NUMBER": 0x4001, "XOR-PEER-ADDRESS": peer}
        resp = h.request(stun.Method.CHANNEL_BIND, client, 1.0, attrs)
        assert resp.message_class == stun.Class.RESPONSE
    # A (older) -> B: UP link (10 ms), then handed to B inside the server, as ChannelData
    h.server.receive_client_datagram(struct.pack("!HH", 0x4001, 3) + b"abc", A, 5.0)
    assert h.sent(14.9) == []
    assert h.sent(15.0) == [Datagram(None, struct.pack("!HH", 0x4001, 3) + b"abc", B)]
    # the same datagram arriving at B's real relay socket from A's address is not shaped again
    h.server.receive_peer_datagram(rb, b"abc", ra, 15.1)
    assert h.sent(15.1) == [Datagram(None, struct.pack("!HH", 0x4001, 3) + b"abc", B)]
    # B -> A takes the DOWN link (20 ms)
    h.server.receive_client_datagram(struct.pack("!HH", 0x4001, 2) + b"xy", B, 20.0)
    assert h.sent(39.0) == []
    assert h.sent(40.0) == [Datagram(None, struct.pack("!HH", 0x4001, 2) + b"xy", A)]
    # once B is gone its address is an outside peer: the datagram leaves A's relay socket
    h.request(stun.Method.REFRESH, B, 41.0, {"LIFETIME": 0})
    h.server.receive_client_datagram(struct.pack("!HH", 0x4001, 2) + b"xy", A, 42.0)
    assert h.sent(100.0) == [Datagram(ra, b"xy", rb)]
    assert [d for d, _ in h.link_log] == [Direction.UP, Direction.DOWN, Direction.UP]


def test_handed_over_datagram_needs_a_permission_at_the_receiver() -> None:
    h = Harness()
    ra = h.allocate(A)
    rb = h.allocate(B)
    h.request(stun.Method.CREATE_PERMISSION, B, 0.0, {"XOR-PEER-ADDRESS": ("127.0.0.5", 1)})
    h.request(stun.Method.CHANNEL_BIND, A, 0.0, {"CHANNEL-NUMBER": 0x4000, "XOR-PEER-ADDRESS": rb})
    h.server.receive_client_datagram(struct.pack("!HH", 0x4000, 1) + b"z", A, 1.0)
    assert h.sent(100.0) == []
    assert h.server.counters.permission_denied == 1
    # B permits 127.0.0.1 (permissions are per IP): now it gets through, as a Data indication
    h.request(stun.Method.CREATE_PERMISSION, B, 101.0, {"XOR-PEER-ADDRESS": (ra[0], 7)})
    h.server.receive_client_datagram(struct.pack("!HH", 0x4000, 1) + b"z", A, 102.0)
    [out] = h.sent(112.0)
    data = stun.parse_message(out.data)
    assert out.dest == B and data.attributes == {"XOR-PEER-ADDRESS": ra, "DATA": b"z"}


def test_channel_bind_rules() -> None:
    h = Harness()
    h.allocate(A)
    bad = [
        {"CHANNEL-NUMBER": 0x3FFF, "XOR-PEER-ADDRESS": OUTSIDE},
        {"CHANNEL-NUMBER": 0x4001},
    ]
    for attrs in bad:
        assert h.request(stun.Method.CHANNEL_BIND, A, 0.0, attrs).error_code == 400
    ok = {"CHANNEL-NUMBER": 0x4001, "XOR-PEER-ADDRESS": OUTSIDE}
    assert h.request(stun.Method.CHANNEL_BIND, A, 0.0, ok).message_class == stun.Class.RESPONSE
    other_peer = {"CHANNEL-NUMBER": 0x4001, "XOR-PEER-ADDRESS": ("127.0.0.2", 1)}
    assert h.request(stun.Method.CHANNEL_BIND, A, 0.0, other_peer).error_code == 400
    other_number = {"CHANNEL-NUMBER": 0x4002, "XOR-PEER-ADDRESS": OUTSIDE}
    assert h.request(stun.Method.CHANNEL_BIND, A, 0.0, other_number).error_code == 400
    # rebinding the same pair refreshes it
    assert h.request(stun.Method.CHANNEL_BIND, A, 1.0, ok).message_class == stun.Class.RESPONSE
    # the binding lapses 600 s after its refresh: ChannelData on it is an unknown channel
    h.request(stun.Method.REFRESH, A, 300_000.0, {"LIFETIME": 600})
    h.server.handle_timer(601_001.0)
    h.server.receive_client_datagram(struct.pack("!HH", 0x4001, 1) + b"z", A, 601_002.0)
    assert h.server.counters.unknown_channel == 1


def test_requests_without_allocation_get_437() -> None:
    h = Harness()
    for method in (stun.Method.REFRESH, stun.Method.CREATE_PERMISSION, stun.Method.CHANNEL_BIND):
        assert h.request(method, A, 0.0, {"XOR-PEER-ADDRESS": OUTSIDE}).error_code == 437


def test_binding_request_is_answered_without_auth() -> None:
    h = Harness()
    resp = h.request(stun.Method.BINDING, A, 0.0, auth=False)
    assert resp.attributes["XOR-MAPPED-ADDRESS"] == A


@pytest.mark.parametrize(
    "junk",
    [
        b"",
        b"\x00",
        b"\xff" * 40,
        b"\x00\x01\x00\x00" + b"\x00" * 16,  # no magic cookie
        b"\x00\x03\x00\x08\x21\x12\xa4\x42" + b"\x00" * 12 + b"\x00\x0d\x00\x02\x00\x01\x00\x00",
        b"\x00\x03\x00\x04\x21\x12\xa4\x42" + b"\x00" * 12 + b"\x00\x0d\x00\x08",  # cut short
        b"\x00\x03\x00\x08\x21\x12\xa4\x42" + b"\x00" * 12 + b"\x00\x06\x00\x02\xff\xfe\x00\x00",
        b"\x01\x13\x00\x00\x21\x12\xa4\x42" + b"\x00" * 12,  # a response sent to a server
        b"\x40\x01\x00\x10abc",  # ChannelData shorter than its length field
        b"\x40\x01\x00\x03abc",  # ChannelData from a client with no allocation
    ],
)
def test_junk_is_dropped_and_counted(junk: bytes) -> None:
    h = Harness()
    h.server.receive_client_datagram(junk, A, 0.0)
    assert h.sent(0.0) == [] or all(d.dest == A for d in h.sent(0.0))
    counted = h.server.counters.as_dict()
    assert sum(counted.values()) >= 1, counted
    h.allocate(B)  # the server still works


def test_flood_of_requests_from_one_address_is_rate_limited_without_harming_others() -> None:
    h = Harness(request_rate_per_s=50.0)
    h.allocate(B)
    msg = bytes(stun.Message(stun.Method.BINDING, stun.Class.REQUEST))
    for i in range(1000):
        h.server.receive_client_datagram(msg, A, 1.0 + i * 0.01)
    answered = h.sent(20.0)
    assert 40 <= len(answered) <= 60
    assert h.server.counters.rate_limited == 1000 - len(answered)
    h.request(stun.Method.REFRESH, B, 20.0, {"LIFETIME": 600})


def test_a_live_channel_keeps_its_peer_reachable_after_the_permission_lapses() -> None:
    h = Harness()
    relayed = h.allocate(A)
    h.request(stun.Method.REFRESH, A, 0.0, {"LIFETIME": 3600})
    bind = {"CHANNEL-NUMBER": 0x4000, "XOR-PEER-ADDRESS": OUTSIDE}
    h.request(stun.Method.CHANNEL_BIND, A, 0.0, bind)
    t = 400_000.0  # permission (300 s) gone, channel (600 s) alive: as aioice runs
    h.server.handle_timer(t)
    assert not h.server.allocation_for(A).permitted(OUTSIDE[0], t)  # type: ignore[union-attr]
    h.server.receive_client_datagram(struct.pack("!HH", 0x4000, 2) + b"hi", A, t)
    assert h.sent(t + 10.0) == [Datagram(relayed, b"hi", OUTSIDE)]
    h.server.receive_peer_datagram(relayed, b"yo", OUTSIDE, t)
    assert h.sent(t + 20.0) == [Datagram(None, struct.pack("!HH", 0x4000, 2) + b"yo", A)]
    # another port on the same IP has no channel and no permission any more
    h.server.receive_peer_datagram(relayed, b"no", (OUTSIDE[0], 1), t)
    assert h.server.counters.permission_denied == 1
    # once the channel lapses too, the peer is cut off
    h.server.handle_timer(600_001.0)
    h.server.receive_peer_datagram(relayed, b"no", OUTSIDE, 600_001.0)
    assert h.server.counters.permission_denied == 2


def test_an_up_user_comes_first_whatever_its_age() -> None:
    h = Harness(up_usernames=frozenset({"bob"}))
    ra = h.allocate(A)  # alice, older
    resp = h.request(
        stun.Method.ALLOCATE, B, 0.0, {"REQUESTED-TRANSPORT": UDP}, user="bob", password="pw"
    )
    rb = resp.attributes["XOR-RELAYED-ADDRESS"]
    h.request(stun.Method.CHANNEL_BIND, A, 0.0, {"CHANNEL-NUMBER": 0x4000, "XOR-PEER-ADDRESS": rb})
    h.request(
        stun.Method.CHANNEL_BIND, B, 0.0, {"CHANNEL-NUMBER": 0x4000, "XOR-PEER-ADDRESS": ra},
        user="bob", password="pw",
    )
    h.server.receive_client_datagram(struct.pack("!HH", 0x4000, 1) + b"b", B, 1.0)
    h.server.receive_client_datagram(struct.pack("!HH", 0x4000, 1) + b"a", A, 1.0)
    assert [d for d, _ in h.link_log] == [Direction.UP, Direction.DOWN]
    assert h.sent(11.0) == [Datagram(None, struct.pack("!HH", 0x4000, 1) + b"b", A)]


C = ("127.0.0.1", 40003)
PASSWORDS = {USER: PASSWORD, "bob": "pw"}


def allocate_as(h: Harness, client: tuple[str, int], user: str) -> tuple[str, int]:
    resp = h.request(stun.Method.ALLOCATE, client, 0.0, {"REQUESTED-TRANSPORT": UDP}, user=user,
                     password=PASSWORDS[user])
    return resp.attributes["XOR-RELAYED-ADDRESS"]


def send_as(h: Harness, client: tuple[str, int], user: str, to: tuple[str, int],
            data: bytes) -> None:
    """Permit `to`, then send `data` there with a Send indication."""
    h.request(stun.Method.CREATE_PERMISSION, client, 0.0, {"XOR-PEER-ADDRESS": to}, user=user,
              password=PASSWORDS[user])
    indication = stun.Message(stun.Method.SEND, stun.Class.INDICATION,
                              attributes={"XOR-PEER-ADDRESS": to, "DATA": data})
    h.server.receive_client_datagram(bytes(indication), client, 1.0)


def directions_of(h: Harness, sends: list[tuple[tuple[str, int], str, tuple[str, int]]]
                  ) -> list[Direction]:
    """The direction each (client, user, to) datagram took, in order."""
    h.link_log.clear()
    for client, user, to in sends:
        send_as(h, client, user, to, b"m" * 100)
    return [d for d, _ in h.link_log]


def test_the_up_user_sends_on_up_when_its_allocations_straddle_the_other_sides() -> None:
    # As a browser does: one allocation before the other side's, one after.
    for up_users, expected in [(frozenset(), [Direction.UP, Direction.DOWN]),
                               (frozenset({"bob"}), [Direction.UP, Direction.UP])]:
        h = Harness(up_usernames=up_users)
        first = allocate_as(h, A, "bob")
        receiver = allocate_as(h, B, USER)
        allocate_as(h, C, "bob")
        sends = [(A, "bob", receiver), (C, "bob", receiver)]
        assert directions_of(h, sends) == expected, up_users
        back = [(B, USER, first)]
        assert directions_of(h, back) == [Direction.DOWN]


def test_an_up_user_allocating_last_still_sends_on_up() -> None:
    h = Harness(up_usernames=frozenset({"bob"}))
    receiver = allocate_as(h, A, USER)  # the receiver allocates first, as Chromium lets it
    sender = allocate_as(h, B, "bob")
    assert directions_of(h, [(B, "bob", receiver), (A, USER, sender)]) == [Direction.UP,
                                                                           Direction.DOWN]


def test_roles_fall_back_to_age_when_both_or_neither_user_is_up() -> None:
    for up_users in (frozenset(), frozenset({USER, "bob"})):
        h = Harness(up_usernames=up_users)
        older = allocate_as(h, A, USER)
        newer = allocate_as(h, B, "bob")
        assert directions_of(h, [(B, "bob", older), (A, USER, newer)]) == [Direction.DOWN,
                                                                           Direction.UP]


def test_an_up_user_sends_to_an_outside_peer_on_up() -> None:
    h = Harness(up_usernames=frozenset({"bob"}))
    allocate_as(h, A, "bob")
    assert directions_of(h, [(A, "bob", OUTSIDE)]) == [Direction.UP]
