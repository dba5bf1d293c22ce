"""What the receiver says to the sender, one frozen record per RTCP kind.

The wire formats are parsed at the edge (the real call's adapter, the simulator's feedback
path); the sender transport only ever sees these. Sequence numbers are as the stack knows them:
transport-cc carries its 16-bit seqs inside `TransportFeedback`, NACK and loss reports name
RTP sequence numbers (16 bits on the wire; the simulator may pass them unwrapped, only the low
16 bits are compared).
"""

from __future__ import annotations

from dataclasses import dataclass

from ratecontrol.twcc import TransportFeedback


@dataclass(frozen=True, slots=True)
class TransportCc:
    """RTCP transport-cc feedback (RTPFB FMT 15), already parsed."""

    feedback: TransportFeedback


@dataclass(frozen=True, slots=True)
class Nack:
    """Generic NACK (RFC 4585, RTPFB FMT 1): the RTP sequence numbers the receiver misses."""

    rtp_seqs: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Pli:
    """Picture loss indication (PSFB FMT 1): the receiver needs a keyframe."""


@dataclass(frozen=True, slots=True)
class Remb:
    """Receiver estimated maximum bitrate (PSFB FMT 15, "REMB"), bits per second."""

    bitrate_bps: float


@dataclass(frozen=True, slots=True)
class LossReport:
    """One report block of an RTCP receiver (or sender) report about our media stream.

    fraction_lost: the 8-bit field divided by 256; cumulative_lost: packets lost since the
    start (signed: duplicates can make it negative); highest_seq: the low 16 bits of the
    highest RTP sequence number received.
    """

    fraction_lost: float
    cumulative_lost: int
    highest_seq: int


FeedbackEvent = TransportCc | Nack | Pli | Remb | LossReport
