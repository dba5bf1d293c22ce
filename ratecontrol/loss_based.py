"""Loss-based control: the classic GCC rule (draft-ietf-rmcat-gcc-02 §6) with libwebrtc's timing.

The draft's rule, on the loss fraction p of the last update:

* p < `LOW_LOSS` (2 %): increase by `INCREASE_FACTOR` = 1.05 (the draft's 5 %), if the loss
  averaged over about 3 s (`LOSS_AVERAGE_WEIGHT`) is below 2 % too: one lucky second of a
  steady 3 % loss is not a clean path;
* p > `HIGH_LOSS` (10 %): multiply by (1 - 0.5 p), at most once per RTT +
  `DECREASE_INTERVAL_MS` (300 ms, libwebrtc);
* in between: hold.

Timing from libwebrtc's goog_cc, because transport-cc feedback comes every 50-100 ms, far more
often than the receiver reports the draft assumed: loss is aggregated over at least
`LOSS_UPDATE_INTERVAL_MS` (1 s) and `MIN_PACKETS_PER_UPDATE` (20) packets, so the increase is
at most 5 %/s, and 20-packet samples of a 2 % random loss (0 to 15 %) do not whipsaw the rate.

One deviation, in the spirit of libwebrtc's loss-based v2 (which models an inherent loss rate):
with `decrease_needs_congestion`, high loss cuts the rate only when the delay-based detector saw
over-use within `CONGESTION_MEMORY_MS` (`note_overuse`). Loss with no queue building is loss the
path adds on its own (radio, a policer elsewhere); cutting for it only collapses the rate (at a
steady 10 % random loss the classic rule decays to the floor). Drop-tail congestion loss comes
with a growing queue, which the detector sees first.

The final target is min(delay-based, loss-based): `cap()` holds this estimate at or below the
delay-based one, as libwebrtc does; `follow()` lifts it with a probe ramp while loss is low.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ratecontrol.types import PacketResult

LOW_LOSS = 0.02
HIGH_LOSS = 0.10
MIN_PACKETS_PER_UPDATE = 20
LOSS_UPDATE_INTERVAL_MS = 1000.0
DECREASE_INTERVAL_MS = 300.0
INCREASE_FACTOR = 1.05
CONGESTION_MEMORY_MS = 3000.0
LOSS_AVERAGE_WEIGHT = 0.3  # per update (1 s): the average spans about 3 s


@dataclass(frozen=True, slots=True)
class LossBasedConfig:
    start_bps: float = 300_000.0
    min_bps: float = 50_000.0
    max_bps: float = 10_000_000.0
    decrease_needs_congestion: bool = True


class LossBasedControl:
    def __init__(self, config: LossBasedConfig | None = None) -> None:
        self.config = config = config or LossBasedConfig()
        self._bitrate_bps = min(max(config.start_bps, config.min_bps), config.max_bps)
        self._lost = 0
        self._expected = 0
        self._last_update_ms: float | None = None
        self._last_decrease_ms: float | None = None
        self._last_overuse_ms: float | None = None
        self.loss_fraction = 0.0
        self.loss_average = 0.0  # exponential average of the per-update loss

    def bitrate_bps(self) -> float:
        return self._bitrate_bps

    def cap(self, limit_bps: float, now_ms: float) -> None:
        """Hold the estimate at or below `limit_bps` (the delay-based estimate)."""
        if math.isfinite(limit_bps) and limit_bps < self._bitrate_bps:
            self._set(limit_bps)

    def follow(self, rate_bps: float) -> None:
        """Take a probed rate while loss is low (libwebrtc sets it from each probe result)."""
        if self.loss_fraction < LOW_LOSS and rate_bps > self._bitrate_bps:
            self._set(rate_bps)

    def note_overuse(self, now_ms: float) -> None:
        """The delay-based detector signalled over-use: loss now is likely congestion loss."""
        self._last_overuse_ms = now_ms

    def on_feedback(self, results: list[PacketResult], now_ms: float, rtt_ms: float) -> float:
        for result in results:
            self._expected += 1
            if result.lost:
                self._lost += 1
        due = self._last_update_ms is None or (
            now_ms - self._last_update_ms >= LOSS_UPDATE_INTERVAL_MS
        )
        if due and self._expected >= MIN_PACKETS_PER_UPDATE:
            self._last_update_ms = now_ms
            self.loss_fraction = self._lost / self._expected
            self.loss_average += LOSS_AVERAGE_WEIGHT * (self.loss_fraction - self.loss_average)
            self._lost = self._expected = 0
            self._update(now_ms, rtt_ms)
        return self._bitrate_bps

    def _update(self, now_ms: float, rtt_ms: float) -> None:
        loss = self.loss_fraction
        if loss < LOW_LOSS and self.loss_average < LOW_LOSS:
            self._set(self._bitrate_bps * INCREASE_FACTOR)
        elif loss > HIGH_LOSS and self._congested(now_ms):
            wait_ms = max(rtt_ms, 0.0) + DECREASE_INTERVAL_MS
            if self._last_decrease_ms is None or now_ms - self._last_decrease_ms >= wait_ms:
                self._last_decrease_ms = now_ms
                self._set(self._bitrate_bps * (1.0 - 0.5 * loss))

    def _congested(self, now_ms: float) -> bool:
        if not self.config.decrease_needs_congestion:
            return True
        last = self._last_overuse_ms
        return last is not None and now_ms - last <= CONGESTION_MEMORY_MS

    def _set(self, bps: float) -> None:
        if bps == bps:  # not NaN
            self._bitrate_bps = min(max(bps, self.config.min_bps), self.config.max_bps)
