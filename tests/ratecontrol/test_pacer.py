import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratecontrol.pacer import Pacer, PacerConfig, Priority


def _drain(
    pacer: Pacer[int], now_ms: float, limit_ms: float = 100_000.0
) -> list[tuple[float, int]]:
    """Run the pacer's own timer until the queue is empty; (send time, item) pairs."""
    sent = [(now_ms, item) for item in pacer.pop_ready(now_ms)]
    while (wake := pacer.next_send_time(now_ms)) is not None:
        assert wake >= now_ms
        now_ms = wake
        assert now_ms < limit_ms
        ready = pacer.pop_ready(now_ms)
        assert ready, "woken up with nothing to send"
        sent += [(now_ms, item) for item in ready]
    return sent


def test_pass_through_without_a_rate() -> None:
    pacer: Pacer[int] = Pacer()
    assert pacer.next_send_time(0.0) is None
    for i in range(5):
        pacer.enqueue(i, 1200, 0.0)
    assert pacer.next_send_time(3.0) == 3.0
    assert pacer.queue_ms(3.0) == 0.0
    assert pacer.pop_ready(3.0) == [0, 1, 2, 3, 4]
    assert pacer.rate_bps() is None


def test_spreads_a_frame_at_the_rate_with_a_5_ms_burst() -> None:
    pacer: Pacer[int] = Pacer(PacerConfig(initial_rate_bps=1_200_000.0))  # 150 bytes/ms
    for i in range(10):
        pacer.enqueue(i, 1200, 0.0)
    assert pacer.queue_ms(0.0) == pytest.approx(80.0)
    sent = _drain(pacer, 0.0)
    assert [item for _, item in sent] == list(range(10))
    # Packet k may leave once the debt k*1200 - 150 t is down to the 750-byte burst allowance.
    expected = [0.0] + [(k * 1200 - 750) / 150 for k in range(1, 10)]
    assert [t for t, _ in sent] == pytest.approx(expected)


def test_set_target_applies_the_pacing_factor() -> None:
    pacer: Pacer[int] = Pacer()
    pacer.set_target(400_000.0, 0.0)
    assert pacer.rate_bps() == pytest.approx(1_000_000.0)
    pacer.set_rate(None, 0.0)
    assert pacer.rate_bps() is None


def test_no_credit_builds_up_while_idle() -> None:
    pacer: Pacer[int] = Pacer(PacerConfig(initial_rate_bps=800_000.0))  # 100 bytes/ms
    pacer.enqueue(0, 1000, 0.0)
    assert pacer.pop_ready(0.0) == [0]
    for i in range(1, 11):
        pacer.enqueue(i, 1000, 5000.0)
    # After 5 s of silence only the first packet leaves at once (500-byte burst allowance).
    assert pacer.pop_ready(5000.0) == [1]
    assert pacer.next_send_time(5000.0) == pytest.approx(5005.0)


def test_rate_change_applies_from_the_moment_it_is_set() -> None:
    pacer: Pacer[int] = Pacer(PacerConfig(initial_rate_bps=800_000.0, burst_ms=0.0))
    pacer.enqueue(0, 1000, 0.0)
    pacer.enqueue(1, 1000, 0.0)
    assert pacer.pop_ready(0.0) == [0]
    assert pacer.next_send_time(0.0) == pytest.approx(10.0)
    pacer.set_rate(400_000.0, 5.0)  # half the debt is gone; the rest drains at 50 bytes/ms
    assert pacer.next_send_time(5.0) == pytest.approx(15.0)
    assert pacer.pop_ready(14.9) == []
    assert pacer.pop_ready(15.0) == [1]


def test_long_queue_raises_the_rate_to_drain_within_the_limit() -> None:
    config = PacerConfig(initial_rate_bps=10_000.0, max_queue_time_ms=2000.0)
    pacer: Pacer[int] = Pacer(config)
    for i in range(100):
        pacer.enqueue(i, 1000, 0.0)  # 800 kbit: 80 s at the set rate
    rate = pacer.rate_bps()
    assert rate is not None and rate == pytest.approx(400_000.0)
    sent = _drain(pacer, 0.0)
    assert len(sent) == 100
    assert sent[-1][0] <= 2000.0


def test_time_going_backwards_and_bad_sizes() -> None:
    pacer: Pacer[int] = Pacer(PacerConfig(initial_rate_bps=800_000.0))
    pacer.enqueue(0, 1000, 100.0)
    pacer.enqueue(1, 1000, 100.0)
    assert pacer.pop_ready(100.0) == [0]
    assert pacer.pop_ready(50.0) == []
    assert pacer.next_send_time(50.0) == pytest.approx(105.0)
    with pytest.raises(ValueError, match="size"):
        pacer.enqueue(2, -1, 100.0)
    with pytest.raises(ValueError, match="pacing_factor"):
        PacerConfig(pacing_factor=0.0)


