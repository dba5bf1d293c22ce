import pytest

from ratecontrol.overuse_detector import (
    INITIAL_THRESHOLD_MS,
    K_DOWN,
    K_UP,
    BandwidthUsage,
    OveruseDetector,
)


def test_overuse_time_threshold_exact() -> None:
    det = OveruseDetector()
    assert det.detect(20.0, 5.0, 0.0) is BandwidthUsage.NORMAL  # 2.5 ms over
    assert det.detect(21.0, 5.0, 1.0) is BandwidthUsage.NORMAL  # 7.5 ms over
    assert det.detect(22.0, 5.0, 2.0) is BandwidthUsage.OVERUSING  # 12.5 ms > 10 ms


def test_falling_trend_is_not_overuse() -> None:
    det = OveruseDetector()
    det.detect(30.0, 5.0, 0.0)
    det.detect(29.0, 5.0, 1.0)
    assert det.detect(28.0, 5.0, 2.0) is BandwidthUsage.NORMAL


def test_underuse_and_normal() -> None:
    det = OveruseDetector()
    assert det.detect(-20.0, 5.0, 0.0) is BandwidthUsage.UNDERUSING
    assert det.detect(1.0, 5.0, 1.0) is BandwidthUsage.NORMAL


def test_threshold_adapts_with_k_up_and_k_down() -> None:
    det = OveruseDetector()
    det.detect(0.0, 5.0, 0.0)  # first update: no time elapsed
    assert det.threshold_ms == INITIAL_THRESHOLD_MS
    det.detect(0.0, 5.0, 10.0)  # below: shrink with k_down over 10 ms
    expected = INITIAL_THRESHOLD_MS + K_DOWN * (0.0 - INITIAL_THRESHOLD_MS) * 10.0
    assert det.threshold_ms == pytest.approx(max(expected, 6.0))
    det2 = OveruseDetector()
    det2.detect(14.0, 5.0, 0.0)
    det2.detect(14.0, 5.0, 10.0)  # above: grow with k_up
    assert det2.threshold_ms == pytest.approx(12.5 + K_UP * (14.0 - 12.5) * 10.0)
    det3 = OveruseDetector()
    det3.detect(100.0, 5.0, 0.0)
    det3.detect(100.0, 5.0, 50.0)  # spike far above: threshold unchanged
    assert det3.threshold_ms == INITIAL_THRESHOLD_MS


def test_non_finite_input_is_ignored() -> None:
    det = OveruseDetector()
    assert det.detect(float("nan"), 5.0, 0.0) is BandwidthUsage.NORMAL
    assert det.threshold_ms == INITIAL_THRESHOLD_MS
