import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratecontrol.feedback_adapter import FeedbackAdapter, FeedbackAdapterConfig
from ratecontrol.twcc import TransportFeedback, parse_rtcp_transport_cc
from ratecontrol.twcc_recorder import TwccRecorder
from ratecontrol.types import SentPacket


def _fb(
    base: int, deltas: tuple[int | None, ...], ref: int = 0, count: int = 0
) -> TransportFeedback:
    return TransportFeedback(1, 2, base, ref, count, deltas)


def _adapter_with(seqs: range, size: int = 1000) -> FeedbackAdapter:
    adapter = FeedbackAdapter()
    for seq in seqs:
        adapter.on_sent(SentPacket(seq, size, sent_ms=float(seq)))
    return adapter


def test_results_with_arrival_times_and_losses() -> None:
    adapter = _adapter_with(range(3))
    adapter.on_sent(SentPacket(3, 500, sent_ms=3.0, is_probe=True))
    results = adapter.on_feedback(_fb(0, (8, None, 4, 2), ref=10), now_ms=50.0)
    assert [r.transport_seq for r in results] == [0, 1, 2, 3]
    assert [r.arrived_ms for r in results] == [642.0, None, 643.0, 643.5]
    assert [r.lost for r in results] == [False, True, False, False]
    assert results[3].is_probe and results[3].size_bytes == 500
    assert results[0].sent_ms == 0.0
    assert adapter.in_flight_bytes() == 0


def test_duplicate_and_reordered_feedback_give_each_result_once() -> None:
    adapter = _adapter_with(range(6))
    first = _fb(0, (4, 4, 4), count=0)
    second = _fb(3, (4, None, 4), count=1)
    assert len(adapter.on_feedback(second, 10.0)) == 3
    assert len(adapter.on_feedback(first, 11.0)) == 3
    assert adapter.on_feedback(first, 12.0) == []
    assert adapter.on_feedback(second, 13.0) == []
    assert adapter.ignored == 6


def test_lost_then_received_gives_one_late_arrival() -> None:
    adapter = _adapter_with(range(3))
    assert [r.lost for r in adapter.on_feedback(_fb(0, (4, None, 4)), 10.0)] == [
        False,
        True,
        False,
    ]
    assert adapter.in_flight_bytes() == 0
    again = adapter.on_feedback(_fb(1, (8, None)), 20.0)  # re-reported window: 1 arrived, 2 known
    assert [(r.transport_seq, r.arrived_ms) for r in again] == [(1, 2.0)]
    assert adapter.on_feedback(_fb(1, (None,)), 30.0) == []


def test_unknown_future_and_forgotten_seqs_are_ignored() -> None:
    adapter = FeedbackAdapter(FeedbackAdapterConfig(history_ms=1000.0))
    assert adapter.on_feedback(_fb(0, (1,)), 0.0) == []  # nothing sent yet
    adapter.on_sent(SentPacket(10, 100, sent_ms=0.0))
    adapter.on_sent(SentPacket(11, 100, sent_ms=2000.0))  # forgets seq 10
    assert adapter.in_flight_bytes() == 100
    assert adapter.on_feedback(_fb(10, (1,)), 2001.0) == []
    assert adapter.on_feedback(_fb(12, (1, 1)), 2001.0) == []  # never sent
    assert [r.transport_seq for r in adapter.on_feedback(_fb(11, (1,)), 2002.0)] == [11]


def test_sixteen_bit_wrap_maps_to_unwrapped_seqs() -> None:
    adapter = _adapter_with(range(65530, 65542))
    results = adapter.on_feedback(_fb(65534, (1, 1, 1, 1)), 100.0)
    assert [r.transport_seq for r in results] == [65534, 65535, 65536, 65537]
    # Far past the first wrap: 16-bit seq 5 is 131077.
    adapter2 = _adapter_with(range(131070, 131080))
    assert [r.transport_seq for r in adapter2.on_feedback(_fb(5, (1,)), 0.0)] == [131077]


