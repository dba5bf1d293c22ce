"""Propagation delay as a sans-I/O stage: items go in with an arrival time, come out when due.

The netem Link models the bottleneck (trace, queue, loss); the simulator puts this after it so
the one-way delay can change mid-call (a packet gets the delay in force when it leaves the
bottleneck). Items due at the same time come out in the order they went in.
"""

from __future__ import annotations

import heapq
from typing import Generic, TypeVar

T = TypeVar("T")


class DelayLine(Generic[T]):
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, T]] = []
        self._count = 0

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, item: T, arrive_ms: float) -> None:
        heapq.heappush(self._heap, (arrive_ms, self._count, item))
        self._count += 1

    def pop_due(self, now_ms: float) -> list[tuple[float, T]]:
        """(arrival time, item) of everything due at or before `now_ms`, earliest first."""
        out: list[tuple[float, T]] = []
        while self._heap and self._heap[0][0] <= now_ms:
            arrive_ms, _, item = heapq.heappop(self._heap)
            out.append((arrive_ms, item))
        return out

    def next_time(self) -> float | None:
        """Arrival time of the next item, or None when nothing is in flight."""
        return self._heap[0][0] if self._heap else None
