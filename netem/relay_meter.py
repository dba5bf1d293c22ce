"""Links for the relay, with per-direction statistics and a per-packet log. Sans-I/O.

:class:`MeteredLink` wraps one :class:`netem.link.Link` as the ``PathLink`` the TURN core
uses. Sizes on the link are IP packets, as Mahimahi sees them: the UDP payload plus
``IP_UDP_OVERHEAD_BYTES``. Every path of one direction reports to the same
:class:`DirectionMeter`, which turns what happened since the last report into one line:
delivered and capacity kbit/s, queue delay (time spent at the bottleneck, mean and max, of
the packets delivered), drops by reason, and how late packets were handed to the socket
compared with the link's schedule (``late``: p50/p99/max of actual - scheduled, the
adapter's timer error). :meth:`DirectionMeter.summary` gives the same for the whole run
(lateness then from a histogram of ``LATE_BIN_MS`` bins). Every line names the trace file the
direction applies, so a log shows which file each direction's traffic crossed.

Packet log records (one dict per packet, times in ms since ``origin_ms``, ``size`` in bytes
of the IP packet):
``{"direction", "size", "enqueued_ms", "delivered_ms", "sent_ms"}`` for delivered packets
(``delivered_ms`` is the scheduled time, ``sent_ms`` when it was actually handed on) and
``{"direction", "size", "enqueued_ms", "dropped_ms", "reason"}`` for dropped ones; a second
copy made by ``duplicate_prob`` is logged as delivered with ``"duplicate": true``. Each link
first logs ``{"event": "link", "direction", "start_ms", "trace", "trace_file"}``: where its trace
time 0 is and which trace it applies (``trace_file`` the absolute path, null for a generated
trace; the relay's first record, ``{"event": "origin", "wall_s"}``, ties ``origin_ms`` to the
wall clock). On close the relay logs :meth:`DirectionMeter.total_record` per direction.

A direction's trace clock starts where its link was made (``DirectionMeter.trace_start_ms``),
and its ``link`` record logs that ``start_ms``. The emulated link is the network, not one ICE
session: every path of the direction crosses the one link (``netem.turn_paths``), so a path
made later (new allocations after an ICE restart) finds the trace where the network is and
waits behind what is queued.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from netem.link import Link, LinkConfig, Packet
from netem.loss import BurstSchedule
from netem.trace import Trace
from netem.turn_paths import Direction

IP_UDP_OVERHEAD_BYTES = 28
BITS_PER_BYTE = 8

PacketSink = Callable[[dict[str, Any]], None]


LATE_BIN_MS = 0.05
LATE_BINS = 20_000  # up to 1 s; later ones share the last bin


@dataclass
class _Window:
    delivered_bytes: int = 0
    delivered_packets: int = 0
    queue_delay_sum_ms: float = 0.0
    queue_delay_max_ms: float = 0.0
    drops: dict[str, int] = field(default_factory=dict)
    late_ms: list[float] = field(default_factory=list)


class LateHistogram:
    """Counts of lateness (actual - scheduled) in ``LATE_BIN_MS`` bins, for whole runs."""

    def __init__(self) -> None:
        self.counts = [0] * LATE_BINS
        self.total = 0
        self.max_ms = 0.0

    def add(self, late_ms: float) -> None:
        index = int(late_ms / LATE_BIN_MS) if late_ms > 0 else 0
        self.counts[index if index < LATE_BINS else LATE_BINS - 1] += 1
        self.total += 1
        if late_ms > self.max_ms:
            self.max_ms = late_ms

    def percentile(self, q: float) -> float:
        """Upper edge of the bin holding the q-th percentile (0 when empty)."""
        if self.total == 0:
            return 0.0
        rank = q / 100.0 * self.total
        seen = 0
        for index, count in enumerate(self.counts):
            seen += count
            if count and seen >= rank:
                if index == LATE_BINS - 1:
                    return self.max_ms
                return min((index + 1) * LATE_BIN_MS, self.max_ms)
        return self.max_ms


@dataclass(frozen=True)
class DirectionReport:
    direction: Direction
    interval_ms: float
    delivered_kbps: float
    capacity_kbps: float
    delivered_packets: int
    queue_delay_ms_mean: float
    queue_delay_ms_max: float
    drops: dict[str, int]
    late_ms_p50: float
    late_ms_p99: float
    late_ms_max: float
    label: str = ""
    trace: str = ""  # the trace file's name

    def line(self) -> str:
        drops = sum(self.drops.values())
        detail = " ".join(f"{k}={v}" for k, v in sorted(self.drops.items()))
        name = f"{self.label} {self.direction.value}" if self.label else self.direction.value
        return (
            f"netem {name:>4}: trace {self.trace or '?'}"
            f" delivered {self.delivered_kbps:8.1f} kbit/s"
            f" capacity {self.capacity_kbps:8.1f} kbit/s"
            f" queue delay {self.queue_delay_ms_mean:6.1f} ms (max {self.queue_delay_ms_max:.1f})"
            f" drops {drops}{' (' + detail + ')' if detail else ''}"
            f" packets {self.delivered_packets}"
            f" late p50/p99/max {self.late_ms_p50:.2f}/{self.late_ms_p99:.2f}"
            f"/{self.late_ms_max:.2f} ms"
        )


class DirectionMeter:
    """What all links of one direction did.

    ``report(now_ms)`` closes a window (the per-second line); ``summary(now_ms)`` covers the
    whole run since the first link started.
    """

    def __init__(self, direction: Direction, trace: Trace, delay_ms: float) -> None:
        self.direction = direction
        self.trace = trace
        self.delay_ms = delay_ms
        self.trace_start_ms: float | None = None  # trace time 0 of every link of the direction
        self.window_start_ms: float | None = None
        self.totals = _Window()
        self.late = LateHistogram()
        self._window = _Window()

    def on_delivered(
        self, size: int, enqueued_ms: float, scheduled_ms: float, now_ms: float
    ) -> None:
        queue_ms = max(0.0, scheduled_ms - self.delay_ms - enqueued_ms)
        late_ms = now_ms - scheduled_ms
        for w in (self._window, self.totals):
            w.delivered_bytes += size
            w.delivered_packets += 1
            w.queue_delay_sum_ms += queue_ms
            if queue_ms > w.queue_delay_max_ms:
                w.queue_delay_max_ms = queue_ms
        self._window.late_ms.append(late_ms)
        self.late.add(late_ms)

    def on_dropped(self, reason: str, count: int = 1) -> None:
        for w in (self._window, self.totals):
            w.drops[reason] = w.drops.get(reason, 0) + count

    def report(self, now_ms: float) -> DirectionReport:
        start = self.window_start_ms if self.window_start_ms is not None else now_ms
        w, self._window = self._window, _Window()
        self.window_start_ms = now_ms
        late = np.percentile(w.late_ms, [50, 99]) if w.late_ms else (0.0, 0.0)
        return self._report(w, start, now_ms, float(late[0]), float(late[1]),
                            max(w.late_ms, default=0.0), "")

    def summary(self, now_ms: float) -> DirectionReport:
        start = self.trace_start_ms if self.trace_start_ms is not None else now_ms
        late = self.late
        return self._report(self.totals, start, now_ms, late.percentile(50),
                            late.percentile(99), late.max_ms, "total")

    def _report(
        self, w: _Window, start: float, now_ms: float, p50: float, p99: float, top: float,
        label: str,
    ) -> DirectionReport:
        span_ms = now_ms - start
        capacity_kbps = 0.0
        if span_ms > 0:
            origin = self.trace_start_ms if self.trace_start_ms is not None else start
            capacity_kbps = self.trace.capacity_bps(start - origin, now_ms - origin) / 1e3
        return DirectionReport(
            direction=self.direction,
            interval_ms=span_ms,
            delivered_kbps=w.delivered_bytes * BITS_PER_BYTE / span_ms if span_ms > 0 else 0.0,
            capacity_kbps=capacity_kbps,
            delivered_packets=w.delivered_packets,
            queue_delay_ms_mean=(
                w.queue_delay_sum_ms / w.delivered_packets if w.delivered_packets else 0.0
            ),
            queue_delay_ms_max=w.queue_delay_max_ms,
            drops=dict(w.drops),
            late_ms_p50=p50,
            late_ms_p99=p99,
            late_ms_max=top,
            label=label,
            trace=self.trace.name,
        )

    def total_record(self, now_ms: float, origin_ms: float) -> dict[str, Any]:
        """The packet log's ``{"event": "total", ...}`` record: :meth:`summary` plus the bytes and
        the window it covers (log clock), so a reader needs no other line."""
        s = self.summary(now_ms)
        start = self.trace_start_ms if self.trace_start_ms is not None else now_ms
        return {"event": "total", "direction": self.direction.value, **self.trace_names(),
                "start_ms": round(start - origin_ms, 3), "end_ms": round(now_ms - origin_ms, 3),
                "delivered_bytes": self.totals.delivered_bytes,
                "delivered_packets": s.delivered_packets,
                "delivered_kbps": round(s.delivered_kbps, 3),
                "capacity_kbps": round(s.capacity_kbps, 3), "drops": s.drops}

    def trace_names(self) -> dict[str, Any]:
        return {"trace": self.trace.name, "trace_file": self.trace.file}


class MeteredLink:
    """A ``netem.turn_paths.PathLink`` over a real :class:`Link`, reporting to a meter.

    Made at ``now_ms``, it runs on the meter's trace clock (which starts at ``now_ms`` if this
    is the direction's first link). ``bursts``: the direction's shared loss-burst schedule, so
    a burst takes its packets once per direction, not once per path. The link keeps
    per-packet records only when there is a packet log to write them to.
    """

    def __init__(
        self,
        config: LinkConfig,
        meter: DirectionMeter,
        now_ms: float,
        origin_ms: float = 0.0,
        log: PacketSink | None = None,
        bursts: BurstSchedule | None = None,
    ) -> None:
        if meter.trace_start_ms is None:
            meter.trace_start_ms = now_ms
        start_ms = meter.trace_start_ms
        self.link = Link(replace(config, keep_records=log is not None), start_ms, bursts)
        self.meter = meter
        self.origin_ms = origin_ms
        self.log = log
        self._drops_seen: dict[str, int] = {}
        if log is not None:  # where this link's trace time 0 is on the log's clock
            log({"event": "link", "direction": meter.direction.value,
                 "start_ms": round(start_ms - origin_ms, 3), **meter.trace_names()})

    def enqueue(self, size_bytes: int, payload: object, now_ms: float) -> None:
        link = self.link
        link.enqueue(Packet(size_bytes + IP_UDP_OVERHEAD_BYTES, payload), now_ms)
        if link.records or link.drops:
            self._take_drops()

    def deliveries(self, now_ms: float) -> list[object]:
        out: list[object] = []
        meter, log, origin = self.meter, self.log, self.origin_ms
        for d in self.link.deliveries(now_ms):
            size = d.packet.size_bytes
            meter.on_delivered(size, d.enqueued_ms, d.delivered_ms, now_ms)
            if log is not None:
                record = {
                    "direction": meter.direction.value,
                    "size": size,
                    "enqueued_ms": round(d.enqueued_ms - origin, 3),
                    "delivered_ms": round(d.delivered_ms - origin, 3),
                    "sent_ms": round(now_ms - origin, 3),
                }
                if d.duplicate:
                    record["duplicate"] = True  # the link's second copy of a packet
                log(record)
            out.append(d.packet.payload)
        if self.link.records or self.link.drops:
            self._take_drops()
        return out

    def next_event_time(self) -> float | None:
        return self.link.next_event_time()

    def _take_drops(self) -> None:
        log = self.log
        if log is None:
            drops = self.link.drops
            if sum(drops.values()) != sum(self._drops_seen.values()):
                for reason, count in drops.items():
                    new = count - self._drops_seen.get(reason, 0)
                    if new:
                        self.meter.on_dropped(reason, new)
                self._drops_seen = drops
            return
        for r in self.link.take_records():
            if r.drop_reason is None:
                continue
            self.meter.on_dropped(r.drop_reason)
            log({
                "direction": self.meter.direction.value,
                "size": r.size_bytes,
                "enqueued_ms": round(r.enqueued_ms - self.origin_ms, 3),
                "dropped_ms": round((r.dropped_ms or 0.0) - self.origin_ms, 3),
                "reason": r.drop_reason,
            })
