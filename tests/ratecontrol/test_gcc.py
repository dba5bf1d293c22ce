import math
import statistics

import pytest

from experiments.sim.call import SimConfig, simulate
from netem import generate
from ratecontrol.gcc import MAX_KEYFRAME_FRAMES, PACING_FACTOR, GccConfig, GccController
from ratecontrol.types import PacketResult, RateBounds, SentPacket


def _targets(controller: GccController, rate_bps: float, duration_s: float,
             **kw: object) -> list[tuple[float, float]]:
    """(t, target bps) every 100 ms of a simulated call through the real sender transport on a
    constant link (30 ms one way, drop-tail 200 packets)."""
    trace = generate.constant(rate_bps, 60.0)
    config = SimConfig(media_trace=trace, feedback_trace=trace, duration_s=duration_s, **kw)  # type: ignore[arg-type]
    return [(s.t_ms, s.target_bps) for s in simulate(config, controller).samples]


def test_converges_below_a_constant_capacity() -> None:
    targets = _targets(GccController(), 1_000_000, 30)
    late = [bps for t, bps in targets if t > 15_000]
    assert 700_000 <= statistics.fmean(late) <= 1_050_000


def test_start_ramp_is_faster_than_8_percent_per_second() -> None:
    targets = _targets(GccController(), 2_500_000, 10)
    reached = next(t for t, bps in targets if bps >= 0.8 * 2_500_000)
    # 300 kbit/s -> 2 Mbit/s at +8 %/s would take 25 s.
    assert reached < 6_000


def test_without_probing_the_climb_is_aimd_only() -> None:
    config = GccConfig(probe_at_start=False)
    targets = _targets(GccController(config), 2_500_000, 10)
    assert max(bps for _, bps in targets) < 300_000 * 1.09**10


def test_feedback_timeout_halves_the_rate_each_second() -> None:
    gcc = GccController(GccConfig(bounds=RateBounds(start_bps=1_000_000)))
    gcc.on_packet_sent(SentPacket(0, 1200, 0.0))
    gcc.on_feedback([PacketResult(0, 1200, 0.0, 30.0)], 60.0)
    before = gcc.target_bps()
    gcc.on_packet_sent(SentPacket(1, 1200, 100.0))
    gcc.on_timer(900.0)
    assert gcc.target_bps() == before
    gcc.on_timer(1100.0)
    assert gcc.target_bps() == pytest.approx(before / 2)
    gcc.on_timer(1500.0)
    assert gcc.target_bps() == pytest.approx(before / 2)
    gcc.on_timer(2100.0)
    assert gcc.target_bps() == pytest.approx(before / 4)
    for k in range(30):
        gcc.on_timer(3000.0 + 1000.0 * k)
    assert gcc.target_bps() == 50_000


def test_garbage_feedback_never_gives_an_absurd_rate() -> None:
    gcc = GccController()
    bad = [
        PacketResult(1, 1200, math.nan, 10.0),
        PacketResult(2, -5, 0.0, 10.0),
        PacketResult(3, 1200, 0.0, math.inf),
        PacketResult(4, 10**9, 0.0, 1.0),
        PacketResult(5, 1200, 1e12, -1e12),
    ]
    for k in range(50):
        gcc.on_feedback(bad, 100.0 * k)
        gcc.on_feedback([], 100.0 * k + 50)
        gcc.on_timer(100.0 * k)
        rate = gcc.target_bps()
        assert math.isfinite(rate) and 50_000 <= rate <= 10_000_000
    gcc.on_feedback([PacketResult(6, 1200, 0.0, 5.0)], math.nan)
    assert math.isfinite(gcc.target_bps())


def test_frame_decision_pacing_and_remb() -> None:
    gcc = GccController(GccConfig(bounds=RateBounds(start_bps=600_000)))
    decision = gcc.frame_decision(0.0, 1000.0 / 30.0)
    assert decision.send and decision.target_bytes == 2500
    assert decision.max_keyframe_bytes == int(MAX_KEYFRAME_FRAMES * 2500)
    assert gcc.pacing_bps() == pytest.approx(PACING_FACTOR * 600_000)
    gcc.on_remb(1.0, 0.0)  # a libwebrtc receiver sends none with transport-cc; ignored
    assert gcc.target_bps() == 600_000
    assert gcc.frame_decision(0.0, -5.0).target_bytes == 2500  # bad interval: 30 fps assumed


def test_heavy_loss_lowers_the_rate() -> None:
    targets = _targets(GccController(), 2_000_000, 15, loss=0.2, nack=False)  # 20 % loss
    assert targets[-1][1] < 600_000


def test_keyframe_overshoot_is_paid_back_by_smaller_and_dropped_frames() -> None:
    gcc = GccController(GccConfig(bounds=RateBounds(start_bps=600_000)))
    frame_ms = 1000.0 / 30.0
    first = gcc.frame_decision(0.0, frame_ms)
    gcc.on_frame_encoded(9 * first.target_bytes, True, 0.0)  # a keyframe of 9 frame budgets
    decisions = []
    for k in range(1, 30):
        d = gcc.frame_decision(k * frame_ms, frame_ms)
        decisions.append(d)
        if d.send:
            gcc.on_frame_encoded(d.target_bytes, False, k * frame_ms)
    sent = [d.target_bytes for d in decisions if d.send]
    assert any(not d.send for d in decisions[:5])  # the frames right after it are dropped
    # over the second, the keyframe's extra 8 budgets are paid back within a budget or so
    assert sum(sent) + 9 * first.target_bytes == pytest.approx(30 * first.target_bytes, rel=0.05)
    assert decisions[-1].send and decisions[-1].target_bytes >= 0.9 * first.target_bytes


def test_rate_comes_back_quickly_after_feedback_returns() -> None:
    targets = _targets(GccController(), 2_000_000, 30, feedback_blackouts=((10_000, 15_000),))
    during = [bps for t, bps in targets if 14_000 <= t < 15_000]
    after = [bps for t, bps in targets if t >= 22_000]
    assert max(during) < 500_000  # feedback stopped: halved every second
    assert statistics.fmean(after) > 1_000_000  # recovery ramp, not +8 %/s from the floor
