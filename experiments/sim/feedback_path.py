"""What the receiver of a modelled call sends back about the media it got.

Each message carries what the sender transport takes in: a typed event
(ratecontrol.feedback_events) for REMB, PLI and NACK, and for transport-cc the real RTCP bytes,
parsed into its event at the sender's edge (`FeedbackMessage.event()`), as in a real call.

Two kinds of congestion feedback, as the real call has them:

- `TwccFeedback`: transport-wide congestion control. The receiver's `TwccRecorder` notes each
  arrival and, every interval, builds real RTCP transport-cc bytes; the sender parses them with
  its `FeedbackAdapter` into `PacketResult`s. Sent for every controller except `aiortc`.
- `RembFeedback`: aiortc's receiver. A receiver-side estimate from abs-send-time and arrival
  times, sent back as REMB (a bitrate) whenever the model has a new value.

`receiver_feedback` gives what the real call's receiver sends: aiortc's RTCRtpReceiver sends
REMB whatever the sender, and transport-cc goes with it when the sender stamps transport-wide
sequence numbers. REMB is no small matter: while its detector over-uses, aiortc sends one on
every media packet. In a real `gcc` call on ATT-LTE-driving, 270-780 a second (72 bytes each,
up to 450 kbit/s) crossed the feedback link while a backlog drained, against 20 transport-cc
packets; on ATT's uplink (0.9 Mbit/s on average) the transport-cc feedback then queued behind
them. The sender ignores REMB unless its controller reads it (only stock aiortc's does).

Sizes on the wire: the RTCP bytes plus SRTCP (index 4, auth tag 10) and IPv4/UDP (28).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ratecontrol.feedback_events import FeedbackEvent, Nack, Pli, Remb, TransportCc
from ratecontrol.twcc import parse_rtcp_transport_cc
from ratecontrol.twcc_recorder import TwccRecorder, TwccRecorderConfig

SRTCP_OVERHEAD_BYTES = 4 + 10
IP_UDP_HEADER_BYTES = 28
RTCP_OVERHEAD_BYTES = SRTCP_OVERHEAD_BYTES + IP_UDP_HEADER_BYTES
REMB_RTCP_BYTES = 24  # RTCP PSFB header 12 + "REMB" 4 + exp/mantissa 4 + one SSRC 4
PLI_RTCP_BYTES = 12  # RTCP PSFB header with both SSRCs, no FCI
NACK_RTCP_BYTES = 12  # RTPFB header with both SSRCs, plus 4 per FCI (PID + 16-bit mask)
NACK_SEQS_PER_FCI = 17
SENDER_SSRC = 0x5EED0001
MEDIA_SSRC = 0x5EED0002


@dataclass(frozen=True, slots=True)
class FeedbackMessage:
    """One packet on the reverse link: a typed event, or transport-cc as RTCP bytes."""

    body: FeedbackEvent | bytes
    size_bytes: int

    def event(self) -> FeedbackEvent | None:
        """What the sender takes in; None for transport-cc bytes that do not parse."""
        if not isinstance(self.body, bytes):
            return self.body
        parsed = parse_rtcp_transport_cc(self.body)
        return None if parsed is None else TransportCc(parsed)


def pli_message() -> FeedbackMessage:
    return FeedbackMessage(Pli(), PLI_RTCP_BYTES + RTCP_OVERHEAD_BYTES)


def nack_message(seqs: list[int]) -> FeedbackMessage:
    """A generic NACK (RFC 4585) for `seqs`; one FCI covers a PID and the 16 seqs after it."""
    ordered = sorted(seqs)
    fcis = 0
    base: int | None = None
    for seq in ordered:
        if base is None or seq - base >= NACK_SEQS_PER_FCI:
            base = seq
            fcis += 1
    size = NACK_RTCP_BYTES + 4 * fcis + RTCP_OVERHEAD_BYTES
    return FeedbackMessage(Nack(tuple(ordered)), size)


class ReceiverFeedback(Protocol):
    def on_packet(
        self, transport_seq: int, size_bytes: int, sent_ms: float, arrival_ms: float
    ) -> None:
        """A media packet arrived: its RTP payload size, send time (abs-send-time), arrival."""
        ...

    def next_time(self) -> float | None:
        """When `poll` next may have something to send, or None."""
        ...

    def poll(self, now_ms: float) -> list[FeedbackMessage]:
        """Feedback due at `now_ms`."""
        ...


class TwccFeedback:
    """Receiver side of transport-cc: the real recorder, the real wire bytes."""

    def __init__(self, config: TwccRecorderConfig | None = None) -> None:
        self.recorder = TwccRecorder(config)

    def on_packet(
        self, transport_seq: int, size_bytes: int, sent_ms: float, arrival_ms: float
    ) -> None:
        self.recorder.on_packet(transport_seq % (1 << 16), arrival_ms)

    def next_time(self) -> float | None:
        return self.recorder.next_feedback_time()

    def poll(self, now_ms: float) -> list[FeedbackMessage]:
        if not self.recorder.feedback_due(now_ms):
            return []
        return [
            FeedbackMessage(data, len(data) + RTCP_OVERHEAD_BYTES)
            for data in self.recorder.build_feedback(now_ms, SENDER_SSRC, MEDIA_SSRC)
        ]


class RembFeedback:
    """Receiver side of stock aiortc: a REMB estimate from abs-send-time and arrivals."""

    def __init__(self) -> None:
        from ratecontrol.aiortc_model import RembEstimator

        self.estimator = RembEstimator()
        self._pending: list[FeedbackMessage] = []

    def on_packet(
        self, transport_seq: int, size_bytes: int, sent_ms: float, arrival_ms: float
    ) -> None:
        bitrate = self.estimator.on_packet(sent_ms, arrival_ms, size_bytes)
        if bitrate is not None:
            size = REMB_RTCP_BYTES + RTCP_OVERHEAD_BYTES
            self._pending.append(FeedbackMessage(Remb(float(bitrate)), size))

    def next_time(self) -> float | None:
        return None  # REMB goes out as arrivals produce it (polled in the same turn)

    def poll(self, now_ms: float) -> list[FeedbackMessage]:
        out, self._pending = self._pending, []
        return out


class BothFeedback:
    """Several receiver-side feedback sources on one receiver: each sees every packet."""

    def __init__(self, *sources: ReceiverFeedback) -> None:
        self.sources = sources

    def on_packet(
        self, transport_seq: int, size_bytes: int, sent_ms: float, arrival_ms: float
    ) -> None:
        for source in self.sources:
            source.on_packet(transport_seq, size_bytes, sent_ms, arrival_ms)

    def next_time(self) -> float | None:
        times = [t for t in (source.next_time() for source in self.sources) if t is not None]
        return min(times, default=None)

    def poll(self, now_ms: float) -> list[FeedbackMessage]:
        return [message for source in self.sources for message in source.poll(now_ms)]


def receiver_feedback(transport_cc: bool) -> ReceiverFeedback:
    """What the real call's receiver sends back: aiortc's REMB always, and transport-cc when
    the sender stamps transport-wide sequence numbers (`transport_cc`)."""
    if not transport_cc:
        return RembFeedback()
    return BothFeedback(TwccFeedback(), RembFeedback())
