"""Completing a real call's summary with what the link allowed: capacity and oracle delay.

The relay's packet log says when its clock began on the wall clock (`origin` event) and when
the media link's trace time 0 was (`link` event), so a frame captured at wall time t met the
trace at (t - trace start). The oracle delay of a frame is its wire bytes served alone by the
trace from its capture time, plus the propagation delay (experiments.oracle): a lower bound
that counts zero encode time, the same for every controller.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from experiments.jsonl import read_jsonl
from experiments.link_spec import LinkSpec, trace_files
from experiments.netem_log import records, trace_zero_wall_s
from experiments.oracle import oracle_delay_ms
from experiments.sim.packetizer import wire_bytes
from netem.traces import resolve_trace


def completed_summary(folder: Path, link: LinkSpec, summary: dict[str, Any]) -> dict[str, Any]:
    """`summary` with capacity_kbps and oracle_delay_ms_p95 filled in when the logs allow."""
    receiver = read_jsonl(folder / "receiver.jsonl")
    connected = next((r.get("at") for r in receiver if r.get("event") == "connected"), None)
    zero_s = trace_zero_wall_s(records(folder / "netem.jsonl"), connected)
    frames = [r for r in receiver
              if r.get("type") == "shown" and r.get("captured_at") is not None]
    if zero_s is None or not frames:
        return summary
    trace = resolve_trace(trace_files(link.trace)[0])
    start_ms = (frames[0]["captured_at"] - zero_s) * 1000
    end_ms = (frames[-1]["shown_at"] - zero_s) * 1000
    capacity_kbps = trace.capacity_bps(max(0.0, start_ms), max(1.0, end_ms)) / 1000
    oracle = []
    for frame in frames:
        if frame.get("bytes"):
            t_ms = (frame["captured_at"] - zero_s) * 1000
            if t_ms >= 0:
                oracle.append(oracle_delay_ms(trace, captured_ms=t_ms, sent_ms=t_ms,
                                              wire_bytes=wire_bytes(frame["bytes"]),
                                              propagation_ms=link.delay_ms))
    return {**summary, "capacity_kbps": round(capacity_kbps, 1),
            "oracle_delay_ms_p95": round(float(np.percentile(oracle, 95)), 1) if oracle else None}
