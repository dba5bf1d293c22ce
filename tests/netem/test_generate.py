import numpy as np
import pytest

from netem import generate
from netem.trace import TraceError, load_trace, trace_stats, write_trace


def test_constant_spreads_opportunities_evenly():
    trace = generate.constant(1_000_000, 60)
    ops = trace.opportunities_ms
    assert ops[0] == 12
    assert set(np.diff(ops).tolist()) == {12}
    assert trace.period_ms == 60_000
    assert trace.mean_bps == pytest.approx(1e6)
    assert set(np.diff(generate.constant(500_000, 12).opportunities_ms).tolist()) == {24}
    # 10 s is not a whole number of 24-ms gaps: the file still ends at its duration
    short = generate.constant(500_000, 10).opportunities_ms
    assert short[-1] == 10_000 and short[-2] == 9_984


def test_constant_above_twelve_megabits_puts_several_in_one_ms():
    trace = generate.constant(24_000_000, 1)
    assert trace.packets_per_period == 2000
    assert np.bincount(trace.opportunities_ms)[1:].tolist() == [2] * 1000


def test_constant_with_uneven_spacing_keeps_the_rate():
    trace = generate.constant(700_000, 30)
    assert trace.period_ms == 30_000
    assert abs(trace.packets_per_period - 700_000 * 30 / 12_000) <= 1
    gaps = np.diff(trace.opportunities_ms)
    assert gaps.min() >= 17 and gaps.max() <= 18  # 17.14 ms on average


def test_rfc8867_steps():
    trace = generate.rfc8867_steps()
    assert trace.period_ms == 100_000
    expected = [
        (0, 40_000, 1e6),
        (40_000, 60_000, 2.5e6),
        (60_000, 80_000, 0.6e6),
        (80_000, 100_000, 1e6),
    ]
    for start, end, rate in expected:
        assert trace.capacity_bps(start, end) == pytest.approx(rate, rel=0.005)
    assert trace.capacity_bps(100_000, 140_000) == pytest.approx(1e6, rel=0.005)  # repeats


def test_steps_with_an_outage_and_errors():
    trace = generate.steps([(1, 2e6), (2, 0), (1, 2e6)])
    assert trace.count_between(1001, 3000) == 0
    assert trace.capacity_bps(3000, 4000) == pytest.approx(2e6, rel=0.01)
    with pytest.raises(TraceError, match="last segment has rate 0"):
        generate.steps([(1, 1e6), (1, 0)])
    with pytest.raises(TraceError, match="negative"):
        generate.steps([(1, -5)])
    with pytest.raises(TraceError, match="no segments"):
        generate.steps([])


def test_on_off_and_single_outage():
    trace = generate.on_off(1e6, on_s=2, off_s=1, cycles=2)
    assert trace.period_ms == 8_000
    assert trace.count_between(2001, 3000) == 0
    assert trace.count_between(5001, 6000) == 0
    assert trace.capacity_bps(0, 2000) == pytest.approx(1e6, rel=0.01)
    cut = generate.outage(2e6, duration_s=60, outage_at_s=20, outage_s=5)
    assert cut.period_ms == 60_000
    assert cut.count_between(20_001, 25_000) == 0
    assert 25_000 < cut.opportunity_after(20_000) <= 25_006
    assert cut.capacity_bps(25_000, 60_000) == pytest.approx(2e6, rel=0.01)
    with pytest.raises(TraceError, match="does not fit"):
        generate.outage(1e6, duration_s=10, outage_at_s=8, outage_s=5)


def test_cellular_is_deterministic_and_near_its_mean(tmp_path):
    a = generate.cellular(seed=7, duration_s=60, mean_bps=3e6)
    b = generate.cellular(seed=7, duration_s=60, mean_bps=3e6)
    c = generate.cellular(seed=8, duration_s=60, mean_bps=3e6)
    assert np.array_equal(a.opportunities_ms, b.opportunities_ms)
    assert not np.array_equal(a.opportunities_ms, c.opportunities_ms)
    assert a.period_ms == 60_000
    assert a.mean_bps == pytest.approx(3e6, rel=0.15)
    stats = trace_stats(a)
    assert stats.p95_mbps > 1.5 * stats.p5_mbps  # it varies
    write_trace(a, tmp_path / "cell.trace")  # the same format as a file
    assert np.array_equal(load_trace(tmp_path / "cell.trace").opportunities_ms, a.opportunities_ms)


def test_cellular_outages_remove_capacity():
    trace = generate.cellular(seed=1, duration_s=120, outages_per_min=6, outage_mean_s=2)
    assert trace_stats(trace).longest_gap_ms > 1000
    calm = generate.cellular(seed=1, duration_s=120, outages_per_min=0)
    assert trace_stats(calm).longest_gap_ms < 200
