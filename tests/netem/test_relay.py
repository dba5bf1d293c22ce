"""The relay on real loopback sockets, driven by aioice's own TURN client."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from aioice import stun, turn

from netem import generate
from netem.link import LinkConfig
from netem.loss import LossBurst
from netem.relay import Relay, RelayConfig
from netem.relay_meter import IP_UDP_OVERHEAD_BYTES
from netem.traces import resolve_trace
from netem.turn import TurnConfig
from netem.turn_alloc import Address
from netem.turn_auth import LongTermAuth
from netem.turn_paths import Direction

USER, PASSWORD = "user", "pass"


def relay_config(
    up: str = "const-12mbps", down: str = "const-12mbps", delay_ms: float = 0.0, **kw: object
) -> RelayConfig:
    return RelayConfig(
        up=LinkConfig(trace=resolve_trace(up), delay_ms=delay_ms),
        down=LinkConfig(trace=resolve_trace(down), delay_ms=delay_ms),
        turn=TurnConfig(auth=LongTermAuth(users={USER: PASSWORD}, realm="test")),
        listen=("127.0.0.1", 0),
        **kw,  # type: ignore[arg-type]
    )


def run_with_relay(
    body: Callable[[Relay], Awaitable[None]], config: RelayConfig | None = None
) -> Relay:
    async def main() -> Relay:
        relay = Relay(config or relay_config(), stats_out=io.StringIO())
        await relay.start()
        try:
            await asyncio.wait_for(body(relay), 60)
        finally:
            relay.close()
        return relay

    return asyncio.run(main())


class Inbox(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: list[tuple[float, bytes, tuple[str, int]]] = []
        self.event = asyncio.Event()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        self.received.append((time.monotonic(), data, addr))
        self.event.set()

    async def wait_for(self, count: int, timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.received) < count:
            self.event.clear()
            await asyncio.wait_for(self.event.wait(), max(0.01, deadline - time.monotonic()))


async def turn_client(
    relay: Relay, password: str = PASSWORD
) -> tuple[turn.TurnTransport, Inbox]:
    return await turn.create_turn_endpoint(Inbox, relay.address, USER, password)


def test_allocate_refresh_permission_and_delete_with_aioice_client() -> None:
    async def body(relay: Relay) -> None:
        loop = asyncio.get_running_loop()
        _, client = await loop.create_datagram_endpoint(
            lambda: turn.TurnClientUdpProtocol(
                relay.address, USER, PASSWORD, lifetime=900, channel_refresh_time=500
            ),
            remote_addr=relay.address,
        )
        relayed = await client.connect()
        assert client.mapped_address[0] == "127.0.0.1"
        [alloc] = relay.server.allocations
        assert alloc.relayed == relayed and alloc.lifetime_s == 900
        # the relayed address is a real socket on the listen host
        assert relayed[0] == "127.0.0.1" and relayed[1] != relay.address[1]

        refresh = stun.Message(
            stun.Method.REFRESH, stun.Class.REQUEST, attributes={"LIFETIME": 1200}
        )
        response, _ = await client.request_with_retry(refresh)
        assert response.attributes["LIFETIME"] == 1200

        perm = stun.Message(
            stun.Method.CREATE_PERMISSION, stun.Class.REQUEST,
            attributes={"XOR-PEER-ADDRESS": ("127.0.0.9", 1234)},
        )
        await client.request_with_retry(perm)
        assert alloc.permitted("127.0.0.9", relay._now_ms())

        await client.delete()
        assert relay.server.allocations == []
        assert relay.server.counters.allocations_deleted == 1
        with pytest.raises(OSError):  # the relay port is closed again... or reused by nobody
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                probe.connect(relayed)
                probe.send(b"x")
                probe.settimeout(0.2)
                probe.recv(10)
            finally:
                probe.close()

    run_with_relay(body)


def test_wrong_password_is_refused() -> None:
    async def body(relay: Relay) -> None:
        with pytest.raises(stun.TransactionFailed) as failure:
            await turn_client(relay, password="wrong")
        assert failure.value.response.error_code == 401
        assert relay.server.counters.auth_failures == 1
        assert relay.server.allocations == []

    run_with_relay(body)


def test_channel_data_both_ways_and_junk_does_not_stop_the_relay() -> None:
    async def body(relay: Relay) -> None:
        ta, inbox_a = await turn_client(relay)
        tb, inbox_b = await turn_client(relay)
        ra, rb = ta.get_extra_info("sockname"), tb.get_extra_info("sockname")
        # junk at the listen port and at a relay port, between real traffic
        junk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        junk.bind(("127.0.0.2", 0))  # permissions are per IP: this one never gets one
        junk_data = [b"", b"\x00" * 7, b"\xff" * 100, b"\x00\x01" * 30]
        junk_data += [b"\x40\x00\x00\x09short", b"\x40\x00\x00\x05short"]  # ChannelData
        for data in junk_data:
            junk.sendto(data, relay.address)
            junk.sendto(data, ra)
        junk.close()
        # B needs a permission for A's relay before A's data can reach it: B speaks first
        tb.sendto(b"hello from b", ra)
        ta.sendto(b"hello from a", rb)
        await inbox_a.wait_for(1)
        await inbox_b.wait_for(1)
        for i in range(20):
            ta.sendto(b"a%d" % i, rb)
            tb.sendto(b"b%d" % i, ra)
        await inbox_a.wait_for(21)
        await inbox_b.wait_for(21)
        expected = [b"hello from a"] + [b"a%d" % i for i in range(20)]
        assert [d for _, d, _ in inbox_b.received] == expected
        assert {addr for _, _, addr in inbox_a.received} == {rb}
        assert {addr for _, _, addr in inbox_b.received} == {ra}
        counters = relay.server.counters
        assert counters.malformed >= 3
        assert counters.unknown_channel + counters.no_allocation >= 1
        assert counters.permission_denied >= 5  # junk at the relay port came from no peer
        assert relay.counters.internal_errors == 0
        a_older = relay.server.allocation_for(relay.server.allocations[0].client)
        assert a_older is not None and a_older.relayed == ra
        assert relay.meters[Direction.UP].totals.delivered_packets == 21
        assert relay.meters[Direction.DOWN].totals.delivered_packets == 21

    run_with_relay(body)


def test_rate_and_delay_match_the_link_model(tmp_path: Path) -> None:
    """1 Mbit/s trace, 30 ms delay: a saturating sender gets the trace's rate, a light one
    gets the configured delay, and each packet's one-way delay matches the model's record."""
    delay_ms = 30.0
    log_path = tmp_path / "packets.jsonl"
    payload = 1000
    wire_fraction = payload / (payload + IP_UDP_OVERHEAD_BYTES)
    result: dict[str, float] = {}

    async def body(relay: Relay) -> None:
        ta, _ = await turn_client(relay)
        tb, inbox_b = await turn_client(relay)
        ra, rb = ta.get_extra_info("sockname"), tb.get_extra_info("sockname")
        tb.sendto(b"open", ra)
        ta.sendto(b"open", rb)
        await inbox_b.wait_for(1)

        def stamp(seq: int) -> bytes:
            return struct.pack("!Id", seq, time.monotonic()).ljust(payload, b"\0")

        # light load: 20 packets/s for 2 s
        for seq in range(40):
            ta.sendto(stamp(seq), rb)
            await asyncio.sleep(0.05)
        await inbox_b.wait_for(41)
        delays = [
            (t - struct.unpack_from("!Id", d)[1]) * 1e3 for t, d, _ in inbox_b.received[1:]
        ]
        result["delay_p50"] = float(np.median(delays))
        # saturation: 1.5 Mbit/s for 3 s; measure the receive rate over the last 2 s
        start = time.monotonic()
        seq = 1000
        while time.monotonic() - start < 3.0:
            for _ in range(6):
                ta.sendto(stamp(seq), rb)
                seq += 1
            await asyncio.sleep(6 * payload * 8 / 1.5e6)
        now = time.monotonic()
        window = [t for t, _, _ in inbox_b.received if now - 2.0 <= t < now]
        result["rate_bps"] = (len(window) - 1) * payload * 8 / (window[-1] - window[0])

    run_with_relay(body, relay_config("const-1mbps", "const-1mbps", delay_ms, packet_log=log_path))

    # empty queue: configured delay plus waiting for the next opportunity (every 12 ms)
    assert delay_ms <= result["delay_p50"] <= delay_ms + 12.0 + 4.0, result
    expected_bps = 1e6 * wire_fraction
    assert result["rate_bps"] == pytest.approx(expected_bps, rel=0.05), result

    records = [json.loads(line) for line in log_path.read_text().splitlines()]
    events = [r for r in records if "event" in r]
    assert [e["event"] for e in events[:1]] == ["origin"]
    assert {e["direction"] for e in events if e["event"] == "link"} == {"up", "down"}
    up = [r for r in records if r.get("direction") == "up" and "delivered_ms" in r]
    assert all(r["delivered_ms"] - r["enqueued_ms"] >= delay_ms for r in up)
    late = [r["sent_ms"] - r["delivered_ms"] for r in up]
    assert np.percentile(late, 50) < 2.0


def test_stats_lines_one_per_direction() -> None:
    out = io.StringIO()

    async def main() -> None:
        relay = Relay(relay_config(stats_interval_s=0.2), stats_out=out)
        await relay.start()
        ta, _ = await turn_client(relay)
        tb, inbox_b = await turn_client(relay)
        tb.sendto(b"x", ta.get_extra_info("sockname"))
        ta.sendto(b"y", tb.get_extra_info("sockname"))
        await inbox_b.wait_for(1)
        await asyncio.sleep(0.5)
        relay.close()

    asyncio.run(main())
    lines = out.getvalue().splitlines()
    ups = [line for line in lines if line.startswith("netem   up:")]
    downs = [line for line in lines if line.startswith("netem down:")]
    assert len(ups) >= 2 and len(downs) >= 2
    capacity_kbps = float(ups[-1].split("capacity")[1].split()[0])
    assert capacity_kbps == pytest.approx(12000.0, rel=0.02)
    assert any(line.startswith("netem turn: allocations=2") for line in lines)


def test_a_flood_from_one_address_is_limited_and_others_keep_working() -> None:
    async def body(relay: Relay) -> None:
        ta, _ = await turn_client(relay)
        tb, inbox_b = await turn_client(relay)
        ra, rb = ta.get_extra_info("sockname"), tb.get_extra_info("sockname")
        tb.sendto(b"open", ra)
        flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        flood.setblocking(False)
        request = bytes(stun.Message(stun.Method.ALLOCATE, stun.Class.REQUEST))
        sent = 0
        for i in range(20):
            for _ in range(250):
                try:
                    flood.sendto(request, relay.address)
                    sent += 1
                except BlockingIOError:
                    break
            ta.sendto(b"%d" % i, rb)
            await asyncio.sleep(0.01)
        flood.close()
        await inbox_b.wait_for(20)
        assert [d for _, d, _ in inbox_b.received][-20:] == [b"%d" % i for i in range(20)]
        counters = relay.server.counters
        assert counters.rate_limited > sent // 2, (sent, counters)
        assert len(relay.server.allocations) == 2

    run_with_relay(body)


async def open_path(relay: Relay) -> tuple[turn.TurnTransport, Address, Inbox]:
    """Two allocations that have exchanged b"open" both ways: (first's transport, second's
    relayed address, second's inbox). What the first sends to the second crosses UP."""
    ta, inbox_a = await turn_client(relay)
    tb, inbox_b = await turn_client(relay)
    ra, rb = ta.get_extra_info("sockname"), tb.get_extra_info("sockname")
    tb.sendto(b"open", ra)  # B needs a permission for A's relay first; this makes the path
    ta.sendto(b"open", rb)
    await inbox_a.wait_for(1)
    await inbox_b.wait_for(1)
    return ta, rb, inbox_b


def test_a_later_path_shares_the_trace_clock_of_the_first(tmp_path: Path) -> None:
    """An ICE restart makes a new path mid-call: it must meet the outage where the first
    path does, not replay the trace from its own start."""
    trace = generate.outage(12_000_000, duration_s=6, outage_at_s=1, outage_s=2)
    log_path = tmp_path / "packets.jsonl"
    config = RelayConfig(
        up=LinkConfig(trace=trace), down=LinkConfig(trace=trace),
        turn=TurnConfig(auth=LongTermAuth(users={USER: PASSWORD}, realm="test")),
        listen=("127.0.0.1", 0), packet_log=log_path,
    )
    got: dict[str, float] = {}

    async def body(relay: Relay) -> None:
        def trace_s() -> float:
            start_ms = relay.meters[Direction.UP].trace_start_ms
            assert start_ms is not None
            return time.monotonic() - start_ms / 1e3  # the relay runs on loop.time()

        t1, r1, inbox1 = await open_path(relay)
        await asyncio.sleep(0.6 - trace_s())
        t2, r2, inbox2 = await open_path(relay)
        got["second_path_s"] = trace_s()
        await asyncio.sleep(1.5 - trace_s())  # inside the outage on the shared clock
        got["sent_s"] = trace_s()
        t1.sendto(b"first path", r1)
        t2.sendto(b"second path", r2)
        await inbox1.wait_for(2, timeout_s=5)
        await inbox2.wait_for(2, timeout_s=5)
        start_s = (relay.meters[Direction.UP].trace_start_ms or 0.0) / 1e3
        got["first_s"] = inbox1.received[1][0] - start_s
        got["second_s"] = inbox2.received[1][0] - start_s

    run_with_relay(body, config)
    assert got["second_path_s"] < got["sent_s"] - 0.5  # the second path is its own...
    assert 1.0 < got["sent_s"] < 2.9, got  # ...and the datagrams were sent in the outage
    # both wait for the end of the outage at 3 s of trace time, the second as the first
    assert 3.0 <= got["first_s"] < 3.2, got
    assert abs(got["second_s"] - got["first_s"]) < 0.05, got
    records = [json.loads(line) for line in log_path.read_text().splitlines()]
    for direction in ("up", "down"):
        starts = [r["start_ms"] for r in records
                  if r.get("event") == "link" and r["direction"] == direction]
        assert len(starts) == 1, records[:6]  # one link per direction, for both paths


def test_a_burst_loses_exactly_its_datagrams_through_the_relay(tmp_path: Path) -> None:
    log_path = tmp_path / "packets.jsonl"
    at_ms, count = 300.0, 7
    base = relay_config(packet_log=log_path)
    config = replace(base, up=replace(base.up, bursts=(LossBurst(at_ms, count),)))
    received: list[int] = []

    async def body(relay: Relay) -> None:
        ta, rb, inbox_b = await open_path(relay)
        for seq in range(60):  # one every 10 ms: 0.6 s, the burst time in the middle
            ta.sendto(struct.pack("!I", seq).ljust(200, b"\0"), rb)
            await asyncio.sleep(0.01)
        await inbox_b.wait_for(1 + 60 - count, timeout_s=5)
        await asyncio.sleep(0.2)  # nothing more comes
        received.extend(struct.unpack_from("!I", d)[0] for _, d, _ in inbox_b.received[1:])
        assert relay.meters[Direction.UP].totals.drops == {"burst": count}
        assert relay.meters[Direction.DOWN].totals.drops == {}

    run_with_relay(body, config)
    lost = sorted(set(range(60)) - set(received))
    assert len(received) == 60 - count and lost == list(range(lost[0], lost[0] + count))
    # in the log: the burst is the first `count` departures at or after its trace time
    records = [json.loads(line) for line in log_path.read_text().splitlines()]
    [start_ms] = [r["start_ms"] for r in records
                  if r.get("event") == "link" and r["direction"] == "up"]
    departures = sorted(
        (r.get("delivered_ms", r.get("dropped_ms")) - start_ms, r.get("reason"))
        for r in records if r.get("direction") == "up" and "size" in r
    )
    reasons = [reason for _, reason in departures]
    first = reasons.index("burst")
    assert reasons[first:first + count] == ["burst"] * count
    assert reasons.count("burst") == count
    assert departures[first - 1][0] < at_ms <= departures[first][0], departures


def test_an_up_user_sends_on_up_though_it_allocates_last() -> None:
    """The harness's roles on real sockets: the receiver allocates first (as with Chromium
    sending), the sender twice after it; what the sender sends is shaped by --up only."""
    users = {"sender": "s", "receiver": "r"}
    config = replace(relay_config(), turn=TurnConfig(
        auth=LongTermAuth(users=users, realm="test"), up_usernames=frozenset({"sender"})))

    async def body(relay: Relay) -> None:
        receiver, inbox = await turn.create_turn_endpoint(Inbox, relay.address, "receiver", "r")
        rr = receiver.get_extra_info("sockname")
        for _ in range(2):  # two allocations of the sender, both younger than the receiver's
            sender, _ = await turn.create_turn_endpoint(Inbox, relay.address, "sender", "s")
            receiver.sendto(b"feedback", sender.get_extra_info("sockname"))
            expected = len(inbox.received) + 10
            for _ in range(10):
                sender.sendto(b"m" * 1000, rr)
            await inbox.wait_for(expected)
            await asyncio.sleep(0.05)
        up, down = (relay.meters[d].totals for d in (Direction.UP, Direction.DOWN))
        assert up.delivered_packets == 20 and down.delivered_packets == 2
        assert up.delivered_bytes == 20 * (1000 + IP_UDP_OVERHEAD_BYTES)

    run_with_relay(body, config)


def test_a_later_path_waits_behind_what_the_first_left_queued() -> None:
    """All of a call's candidate pairs leave by one access link: a second path (a browser
    switching pairs in an outage, an ICE restart) gets no queue of its own to overtake the
    first path's backlog through."""
    config = replace(relay_config(), up=LinkConfig(trace=generate.constant(1_000_000, 10)))
    backlog = 100  # x 1,000 bytes: 0.8 s at 1 Mbit/s
    got: dict[str, float] = {}

    async def body(relay: Relay) -> None:
        t1, r1, inbox1 = await open_path(relay)
        t2, r2, inbox2 = await open_path(relay)
        sent = time.monotonic()
        for _ in range(backlog):
            t1.sendto(b"x" * 1000, r1)
        t2.sendto(b"second path", r2)
        await inbox1.wait_for(1 + backlog, timeout_s=5)
        await inbox2.wait_for(2, timeout_s=5)
        got["backlog_done_s"] = inbox1.received[-1][0] - sent
        got["second_s"] = inbox2.received[1][0] - sent

    run_with_relay(body, config)
    assert got["backlog_done_s"] > 0.7, got  # the link really was 1 Mbit/s
    assert got["second_s"] >= got["backlog_done_s"] - 0.01, got  # behind it, not beside it
