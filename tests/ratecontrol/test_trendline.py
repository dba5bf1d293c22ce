import pytest

from ratecontrol.inter_arrival import GroupDelta
from ratecontrol.trendline import THRESHOLD_GAIN, TrendlineEstimator, linear_fit_slope


def test_linear_fit_slope() -> None:
    assert linear_fit_slope([(0, 1), (1, 3), (2, 5)]) == pytest.approx(2.0)
    assert linear_fit_slope([(1, 1), (1, 2)]) is None
    assert linear_fit_slope([(0, 0)]) is None


def _feed(est: TrendlineEstimator, n: int, growth_ms: float) -> float:
    trend = 0.0
    for i in range(n):
        d = GroupDelta(
            send_delta_ms=10.0,
            arrival_delta_ms=10.0 + growth_ms,
            size_delta_bytes=0,
            arrival_ms=(i + 1) * (10.0 + growth_ms),
            send_ms=(i + 1) * 10.0,
        )
        trend = est.update(d)
    return trend


def test_linearly_growing_delay_gives_its_slope() -> None:
    est = TrendlineEstimator()
    # Each 10 ms of sending, arrivals spread 11 ms: delay grows 1 ms per 11 ms of arrival time.
    trend = _feed(est, 200, 1.0)
    assert est.slope() == pytest.approx(1.0 / 11.0, rel=0.02)
    assert trend == pytest.approx(60 * THRESHOLD_GAIN * est.slope())
    assert est.num_deltas() == 200


def test_constant_delay_gives_zero_slope_and_window_must_fill() -> None:
    est = TrendlineEstimator()
    assert _feed(est, 19, 3.0) == 0.0  # window of 20 not full yet: no slope
    est2 = TrendlineEstimator()
    assert _feed(est2, 100, 0.0) == pytest.approx(0.0)


def test_draining_queue_gives_negative_trend() -> None:
    est = TrendlineEstimator()
    assert _feed(est, 100, -2.0) < 0
