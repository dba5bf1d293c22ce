"""A real aiortc call, relay-only, through the relay on a constant 1 Mbit/s trace."""

from __future__ import annotations

import asyncio
import io
import struct
import time

import pytest
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
)

from netem.link import LinkConfig
from netem.relay import Relay, RelayConfig
from netem.traces import resolve_trace
from netem.turn import TurnConfig
from netem.turn_auth import LongTermAuth
from netem.turn_paths import Direction

USER, PASSWORD = "caller", "pw"
DELAY_MS = 20.0
BLAST_S = 5.0
MESSAGE_BYTES = 1000


def test_aiortc_data_channel_call_is_shaped_by_the_relay() -> None:
    result: dict[str, float] = {}

    async def main() -> None:
        trace = resolve_trace("const-1mbps")
        relay = Relay(
            RelayConfig(
                up=LinkConfig(trace=trace, delay_ms=DELAY_MS),
                down=LinkConfig(trace=trace, delay_ms=DELAY_MS),
                turn=TurnConfig(auth=LongTermAuth(users={USER: PASSWORD})),
                listen=("127.0.0.1", 0),
            ),
            stats_out=io.StringIO(),
        )
        host, port = await relay.start()
        config = RTCConfiguration(
            iceServers=[RTCIceServer(f"turn:{host}:{port}", username=USER, credential=PASSWORD)],
            iceTransportPolicy=RTCIceTransportPolicy.RELAY,
        )
        caller, callee = RTCPeerConnection(config), RTCPeerConnection(config)
        received: list[tuple[float, int]] = []
        opened = asyncio.Event()
        channel = caller.createDataChannel("blast", ordered=False, maxRetransmits=0)
        channel.on("open", opened.set)

        @callee.on("datachannel")
        def on_datachannel(remote: RTCDataChannel) -> None:
            @remote.on("message")
            def on_message(message: bytes) -> None:
                received.append((time.monotonic(), len(message)))

        try:
            await caller.setLocalDescription(await caller.createOffer())
            await callee.setRemoteDescription(caller.localDescription)
            await callee.setLocalDescription(await callee.createAnswer())
            await caller.setRemoteDescription(callee.localDescription)
            await asyncio.wait_for(opened.wait(), 15)
            # relay-only: the handshake itself crossed the links, both ways
            assert len(relay.server.allocations) >= 2
            assert all(m.totals.delivered_packets > 0 for m in relay.meters.values())

            up = relay.meters[Direction.UP]
            start = time.monotonic()
            while time.monotonic() - start < BLAST_S:
                if channel.bufferedAmount < 32 * MESSAGE_BYTES:
                    channel.send(struct.pack("!d", time.monotonic()).ljust(MESSAGE_BYTES, b"\0"))
                else:
                    await asyncio.sleep(0.002)
                if time.monotonic() - start >= 2.0 and "window_start" not in result:
                    result["window_start"] = time.monotonic()
                    result["up_bytes0"] = up.totals.delivered_bytes
            result["up_bytes"] = up.totals.delivered_bytes - result["up_bytes0"]
            result["elapsed"] = time.monotonic() - result["window_start"]
            result["app_bytes"] = sum(n for t, n in received if t >= result["window_start"])
        finally:
            await caller.close()
            await callee.close()
            relay.close()

    asyncio.run(main())
    # Wire bytes (IP packets) the up link delivered while saturated: the trace's 1 Mbit/s.
    wire_bps = result["up_bytes"] * 8 / result["elapsed"]
    assert wire_bps == pytest.approx(1e6, rel=0.05), result
    # The application got most of it (DTLS/SCTP/TURN headers take the rest).
    app_bps = result["app_bytes"] * 8 / result["elapsed"]
    assert 0.75e6 <= app_bps <= 1e6, result
