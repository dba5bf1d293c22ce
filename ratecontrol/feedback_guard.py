"""Feedback checked at the door: refuse what cannot be true, and say why.

An authenticated peer can still lie (or be broken). Its feedback can slow the sender down — a
true report of a bad link does that too — but what no real receiver could have said is
refused, counted by reason, and never reaches the controller. The rules:

* Acknowledgements of packets never sent (`UNSENT_ACK`): a transport-cc seq that maps ahead of
  the highest seq stamped so far (16-bit seqs are compared within half the space), or before
  the first one. Its arrival deltas are chained forward from the reference time, so one false
  entry makes every *later* one suspect but not the earlier ones: `sent_part` keeps the entries
  of packets sent, up to the last of them received, and the rest is refused (counted). A
  receiver that was handed one forged seq ahead of ours ends every window on it (the arrival
  was real to it) until our seqs pass it; refusing those feedbacks whole left us deaf, at a
  frame a second, for as long (tools.hostile). A base before our first seq: refused whole.
* Losses no arrival vouches for (`LOSS_UNVOUCHED`): a feedback whose last packet is reported
  lost. A receiver learns of a loss only from a later packet it received, and libwebrtc's
  receivers and our TwccRecorder end every feedback on a received packet; without this rule a
  liar could call every packet in flight lost, which no arrival check would see.
* Arrival times that cannot be (`ARRIVAL_BEFORE_SEND`, `ARRIVAL_AFTER_FEEDBACK`). Arrival times
  are on the receiver's clock, send times on ours, and the offset between the clocks is unknown,
  so no single arrival can be judged. What the sender does know: packet k arrived after it was
  sent (`sent_k`) and before the feedback reporting it reached us (`now_k`), both on our clock.
  So the offset c = receiver clock − sender clock lies in [arrival_k − now_k, arrival_k − sent_k]
  for every acknowledged packet, and those intervals must overlap. The guard keeps the
  intervals of the feedback it accepted in the last `evidence_ms`; a feedback whose packets
  leave their intersection empty says some packet arrived before it was sent (or after we heard
  of it). Each interval widens by `drift_ppm` of its age (two clocks may run at slightly
  different rates), and all by `slack_ms` (250 µs ticks). This is exact physics, not a guess
  about delay: a truthful receiver is never refused, however delayed or reordered the path.
  The evidence expires so that a lie the guard could not tell from the truth (one that fits
  the intervals but not the real offset) cannot keep refusing the truth once the lies stop.
* Arrivals that run backwards beyond reordering (`ARRIVAL_BACKWARDS`): a packet stamped later
  than every packet acknowledged so far, reported as arriving more than `max_reorder_ms` before
  the latest arrival of those (within the same `evidence_ms`).
* NACKs for packets never sent (`UNSENT_NACK`): an RTP seq ahead of the highest media seq sent.
* REMB out of all proportion to what was sent (`REMB`): not finite, negative, or above
  `remb_max_ratio` × the rate sent over the last second (at least `remb_floor_bps`). A receiver's
  estimate is bounded by what it received (libwebrtc's and aiortc's REMB stay within 1.5× the
  incoming rate); a thousandfold REMB would only make a controller that trusts it burst.
* Loss reports out of proportion (`LOSS_REPORT`): fraction lost outside [0, 1], more packets lost
  (or duplicated) than were ever sent, or a highest seq received ahead of the highest sent.

Sans-I/O: the sender transport passes in what it knows (highest seq, send times, the rate
sent); the guard keeps only its own evidence (the clock-offset interval, the latest arrival).
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from dataclasses import dataclass
from enum import Enum

from ratecontrol.feedback_events import LossReport, Nack, Remb
from ratecontrol.twcc import SEQ_MODULO, TransportFeedback
from ratecontrol.types import PacketResult

HALF_SEQ_SPACE = SEQ_MODULO // 2


class Refusal(Enum):
    UNSENT_ACK = "unsent_ack"
    LOSS_UNVOUCHED = "loss_unvouched"
    ARRIVAL_BEFORE_SEND = "arrival_before_send"
    ARRIVAL_AFTER_FEEDBACK = "arrival_after_feedback"
    ARRIVAL_BACKWARDS = "arrival_backwards"
    UNSENT_NACK = "unsent_nack"
    REMB = "remb"
    LOSS_REPORT = "loss_report"


@dataclass(frozen=True, slots=True)
class FeedbackGuardConfig:
    """Defaults: 1 ms of slack (quantisation of transport-cc times is 250 µs); clocks may drift
    by 1000 ppm (ten times a cheap crystal's worst); evidence is kept 1 s (20 feedbacks);
    reordering up to 250 ms (far beyond what a path reorders, and beyond a 100 ms drop of
    propagation delay mid-call); REMB up to 8× the rate sent, and at least up to 8 × 1 Mbit/s."""

    slack_ms: float = 1.0
    drift_ppm: float = 1000.0
    evidence_ms: float = 1000.0
    max_reorder_ms: float = 250.0
    remb_max_ratio: float = 8.0
    remb_floor_bps: float = 1_000_000.0

    def __post_init__(self) -> None:
        for name in ("slack_ms", "drift_ppm", "evidence_ms", "max_reorder_ms",
                     "remb_floor_bps"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")
        if not (math.isfinite(self.remb_max_ratio) and self.remb_max_ratio >= 1):
            raise ValueError(f"remb_max_ratio must be >= 1, got {self.remb_max_ratio}")


def seq_ahead(seq: int, highest: int) -> bool:
    """True when 16-bit `seq` lies after `highest` (within half the sequence space)."""
    return 0 < (seq - highest) % SEQ_MODULO < HALF_SEQ_SPACE


@dataclass(frozen=True, slots=True)
class _Evidence:
    """What one accepted feedback says: the clock offset lies in [lo, hi]; its latest arrival."""

    at_ms: float
    lo: float
    hi: float
    seq: int
    arrival_ms: float


class FeedbackGuard:
    def __init__(self, config: FeedbackGuardConfig | None = None) -> None:
        self.config = config or FeedbackGuardConfig()
        self._evidence: deque[_Evidence] = deque()  # accepted feedback, oldest first

    # -- transport-cc ----------------------------------------------------------------------
    @staticmethod
    def sent_part(feedback: TransportFeedback,
                  highest_sent: int | None) -> TransportFeedback | None:
        """`feedback` cut after its last received entry of a packet we sent (itself when
        it names no unsent packet; None when no part of it can be true)."""
        count = len(feedback.deltas_ticks)
        if count == 0:
            return feedback
        if highest_sent is None or count > HALF_SEQ_SPACE:
            return None
        behind = (highest_sent - feedback.base_seq) % SEQ_MODULO  # base .. top, top included
        if seq_ahead(feedback.base_seq, highest_sent % SEQ_MODULO) or behind > highest_sent:
            return None  # all of it ahead, or a base before our first seq
        if count <= behind + 1:
            return feedback  # it ends at or before our highest: nothing unsent in it
        kept = list(feedback.deltas_ticks[:behind + 1])
        while kept and kept[-1] is None:  # a loss only a later arrival vouches for
            kept.pop()
        return dataclasses.replace(feedback, deltas_ticks=tuple(kept)) if kept else None

    def check_transport_cc(self, feedback: TransportFeedback, highest_sent: int | None,
                           results: list[PacketResult], now_ms: float) -> Refusal | None:
        """`results`: what the feedback adapter would make of it (not yet applied)."""
        if self._names_unsent(feedback, highest_sent):
            return Refusal.UNSENT_ACK
        if feedback.deltas_ticks and feedback.deltas_ticks[-1] is None:
            return Refusal.LOSS_UNVOUCHED
        received = [r for r in results if r.arrived_ms is not None]
        if not received:
            return None
        refusal = self._check_backwards(received) or self._check_offset(received, now_ms)
        if refusal is None:
            self._accept(received, now_ms)
        return refusal

    @staticmethod
    def _names_unsent(feedback: TransportFeedback, highest_sent: int | None) -> bool:
        count = len(feedback.deltas_ticks)
        if count == 0:
            return False
        if highest_sent is None:
            return True
        top = highest_sent % SEQ_MODULO
        last = (feedback.base_seq + count - 1) % SEQ_MODULO
        if count > HALF_SEQ_SPACE or seq_ahead(feedback.base_seq, top) or seq_ahead(last, top):
            return True  # the window is contiguous: either end ahead means some seq is
        # Before seq 0: the base lies further back than anything stamped.
        return (top - feedback.base_seq) % SEQ_MODULO > highest_sent

    def _check_backwards(self, received: list[PacketResult]) -> Refusal | None:
        latest = max(((e.seq, e.arrival_ms) for e in self._evidence), key=lambda x: x[1],
                     default=None)
        for r in received:
            assert r.arrived_ms is not None
            if (latest is not None and r.transport_seq > latest[0]
                    and r.arrived_ms < latest[1] - self.config.max_reorder_ms):
                return Refusal.ARRIVAL_BACKWARDS
            if latest is None or r.arrived_ms > latest[1]:
                latest = (r.transport_seq, r.arrived_ms)
        return None

    def _bounds(self, now_ms: float) -> tuple[float, float]:
        """The clock offset the evidence of the last `evidence_ms` allows (slack included)."""
        c = self.config
        while self._evidence and now_ms - self._evidence[0].at_ms > c.evidence_ms:
            self._evidence.popleft()
        lo, hi = -math.inf, math.inf
        for e in self._evidence:
            widen = max(0.0, now_ms - e.at_ms) * c.drift_ppm * 1e-6
            lo, hi = max(lo, e.lo - widen), min(hi, e.hi + widen)
        return lo - c.slack_ms, hi + c.slack_ms

    def _check_offset(self, received: list[PacketResult], now_ms: float) -> Refusal | None:
        lo, hi = self._bounds(now_ms)
        slack = self.config.slack_ms
        for r in received:
            assert r.arrived_ms is not None
            earliest, latest = r.arrived_ms - now_ms, r.arrived_ms - r.sent_ms
            if latest < lo:
                return Refusal.ARRIVAL_BEFORE_SEND
            if earliest > hi:
                return Refusal.ARRIVAL_AFTER_FEEDBACK
            lo, hi = max(lo, earliest - slack), min(hi, latest + slack)
        return None

    def _accept(self, received: list[PacketResult], now_ms: float) -> None:
        lo, hi = -math.inf, math.inf
        seq, arrival = 0, -math.inf
        for r in received:
            assert r.arrived_ms is not None
            lo, hi = max(lo, r.arrived_ms - now_ms), min(hi, r.arrived_ms - r.sent_ms)
            if r.arrived_ms > arrival:
                seq, arrival = r.transport_seq, r.arrived_ms
        if lo > hi:  # within the slack: keep the middle
            lo = hi = (lo + hi) / 2
        self._evidence.append(_Evidence(now_ms, lo, hi, seq, arrival))

    # -- the others ------------------------------------------------------------------------
    @staticmethod
    def check_nack(nack: Nack, highest_rtp_seq: int | None) -> Refusal | None:
        if not nack.rtp_seqs:
            return None
        if highest_rtp_seq is None or any(
                seq_ahead(s % SEQ_MODULO, highest_rtp_seq % SEQ_MODULO) or s < 0
                for s in nack.rtp_seqs):
            return Refusal.UNSENT_NACK
        return None

    def check_remb(self, remb: Remb, sent_bps: float) -> Refusal | None:
        c = self.config
        bps = remb.bitrate_bps
        if not (math.isfinite(bps) and bps >= 0):
            return Refusal.REMB
        if bps > c.remb_max_ratio * max(sent_bps, c.remb_floor_bps):
            return Refusal.REMB
        return None

    @staticmethod
    def check_loss_report(report: LossReport, media_packets_sent: int,
                          highest_rtp_seq: int | None) -> Refusal | None:
        if not (0.0 <= report.fraction_lost <= 1.0):
            return Refusal.LOSS_REPORT
        if abs(report.cumulative_lost) > media_packets_sent:
            return Refusal.LOSS_REPORT
        if highest_rtp_seq is None or seq_ahead(report.highest_seq % SEQ_MODULO,
                                                highest_rtp_seq % SEQ_MODULO):
            return Refusal.LOSS_REPORT
        return None

