import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratecontrol.twcc import TransportFeedback, parse_rtcp_transport_cc
from ratecontrol.twcc_recorder import TwccRecorder, TwccRecorderConfig


def _parse_all(packets: list[bytes]) -> list[TransportFeedback]:
    out = []
    for raw in packets:
        fb = parse_rtcp_transport_cc(raw)
        assert fb is not None
        out.append(fb)
    return out


def _arrivals(packets: list[bytes]) -> list[tuple[int, float | None]]:
    """(seq16, absolute arrival ms or None) in feedback order, reference time not unwrapped."""
    out: list[tuple[int, float | None]] = []
    for fb in _parse_all(packets):
        for seq, off in fb.arrival_offsets_ms():
            out.append((seq, None if off is None else fb.reference_time_64ms * 64 + off))
    return out


def test_reports_every_packet_with_its_arrival_time() -> None:
    rec = TwccRecorder()
    for seq in range(10):
        rec.on_packet(seq, 1000.0 + 1.25 * seq)
    assert rec.feedback_due(1020.0)
    packets = rec.build_feedback(1020.0, sender_ssrc=11, media_ssrc=22)
    assert len(packets) == 1
    fb = _parse_all(packets)[0]
    assert (fb.sender_ssrc, fb.media_ssrc, fb.base_seq, fb.feedback_count) == (11, 22, 0, 0)
    assert _arrivals(packets) == [(s, 1000.0 + 1.25 * s) for s in range(10)]
    # Nothing new: not due, nothing built.
    assert not rec.feedback_due(2000.0)
    assert rec.next_feedback_time() is None
    assert rec.build_feedback(2000.0, 11, 22) == []


def test_interval_between_feedbacks() -> None:
    rec = TwccRecorder(TwccRecorderConfig(interval_ms=50.0))
    rec.on_packet(0, 0.0)
    assert rec.next_feedback_time() == 0.0
    rec.build_feedback(0.0, 1, 2)
    rec.on_packet(1, 10.0)
    assert rec.next_feedback_time() == 50.0
    assert not rec.feedback_due(49.9)
    assert rec.feedback_due(50.0)
    fb = _parse_all(rec.build_feedback(50.0, 1, 2))[0]
    assert (fb.base_seq, len(fb.deltas_ticks), fb.feedback_count) == (1, 1, 1)


def test_sequence_wrap_and_losses() -> None:
    rec = TwccRecorder()
    for seq, t in [(65534, 0.0), (65535, 1.0), (2, 4.0)]:
        rec.on_packet(seq, t)
    assert _arrivals(rec.build_feedback(5.0, 1, 2)) == [
        (65534, 0.0),
        (65535, 1.0),
        (0, None),
        (1, None),
        (2, 4.0),
    ]
    rec.on_packet(4, 60.0)  # 3 lost, reported in the next window
    assert _arrivals(rec.build_feedback(60.0, 1, 2)) == [(3, None), (4, 60.0)]


def test_reordering_and_duplicates() -> None:
    rec = TwccRecorder()
    rec.on_packet(0, 100.0)
    rec.on_packet(2, 101.0)
    rec.on_packet(1, 103.5)  # reordered: a negative delta follows it
    rec.on_packet(2, 150.0)  # duplicate: the first arrival stands
    assert _arrivals(rec.build_feedback(160.0, 1, 2)) == [(0, 100.0), (1, 103.5), (2, 101.0)]


def test_late_packet_re_reports_the_window() -> None:
    rec = TwccRecorder()
    for seq in range(5):
        rec.on_packet(seq, float(seq))
    rec.build_feedback(10.0, 1, 2)
    rec.on_packet(7, 20.0)
    assert _arrivals(rec.build_feedback(60.0, 1, 2)) == [(5, None), (6, None), (7, 20.0)]
    rec.on_packet(5, 70.0)  # after its "not received" went out
    assert rec.feedback_due(110.0)
    assert _arrivals(rec.build_feedback(110.0, 1, 2)) == [(5, 70.0), (6, None), (7, 20.0)]
    assert rec.late_dropped == 0


