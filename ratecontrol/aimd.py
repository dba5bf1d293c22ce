"""AIMD rate control driven by the over-use signal (draft-ietf-rmcat-gcc-02 §5.5, libwebrtc).

Follows libwebrtc's `AimdRateControl` (which refines the draft) with its default constants:

* states HOLD / INCREASE / DECREASE; NORMAL moves HOLD to INCREASE, OVERUSING to DECREASE,
  UNDERUSING to HOLD (let the queue drain);
* decrease: to `BETA = 0.85` x the acknowledged rate (or 0.85 x the link-capacity estimate
  when that is lower than the current rate would be), never upwards;
* increase: multiplicative `1.08` per second while far from the last known capacity (the
  draft's eta = 1.08), additive - about one packet per response time (RTT + 100 ms), at least
  `MIN_ADDITIVE_INCREASE_BPS_PER_S = 4000` - once a capacity estimate exists and the acked
  rate is within 3 standard deviations of it;
* never more than `1.5 x acked + 10 kbit/s` (the draft's bound: do not run away from what the
  receiver actually gets).

The capacity estimate is libwebrtc's `LinkCapacityEstimator`: an exponential average (alpha
0.05) of the acked rate at each over-use, with a normalised variance clamped to [0.4, 2.5].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from ratecontrol.overuse_detector import BandwidthUsage

BETA = 0.85
MULTIPLICATIVE_INCREASE_PER_S = 1.08
MIN_MULTIPLICATIVE_INCREASE_BPS = 1000.0
MIN_ADDITIVE_INCREASE_BPS_PER_S = 4000.0
RESPONSE_TIME_EXTRA_MS = 100.0
PACKET_SIZE_BYTES = 1200
FRAME_INTERVAL_MS = 1000.0 / 30.0
CAPACITY_ALPHA = 0.05


class RateControlState(Enum):
    HOLD = "hold"
    INCREASE = "increase"
    DECREASE = "decrease"


@dataclass(frozen=True, slots=True)
class AimdConfig:
    start_bps: float = 300_000.0  # libwebrtc's default start rate
    min_bps: float = 50_000.0
    max_bps: float = 10_000_000.0
    beta: float = BETA


class LinkCapacityEstimator:
    """Running estimate of the link capacity from the acked rate seen at each over-use."""

    def __init__(self) -> None:
        self.estimate_kbps: float | None = None
        self._deviation = 0.4

    def upper_bound_bps(self) -> float:
        if self.estimate_kbps is None:
            return math.inf
        return 1000.0 * (self.estimate_kbps + 3 * self._deviation_kbps())

    def lower_bound_bps(self) -> float:
        if self.estimate_kbps is None:
            return 0.0
        return 1000.0 * max(0.0, self.estimate_kbps - 3 * self._deviation_kbps())

    def on_overuse(self, acked_bps: float) -> None:
        sample_kbps = acked_bps / 1000.0
        if self.estimate_kbps is None:
            self.estimate_kbps = sample_kbps
        else:
            self.estimate_kbps += CAPACITY_ALPHA * (sample_kbps - self.estimate_kbps)
        norm = max(self.estimate_kbps, 1.0)
        error_kbps = self.estimate_kbps - sample_kbps
        self._deviation = (1 - CAPACITY_ALPHA) * self._deviation + (
            CAPACITY_ALPHA * error_kbps * error_kbps / norm
        )
        self._deviation = min(max(self._deviation, 0.4), 2.5)

    def reset(self) -> None:
        self.estimate_kbps = None

    def _deviation_kbps(self) -> float:
        return math.sqrt(self._deviation * (self.estimate_kbps or 0.0))


class AimdRateControl:
    """The delay-based target: update it with each detector state and the acked rate."""

    def __init__(self, config: AimdConfig | None = None) -> None:
        self.config = config or AimdConfig()
        self.state = RateControlState.HOLD
        self.capacity = LinkCapacityEstimator()
        self._bitrate_bps = self.config.min_bps
        self._bitrate_bps = self._clamp(self.config.start_bps)
        self._last_acked_bps: float | None = None
        self._last_change_ms: float | None = None
        self.rtt_ms = 200.0

    def bitrate_bps(self) -> float:
        return self._bitrate_bps

    def set_estimate(self, bitrate_bps: float, now_ms: float) -> None:
        """Jump to a rate found elsewhere (probing); clamped to the configured bounds."""
        self._bitrate_bps = self._clamp(bitrate_bps)
        self._last_change_ms = now_ms

    def time_to_reduce_further(self, now_ms: float, acked_bps: float | None) -> bool:
        """While over-using: cut again after one RTT (10-200 ms), or if acked < half the target."""
        interval_ms = min(max(self.rtt_ms, 10.0), 200.0)
        if self._last_change_ms is None or now_ms - self._last_change_ms >= interval_ms:
            return True
        return acked_bps is not None and acked_bps < 0.5 * self._bitrate_bps

    def update(self, usage: BandwidthUsage, acked_bps: float | None, now_ms: float) -> float:
        if acked_bps is not None and math.isfinite(acked_bps) and acked_bps >= 0:
            self._last_acked_bps = acked_bps
        throughput = self._last_acked_bps
        if usage is BandwidthUsage.NORMAL and self.state is RateControlState.HOLD:
            self._last_change_ms = now_ms
            self.state = RateControlState.INCREASE
        elif usage is BandwidthUsage.OVERUSING:
            self.state = RateControlState.DECREASE
        elif usage is BandwidthUsage.UNDERUSING:
            self.state = RateControlState.HOLD

        new_bps = self._bitrate_bps
        if self.state is RateControlState.INCREASE:
            if throughput is not None and throughput > self.capacity.upper_bound_bps():
                self.capacity.reset()
            limit = math.inf if throughput is None else 1.5 * throughput + 10_000.0
            if new_bps < limit:
                elapsed_ms = 0.0 if self._last_change_ms is None else now_ms - self._last_change_ms
                if self.capacity.estimate_kbps is not None:
                    increase = self._additive_increase_bps_per_s() * elapsed_ms / 1000.0
                else:
                    alpha = MULTIPLICATIVE_INCREASE_PER_S ** (min(elapsed_ms, 1000.0) / 1000.0)
                    increase = max(new_bps * (alpha - 1.0), MIN_MULTIPLICATIVE_INCREASE_BPS)
                new_bps = min(new_bps + max(increase, 0.0), limit)
            self._last_change_ms = now_ms
        elif self.state is RateControlState.DECREASE:
            if throughput is not None:
                decreased = self.config.beta * throughput
                if decreased > new_bps and self.capacity.estimate_kbps is not None:
                    decreased = self.config.beta * self.capacity.estimate_kbps * 1000.0
                new_bps = min(new_bps, decreased)
                if throughput < self.capacity.lower_bound_bps():
                    self.capacity.reset()
                self.capacity.on_overuse(throughput)
            else:
                new_bps = self.config.beta * new_bps
            self.state = RateControlState.HOLD
            self._last_change_ms = now_ms
        self._bitrate_bps = self._clamp(new_bps)
        return self._bitrate_bps

    def _additive_increase_bps_per_s(self) -> float:
        frame_bytes = self._bitrate_bps * FRAME_INTERVAL_MS / 8000.0
        packets_per_frame = max(1, math.ceil(frame_bytes / PACKET_SIZE_BYTES))
        packet_bits = 8.0 * frame_bytes / packets_per_frame
        response_time_ms = self.rtt_ms + RESPONSE_TIME_EXTRA_MS
        return max(MIN_ADDITIVE_INCREASE_BPS_PER_S, packet_bits * 1000.0 / response_time_ms)

    def _clamp(self, bps: float) -> float:
        if not math.isfinite(bps):
            bps = self._bitrate_bps
        return min(max(bps, self.config.min_bps), self.config.max_bps)
