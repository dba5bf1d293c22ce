from ratecontrol.fixed import FixedRateController
from ratecontrol.types import PacketResult, RateBounds


def test_constant_rate_whatever_the_network_says() -> None:
    ctl = FixedRateController(600_000)
    ctl.on_feedback([PacketResult(0, 1200, 0.0, None)] * 50, 10.0)
    ctl.on_remb(1000.0, 10.0)
    ctl.on_timer(5000.0)
    assert ctl.target_bps() == 600_000
    d = ctl.frame_decision(0.0, 1000 / 30)
    assert d.send and d.target_bytes == 2500 and d.max_keyframe_bytes == 9 * 2500
    assert ctl.pacing_bps() == 1_500_000
    assert ctl.name == "fixed:600000"


def test_rate_is_clamped_to_bounds() -> None:
    assert FixedRateController(1e12).target_bps() == 10_000_000
    assert FixedRateController(10.0, RateBounds(min_bps=20_000)).target_bps() == 20_000