def test_zero_rate_does_not_stall() -> None:
    pacer: Pacer[int] = Pacer(PacerConfig(initial_rate_bps=0.0))
    for i in range(3):
        pacer.enqueue(i, 0 if i else 100, 0.0)
    assert [item for _, item in _drain(pacer, 0.0)] == [0, 1, 2]


@settings(max_examples=200, deadline=None)
@given(
    rate_bps=st.floats(20_000.0, 50_000_000.0),
    burst_ms=st.floats(0.0, 20.0),
    packets=st.lists(
        st.tuples(st.floats(0.0, 50.0), st.integers(1, 1500)), min_size=1, max_size=60
    ),
)
def test_every_wake_up_sends_and_rate_is_kept(
    rate_bps: float, burst_ms: float, packets: list[tuple[float, int]]
) -> None:
    # No queue-time limit here: the bound below is for the set rate.
    config = PacerConfig(initial_rate_bps=rate_bps, burst_ms=burst_ms, max_queue_time_ms=1e12)
    pacer: Pacer[int] = Pacer(config)
    now = 0.0
    sent: list[tuple[float, int]] = []
    sizes = {}
    for i, (gap, size) in enumerate(packets):
        target = now + gap
        # Serve the pacer's timer up to the next enqueue.
        while (wake := pacer.next_send_time(now)) is not None and wake <= target:
            now = max(now, wake)
            ready = pacer.pop_ready(now)
            assert ready
            sent += [(now, item) for item in ready]
        now = target
        pacer.enqueue(i, size, now)
        sizes[i] = size
    sent += _drain(pacer, now)
    assert [item for _, item in sent] == list(range(len(packets)))
    # Over any stretch, no more than rate * time + burst + one packet leaves.
    bytes_per_ms = rate_bps / 8000.0
    first_t = sent[0][0]
    total = 0
    for t, item in sent:
        total += sizes[item]
        assert total <= bytes_per_ms * (t - first_t) + bytes_per_ms * burst_ms + 1500 + 1e-6


def test_sound_then_resends_then_video_each_in_order() -> None:
    pacer: Pacer[str] = Pacer(PacerConfig(initial_rate_bps=960_000.0, burst_ms=0.0))
    for i in range(3):
        pacer.enqueue(f"v{i}", 1200, 0.0)
    pacer.enqueue("r0", 1200, 1.0, Priority.RETRANSMISSION)
    pacer.enqueue("r1", 1200, 1.0, Priority.RETRANSMISSION)
    pacer.enqueue("a0", 100, 2.0, Priority.AUDIO)
    assert [item for _, item in _drain(pacer, 2.0)] == ["a0", "r0", "r1", "v0", "v1", "v2"]


def test_sound_is_not_held_by_the_debt_but_adds_to_it() -> None:
    pacer: Pacer[str] = Pacer(PacerConfig(initial_rate_bps=800_000.0, burst_ms=0.0))  # 100 B/ms
    for i in range(3):
        pacer.enqueue(f"v{i}", 1000, 0.0)
    assert pacer.pop_ready(0.0) == ["v0"]  # 10 ms of debt now
    pacer.enqueue("a0", 200, 4.0, Priority.AUDIO)
    assert pacer.next_send_time(4.0) == 4.0
    assert pacer.pop_ready(4.0) == ["a0"]  # at once, ahead of v1
    # v1 waits for the debt, sound's 200 bytes included: 600 + 200 bytes at 100 bytes/ms.
    assert pacer.next_send_time(4.0) == pytest.approx(12.0)
    assert pacer.oldest_queued_ms(12.0) == pytest.approx(12.0)


def test_sound_can_be_paced_like_the_rest() -> None:
    pacer: Pacer[str] = Pacer(PacerConfig(initial_rate_bps=800_000.0, burst_ms=0.0,
                                          pace_audio=True))
    pacer.enqueue("v0", 1000, 0.0)
    assert pacer.pop_ready(0.0) == ["v0"]
    pacer.enqueue("v1", 1000, 0.0)
    pacer.enqueue("a0", 200, 4.0, Priority.AUDIO)
    assert pacer.pop_ready(4.0) == []
    assert pacer.next_send_time(4.0) == pytest.approx(10.0)
    assert pacer.pop_ready(10.0) == ["a0"]  # first in line, but in its turn
