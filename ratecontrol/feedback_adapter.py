"""Sender side of transport-cc: remembered sent packets + parsed feedback -> PacketResults.

The sender calls `on_sent` for every packet it stamps with a transport-wide seq no. (unwrapped),
and `on_feedback` for every parsed transport-cc packet. Rules:

* A feedback's 16-bit seqs are mapped to the latest sent seq with the same low 16 bits, so
  wrap-around needs no state; a seq never sent (or already forgotten) is ignored.
* Reference times (24 bits of 64 ms) are unwrapped against the previous feedback, so arrival
  times keep growing across the 12.4-day wrap; they are on the receiver's clock.
* Each packet is reported received at most once. A packet reported lost is reported lost once;
  if a later feedback says it did arrive (the receiver re-reports after a late packet), one
  received result follows. Duplicated, reordered and truncated feedback therefore never
  produces a result twice, and never raises.
* Sent packets are forgotten `history_ms` after they were sent (libwebrtc keeps 60 s).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ratecontrol.twcc import (
    REFERENCE_TIME_MODULO,
    REFERENCE_TIME_UNIT_MS,
    SEQ_MODULO,
    TransportFeedback,
)
from ratecontrol.types import PacketResult, SentPacket


class _State(Enum):
    IN_FLIGHT = 1
    LOST = 2


@dataclass(frozen=True, slots=True)
class FeedbackAdapterConfig:
    history_ms: float = 60_000.0  # how long a sent packet waits for feedback before it is dropped

    def __post_init__(self) -> None:
        if not self.history_ms > 0:
            raise ValueError(f"history_ms must be > 0, got {self.history_ms}")


@dataclass(frozen=True, slots=True)
class ResolvedFeedback:
    """One feedback mapped onto the packets sent: the new results, each packet's state before,
    the unwrapped reference time (None: nothing was sent), and how many seqs it reported."""

    results: list[PacketResult]
    states: list[_State]
    reference: int | None
    reported: int


class FeedbackAdapter:
    def __init__(self, config: FeedbackAdapterConfig | None = None) -> None:
        self.config = config or FeedbackAdapterConfig()
        # Insertion order is send order, so forgetting walks from the front.
        self._sent: dict[int, tuple[SentPacket, _State]] = {}
        self._max_seq: int | None = None
        # The receiver's clock minus ours, in 64 ms reference units (from the first feedback):
        # what the 24-bit reference times are unwrapped against.
        self._offset_units: float | None = None
        self._in_flight_bytes = 0
        self.rtt_ms: float | None = None  # from the latest feedback with a received packet
        self.ignored = 0  # reported seqs that were unknown, forgotten or already known

    def on_sent(self, packet: SentPacket) -> None:
        seq = packet.transport_seq
        if seq in self._sent or (self._max_seq is not None and seq <= self._max_seq):
            return  # a resend of the same seq or out of order stamping: keep the first
        self._sent[seq] = (packet, _State.IN_FLIGHT)
        self._max_seq = seq
        self._in_flight_bytes += packet.size_bytes
        self._forget(packet.sent_ms)

    def in_flight_bytes(self) -> int:
        """Bytes sent and neither acknowledged nor reported lost (nor forgotten)."""
        return self._in_flight_bytes

    @property
    def highest_sent(self) -> int | None:
        """The highest transport seq stamped so far (unwrapped), None before the first."""
        return self._max_seq

    def resolve(self, feedback: TransportFeedback, now_ms: float) -> ResolvedFeedback:
        """What the feedback says about the packets, changing nothing: the caller may check it
        before it is believed (`commit`)."""
        if self._max_seq is None:
            return ResolvedFeedback([], [], None, len(feedback.deltas_ticks))
        reference = self._unwrap_reference(feedback.reference_time_64ms, now_ms)
        base_ms = reference * REFERENCE_TIME_UNIT_MS
        results: list[PacketResult] = []
        states: list[_State] = []
        for seq16, offset_ms in feedback.arrival_offsets_ms():
            seq = self._max_seq - ((self._max_seq - seq16) % SEQ_MODULO)
            entry = self._sent.get(seq)
            if entry is None:
                continue
            packet, state = entry
            if offset_ms is None and state is _State.LOST:
                continue
            arrived_ms = None if offset_ms is None else base_ms + offset_ms
            results.append(PacketResult(seq, packet.size_bytes, packet.sent_ms, arrived_ms,
                                        packet.is_probe, packet.is_audio))
            states.append(state)
        return ResolvedFeedback(results, states, reference, len(feedback.deltas_ticks))

    def commit(self, resolved: ResolvedFeedback, now_ms: float) -> list[PacketResult]:
        """Believe a feedback `resolve` just returned (nothing sent or heard in between)."""
        if resolved.reference is None:
            return []
        if self._offset_units is None:
            self._offset_units = resolved.reference - now_ms / REFERENCE_TIME_UNIT_MS
        for result, state in zip(resolved.results, resolved.states, strict=True):
            seq = result.transport_seq
            if result.arrived_ms is None:
                self._sent[seq] = (self._sent[seq][0], _State.LOST)
            else:
                del self._sent[seq]
            if state is _State.IN_FLIGHT:
                self._in_flight_bytes -= result.size_bytes
        self.ignored += resolved.reported - len(resolved.results)
        self._update_rtt(resolved.results, now_ms)
        return resolved.results

    def on_feedback(self, feedback: TransportFeedback, now_ms: float) -> list[PacketResult]:
        return self.commit(self.resolve(feedback, now_ms), now_ms)

    def _unwrap_reference(self, raw: int, now_ms: float) -> int:
        """The 24-bit reference time (64 ms units, wrapping every 12 days) unwrapped to the
        wrap nearest our own clock plus the receiver's offset. Pinned to our clock rather than
        to the previous feedback: one forged reference half a wrap away, once believed, would
        otherwise move every true one after it by days, and the guard would refuse them all."""
        if self._offset_units is None:
            return raw
        expected = now_ms / REFERENCE_TIME_UNIT_MS + self._offset_units
        return raw + round((expected - raw) / REFERENCE_TIME_MODULO) * REFERENCE_TIME_MODULO

    def _update_rtt(self, results: list[PacketResult], now_ms: float) -> None:
        """Smallest (now - sent - time the packet then waited at the receiver for feedback).

        The receiver's wait is measured up to its last arrival in this feedback; what it waited
        after that (at most one feedback interval) is still included, so this is an upper bound.
        """
        received = [r for r in results if r.arrived_ms is not None]
        if not received:
            return
        last_arrival = max(r.arrived_ms for r in received if r.arrived_ms is not None)
        self.rtt_ms = max(
            0.0,
            min(
                now_ms - r.sent_ms - (last_arrival - r.arrived_ms)
                for r in received
                if r.arrived_ms is not None
            ),
        )

    def _forget(self, now_ms: float) -> None:
        horizon = now_ms - self.config.history_ms
        while self._sent:
            seq, (packet, state) = next(iter(self._sent.items()))
            if packet.sent_ms >= horizon:
                return
            del self._sent[seq]
            if state is _State.IN_FLIGHT:
                self._in_flight_bytes -= packet.size_bytes
