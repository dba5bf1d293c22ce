import itertools
import math
import random

import numpy as np
import pytest

from netem import generate
from netem.link import Link, LinkConfig, Packet, oracle_delivery_ms
from netem.loss import BernoulliLoss, BurstSchedule, GilbertElliottLoss, LossBurst
from netem.queues import CoDel, DropTail
from netem.trace import Trace

EVERY_12_MS = generate.constant(1_000_000, 60)  # opportunities at 12, 24, 36, ... ms


def _run(link, sends, until_ms=1e9):
    """Enqueue (time, size) pairs in order; return {packet id: delivered_ms}."""
    for n, (t, size) in enumerate(sends):
        link.enqueue(Packet(size, id=n), t)
    return {d.packet.id: d.delivered_ms for d in link.deliveries(until_ms)}


def test_constant_trace_schedule_by_hand():
    link = Link(LinkConfig(EVERY_12_MS))
    got = _run(link, [(0, 1500), (0, 1500), (0, 1500), (40, 1500), (100, 1500)])
    # three queued at 0 leave at 12, 24, 36; one at 40 takes 48; at 100 the queue is empty
    # and 96 has passed, so 108
    assert got == {0: 12.0, 1: 24.0, 2: 36.0, 3: 48.0, 4: 108.0}


def test_an_opportunity_after_arrival_only():
    link = Link(LinkConfig(EVERY_12_MS))
    assert _run(link, [(12, 100)]) == {0: 24.0}  # the opportunity at 12 is not usable at 12
    link = Link(LinkConfig(EVERY_12_MS))
    assert _run(link, [(11.999, 100)]) == {0: 12.0}


def test_big_packet_spans_opportunities():
    link = Link(LinkConfig(EVERY_12_MS))
    got = _run(link, [(0, 3000), (0, 4000), (0, 1)])
    # 3000 B: 12 + 24; 4000 B: 36, 48 and 1000 B of 60; 1 B: from the rest of 60
    assert got == {0: 24.0, 1: 60.0, 2: 60.0}


def test_small_packets_share_an_opportunity_and_leftovers_are_not_banked():
    link = Link(LinkConfig(EVERY_12_MS))
    got = _run(link, [(0, 700), (0, 700), (0, 700), (13, 700)])
    # 700 + 700 + 100 of the third at 12; the third ends with 600 B of 24, and the packet
    # enqueued at 13 (before 24) fits in the 900 B left of it
    assert got == {0: 12.0, 1: 12.0, 2: 24.0, 3: 24.0}
    link = Link(LinkConfig(EVERY_12_MS))
    got = _run(link, [(0, 700), (30, 700)])
    # the 800 bytes left at 12 are gone; the next packet waits for 36
    assert got == {0: 12.0, 1: 36.0}


def test_trace_repeats_at_its_period():
    trace = Trace("t", np.array([0, 10]), 10)  # 0, 10, 10, 20, 20, 30, 30, ...
    link = Link(LinkConfig(trace))
    got = _run(link, [(0, 1500)] * 5 + [(95, 1500)])
    assert got == {0: 10.0, 1: 10.0, 2: 20.0, 3: 20.0, 4: 30.0, 5: 100.0}
    short = Trace("s", np.array([3, 5]), 5)  # 3, 5, 8, 10, 13, 15, ...
    link = Link(LinkConfig(short))
    got = _run(link, [(0, 1500)] * 6)
    assert list(got.values()) == [3.0, 5.0, 8.0, 10.0, 13.0, 15.0]


def test_propagation_delay_and_start_offset():
    link = Link(LinkConfig(EVERY_12_MS, delay_ms=40), start_ms=1000)
    got = _run(link, [(1000, 1500), (1000, 3000), (1005, 1)])
    assert got == {0: 1052.0, 1: 1076.0, 2: 1088.0}
    assert link.deliveries(2000) == []


def test_outage_is_jumped_not_walked():
    trace = generate.outage(1_000_000, duration_s=100, outage_at_s=10, outage_s=78)
    link = Link(LinkConfig(trace))
    got = _run(link, [(10_000.5, 1500), (10_000.5, 1500)])
    first_after = trace.opportunity_after(10_000.5)
    assert first_after >= 88_000
    assert got == {0: first_after, 1: first_after + 12}


