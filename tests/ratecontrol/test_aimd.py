import math

import pytest

from ratecontrol.aimd import AimdConfig, AimdRateControl, RateControlState
from ratecontrol.overuse_detector import BandwidthUsage

NORMAL = BandwidthUsage.NORMAL
OVER = BandwidthUsage.OVERUSING
UNDER = BandwidthUsage.UNDERUSING


def test_decrease_to_beta_times_acked() -> None:
    aimd = AimdRateControl(AimdConfig(start_bps=1_000_000))
    assert aimd.update(OVER, 800_000, 0.0) == pytest.approx(0.85 * 800_000)
    assert aimd.state is RateControlState.HOLD


def test_decrease_never_goes_up() -> None:
    aimd = AimdRateControl(AimdConfig(start_bps=500_000))
    assert aimd.update(OVER, 900_000, 0.0) == 500_000


def test_multiplicative_increase_8_percent_per_second() -> None:
    aimd = AimdRateControl(AimdConfig(start_bps=1_000_000))
    # HOLD -> INCREASE, with libwebrtc's minimum step of 1 kbit/s.
    assert aimd.update(NORMAL, 1_000_000, 0.0) == 1_001_000
    rate = aimd.update(NORMAL, 1_000_000, 1000.0)
    assert rate == pytest.approx(1_001_000 * 1.08, rel=1e-6)


def test_increase_bounded_by_acked_rate() -> None:
    aimd = AimdRateControl(AimdConfig(start_bps=1_000_000))
    aimd.update(NORMAL, 100_000, 0.0)
    for t in range(1, 20):
        rate = aimd.update(NORMAL, 100_000, t * 1000.0)
    assert rate == 1_000_000  # already above 1.5 x acked + 10k: no increase


def test_additive_increase_near_capacity() -> None:
    aimd = AimdRateControl(AimdConfig(start_bps=1_000_000))
    aimd.rtt_ms = 100.0
    aimd.update(OVER, 1_000_000, 0.0)  # capacity estimate now 1 Mbit/s, rate 850k
    aimd.update(NORMAL, 850_000, 100.0)  # HOLD -> INCREASE
    before = aimd.bitrate_bps()
    after = aimd.update(NORMAL, 850_000, 1100.0)
    # one packet per (rtt + 100 ms): 850k/30 fps = 3542 bytes -> 3 packets of 1181 bytes.
    frame_bytes = before / 30 / 8
    packet_bits = 8 * frame_bytes / math.ceil(frame_bytes / 1200)
    assert after - before == pytest.approx(packet_bits * 1000 / 200, rel=1e-6)


def test_underuse_holds() -> None:
    aimd = AimdRateControl(AimdConfig(start_bps=1_000_000))
    aimd.update(UNDER, 1_000_000, 0.0)
    assert aimd.update(UNDER, 1_000_000, 1000.0) == 1_000_000


def test_bounds_and_bad_input() -> None:
    aimd = AimdRateControl(AimdConfig(start_bps=60_000, min_bps=50_000, max_bps=2_000_000))
    assert aimd.update(OVER, 1_000.0, 0.0) == 50_000
    assert aimd.update(NORMAL, float("nan"), 10.0) == 50_000
    aimd.set_estimate(float("inf"), 20.0)
    assert math.isfinite(aimd.bitrate_bps())
    aimd.set_estimate(1e12, 30.0)
    assert aimd.bitrate_bps() == 2_000_000


def test_time_to_reduce_further() -> None:
    aimd = AimdRateControl(AimdConfig(start_bps=1_000_000))
    aimd.rtt_ms = 100.0
    aimd.update(OVER, 1_000_000, 0.0)
    assert not aimd.time_to_reduce_further(50.0, 800_000)
    assert aimd.time_to_reduce_further(100.0, 800_000)
    assert aimd.time_to_reduce_further(50.0, 100_000)  # acked below half the target
