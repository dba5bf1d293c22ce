"""Queue disciplines for the link's bottleneck queue: drop-tail and CoDel (RFC 8289).

Both plug in behind :class:`QueueDiscipline`; the link keeps a frozen :class:`QueueConfig`
(``DropTail`` or ``CoDel``) and calls ``create()`` for a fresh queue. The queue only sees
packet sizes and enqueue times; the link calls ``dequeue(now_ms)`` at a delivery opportunity,
and an AQM may drop packets there (returned so the link can record them).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from netem.trace import MTU_BYTES

DROP_QUEUE_FULL = "queue-full"
DROP_CODEL = "codel"

CODEL_TARGET_MS = 5.0
CODEL_INTERVAL_MS = 100.0
CODEL_REENTRY_WINDOW_INTERVALS = 16  # RFC 8289: reuse the old count if we drop again soon

_NO_DROPS: tuple[QueuedPacket, ...] = ()


# An "unlimited" queue still stops here, so a flood cannot fill the memory (at 1 Mbit/s this
# is over 8 minutes of queue).
QUEUE_GUARD_BYTES = 64 * 1024 * 1024


class QueuedPacket(NamedTuple):
    """A packet waiting at the bottleneck: what the link put in, and when."""

    packet: object
    size_bytes: int
    enqueued_ms: float


class QueueDiscipline(Protocol):
    drop_reason: str  # the reason recorded for packets that dequeue() drops

    def enqueue(self, item: QueuedPacket, now_ms: float) -> bool:
        """Add ``item``; False means it was refused (dropped as "queue-full")."""
        ...

    def dequeue(self, now_ms: float) -> tuple[QueuedPacket | None, Sequence[QueuedPacket]]:
        """Next packet to send (None if empty) and any packets dropped on the way."""
        ...

    def peek(self) -> QueuedPacket | None: ...

    def __len__(self) -> int: ...

    @property
    def bytes_queued(self) -> int: ...


class QueueConfig(Protocol):
    def create(self) -> QueueDiscipline: ...


def _check_limits(limit_packets: int | None, limit_bytes: int | None) -> None:
    if limit_packets is not None and limit_packets < 1:
        raise ValueError(f"queue limit_packets={limit_packets}; give at least 1 or None")
    if limit_bytes is not None and limit_bytes < 1:
        raise ValueError(f"queue limit_bytes={limit_bytes}; give at least 1 or None")


class _Fifo:
    """A FIFO refusing arrivals that would exceed a packet and/or byte limit (drop-tail)."""

    drop_reason = DROP_QUEUE_FULL

    def __init__(self, limit_packets: int | None, limit_bytes: int | None) -> None:
        self._items: deque[QueuedPacket] = deque()
        self._bytes = 0
        self._limit_packets = limit_packets
        self._limit_bytes = limit_bytes

    def enqueue(self, item: QueuedPacket, now_ms: float) -> bool:
        if self._limit_packets is not None and len(self._items) + 1 > self._limit_packets:
            return False
        if self._limit_bytes is not None and self._bytes + item.size_bytes > self._limit_bytes:
            return False
        self._items.append(item)
        self._bytes += item.size_bytes
        return True

    def _pop(self) -> QueuedPacket | None:
        if not self._items:
            return None
        item = self._items.popleft()
        self._bytes -= item.size_bytes
        return item

    def dequeue(self, now_ms: float) -> tuple[QueuedPacket | None, Sequence[QueuedPacket]]:
        return self._pop(), _NO_DROPS

    def peek(self) -> QueuedPacket | None:
        return self._items[0] if self._items else None

    def __len__(self) -> int:
        return len(self._items)

    @property
    def bytes_queued(self) -> int:
        return self._bytes


@dataclass(frozen=True, slots=True)
class DropTail:
    """FIFO that drops arrivals beyond ``limit_packets`` and/or ``limit_bytes`` (None: no limit).

    The limits count packets waiting, not the one already being sent (as in Mahimahi).
    """

    limit_packets: int | None = None
    limit_bytes: int | None = None

    def __post_init__(self) -> None:
        _check_limits(self.limit_packets, self.limit_bytes)

    def create(self) -> QueueDiscipline:
        return _Fifo(self.limit_packets, self.limit_bytes)


class _CoDelQueue(_Fifo):
    """RFC 8289 CoDel: drop at dequeue once the sojourn time stays above target for an interval."""

    drop_reason = DROP_CODEL

    def __init__(self, config: CoDel) -> None:
        super().__init__(config.limit_packets, config.limit_bytes)
        self._target_ms = config.target_ms
        self._interval_ms = config.interval_ms
        self._max_packet_bytes = MTU_BYTES
        self._first_above_ms: float | None = None
        self._drop_next_ms = 0.0
        self._count = 0
        self._last_count = 0
        self.dropping = False

    def enqueue(self, item: QueuedPacket, now_ms: float) -> bool:
        self._max_packet_bytes = max(self._max_packet_bytes, item.size_bytes)
        return super().enqueue(item, now_ms)

    def _control_law(self, t_ms: float) -> float:
        return t_ms + self._interval_ms / math.sqrt(self._count)

    def _do_dequeue(self, now_ms: float) -> tuple[QueuedPacket | None, bool]:
        item = self._pop()
        if item is None:
            self._first_above_ms = None
            return None, False
        sojourn_ms = now_ms - item.enqueued_ms
        if sojourn_ms < self._target_ms or self._bytes <= self._max_packet_bytes:
            self._first_above_ms = None
            return item, False
        if self._first_above_ms is None:
            self._first_above_ms = now_ms + self._interval_ms
            return item, False
        return item, now_ms >= self._first_above_ms

    def dequeue(self, now_ms: float) -> tuple[QueuedPacket | None, Sequence[QueuedPacket]]:
        item, ok_to_drop = self._do_dequeue(now_ms)
        if item is None:
            self.dropping = False
            return None, _NO_DROPS
        dropped: list[QueuedPacket] = []
        if self.dropping:
            if not ok_to_drop:
                self.dropping = False
            while self.dropping and now_ms >= self._drop_next_ms and item is not None:
                dropped.append(item)
                self._count += 1
                item, ok_to_drop = self._do_dequeue(now_ms)
                if not ok_to_drop:
                    self.dropping = False
                else:
                    self._drop_next_ms = self._control_law(self._drop_next_ms)
        elif ok_to_drop:
            dropped.append(item)
            item, _ = self._do_dequeue(now_ms)
            self.dropping = True
            delta = self._count - self._last_count
            reentry_ms = CODEL_REENTRY_WINDOW_INTERVALS * self._interval_ms
            if delta > 1 and now_ms - self._drop_next_ms < reentry_ms:
                self._count = delta
            else:
                self._count = 1
            self._drop_next_ms = self._control_law(now_ms)
            self._last_count = self._count
        return item, dropped


@dataclass(frozen=True, slots=True)
class CoDel:
    """CoDel AQM (RFC 8289) with its published defaults, plus an optional drop-tail limit."""

    target_ms: float = CODEL_TARGET_MS
    interval_ms: float = CODEL_INTERVAL_MS
    limit_packets: int | None = None
    limit_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.target_ms <= 0 or self.interval_ms <= 0:
            raise ValueError(
                f"CoDel target_ms={self.target_ms}, interval_ms={self.interval_ms}; "
                "both must be positive"
            )
        _check_limits(self.limit_packets, self.limit_bytes)

    def create(self) -> QueueDiscipline:
        return _CoDelQueue(self)
