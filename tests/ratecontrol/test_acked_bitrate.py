import pytest

from ratecontrol.acked_bitrate import AckedBitrateConfig, AckedBitrateEstimator
from ratecontrol.types import PacketResult


def _feed(
    est: AckedBitrateEstimator,
    start_ms: float,
    end_ms: float,
    rate_bps: float,
    packet_bytes: int = 1000,
    lost_every: int = 0,
) -> list[float | None]:
    """Packets at `rate_bps`, reported in 50 ms feedbacks; the estimate after each feedback."""
    interval_ms = packet_bytes * 8 / rate_bps * 1000.0
    t, seq, batch, history = start_ms, 0, [], []
    next_feedback = start_ms + 50.0
    while t < end_ms:
        lost = lost_every and seq % lost_every == 0
        batch.append(PacketResult(seq, packet_bytes, t - 30.0, None if lost else t))
        seq += 1
        t += interval_ms
        if t >= next_feedback:
            est.update(batch, t)
            history.append(est.bitrate_bps())
            batch, next_feedback = [], next_feedback + 50.0
    return history


def test_none_until_the_first_500_ms_window_then_the_rate() -> None:
    est = AckedBitrateEstimator()
    history = _feed(est, 0.0, 560.0, 800_000.0)  # feedbacks every 50 ms of packets
    assert all(h is None for h in history[:-1])
    assert history[-1] == pytest.approx(800_000.0)


def test_follows_a_rate_drop_then_rise() -> None:
    est = AckedBitrateEstimator()
    _feed(est, 0.0, 2000.0, 1_000_000.0)
    assert est.bitrate_bps() == pytest.approx(1_000_000.0, rel=0.02)
    down = _feed(est, 2000.0, 5000.0, 400_000.0)
    assert down[2] is not None and down[2] > 450_000.0  # not at once
    assert est.bitrate_bps() == pytest.approx(400_000.0, rel=0.05)
    _feed(est, 5000.0, 8000.0, 1_500_000.0)
    assert est.bitrate_bps() == pytest.approx(1_500_000.0, rel=0.05)


def test_lost_packets_do_not_count() -> None:
    est = AckedBitrateEstimator()
    # Small packets, so that a 150 ms window's count is not quantized coarsely.
    _feed(est, 0.0, 3000.0, 1_000_000.0, packet_bytes=250, lost_every=4)
    assert est.bitrate_bps() == pytest.approx(750_000.0, rel=0.03)


def test_one_outlier_window_moves_the_estimate_little() -> None:
    est = AckedBitrateEstimator()
    _feed(est, 0.0, 3000.0, 500_000.0)
    before = est.bitrate_bps()
    assert before is not None
    # One 150 ms window carrying twice the bytes, then back to normal.
    burst = [PacketResult(i, 2000, 2990.0, 3000.0 + i * 16.0) for i in range(10)]
    est.update(burst, 3200.0)
    est.update([PacketResult(99, 1000, 3140.0, 3160.0)], 3200.0)
    after = est.bitrate_bps()
    assert after is not None and before < after < before * 1.25


def test_alr_slows_a_drop_and_fast_change_speeds_it() -> None:
    def drop_after(setup: str) -> float:
        est = AckedBitrateEstimator()
        _feed(est, 0.0, 3000.0, 1_000_000.0)
        if setup == "alr":
            est.set_alr(True)
        elif setup == "fast":
            est.expect_fast_rate_change()
        _feed(est, 3000.0, 3400.0, 300_000.0)
        value = est.bitrate_bps()
        assert value is not None
        return value

    normal, alr, fast = drop_after("normal"), drop_after("alr"), drop_after("fast")
    assert fast < normal < alr


def test_silence_and_time_going_backwards_do_not_break_it() -> None:
    est = AckedBitrateEstimator()
    _feed(est, 0.0, 2000.0, 800_000.0)
    _feed(est, 5000.0, 7000.0, 800_000.0)  # 3 s of silence in between
    assert est.bitrate_bps() == pytest.approx(800_000.0, rel=0.05)
    _feed(est, 0.0, 1000.0, 800_000.0)  # receive clock restarted
    assert est.bitrate_bps() == pytest.approx(800_000.0, rel=0.05)


def test_on_feedback_is_update_and_config_is_checked() -> None:
    a, b = AckedBitrateEstimator(), AckedBitrateEstimator()
    results = [PacketResult(i, 1200, i * 5.0, i * 5.0 + 20.0) for i in range(200)]
    a.update(results, 1000.0)
    b.on_feedback(results, 1000.0)
    assert a.bitrate_bps() == b.bitrate_bps(1000.0) is not None
    with pytest.raises(ValueError, match="window_ms"):
        AckedBitrateConfig(window_ms=0.0)