def test_oracle_matches_an_empty_link():
    trace = generate.cellular(seed=3, duration_s=30)
    for t, size in [(0.0, 1200), (1234.5, 3100), (29_999.0, 1500), (45_000.2, 40)]:
        link = Link(LinkConfig(trace, delay_ms=25))
        got = _run(link, [(t, size)])[0]
        assert got == oracle_delivery_ms(trace, size, t, delay_ms=25)


def test_bernoulli_loss_rate_on_the_link():
    link = Link(LinkConfig(generate.constant(12_000_000, 1), loss=BernoulliLoss(0.2), seed=4))
    n = 20_000
    got = _run(link, [(float(i), 1000) for i in range(n)])
    lost = link.drops["loss"]
    assert lost + len(got) == n
    assert abs(lost / n - 0.2) < 5 * math.sqrt(0.2 * 0.8 / n)
    lost_records = [r for r in link.records if r.drop_reason == "loss"]
    assert len(lost_records) == lost
    assert all(r.departed_ms == r.dropped_ms for r in lost_records)  # lost after the queue


def test_gilbert_elliott_loss_is_bursty_on_the_link():
    model = GilbertElliottLoss.from_rate_and_burst(0.1, 5.0)
    link = Link(LinkConfig(generate.constant(12_000_000, 1), loss=model, seed=5))
    n = 50_000
    got = _run(link, [(float(i), 500) for i in range(n)])
    lost = [i not in got for i in range(n)]
    bursts, run = [], 0
    for x in lost:
        if x:
            run += 1
        elif run:
            bursts.append(run)
            run = 0
    assert sum(lost) / n == pytest.approx(0.1, rel=0.15)
    assert sum(bursts) / len(bursts) == pytest.approx(5.0, rel=0.12)


def test_queue_overflow_by_packets():
    link = Link(LinkConfig(EVERY_12_MS, queue=DropTail(limit_packets=3)))
    got = _run(link, [(0, 1500)] * 6 + [(13, 1500)])
    # 3 wait (the limit counts waiting packets); 3 dropped at 0; at 13 one has left
    assert sorted(got) == [0, 1, 2, 6]
    assert link.drops == {"queue-full": 3}
    dropped = [r for r in link.records if r.drop_reason == "queue-full"]
    assert [(r.packet_id, r.dropped_ms, r.departed_ms) for r in dropped] == [
        (3, 0.0, None),
        (4, 0.0, None),
        (5, 0.0, None),
    ]


def test_queue_overflow_by_bytes():
    link = Link(LinkConfig(EVERY_12_MS, queue=DropTail(limit_bytes=4000)))
    got = _run(link, [(0, 1500), (0, 1500), (0, 1500), (0, 900), (0, 100)])
    assert sorted(got) == [0, 1, 3, 4]
    assert link.drops == {"queue-full": 1}


def test_codel_on_the_link_under_a_standing_queue_and_a_burst():
    # offer 1.2 Mbit/s to 1 Mbit/s for 10 s: CoDel drops, a FIFO would not
    sends = [(i * 10.0, 1500) for i in range(1000)]
    codel = Link(LinkConfig(EVERY_12_MS, queue=CoDel()))
    _run(codel, sends)
    assert codel.drops.get("codel", 0) > 10
    assert all(r.departed_ms is None for r in codel.records if r.drop_reason == "codel")
    fifo = Link(LinkConfig(EVERY_12_MS))
    _run(fifo, sends)
    assert fifo.drops == {}
    # a 10-packet burst on an idle link: 120 ms of queue, but gone in one interval
    burst = Link(LinkConfig(EVERY_12_MS, queue=CoDel()))
    got = _run(burst, [(0.0, 1500)] * 8 + [(500.0 + 50 * i, 1500) for i in range(20)])
    assert burst.drops == {} and len(got) == 28


