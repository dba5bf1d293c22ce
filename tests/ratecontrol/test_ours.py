import math
import statistics

from ratecontrol.gcc import GccController
from ratecontrol.ours import OursConfig, OursController
from ratecontrol.types import PacketResult, RateBounds, SentPacket
from tests.ratecontrol.closed_loop import run_loop


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.95 * len(ordered))]


def test_fills_a_constant_link_with_a_short_queue() -> None:
    result = run_loop(OursController(), 1_000_000, 30_000)
    assert result.bytes_delivered * 8 / 30 >= 0.85 * 1_000_000
    # 30 ms propagation + a frame's own 33 ms at the link rate + a small standing queue
    assert _p95(result.frame_delays_ms[100:]) < 30 + 33 + 30


def test_capacity_drop_is_absorbed_by_skipping_not_queueing() -> None:
    def capacity(t_ms: float) -> float:
        return 2_000_000 if t_ms < 15_000 else 500_000

    ours = run_loop(OursController(), capacity, 25_000)
    gcc = run_loop(GccController(), capacity, 25_000)
    after = slice(int(15_000 / 33.4), None)
    assert max(ours.frame_delays_ms[after]) < max(gcc.frame_delays_ms[after])
    assert _p95(ours.frame_delays_ms[after]) < 250
    assert ours.frames_skipped > 0


def test_target_never_exceeds_the_measured_link_rate() -> None:
    ours = OursController()
    result = run_loop(ours, 800_000, 15_000)
    capacity = ours.coupler.capacity_bps()
    assert capacity is not None
    assert ours.target_bps() <= capacity + 1
    assert statistics.fmean(b for t, b in result.targets if t > 5000) <= 1.05 * 800_000


def test_pacing_follows_the_larger_of_rate_and_link_rate() -> None:
    ours = OursController(OursConfig(bounds=RateBounds(start_bps=400_000)))
    assert ours.pacing_bps() == 2.5 * 400_000
    assert ours.name == "ours"


def test_bad_feedback_keeps_everything_finite() -> None:
    ours = OursController()
    for k in range(100):
        t = 33.3 * k
        ours.on_packet_sent(SentPacket(k, 1200, t))
        ours.on_feedback([PacketResult(k, 1200, t, math.nan if k % 3 else -1e9)], t + 5)
        ours.on_timer(t)
        d = ours.frame_decision(t, 33.3)
        assert d.target_bytes >= 0 and d.max_keyframe_bytes >= 0
        assert 50_000 <= ours.target_bps() <= 10_000_000
        pacing = ours.pacing_bps()
        assert pacing is not None and math.isfinite(pacing)
