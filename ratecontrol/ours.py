"""The `ours` controller: GCC's estimates plus the frame-budget coupler, tuned for delay.

GCC (`gcc.py`: delay-based + loss-based + probe ramp + acknowledged rate) answers "how fast on
average"; the coupler (`coupler.py`) answers "how large may *this* frame be" from the bytes the
feedback says are still queued, and skips a frame rather than let the queue grow.

* Rate: GCC's target, held at most `capacity_headroom` (1.1) x the link rate the coupler
  measured while the link was busy. With the coupler in charge of the queue GCC's trendline
  sees little delay growth and its target drifts above capacity; the measured link rate is the
  better predictor (Salsify's lesson). `target_bps()` reports it without the headroom.
* Budget per frame: the coupler's, at that rate, draining at the measured link rate.
* Pacing: `pacing_factor` (2.5) x the larger of the rate and the link rate, so the pacer never
  holds a frame longer than the link would.

Tuned in virtual time (`python -m experiments sim`, 30 ms one way, drop-tail 200 packets, 60 s)
against the issue's targets; defaults of `CouplerConfig`: 10 ms standing queue (at least one
1500-byte packet), skip while the newest feedback shows more than 20 ms above what the intended
queue and frame take, link rate over 500 ms of busy time. Measured (see the report of issue 4):
constant 0.5-5 Mbit/s links: 91-94 % of capacity, p95 within 5-25 ms of the oracle's;
ATT-LTE-driving: p95 108 ms vs gcc's 2923 ms, goodput 2359 vs 1214 kbit/s; Verizon-LTE-short:
159 vs 453 ms, 2331 vs 1481 kbit/s; TMobile-UMTS-driving: 870 vs 7700 ms, 635 vs 480 kbit/s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ratecontrol.coupler import CouplerConfig, FrameBudgetCoupler
from ratecontrol.gcc import GccConfig, GccController
from ratecontrol.types import FrameDecision, PacketResult, RateBounds, SentPacket

PACING_FACTOR = 2.5
CAPACITY_HEADROOM = 1.0  # the budget rate may exceed the measured link rate by this factor


@dataclass(frozen=True, slots=True)
class OursConfig:
    bounds: RateBounds = field(default_factory=RateBounds)
    coupler: CouplerConfig = field(default_factory=CouplerConfig)
    pacing_factor: float = PACING_FACTOR
    capacity_headroom: float = CAPACITY_HEADROOM


class OursController:
    name = "ours"

    def __init__(self, config: OursConfig | None = None) -> None:
        self.config = config = config or OursConfig()
        gcc_config = GccConfig(bounds=config.bounds, pacing_factor=config.pacing_factor)
        self.gcc = GccController(gcc_config)
        self.coupler = FrameBudgetCoupler(config.coupler)

    def on_packet_sent(self, packet: SentPacket) -> None:
        self.gcc.on_packet_sent(packet)
        self.coupler.on_packet_sent(packet)

    def on_feedback(self, results: list[PacketResult], now_ms: float) -> None:
        self.gcc.on_feedback(results, now_ms)
        self.coupler.on_feedback(results, now_ms)

    def on_remb(self, bitrate_bps: float, now_ms: float) -> None:
        return None

    def on_timer(self, now_ms: float) -> None:
        self.gcc.on_timer(now_ms)

    def target_bps(self) -> float:
        """The rate the path carries now: GCC's target, at most the bottleneck rate the
        coupler measured while the link was busy (when it has such a measurement)."""
        return self._rate(1.0)

    def pacing_bps(self) -> float | None:
        """`pacing_factor` x the larger of the budget rate and the measured bottleneck rate:
        the coupler may fill the link, and the pacer must never be the queue."""
        rate = max(self._rate(self.config.capacity_headroom), self.coupler.capacity_bps() or 0.0)
        return self.config.pacing_factor * self.config.bounds.clamp(rate)

    def frame_decision(self, now_ms: float, frame_interval_ms: float) -> FrameDecision:
        """The coupler's budget at GCC's rate held within `capacity_headroom` x the link's rate:
        the link's own recent rate is the best predictor of what it carries next, and the
        queue term of the budget corrects any excess."""
        return self.coupler.decide(
            self._rate(self.config.capacity_headroom),
            self.coupler.capacity_bps(),
            self.gcc.acked_bps(now_ms),
            now_ms,
            frame_interval_ms,
        )

    def _rate(self, headroom: float) -> float:
        rate = self.gcc.target_bps()
        capacity = self.coupler.capacity_bps()
        if capacity is not None:
            rate = min(rate, headroom * capacity)
        return self.config.bounds.clamp(rate)

    def on_frame_encoded(self, size_bytes: int, keyframe: bool, now_ms: float) -> None:
        self.coupler.on_frame_encoded(size_bytes)
