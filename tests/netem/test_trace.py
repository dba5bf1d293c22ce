from pathlib import Path

import numpy as np
import pytest

from netem.trace import Trace, TraceError, load_trace, trace_stats, write_trace
from netem.traces import traces_dir

SHARED = traces_dir()  # $RTVC_TRACES_DIR or ../shared/traces


def _file(tmp_path: Path, text: str, name: str = "x.up") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_counts_repeated_lines_and_skips_blanks(tmp_path):
    trace = load_trace(_file(tmp_path, "2\n2\n\n5\r\n  9\n\n"))
    assert trace.name == "x.up"
    assert trace.opportunities_ms.tolist() == [2, 2, 5, 9]
    assert trace.opportunities_ms.dtype == np.int64
    assert trace.period_ms == 9
    assert trace.packets_per_period == 4


def test_one_line_file_is_twelve_megabits(tmp_path):
    trace = load_trace(_file(tmp_path, "1\n"))
    assert trace.mean_bps == pytest.approx(12e6)
    assert trace.opportunity_at_or_after(0) == 1.0
    assert trace.opportunity_at_or_after(5.5) == 6.0
    assert trace.opportunity_at_or_after(6) == 6.0
    assert trace.opportunity_after(6) == 7.0
    assert trace.count_between(0, 1000) == 999  # times 1..999
    assert trace.capacity_bps(0.5, 1000.5) == pytest.approx(12e6)


def test_queries_across_repeats():
    trace = Trace("t", np.array([0, 5, 10]), 10)
    # absolute opportunities: 0, 5, 10, 10, 15, 20, 20, 25, 30, 30, ...
    first = list(zip(range(9), trace.iter_opportunities(0), strict=False))
    assert [t for _, t in first] == [0, 5, 10, 10, 15, 20, 20, 25, 30]
    assert trace.count_before(10) == 2
    assert trace.count_at_or_before(10) == 4
    assert trace.count_between(10, 20) == 3
    assert trace.opportunity_at_or_after(21) == 25.0
    assert trace.opportunity_after(20) == 25.0
    assert trace.opportunity_at_or_after(1_000_003) == 1_000_005.0
    assert trace.time_of(4) == 15
    assert trace.mean_bps == pytest.approx(3 * 12000 / 0.010)
    from_12 = trace.iter_opportunities(12)
    assert [next(from_12) for _ in range(4)] == [15, 20, 20, 25]


def test_vectorised_counts_match_scalar():
    rng = np.random.default_rng(3)
    ops = np.sort(rng.integers(0, 500, 300))
    ops[-1] = 500
    trace = Trace("r", ops, 500)
    times = np.concatenate([rng.uniform(-10, 3000, 500), np.arange(0, 3000, 250)])
    vector = trace.counts_before(times)
    assert vector.tolist() == [trace.count_before(float(t)) for t in times]
    # count_before is the number of opportunities strictly before t
    sample = list(zip(range(2000), trace.iter_opportunities(0), strict=False))
    for t in (0.0, 100.0, 500.0, 777.7, 1000.0):
        assert trace.count_before(t) == sum(1 for _, x in sample if x < t)
        assert trace.count_at_or_before(t) == sum(1 for _, x in sample if x <= t)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1\n2\nabc\n", "x.up:3: 'abc' is not a whole number of milliseconds; each line"),
        ("1\n2.5\n", "x.up:2: '2.5' is not a whole number"),
        ("1\n2 3\n", "x.up:2: '2 3' is not a whole number"),
        ("1\n-4\n", "x.up:2: -4 is negative"),
        ("1\n5\n\n3\n", "x.up:4: 3 is smaller than 5 on line 2; timestamps must never decrease"),
        ("\n\n", "x.up: the file holds no timestamps"),
        ("", "x.up: the file holds no timestamps"),
        ("0\n0\n", "x.up:2: the last timestamp is 0"),
    ],
)
def test_loader_errors_are_one_line_with_file_and_line(tmp_path, text, expected):
    with pytest.raises(TraceError) as info:
        load_trace(_file(tmp_path, text))
    message = str(info.value)
    assert expected in message
    assert "\n" not in message
    assert str(tmp_path) in message


def test_missing_file_error(tmp_path):
    with pytest.raises(TraceError, match=r"nope\.trace: cannot read trace file"):
        load_trace(tmp_path / "nope.trace")


def test_write_then_load_round_trips(tmp_path):
    original = Trace("a", np.array([3, 3, 7, 12]), 12)
    write_trace(original, tmp_path / "a.trace")
    assert (tmp_path / "a.trace").read_text() == "3\n3\n7\n12\n"
    again = load_trace(tmp_path / "a.trace")
    assert again.opportunities_ms.tolist() == [3, 3, 7, 12]
    write_trace([1, 2, 2], tmp_path / "b.trace")
    assert load_trace(tmp_path / "b.trace").period_ms == 2
    with pytest.raises(TraceError, match="decrease"):
        write_trace([5, 1], tmp_path / "c.trace")


def test_trace_validates_itself():
    with pytest.raises(TraceError, match="period"):
        Trace("p", np.array([1, 5]), 9)
    with pytest.raises(TraceError, match="no delivery opportunities"):
        Trace("e", np.array([], dtype=np.int64), 0)
    trace = Trace("ro", np.array([1, 2]), 2)
    with pytest.raises(ValueError):
        trace.opportunities_ms[0] = 0


def test_stats_of_a_small_trace():
    # 2 per ms in the first second, none in the second, one at the end of the third
    ops = np.concatenate([np.repeat(np.arange(0, 1000), 2), [3000]])
    stats = trace_stats(Trace("s", ops, 3000))
    assert stats.windows == 3
    assert stats.zero_windows == 2  # [1, 2) s and [2, 3) s; the op at 3000 is past the last
    assert stats.longest_gap_ms == 2001
    assert stats.packets == 2001
    assert stats.mean_mbps == pytest.approx(2001 * 12000 / 3.0 / 1e6)
    assert stats.median_mbps == 0.0


README_ROWS = [
    # file, packets, duration_s, mean, p5, median, p95, zero windows, windows, longest gap
    ("Verizon-LTE-short.down", 58655, 140.000, 5.03, 1.07, 4.30, 10.83, 0, 140, 1447),
    ("ATT-LTE-driving.up", 70336, 1012.472, 0.83, 0.00, 1.04, 1.19, 94, 1012, 78319),
    ("12mbps.trace", 1, 0.001, 12.00, 12.00, 12.00, 12.00, 0, 60, 1),
    ("goodbad.trace", 22001, 239.946, 1.10, 0.19, 1.99, 2.00, 0, 239, 60),
]


@pytest.mark.skipif(not SHARED.is_dir(), reason="no shared traces folder on this machine")
@pytest.mark.parametrize("row", README_ROWS, ids=[r[0] for r in README_ROWS])
def test_stats_match_the_shared_readme(row):
    name, packets, duration, mean, p5, median, p95, zeros, windows, gap = row
    stats = trace_stats(load_trace(SHARED / name))
    assert stats.packets == packets
    assert stats.duration_s == pytest.approx(duration)
    assert round(stats.mean_mbps, 2) == mean
    assert round(stats.p5_mbps, 2) == p5
    assert round(stats.median_mbps, 2) == median
    assert round(stats.p95_mbps, 2) == p95
    assert (stats.zero_windows, stats.windows) == (zeros, windows)
    assert stats.longest_gap_ms == gap
