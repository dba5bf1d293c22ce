"""Security of the relayed path. Already covered elsewhere: a wrong password or unknown user
gets 401 (test_turn.py, and test_relay.py with aioice's client); data to or from a peer without
a permission is dropped and counted (test_turn.py, test_relay.py). Added here: a signed request
altered after signing, and hostile datagrams at the relay during a real relayed video call."""

from __future__ import annotations

import asyncio
import io
import struct
from typing import Any

from aioice import stun, turn

from netem.link import LinkConfig
from netem.relay import Relay, RelayConfig
from netem.traces import resolve_trace
from netem.turn import TurnConfig
from netem.turn_auth import LongTermAuth, make_integrity_key
from peer.aiortc_glue import HostCandidates
from peer.call import CallConfig
from tests.netem.test_turn import PASSWORD, REALM, UDP, USER, A, Harness
from tools.hostile import FaultRecorder, Flood, Kind, LivePair, Mutator

CALLER, CALLER_PASSWORD = "caller", "pw"


def test_a_request_altered_after_signing_is_refused() -> None:
    h = Harness()
    h.nonce = h.server.config.auth.make_nonce(0.0)
    msg = stun.Message(stun.Method.ALLOCATE, stun.Class.REQUEST,
                       attributes={"REQUESTED-TRANSPORT": UDP, "USERNAME": USER, "REALM": REALM,
                                   "NONCE": h.nonce, "LIFETIME": 600})
    msg.add_message_integrity(make_integrity_key(USER, REALM, PASSWORD))
    raw = bytearray(bytes(msg))
    lifetime_at = raw.find(bytes.fromhex("000d0004")) + 4
    raw[lifetime_at + 2] ^= 0x01  # LIFETIME 600 -> 856, integrity no longer matches
    # aioice signs with a FINGERPRINT too: recompute it, as an attacker can (it is a CRC)
    raw[-4:] = struct.pack("!I", stun.message_fingerprint(bytes(raw[:-8])))
    h.server.receive_client_datagram(bytes(raw), A, 0.0)
    [reply] = h.sent(0.0)
    assert stun.parse_message(reply.data).error_code == 401
    assert h.server.counters.auth_failures == 1 and h.server.allocations == []


class _Inbox(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received = 0

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received += 1


def test_a_relayed_call_keeps_showing_frames_under_hostile_datagrams() -> None:
    result: dict[str, Any] = {}

    async def main() -> None:
        loop = asyncio.get_running_loop()
        recorder = FaultRecorder()
        recorder.install(loop)
        trace = resolve_trace("const-12mbps")
        relay = Relay(RelayConfig(
            up=LinkConfig(trace=trace), down=LinkConfig(trace=trace),
            turn=TurnConfig(auth=LongTermAuth(users={CALLER: CALLER_PASSWORD, "mallory": "m"},
                                              realm="test"), request_rate_per_s=1e6),
            listen=("127.0.0.1", 0), stats_interval_s=None, print_summary=False,
        ), stats_out=io.StringIO())
        host, port = await relay.start()
        pair = LivePair(CallConfig(
            "ws://127.0.0.1:9/ws", "relayed", measure_quality=False,
            host_candidates=HostCandidates.LOOPBACK, ice_server=f"turn:{host}:{port}",
            ice_user=f"{CALLER}:{CALLER_PASSWORD}", relay_only=True))
        try:
            await pair.connect(30.0)
            assert await pair.wait_frames(10, 20.0)
            call_relays = [a.relayed for a in relay.server.allocations]
            before = dict(relay.server.counters.as_dict())
            # 1. a stranger (no allocation) at the listen port: every kind, ChannelData too
            flood = Flood(pair, seed=5, decrypted=False, assembler=False,
                          wire_addresses=[relay.address])
            await flood.run(3000)
            # 2. an authenticated stranger: its relayed address is on 127.0.0.1, which the
            # callers' permissions cover, so its datagrams do reach them, and are refused there
            transport, _ = await turn.create_turn_endpoint(_Inbox, relay.address,
                                                               "mallory", "m")
            mutator = Mutator(9, pair.target())
            kinds = list(Kind)
            for i in range(1000):
                transport.sendto(mutator.make(kinds[i % len(kinds)]),
                                 call_relays[i % len(call_relays)])
                if i % 8 == 7:
                    await asyncio.sleep(0)
            transport.close()
            assert await pair.wait_frames(20, 30.0)
            after = relay.server.counters.as_dict()
            result.update(
                states=[side.state for side in pair.sides],
                counted={k: after[k] - before[k] for k in after},
                internal_errors=relay.counters.internal_errors,
                srtp_rejected=sum(s.srtp.rejected for s in pair.sides if s.srtp),
                sent=flood.report.total)
        finally:
            await asyncio.wait_for(pair.close(), 20.0)
            relay.close()
            recorder.uninstall(loop)
        result["errors"] = recorder.errors

    asyncio.run(main())
    counted = result["counted"]
    assert isinstance(counted, dict)
    assert result["states"] == ["connected", "connected"]
    assert result["errors"] == [] and result["internal_errors"] == 0
    assert result["sent"] == 3000
    # the stranger's datagrams were dropped at the relay and counted there
    assert counted["malformed"] + counted["no_allocation"] >= 2000, counted
    # mallory's reached the callers through their permission; SRTP refused what looked like it
    assert result["srtp_rejected"] >= 50, result
