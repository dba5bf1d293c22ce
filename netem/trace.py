"""Mahimahi link traces: load, write, query and summarise.

A trace file holds one integer per line: a time in milliseconds at which the bottleneck may
send one MTU (1500 bytes). Repeated lines are several opportunities in the same millisecond.
Timestamps never decrease, and the file repeats with a period equal to its last timestamp
(a file holding only ``1`` is one packet per millisecond, 12 Mbit/s).

Opportunities are numbered across repeats: opportunity ``j`` happens at
``(j // n) * period_ms + opportunities_ms[j % n]`` where ``n`` is the number of lines.
Times are milliseconds from the start of the trace. Nothing here reads a clock.
"""

from __future__ import annotations

import bisect
import math
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

MTU_BYTES = 1500
BITS_PER_OPPORTUNITY = MTU_BYTES * 8
MS_PER_S = 1000.0
STATS_WINDOW_MS = 1000
STATS_MIN_SPAN_MS = 60_000  # a period shorter than one window is repeated to fill this
# Far beyond any recording (about 31,700 years), far below int64: numpy's fast parser
# saturates larger numbers at 2^63 - 1 instead of failing.
MAX_TIMESTAMP_MS = 10**15

_TWO_TOKENS_ON_A_LINE = re.compile(rb"\S[ \t]+\S")


class TraceError(ValueError):
    """A trace that cannot be used; the message is one line saying what to do."""


