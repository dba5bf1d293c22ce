"""Over-use detector with an adaptive threshold (draft-ietf-rmcat-gcc-02 §5.4-5.5).

The constants are the draft's and libwebrtc's (they agree):

* initial threshold `INITIAL_THRESHOLD_MS = 12.5`, kept within [6, 600] ms;
* the threshold follows |m| with gain `K_UP = 0.0087` when |m| exceeds it and
  `K_DOWN = 0.039` when below, per ms of time, at most `MAX_TIME_DELTA_MS = 100` per update;
  samples more than `MAX_ADAPT_OFFSET_MS = 15` above the threshold do not move it (so a
  sudden spike cannot raise it and hide real congestion);
* over-use is signalled only after m has stayed above the threshold for
  `OVERUSE_TIME_THRESHOLD_MS = 10` ms, in at least two consecutive samples, and m is not
  falling (libwebrtc's refinement: a draining queue is not over-use).

Input is the modified trend from `trendline.py` (or the Kalman offset for the aiortc model) and
the send-time delta of the group, plus the group's arrival time as "now".
"""

from __future__ import annotations

import math
from enum import Enum

INITIAL_THRESHOLD_MS = 12.5
MIN_THRESHOLD_MS = 6.0
MAX_THRESHOLD_MS = 600.0
K_UP = 0.0087
K_DOWN = 0.039
MAX_ADAPT_OFFSET_MS = 15.0
MAX_TIME_DELTA_MS = 100.0
OVERUSE_TIME_THRESHOLD_MS = 10.0


class BandwidthUsage(Enum):
    NORMAL = "normal"
    UNDERUSING = "underusing"
    OVERUSING = "overusing"


class OveruseDetector:
    """Turns the modified trend into NORMAL / OVERUSING / UNDERUSING."""

    def __init__(self, initial_threshold_ms: float = INITIAL_THRESHOLD_MS) -> None:
        self.threshold_ms = initial_threshold_ms
        self.state = BandwidthUsage.NORMAL
        self._last_update_ms: float | None = None
        self._time_over_using_ms: float | None = None
        self._overuse_count = 0
        self._previous_trend = 0.0

    def detect(self, modified_trend: float, send_delta_ms: float, now_ms: float) -> BandwidthUsage:
        """One sample: `modified_trend` in ms, `send_delta_ms` between the two groups."""
        if not math.isfinite(modified_trend):
            return self.state
        if modified_trend > self.threshold_ms:
            if self._time_over_using_ms is None:
                self._time_over_using_ms = send_delta_ms / 2.0
            else:
                self._time_over_using_ms += send_delta_ms
            self._overuse_count += 1
            if (
                self._time_over_using_ms > OVERUSE_TIME_THRESHOLD_MS
                and self._overuse_count > 1
                and modified_trend >= self._previous_trend
            ):
                self._time_over_using_ms = 0.0
                self._overuse_count = 0
                self.state = BandwidthUsage.OVERUSING
        elif modified_trend < -self.threshold_ms:
            self._time_over_using_ms = None
            self._overuse_count = 0
            self.state = BandwidthUsage.UNDERUSING
        else:
            self._time_over_using_ms = None
            self._overuse_count = 0
            self.state = BandwidthUsage.NORMAL
        self._previous_trend = modified_trend
        self._update_threshold(modified_trend, now_ms)
        return self.state

    def _update_threshold(self, modified_trend: float, now_ms: float) -> None:
        if self._last_update_ms is None:
            self._last_update_ms = now_ms
        magnitude = abs(modified_trend)
        if magnitude > self.threshold_ms + MAX_ADAPT_OFFSET_MS:
            self._last_update_ms = now_ms
            return
        k = K_DOWN if magnitude < self.threshold_ms else K_UP
        time_delta_ms = min(max(now_ms - self._last_update_ms, 0.0), MAX_TIME_DELTA_MS)
        self.threshold_ms += k * (magnitude - self.threshold_ms) * time_delta_ms
        self.threshold_ms = min(max(self.threshold_ms, MIN_THRESHOLD_MS), MAX_THRESHOLD_MS)
        self._last_update_ms = now_ms