def test_reorder_and_duplicate_counts():
    n = 20_000
    config = LinkConfig(
        generate.constant(12_000_000, 1),
        reorder_prob=0.1,
        reorder_delay_ms=5.0,
        duplicate_prob=0.05,
        seed=6,
    )
    link = Link(config)
    for i in range(n):
        link.enqueue(Packet(1000, id=i), float(i))
    out = link.deliveries(1e9)
    originals = [d for d in out if not d.duplicate]
    duplicates = [d for d in out if d.duplicate]
    assert len(originals) == n
    assert abs(len(duplicates) - 0.05 * n) < 5 * math.sqrt(0.05 * 0.95 * n)
    late = sum(1 for d in originals if d.delivered_ms > d.enqueued_ms + 1.5)
    assert abs(late - 0.1 * n) < 5 * math.sqrt(0.1 * 0.9 * n)
    assert [d.delivered_ms for d in out] == sorted(d.delivered_ms for d in out)
    ids = [d.packet.id for d in originals]
    overtaken = sum(1 for a, b in itertools.pairwise(ids) if b < a)
    assert overtaken > 0.05 * n  # a delayed packet is overtaken by the next few
    assert link.duplicates_delivered == len(duplicates)
    assert link.delivered_packets == n


def _workload(seed, n=3000):
    rng = random.Random(seed)
    t, sends = 0.0, []
    for i in range(n):
        t += rng.expovariate(1 / 3.0)
        sends.append((t, Packet(rng.choice([80, 600, 1200, 1500, 2900]), id=i)))
    return sends


def _config(trace):
    return LinkConfig(
        trace,
        delay_ms=30,
        loss=GilbertElliottLoss.from_rate_and_burst(0.03, 2),
        queue=CoDel(limit_packets=200),
        reorder_prob=0.02,
        reorder_delay_ms=7,
        duplicate_prob=0.01,
        seed=11,
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_results_do_not_depend_on_when_the_caller_polls(seed):
    trace = generate.cellular(seed=seed, duration_s=20, mean_bps=2e6)
    sends = _workload(seed)
    end = sends[-1][0] + 60_000

    def run(poll_times):
        link = Link(_config(trace))
        out, polls, i = [], sorted(poll_times), 0
        for t, packet in sends:
            while i < len(polls) and polls[i] < t:
                out += link.deliveries(polls[i])
                i += 1
            link.enqueue(packet, t)
        out += link.deliveries(end)
        return out, link.records, link.drops

    every_ms = run(np.arange(0.0, sends[-1][0], 1.0).tolist())
    once = run([])
    rng = random.Random(seed)
    random_times = run([rng.uniform(0, sends[-1][0]) for _ in range(500)])
    assert every_ms == once == random_times
    sent_at = {packet.id: (t, packet.size_bytes) for t, packet in sends}
    for d in once[0]:  # nobody beats an empty link
        t, size = sent_at[d.packet.id]
        assert d.delivered_ms >= oracle_delivery_ms(trace, size, t, delay_ms=30)
    assert once[2].get("codel", 0) + once[2].get("loss", 0) > 0  # the case is not trivial


def test_next_event_time_drives_an_event_loop_exactly():
    trace = generate.cellular(seed=4, duration_s=20, mean_bps=2e6)
    sends = _workload(4)
    reference = Link(_config(trace))
    for t, packet in sends:
        reference.enqueue(packet, t)
    expected = reference.deliveries(1e12)

    link = Link(_config(trace))
    got, i, wakeups = [], 0, 0
    while True:
        timer = link.next_event_time()
        next_send = sends[i][0] if i < len(sends) else None
        if timer is None and next_send is None:
            break
        if next_send is not None and (timer is None or next_send <= timer):
            link.enqueue(sends[i][1], next_send)
            i += 1
            continue
        assert timer is not None
        wakeups += 1
        batch = link.deliveries(timer)
        assert all(d.delivered_ms == timer for d in batch)  # woken exactly on time
        got += batch
    assert got == expected
    assert wakeups < 2 * len(expected)


def test_counters_and_queue_delay():
    link = Link(LinkConfig(EVERY_12_MS, delay_ms=5))
    for i in range(4):
        link.enqueue(Packet(1500, id=i), 0.0)
    assert link.queue_delay_ms(6.0) == 6.0
    counters = link.counters(13.0)
    assert counters.queue_packets == 3 and counters.queue_bytes == 4500
    assert counters.queue_delay_ms == 13.0
    assert counters.delivered_packets == 0  # the first arrives at 17
    link.deliveries(100.0)
    counters = link.counters(100.0)
    assert (counters.delivered_packets, counters.delivered_bytes) == (4, 6000)
    assert counters.queue_packets == 0 and counters.queue_delay_ms == 0.0
    assert link.next_event_time() is None
    assert len(link.take_records()) == 4 and link.records == []


def test_packets_without_ids_are_numbered_and_time_never_goes_back():
    link = Link(LinkConfig(EVERY_12_MS))
    link.enqueue(Packet(100, payload=b"a"), 50.0)
    link.enqueue(Packet(100, payload=b"b"), 10.0)  # earlier than before: treated as 50
    out = link.deliveries(100.0)
    assert [(d.packet.id, d.packet.payload, d.enqueued_ms) for d in out] == [
        (0, b"a", 50.0),
        (1, b"b", 50.0),
    ]
    assert [d.delivered_ms for d in out] == [60.0, 60.0]


def test_bad_configuration_is_refused_in_one_line():
    for kwargs in (
        {"delay_ms": -1},
        {"reorder_prob": 2},
        {"duplicate_prob": -0.5},
        {"reorder_delay_ms": -3},
    ):
        with pytest.raises(ValueError) as info:
            LinkConfig(EVERY_12_MS, **kwargs)
        assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="size_bytes"):
        Packet(-1)