def test_too_late_packet_is_dropped_after_history() -> None:
    rec = TwccRecorder(TwccRecorderConfig(history_ms=500.0))
    rec.on_packet(0, 0.0)
    rec.on_packet(2, 1.0)
    rec.build_feedback(1000.0, 1, 2)
    rec.on_packet(1, 1001.0)
    assert rec.late_dropped == 1
    assert rec.next_feedback_time() is None


def test_big_window_is_split_under_the_size_limit() -> None:
    limit = 200
    rec = TwccRecorder(TwccRecorderConfig(max_packet_bytes=limit))
    expected = []
    t = 0.0
    for seq in range(3000):
        if seq % 5 == 3:
            expected.append(((seq + 60000) % 65536, None))
            continue
        t += 70.0 if seq % 7 == 0 else 0.5  # mixes small and large deltas
        rec.on_packet((seq + 60000) % 65536, t)
        expected.append(((seq + 60000) % 65536, t))
    packets = rec.build_feedback(t, 1, 2)
    assert len(packets) > 10
    assert all(len(p) <= limit and len(p) % 4 == 0 for p in packets)
    assert _arrivals(packets) == expected
    # Every part ends on a received packet: a loss is told by a later arrival.
    assert all(fb.deltas_ticks[-1] is not None for fb in _parse_all(packets))
    counts = [fb.feedback_count for fb in _parse_all(packets)]
    assert counts == [i % 256 for i in range(len(packets))]


def test_gap_too_long_for_16_bit_delta_starts_a_new_packet() -> None:
    rec = TwccRecorder()
    rec.on_packet(0, 0.0)
    rec.on_packet(1, 10_000.0)  # 40000 ticks later
    rec.on_packet(2, 10_000.0 - 8000.0)  # -32000 ticks: still fits
    packets = rec.build_feedback(10_000.0, 1, 2)
    assert len(packets) == 2
    assert _arrivals(packets) == [(0, 0.0), (1, 10_000.0), (2, 2000.0)]


def test_reference_time_wraps_at_24_bits() -> None:
    wrap_ms = (1 << 24) * 64.0
    rec = TwccRecorder()
    rec.on_packet(0, wrap_ms - 10.0)
    first = _parse_all(rec.build_feedback(wrap_ms, 1, 2))[0]
    assert first.reference_time_64ms == (1 << 24) - 1
    rec.on_packet(1, wrap_ms + 70.0)
    second = _parse_all(rec.build_feedback(wrap_ms + 80.0, 1, 2))[0]
    assert second.reference_time_64ms == 1
    assert second.arrival_offsets_ms() == [(1, 6.0)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"interval_ms": 0.0}, "interval_ms"),
        ({"max_packet_bytes": 10}, "max_packet_bytes"),
        ({"history_ms": -1.0}, "history_ms"),
    ],
)
def test_config_errors(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TwccRecorderConfig(**kwargs)  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(
    start=st.integers(0, 65535),
    events=st.lists(
        st.tuples(st.integers(-40, 60), st.floats(0.0, 300.0), st.booleans()),
        min_size=1,
        max_size=200,
    ),
    limit=st.integers(60, 400),
)
def test_every_arrival_is_reported_within_the_size_limit(
    start: int, events: list[tuple[int, float, bool]], limit: int
) -> None:
    """Random seq steps (reordering, duplicates, wrap), random times, feedback now and then."""
    rec = TwccRecorder(TwccRecorderConfig(max_packet_bytes=limit, history_ms=1e9))
    first: dict[int, float] = {}
    reported: dict[int, float] = {}
    seq, now = start, 0.0
    for step, gap, send_feedback in events:
        seq += step
        now += gap
        if seq % 65536 not in first:
            first[seq % 65536] = now
        rec.on_packet(seq % 65536, now)
        if send_feedback:
            packets = rec.build_feedback(now, 1, 2)
            assert all(len(p) <= limit for p in packets)
            assert all(fb.deltas_ticks[-1] is not None for fb in _parse_all(packets))
            reported.update((s, t) for s, t in _arrivals(packets) if t is not None)
    reported.update((s, t) for s, t in _arrivals(rec.build_feedback(now, 1, 2)) if t is not None)
    # Seqs stay within 12,000 of each other, so unwrapping is unambiguous and nothing is lost.
    assert rec.late_dropped == 0
    assert set(reported) == set(first)
    for s, t in reported.items():
        assert s in first
        assert abs(t - first[s]) <= 0.125 + 1e-9
