"""One direction of an emulated link, with Mahimahi's link-queue semantics. Sans-I/O.

Shape (as aioquic's connection): the caller feeds ``enqueue(packet, now_ms)``, drains
``deliveries(now_ms)`` and re-arms a timer at ``next_event_time()``. Time is milliseconds as
float on the caller's clock; ``start_ms`` is the caller time at which the trace starts. Calls
must come with non-decreasing ``now_ms`` (an earlier time is treated as the latest seen).

Semantics
---------
* Packets wait in the bottleneck queue (:mod:`netem.queues`). Each trace opportunity carries
  1500 bytes. A packet larger than what is left of the current opportunity uses the rest and
  continues in the following ones; several small packets share one opportunity. Bytes of an
  opportunity that find the queue empty are lost (no banking). As in Mahimahi, an opportunity
  at time T serves only packets enqueued before T: a packet enqueued at ``now_ms`` leaves at
  the earliest at the first opportunity strictly after ``now_ms``.
* A packet leaves the queue at the opportunity that carries its last byte (``departed_ms``).
  Then random loss is applied, because loss on a radio link happens after the bottleneck has
  spent capacity on the packet: a lost packet still uses its share of the trace (a loss
  stage after the bottleneck, not before it). Loss bursts (``bursts``) are decided at the same
  point, on trace time (``departed_ms - start_ms``); the random process still draws for a
  packet a burst takes, so adding a burst leaves the random fate of other packets as it was.
  Survivors get ``delay_ms`` of propagation, and with ``reorder_prob`` an extra
  ``reorder_delay_ms`` (so later packets can overtake them); with ``duplicate_prob`` a second
  copy arrives at the same time (flagged ``duplicate``).
* The trace repeats at its period. Service is computed lazily and only over opportunities
  that find packets waiting, so empty time costs nothing; the result depends only on the
  enqueue times, never on when the caller polls.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field

from netem.loss import BurstSchedule, LossBurst, LossModel, NoLoss
from netem.queues import DROP_QUEUE_FULL, DropTail, QueueConfig, QueuedPacket
from netem.trace import MTU_BYTES, Trace

DROP_LOSS = "loss"
DROP_BURST = "burst"


@dataclass(frozen=True, slots=True)
class Packet:
    """What crosses the link: a size, an opaque payload (e.g. a datagram and its address)."""

    size_bytes: int
    payload: object = None
    # A caller's id. The link numbers packets without one from 0 upwards (the Delivery then
    # carries a copy of the packet holding that number).
    id: int | None = None

    def __post_init__(self) -> None:
        if self.size_bytes < 0:
            raise ValueError(f"packet size_bytes={self.size_bytes}; sizes must be >= 0")


@dataclass(frozen=True, slots=True)
class Delivery:
    packet: Packet
    delivered_ms: float
    enqueued_ms: float
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class PacketRecord:
    """The fate of one packet: delivered (delivered_ms) or dropped (dropped_ms, drop_reason)."""

    packet_id: int
    size_bytes: int
    enqueued_ms: float
    departed_ms: float | None = None  # left the bottleneck queue (None: dropped in the queue)
    delivered_ms: float | None = None
    dropped_ms: float | None = None
    drop_reason: str | None = None  # "queue-full" | "codel" | "loss" | "burst"

    @property
    def delivered(self) -> bool:
        return self.delivered_ms is not None


def _check_probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}={value} is not a probability; give a value in [0, 1]")


@dataclass(frozen=True, slots=True)
class LinkConfig:
    """One direction of a link. Defaults: no delay, no loss, unlimited drop-tail queue."""

    trace: Trace
    delay_ms: float = 0.0  # one-way propagation, added after the packet leaves the queue
    loss: LossModel = field(default_factory=NoLoss)
    bursts: tuple[LossBurst, ...] = ()  # packets lost in a row at set trace times
    queue: QueueConfig = field(default_factory=DropTail)  # DropTail(...) or CoDel(...)
    reorder_prob: float = 0.0
    reorder_delay_ms: float = 0.0
    duplicate_prob: float = 0.0
    seed: int = 0
    keep_records: bool = True  # False for long-running relays: counters only

    def __post_init__(self) -> None:
        if not self.delay_ms >= 0.0:
            raise ValueError(f"delay_ms={self.delay_ms}; the propagation delay must be >= 0")
        if not self.reorder_delay_ms >= 0.0:
            raise ValueError(f"reorder_delay_ms={self.reorder_delay_ms}; it must be >= 0")
        _check_probability("reorder_prob", self.reorder_prob)
        _check_probability("duplicate_prob", self.duplicate_prob)


@dataclass(frozen=True, slots=True)
class LinkCounters:
    delivered_packets: int
    delivered_bytes: int
    duplicates_delivered: int
    drops: dict[str, int]
    queue_packets: int
    queue_bytes: int
    queue_delay_ms: float


class Link:
    """One direction of an emulated link. See the module docstring for the semantics."""

    def __init__(
        self, config: LinkConfig, start_ms: float = 0.0, bursts: BurstSchedule | None = None
    ) -> None:
        """``bursts``: a schedule shared with other links (built from ``config.bursts``
        when not given); it must come from the same ``config.bursts``."""
        self.config = config
        self.start_ms = float(start_ms)
        trace = config.trace
        self._ops: list[int] = trace._ops_list
        self._n = len(self._ops)
        self._period_ms = trace.period_ms
        self._queue = config.queue.create()
        seed = config.seed
        self._loss = config.loss.start(random.Random(f"{seed}:loss"))
        if bursts is None and config.bursts:
            bursts = BurstSchedule(config.bursts)
        self._bursts = bursts
        self._reorder_random = random.Random(f"{seed}:reorder").random
        self._duplicate_random = random.Random(f"{seed}:duplicate").random
        self._now_ms = -math.inf
        self._next_index = 0  # next opportunity to use, valid while packets wait
        self._next_ms = self._time_of(0)  # its time
        self._in_transit: QueuedPacket | None = None
        self._in_transit_left = 0  # bytes of the in-transit packet still to send
        self._pending: list[tuple[float, int, Delivery]] = []  # heap by delivery time
        self._pending_seq = 0
        self._auto_id = 0
        self._records: list[PacketRecord] = []
        self.delivered_packets = 0
        self.delivered_bytes = 0
        self.duplicates_delivered = 0
        self._drops: dict[str, int] = {}

    # -- the three calls of the sans-I/O loop --

    def enqueue(self, packet: Packet, now_ms: float) -> None:
        """Offer ``packet`` to the bottleneck queue at ``now_ms``."""
        now_ms = self._advance(now_ms)
        if packet.id is None:
            packet = Packet(packet.size_bytes, packet.payload, self._auto_id)
            self._auto_id += 1
        idle = self._in_transit is None and len(self._queue) == 0
        item = QueuedPacket(packet, packet.size_bytes, now_ms)
        if not self._queue.enqueue(item, now_ms):
            self._drop(item, now_ms, DROP_QUEUE_FULL)
            return
        if idle:
            # Opportunities at or before now were used or wasted; the first one after is next.
            self._next_index = self._count_at_or_before(now_ms)
            self._next_ms = self._time_of(self._next_index)

    def deliveries(self, now_ms: float) -> list[Delivery]:
        """Every packet whose delivery time is <= ``now_ms``, in order of delivery time."""
        now_ms = self._advance(now_ms)
        pending = self._pending
        out: list[Delivery] = []
        while pending and pending[0][0] <= now_ms:
            delivery = heapq.heappop(pending)[2]
            out.append(delivery)
            if delivery.duplicate:
                self.duplicates_delivered += 1
            else:
                self.delivered_packets += 1
                self.delivered_bytes += delivery.packet.size_bytes
        return out

    def next_event_time(self) -> float | None:
        """When to call :meth:`deliveries` next (None: nothing in flight or waiting).

        Never later than the next delivery; it can be earlier when the next packet to leave
        the queue turns out lost or dropped (then calling finds nothing and re-arms later).
        """
        best = self._pending[0][0] if self._pending else None
        if self._in_transit is not None:
            left = self._in_transit_left
        else:
            head = self._queue.peek()
            left = head.size_bytes if head is not None else -1
        if left >= 0:
            opportunities = max(1, -(-left // MTU_BYTES))
            leave_ms = self._time_of(self._next_index + opportunities - 1)
            arrive_ms = leave_ms + self.config.delay_ms
            if best is None or arrive_ms < best:
                best = arrive_ms
        return best

    # -- observation --

    @property
    def records(self) -> list[PacketRecord]:
        """Fates decided so far, in the order they were decided."""
        return self._records

    def take_records(self) -> list[PacketRecord]:
        """Return the records and start a fresh list (for long runs)."""
        records, self._records = self._records, []
        return records

    @property
    def drops(self) -> dict[str, int]:
        """Drops by reason ("queue-full", "codel", "loss", "burst")."""
        return dict(self._drops)

    @property
    def queue_packets(self) -> int:
        """Packets at the bottleneck (waiting, plus one partly sent), as of the last call."""
        return len(self._queue) + (self._in_transit is not None)

    @property
    def queue_bytes(self) -> int:
        """Bytes still to send at the bottleneck, as of the last call."""
        return self._queue.bytes_queued + (self._in_transit_left if self._in_transit else 0)

    def queue_delay_ms(self, now_ms: float) -> float:
        """How long the oldest packet at the bottleneck has waited, at ``now_ms``."""
        now_ms = self._advance(now_ms)
        oldest = self._in_transit or self._queue.peek()
        return 0.0 if oldest is None else now_ms - oldest.enqueued_ms

    def counters(self, now_ms: float) -> LinkCounters:
        delay = self.queue_delay_ms(now_ms)
        return LinkCounters(
            delivered_packets=self.delivered_packets,
            delivered_bytes=self.delivered_bytes,
            duplicates_delivered=self.duplicates_delivered,
            drops=self.drops,
            queue_packets=self.queue_packets,
            queue_bytes=self.queue_bytes,
            queue_delay_ms=delay,
        )

    # -- the model --

    def _time_of(self, index: int) -> float:
        cycle, i = divmod(index, self._n)
        return self.start_ms + cycle * self._period_ms + self._ops[i]

    def _count_at_or_before(self, now_ms: float) -> int:
        return self.config.trace.count_at_or_before(now_ms - self.start_ms)

    def _advance(self, now_ms: float) -> float:
        """Use every opportunity up to ``now_ms`` that finds packets waiting."""
        now_ms = float(now_ms)
        if now_ms < self._now_ms:
            now_ms = self._now_ms
        else:
            self._now_ms = now_ms
        queue = self._queue
        while self._next_ms <= now_ms and (self._in_transit is not None or len(queue)):
            t_ms = self._next_ms
            self._next_index += 1
            self._next_ms = self._time_of(self._next_index)
            budget = MTU_BYTES
            while budget > 0:
                if self._in_transit is None:
                    item, dropped = queue.dequeue(t_ms)
                    for lost in dropped:
                        self._drop(lost, t_ms, queue.drop_reason)
                    if item is None:
                        break  # the rest of this opportunity is wasted
                    self._in_transit = item
                    self._in_transit_left = item.size_bytes
                used = min(budget, self._in_transit_left)
                budget -= used
                self._in_transit_left -= used
                if self._in_transit_left == 0:
                    self._depart(self._in_transit, t_ms)
                    self._in_transit = None
        return now_ms

    def _depart(self, item: QueuedPacket, t_ms: float) -> None:
        config = self.config
        packet = item.packet
        assert isinstance(packet, Packet)
        burst = self._bursts is not None and self._bursts.is_lost(t_ms - self.start_ms)
        lost = self._loss.is_lost()  # drawn for a burst's packet too (see the module docstring)
        if burst or lost:
            self._drop(item, t_ms, DROP_BURST if burst else DROP_LOSS, departed_ms=t_ms)
            return
        arrive_ms = t_ms + config.delay_ms
        if config.reorder_prob > 0.0 and self._reorder_random() < config.reorder_prob:
            arrive_ms += config.reorder_delay_ms
        self._schedule(Delivery(packet, arrive_ms, item.enqueued_ms))
        if config.duplicate_prob > 0.0 and self._duplicate_random() < config.duplicate_prob:
            self._schedule(Delivery(packet, arrive_ms, item.enqueued_ms, duplicate=True))
        if config.keep_records:
            self._records.append(
                PacketRecord(
                    packet_id=_packet_id(packet),
                    size_bytes=item.size_bytes,
                    enqueued_ms=item.enqueued_ms,
                    departed_ms=t_ms,
                    delivered_ms=arrive_ms,
                )
            )

    def _schedule(self, delivery: Delivery) -> None:
        heapq.heappush(self._pending, (delivery.delivered_ms, self._pending_seq, delivery))
        self._pending_seq += 1

    def _drop(
        self, item: QueuedPacket, t_ms: float, reason: str, departed_ms: float | None = None
    ) -> None:
        self._drops[reason] = self._drops.get(reason, 0) + 1
        if self.config.keep_records:
            packet = item.packet
            assert isinstance(packet, Packet)
            self._records.append(
                PacketRecord(
                    packet_id=_packet_id(packet),
                    size_bytes=item.size_bytes,
                    enqueued_ms=item.enqueued_ms,
                    departed_ms=departed_ms,
                    dropped_ms=t_ms,
                    drop_reason=reason,
                )
            )


def _packet_id(packet: Packet) -> int:
    return packet.id if packet.id is not None else -1


def oracle_delivery_ms(
    trace: Trace, size_bytes: int, sent_ms: float, delay_ms: float = 0.0, start_ms: float = 0.0
) -> float:
    """Earliest arrival of a packet sent at ``sent_ms`` over an empty queue on ``trace``.

    Same rules as :class:`Link`: the first opportunity strictly after ``sent_ms``, and a packet
    of n bytes needs ceil(n / 1500) opportunities (at least one).
    """
    first = trace.count_at_or_before(sent_ms - start_ms)
    opportunities = max(1, -(-size_bytes // MTU_BYTES))
    return start_ms + trace.time_of(first + opportunities - 1) + delay_ms
