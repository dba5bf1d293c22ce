"""A video call in virtual time: source, encoder model, pacer, emulated links, feedback.

One discrete-event loop stands where the real call's asyncio loop would. Each turn it handles
everything due at the current time, then jumps to the earliest time any part asks for:

    30 fps source → controller.frame_decision → skip, or encoder model → packetizer
      → SenderTransport (ratecontrol.sender_transport, the real call's own: pacer, transport-wide
        seq no., retransmission rule, feedback guard) → media Link
      → receiver: TWCC recorder (arrival times) + the real call's NACK generator and frame
        assembler, and a decoder-timing model (shown frames, NACK, PLI; see receiver.py)
      → feedback Link (reverse direction): RTCP transport-cc bytes, NACK, PLI, REMB
      → sender: typed feedback events → SenderTransport → controller; PLI → keyframe.

The transport-cc feedback really is built as bytes and parsed again at the sender's edge
(ratecontrol.twcc), so the wire path is the one the real call uses. The receiver also sends
REMB from a model of aiortc's estimator, as the real call's aiortc receiver does whatever the
sender (feedback_path.receiver_feedback); only the `aiortc` controller reads it, and gets no
transport-cc. Time is float ms from the start of the call; nothing reads a clock.

Delay is counted from capture; a frame is handed to the transport `encode_ms` after capture
and shown when the decoder has decoded it, `decode_ms` per frame (see receiver).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from experiments.oracle import oracle_delay_ms, signal_floor_ms_p95
from experiments.sim.content import TEST_PATTERN, ContentProfile
from experiments.sim.delay_line import DelayLine
from experiments.sim.encoder_model import EncoderModel, EncoderModelConfig
from experiments.sim.feedback_path import (
    FeedbackMessage,
    nack_message,
    pli_message,
    receiver_feedback,
)
from experiments.sim.packetizer import MediaPacket, packetize, wire_bytes
from experiments.sim.quality_model import bits_per_pixel, psnr_db, ssim_db
from experiments.sim.receiver import DECODE_MS, ReceiverConfig, SimReceiver
from experiments.summary import CallSummary, FrameRecord, summarize
from netem.link import Link, LinkConfig, Packet
from netem.loss import BernoulliLoss
from netem.queues import QUEUE_GUARD_BYTES, DropTail
from netem.trace import Trace
from netem.traces import trace_directions as trace_directions  # one rule, shared with netem
from ratecontrol.sender_stats import SenderStats
from ratecontrol.sender_transport import OutgoingPacket, SenderTransport
from ratecontrol.types import RateController

FPS = 30.0
ENCODE_MS = 5.0  # libvpx realtime VP8 at 640x480 on these machines: ~10 ms per frame on 1 core
SAMPLE_INTERVAL_MS = 100.0  # how often the target rate is recorded for plots
DRAIN_MS = 1_000.0  # after the last capture, let frames in flight land
MIN_STEP_MS = 1e-3  # the loop never stands still
AIORTC_NAME = "aiortc"  # the controller whose sender stamps no transport-wide seq
QUEUE_PACKETS: int | None = None  # unlimited, as netem's (and Mahimahi's) default queue


@dataclass(frozen=True, slots=True)
class DelayChange:
    """At `at_ms`, the one-way propagation delay of both directions becomes `delay_ms`."""

    at_ms: float
    delay_ms: float


@dataclass(frozen=True, slots=True)
class SimConfig:
    """One simulated call. Defaults: 30 ms one way and, as netem's, an unlimited drop-tail
    queue.

    media_trace carries the video (sender → receiver); feedback_trace the RTCP back.
    feedback_blackouts: (start_ms, end_ms) windows in which every feedback packet is dropped
    (the feedback "stops"); delay_changes change the propagation delay mid-call.
    trace_offset_ms: the trace time at the call's time 0 (both directions), so a call can be
    simulated over the window of the trace a real call met (0: the trace's start). The oracle,
    the signal floor and the capacity are taken over that window too; every other time in the
    config and the result stays call time.
    """

    media_trace: Trace
    feedback_trace: Trace
    controller: str = "ours"
    duration_s: float = 30.0
    delay_ms: float = 30.0
    loss: float = 0.0
    queue_packets: int | None = QUEUE_PACKETS  # drop-tail limit; None: unlimited
    seed: int = 0
    fps: float = FPS
    encode_ms: float = ENCODE_MS
    decode_ms: float = DECODE_MS
    encoder: EncoderModelConfig = field(default_factory=EncoderModelConfig)
    # What is sent: frame size and quality per bit (pair it with its fps and encoder config).
    content: ContentProfile = TEST_PATTERN
    nack: bool = True  # retransmit on NACK (aiortc and libwebrtc do); False: loss -> keyframe
    delay_changes: tuple[DelayChange, ...] = ()
    feedback_blackouts: tuple[tuple[float, float], ...] = ()
    trace_offset_ms: float = 0.0

    def __post_init__(self) -> None:
        if self.duration_s <= 0:
            raise ValueError(f"duration must be positive, got {self.duration_s} s")
        if not 0 <= self.loss < 1:
            raise ValueError(f"loss must be a probability in [0, 1), got {self.loss}")
        if self.delay_ms < 0:
            raise ValueError(f"delay must be >= 0 ms, got {self.delay_ms}")
        if self.queue_packets is not None and self.queue_packets < 1:
            raise ValueError(f"queue must hold at least 1 packet, got {self.queue_packets}")
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if not self.trace_offset_ms >= 0:
            raise ValueError(f"trace offset must be >= 0 ms, got {self.trace_offset_ms}")


@dataclass(frozen=True, slots=True)
class RateSample:
    t_ms: float
    target_bps: float
    pacing_bps: float | None


@dataclass
class SimResult:
    config: SimConfig
    controller: str
    frames: list[FrameRecord]
    samples: list[RateSample]
    summary: CallSummary
    packets_sent: int = 0
    packets_lost: int = 0
    feedback_packets: int = 0
    plis: int = 0
    retransmissions: int = 0
    sender: SenderStats = field(default_factory=SenderStats)


@dataclass(frozen=True, slots=True)
class _InFlight:
    """A media packet on the wire, with what its RTP header extensions carry."""

    packet: MediaPacket
    seq: int  # transport-wide sequence number (unwrapped; the wire has its low 16 bits)
    sent_ms: float  # abs-send-time


@dataclass(slots=True)
class _Frame:
    """Sender-side bookkeeping for one captured frame."""

    frame_id: int
    captured_ms: float
    sent: bool = False
    size_bytes: int = 0
    keyframe: bool = False
    quality_bytes: int = 0
    shown_ms: float | None = None
    oracle_ms: float | None = None


def _soonest(*times: float | None) -> float:
    best = math.inf
    for t in times:
        if t is not None and t < best:
            best = t
    return best


class Simulation:
    """The call's state; `run()` drives it to the end. One instance runs one call."""

    def __init__(self, config: SimConfig, controller: RateController) -> None:
        self.config = config
        self.controller = controller
        c = config
        # Trace time 0 lies trace_offset_ms before the call's time 0, on both links.
        start_ms = -c.trace_offset_ms
        self.media_link = Link(self._link_config(c.media_trace, c.loss, c.seed), start_ms)
        self.feedback_link = Link(self._link_config(c.feedback_trace, 0.0, c.seed + 1), start_ms)
        self.media_air: DelayLine[_InFlight] = DelayLine()  # propagation, sender -> receiver
        self.feedback_air: DelayLine[FeedbackMessage] = DelayLine()  # receiver -> sender
        self.encoder = EncoderModel(c.encoder, seed=c.seed)
        self.receiver = SimReceiver(self._stamp, ReceiverConfig(nack=c.nack, decode_ms=c.decode_ms))
        self.receiver_feedback = receiver_feedback(transport_cc=controller.name != AIORTC_NAME)
        self.transport: SenderTransport[MediaPacket] = SenderTransport(controller)
        self.frames: list[_Frame] = []
        self.sent_index: list[int] = []  # frame index among sent frames -> frame_id
        self.samples: list[RateSample] = []
        self.next_rtp_seq = 0
        self.feedback_packets = 0
        self.plis = 0

    def _link_config(self, trace: Trace, loss: float, seed: int) -> LinkConfig:
        # Propagation is added by the sim's own delay lines (it can change mid-call).
        return LinkConfig(
            trace=trace,
            delay_ms=0.0,
            loss=BernoulliLoss(loss),
            queue=DropTail(limit_packets=self.config.queue_packets,
                           limit_bytes=QUEUE_GUARD_BYTES),
            seed=seed,
            keep_records=False,
        )

    def delay_at(self, now_ms: float) -> float:
        """One-way propagation delay at `now_ms` (both directions)."""
        delay = self.config.delay_ms
        for change in self.config.delay_changes:
            if change.at_ms <= now_ms:
                delay = change.delay_ms
        return delay

    # -- the loop -----------------------------------------------------------------------

    def run(self) -> SimResult:
        c = self.config
        interval_ms = 1000.0 / c.fps
        capture_end_ms = c.duration_s * 1000.0
        end_ms = capture_end_ms + DRAIN_MS
        frames_total = math.ceil(capture_end_ms / interval_ms - 1e-9)
        captured = 0  # frame k is captured at k·interval and handed over encode_ms later
        next_frame_ms = c.encode_ms
        next_sample_ms = 0.0
        media_due = feedback_due = math.inf
        now = 0.0
        while now <= end_ms:
            if now >= media_due:
                self._receive_media(now)
            if now >= feedback_due:
                self._receive_feedback(now)
            self._receiver_timers(now)
            if now >= next_frame_ms:
                self._on_frame(now, captured * interval_ms, interval_ms)
                captured += 1
                next_frame_ms = (
                    captured * interval_ms + c.encode_ms if captured < frames_total else math.inf
                )
            transport_due = self.transport.get_timer()
            if transport_due is not None and now >= transport_due:
                self.transport.handle_timer(now)
                for outgoing in self.transport.packets_to_send(now):
                    self._send(outgoing, now)
            if now >= next_sample_ms:
                pacing = self.controller.pacing_bps()
                self.samples.append(RateSample(now, self.controller.target_bps(), pacing))
                next_sample_ms += SAMPLE_INTERVAL_MS
            # When each part next needs a turn (a link is polled when its next packet would
            # arrive at the far end, propagation included).
            media_due = _soonest(
                self.media_air.next_time(), self._arrival_of(self.media_link.next_event_time())
            )
            feedback_due = _soonest(
                self.feedback_air.next_time(),
                self._arrival_of(self.feedback_link.next_event_time()),
            )
            soonest = min(
                media_due,
                feedback_due,
                _soonest(self.transport.get_timer()),
                next_frame_ms,
                next_sample_ms,
                _soonest(self.receiver_feedback.next_time()),
            )
            # Anything due now was handled this turn; never step back or stand still.
            now = max(soonest, now + MIN_STEP_MS)
        return self._result()

    def _arrival_of(self, departure_ms: float | None) -> float | None:
        return None if departure_ms is None else departure_ms + self.delay_at(departure_ms)

    # -- sender ---------------------------------------------------------------------------

    def _on_frame(self, now: float, captured_ms: float, interval_ms: float) -> None:
        frame = _Frame(frame_id=len(self.frames), captured_ms=captured_ms)
        self.frames.append(frame)
        decision = self.controller.frame_decision(now, interval_ms)
        if not decision.send:
            return
        previous = self.sent_index[-1] if self.sent_index else frame.frame_id - 1
        encoded = self.encoder.encode(
            decision.target_bytes,
            force_keyframe=decision.force_keyframe,
            max_keyframe_bytes=decision.max_keyframe_bytes,
            frames_since_last=frame.frame_id - previous,
        )
        self.controller.on_frame_encoded(encoded.size_bytes, encoded.keyframe, now)
        frame.sent = True
        frame.size_bytes = encoded.size_bytes
        frame.keyframe = encoded.keyframe
        # A keyframe buys the picture quality of a delta frame `keyframe_ratio` times smaller.
        frame.quality_bytes = (
            min(encoded.size_bytes, round(encoded.size_bytes / self.config.encoder.keyframe_ratio))
            if encoded.keyframe
            else encoded.size_bytes
        )
        frame.oracle_ms = oracle_delay_ms(
            self.config.media_trace,
            captured_ms=captured_ms + self.config.trace_offset_ms,
            wire_bytes=wire_bytes(encoded.size_bytes),
            propagation_ms=self.delay_at(now),
        )
        index = len(self.sent_index)
        self.sent_index.append(frame.frame_id)
        packets = packetize(
            index, encoded.size_bytes, encoded.keyframe, first_rtp_seq=self.next_rtp_seq
        )
        self.next_rtp_seq += len(packets)
        for packet in packets:
            self.transport.send_media(packet, packet.size_bytes, packet.rtp_seq, now)

    def _send(self, outgoing: OutgoingPacket[MediaPacket], now: float) -> None:
        seq = outgoing.transport_seq
        assert seq is not None  # the simulator always has a controller, so always stamps
        in_flight = _InFlight(outgoing.payload, seq, outgoing.sent_ms)
        self.media_link.enqueue(Packet(outgoing.size_bytes, in_flight), now)

    def _receive_feedback(self, now: float) -> None:
        for delivery in self.feedback_link.deliveries(now):
            departed, message = delivery.delivered_ms, delivery.packet.payload
            assert isinstance(message, FeedbackMessage)
            self.feedback_air.push(message, departed + self.delay_at(departed))
        for _arrived, item in self.feedback_air.pop_due(now):
            event = item.event()  # transport-cc is parsed here, at the edge, as in a real call
            if event is not None:
                self.transport.receive_feedback(event, now)
        if self.transport.take_keyframe_request():
            self.encoder.request_keyframe()

    # -- receiver -------------------------------------------------------------------------

    def _receive_media(self, now: float) -> None:
        for delivery in self.media_link.deliveries(now):
            departed, in_flight = delivery.delivered_ms, delivery.packet.payload
            assert isinstance(in_flight, _InFlight)
            self.media_air.push(in_flight, departed + self.delay_at(departed))
        for arrived, item in self.media_air.pop_due(now):
            packet, seq, sent_ms = item.packet, item.seq, item.sent_ms
            self.receiver_feedback.on_packet(seq, packet.payload_bytes, sent_ms, arrived)
            response = self.receiver.on_packet(packet, arrived)
            for seqs in response.nacks:
                self._send_feedback(nack_message(list(seqs)), now)
            if response.pli:
                self.plis += 1
                self._send_feedback(pli_message(), now)
            for shown in response.shown:
                assert shown.frame_id is not None
                self.frames[shown.frame_id].shown_ms = shown.shown_at * 1000.0

    def _stamp(self, frame_index: int) -> tuple[int, float]:
        """What the picture's stamp and the sender's clock tell the receiver of a frame."""
        frame = self.frames[self.sent_index[frame_index]]
        return frame.frame_id, frame.captured_ms

    def _receiver_timers(self, now: float) -> None:
        # Only feedback runs on a timer: the receiver's repair decisions come with packets.
        for message in self.receiver_feedback.poll(now):
            self._send_feedback(message, now)

    def _send_feedback(self, message: FeedbackMessage, now: float) -> None:
        self.feedback_packets += 1
        if any(start <= now < end for start, end in self.config.feedback_blackouts):
            return
        self.feedback_link.enqueue(Packet(message.size_bytes, message), now)

    # -- the outcome ----------------------------------------------------------------------

    def _result(self) -> SimResult:
        c = self.config
        records = [self._record(f) for f in self.frames]
        offset, end_ms = c.trace_offset_ms, c.duration_s * 1000.0
        capacity = c.media_trace.capacity_bps(offset, offset + end_ms) / 1000.0
        floor = signal_floor_ms_p95(c.media_trace, start_ms=offset, end_ms=offset + end_ms,
                                    fps=c.fps, propagation_ms=c.delay_ms)
        summary = summarize(records, duration_s=c.duration_s, capacity_kbps=capacity, start_ms=0.0,
                            fps=c.fps, signal_floor_ms_p95=floor,
                            media_trace=c.media_trace.name, media_capacity_kbps=capacity)
        drops = self.media_link.drops
        return SimResult(
            config=c,
            controller=self.controller.name,
            frames=records,
            samples=self.samples,
            summary=summary,
            packets_sent=self.transport.stats.packets_sent,
            packets_lost=sum(drops.values()),
            feedback_packets=self.feedback_packets,
            plis=self.plis,
            retransmissions=self.transport.stats.retransmissions,
            sender=self.transport.stats,
        )

    def _record(self, frame: _Frame) -> FrameRecord:
        quality = None
        psnr = None
        if frame.shown_ms is not None:
            content = self.config.content
            bpp = bits_per_pixel(frame.quality_bytes, content.width_px, content.height_px)
            quality, psnr = ssim_db(bpp, content), psnr_db(bpp, content)
        return FrameRecord(
            frame_id=frame.frame_id,
            captured_ms=frame.captured_ms,
            sent=frame.sent,
            size_bytes=frame.size_bytes,
            keyframe=frame.keyframe,
            shown_ms=frame.shown_ms,
            ssim_db=quality,
            psnr_db=psnr,
            oracle_delay_ms=frame.oracle_ms,
        )


def simulate(config: SimConfig, controller: RateController | None = None) -> SimResult:
    """Run one call; the controller defaults to `make_controller(config.controller)`."""
    if controller is None:
        from ratecontrol.controllers import make_controller

        controller = make_controller(config.controller)
    return Simulation(config, controller).run()
