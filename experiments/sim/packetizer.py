"""Split an encoded frame into RTP packets as they appear on the wire.

Payload is cut into at most `MAX_PAYLOAD_BYTES` per packet, in near-equal pieces (as libwebrtc's
VP8 packetizer balances them), and every packet carries `PACKET_OVERHEAD_BYTES` of headers:

    IPv4 20 + UDP 8 + RTP 12 + header extension 8 (one-byte-header profile 4, transport-wide
    seq no. 3, padding 1) + VP8 payload descriptor 4 + SRTP auth tag 10 = 62 bytes.

(ICE/TURN framing is left out: the emulated link stands where the relay would be.)
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_PAYLOAD_BYTES = 1_200
IP_UDP_HEADER_BYTES = 28
RTP_HEADER_BYTES = 12
RTP_EXTENSION_BYTES = 8
VP8_DESCRIPTOR_BYTES = 4
SRTP_AUTH_TAG_BYTES = 10
PACKET_OVERHEAD_BYTES = (
    IP_UDP_HEADER_BYTES
    + RTP_HEADER_BYTES
    + RTP_EXTENSION_BYTES
    + VP8_DESCRIPTOR_BYTES
    + SRTP_AUTH_TAG_BYTES
)


@dataclass(frozen=True, slots=True)
class MediaPacket:
    """One RTP packet of a frame; `transport_seq` is stamped when it leaves the pacer."""

    frame_index: int  # index of the frame among frames sent (skipped frames have none)
    index_in_frame: int
    packets_in_frame: int
    keyframe: bool
    payload_bytes: int
    rtp_seq: int = 0  # media RTP sequence number (unwrapped); a retransmission keeps it

    @property
    def size_bytes(self) -> int:
        """Bytes on the wire."""
        return self.payload_bytes + PACKET_OVERHEAD_BYTES


def packetize(
    frame_index: int,
    size_bytes: int,
    keyframe: bool,
    max_payload_bytes: int = MAX_PAYLOAD_BYTES,
    first_rtp_seq: int = 0,
) -> list[MediaPacket]:
    """The packets that carry one frame of `size_bytes` payload bytes (at least one packet),
    numbered with RTP sequence numbers from `first_rtp_seq`."""
    if max_payload_bytes <= 0:
        raise ValueError("max_payload_bytes must be positive")
    size = max(int(size_bytes), 1)
    count = -(-size // max_payload_bytes)
    base, extra = divmod(size, count)
    return [
        MediaPacket(
            frame_index=frame_index,
            index_in_frame=i,
            packets_in_frame=count,
            keyframe=keyframe,
            payload_bytes=base + (1 if i < extra else 0),
            rtp_seq=first_rtp_seq + i,
        )
        for i in range(count)
    ]


def wire_bytes(size_bytes: int, max_payload_bytes: int = MAX_PAYLOAD_BYTES) -> int:
    """Bytes on the wire for a frame of `size_bytes` payload bytes."""
    size = max(int(size_bytes), 1)
    count = -(-size // max_payload_bytes)
    return size + count * PACKET_OVERHEAD_BYTES
