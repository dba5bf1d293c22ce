import pytest

from ratecontrol.overuse_detector import BandwidthUsage
from ratecontrol.probe import ProbeConfig, ProbeController, ProbeState


def test_ramp_doubles_per_second_when_acked_keeps_up() -> None:
    probe = ProbeController()
    probe.start(0.0)
    rate = 300_000.0
    for k in range(1, 21):  # 50 ms steps for 1 s
        new = probe.ramp_rate(rate, rate, k * 50.0)
        assert new is not None
        rate = new
    assert rate == pytest.approx(600_000, rel=1e-6)


def test_ramp_limited_by_acked_rate_and_ceiling() -> None:
    probe = ProbeController(ProbeConfig(acked_headroom=1.5))
    probe.start(0.0, ceiling_bps=1_000_000)
    assert probe.ramp_rate(500_000, 100_000, 200.0) is None  # 1.5 x acked < current
    assert probe.ramp_rate(900_000, 900_000, 400.0) == pytest.approx(1_000_000)
    assert probe.ramp_rate(1_000_000, 1_000_000, 600.0) is None
    assert probe.state is ProbeState.IDLE


def test_overuse_stops_the_ramp() -> None:
    probe = ProbeController()
    probe.start(0.0)
    probe.on_usage(BandwidthUsage.OVERUSING, 100.0)
    assert probe.state is ProbeState.IDLE
    assert probe.ramp_rate(300_000, 300_000, 200.0) is None


def test_large_drop_arms_recovery_ramp_after_normal_for_a_while() -> None:
    probe = ProbeController()
    probe.on_estimate(2_000_000, 0.0)
    probe.on_estimate(1_500_000, 500.0)  # 75 %: not a large drop
    assert probe.state is ProbeState.IDLE
    probe.on_estimate(1_000_000, 1000.0)  # 50 % of the peak in the last 5 s
    assert probe.state is ProbeState.WAITING
    assert probe.ceiling_bps == pytest.approx(0.85 * 2_000_000)
    probe.on_usage(BandwidthUsage.NORMAL, 1100.0)
    probe.on_usage(BandwidthUsage.NORMAL, 1900.0)
    assert probe.state is ProbeState.WAITING
    probe.on_usage(BandwidthUsage.NORMAL, 2200.0)
    assert probe.state is ProbeState.RAMPING


def test_no_probe_after_drop_when_disabled() -> None:
    probe = ProbeController(ProbeConfig(probe_after_drop=False))
    probe.on_estimate(2_000_000, 0.0)
    probe.on_estimate(500_000, 100.0)
    assert probe.state is ProbeState.IDLE


def test_arm_recovery_keeps_the_highest_ceiling_and_ramps_at_the_first_calm_feedback() -> None:
    probe = ProbeController()
    probe.arm_recovery(1_000_000)
    probe.arm_recovery(500_000)  # a second cut of the same episode
    assert probe.state is ProbeState.WAITING and probe.ceiling_bps == 1_000_000
    probe.on_usage(BandwidthUsage.OVERUSING, 0.0)  # the path is back but still queueing
    assert probe.state is ProbeState.WAITING
    # The outage's queue drains: under-use is spare capacity, no need to wait for NORMAL.
    probe.on_usage(BandwidthUsage.UNDERUSING, 100.0)
    assert probe.state is ProbeState.RAMPING


def test_a_recovery_after_a_large_drop_waits_for_a_second_of_normal() -> None:
    probe = ProbeController()
    probe.on_estimate(1_000_000, 0.0)
    probe.on_estimate(500_000, 100.0)  # below 0.66 of the peak
    assert probe.state is ProbeState.WAITING
    probe.on_usage(BandwidthUsage.NORMAL, 200.0)
    probe.on_usage(BandwidthUsage.UNDERUSING, 700.0)  # restarts the wait
    probe.on_usage(BandwidthUsage.NORMAL, 800.0)
    probe.on_usage(BandwidthUsage.NORMAL, 1700.0)
    assert probe.state is ProbeState.WAITING
    probe.on_usage(BandwidthUsage.NORMAL, 1800.0)
    assert probe.state is ProbeState.RAMPING
