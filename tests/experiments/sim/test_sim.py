"""Whole calls in virtual time with a stand-in controller (the real ones: test_scenarios)."""

from __future__ import annotations

import pytest

from experiments.sim.call import DelayChange, SimConfig, simulate, trace_directions
from experiments.sim.packetizer import PACKET_OVERHEAD_BYTES
from netem import generate
from netem.traces import traces_dir
from ratecontrol.types import FrameDecision, PacketResult, SentPacket

FPS = 30.0


class StandIn:
    """A fixed-rate controller that remembers what the call told it."""

    def __init__(self, bps: float, paced: bool = True, name: str = "stand-in") -> None:
        self.name = name
        self.bps = bps
        self.paced = paced
        self.sent: list[SentPacket] = []
        self.results: list[PacketResult] = []
        self.feedback_times: list[float] = []
        self.rembs: list[float] = []
        self.encoded: list[tuple[int, bool]] = []

    def on_packet_sent(self, packet: SentPacket) -> None:
        self.sent.append(packet)

    def on_feedback(self, results: list[PacketResult], now_ms: float) -> None:
        self.results.extend(results)
        self.feedback_times.append(now_ms)

    def on_remb(self, bitrate_bps: float, now_ms: float) -> None:
        self.rembs.append(bitrate_bps)

    def on_timer(self, now_ms: float) -> None:
        pass

    def target_bps(self) -> float:
        return self.bps

    def pacing_bps(self) -> float | None:
        return 2.5 * self.bps if self.paced else None

    def frame_decision(self, now_ms: float, frame_interval_ms: float) -> FrameDecision:
        budget = int(self.bps * frame_interval_ms / 8000)
        return FrameDecision(send=True, target_bytes=budget, max_keyframe_bytes=0)

    def on_frame_encoded(self, size_bytes: int, keyframe: bool, now_ms: float) -> None:
        self.encoded.append((size_bytes, keyframe))


def _config(rate_bps: float, duration_s: float = 10.0, **kw: object) -> SimConfig:
    trace = generate.constant(rate_bps, 60.0)
    return SimConfig(media_trace=trace, feedback_trace=trace, duration_s=duration_s, **kw)  # type: ignore[arg-type]


def test_under_capacity_every_frame_shown_near_oracle() -> None:
    ctrl = StandIn(400_000)
    result = simulate(_config(1_000_000), ctrl)
    s = result.summary
    assert s.frames_sent == 300
    assert s.frames_shown == 300
    assert s.keyframes == 1
    assert s.stall_ms_total == 0.0
    assert s.capacity_kbps == pytest.approx(1_000, rel=0.01)
    assert s.goodput_kbps is not None and s.delay_ms_p50 is not None
    assert s.delay_ms_p95 is not None and s.oracle_delay_ms_p95 is not None
    # ~400 kbit/s of payload were shown (the keyframe's extra included).
    assert 380 < s.goodput_kbps < 480
    # Pacing at 1 Mbit/s on a 1 Mbit/s link adds little: within 40 ms of the oracle at p95.
    assert s.delay_ms_p95 <= s.oracle_delay_ms_p95 + 40
    # 30 ms propagation + encode 5 + decode 3 + serialisation: at least 38 ms, under 100.
    assert 38 <= s.delay_ms_p50 < 100
    assert all(
        f.shown_ms is None or f.shown_ms - f.captured_ms >= f.oracle_delay_ms - 1e-6
        for f in result.frames
        if f.oracle_delay_ms is not None
    )
    # 400 kbit/s at 640x480, 30 fps: ~0.043 bpp, ~16.2 dB on the test pattern's points.
    assert s.ssim_db_mean is not None and 8 < s.ssim_db_mean < 17


