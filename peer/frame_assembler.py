"""Reassembles encoded video frames from RTP packets the moment their last packet arrives.

Stock aiortc's jitter buffer releases a frame only when a packet of the *next* frame arrives,
one frame interval (33 ms at 30 fps) added to every frame's delay. Here a frame is released as
soon as it is complete: its first packet (the codec says which packet starts a frame), every
packet after it, and the packet with the RTP marker bit. Frames go to the decoder in order,
since each VP8 delta frame refers to the one before; when a frame is still missing packets
`max_wait_ms` after a later frame completed and after the newest retransmission came,
retransmission has had its chance: the gap is abandoned, and decoding resumes at the next
keyframe, which a PLI asks for. (Repairs still arriving mean the rest are on their way: a
20-packet burst at 2 Mbit/s takes about 100 ms to resend behind a 40 ms round trip, close to
the 150 ms a later frame's completion alone allowed; CI once repaired 7 of 20, and a local
call 19 of 20 and asked for a keyframe.) Never longer than `MAX_REPAIR_WAITS` x
`max_wait_ms` after a later frame completed: on a lossy link, repairs of other gaps keep
coming.

A packet still missing `NACK_RETRY_MS` after it was last asked for is asked for again
(`nacks_due`): aiortc sends one NACK when it sees a gap, so a lost NACK or a lost
retransmission would otherwise cost the frame (libwebrtc's NACK module retries likewise).

`receive()` is the whole rule a receiver applies to one packet, and the only entry point the
real call (aiortc_glue) and the simulator (experiments/sim/receiver.py) use: assemble, say
whether to send a PLI, and - with NACK on - which packets to ask for again. Every repair
decision is taken when a packet arrives; there is no timer (nor is there one in aiortc).

`AssemblerStats` counts what repair achieved: packets found missing (a gap in the sequence
numbers), and those that arrived while their frame could still be decoded (a retransmission, or
a late packet) - the share NACK/RTX recovered in time to be shown.

Sans-I/O: `add()` takes the arrival time; the adapter in `aiortc_glue` feeds it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

SEQ_MODULO = 1 << 16
MAX_PACKETS_KEPT = 2048
DEFAULT_MAX_WAIT_MS = 150.0
PLI_INTERVAL_MS = 300.0
NACK_RETRY_MS = 50.0  # about a round trip on the links we emulate; a frame waits 150 ms
MAX_REPAIR_WAITS = 3  # while repairs keep coming, a gap waits at most this many max waits


@dataclass
class AssemblerStats:
    frames_abandoned: int = 0
    packets_missing: int = 0  # sequence numbers skipped when a later packet arrived
    packets_recovered: int = 0  # of those, arrived before their frame went to the decoder
    keyframe_requests: int = 0  # PLIs asked for
    nack_retries: int = 0  # packets asked for again


@dataclass(frozen=True)
class IncomingPacket:
    sequence_number: int  # 16-bit, as on the wire
    timestamp: int
    marker: bool
    frame_start: bool  # first packet of a frame (VP8: S bit set and partition 0)
    keyframe: bool  # only meaningful on a frame_start packet
    data: bytes  # depayloaded codec data


@dataclass(frozen=True)
class AssembledFrame:
    timestamp: int
    data: bytes
    keyframe: bool


@dataclass(frozen=True)
class Arrival:
    """What one packet's arrival asks of the receiver."""

    frames: list[AssembledFrame]  # every frame now decodable, in decode order
    pli: bool  # ask the sender for a keyframe
    nack_again: list[int]  # 16-bit sequence numbers to ask for again (empty with NACK off)


@dataclass
class _Frame:
    timestamp: int
    packets: dict[int, bytes] = field(default_factory=dict)  # unwrapped seq -> data
    first_seq: int | None = None
    last_seq: int | None = None
    keyframe: bool = False
    completed_ms: float | None = None
    recovered: int = 0  # packets that were missing at first

    @property
    def complete(self) -> bool:
        return (self.first_seq is not None and self.last_seq is not None
                and len(self.packets) == self.last_seq - self.first_seq + 1)

    @property
    def lowest_seq(self) -> int:
        return self.first_seq if self.first_seq is not None else min(self.packets)


