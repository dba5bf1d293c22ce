import pytest

from netem.queues import CoDel, DropTail, QueuedPacket


def _item(n, size=1000, at=0.0):
    return QueuedPacket(packet=n, size_bytes=size, enqueued_ms=at)


def test_drop_tail_is_fifo_and_unlimited_by_default():
    queue = DropTail().create()
    for n in range(1000):
        assert queue.enqueue(_item(n), 0.0)
    assert len(queue) == 1000 and queue.bytes_queued == 1_000_000
    got = [queue.dequeue(1.0)[0].packet for _ in range(1000)]
    assert got == list(range(1000))
    assert queue.dequeue(2.0) == (None, ())
    assert queue.peek() is None


def test_drop_tail_packet_limit():
    queue = DropTail(limit_packets=2).create()
    assert [queue.enqueue(_item(n), 0.0) for n in range(3)] == [True, True, False]
    queue.dequeue(1.0)
    assert queue.enqueue(_item(3), 1.0)
    assert queue.drop_reason == "queue-full"


def test_drop_tail_byte_limit():
    queue = DropTail(limit_bytes=2500).create()
    assert queue.enqueue(_item(0, 1200), 0.0)
    assert queue.enqueue(_item(1, 1200), 0.0)
    assert not queue.enqueue(_item(2, 200), 0.0)  # 2600 > 2500
    assert queue.enqueue(_item(3, 100), 0.0)  # exactly 2500
    assert queue.bytes_queued == 2500


def _run_codel(arrival_gap_ms, service_gap_ms, duration_ms, burst=0):
    """Arrivals every arrival_gap_ms (plus a burst at 0), one dequeue every service_gap_ms."""
    queue = CoDel().create()
    events = [(t * arrival_gap_ms, "in") for t in range(int(duration_ms / arrival_gap_ms))]
    events += [(0.0, "in")] * burst
    events += [(t * service_gap_ms + 0.5, "out") for t in range(int(duration_ms / service_gap_ms))]
    events.sort(key=lambda e: (e[0], e[1] == "out"))
    dropped, sent, n = [], [], 0
    for t, kind in events:
        if kind == "in":
            queue.enqueue(_item(n, 1500, t), t)
            n += 1
        else:
            item, drops = queue.dequeue(t)
            dropped += [(t, d) for d in drops]
            if item is not None:
                sent.append((t, item))
    return queue, dropped, sent


def test_codel_drops_under_a_standing_queue():
    # 1 packet/ms offered, one served every 1.1 ms: a FIFO's delay would grow to ~450 ms by 5 s
    queue, dropped, sent = _run_codel(1.0, 1.1, 5000)
    assert queue.drop_reason == "codel"
    # the sojourn passes 5 ms after ~55 ms; CoDel first waits one interval (100 ms) above target
    first_drop_ms = dropped[0][0]
    assert 140 <= first_drop_ms <= 170
    # then drops come faster (interval / sqrt(count)) until they match the excess (~9 %)
    assert 0.06 * 5000 < len(dropped) < 0.12 * 5000
    late = [t - item.enqueued_ms for t, item in sent if t > 4000]
    assert max(late) < 60


def test_codel_lets_a_short_burst_through():
    # 30 packets at once, then light load: the sojourn exceeds 5 ms for ~60 ms only
    _, dropped, sent = _run_codel(10.0, 2.0, 1000, burst=30)
    assert dropped == []
    assert len(sent) == 130


def test_codel_respects_its_hard_limit_and_validates():
    queue = CoDel(limit_packets=1).create()
    assert queue.enqueue(_item(0), 0.0)
    assert not queue.enqueue(_item(1), 0.0)
    with pytest.raises(ValueError, match="positive"):
        CoDel(target_ms=0)
    with pytest.raises(ValueError, match="limit_packets"):
        DropTail(limit_packets=0)
    with pytest.raises(ValueError, match="limit_bytes"):
        CoDel(limit_bytes=-1)
