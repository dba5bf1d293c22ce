"""The receiver's first NACK on a gap: aiortc's NackGenerator rule at a bounded cost.

Sans-I/O and shared: a real call installs it in aiortc's receiver (peer.aiortc_glue.bound_nacks)
and the simulator's receiver (experiments.sim.receiver) calls it directly, so both NACK alike.
"""

from __future__ import annotations

from typing import Protocol

from aiortc.rtp import RTP_HISTORY_SIZE  # how far back a packet still counts as missing

RTP_SEQ_MODULO = 1 << 16


class SequencedPacket(Protocol):
    @property
    def sequence_number(self) -> int: ...


class BoundedNackGenerator:
    """aiortc's NackGenerator with the same output at a bounded cost. aiortc marks every
    sequence number between the newest and an arriving packet's as missing one by one, then
    keeps only the last RTP_HISTORY_SIZE (128): one packet 30,000 ahead (forged by a peer, or
    corrupt) costs 30,000 steps, some 4 ms, and a flood of them freezes the event loop. This
    marks only the numbers that would be kept. aiortc reads `add(packet) -> bool` (a gap
    appeared: send a NACK of `missing`) and `missing`."""

    def __init__(self) -> None:
        self.max_seq: int | None = None
        self.missing: set[int] = set()

    def add(self, packet: SequencedPacket) -> bool:
        seq = packet.sequence_number
        if self.max_seq is None:
            self.max_seq = seq
            return False
        ahead = (seq - self.max_seq) % RTP_SEQ_MODULO
        if ahead == 0 or ahead >= RTP_SEQ_MODULO // 2:  # a duplicate, or late: no longer missing
            self.missing.discard(seq)
            return False
        gap = range(max(1, ahead - RTP_HISTORY_SIZE), ahead)
        self.missing.update((self.max_seq + i) % RTP_SEQ_MODULO for i in gap)
        self.max_seq = seq
        self.missing = {s for s in self.missing
                        if (seq - s) % RTP_SEQ_MODULO <= RTP_HISTORY_SIZE}
        return ahead > 1
