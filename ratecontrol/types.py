"""The records and the plug-in point shared by every stage of rate control.

Time is milliseconds as float (`now_ms`) everywhere in this package; nothing here reads a
clock. Wire formats (transport-cc, REMB) are parsed at the edge into these records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class SentPacket:
    """A packet the sender handed to the network, stamped with its transport-wide seq no."""

    transport_seq: int  # unwrapped (monotonic, not modulo 2**16)
    size_bytes: int
    sent_ms: float
    is_probe: bool = False
    is_audio: bool = False  # sound sharing the transport-wide numbers (see delay_based.py)


@dataclass(frozen=True, slots=True)
class PacketResult:
    """What the network said about one sent packet: when it arrived, or that it was lost.

    `arrived_ms` is on the receiver's clock (only differences between arrivals are meaningful);
    None means the feedback reported the packet as not received.
    """

    transport_seq: int
    size_bytes: int
    sent_ms: float
    arrived_ms: float | None
    is_probe: bool = False
    is_audio: bool = False

    @property
    def lost(self) -> bool:
        return self.arrived_ms is None

    @property
    def times_finite(self) -> bool:
        """Whether its send and arrival times are numbers a receiver could report (an infinite
        or NaN time would poison every estimate it enters)."""
        return math.isfinite(self.sent_ms) and (
            self.arrived_ms is None or math.isfinite(self.arrived_ms))


@dataclass(frozen=True, slots=True)
class FrameDecision:
    """The coupler's word on the next frame: skip it, or encode it to about `target_bytes`."""

    send: bool
    target_bytes: int
    max_keyframe_bytes: int
    force_keyframe: bool = False


@runtime_checkable
class ExplainsRate(Protocol):
    """A controller that can say what its rate comes from, for the sender's rate log."""

    def state(self) -> dict[str, float | str | None]: ...


class RateController(Protocol):
    """One way of controlling the sending rate, selectable by name (see `controllers.py`).

    The call (real or simulated) tells it what was sent and what feedback came back, and asks
    it, per frame, how large the frame may be; it answers from state, never from a clock.
    """

    name: str

    def on_packet_sent(self, packet: SentPacket) -> None: ...

    def on_feedback(self, results: list[PacketResult], now_ms: float) -> None: ...

    def on_remb(self, bitrate_bps: float, now_ms: float) -> None: ...

    def on_timer(self, now_ms: float) -> None: ...

    def target_bps(self) -> float: ...

    def pacing_bps(self) -> float | None:
        """Rate the pacer drains at, or None to send each frame in one burst (stock aiortc)."""
        ...

    def frame_decision(self, now_ms: float, frame_interval_ms: float) -> FrameDecision: ...

    def on_frame_encoded(self, size_bytes: int, keyframe: bool, now_ms: float) -> None: ...


@dataclass(frozen=True, slots=True)
class RateBounds:
    """Rate limits every controller keeps to (bits per second).

    Defaults: start at 300 kbit/s (libwebrtc's default start rate), never below 50 kbit/s
    (still a watchable 240p stream) nor above 10 Mbit/s (well above 640x480 needs).
    """

    min_bps: float = 50_000.0
    max_bps: float = 10_000_000.0
    start_bps: float = 300_000.0

    def __post_init__(self) -> None:
        values = (self.min_bps, self.max_bps, self.start_bps)
        if not all(v == v and 0 < v < float("inf") for v in values):
            raise ValueError("rate bounds must be finite and positive; check min/max/start bps")
        if self.min_bps > self.max_bps:
            raise ValueError("rate bounds: min_bps must not exceed max_bps")

    def clamp(self, bps: float, fallback_bps: float | None = None) -> float:
        """`bps` within [min, max]; NaN becomes `fallback_bps` (or the start rate)."""
        if bps != bps:
            bps = self.start_bps if fallback_bps is None else fallback_bps
        return min(max(bps, self.min_bps), self.max_bps)