def test_feedback_crosses_the_wire_for_every_packet() -> None:
    ctrl = StandIn(300_000)
    result = simulate(_config(2_000_000, duration_s=5.0), ctrl)
    seqs = [p.transport_seq for p in ctrl.sent]
    assert seqs == list(range(len(seqs)))
    assert result.packets_sent == len(seqs)
    reported = {r.transport_seq for r in ctrl.results}
    # All but the packets of the last feedback interval are acknowledged, none lost.
    assert len(reported) >= len(seqs) - 30
    assert not any(r.lost for r in ctrl.results)
    # Feedback every 50 ms, each after a one-way trip of >= 30 ms.
    gaps = [b - a for a, b in zip(ctrl.feedback_times, ctrl.feedback_times[1:], strict=False)]
    assert 40 <= sorted(gaps)[len(gaps) // 2] <= 60
    # Arrival times from the wire: one-way delay (receiver clock) ~ 30 ms + serialisation,
    # quantised to 250 µs ticks.
    one_way = [r.arrived_ms - r.sent_ms for r in ctrl.results if r.arrived_ms is not None]
    assert min(one_way) >= 30 and max(one_way) < 60
    assert all(p.size_bytes > PACKET_OVERHEAD_BYTES for p in ctrl.sent)


def test_overload_queues_drops_and_recovers_with_keyframes() -> None:
    ctrl = StandIn(1_500_000, paced=False)
    result = simulate(_config(1_000_000, duration_s=8.0, queue_packets=50), ctrl)
    s = result.summary
    assert result.packets_lost > 0
    assert result.plis > 0
    assert s.keyframes is not None and s.keyframes > 1
    assert s.frames_shown is not None and s.frames_sent is not None
    assert s.frames_shown < s.frames_sent
    assert s.delay_ms_p95 is not None and s.oracle_delay_ms_p95 is not None
    assert any(r.lost for r in ctrl.results)
    assert s.delay_ms_p95 > s.oracle_delay_ms_p95 + 100
    # Lost packets are NACKed, but behind a 480 ms queue every NACK comes later than the 300 ms
    # a resend is worth sending (ratecontrol.retransmit_policy): refused, counted, no storm.
    assert result.retransmissions <= result.packets_lost
    assert result.sender.retransmissions_refused > 0
    assert result.sender.feedback_refused == 0  # the model receiver never lies


def test_random_loss_without_nack_breaks_chain_until_keyframe() -> None:
    ctrl = StandIn(500_000)
    result = simulate(_config(2_000_000, duration_s=6.0, loss=0.02, nack=False), ctrl)
    assert [r for r in ctrl.results if r.lost]
    assert result.retransmissions == 0
    assert result.plis >= 1
    s = result.summary
    assert s.keyframes is not None and s.keyframes >= 2
    assert s.frames_shown is not None and s.frames_sent is not None
    assert s.frames_shown < s.frames_sent


def test_random_loss_with_nack_is_repaired_a_round_trip_later() -> None:
    ctrl = StandIn(500_000)
    result = simulate(_config(2_000_000, duration_s=6.0, loss=0.02, seed=1), ctrl)
    # A loss in the call's last round trips cannot be repaired before it ends.
    repairable_ms = 6_000.0 - 300.0
    lost = [r for r in ctrl.results if r.lost and r.sent_ms < repairable_ms]
    assert lost
    assert result.retransmissions >= len(lost)
    assert result.plis == 0 and result.summary.keyframes == 1
    s = result.summary
    assert s.frames_sent == 180
    assert all(f.shown_ms is not None for f in result.frames if f.captured_ms < repairable_ms)
    # A repaired frame waited for NACK + retransmission: 2 x 30 ms more than its oracle.
    late = [f for f in result.frames if f.delay_ms is not None and f.oracle_delay_ms is not None
            and f.delay_ms - f.oracle_delay_ms > 60]
    assert late
    assert s.delay_ms_p50 is not None and s.delay_ms_p50 < 80


def test_delay_change_mid_call() -> None:
    ctrl = StandIn(300_000)
    config = _config(2_000_000, duration_s=6.0, delay_changes=(DelayChange(3_000.0, 130.0),))
    result = simulate(config, ctrl)
    delays = [(f.captured_ms, f.delay_ms) for f in result.frames if f.delay_ms is not None]
    before = [d for t, d in delays if 1_000 < t < 2_500]
    after = [d for t, d in delays if t > 3_500]
    assert max(before) < 80
    assert min(after) > 130
    assert sum(after) / len(after) - sum(before) / len(before) == pytest.approx(100, abs=15)


def test_feedback_blackout_silences_feedback() -> None:
    ctrl = StandIn(300_000)
    config = _config(2_000_000, duration_s=6.0, feedback_blackouts=((2_000.0, 4_000.0),))
    simulate(config, ctrl)
    in_window = [t for t in ctrl.feedback_times if 2_100 < t < 4_000]
    assert not in_window
    assert any(t > 4_100 for t in ctrl.feedback_times)


def test_outage_stalls_then_recovers() -> None:
    trace = generate.outage(1_000_000, 20.0, 4.0, 3.0)
    config = SimConfig(media_trace=trace, feedback_trace=trace, duration_s=10.0)
    result = simulate(config, StandIn(300_000))
    s = result.summary
    assert s.stall_ms_total is not None and s.stall_ms_total >= 2_500
    assert any(f.shown_ms is not None and f.captured_ms > 8_000 for f in result.frames)


def test_reproducible() -> None:
    a = simulate(_config(1_000_000, duration_s=3.0, loss=0.01, seed=4), StandIn(500_000))
    b = simulate(_config(1_000_000, duration_s=3.0, loss=0.01, seed=4), StandIn(500_000))
    assert a.summary == b.summary


def test_bad_config() -> None:
    with pytest.raises(ValueError, match="loss"):
        _config(1e6, loss=1.5)
    with pytest.raises(ValueError, match="duration"):
        _config(1e6, duration_s=0)


def test_trace_directions_single_and_pair() -> None:
    media, feedback = trace_directions("const-1mbps")
    assert media is feedback
    if not (traces_dir() / "ATT-LTE-driving.down").is_file():
        pytest.skip("shared traces absent")
    media, feedback = trace_directions("ATT-LTE-driving.down")
    assert media.name == "ATT-LTE-driving.down" and feedback.name == "ATT-LTE-driving.up"
    media, feedback = trace_directions("ATT-LTE-driving")
    assert media.name == "ATT-LTE-driving.down" and feedback.name == "ATT-LTE-driving.up"
    media, feedback = trace_directions("12mbps")
    assert media is feedback


def test_aiortc_model_gets_remb_and_rebuilds_keyframes() -> None:
    from ratecontrol.controllers import make_controller

    ctrl = make_controller("aiortc")
    result = simulate(_config(800_000, duration_s=15.0), ctrl)
    targets = {round(s.target_bps) for s in result.samples}
    assert len(targets) > 1  # REMB moved the target
    keyframes = result.summary.keyframes
    assert keyframes is not None and keyframes > 1  # each >10 % move rebuilds the encoder
    assert result.feedback_packets > 0


def test_named_controllers_run() -> None:
    for name in ("gcc", "ours", "fixed:300k"):
        trace = generate.constant(1_000_000.0, 60.0)
        config = SimConfig(media_trace=trace, feedback_trace=trace, controller=name, duration_s=5)
        result = simulate(config)
        assert result.controller.startswith(name.split(":")[0])
        shown = result.summary.frames_shown
        assert shown is not None and shown > 0


def test_trace_offset_moves_the_call_onto_a_later_window_of_the_trace() -> None:
    # outage-5s: 2 Mbit/s with nothing between 30 and 35 s of trace time.
    media, feedback = trace_directions("outage-5s")

    def run(offset_ms: float) -> SimConfig:
        return SimConfig(media_trace=media, feedback_trace=feedback, duration_s=10.0,
                         delay_ms=20.0, trace_offset_ms=offset_ms)

    from_start = simulate(run(0.0), StandIn(500_000))
    into_outage = simulate(run(27_000.0), StandIn(500_000))
    assert from_start.summary.capacity_kbps == pytest.approx(2_000, rel=0.02)
    # From 27 s the 10 s call meets the outage at call time 3-8 s.
    assert into_outage.summary.capacity_kbps == pytest.approx(
        media.capacity_bps(27_000, 37_000) / 1000, rel=1e-6)
    assert into_outage.summary.capacity_kbps < 0.6 * 2_000
    assert from_start.summary.delay_ms_p95 is not None and from_start.summary.delay_ms_p95 < 200
    assert into_outage.summary.delay_ms_p95 is not None and into_outage.summary.delay_ms_p95 > 2_000
    # The oracle and the floor see the outage too: they are on trace time.
    assert into_outage.summary.signal_floor_ms_p95 is not None
    assert from_start.summary.signal_floor_ms_p95 is not None
    assert into_outage.summary.signal_floor_ms_p95 > 10 * from_start.summary.signal_floor_ms_p95
    # Frames are still stamped on call time: the first is captured at 0.
    assert into_outage.frames[0].captured_ms == 0.0


def test_negative_trace_offset_is_refused() -> None:
    trace = generate.constant(1e6, 60.0)
    with pytest.raises(ValueError, match="trace offset"):
        SimConfig(media_trace=trace, feedback_trace=trace, trace_offset_ms=-1.0)