class FrameAssembler:
    def __init__(self, max_wait_ms: float = DEFAULT_MAX_WAIT_MS,
                 stats: AssemblerStats | None = None) -> None:
        self.max_wait_ms = max_wait_ms
        self.stats = stats or AssemblerStats()  # may be shared by a call's successive streams
        self._frames: dict[int, _Frame] = {}
        self._next_seq: int | None = None  # where the next frame to decode starts
        self._highest_seq: int | None = None
        self._ready: deque[AssembledFrame] = deque()
        self._last_pli_ms = -PLI_INTERVAL_MS
        self._missing: dict[int, float] = {}  # unwrapped seq -> when last asked for (ms)
        self._last_repair_ms = -float("inf")  # when a packet found missing last arrived

    def receive(self, packet: IncomingPacket, now_ms: float, nack: bool) -> Arrival:
        """Take one packet; with `nack` (the receiver sends NACKs), also the packets to ask
        for again. The first NACK of a gap is aiortc's (its NackGenerator), not ours."""
        pli, frames = self.add(packet, now_ms)
        return Arrival(frames, pli, self.nacks_due(now_ms) if nack else [])

    def add(self, packet: IncomingPacket, now_ms: float) -> tuple[bool, list[AssembledFrame]]:
        """Take one packet; return (send a PLI?, every frame now decodable, in order). A
        retransmission that completes a frame also frees the complete frames behind it: all
        go to the decoder now (handing out one per packet, as aiortc's jitter buffer does,
        delayed every later frame by the backlog)."""
        seq = self._unwrap(packet.sequence_number, now_ms)
        if self._highest_seq is not None and seq < self._highest_seq - MAX_PACKETS_KEPT:
            # Too far behind to be a late packet: the sequence jumped (a sender restart, or
            # one stray packet far ahead). Start over at the next keyframe; else every packet
            # would be dropped as old until the numbers caught up, for up to 2^15 packets.
            self._restart()
            seq = self._unwrap(packet.sequence_number, now_ms)
        if self._next_seq is None or seq >= self._next_seq:
            frame = self._frames.setdefault(packet.timestamp, _Frame(packet.timestamp))
            if seq not in frame.packets:
                frame.packets[seq] = packet.data
                if self._missing.pop(seq, None) is not None:
                    frame.recovered += 1
                    self._last_repair_ms = now_ms
                if packet.frame_start:
                    frame.first_seq, frame.keyframe = seq, packet.keyframe
                if packet.marker:
                    frame.last_seq = seq
                if frame.completed_ms is None and frame.complete:
                    frame.completed_ms = now_ms
        pli = self._advance(now_ms)
        self._forget_old()
        ready = list(self._ready)
        self._ready.clear()
        return pli, ready

    def _advance(self, now_ms: float) -> bool:
        """Move every decodable frame to the ready queue; abandon gaps that waited too long."""
        while True:
            head = self._head()
            if head is not None:
                self._emit(head)
                continue
            waiting = [f for f in self._frames.values() if f.completed_ms is not None]
            if not waiting:
                return False
            oldest_wait = min(f.completed_ms or 0.0 for f in waiting)
            repairing = now_ms - self._last_repair_ms < self.max_wait_ms and (
                now_ms - oldest_wait < MAX_REPAIR_WAITS * self.max_wait_ms)
            starting = self._next_seq is None
            if not starting and (now_ms - oldest_wait < self.max_wait_ms or repairing):
                return False
            keyframes = sorted((f for f in waiting if f.keyframe), key=lambda f: f.lowest_seq)
            if keyframes:
                self._drop_before(keyframes[0].lowest_seq)
                self._next_seq = keyframes[0].first_seq
                continue
            return self._request_keyframe(max(f.last_seq or 0 for f in waiting), now_ms)

    def _head(self) -> _Frame | None:
        for frame in self._frames.values():
            if frame.complete and frame.first_seq == self._next_seq:
                return frame
        return None

    def _emit(self, frame: _Frame) -> None:
        del self._frames[frame.timestamp]
        assert frame.last_seq is not None
        self._next_seq = frame.last_seq + 1
        self.stats.packets_recovered += frame.recovered
        data = b"".join(frame.packets[s] for s in sorted(frame.packets))
        # aiortc takes one frame per packet from its jitter buffer: a frame completed behind
        # another waits for the next packet to arrive.
        self._ready.append(AssembledFrame(frame.timestamp, data, frame.keyframe))

    def _request_keyframe(self, newest_complete_seq: int, now_ms: float) -> bool:
        """Nothing decodable until a keyframe: drop delta frames, ask for one (rate-limited)."""
        self._drop_before(newest_complete_seq + 1)
        self._next_seq = None
        if now_ms - self._last_pli_ms >= PLI_INTERVAL_MS:
            self._last_pli_ms = now_ms
            self.stats.keyframe_requests += 1
            return True
        return False

    def _drop_before(self, seq: int) -> None:
        for timestamp, frame in list(self._frames.items()):
            if frame.lowest_seq < seq:
                del self._frames[timestamp]
                self.stats.frames_abandoned += 1
        for missing in [s for s in self._missing if s < seq]:
            del self._missing[missing]  # its frame is gone: no use asking for it

    def _forget_old(self) -> None:
        if self._highest_seq is not None:
            self._drop_before(self._highest_seq - MAX_PACKETS_KEPT)

    def _restart(self) -> None:
        self.stats.frames_abandoned += len(self._frames)
        self._frames.clear()
        self._missing.clear()
        self._next_seq = self._highest_seq = None

    def nacks_due(self, now_ms: float) -> list[int]:
        """Sequence numbers (16-bit) to ask for again: still missing, their frame still
        waiting, and last asked for at least NACK_RETRY_MS ago."""
        due = [s for s, asked in self._missing.items() if now_ms - asked >= NACK_RETRY_MS]
        for seq in due:
            self._missing[seq] = now_ms
        self.stats.nack_retries += len(due)
        return [s % SEQ_MODULO for s in due]

    def _unwrap(self, seq16: int, now_ms: float) -> int:
        if self._highest_seq is None:
            self._highest_seq = seq16
            return seq16
        delta = (seq16 - self._highest_seq) % SEQ_MODULO
        if delta >= SEQ_MODULO // 2:
            delta -= SEQ_MODULO
        seq = self._highest_seq + delta
        if self._highest_seq + 1 < seq <= self._highest_seq + MAX_PACKETS_KEPT:
            # A gap: these may come later, by NACK/RTX. (A longer jump is not loss but a
            # sequence restart or a stray packet; see add().)
            self.stats.packets_missing += seq - self._highest_seq - 1
            self._missing.update(dict.fromkeys(range(self._highest_seq + 1, seq), now_ms))
        self._highest_seq = max(self._highest_seq, seq)
        return seq
