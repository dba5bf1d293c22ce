import pytest

from ratecontrol.loss_based import LossBasedConfig, LossBasedControl
from ratecontrol.types import PacketResult


def _results(n: int, lost: int) -> list[PacketResult]:
    return [PacketResult(i, 1200, float(i), None if i < lost else float(i) + 50) for i in range(n)]


def _congested(start_bps: float = 1_000_000) -> LossBasedControl:
    ctl = LossBasedControl(LossBasedConfig(start_bps=start_bps))
    ctl.note_overuse(0.0)
    return ctl


def test_5_percent_loss_holds() -> None:
    ctl = _congested()
    for k in range(3):
        assert ctl.on_feedback(_results(100, 5), k * 1000.0, 100.0) == 1_000_000
    assert ctl.loss_fraction == pytest.approx(0.05)


def test_15_percent_loss_decreases_by_half_the_loss() -> None:
    ctl = _congested()
    assert ctl.on_feedback(_results(100, 15), 0.0, 100.0) == pytest.approx(925_000)
    # Loss is aggregated over a second: nothing new at 200 ms, the next cut at 1 s.
    assert ctl.on_feedback(_results(100, 15), 200.0, 100.0) == pytest.approx(925_000)
    assert ctl.on_feedback(_results(100, 15), 1000.0, 100.0) == pytest.approx(925_000 * 0.925)


def test_decrease_waits_rtt_plus_300_ms() -> None:
    ctl = _congested()
    ctl.on_feedback(_results(100, 15), 0.0, 2000.0)
    ctl.note_overuse(1500.0)
    assert ctl.on_feedback(_results(100, 15), 1500.0, 2000.0) == pytest.approx(925_000)
    assert ctl.on_feedback(_results(100, 15), 2500.0, 2000.0) == pytest.approx(925_000 * 0.925)


def test_high_loss_without_a_queue_is_path_loss_and_holds() -> None:
    ctl = LossBasedControl(LossBasedConfig(start_bps=1_000_000))
    for k in range(5):
        assert ctl.on_feedback(_results(100, 15), k * 1000.0, 100.0) == 1_000_000
    classic_config = LossBasedConfig(start_bps=1_000_000, decrease_needs_congestion=False)
    classic = LossBasedControl(classic_config)
    assert classic.on_feedback(_results(100, 15), 0.0, 100.0) == pytest.approx(925_000)
    ctl.note_overuse(5000.0)
    assert ctl.on_feedback(_results(100, 15), 6000.0, 100.0) == pytest.approx(925_000)
    # over-use older than 3 s no longer makes the loss congestion loss
    assert ctl.on_feedback(_results(100, 15), 9500.0, 100.0) == pytest.approx(925_000)


def test_low_loss_increases_5_percent_per_second() -> None:
    ctl = LossBasedControl(LossBasedConfig(start_bps=1_000_000))
    rate = 0.0
    for k in range(51):  # feedback every 50 ms for 2.5 s: updates at 0, 1 and 2 s
        rate = ctl.on_feedback(_results(20, 0), k * 50.0, 100.0)
    assert rate == pytest.approx(1_000_000 * 1.05**3)


def test_needs_20_packets_and_respects_cap_follow_and_bounds() -> None:
    ctl = _congested()
    assert ctl.on_feedback(_results(10, 10), 0.0, 100.0) == 1_000_000  # too few yet
    ctl.cap(400_000, 10.0)
    assert ctl.bitrate_bps() == 400_000
    ctl.follow(800_000)
    assert ctl.bitrate_bps() == 800_000
    for k in range(50):
        ctl.note_overuse(1000.0 * k)
        ctl.on_feedback(_results(20, 20), 1000.0 * k, 100.0)
    assert ctl.bitrate_bps() == 50_000
    ctl.follow(900_000)  # not while loss is high
    assert ctl.bitrate_bps() == 50_000
