"""Metered links: sizes on the wire, per-direction reports, lateness, drops, packet log."""

from __future__ import annotations

import pytest

from netem import generate
from netem.link import LinkConfig
from netem.loss import BernoulliLoss
from netem.queues import DropTail
from netem.relay_meter import (
    IP_UDP_OVERHEAD_BYTES,
    DirectionMeter,
    LateHistogram,
    MeteredLink,
)
from netem.traces import resolve_trace
from netem.turn_paths import Direction


def test_saturated_link_reports_its_capacity_and_queue_delay() -> None:
    trace = resolve_trace("const-1mbps")  # one 1500-byte opportunity every 12 ms
    meter = DirectionMeter(Direction.UP, trace, delay_ms=30.0)
    link = MeteredLink(LinkConfig(trace=trace, delay_ms=30.0), meter, now_ms=1000.0)
    meter.report(1000.0)
    payload = 1500 - IP_UDP_OVERHEAD_BYTES
    for i in range(200):  # 200 full packets at once: 2.4 s of work for the link
        link.enqueue(payload, i, 1000.0)
    out: list[object] = []
    t = 1000.0
    while t < 3000.0:
        t = link.next_event_time() or 3000.0
        out += link.deliveries(t + 0.25)  # handed on 0.25 ms late
    report = meter.report(3000.0)
    assert out == list(range(len(out)))
    assert report.delivered_kbps == pytest.approx(1000.0, rel=0.02)
    assert report.capacity_kbps == pytest.approx(1000.0, rel=0.02)
    assert report.late_ms_p50 == pytest.approx(0.25) and report.late_ms_p99 == pytest.approx(0.25)
    # the last packet out had waited ~2 s at the bottleneck
    assert 1900.0 < report.queue_delay_ms_max < 2000.0
    assert report.line().startswith("netem   up: trace const-1mbps delivered")
    summary = meter.summary(3000.0)
    assert summary.delivered_packets == report.delivered_packets
    assert summary.line().startswith("netem total up: trace const-1mbps delivered")
    assert summary.late_ms_p99 == pytest.approx(0.25, abs=0.051)


def test_drops_are_counted_and_logged() -> None:
    trace = resolve_trace("const-1mbps")
    config = LinkConfig(trace=trace, queue=DropTail(limit_packets=5), loss=BernoulliLoss(0.5))
    records: list[dict] = []
    for log in (None, records.append):
        meter = DirectionMeter(Direction.DOWN, trace, 0.0)
        link = MeteredLink(config, meter, 0.0, log=log)
        for i in range(10):
            link.enqueue(100, i, 0.0)
        link.deliveries(1000.0)
        drops = meter.report(1000.0).drops
        assert drops["queue-full"] == 5  # five wait for the first opportunity, 5 are refused
        assert drops["loss"] >= 1
        assert sum(drops.values()) + meter.totals.delivered_packets == 10
    assert records[0] == {"event": "link", "direction": "down", "start_ms": 0.0,
                          "trace": "const-1mbps", "trace_file": None}
    records = records[1:]
    kinds = {("reason" in r, "sent_ms" in r) for r in records}
    assert kinds == {(True, False), (False, True)}
    assert all(r["direction"] == "down" and r["size"] == 128 for r in records)


def test_late_histogram_percentiles() -> None:
    h = LateHistogram()
    assert h.percentile(99) == 0.0
    for i in range(100):
        h.add(i * 0.1)  # 0.0 .. 9.9 ms
    assert h.percentile(50) == pytest.approx(5.0, abs=0.11)
    assert h.percentile(99) == pytest.approx(9.9, abs=0.11)
    h.add(5000.0)
    assert h.max_ms == 5000.0 and h.percentile(100) == 5000.0


def test_a_later_path_runs_on_the_trace_clock_of_the_first() -> None:
    # 1 Mbit/s with an outage over trace time [1 s, 3 s); the first link starts at 500 ms
    trace = generate.outage(1_000_000, duration_s=10, outage_at_s=1, outage_s=2)
    meter = DirectionMeter(Direction.UP, trace, delay_ms=0.0)
    records: list[dict] = []
    first = MeteredLink(LinkConfig(trace=trace), meter, now_ms=500.0, log=records.append)
    # an ICE restart 1.2 s later: new allocations, a new path, at trace time 1.2 s
    second = MeteredLink(LinkConfig(trace=trace), meter, now_ms=1700.0, log=records.append)
    assert first.link.start_ms == second.link.start_ms == meter.trace_start_ms == 500.0
    assert [r["start_ms"] for r in records] == [500.0, 500.0]
    for link in (first, second):
        link.enqueue(100, "in the outage", 2000.0)
        assert link.deliveries(3499.0) == []  # trace time 2.999 s: still in the outage
    # both leave at the first opportunity after the outage, at the same wall time
    assert first.next_event_time() == second.next_event_time()
    assert 3500.0 <= (first.next_event_time() or 0.0) <= 3512.0
    assert first.deliveries(3512.0) == second.deliveries(3512.0) == ["in the outage"]


def test_the_total_record_names_the_trace_file_and_its_capacity(tmp_path) -> None:
    path = tmp_path / "road.down"
    path.write_text("12\n")  # one opportunity every 12 ms: 1 Mbit/s
    trace = resolve_trace(path)
    meter = DirectionMeter(Direction.DOWN, trace, delay_ms=0.0)
    records: list[dict] = []
    link = MeteredLink(LinkConfig(trace=trace), meter, now_ms=600.0, origin_ms=100.0,
                       log=records.append)
    link.enqueue(1000, "x", 700.0)
    link.deliveries(800.0)
    assert records[0]["trace"] == "road.down" and records[0]["trace_file"] == str(path.resolve())
    total = meter.total_record(2600.0, origin_ms=100.0)
    assert total == {"event": "total", "direction": "down", "trace": "road.down",
                     "trace_file": str(path.resolve()), "start_ms": 500.0, "end_ms": 2500.0,
                     "delivered_bytes": 1000 + IP_UDP_OVERHEAD_BYTES, "delivered_packets": 1,
                     "delivered_kbps": 4.112, "capacity_kbps": 996.0, "drops": {}}  # 166 of 12 ms
