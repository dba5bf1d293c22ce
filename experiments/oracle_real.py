"""Completing a real call's summary with what the link allowed: capacity, oracle delay and
the signal floor, by the one definition of experiments.oracle.

The relay's packet log says when its clock began on the wall clock (`origin` event) and when
the media link's trace time 0 was (`link` event), so a frame captured at wall time t met the
trace at (t - trace start). The call's window is the receiver's [start_s, start_s +
duration_s] on the same wall clock; the ideal sender of the floor captures at the sender's
frame rate (`source_fps` in the receiver's summary line, else the test pattern's).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from experiments.jsonl import read_jsonl
from experiments.link_spec import LinkSpec, trace_files
from experiments.netem_log import records, trace_zero_wall_s
from experiments.oracle import oracle_delay_ms, signal_floor_ms_p95
from experiments.sim.packetizer import wire_bytes
from netem.trace import Trace
from netem.traces import resolve_trace
from peer.metrics import DEFAULT_SOURCE_FPS, CallSummary


def completed_summary(folder: Path, link: LinkSpec, summary: Mapping[str, Any]
                      ) -> dict[str, Any]:
    """The receiver's summary line `summary` (its extra keys kept) with capacity_kbps,
    oracle_delay_ms_p95 and signal_floor_ms_p95 filled in when the logs allow."""
    receiver = read_jsonl(folder / "receiver.jsonl")
    connected = next((r.get("at") for r in receiver if r.get("event") == "connected"), None)
    zero_s = trace_zero_wall_s(records(folder / "netem.jsonl"), connected)
    frames = [r for r in receiver
              if r.get("type") == "shown" and r.get("captured_at") is not None]
    if zero_s is None or not frames:
        return dict(summary)
    trace = resolve_trace(trace_files(link.trace)[0])
    start_ms = (frames[0]["captured_at"] - zero_s) * 1000
    end_ms = (frames[-1]["shown_at"] - zero_s) * 1000
    capacity_kbps = trace.capacity_bps(max(0.0, start_ms), max(1.0, end_ms)) / 1000
    oracle = []
    for frame in frames:
        if frame.get("bytes"):
            t_ms = (frame["captured_at"] - zero_s) * 1000
            if t_ms >= 0:
                oracle.append(oracle_delay_ms(trace, captured_ms=t_ms,
                                              wire_bytes=wire_bytes(frame["bytes"]),
                                              propagation_ms=link.delay_ms))
    typed = dataclasses.replace(
        CallSummary.from_json(summary),
        capacity_kbps=round(capacity_kbps, 1),
        oracle_delay_ms_p95=round(float(np.percentile(oracle, 95)), 1) if oracle else None,
        signal_floor_ms_p95=_floor(trace, summary, zero_s, link.delay_ms))
    return {**summary, **typed.to_json()}


def _floor(trace: Trace, summary: Mapping[str, Any], zero_s: float, delay_ms: float
           ) -> float | None:
    """The signal floor of the call's window, or None when the summary has no window."""
    start_s, duration_s = summary.get("start_s"), summary.get("duration_s")
    if not isinstance(start_s, int | float) or not isinstance(duration_s, int | float):
        return None
    fps = summary.get("source_fps")
    start_ms = max(0.0, (start_s - zero_s) * 1000)
    end_ms = max(start_ms, (start_s + duration_s - zero_s) * 1000)
    floor = signal_floor_ms_p95(trace, start_ms=start_ms, end_ms=end_ms,
                                fps=fps if isinstance(fps, int | float) and fps > 0
                                else DEFAULT_SOURCE_FPS, propagation_ms=delay_ms)
    return round(floor, 1)