def test_a_long_call_conserves_packets_and_never_beats_the_trace():
    # 120 s of 1200-byte packets every 4 ms (2.4 Mbit/s) through a cellular trace
    trace = generate.cellular(seed=9, duration_s=120, mean_bps=2e6)
    link = Link(LinkConfig(trace, delay_ms=20, queue=DropTail(limit_packets=300)))
    sent = 0
    for step in range(30_000):
        link.enqueue(Packet(1200), step * 4.0)
        link.deliveries(step * 4.0)
        sent += 1
    link.deliveries(1e9)
    delivered = [r for r in link.records if r.delivered]
    assert len(delivered) + sum(link.drops.values()) == sent
    assert link.drops["queue-full"] > 0  # 2.4 Mbit/s offered to ~2 Mbit/s
    last_departure = max(r.departed_ms for r in delivered)
    capacity_bytes = trace.count_between(0, last_departure + 1) * 1500
    assert len(delivered) * 1200 <= capacity_bytes
    assert len(delivered) * 1200 >= 0.9 * capacity_bytes  # the queue was rarely empty
    assert all(r.delivered_ms == r.departed_ms + 20 for r in delivered)


def test_a_burst_drops_count_packets_in_a_row_and_composes_with_random_loss():
    def fates(bursts):
        config = LinkConfig(EVERY_12_MS, loss=BernoulliLoss(0.3), bursts=bursts, seed=7)
        link = Link(config, start_ms=1000.0)
        for i in range(40):  # one every 5 ms: packet i leaves at trace time 12 * (i + 1)
            link.enqueue(Packet(1500, id=i), 1000.0 + 5.0 * i)
        link.deliveries(1e9)
        assert link.drops.get("burst", 0) == sum(b.count for b in bursts)
        return {r.packet_id: r for r in link.records}

    plain = fates(())
    burst = fates((LossBurst(at_ms=100.0, count=3),))
    taken = sorted((r.departed_ms, i) for i, r in burst.items() if r.drop_reason == "burst")
    # the first departure at or after trace time 100 is at 108 (1108 on the caller's clock)
    assert taken == [(1108.0, 8), (1120.0, 9), (1132.0, 10)]
    assert all(r.dropped_ms == r.departed_ms for i, r in burst.items() if i in (8, 9, 10))
    # every other packet meets the fate it met without the burst: random loss is unchanged
    assert {i: r for i, r in burst.items() if i not in (8, 9, 10)} == {
        i: r for i, r in plain.items() if i not in (8, 9, 10)
    }
    assert sum(r.drop_reason == "loss" for r in burst.values()) >= 5


def test_links_sharing_a_burst_schedule_lose_count_packets_between_them():
    config = LinkConfig(EVERY_12_MS, bursts=(LossBurst(at_ms=50.0, count=3),))
    schedule = BurstSchedule(config.bursts)
    first, second = Link(config, 0.0, schedule), Link(config, 0.0, schedule)
    for i in range(10):
        first.enqueue(Packet(1500, id=i), 0.0)  # leave at 12, 24, ..., 120
    first.deliveries(54.0)  # 60 is not yet decided
    second.enqueue(Packet(1500, id=100), 54.0)  # leaves at 60 and is decided first
    second.deliveries(1e9)
    first.deliveries(1e9)
    assert second.drops == {"burst": 1}
    assert first.drops == {"burst": 2}
    assert [r.departed_ms for r in first.records if r.drop_reason] == [60.0, 72.0]
