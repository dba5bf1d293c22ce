"""Transport-wide congestion control inside a real call: the asyncio side of ratecontrol/.

It sits between aiortc's packetizer and SRTP (through `aiortc_glue.hook_transport`):
- outgoing RTP waits in the pacer, then leaves stamped with a transport-wide sequence number;
  the controller hears of every packet sent and of the transport-cc feedback that comes back;
- incoming RTP is recorded by arrival time, and transport-cc feedback goes back every 50 ms,
  whatever sends to us (our peer or a browser);
- NACKed packets are resent only while they can still arrive in time to be shown.

With no controller (stock aiortc sending), packets pass straight through, unstamped.
Time: `loop.time()` in milliseconds, the clock everything in ratecontrol/ is fed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from dataclasses import dataclass

from aiortc.rtp import RtpPacket

from peer.aiortc_glue import TransportAccess, wire_size
from ratecontrol.feedback_adapter import FeedbackAdapter
from ratecontrol.pacer import Pacer
from ratecontrol.twcc import parse_rtcp_transport_cc, split_rtcp_compound
from ratecontrol.twcc_recorder import TwccRecorder
from ratecontrol.types import RateController, SentPacket

log = logging.getLogger("peer.congestion")

CONTROLLER_TICK_MS = 25.0
TRANSPORT_SEQ_EXTENSION_BYTES = 4  # one-byte header element (3) rounded into the 4-byte block
# A frame the receiver has not completed this long after a later one is abandoned (see
# peer.frame_assembler); a retransmission sent later than this after the original is wasted.
RETRANSMIT_MAX_AGE_MS = 300.0
SENT_HISTORY = 4096


@dataclass
class CongestionStats:
    packets_sent: int = 0
    bytes_sent: int = 0
    feedback_received: int = 0
    feedback_sent: int = 0
    retransmissions_refused: int = 0


class CongestionControl:
    """Implements aiortc_glue.TransportHooks for one transport."""

    def __init__(self, controller: RateController | None, local_ssrc: int) -> None:
        self.controller = controller
        self.local_ssrc = local_ssrc
        self.pacer: Pacer[RtpPacket] = Pacer()
        self.adapter = FeedbackAdapter()
        self.recorder = TwccRecorder()
        self.stats = CongestionStats()
        self._access: TransportAccess | None = None
        self._next_transport_seq = 0
        self._first_sent_ms: OrderedDict[int, float] = OrderedDict()  # RTP seq -> first send
        self._remote_media_ssrc: int | None = None
        self._last_heard_ms: float | None = None  # newest packet SRTP authenticated
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, access: TransportAccess) -> None:
        self._access = access
        self._tasks = [asyncio.ensure_future(self._pace()),
                       asyncio.ensure_future(self._send_feedback())]
        if self.controller is not None:
            self._tasks.append(asyncio.ensure_future(self._tick()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @staticmethod
    def _now_ms() -> float:
        return asyncio.get_running_loop().time() * 1000.0

    # -- sending ----------------------------------------------------------------------------

    def on_outgoing_rtp(self, data: bytes) -> None:
        if self._access is None:
            return
        try:
            packet = self._access.parse_rtp(data)
        except ValueError:
            return
        size = wire_size(len(data) + TRANSPORT_SEQ_EXTENSION_BYTES)
        self.pacer.enqueue(packet, size, self._now_ms())
        self._wake.set()

    async def _pace(self) -> None:
        assert self._access is not None
        while True:
            now_ms = self._now_ms()
            for packet in self.pacer.pop_ready(now_ms):
                await self._send(packet)
            next_ms = self.pacer.next_send_time(self._now_ms())
            self._wake.clear()
            timeout = None if next_ms is None else max(0.0, next_ms - self._now_ms()) / 1000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _send(self, packet: RtpPacket) -> None:
        assert self._access is not None
        now_ms = self._now_ms()
        if self.controller is None:
            data = self._access.serialize(packet)
        else:
            seq = self._next_transport_seq
            self._next_transport_seq += 1
            data = self._access.serialize(packet, seq)
            sent = SentPacket(seq, wire_size(len(data)), now_ms)
            self.adapter.on_sent(sent)
            self.controller.on_packet_sent(sent)
        self._first_sent_ms.setdefault(packet.sequence_number, now_ms)
        while len(self._first_sent_ms) > SENT_HISTORY:
            self._first_sent_ms.popitem(last=False)
        if await self._access.send_now(data):
            self.stats.packets_sent += 1
            self.stats.bytes_sent += len(data)

    def retransmittable(self, sequence_numbers: list[int], now_ms: float) -> list[int]:
        fresh = [s for s in sequence_numbers
                 if now_ms - self._first_sent_ms.get(s, -1e12) <= RETRANSMIT_MAX_AGE_MS]
        self.stats.retransmissions_refused += len(sequence_numbers) - len(fresh)
        return fresh

    async def _tick(self) -> None:
        assert self.controller is not None
        while True:
            now_ms = self._now_ms()
            self.controller.on_timer(now_ms)
            self.pacer.set_rate(self.controller.pacing_bps(), now_ms)
            self._wake.set()
            await asyncio.sleep(CONTROLLER_TICK_MS / 1000)

    # -- receiving --------------------------------------------------------------------------

    def silent_ms(self, now_ms: float) -> float:
        """How long nothing has come from the other side (0 before anything came). The
        hooks only see what SRTP authenticated, so a stranger's packets do not count: this is
        evidence of consent (RFC 7675), as a STUN consent response is."""
        return 0.0 if self._last_heard_ms is None else now_ms - self._last_heard_ms

    def on_incoming_rtp(self, transport_seq: int | None, ssrc: int, now_ms: float) -> None:
        self._last_heard_ms = now_ms
        if transport_seq is not None:
            self.recorder.on_packet(transport_seq, now_ms)
            self._remote_media_ssrc = ssrc

    def on_incoming_rtcp(self, data: bytes, now_ms: float) -> None:
        self._last_heard_ms = now_ms
        if self.controller is None:
            return
        for packet in split_rtcp_compound(data):
            feedback = parse_rtcp_transport_cc(packet)
            if feedback is None:
                continue
            self.stats.feedback_received += 1
            results = self.adapter.on_feedback(feedback, now_ms)
            if results:
                self.controller.on_feedback(results, now_ms)
                self.pacer.set_rate(self.controller.pacing_bps(), now_ms)

    async def _send_feedback(self) -> None:
        assert self._access is not None
        while True:
            now_ms = self._now_ms()
            if self._remote_media_ssrc is not None and self.recorder.feedback_due(now_ms):
                for data in self.recorder.build_feedback(now_ms, self.local_ssrc,
                                                         self._remote_media_ssrc):
                    if await self._access.send_now(data):
                        self.stats.feedback_sent += 1
            next_ms = self.recorder.next_feedback_time()
            wait_ms = 10.0 if next_ms is None else min(50.0, max(1.0, next_ms - now_ms))
            await asyncio.sleep(wait_ms / 1000)
