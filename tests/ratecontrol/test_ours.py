import math
import statistics

from experiments.sim.call import ENCODE_MS, SimConfig, SimResult, simulate
from experiments.sim.packetizer import wire_bytes
from experiments.sim.receiver import DECODE_MS
from netem import generate
from netem.trace import Trace
from ratecontrol.gcc import GccController
from ratecontrol.ours import PACING_FACTOR, SOUND_PACING_FACTOR, OursConfig, OursController
from ratecontrol.types import (
    ExplainsRate,
    PacketResult,
    RateBounds,
    RateController,
    SentPacket,
)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.95 * len(ordered))]


def _call(controller: RateController, trace: Trace, duration_s: float) -> SimResult:
    """A simulated call through the real sender transport (30 ms one way, drop-tail 200)."""
    config = SimConfig(media_trace=trace, feedback_trace=trace, duration_s=duration_s)
    return simulate(config, controller)


def _delays_after(result: SimResult, t_ms: float) -> list[float]:
    """Capture to display of every frame captured after `t_ms`; a frame never shown counts
    until the call's end (so skipping is not free)."""
    end_ms = result.config.duration_s * 1000.0
    return [(f.shown_ms if f.shown_ms is not None else end_ms) - f.captured_ms
            for f in result.frames if f.captured_ms >= t_ms and f.sent]


def test_fills_a_constant_link_with_a_short_queue() -> None:
    result = _call(OursController(), generate.constant(1_000_000, 60.0), 30)
    delivered = sum(wire_bytes(f.size_bytes) for f in result.frames if f.shown_ms is not None)
    assert delivered * 8 / 30 >= 0.85 * 1_000_000
    # Beyond what the link itself imposes on each frame (its oracle delay: propagation and the
    # frame's own size at the link rate, sent at capture), only encode and decode time and a
    # standing queue of a packet or two (12 ms each at 1 Mbit/s; the delays come in steps).
    added = [f.delay_ms - f.oracle_delay_ms for f in result.frames if f.captured_ms >= 3_000
             and f.delay_ms is not None and f.oracle_delay_ms is not None]
    assert _p95(added) < ENCODE_MS + DECODE_MS + 3 * 12.0


def test_capacity_drop_is_absorbed_by_skipping_not_queueing() -> None:
    trace = generate.steps([(15.0, 2_000_000), (45.0, 500_000)])
    ours = _call(OursController(), trace, 25)
    gcc = _call(GccController(), trace, 25)
    assert max(_delays_after(ours, 15_000)) < max(_delays_after(gcc, 15_000))
    assert _p95(_delays_after(ours, 15_000)) < 250
    assert any(not f.sent for f in ours.frames)


def test_target_never_exceeds_the_measured_link_rate() -> None:
    ours = OursController()
    result = _call(ours, generate.constant(800_000, 60.0), 15)
    capacity = ours.coupler.capacity_bps()
    assert capacity is not None
    assert ours.target_bps() <= capacity + 1
    assert statistics.fmean(s.target_bps for s in result.samples if s.t_ms > 5000) <= (
        1.05 * 800_000)


def test_pacing_follows_the_larger_of_rate_and_link_rate() -> None:
    ours = OursController(OursConfig(bounds=RateBounds(start_bps=400_000)))
    assert ours.pacing_bps() == PACING_FACTOR * 400_000 == 2.5 * 400_000
    assert ours.name == "ours"


def test_pacing_leaves_the_bottleneck_queue_short_while_the_call_carries_sound() -> None:
    ours = OursController(OursConfig(bounds=RateBounds(start_bps=400_000)))
    ours.on_packet_sent(SentPacket(0, 1200, 0.0))
    assert ours.pacing_bps() == PACING_FACTOR * 400_000
    ours.on_packet_sent(SentPacket(1, 120, 10.0, is_audio=True))
    ours.on_packet_sent(SentPacket(2, 1200, 900.0))
    assert ours.pacing_bps() == SOUND_PACING_FACTOR * 400_000
    ours.on_packet_sent(SentPacket(3, 1200, 1011.0))  # no sound for over a second
    assert ours.pacing_bps() == PACING_FACTOR * 400_000


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


def _silence(arrival_delay_ms: float) -> tuple[float, float]:
    """1 Mbit/s, then 2.5 s without feedback while a packet goes out every 100 ms; then one
    feedback on all of them, each arrived `arrival_delay_ms` after it was sent. Returns GCC's
    rate before the silence and after that feedback."""
    ours = OursController(OursConfig(bounds=RateBounds(start_bps=1_000_000)))
    ours.on_packet_sent(SentPacket(0, 1200, 0.0))
    ours.on_feedback([PacketResult(0, 1200, 0.0, 30.0)], 60.0)
    before = ours.gcc.target_bps()
    results = []
    for k in range(1, 26):
        t = 100.0 * k
        ours.on_packet_sent(SentPacket(k, 1200, t))
        ours.on_timer(t)
        results.append(PacketResult(k, 1200, t, t + arrival_delay_ms))
    assert ours.gcc.target_bps() <= before / 4  # GCC's timeout cut it twice
    ours.on_feedback(results, 2600.0)
    return before, ours.gcc.target_bps()


def test_a_silence_of_the_feedback_alone_gives_the_rate_back() -> None:
    # ATT-LTE-driving's uplink falls silent for seconds while its downlink carries the video:
    # the feedback that follows shows every packet arrived on time, so the cuts were needless
    before, after = _silence(arrival_delay_ms=30.0)
    assert after == before


def test_a_media_outage_keeps_the_cut_rate() -> None:
    before, after = _silence(arrival_delay_ms=2000.0)  # what was sent waited behind it
    assert after <= before / 4


def test_ours_says_what_its_rate_comes_from() -> None:
    """The sender's rate log carries this (peer/call.py): which part of GCC sets the rate, the
    adaptive share and the link rate, so a real call's branch can be told from a simulation's."""
    controller = OursController()
    assert isinstance(controller, ExplainsRate)
    state = controller.state()
    assert state["usage"] == "normal" and state["probe"] in {"idle", "waiting", "ramping"}
    assert state["delay_kbps"] == state["loss_kbps"] == 300.0  # the start rate, both parts
    assert state["share"] == 1.0 and state["link_kbps"] is None  # nothing measured yet
