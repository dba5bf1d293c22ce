import numpy as np
import pytest

from experiments.oracle import oracle_arrival_ms, oracle_delay_ms
from netem.trace import Trace


def _trace(ops: list[int]) -> Trace:
    return Trace(name="t", opportunities_ms=np.array(ops, dtype=np.int64), period_ms=ops[-1])


def test_constant_link_one_packet_per_ms() -> None:
    trace = _trace([1])  # 12 Mbit/s
    # 4,500 bytes sent at t=10.0: opportunities at 11, 12, 13.
    assert oracle_arrival_ms(trace, 10.0, 4_500) == 13.0
    assert oracle_arrival_ms(trace, 10.5, 1_000) == 11.0
    d = oracle_delay_ms(
        trace, captured_ms=5.0, sent_ms=10.0, wire_bytes=4_500, propagation_ms=30.0, decode_ms=3.0
    )
    assert d == pytest.approx(13.0 + 30.0 + 3.0 - 5.0)


def test_gap_in_trace_and_repeat() -> None:
    trace = _trace([10, 20, 1_000])  # an outage from 20 to 1000, then repeats every 1000 ms
    assert oracle_arrival_ms(trace, 0.0, 3_000) == 20.0
    assert oracle_arrival_ms(trace, 15.0, 3_000) == 1_000.0
    assert oracle_arrival_ms(trace, 15.0, 4_500) == 1_010.0
    assert oracle_arrival_ms(trace, 2_000.0, 100) == 2_010.0


def test_send_before_capture_rejected() -> None:
    with pytest.raises(ValueError, match="before"):
        oracle_delay_ms(
            _trace([1]), captured_ms=10.0, sent_ms=5.0, wire_bytes=10, propagation_ms=0.0
        )


def test_oracle_matches_an_empty_link() -> None:
    """A frame alone on the real link model arrives exactly when the oracle says."""
    from experiments.sim.packetizer import packetize
    from netem import generate
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