def test_reference_time_unwraps_across_24_bits() -> None:
    adapter = _adapter_with(range(4))
    top = (1 << 24) - 1
    a = adapter.on_feedback(_fb(0, (0, 4), ref=top), 10.0)
    b = adapter.on_feedback(_fb(2, (0, 4), ref=0), 20.0)  # 64 ms later, across the wrap
    c = adapter.on_feedback(_fb(1, (0,), ref=top), 30.0)  # an old one reordered: no new result
    assert c == []
    assert a[1].arrived_ms == top * 64.0 + 1.0
    assert b[0].arrived_ms == (top + 1) * 64.0
    assert b[1].arrived_ms == (top + 1) * 64.0 + 1.0


def test_a_reference_half_a_wrap_away_moves_no_later_feedback() -> None:
    # Unwrapped against the previous feedback, one forged reference time 2^23 units (six
    # days) away, once believed, put every true arrival after it six days off.
    adapter = _adapter_with(range(6))
    adapter.on_feedback(_fb(0, (0,), ref=1000), 100.0)
    adapter.on_feedback(_fb(1, (0,), ref=1000 + (1 << 23)), 150.0)  # the lie
    later = adapter.on_feedback(_fb(2, (0, 4), ref=1001), 200.0)
    assert [r.arrived_ms for r in later] == [1001 * 64.0, 1001 * 64.0 + 1.0]


def test_rtt_discounts_the_receivers_wait() -> None:
    adapter = FeedbackAdapter()
    adapter.on_sent(SentPacket(0, 100, sent_ms=0.0))
    adapter.on_sent(SentPacket(1, 100, sent_ms=40.0))
    # Arrivals 30 ms and 70 ms after reference; the first waited 40 ms at the receiver.
    adapter.on_feedback(_fb(0, (120, 160)), now_ms=100.0)
    assert adapter.rtt_ms == pytest.approx(60.0)


def test_end_to_end_with_recorder_under_loss_reorder_and_wrap() -> None:
    rng = random.Random(7)
    recorder, adapter = TwccRecorder(), FeedbackAdapter()
    seen: dict[int, float | None] = {}
    arrivals: dict[int, float] = {}
    pending: list[tuple[float, int]] = []
    now = 0.0
    for seq in range(65000, 67020):
        now += 2.0
        if seq < 67000:
            adapter.on_sent(SentPacket(seq, 1200, sent_ms=now))
        if seq < 67000 and rng.random() > 0.1:
            arrival = now + 20.0 + rng.uniform(0.0, 10.0)
            pending.append((arrival, seq))
        for arrival, s in sorted(p for p in pending if p[0] <= now):
            recorder.on_packet(s % 65536, arrival)
            arrivals[s] = arrival
        pending = [p for p in pending if p[0] > now]
        if recorder.feedback_due(now) or seq == 67019:
            for raw in recorder.build_feedback(now, 1, 2):
                fb = parse_rtcp_transport_cc(raw)
                assert fb is not None
                for r in adapter.on_feedback(fb, now):
                    if r.arrived_ms is not None:
                        assert r.transport_seq not in seen or seen[r.transport_seq] is None
                    else:
                        assert r.transport_seq not in seen
                    seen[r.transport_seq] = r.arrived_ms
    received = {s: t for s, t in seen.items() if t is not None}
    assert set(received) == set(arrivals)
    offsets = {received[s] - arrivals[s] for s in received}
    assert max(offsets) - min(offsets) <= 0.25  # one clock offset, within a tick
    assert len(seen) > 1900


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 65535),
            st.integers(0, (1 << 24) - 1),
            st.lists(st.one_of(st.none(), st.integers(-32768, 32767)), min_size=1, max_size=40),
        ),
        max_size=10,
    )
)
def test_arbitrary_feedback_never_raises_or_repeats(
    feedbacks: list[tuple[int, int, list[int | None]]],
) -> None:
    adapter = _adapter_with(range(65500, 65600))
    received: set[int] = set()
    for base, ref, deltas in feedbacks:
        for r in adapter.on_feedback(_fb(base, tuple(deltas), ref=ref), 0.0):
            assert 65500 <= r.transport_seq < 65600
            if r.arrived_ms is not None:
                assert r.transport_seq not in received
                received.add(r.transport_seq)
    assert adapter.in_flight_bytes() >= 0
