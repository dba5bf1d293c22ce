"""What a fault on the media path cost a call, from its logs (pure: records in, figures out).

Times are wall-clock seconds. A fault spans [start_s, end_s] (an instant for a loss burst);
the sender's `rate` records (cumulative bytes sent, a few per second) give its sending rate,
the receiver's `shown` records what the viewer saw, and both sides' `event` records what the
connection went through (see peer.call).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

RATE_WINDOW_S = 1.0  # sending rate = bytes sent over the last second
RATE_BEFORE_S = 5.0  # "the rate it had" = the mean over this long before the fault
RECOVERED_RATE_SHARE = 0.8

Record = Mapping[str, Any]


@dataclass(frozen=True)
class FaultWindow:
    start_s: float
    end_s: float


@dataclass(frozen=True)
class FaultCost:
    recovery_s: float | None  # fault over -> first frame captured after it is shown
    frames_lost: int | None  # source frames never shown between the last one before the fault
    #                          and that first fresh one
    stale_frames: int  # frames captured during the fault, shown after it ended
    stale_until_s: float | None  # fault over -> the last of those shown (a queue drains slowly)
    floor_s: float | None  # fault start -> sending rate at or below the floor
    rate_back_s: float | None  # fault over -> sending rate back to 80 % of before
    rate_before_kbps: float | None
    connection_lost_s: float | None  # fault start -> either side declared the path dead
    restarts: int  # new sessions that connected
    restarted_s: float | None  # fault over -> the new session connected
    keyframe_requests: int  # PLIs the receiver sent from the fault's start to 2 s after it
    keyframe_s: float | None  # fault start -> first keyframe shown after a PLI
    connection_states: tuple[str, ...]  # what the connection went through (both sides)


def shown(records: Sequence[Record]) -> list[Record]:
    return [r for r in records if r.get("type") == "shown"]


def events(records: Sequence[Record], name: str) -> list[Record]:
    return [r for r in records if r.get("type") == "event" and r.get("event") == name]


def sending_kbps(rates: Sequence[Record], end_s: float, window_s: float = RATE_WINDOW_S
                 ) -> float | None:
    """Sending rate over (end_s - window_s, end_s] from cumulative byte counts, or None when
    the records do not cover that window."""
    before = [r for r in rates if r["at"] <= end_s - window_s]
    upto = [r for r in rates if r["at"] <= end_s]
    if not before or not upto:
        return None
    a, b = before[-1], upto[-1]
    if b["at"] <= a["at"]:
        return None
    return (b["bytes_sent"] - a["bytes_sent"]) * 8 / 1000 / (b["at"] - a["at"])


def _first_time(rates: Sequence[Record], after_s: float, test: Any) -> float | None:
    for record in rates:
        if record["at"] >= after_s:
            kbps = sending_kbps(rates, record["at"])
            if kbps is not None and test(kbps):
                return float(record["at"]) - after_s
    return None


def measure(fault: FaultWindow, receiver: Sequence[Record], sender: Sequence[Record],
            floor_kbps: float) -> FaultCost:
    frames = sorted(shown(receiver), key=lambda r: r["shown_at"])
    fresh = [r for r in frames if r.get("captured_at") is not None
             and r["captured_at"] >= fault.end_s]
    first_fresh = fresh[0] if fresh else None
    recovery_s = first_fresh["shown_at"] - fault.end_s if first_fresh else None
    frames_lost = None
    before = [r for r in frames if r["shown_at"] < fault.start_s and r.get("frame_id") is not None]
    if first_fresh is not None and first_fresh.get("frame_id") is not None and before:
        last_id, first_id = before[-1]["frame_id"], first_fresh["frame_id"]
        seen = {r["frame_id"] for r in frames if r.get("frame_id") is not None
                and last_id < r["frame_id"] < first_id}
        frames_lost = max(0, first_id - last_id - 1 - len(seen))
    stale = [r["shown_at"] for r in frames if r["shown_at"] >= fault.end_s
             and r.get("captured_at") is not None
             and fault.start_s <= r["captured_at"] < fault.end_s]

    rates = sorted((r for r in sender if r.get("type") == "rate"), key=lambda r: r["at"])
    rate_before = sending_kbps(rates, fault.start_s, RATE_BEFORE_S)
    floor_s = _first_time(rates, fault.start_s, lambda kbps: kbps <= floor_kbps)
    rate_back_s = None
    if rate_before:
        rate_back_s = _first_time(rates, fault.end_s,
                                  lambda kbps: kbps >= RECOVERED_RATE_SHARE * rate_before)

    both = [*receiver, *sender]
    lost = sorted(r["at"] for r in events(both, "connection-lost") if r["at"] >= fault.start_s)
    restarted = sorted(r["at"] for r in events(sender, "restarted") if r["at"] >= fault.start_s)
    plis = [r["at"] for r in events(receiver, "pli")
            if fault.start_s <= r["at"] <= fault.end_s + 2.0]
    keyframes = [r["shown_at"] for r in frames if r.get("keyframe") and plis
                 and r["shown_at"] >= plis[0]]
    states = tuple(f"{r['state']}@{r['at'] - fault.start_s:+.1f}s"
                   for r in sorted(events(both, "connection-state"), key=lambda r: r["at"])
                   if r["state"] != "connecting")
    return FaultCost(
        recovery_s=recovery_s, frames_lost=frames_lost, stale_frames=len(stale),
        stale_until_s=max(stale) - fault.end_s if stale else None,
        floor_s=floor_s, rate_back_s=rate_back_s, rate_before_kbps=rate_before,
        connection_lost_s=lost[0] - fault.start_s if lost else None,
        restarts=len(restarted),
        restarted_s=restarted[0] - fault.end_s if restarted else None,
        keyframe_requests=len(plis),
        keyframe_s=keyframes[0] - fault.start_s if keyframes else None,
        connection_states=states,
    )
