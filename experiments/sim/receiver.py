"""The receiving side of a simulated call: a real call's receiver, fed simulated packets.

Each packet goes through the objects a real call's receiver uses, in the order aiortc's
`RTCRtpReceiver._handle_rtp_packet` and our jitter-buffer adapter (peer/aiortc_glue.py) apply
them:

1. `peer.nack_generator.BoundedNackGenerator` (what the real call installs in aiortc's
   receiver): on a gap in the sequence numbers, one NACK of every packet it still counts
   missing (aiortc sends `sorted(missing)`). With NACK off there is none.
2. `peer.frame_assembler.FrameAssembler.receive`: the next frame in decode order (every frame
   the packet made decodable), a PLI when it gives up on a gap or must start at a
   keyframe, and NACKs again for packets still missing after its retry interval.

Every repair decision is taken when a packet arrives, as in the real receiver: no timers.

What is a model here, and only that: the decoder's timing. One decoder takes the frames one
after another, `decode_ms` each, and a frame is shown when it is decoded (the real receiver
shows the newest decoded frame at once; a frame superseded before it is shown is not
modelled). It never fails: aiortc's PLI on a decoder error does not arise, since the
assembler hands it only frames whose references it holds. The other model of the simulated
receiver is the picture quality of a shown frame (experiments/sim/quality_model.py, applied in
call.py).

A simulated packet becomes an `IncomingPacket` with its RTP sequence number in 16 bits, as on
the wire; the frame's index among frames sent as its RTP timestamp (the assembler only tells
frames apart by it, and it is read back as the frame's stamp); and its payload as that many
zero bytes, so a frame's size comes out of the assembler as in a real call's decode log.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from experiments.sim.packetizer import MediaPacket
from peer.frame_assembler import DEFAULT_MAX_WAIT_MS, SEQ_MODULO, FrameAssembler, IncomingPacket
from peer.metrics import ShownFrame
from peer.nack_generator import BoundedNackGenerator

DECODE_MS = 3.0  # libvpx VP8 decode of one 640x480 frame on these machines: 2–4 ms
RTP_TIMESTAMP_MODULO = 1 << 32

# A frame's index among frames sent -> (its frame_id, its capture time in ms): what a real
# receiver learns from the stamp in the picture and the sender's clock.
FrameStamp = Callable[[int], tuple[int, float]]


@dataclass(frozen=True, slots=True)
class ReceiverConfig:
    nack: bool = True  # send NACKs (aiortc always does unless peer.aiortc_glue.stop_nacks)
    decode_ms: float = DECODE_MS
    max_wait_ms: float = DEFAULT_MAX_WAIT_MS  # the real call's FrameAssembler default


@dataclass(frozen=True, slots=True)
class Response:
    """What the receiver does when one packet arrives."""

    shown: tuple[ShownFrame, ...]  # the frames this packet let the decoder finish, in order
    nacks: tuple[tuple[int, ...], ...]  # one tuple per RTCP NACK sent; RTP seqs, unwrapped
    pli: bool  # a PLI is sent


@dataclass(frozen=True, slots=True)
class _Seq:
    sequence_number: int


class SimReceiver:
    def __init__(self, stamp: FrameStamp, config: ReceiverConfig | None = None) -> None:
        self.config = config or ReceiverConfig()
        self.assembler = FrameAssembler(max_wait_ms=self.config.max_wait_ms)
        self._nack_generator = BoundedNackGenerator() if self.config.nack else None
        self._stamp = stamp
        self._highest_seq = -1  # unwrapped, to turn the 16-bit seqs of a NACK back
        self._decoder_free_ms = -math.inf

    def on_packet(self, packet: MediaPacket, now_ms: float) -> Response:
        """One media packet (original or retransmission) arrived at `now_ms`."""
        self._highest_seq = max(self._highest_seq, packet.rtp_seq)
        seq16 = packet.rtp_seq % SEQ_MODULO
        nacks: list[tuple[int, ...]] = []
        generator = self._nack_generator
        if generator is not None and generator.add(_Seq(seq16)):
            nacks.append(self._unwrap(sorted(generator.missing)))
        first = packet.index_in_frame == 0
        incoming = IncomingPacket(
            sequence_number=seq16,
            timestamp=packet.frame_index % RTP_TIMESTAMP_MODULO,
            marker=packet.index_in_frame == packet.packets_in_frame - 1,
            frame_start=first,
            keyframe=first and packet.keyframe,
            data=bytes(packet.payload_bytes),
        )
        arrival = self.assembler.receive(incoming, now_ms, self.config.nack)
        if arrival.nack_again:
            nacks.append(self._unwrap(arrival.nack_again))
        shown = []
        for frame in arrival.frames:
            shown_ms = max(now_ms, self._decoder_free_ms) + self.config.decode_ms
            self._decoder_free_ms = shown_ms
            frame_id, captured_ms = self._stamp(frame.timestamp)
            shown.append(ShownFrame(
                frame_id=frame_id,
                captured_at=captured_ms / 1000.0,
                shown_at=shown_ms / 1000.0,
                bytes=len(frame.data),
                keyframe=frame.keyframe,
            ))
        return Response(tuple(shown), tuple(nacks), arrival.pli)

    def _unwrap(self, seqs16: list[int]) -> tuple[int, ...]:
        # The sender's packet history is keyed by unwrapped seq; a NACKed packet was sent
        # before the newest one received, and less than half the sequence space ago.
        top = self._highest_seq
        return tuple(top - (top - s) % SEQ_MODULO for s in seqs16)
