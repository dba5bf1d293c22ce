"""Probing as a fast ramp with media: at start and after a large drop, climb faster than AIMD.

libwebrtc probes with padding clusters at 3x and 6x the start rate and after a large drop, and
takes the rate the receiver saw as the result. We keep the idea but send no padding (the
simulator and the real call need no extra packet type, and our encoder can always fill a larger
budget): while RAMPING, the delay-based estimate may grow by `RAMP_FACTOR_PER_S` (x2 per
second, against AIMD's 1.08) but never beyond `ACKED_HEADROOM` x the acknowledged rate - the
rate the receiver saw is what confirms each step, as a probe result would. The ramp ends at the
first over-use or heavy loss, or at its ceiling.

* At start: ramp with ceiling = the configured maximum.
* After a large drop (the estimate falls below `LARGE_DROP_RATIO = 0.66` of its maximum over
  the last `DROP_WINDOW_MS = 5000` ms, libwebrtc's constants): once the detector has been NORMAL
  for `RECOVERY_WAIT_MS` again, ramp back towards `RECOVERY_TARGET_RATIO = 0.85` x the rate
  before the drop (libwebrtc probes at 0.85 of it too). If the capacity really fell, the first
  over-use ends the ramp - one short queue instead of tens of seconds of under-use.
* After a feedback timeout (`arm_recovery`: the path fell silent, an outage): ramp at the first
  feedback with no over-use. The drop was no congestion signal, and the queue the outage left
  drains with under-use for about 2 s after a 10 s outage; waiting that out and then 1 s of
  NORMAL left the rate at the floor for 3-5 s.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from enum import Enum

from ratecontrol.overuse_detector import BandwidthUsage

RAMP_FACTOR_PER_S = 2.0
ACKED_HEADROOM = 1.5
LARGE_DROP_RATIO = 0.66
DROP_WINDOW_MS = 5000.0
RECOVERY_WAIT_MS = 1000.0
RECOVERY_TARGET_RATIO = 0.85
MAX_RAMP_STEP_MS = 200.0


class ProbeState(Enum):
    IDLE = "idle"
    WAITING = "waiting"  # after a large drop, until the detector says NORMAL long enough
    RAMPING = "ramping"


@dataclass(frozen=True, slots=True)
class ProbeConfig:
    ramp_factor_per_s: float = RAMP_FACTOR_PER_S
    acked_headroom: float = ACKED_HEADROOM
    probe_after_drop: bool = True
    max_bps: float = 10_000_000.0


class ProbeController:
    def __init__(self, config: ProbeConfig | None = None) -> None:
        self.config = config or ProbeConfig()
        self.state = ProbeState.IDLE
        self.ceiling_bps = math.inf
        self._last_ramp_ms: float | None = None
        self._normal_since_ms: float | None = None
        self._after_silence = False  # the waiting recovery follows a feedback timeout
        self._recent: deque[tuple[float, float]] = deque()  # (time, estimate), decreasing

    def start(self, now_ms: float, ceiling_bps: float | None = None) -> None:
        self.state = ProbeState.RAMPING
        self.ceiling_bps = self.config.max_bps if ceiling_bps is None else ceiling_bps
        self._last_ramp_ms = now_ms

    def stop(self) -> None:
        self.state = ProbeState.IDLE
        self._last_ramp_ms = None

    def arm_recovery(self, ceiling_bps: float) -> None:
        """Ramp back towards `ceiling_bps` at the first feedback with no over-use (after a cut
        that did not come from the detector: a feedback timeout)."""
        if self.state is ProbeState.WAITING:
            self.ceiling_bps = max(self.ceiling_bps, ceiling_bps)
        else:
            self.state = ProbeState.WAITING
            self.ceiling_bps = ceiling_bps
        self._after_silence = True
        self._normal_since_ms = None
        self._recent.clear()

    def on_usage(self, usage: BandwidthUsage, now_ms: float) -> None:
        if usage is BandwidthUsage.OVERUSING:
            if self.state is ProbeState.RAMPING:
                self.stop()
            self._normal_since_ms = None
            return
        if usage is not BandwidthUsage.NORMAL:
            self._normal_since_ms = None  # under-use breaks a NORMAL streak
        elif self._normal_since_ms is None:
            self._normal_since_ms = now_ms
        calm = self._normal_since_ms is not None and (
            now_ms - self._normal_since_ms >= RECOVERY_WAIT_MS)
        if self.state is ProbeState.WAITING and (self._after_silence or calm):
            self.start(now_ms, self.ceiling_bps)

    def on_estimate(self, estimate_bps: float, now_ms: float) -> None:
        """Track the estimate; a large drop arms a recovery ramp."""
        while self._recent and now_ms - self._recent[0][0] > DROP_WINDOW_MS:
            self._recent.popleft()
        peak_bps = self._recent[0][1] if self._recent else estimate_bps
        if (
            self.config.probe_after_drop
            and self.state is not ProbeState.RAMPING
            and estimate_bps < LARGE_DROP_RATIO * peak_bps
        ):
            self.state = ProbeState.WAITING
            self.ceiling_bps = RECOVERY_TARGET_RATIO * peak_bps
            self._after_silence = False
            self._normal_since_ms = None
            self._recent.clear()
        while self._recent and self._recent[-1][1] <= estimate_bps:
            self._recent.pop()
        self._recent.append((now_ms, estimate_bps))

    def ramp_rate(self, current_bps: float, acked_bps: float | None, now_ms: float) -> float | None:
        """The rate the ramp allows now (> current), or None when not ramping."""
        if self.state is not ProbeState.RAMPING:
            return None
        last_ms = now_ms if self._last_ramp_ms is None else self._last_ramp_ms
        step_ms = min(max(now_ms - last_ms, 0.0), MAX_RAMP_STEP_MS)
        self._last_ramp_ms = now_ms
        rate = current_bps * self.config.ramp_factor_per_s ** (step_ms / 1000.0)
        if acked_bps is not None:
            rate = min(rate, self.config.acked_headroom * acked_bps)
        rate = min(rate, self.ceiling_bps)
        if current_bps >= self.ceiling_bps:
            self.stop()
            return None
        return rate if rate > current_bps else None
