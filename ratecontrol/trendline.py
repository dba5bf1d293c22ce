"""Trendline filter: the slope of the smoothed one-way delay growth over recent groups.

Follows libwebrtc's `TrendlineEstimator` (the estimator GCC has used since 2017) rather than the
Kalman filter of draft-ietf-rmcat-gcc-02 §5.3: the draft's filter reacts more slowly to the
step changes a cellular link produces, and the trendline is what Chrome ships. Constants are
libwebrtc's defaults:

* `WINDOW_SIZE = 20` groups in the regression window,
* `SMOOTHING_COEF = 0.9` exponential smoothing of the accumulated delay,
* `THRESHOLD_GAIN = 4.0` applied to the slope before it is compared with the threshold,
* `MIN_NUM_DELTAS = 60`: the slope is scaled by min(deltas seen, 60), so a young estimate is
  trusted less.

The detector (`overuse_detector.py`) receives `modified_trend()`; `slope()` is the raw
least-squares slope (ms of delay growth per ms of time).
"""

from __future__ import annotations

import math
from collections import deque

from ratecontrol.inter_arrival import GroupDelta

WINDOW_SIZE = 20
SMOOTHING_COEF = 0.9
THRESHOLD_GAIN = 4.0
MIN_NUM_DELTAS = 60
DELTA_COUNTER_MAX = 1000


def linear_fit_slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of y over x; None when x does not vary."""
    n = len(points)
    if n < 2:
        return None
    mean_x = sum(p[0] for p in points) / n
    mean_y = sum(p[1] for p in points) / n
    numerator = sum((x - mean_x) * (y - mean_y) for x, y in points)
    denominator = sum((x - mean_x) ** 2 for x, _ in points)
    if denominator == 0:
        return None
    return numerator / denominator


class TrendlineEstimator:
    """Accumulates (arrival delta - send delta) and fits a line to the last `window_size` groups."""

    def __init__(
        self,
        window_size: int = WINDOW_SIZE,
        smoothing_coef: float = SMOOTHING_COEF,
        threshold_gain: float = THRESHOLD_GAIN,
    ) -> None:
        self._window_size = window_size
        self._smoothing = smoothing_coef
        self._gain = threshold_gain
        self.reset()

    def reset(self) -> None:
        self._num_deltas = 0
        self._first_arrival_ms: float | None = None
        self._accumulated_delay_ms = 0.0
        self._smoothed_delay_ms = 0.0
        self._history: deque[tuple[float, float]] = deque(maxlen=self._window_size)
        self._slope = 0.0

    def update(self, delta: GroupDelta) -> float:
        """Add one group delta; return the modified trend for the detector."""
        delay_ms = delta.arrival_delta_ms - delta.send_delta_ms
        if not math.isfinite(delay_ms):
            return self.modified_trend()
        self._num_deltas = min(self._num_deltas + 1, DELTA_COUNTER_MAX)
        if self._first_arrival_ms is None:
            self._first_arrival_ms = delta.arrival_ms
        self._accumulated_delay_ms += delay_ms
        self._smoothed_delay_ms = (
            self._smoothing * self._smoothed_delay_ms
            + (1.0 - self._smoothing) * self._accumulated_delay_ms
        )
        self._history.append((delta.arrival_ms - self._first_arrival_ms, self._smoothed_delay_ms))
        if len(self._history) == self._window_size:
            slope = linear_fit_slope(list(self._history))
            if slope is not None:
                self._slope = slope
        return self.modified_trend()

    def slope(self) -> float:
        return self._slope

    def num_deltas(self) -> int:
        return self._num_deltas

    def modified_trend(self) -> float:
        """Slope x min(deltas, 60) x gain: the quantity GCC compares with its threshold (ms)."""
        if self._num_deltas < 2:
            return 0.0
        return min(self._num_deltas, MIN_NUM_DELTAS) * self._slope * self._gain
