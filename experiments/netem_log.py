"""Reading the relay's per-packet log (see netem.relay_meter for its records)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.jsonl import read_jsonl
from netem.trace import Trace, TraceError, load_trace
from netem.traces import resolve_trace

# What experiments.run means media to cross: netem puts what the sender's TURN user sends on
# `up` (--up-user). media_link says what it actually crossed.
MEDIA_DIRECTION = "up"


def records(netem_log: Path) -> list[dict[str, Any]]:
    return read_jsonl(netem_log)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def trace_zero_wall_s(log: Iterable[Mapping[str, Any]], connected_wall_s: float | None = None,
                      direction: str = MEDIA_DIRECTION) -> float | None:
    """Wall-clock time of the link's trace time 0 that the call used, or None if the log
    does not say. The relay logs one link per direction, when it first carries data; logs
    from before it had one queue per direction hold one per pair of allocations (and maybe
    one more late in a call): the call's is the last one started at or before it connected,
    else the first."""
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


@dataclass(frozen=True)
class MediaLink:
    """What netem did with a call's media: the direction that carried the most bytes in the
    call's window (a sender's media outweighs the feedback many times), the trace file it
    applied there, and that file's capacity over the call's window (None if unknown)."""

    direction: str
    trace: str | None
    capacity_kbps: float | None

    def summary_fields(self) -> dict[str, Any]:
        """The per-call summary's `media_trace` and `media_capacity_kbps`."""
        capacity = None if self.capacity_kbps is None else round(self.capacity_kbps, 1)
        return {"media_trace": self.trace, "media_capacity_kbps": capacity}


def media_link(log: Iterable[Mapping[str, Any]], start_wall_s: float,
               end_wall_s: float) -> MediaLink | None:
    """The link the media of a call over [start_wall_s, end_wall_s) (wall clock) crossed, from
    netem's packet log; None when the log has no clock or no packet in that window."""
    log = list(log)
    origin = next((r for r in log if r.get("event") == "origin"), None)
    if origin is None:
        return None
    origin_wall_s = _number(origin.get("wall_s"))
    if origin_wall_s is None or end_wall_s <= start_wall_s:
        return None
    start_ms, end_ms = ((t - origin_wall_s) * 1000.0 for t in (start_wall_s, end_wall_s))
    offered: dict[str, int] = {}
    for r in log:
        direction, at, size = r.get("direction"), _number(r.get("enqueued_ms")), r.get("size")
        if (isinstance(direction, str) and at is not None and isinstance(size, int)
                and not r.get("duplicate") and start_ms <= at < end_ms):
            offered[direction] = offered.get(direction, 0) + size
    if not offered:
        return None
    direction = max(offered, key=lambda d: offered[d])
    name, file = _applied_trace(log, origin, direction)
    zero_s = trace_zero_wall_s(log, start_wall_s, direction)
    trace = _load(name, file)
    if trace is None or zero_s is None:
        return MediaLink(direction, name, None)
    window = (max(0.0, (start_wall_s - zero_s) * 1000.0), (end_wall_s - zero_s) * 1000.0)
    capacity = trace.capacity_bps(*window) / 1000.0 if window[1] > window[0] else None
    return MediaLink(direction, name, capacity)


def _applied_trace(log: list[Mapping[str, Any]], origin: Mapping[str, Any],
                   direction: str) -> tuple[str | None, str | None]:
    """(name, file) of the trace netem applied to `direction`: its link records say, else the
    origin record."""
    sources = [r for r in log if r.get("event") == "link" and r.get("direction") == direction]
    named = origin.get(direction)
    if isinstance(named, Mapping):
        sources.append(named)
    for source in sources:
        name, file = source.get("trace"), source.get("trace_file")
        if isinstance(name, str):
            return name, file if isinstance(file, str) else None
    return None, None


def _load(name: str | None, file: str | None) -> Trace | None:
    try:
        if file is not None and Path(file).is_file():
            return load_trace(file)
        return resolve_trace(name) if name is not None else None
    except TraceError:
        return None