@dataclass(frozen=True, eq=False)
class Trace:
    """One period of a Mahimahi trace.

    ``opportunities_ms`` is sorted int64, one entry per delivery opportunity, and its last entry
    equals ``period_ms`` (the Mahimahi rule: a file repeats at its last timestamp). ``file`` is
    the absolute path it was read from (None when generated), so a log can name it exactly.
    """

    name: str
    opportunities_ms: np.ndarray
    period_ms: int
    file: str | None = None

    def __post_init__(self) -> None:
        ops = np.asarray(self.opportunities_ms)
        if ops.ndim != 1 or ops.size == 0:
            raise TraceError(f"trace {self.name!r}: no delivery opportunities; give at least one")
        if not np.issubdtype(ops.dtype, np.integer):
            raise TraceError(f"trace {self.name!r}: timestamps must be whole milliseconds")
        ops = ops.astype(np.int64, copy=True)
        if ops[0] < 0:
            raise TraceError(f"trace {self.name!r}: negative timestamp {ops[0]}; use times >= 0")
        if ops.size > 1 and bool(np.any(np.diff(ops) < 0)):
            raise TraceError(f"trace {self.name!r}: timestamps decrease; sort them")
        if int(ops[-1]) <= 0:
            raise TraceError(
                f"trace {self.name!r}: the last timestamp is 0, so there is no repeat period; "
                "end with a positive time"
            )
        if int(self.period_ms) != int(ops[-1]):
            raise TraceError(
                f"trace {self.name!r}: period_ms={self.period_ms} but the last timestamp is "
                f"{int(ops[-1])}; the period must equal the last timestamp"
            )
        ops.setflags(write=False)
        object.__setattr__(self, "opportunities_ms", ops)
        object.__setattr__(self, "period_ms", int(self.period_ms))

    # -- scalar queries (bisect on a cached list: fast for one value at a time) --

    @cached_property
    def _ops_list(self) -> list[int]:
        return [int(x) for x in self.opportunities_ms.tolist()]

    @property
    def packets_per_period(self) -> int:
        return int(self.opportunities_ms.size)

    def count_before(self, t_ms: float) -> int:
        """Number of opportunities at times strictly before ``t_ms`` (across repeats)."""
        if t_ms <= 0:
            return 0
        period = self.period_ms
        cycle = math.ceil(t_ms / period) - 1  # so that 0 < rest <= period
        rest = t_ms - cycle * period
        return cycle * len(self._ops_list) + bisect.bisect_left(self._ops_list, rest)

    def count_at_or_before(self, t_ms: float) -> int:
        """Number of opportunities at times <= ``t_ms``; also the index of the first one after."""
        if t_ms < 0:
            return 0
        period = self.period_ms
        cycle = math.floor(t_ms / period)
        rest = t_ms - cycle * period
        return cycle * len(self._ops_list) + bisect.bisect_right(self._ops_list, rest)

    def time_of(self, index: int) -> int:
        """Absolute time (ms) of opportunity number ``index`` (0-based, across repeats)."""
        cycle, i = divmod(index, len(self._ops_list))
        return cycle * self.period_ms + self._ops_list[i]

    def opportunity_at_or_after(self, t_ms: float) -> float:
        """Time of the first opportunity at or after ``t_ms``."""
        return float(self.time_of(self.count_before(t_ms)))

    def opportunity_after(self, t_ms: float) -> float:
        """Time of the first opportunity strictly after ``t_ms`` (what a packet arriving at
        ``t_ms`` can use, as in Mahimahi's link queue)."""
        return float(self.time_of(self.count_at_or_before(t_ms)))

    def count_between(self, start_ms: float, end_ms: float) -> int:
        """Opportunities in the half-open interval [start_ms, end_ms)."""
        if end_ms <= start_ms:
            return 0
        return self.count_before(end_ms) - self.count_before(start_ms)

    def capacity_bps(self, start_ms: float, end_ms: float) -> float:
        """Average capacity over [start_ms, end_ms) in bit/s."""
        if end_ms <= start_ms:
            raise ValueError(f"capacity_bps needs end_ms > start_ms, got {start_ms}..{end_ms}")
        bits = self.count_between(start_ms, end_ms) * BITS_PER_OPPORTUNITY
        return bits * MS_PER_S / (end_ms - start_ms)

    @property
    def mean_bps(self) -> float:
        """Average capacity over one period in bit/s."""
        return self.packets_per_period * BITS_PER_OPPORTUNITY * MS_PER_S / self.period_ms

    def iter_opportunities(self, from_ms: float = 0.0) -> Iterator[int]:
        """Absolute opportunity times at or after ``from_ms``, forever (the trace repeats)."""
        index = self.count_before(from_ms)
        ops = self._ops_list
        n = len(ops)
        cycle, i = divmod(index, n)
        base = cycle * self.period_ms
        while True:
            yield base + ops[i]
            i += 1
            if i == n:
                i = 0
                base += self.period_ms

    def counts_before(self, times_ms: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`count_before` for an array of times."""
        t = np.asarray(times_ms, dtype=np.float64)
        period = self.period_ms
        cycle = np.ceil(t / period) - 1
        rest = t - cycle * period
        counts = cycle.astype(np.int64) * self.packets_per_period + np.searchsorted(
            self.opportunities_ms, rest, side="left"
        )
        return np.where(t <= 0, 0, counts)


def load_trace(path: str | Path) -> Trace:
    """Read a Mahimahi trace file; raise :class:`TraceError` with file:line on bad input."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise TraceError(f"{path}: cannot read trace file ({reason}); check the path") from None
    ops = None
    if not _TWO_TOKENS_ON_A_LINE.search(raw):
        ops = _parse_fast(raw)
        if ops is not None and not _fast_checks_pass(ops):
            ops = None
    if ops is None:
        ops = _parse_slowly(path, raw)  # raises a precise error, or returns the same array
    return Trace(name=path.name, opportunities_ms=ops, period_ms=int(ops[-1]),
                 file=str(path.resolve()))


def _parse_fast(raw: bytes) -> np.ndarray | None:
    """numpy's C parser; None when anything is odd (the slow path then names the line)."""
    if not raw.strip():
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return np.fromstring(raw, dtype=np.int64, sep=" ")
        except (ValueError, OverflowError, DeprecationWarning):
            return None


def _fast_checks_pass(ops: np.ndarray) -> bool:
    if ops.size == 0 or ops[0] < 0 or ops[-1] <= 0 or ops[-1] > MAX_TIMESTAMP_MS:
        return False
    return not bool(np.any(np.diff(ops) < 0))


def _parse_slowly(path: Path, raw: bytes) -> np.ndarray:
    values: list[int] = []
    last_line = 0
    for number, line in enumerate(raw.splitlines(), start=1):
        text = line.strip()
        if not text:
            continue
        shown = text.decode("utf-8", errors="replace")
        if not re.fullmatch(rb"[+-]?[0-9]+", text):
            raise TraceError(
                f"{path}:{number}: {shown!r} is not a whole number of milliseconds; "
                "each line must hold one integer"
            )
        value = int(text)
        if value > MAX_TIMESTAMP_MS:
            raise TraceError(
                f"{path}:{number}: {shown[:30]!r} is too large; timestamps are milliseconds "
                f"and must be at most {MAX_TIMESTAMP_MS}"
            )
        if value < 0:
            raise TraceError(
                f"{path}:{number}: {value} is negative; timestamps are milliseconds from the "
                "start of the trace and must be >= 0"
            )
        if values and value < values[-1]:
            raise TraceError(
                f"{path}:{number}: {value} is smaller than {values[-1]} on line {last_line}; "
                "timestamps must never decrease (sort the file)"
            )
        values.append(value)
        last_line = number
    if not values:
        raise TraceError(
            f"{path}: the file holds no timestamps; a trace needs at least one line holding a "
            "positive integer"
        )
    if values[-1] == 0:
        raise TraceError(
            f"{path}:{last_line}: the last timestamp is 0, so the trace has no repeat period; "
            "it must end with a positive time"
        )
    return np.array(values, dtype=np.int64)


def write_trace(trace_or_timestamps: Trace | Iterable[int] | np.ndarray, path: str | Path) -> None:
    """Write a trace (or a sequence of timestamps, validated as a trace) in Mahimahi format."""
    path = Path(path)
    if isinstance(trace_or_timestamps, Trace):
        trace = trace_or_timestamps
    else:
        ops = np.asarray(
            list(trace_or_timestamps)
            if not isinstance(trace_or_timestamps, np.ndarray)
            else trace_or_timestamps
        )
        if ops.size == 0:
            raise TraceError(f"{path}: no timestamps to write; give at least one")
        trace = Trace(name=path.name, opportunities_ms=ops, period_ms=int(ops[-1]))
    text = "\n".join(str(v) for v in trace.opportunities_ms.tolist()) + "\n"
    path.write_text(text, encoding="ascii")


@dataclass(frozen=True, slots=True)
class TraceStats:
    """Capacity summary of one period, computed as in /work/shared/traces/README.md."""

    duration_s: float
    packets: int
    mean_mbps: float
    p5_mbps: float  # of full 1-s windows [k, k+1) s from t = 0
    median_mbps: float
    p95_mbps: float
    zero_windows: int  # 1-s windows without a single opportunity (outages)
    windows: int
    longest_gap_ms: int  # largest time between two opportunities, counting the wrap-around


def trace_stats(trace: Trace) -> TraceStats:
    """Summarise one period of ``trace`` (a period under 1 s is repeated to fill 60 s)."""
    period = trace.period_ms
    windows = period // STATS_WINDOW_MS
    if windows == 0:
        windows = STATS_MIN_SPAN_MS // STATS_WINDOW_MS
    edges = np.arange(windows + 1, dtype=np.float64) * STATS_WINDOW_MS
    counts = np.diff(trace.counts_before(edges))
    mbps = counts * BITS_PER_OPPORTUNITY / (STATS_WINDOW_MS / MS_PER_S) / 1e6
    p5, median, p95 = np.percentile(mbps, [5, 50, 95])
    ops = trace.opportunities_ms
    wrap_gap = int(ops[0])  # from the last timestamp (= period) to the first of the next period
    inner_gap = int(np.max(np.diff(ops))) if ops.size > 1 else 0
    return TraceStats(
        duration_s=period / MS_PER_S,
        packets=trace.packets_per_period,
        mean_mbps=trace.mean_bps / 1e6,
        p5_mbps=float(p5),
        median_mbps=float(median),
        p95_mbps=float(p95),
        zero_windows=int(np.sum(counts == 0)),
        windows=int(windows),
        longest_gap_ms=max(wrap_gap, inner_gap),
    )
