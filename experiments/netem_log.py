"""Reading the relay's per-packet log (see netem.relay_meter for its records)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from experiments.jsonl import read_jsonl

MEDIA_DIRECTION = "up"  # see experiments.run: the offering sender allocates first


def records(netem_log: Path) -> list[dict[str, Any]]:
    return read_jsonl(netem_log)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def trace_zero_wall_s(log: Iterable[Mapping[str, Any]], connected_wall_s: float | None = None,
                      direction: str = MEDIA_DIRECTION) -> float | None:
    """Wall-clock time of the link's trace time 0 that the call used, or None if the log
    does not say. The relay logs a link each time a pair of allocations first exchanges data
    (and may log one again late in a call): the call's is the last one started at or before
    it connected, else the first."""
    origin_wall_s: float | None = None
    starts: list[float] = []
    for record in log:
        event = record.get("event")
        if event == "origin" and origin_wall_s is None:
            origin_wall_s = _number(record.get("wall_s"))
        elif event == "link" and record.get("direction") == direction:
            start = _number(record.get("start_ms"))
            if start is not None:
                starts.append(start)
    if origin_wall_s is None or not starts:
        return None
    starts.sort()
    chosen = starts[0]
    if connected_wall_s is not None:
        before = [s for s in starts if s <= (connected_wall_s - origin_wall_s) * 1000.0]
        chosen = before[-1] if before else starts[0]
    return origin_wall_s + chosen / 1000.0


def offered_kbps(netem_log: Path, start_ms: float, end_ms: float,
                 direction: str = MEDIA_DIRECTION) -> float:
    """Rate at which packets entered the link (sent, whatever became of them), log clock."""
    total = sum(r["size"] for r in records(netem_log)
                if r.get("direction") == direction and "enqueued_ms" in r
                and not r.get("duplicate") and start_ms <= r["enqueued_ms"] < end_ms)
    return total * 8 / (end_ms - start_ms)
