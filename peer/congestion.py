"""Transport-wide congestion control inside a real call: the asyncio adapter of
ratecontrol.sender_transport (the object the simulator drives too).

It sits between aiortc's packetizer and SRTP (through `aiortc_glue.hook_transport`):
- outgoing RTP goes into the sender transport, which paces it, stamps it with a transport-wide
  sequence number and tells the controller; what `packets_to_send` returns goes on the wire;
- incoming RTCP is parsed here, at the edge, into typed events (transport-cc, REMB, the report
  blocks about our stream) that the transport checks before any reaches the controller;
- NACKs are answered by aiortc itself (it wraps resends in RTX): the hook asks `retransmittable`,
  which applies the transport's one retransmission rule;
- incoming RTP is recorded by arrival time, and transport-cc feedback goes back every 50 ms,
  whatever sends to us (our peer or a browser).

One timer, as aioquic's asyncio adapter keeps: `loop.call_at` armed for the earlier of the
transport's `get_timer()` and the TWCC recorder's next feedback time, re-armed after every input;
nothing wakes while there is nothing to do. Sending is asynchronous in aiortc, so what is due
goes into an outbox that one task empties and then ends.

With no controller (stock aiortc sending), packets pass straight through, unstamped.
Time: `loop.time()` in milliseconds, the clock everything in ratecontrol/ is fed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections import deque
from dataclasses import dataclass

from aiortc.rtp import (
    RTCP_PSFB_APP,
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpSrPacket,
    RtpPacket,
    unpack_remb_fci,
)

from peer.aiortc_glue import TransportAccess, wire_size
from ratecontrol.feedback_events import FeedbackEvent, LossReport, Nack, Remb, TransportCc
from ratecontrol.sender_transport import SenderTransport
from ratecontrol.twcc import parse_rtcp_transport_cc, split_rtcp_compound
from ratecontrol.twcc_recorder import TwccRecorder
from ratecontrol.types import RateController

log = logging.getLogger("peer.congestion")

TRANSPORT_SEQ_EXTENSION_BYTES = 4  # one-byte header element (3) rounded into the 4-byte block
LOSS_FRACTION_UNIT = 256  # RTCP report blocks carry the fraction lost in 1/256
_RTCP_ERRORS = (ValueError, IndexError, KeyError, struct.error)  # aiortc's parser on bad input


@dataclass
class CongestionStats:
    packets_sent: int = 0  # RTP packets the transport took (sends that failed excluded)
    bytes_sent: int = 0
    feedback_received: int = 0  # feedback events from the other side, refused ones included
    feedback_sent: int = 0
    feedback_refused: int = 0  # by reason: the sender transport's `refused_*` counters
    retransmissions: int = 0
    retransmissions_refused: int = 0


class CongestionControl:
    """Implements aiortc_glue.TransportHooks for one transport."""

    def __init__(self, controller: RateController | None, local_ssrc: int) -> None:
        self.controller = controller
        self.local_ssrc = local_ssrc
        self.audio_ssrcs: set[int] = set()  # our sound's: budgeted, not a delay signal
        self.transport: SenderTransport[RtpPacket] = SenderTransport(controller)
        self.recorder = TwccRecorder()
        self._access: TransportAccess | None = None
        self._remote_media_ssrc: int | None = None
        self._last_heard_ms: float | None = None  # newest packet SRTP authenticated
        self._timer: asyncio.TimerHandle | None = None
        self._timer_ms: float | None = None
        self._outbox: deque[tuple[bytes, bool]] = deque()  # (datagram, is feedback)
        self._sender: asyncio.Task[None] | None = None
        self._sent = CongestionStats()  # what only the adapter knows: sends that succeeded

    @property
    def stats(self) -> CongestionStats:
        t = self.transport.stats
        return CongestionStats(
            packets_sent=self._sent.packets_sent, bytes_sent=self._sent.bytes_sent,
            feedback_received=t.feedback_received, feedback_sent=self._sent.feedback_sent,
            feedback_refused=t.feedback_refused, retransmissions=t.retransmissions,
            retransmissions_refused=t.retransmissions_refused)

    def start(self, access: TransportAccess) -> None:
        self._access = access
        self._service(self._now_ms())

    async def stop(self) -> None:
        self._access = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender

    @staticmethod
    def _now_ms() -> float:
        return asyncio.get_running_loop().time() * 1000.0

    # -- the one timer ----------------------------------------------------------------------
    def _service(self, now_ms: float) -> None:
        """Do what is due, hand what may leave to the sender task, re-arm the timer."""
        if self._access is None:
            return
        self.transport.handle_timer(now_ms)
        for out in self.transport.packets_to_send(now_ms):
            self._outbox.append((self._access.serialize(out.payload, out.transport_seq), False))
        if self._remote_media_ssrc is not None and self.recorder.feedback_due(now_ms):
            for data in self.recorder.build_feedback(now_ms, self.local_ssrc,
                                                     self._remote_media_ssrc):
                self._outbox.append((data, True))
        if self._outbox and self._sender is None:
            self._sender = asyncio.ensure_future(self._send_outbox())
        self._arm()

    def _arm(self) -> None:
        if self._access is None:
            return  # stopped (or not yet started): no timer outlives the call
        when = self.transport.get_timer()
        feedback_ms = (None if self._remote_media_ssrc is None
                       else self.recorder.next_feedback_time())
        if feedback_ms is not None:
            when = feedback_ms if when is None else min(when, feedback_ms)
        if when == self._timer_ms and self._timer is not None:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_ms = when
        self._timer = (None if when is None else
                       asyncio.get_running_loop().call_at(when / 1000.0, self._on_timer))

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_ms = None
        self._service(self._now_ms())

    async def _send_outbox(self) -> None:
        try:
            while self._outbox and self._access is not None:
                data, is_feedback = self._outbox.popleft()
                if not await self._access.send_now(data):
                    continue
                if is_feedback:
                    self._sent.feedback_sent += 1
                else:
                    self._sent.packets_sent += 1
                    self._sent.bytes_sent += len(data)
        finally:
            self._sender = None

    # -- sending ----------------------------------------------------------------------------
    def on_outgoing_rtp(self, data: bytes) -> None:
        if self._access is None:
            return
        try:
            packet = self._access.parse_rtp(data)
        except ValueError:
            return
        stamp = TRANSPORT_SEQ_EXTENSION_BYTES if self.controller is not None else 0
        # Only the media stream's own packets may be NACKed; RTX resends are not kept.
        media = packet.ssrc == self.local_ssrc
        audio = packet.ssrc in self.audio_ssrcs
        now_ms = self._now_ms()
        self.transport.send_media(packet, wire_size(len(data) + stamp),
                                  packet.sequence_number if media else None, now_ms,
                                  is_audio=audio, retransmission=not (media or audio))
        self._service(now_ms)

    def retransmittable(self, sequence_numbers: list[int], now_ms: float) -> list[int]:
        return self.transport.retransmittable(Nack(tuple(sequence_numbers)), now_ms)

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
            due = self.recorder.next_feedback_time()
            if due is not None and (self._timer_ms is None or due < self._timer_ms):
                self._arm()  # news to report, sooner than the timer would wake

    def on_incoming_rtcp(self, data: bytes, now_ms: float) -> None:
        self._last_heard_ms = now_ms
        for event in self._events(data):
            self.transport.receive_feedback(event, now_ms)
        self._service(now_ms)

    def _events(self, data: bytes) -> list[FeedbackEvent]:
        """The feedback a compound RTCP packet carries about our stream (NACK and PLI aside:
        aiortc answers those itself)."""
        events: list[FeedbackEvent] = []
        for packet in split_rtcp_compound(data):
            feedback = parse_rtcp_transport_cc(packet)
            if feedback is not None:
                events.append(TransportCc(feedback))
        try:
            parsed = RtcpPacket.parse(data)
        except _RTCP_ERRORS:
            return events  # aiortc's own handling counts it as malformed
        for p in parsed:
            if isinstance(p, RtcpRrPacket | RtcpSrPacket):
                events += [LossReport(r.fraction_lost / LOSS_FRACTION_UNIT, r.packets_lost,
                                      r.highest_sequence & 0xFFFF)
                           for r in p.reports if r.ssrc == self.local_ssrc]
            elif (isinstance(p, RtcpPsfbPacket) and p.fmt == RTCP_PSFB_APP
                  and p.fci[:4] == b"REMB"):
                with contextlib.suppress(*_RTCP_ERRORS):
                    events.append(Remb(float(unpack_remb_fci(p.fci)[0])))
        return events
