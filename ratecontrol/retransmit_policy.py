"""The one rule for resending a NACKed packet, for the real call and the simulator alike.

A NACKed RTP packet is resent only if
* it was first sent at most `max_age_ms` (300 ms) ago: the receiver's frame assembler
  (peer.frame_assembler) abandons a frame it has not completed this long after a later one, so
  a later resend arrives for a frame already given up and only adds to the queue; and
* it was not already resent within the last round-trip time: that resend may still be on its
  way, and a repeated NACK must not multiply it (libwebrtc's RtpPacketHistory does the same).
  Until feedback gives a round-trip time, `default_rtt_ms` (100 ms) stands in.

The history holds the last `history_packets` media packets by the low 16 bits of their RTP
sequence number (first send time, the packet itself for a stack that resends from here, and
the time of its last resend), in a ring: a power of two divides 2**16, so seqs keep their slot
across the wrap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from ratecontrol.twcc import SEQ_MODULO

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetransmitConfig:
    max_age_ms: float = 300.0  # see the module doc: peer.frame_assembler's give-up time
    default_rtt_ms: float = 100.0  # until transport-cc feedback measures one
    history_packets: int = 4096  # > 300 ms of media at 10 Mbit/s in 1200-byte packets

    def __post_init__(self) -> None:
        if not self.max_age_ms >= 0:
            raise ValueError(f"max_age_ms must be >= 0, got {self.max_age_ms}")
        if not self.default_rtt_ms >= 0:
            raise ValueError(f"default_rtt_ms must be >= 0, got {self.default_rtt_ms}")
        if self.history_packets < 1 or self.history_packets & (self.history_packets - 1):
            raise ValueError(
                f"history_packets must be a power of two, got {self.history_packets}")


@dataclass(slots=True)
class HistoryEntry(Generic[T]):
    """One media packet the history keeps."""

    rtp_seq: int  # low 16 bits
    payload: T
    size_bytes: int
    first_sent_ms: float
    resent_ms: float | None = None


class RetransmitPolicy(Generic[T]):
    def __init__(self, config: RetransmitConfig | None = None) -> None:
        self.config = config or RetransmitConfig()
        # A ring indexed by seq modulo its size: the newest packet with those low bits wins.
        self._ring: list[HistoryEntry[T] | None] = [None] * self.config.history_packets
        self.highest_seq: int | None = None  # low 16 bits of the newest media seq sent
        self.media_packets_sent = 0

    def on_first_send(self, rtp_seq: int, payload: T, size_bytes: int, now_ms: float) -> None:
        key = rtp_seq % SEQ_MODULO
        self._ring[key % len(self._ring)] = HistoryEntry(key, payload, size_bytes, now_ms)
        self.highest_seq = key
        self.media_packets_sent += 1

    def grant(self, rtp_seq: int, now_ms: float, rtt_ms: float | None) -> HistoryEntry[T] | None:
        """The packet to resend now, or None if the rule refuses it (and then nothing changes)."""
        key = rtp_seq % SEQ_MODULO
        entry = self._ring[key % len(self._ring)]
        if (entry is None or entry.rtp_seq != key
                or now_ms - entry.first_sent_ms > self.config.max_age_ms):
            return None
        rtt = self.config.default_rtt_ms if rtt_ms is None else rtt_ms
        if entry.resent_ms is not None and now_ms - entry.resent_ms < rtt:
            return None
        entry.resent_ms = now_ms
        return entry
