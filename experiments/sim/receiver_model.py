"""The receiving side of a modelled call: reassembly, NACK, decoder dependencies and PLI.

Frames are decoded in order. A frame is shown when all its packets have arrived and the
decoder holds every frame it depends on: a keyframe depends on nothing, a delta frame on the
previous frame sent, back to the last keyframe. There is no playback buffer: a frame is shown
`decode_ms` after the packet that made it decodable arrived.

Loss is seen as a gap in RTP sequence numbers. With NACK on (as aiortc and libwebrtc do), each
missing packet is requested at once and again every round trip (measured from NACK to
retransmission; at least `nack_retry_ms`); later frames wait for it (head-of-line blocking, as
a real decoder must). A packet still missing `nack_give_up_ms` after its gap was seen, or after
`nack_max_retries` requests, is given up: the chain is broken, and the receiver asks for a
keyframe with a PLI at once and again every `pli_retry_ms` (or one round trip, if longer) until
one is decoded. With NACK off a gap is given up at once. A complete keyframe is always
decodable: the decoder jumps to it and drops what came before (libwebrtc's frame buffer does
the same). The sender's side of NACK (history, one resend per round trip) is in sim.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from experiments.sim.packetizer import MediaPacket

DECODE_MS = 3.0  # libvpx VP8 decode of one 640x480 frame on these machines: 2–4 ms
PLI_RETRY_MS = 300.0  # repeat an unanswered keyframe request this often
NACK_RETRY_MS = 100.0  # ask again for a still-missing packet this often (about one RTT)
NACK_GIVE_UP_MS = 1_000.0  # stop waiting for a packet this long after its gap was seen
NACK_MAX_RETRIES = 10  # libwebrtc's kMaxNackRetries
RTT_SMOOTHING = 0.8  # weight of the old round-trip estimate when a retransmission arrives


@dataclass(frozen=True, slots=True)
class ShownFrame:
    frame_index: int
    shown_ms: float


@dataclass(slots=True)
class _Frame:
    packets: int
    keyframe: bool
    first_seq: int
    got: set[int] = field(default_factory=set)

    @property
    def complete(self) -> bool:
        return len(self.got) == self.packets


@dataclass(slots=True)
class _Missing:
    since_ms: float
    next_nack_ms: float
    nacks: int = 0
    first_nack_ms: float | None = None


@dataclass(frozen=True, slots=True)
class ReceiverConfig:
    decode_ms: float = DECODE_MS
    pli_retry_ms: float = PLI_RETRY_MS
    nack: bool = True
    nack_retry_ms: float = NACK_RETRY_MS
    nack_give_up_ms: float = NACK_GIVE_UP_MS
    nack_max_retries: int = NACK_MAX_RETRIES


class ReceiverModel:
    """Feed it media packets as they arrive; it says which frames get shown, what to NACK and
    when to send a PLI. Call `on_timer` at `next_timer()` to give up on missing packets."""

    def __init__(self, config: ReceiverConfig | None = None) -> None:
        self.config = config or ReceiverConfig()
        self._frames: dict[int, _Frame] = {}  # frames not yet decoded or dropped
        self._next = 0  # the next frame to decode
        self._chain_ok = False  # the decoder holds every frame back to a keyframe
        self._highest_seq = -1
        self._missing: dict[int, _Missing] = {}  # RTP seq -> what we know about its absence
        self._missing_due = math.inf  # no NACK or give-up is due before this (may be early)
        self._pli_at: float | None = None
        self.rtt_ms: float | None = None  # NACK -> retransmission, smoothed
        self.frames_dropped = 0
        self.packets_given_up = 0
        self.packets_recovered = 0
        self.plis_sent = 0

    def on_packet(self, packet: MediaPacket, now_ms: float) -> list[ShownFrame]:
        """One media packet arrived (original or retransmission); returns frames shown now."""
        seq = packet.rtp_seq
        missing = self._missing.pop(seq, None)
        if missing is not None:
            self.packets_recovered += 1
            if not self._missing:
                self._missing_due = math.inf
            if missing.first_nack_ms is not None:
                self._rtt_sample(now_ms - missing.first_nack_ms)
        elif seq <= self._highest_seq:
            return []  # a duplicate, or a packet already given up on
        for gap in range(self._highest_seq + 1, seq):
            self._missing[gap] = _Missing(since_ms=now_ms, next_nack_ms=now_ms)
            self._missing_due = min(self._missing_due, now_ms)
        self._highest_seq = max(self._highest_seq, seq)
        if not self.config.nack and self._missing:
            self.on_timer(now_ms)  # no retransmission to wait for: give up at once
        index = packet.frame_index
        if index >= self._next:
            frame = self._frames.get(index)
            if frame is None:
                first = seq - packet.index_in_frame
                frame = _Frame(packet.packets_in_frame, packet.keyframe, first)
                self._frames[index] = frame
            frame.got.add(packet.index_in_frame)
        return self._decode(now_ms)

    def _rtt_sample(self, sample_ms: float) -> None:
        old = self.rtt_ms
        if old is None:
            self.rtt_ms = sample_ms
        else:
            self.rtt_ms = RTT_SMOOTHING * old + (1 - RTT_SMOOTHING) * sample_ms

    def _decode(self, now_ms: float) -> list[ShownFrame]:
        shown: list[ShownFrame] = []
        while True:
            frame = self._frames.get(self._next)
            if frame is not None and frame.complete:
                del self._frames[self._next]
                if frame.keyframe:
                    self._chain_ok = True
                    self._pli_at = None
                if self._chain_ok:
                    shown.append(ShownFrame(self._next, now_ms + self.config.decode_ms))
                else:
                    self.frames_dropped += 1
                self._next += 1
                continue
            key = self._complete_keyframe_after(self._next)
            if key is None:
                return shown
            self._jump_to(key)

    def _complete_keyframe_after(self, index: int) -> int | None:
        keys = [i for i, f in self._frames.items() if i > index and f.keyframe and f.complete]
        return min(keys) if keys else None

    def _jump_to(self, key: int) -> None:
        """Drop every frame before keyframe `key` and stop asking for their packets."""
        first_seq = self._frames[key].first_seq
        for index in [i for i in self._frames if i < key]:
            del self._frames[index]
        self.frames_dropped += key - self._next
        for seq in [s for s in self._missing if s < first_seq]:
            del self._missing[seq]
        self._update_missing_due()
        self._next = key

    def on_timer(self, now_ms: float) -> None:
        """Give up on packets missing too long (or asked for too often): the chain breaks."""
        if now_ms < self._missing_due:
            return
        cfg = self.config
        for seq, missing in list(self._missing.items()):
            too_old = now_ms - missing.since_ms >= cfg.nack_give_up_ms
            if not cfg.nack or too_old or missing.nacks >= cfg.nack_max_retries:
                del self._missing[seq]
                self.packets_given_up += 1
                self._chain_ok = False
                if self._pli_at is None:
                    self._pli_at = now_ms
        self._update_missing_due()

    def _update_missing_due(self) -> None:
        give_up_ms = self.config.nack_give_up_ms
        self._missing_due = min(
            (min(m.next_nack_ms, m.since_ms + give_up_ms) for m in self._missing.values()),
            default=math.inf,
        )

    def poll_nacks(self, now_ms: float) -> list[int]:
        """RTP sequence numbers to request (again) now."""
        if not self.config.nack or now_ms < self._missing_due:
            return []
        due = []
        # Ask again after a round trip (libwebrtc's NackRequester waits one RTT), at least
        # `nack_retry_ms` apart.
        retry_ms = max(self.config.nack_retry_ms, self.rtt_ms or 0.0)
        for seq, missing in self._missing.items():
            if missing.next_nack_ms <= now_ms and missing.nacks < self.config.nack_max_retries:
                missing.nacks += 1
                missing.next_nack_ms = now_ms + retry_ms
                if missing.first_nack_ms is None:
                    missing.first_nack_ms = now_ms
                due.append(seq)
        self._update_missing_due()
        return due

    def next_timer(self) -> float | None:
        """When `poll_nacks`, `on_timer` or `poll_pli` next has work, or None."""
        due = min(self._missing_due, math.inf if self._pli_at is None else self._pli_at)
        return None if due == math.inf else due

    def poll_pli(self, now_ms: float) -> bool:
        """True if a PLI should be sent now; re-arms the retry timer."""
        if self._pli_at is None or now_ms < self._pli_at:
            return False
        # Repeat only after the keyframe could have come back: at least one round trip.
        self._pli_at = now_ms + max(self.config.pli_retry_ms, self.rtt_ms or 0.0)
        self.plis_sent += 1
        return True
