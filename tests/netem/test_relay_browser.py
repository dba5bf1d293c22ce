"""Chromium's own WebRTC stack, relay-only, through the relay (needs Debian's chromium)."""

from __future__ import annotations

import asyncio
import io
import threading
from typing import Any

import pytest

from netem.link import LinkConfig
from netem.relay import Relay, RelayConfig
from netem.traces import resolve_trace
from netem.turn import TurnConfig
from netem.turn_auth import LongTermAuth
from netem.turn_paths import Direction

# Two peer connections in one page, relay-only; candidates and descriptions cross in-page.
CALL_JS = """
async ([url, user, pass]) => {
  const cfg = {iceServers: [{urls: url, username: user, credential: pass}],
               iceTransportPolicy: 'relay'};
  const a = new RTCPeerConnection(cfg), b = new RTCPeerConnection(cfg);
  a.onicecandidate = e => e.candidate && b.addIceCandidate(e.candidate);
  b.onicecandidate = e => e.candidate && a.addIceCandidate(e.candidate);
  const dc = a.createDataChannel('x');
  const got = new Promise(r => b.ondatachannel = e => e.channel.onmessage = m => r(m.data));
  await a.setLocalDescription(); await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(); await a.setRemoteDescription(b.localDescription);
  await new Promise((ok, fail) => { dc.onopen = ok; setTimeout(() => fail('no open'), 15000); });
  dc.send('hello through netem');
  const msg = await got;
  const stats = await a.getStats();
  let type = null;
  stats.forEach(s => {
    if (s.type === 'candidate-pair' && s.nominated) {
      type = stats.get(s.localCandidateId).candidateType;
    }
  });
  a.close(); b.close();
  return {msg, type};
}
"""


class RelayThread:
    """The relay on its own event loop in a thread, for a sync Playwright test."""

    def __init__(self, config: RelayConfig) -> None:
        self.relay = Relay(config, stats_out=io.StringIO())
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.relay.start()
        self.ready.set()
        await self.relay.wait_closed()

    def __enter__(self) -> Relay:
        self.thread.start()
        assert self.ready.wait(10), "relay did not start"
        return self.relay

    def __exit__(self, *exc: object) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self.relay.close)
        self.thread.join(10)


@pytest.mark.browser
def test_chromium_call_goes_through_the_relay(chromium: Any) -> None:
    trace = resolve_trace("const-2mbps")
    config = RelayConfig(
        up=LinkConfig(trace=trace, delay_ms=10.0),
        down=LinkConfig(trace=trace, delay_ms=10.0),
        turn=TurnConfig(auth=LongTermAuth(users={"web": "rtc"})),
        listen=("127.0.0.1", 0),
    )
    with RelayThread(config) as relay:
        host, port = relay.address
        page = chromium.new_page()
        result = page.evaluate(CALL_JS, [f"turn:{host}:{port}?transport=udp", "web", "rtc"])
        page.close()
    assert result == {"msg": "hello through netem", "type": "relay"}
    assert relay.server.counters.allocations_created >= 2
    assert relay.server.counters.auth_failures == 0
    for direction in Direction:
        assert relay.meters[direction].totals.delivered_packets > 0
