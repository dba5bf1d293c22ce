import numpy as np
import pytest

from experiments.oracle import (
    floor_signal_delays_ms,
    oracle_arrival_ms,
    oracle_delay_ms,
    signal_floor_ms_p95,
)
from netem import generate
from netem.trace import Trace


def _trace(ops: list[int]) -> Trace:
    return Trace(name="t", opportunities_ms=np.array(ops, dtype=np.int64), period_ms=ops[-1])


def test_constant_link_one_packet_per_ms() -> None:
    trace = _trace([1])  # 12 Mbit/s
    # 4,500 bytes sent at t=10.0: opportunities at 11, 12, 13.
    assert oracle_arrival_ms(trace, 10.0, 4_500) == 13.0
    assert oracle_arrival_ms(trace, 10.5, 1_000) == 11.0
    d = oracle_delay_ms(trace, captured_ms=10.0, wire_bytes=4_500, propagation_ms=30.0)
    assert d == pytest.approx(13.0 + 30.0 - 10.0)


def test_oracle_counts_no_encode_time() -> None:
    """One definition for the simulator and real calls: the frame leaves at its capture."""
    trace = _trace([10, 20, 1_000])
    # Captured at 5: leaves at 10, whatever the encoder took.
    assert oracle_delay_ms(trace, captured_ms=5.0, wire_bytes=1_000,
                           propagation_ms=20.0) == pytest.approx(25.0)
    with pytest.raises(ValueError, match="trace time"):
        oracle_delay_ms(trace, captured_ms=-1.0, wire_bytes=10, propagation_ms=0.0)


def test_gap_in_trace_and_repeat() -> None:
    trace = _trace([10, 20, 1_000])  # an outage from 20 to 1000, then repeats every 1000 ms
    assert oracle_arrival_ms(trace, 0.0, 3_000) == 20.0
    assert oracle_arrival_ms(trace, 15.0, 3_000) == 1_000.0
    assert oracle_arrival_ms(trace, 15.0, 4_500) == 1_010.0
    assert oracle_arrival_ms(trace, 2_000.0, 100) == 2_010.0


def test_oracle_matches_an_empty_link() -> None:
    """A frame alone on the real link model arrives exactly when the oracle says."""
    from experiments.sim.packetizer import packetize
    from netem.link import Link, LinkConfig, Packet

    trace = generate.constant(1_000_000.0, 10.0)
    for sent_ms, size in ((0.0, 5_000), (101.5, 1_200), (2_000.0, 30_000)):
        link = Link(LinkConfig(trace=trace, delay_ms=25.0))
        packets = packetize(0, size, keyframe=False)
        for p in packets:
            link.enqueue(Packet(p.size_bytes, p), sent_ms)
        last = max(d.delivered_ms for d in link.deliveries(sent_ms + 10_000.0))
        wire = sum(p.size_bytes for p in packets)
        assert oracle_arrival_ms(trace, sent_ms, wire) + 25.0 == last


def test_floor_on_a_fast_constant_link_is_the_propagation_delay() -> None:
    trace = generate.constant(12_000_000.0, 60.0)  # one opportunity per ms
    floor = signal_floor_ms_p95(trace, start_ms=0.0, end_ms=30_000.0, fps=30.0,
                                propagation_ms=20.0)
    assert 20.0 < floor <= 21.0 + 1e-6  # the next millisecond's opportunity, then 20 ms of air


def test_a_frame_captured_at_an_opportunity_takes_the_next_one() -> None:
    """The link's rule: a packet enqueued at t leaves at the first opportunity after t."""
    trace = _trace([100, 200, 300, 1_000])
    delays = floor_signal_delays_ms(trace, start_ms=100.0, end_ms=100.0, fps=10.0,
                                    propagation_ms=0.0)
    assert delays.tolist() == [0.0]  # capped at the call's end (100): the end is the end
    delays = floor_signal_delays_ms(trace, start_ms=100.0, end_ms=400.0, fps=10.0,
                                    propagation_ms=5.0)
    # Captured at 100, 200, 300 (400 is the end): shown at 205, 305, 400 (the end).
    assert delays.tolist() == pytest.approx([105.0, 105.0, 100.0])


def test_floor_sees_an_outage() -> None:
    trace = generate.steps([(5.0, 2_000_000.0), (2.0, 1.0), (5.0, 2_000_000.0)])
    floor = signal_floor_ms_p95(trace, start_ms=0.0, end_ms=12_000.0, fps=30.0,
                                propagation_ms=20.0)
    # Frames captured in the 2 s outage wait for it to end: p95 over 12 s is ~1.4 s.
    assert 1_000.0 < floor < 2_000.0
    delays = floor_signal_delays_ms(trace, start_ms=0.0, end_ms=12_000.0, fps=30.0,
                                    propagation_ms=20.0)
    assert delays.size == 360 and delays.min() > 20.0 - 1e-9
    with pytest.raises(ValueError, match="window"):
        floor_signal_delays_ms(trace, start_ms=10.0, end_ms=5.0, fps=30.0, propagation_ms=0.0)
