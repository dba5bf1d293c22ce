import itertools
import random

import pytest

from ratecontrol.aiortc_model import (
    AIORTC_MAX_BPS,
    AIORTC_MIN_BPS,
    AIORTC_START_BPS,
    AiortcController,
    KalmanOffsetEstimator,
    RembEstimator,
)
from ratecontrol.inter_arrival import GroupDelta
from ratecontrol.overuse_detector import BandwidthUsage
from ratecontrol.types import PacketResult


def _stream(est: RembEstimator, send_bps: float, link_bps: float, seconds: float):
    """1000-byte packets at `send_bps` through a `link_bps` bottleneck; yields REMBs."""
    gap = 1000 * 8000 / send_bps
    service = 1000 * 8000 / link_bps
    free = 0.0
    t = 0.0
    out = []
    while t < seconds * 1000:
        free = max(free, t) + service
        remb = est.on_packet(t, free + 30.0, 1000)
        if remb is not None:
            out.append((free + 30.0, remb))
        t += gap
    return out


def test_no_remb_before_three_seconds_of_incoming_rate_then_every_half_second() -> None:
    rembs = _stream(RembEstimator(), 500_000, 5_000_000, 8.0)
    assert rembs and rembs[0][0] > 3000.0
    times = [t for t, _ in rembs]
    assert all(b - a > 500.0 for a, b in itertools.pairwise(times))
    # starts at the incoming rate (~500 kbit/s) and grows slowly from there
    assert rembs[0][1] == pytest.approx(500_000, rel=0.1)


def test_overuse_gives_a_prompt_remb_near_85_percent_of_incoming() -> None:
    rembs = _stream(RembEstimator(), 1_000_000, 600_000, 6.0)
    assert rembs and rembs[0][0] < 3000.0  # over-use initialises before the 3 s wait
    assert min(r for _, r in rembs) <= 0.9 * 600_000


def test_kalman_offset_follows_growing_delay() -> None:
    kalman = KalmanOffsetEstimator()
    for i in range(200):
        kalman.update(GroupDelta(10.0, 12.0, 0, 12.0 * i, 10.0 * i), BandwidthUsage.NORMAL)
    assert 0.5 < kalman.offset < 2.5


def test_kalman_matches_the_installed_aiortc_estimator() -> None:
    """Our model is our own code; aiortc's estimator serves as the reference it must match."""
    from aiortc.rate import BandwidthUsage as AiortcUsage
    from aiortc.rate import OveruseEstimator

    reference = OveruseEstimator()
    ours = KalmanOffsetEstimator()
    rng = random.Random(1)
    for i in range(300):
        arrival_delta = 10.0 + rng.uniform(-3.0, 5.0)
        size_delta = rng.randint(-2000, 2000)
        reference.update(arrival_delta, 10.0, size_delta, AiortcUsage.NORMAL, i * 10)
        ours.update(GroupDelta(10.0, arrival_delta, size_delta, 0.0, 0.0), BandwidthUsage.NORMAL)
    assert ours.offset == pytest.approx(reference.offset(), rel=1e-9)
    assert ours.slope == pytest.approx(reference.slope, rel=1e-9)


def test_sender_clamps_remb_and_rebuilds_with_a_keyframe_on_10_percent_change() -> None:
    ctl = AiortcController()
    assert ctl.target_bps() == AIORTC_START_BPS
    assert ctl.pacing_bps() is None
    first = ctl.frame_decision(0.0, 1000 / 30)
    assert first.force_keyframe and first.max_keyframe_bytes == 0
    assert first.target_bytes == int(AIORTC_START_BPS / 30 / 8)
    ctl.on_remb(530_000, 10.0)  # +6 %: no rebuild
    assert not ctl.frame_decision(33.0, 1000 / 30).force_keyframe
    ctl.on_remb(600_000, 20.0)  # +20 % from the codec's 500k: rebuild
    assert ctl.frame_decision(66.0, 1000 / 30).force_keyframe
    assert not ctl.frame_decision(99.0, 1000 / 30).force_keyframe
    ctl.on_remb(50e6, 30.0)
    assert ctl.target_bps() == AIORTC_MAX_BPS
    ctl.on_remb(1.0, 40.0)
    assert ctl.target_bps() == AIORTC_MIN_BPS
    ctl.on_remb(float("nan"), 50.0)
    assert ctl.target_bps() == AIORTC_MIN_BPS
    ctl.on_feedback([PacketResult(0, 1000, 0.0, 10.0)], 60.0)  # no transport-cc in aiortc
    assert ctl.target_bps() == AIORTC_MIN_BPS
