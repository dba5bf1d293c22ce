import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ratecontrol.aiortc_model import AiortcController
from ratecontrol.controllers import CONTROLLER_NAMES, make_controller, parse_bps
from ratecontrol.fixed import FixedRateController
from ratecontrol.gcc import GccController
from ratecontrol.ours import OursController
from ratecontrol.types import PacketResult, RateBounds, SentPacket


def test_names_make_the_right_controllers() -> None:
    assert isinstance(make_controller(), OursController)
    assert isinstance(make_controller("ours"), OursController)
    assert isinstance(make_controller("gcc"), GccController)
    assert isinstance(make_controller("aiortc"), AiortcController)
    fixed = make_controller("fixed:1.5M")
    assert isinstance(fixed, FixedRateController) and fixed.target_bps() == 1_500_000
    assert set(CONTROLLER_NAMES) == {"ours", "gcc", "aiortc", "fixed:BPS"}
    for name in ("ours", "gcc", "aiortc", "fixed:500k"):
        assert make_controller(name).name.split(":")[0] == name.split(":")[0]


@pytest.mark.parametrize(
    ("text", "bps"), [("500000", 500_000), ("500k", 500_000), ("1.5M", 1_500_000), ("2m", 2e6)]
)
def test_parse_bps(text: str, bps: float) -> None:
    assert parse_bps(text) == bps


@pytest.mark.parametrize("text", ["", "abc", "-5", "0", "nan", "inf", "1.5G"])
def test_bad_rates_are_one_line_errors(text: str) -> None:
    with pytest.raises(ValueError, match="fixed:500k") as info:
        parse_bps(text)
    assert "\n" not in str(info.value)


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError) as info:
        make_controller("bbr")
    message = str(info.value)
    assert "\n" not in message
    for name in CONTROLLER_NAMES:
        assert name in message


def test_bounds_reach_every_controller() -> None:
    bounds = RateBounds(min_bps=100_000, max_bps=800_000, start_bps=700_000)
    assert make_controller("gcc", bounds).target_bps() == 700_000
    assert make_controller("ours", bounds).target_bps() == 700_000
    assert make_controller("fixed:5M", bounds).target_bps() == 800_000
    with pytest.raises(ValueError):
        RateBounds(min_bps=2.0, max_bps=1.0)
    with pytest.raises(ValueError):
        RateBounds(start_bps=float("nan"))


_floats = st.floats(allow_nan=True, allow_infinity=True, width=32)
_results = st.lists(
    st.builds(
        PacketResult,
        transport_seq=st.integers(-5, 10**6),
        size_bytes=st.integers(-10, 10**6),
        sent_ms=_floats,
        arrived_ms=st.one_of(st.none(), _floats),
    ),
    max_size=30,
)


@pytest.mark.parametrize("name", ["ours", "gcc", "aiortc", "fixed:1M"])
@settings(max_examples=40, deadline=None)
# Found by this test: an infinite arrival time made ours' queue NaN, and its keyframe cap with it.
@example(events=[(0, [PacketResult(0, 0, 0.0, math.inf)], 0.0, 0), (4, [], 301.0, 0)])
@given(
    events=st.lists(
        st.tuples(st.integers(0, 5), _results, _floats, st.integers(-10, 10**6)), max_size=40
    )
)
def test_no_input_breaks_a_controller(name: str, events: list) -> None:
    ctl = make_controller(name)
    for kind, results, now, size in events:
        if kind == 0:
            ctl.on_feedback(results, now)
        elif kind == 1:
            ctl.on_packet_sent(SentPacket(size, size, now))
        elif kind == 2:
            ctl.on_timer(now)
        elif kind == 3:
            ctl.on_remb(now, now)
        elif kind == 4:
            d = ctl.frame_decision(now, now)
            assert d.target_bytes >= 0 and d.max_keyframe_bytes >= 0
        else:
            ctl.on_frame_encoded(size, size % 2 == 0, now)
        rate = ctl.target_bps()
        assert math.isfinite(rate) and 50_000 <= rate <= 10_000_000
        pacing = ctl.pacing_bps()
        assert pacing is None or (math.isfinite(pacing) and pacing > 0)
