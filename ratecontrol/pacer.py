"""Pacer: a leaky bucket that spreads a frame's packets over time instead of one burst.

Sans-I/O, in the shape of aioquic's connection: the caller `enqueue`s packets, sends whatever
`pop_ready(now_ms)` returns, and wakes up again at `next_send_time(now_ms)`.

* Rate: `set_rate(pacing_bps)` sets the drain rate directly (what `RateController.pacing_bps()`
  returns); `set_target(target_bps)` multiplies by `pacing_factor` (2.5, libwebrtc's default),
  so a frame leaves in about 1/2.5 of a frame interval and the queue stays short. `set_rate(None)`
  makes the pacer a pass-through: every packet is ready at once (stock aiortc's burst).
* Leaky bucket as media *debt* (libwebrtc's PacingController): each packet sent adds its size
  to the debt, which drains at the rate; a packet may leave while the debt is at most
  `burst_ms` (5 ms) worth of the rate. No credit builds up while idle beyond that burst.
* Queue-time limit: when the queue could not drain within `max_queue_time_ms` (2 s, as
  libwebrtc) at the set rate, the pacer raises its rate to `queued bits / (limit - average
  time in queue)` (at least 1 ms left), as libwebrtc's "drain large queues" does. Nothing is
  dropped here: skipping frames before the queue grows is the coupler's job.
* Order: by priority, as libwebrtc's pacer: sound first, then resends, then video; first in,
  first out within each. Sound is not held by the debt (libwebrtc paces audio only behind a
  field trial): its few small packets leave at once, so what the listener's jitter buffer sees
  is the microphone's own timing, not a video frame's pacing. Its bytes still count in the debt.
  Time going backwards is treated as no time passing.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import IntEnum
from typing import Generic, TypeVar

T = TypeVar("T")

PACING_FACTOR = 2.5
MAX_QUEUE_TIME_MS = 2000.0
BURST_TIME_MS = 5.0
MIN_DRAIN_TIME_MS = 1.0
MIN_DRAIN_BPS = 1000.0  # floor while packets wait, so a zero rate cannot stall the queue
BITS_PER_BYTE = 8
MS_PER_S = 1000.0
_EPSILON_BYTES = 1e-6


class Priority(IntEnum):
    """Which packets leave first: the lower, the sooner (libwebrtc's order)."""

    AUDIO = 0
    RETRANSMISSION = 1
    VIDEO = 2


@dataclass(frozen=True, slots=True)
class PacerConfig:
    pacing_factor: float = PACING_FACTOR  # drain rate / target rate, used by set_target()
    max_queue_time_ms: float = MAX_QUEUE_TIME_MS  # the rate is raised to drain within this
    burst_ms: float = BURST_TIME_MS  # this much of the rate may leave back to back
    initial_rate_bps: float | None = None  # None: pass-through until a rate is set
    pace_audio: bool = False  # True: sound waits for the debt like the rest

    def __post_init__(self) -> None:
        if not self.pacing_factor > 0:
            raise ValueError(f"pacing_factor must be > 0, got {self.pacing_factor}")
        if not self.max_queue_time_ms > 0:
            raise ValueError(f"max_queue_time_ms must be > 0, got {self.max_queue_time_ms}")
        if self.burst_ms < 0:
            raise ValueError(f"burst_ms must be >= 0, got {self.burst_ms}")


def _bytes_per_ms(rate_bps: float) -> float:
    return rate_bps / BITS_PER_BYTE / MS_PER_S


class Pacer(Generic[T]):
    def __init__(self, config: PacerConfig | None = None) -> None:
        self.config = config or PacerConfig()
        self._rate_bps: float | None = None
        # One queue per Priority of (item, size, enqueue time).
        self._queues: tuple[deque[tuple[T, int, float]], ...] = tuple(deque() for _ in Priority)
        self._queued_packets = 0
        self._queued_bytes = 0
        self._enqueue_ms_sum = 0.0
        self._debt_bytes = 0.0
        self._last_ms: float | None = None
        self._drain_bps = 0.0  # effective rate since _last_ms
        if self.config.initial_rate_bps is not None:
            self._rate_bps = max(0.0, self.config.initial_rate_bps)

    # -- configuration ---------------------------------------------------------------------
    def set_rate(self, pacing_bps: float | None, now_ms: float) -> None:
        """Drain at `pacing_bps` from now on (None: no pacing, every packet ready at once)."""
        self._advance(now_ms)
        self._rate_bps = None if pacing_bps is None else max(0.0, pacing_bps)
        self._refresh(now_ms)

    def set_target(self, target_bps: float, now_ms: float) -> None:
        """Drain at `pacing_factor` times the encoder's target rate."""
        self.set_rate(target_bps * self.config.pacing_factor, now_ms)

    # -- packets ---------------------------------------------------------------------------
    def enqueue(self, item: T, size_bytes: int, now_ms: float,
                priority: Priority = Priority.VIDEO) -> None:
        if size_bytes < 0:
            raise ValueError(f"packet size must be >= 0 bytes, got {size_bytes}")
        self._advance(now_ms)
        self._queues[priority].append((item, size_bytes, now_ms))
        self._queued_packets += 1
        self._queued_bytes += size_bytes
        self._enqueue_ms_sum += now_ms
        self._refresh(now_ms)

    def pop_ready(self, now_ms: float) -> list[T]:
        """The packets that may leave now, in order."""
        self._advance(now_ms)
        out: list[T] = []
        allowance = self._allowance_bytes()
        while (queue := self._next_queue()) is not None and (
            self._rate_bps is None or self._debt_bytes <= allowance + _EPSILON_BYTES
            or self._unpaced(queue)
        ):
            item, size, enqueued_ms = queue.popleft()
            self._queued_packets -= 1
            self._queued_bytes -= size
            self._enqueue_ms_sum -= enqueued_ms
            if self._rate_bps is not None:
                self._debt_bytes += size
            out.append(item)
        if not self._queued_packets:
            self._enqueue_ms_sum = 0.0  # no float drift across idle periods
        self._refresh(now_ms)
        return out

    def next_send_time(self, now_ms: float) -> float | None:
        """When the next packet may leave (ms; `now_ms` if already), None if the queue is empty."""
        self._advance(now_ms)
        queue = self._next_queue()
        if queue is None:
            return None
        last = self._last_ms if self._last_ms is not None else now_ms
        excess = self._debt_bytes - self._allowance_bytes()
        if self._rate_bps is None or excess <= _EPSILON_BYTES or self._unpaced(queue):
            return last
        return last + excess / _bytes_per_ms(self._drain_bps)

    # -- state -----------------------------------------------------------------------------
    @property
    def queued_packets(self) -> int:
        return self._queued_packets

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    def rate_bps(self) -> float | None:
        """The rate the pacer drains at now, including any raise for the queue-time limit."""
        return None if self._rate_bps is None else self._drain_bps

    def queue_ms(self, now_ms: float) -> float:
        """How long what is queued (and the debt ahead of it) takes to leave at today's rate."""
        self._advance(now_ms)
        if self._rate_bps is None or not self._queued_packets:
            return 0.0
        return (self._debt_bytes + self._queued_bytes) / _bytes_per_ms(self._drain_bps)

    def oldest_queued_ms(self, now_ms: float) -> float:
        """How long the packet queued longest has waited (0 when empty)."""
        oldest = min((queue[0][2] for queue in self._queues if queue), default=now_ms)
        return max(0.0, now_ms - oldest)

    # -- internals -------------------------------------------------------------------------
    def _next_queue(self) -> deque[tuple[T, int, float]] | None:
        """The queue the next packet leaves from: the first non-empty one by priority."""
        return next((queue for queue in self._queues if queue), None)

    def _unpaced(self, queue: deque[tuple[T, int, float]]) -> bool:
        return queue is self._queues[Priority.AUDIO] and not self.config.pace_audio

    def _allowance_bytes(self) -> float:
        return _bytes_per_ms(self._drain_bps) * self.config.burst_ms

    def _advance(self, now_ms: float) -> None:
        if self._last_ms is None or now_ms <= self._last_ms:
            self._last_ms = now_ms if self._last_ms is None else self._last_ms
            return
        elapsed = now_ms - self._last_ms
        self._debt_bytes = max(0.0, self._debt_bytes - _bytes_per_ms(self._drain_bps) * elapsed)
        self._last_ms = now_ms

    def _refresh(self, now_ms: float) -> None:
        """Recompute the drain rate: the set rate, raised if the queue would take too long."""
        rate = self._rate_bps or 0.0
        if self._queued_packets:
            average_wait_ms = now_ms - self._enqueue_ms_sum / self._queued_packets
            left_ms = max(MIN_DRAIN_TIME_MS, self.config.max_queue_time_ms - average_wait_ms)
            needed_bps = self._queued_bytes * BITS_PER_BYTE * MS_PER_S / left_ms
            rate = max(rate, needed_bps, MIN_DRAIN_BPS)
        self._drain_bps = rate
