"""Reading the relay's per-packet log (see netem.relay_meter for its records)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MEDIA_DIRECTION = "up"  # see experiments.run: the offering sender allocates first


def records(netem_log: Path) -> Iterator[dict[str, Any]]:
    with open(netem_log, encoding="utf-8") as log:
        for line in log:
            yield json.loads(line)


def trace_start_wall_s(netem_log: Path, direction: str = MEDIA_DIRECTION) -> float | None:
    """Wall-clock time of the link's trace time 0, or None if the log does not say."""
    if not netem_log.exists():
        return None
    origin_wall_s: float | None = None
    start_ms: float | None = None
    for record in records(netem_log):
        event = record.get("event")
        if event == "origin":
            origin_wall_s = float(record["wall_s"])
        elif event == "link" and record.get("direction") == direction and start_ms is None:
            start_ms = float(record["start_ms"])
    if origin_wall_s is None or start_ms is None:
        return None
    return origin_wall_s + start_ms / 1000.0


def offered_kbps(netem_log: Path, start_ms: float, end_ms: float,
                 direction: str = MEDIA_DIRECTION) -> float:
    """Rate at which packets entered the link (sent, whatever became of them), log clock."""
    total = sum(r["size"] for r in records(netem_log)
                if r.get("direction") == direction and "enqueued_ms" in r
                and not r.get("duplicate") and start_ms <= r["enqueued_ms"] < end_ms)
    return total * 8 / (end_ms - start_ms)
