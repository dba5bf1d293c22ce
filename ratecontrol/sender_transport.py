"""The sender's transport, sans-I/O: the one object the real call and the simulator both drive.

In aioquic's shape (`QuicConnection`): media and feedback go in, packets come out, and the
object says when it next needs a turn.

    send_media(payload, size_bytes, rtp_seq, now_ms)   a packet the packetizer made
    receive_feedback(event, now_ms)                    a typed RTCP event (feedback_events)
    packets_to_send(now_ms) -> [OutgoingPacket]        what goes on the wire now
    get_timer() -> ms | None ; handle_timer(now_ms)    the controller's 25 ms tick, the pacer

It owns transport-wide sequence stamping (each packet leaving gets the next seq; resends get
fresh ones, as RTX packets do), the pacer, the feedback adapter, the controller and its timer,
the one retransmission rule (ratecontrol.retransmit_policy) and the guard that refuses feedback
no real receiver could have sent (ratecontrol.feedback_guard). Refused feedback never reaches
the controller; `stats` counts it by reason.

Resending: `receive_feedback(Nack)` resends the granted packets from the transport's own history
(the simulator). A stack that resends by itself (aiortc wraps resends in RTX) asks
`retransmittable(nack, now_ms)` instead and hands the resends in through `send_media` with
`rtp_seq=None`; the rule and the counters are the same.

With no controller (stock aiortc sending) packets pass straight through, unstamped and unpaced,
and transport-cc and REMB are ignored; NACKs still follow the rule. `T` is whatever the caller
sends: aiortc's RtpPacket in the real call, the simulator's MediaPacket.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Generic, NamedTuple, TypeVar

from ratecontrol.feedback_adapter import FeedbackAdapter, FeedbackAdapterConfig
from ratecontrol.feedback_events import FeedbackEvent, LossReport, Nack, Pli, Remb, TransportCc
from ratecontrol.feedback_guard import FeedbackGuard, FeedbackGuardConfig, Refusal
from ratecontrol.pacer import Pacer, PacerConfig, Priority
from ratecontrol.retransmit_policy import HistoryEntry, RetransmitConfig, RetransmitPolicy
from ratecontrol.sender_stats import SenderStats
from ratecontrol.types import RateController, SentPacket

T = TypeVar("T")

CONTROLLER_INTERVAL_MS = 25.0  # libwebrtc's GoogCC process interval
RATE_WINDOW_MS = 1000.0  # the rate sent, that a REMB is weighed against
RATE_BUCKET_MS = 100.0  # ... counted in buckets this long
# Resent bytes over the last RATE_WINDOW_MS may reach this share of the target rate (at least
# RESEND_FLOOR_BPS), as libwebrtc's retransmission rate limiter allows: NACKs beyond it, true
# or forged, are refused, so resends cannot fill the pacer and starve the media behind them.
RESEND_SHARE = 1.0
RESEND_FLOOR_BPS = 100_000.0


@dataclass(frozen=True, slots=True)
class SenderTransportConfig:
    controller_interval_ms: float = CONTROLLER_INTERVAL_MS
    pacer: PacerConfig = field(default_factory=PacerConfig)
    adapter: FeedbackAdapterConfig = field(default_factory=FeedbackAdapterConfig)
    retransmit: RetransmitConfig = field(default_factory=RetransmitConfig)
    guard: FeedbackGuardConfig = field(default_factory=FeedbackGuardConfig)

    def __post_init__(self) -> None:
        if not self.controller_interval_ms > 0:
            raise ValueError(
                f"controller_interval_ms must be > 0, got {self.controller_interval_ms}")


class OutgoingPacket(NamedTuple, Generic[T]):
    """A packet to put on the wire now: stamp it with `transport_seq` (None: unstamped).
    (A named tuple: one is made per packet, and the simulator makes many.)"""

    payload: T
    size_bytes: int
    transport_seq: int | None
    sent_ms: float
    retransmission: bool = False


@dataclass(slots=True)
class _Queued(Generic[T]):
    payload: T
    size_bytes: int
    rtp_seq: int | None
    retransmission: bool
    is_audio: bool = False


class SenderTransport(Generic[T]):
    def __init__(self, controller: RateController | None,
                 config: SenderTransportConfig | None = None) -> None:
        self.config = config or SenderTransportConfig()
        self.controller = controller
        self.pacer: Pacer[_Queued[T]] = Pacer(self.config.pacer)
        self.adapter = FeedbackAdapter(self.config.adapter)
        self.guard = FeedbackGuard(self.config.guard)
        self.retransmit: RetransmitPolicy[T] = RetransmitPolicy(self.config.retransmit)
        self.stats = SenderStats()
        self._next_seq = 0
        self._pacing: float | None = None
        self._now_ms: float | None = None
        # The controller's next turn: the first one is due at once.
        self._next_tick_ms: float | None = 0.0 if controller is not None else None
        self._recent: deque[list[float]] = deque()  # [bucket start, bytes] within the window
        self._recent_bytes = 0
        self._keyframe_requested = False
        self._resent: deque[tuple[float, int]] = deque()  # (time, bytes) within the window
        self._resent_bytes = 0

    # -- in --------------------------------------------------------------------------------
    def send_media(self, payload: T, size_bytes: int, rtp_seq: int | None,
                   now_ms: float, is_audio: bool = False, retransmission: bool = False) -> None:
        """Queue a packet. `rtp_seq`: its RTP seq when it is a media packet that may be NACKed
        (None for a resend or another stream, which the history does not keep); `is_audio`:
        sound, which shares the budget and the numbers but not the delay signal;
        `retransmission`: a resend the stack made itself (an RTX packet). The pacer sends
        sound first, then resends, then video."""
        self._turn(now_ms)
        if not self.pacer.queued_packets:
            self._sync_pacing(now_ms)  # the controller may have moved it for this frame
        priority = (Priority.AUDIO if is_audio else
                    Priority.RETRANSMISSION if retransmission else Priority.VIDEO)
        self.pacer.enqueue(_Queued(payload, size_bytes, rtp_seq, retransmission, is_audio),
                           size_bytes, now_ms, priority)

    def receive_feedback(self, event: FeedbackEvent, now_ms: float) -> None:
        self._turn(now_ms)
        self.stats.feedback_received += 1
        if isinstance(event, Nack):
            for entry in self._grant(event, now_ms):
                self.pacer.enqueue(_Queued(entry.payload, entry.size_bytes, None, True),
                                   entry.size_bytes, now_ms, Priority.RETRANSMISSION)
        elif isinstance(event, Pli):
            self.stats.keyframe_requests += 1
            self._keyframe_requested = True
        elif isinstance(event, LossReport):
            self._refuse(self.guard.check_loss_report(
                event, self.retransmit.media_packets_sent, self.retransmit.highest_seq))
        elif self.controller is None:
            self.stats.feedback_ignored += 1  # stock aiortc: its own stack reads these
        elif isinstance(event, Remb):
            if not self._refuse(self.guard.check_remb(event, self._sent_bps(now_ms))):
                self.controller.on_remb(event.bitrate_bps, now_ms)
        elif isinstance(event, TransportCc):
            self._on_transport_cc(event, now_ms)
        self._sync_pacing(now_ms)

    def retransmittable(self, nack: Nack, now_ms: float) -> list[int]:
        """The NACKed seqs to resend now, for a stack that resends by itself (see module doc)."""
        self._turn(now_ms)
        self.stats.feedback_received += 1
        return [seq for seq, _ in self._granted(nack, now_ms)]

    # -- out -------------------------------------------------------------------------------
    def packets_to_send(self, now_ms: float) -> list[OutgoingPacket[T]]:
        self._turn(now_ms)
        self._sync_pacing(now_ms)
        out: list[OutgoingPacket[T]] = []
        for q in self.pacer.pop_ready(now_ms):
            seq: int | None = None
            if self.controller is not None:
                seq = self._next_seq
                self._next_seq += 1
                sent = SentPacket(seq, q.size_bytes, now_ms, is_audio=q.is_audio)
                self.adapter.on_sent(sent)
                self.controller.on_packet_sent(sent)
            if q.rtp_seq is not None and not q.retransmission:
                self.retransmit.on_first_send(q.rtp_seq, q.payload, q.size_bytes, now_ms)
            self.stats.packets_sent += 1
            self.stats.bytes_sent += q.size_bytes
            self._count_sent(q.size_bytes, now_ms)
            out.append(OutgoingPacket(q.payload, q.size_bytes, seq, now_ms, q.retransmission))
        return out

    def get_timer(self) -> float | None:
        """When the transport next needs `handle_timer` and `packets_to_send` (ms), or None."""
        pacer_ms = None if self._now_ms is None else self.pacer.next_send_time(self._now_ms)
        if pacer_ms is None:
            return self._next_tick_ms
        return pacer_ms if self._next_tick_ms is None else min(pacer_ms, self._next_tick_ms)

    def handle_timer(self, now_ms: float) -> None:
        self._turn(now_ms)
        tick = self._next_tick_ms
        if self.controller is not None and tick is not None and now_ms >= tick:
            self.controller.on_timer(now_ms)
            tick += self.config.controller_interval_ms
            self._next_tick_ms = tick if tick > now_ms else now_ms + (
                self.config.controller_interval_ms)
            self._sync_pacing(now_ms)

    def take_keyframe_request(self) -> bool:
        """True once after a PLI came in."""
        requested, self._keyframe_requested = self._keyframe_requested, False
        return requested

    @property
    def rtt_ms(self) -> float | None:
        return self.adapter.rtt_ms

    # -- internals -------------------------------------------------------------------------
    def _turn(self, now_ms: float) -> None:
        if self._now_ms is None or now_ms > self._now_ms:
            self._now_ms = now_ms

    def _sync_pacing(self, now_ms: float) -> None:
        pacing = None if self.controller is None else self.controller.pacing_bps()
        if pacing != self._pacing:
            self.pacer.set_rate(pacing, now_ms)
            self._pacing = pacing

    def _refuse(self, refusal: Refusal | None) -> bool:
        if refusal is not None:
            self.stats.count_refusal(refusal)
        return refusal is not None

    def _on_transport_cc(self, event: TransportCc, now_ms: float) -> None:
        assert self.controller is not None
        feedback = self.guard.sent_part(event.feedback, self.adapter.highest_sent)
        if feedback is not event.feedback:
            self._refuse(Refusal.UNSENT_ACK)  # all of it, or the part naming unsent packets
        if feedback is None:
            return
        resolved = self.adapter.resolve(feedback, now_ms)
        if self._refuse(self.guard.check_transport_cc(
                feedback, self.adapter.highest_sent, resolved.results, now_ms)):
            return
        results = self.adapter.commit(resolved, now_ms)
        if results:
            self.controller.on_feedback(results, now_ms)

    def _granted(self, nack: Nack, now_ms: float) -> list[tuple[int, HistoryEntry[T]]]:
        if self._refuse(self.guard.check_nack(nack, self.retransmit.highest_seq)):
            return []
        granted = []
        budget = self._resend_budget_bytes(now_ms)
        for seq in dict.fromkeys(nack.rtp_seqs):  # a seq named twice is one request
            entry = self.retransmit.grant(seq, now_ms, self.adapter.rtt_ms, budget)
            if entry is None:
                self.stats.retransmissions_refused += 1
            else:
                self.stats.retransmissions += 1
                budget -= entry.size_bytes
                self._resent.append((now_ms, entry.size_bytes))
                self._resent_bytes += entry.size_bytes
                granted.append((seq, entry))
        return granted

    def _resend_budget_bytes(self, now_ms: float) -> float:
        while self._resent and now_ms - self._resent[0][0] > RATE_WINDOW_MS:
            self._resent_bytes -= self._resent.popleft()[1]
        rate = self.controller.target_bps() if self.controller is not None else \
            self._sent_bps(now_ms)
        allowed = max(RESEND_SHARE * rate, RESEND_FLOOR_BPS) * RATE_WINDOW_MS / 8000.0
        return allowed - self._resent_bytes

    def _grant(self, nack: Nack, now_ms: float) -> list[HistoryEntry[T]]:
        return [entry for _, entry in self._granted(nack, now_ms)]

    def _count_sent(self, size_bytes: int, now_ms: float) -> None:
        if self._recent and now_ms - self._recent[-1][0] < RATE_BUCKET_MS:
            self._recent[-1][1] += size_bytes
        else:
            self._recent.append([now_ms, float(size_bytes)])
            self._forget_sent(now_ms)
        self._recent_bytes += size_bytes

    def _forget_sent(self, now_ms: float) -> None:
        horizon = now_ms - RATE_WINDOW_MS
        while self._recent and self._recent[0][0] < horizon:
            self._recent_bytes -= int(self._recent.popleft()[1])

    def _sent_bps(self, now_ms: float) -> float:
        """Bits per second sent over about the last second (within one bucket)."""
        self._forget_sent(now_ms)
        return self._recent_bytes * 8 * 1000.0 / RATE_WINDOW_MS
