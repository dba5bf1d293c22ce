"""Reading a call's logs into the time series the plots draw (experiments.report.plots).

Time is seconds since the media link's trace time 0 when netem.jsonl says when that was (so
capacity and delays line up), else since the call connected (else its first capture).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from experiments.jsonl import read_jsonl
from experiments.netem_log import MEDIA_DIRECTION, trace_zero_wall_s
from experiments.report import plots
from experiments.report.load import NETEM_FILE, RECEIVER_FILE, CallRun
from netem.trace import TraceError
from netem.traces import resolve_trace


def _number(value: Any) -> float | None:
    """A finite number from a log record, else None (logs are outside input)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _first(records: Iterable[Mapping[str, Any]], key: str) -> float | None:
    return next((v for v in (_number(r.get(key)) for r in records) if v is not None), None)


def load_series(call: CallRun) -> plots.CallSeries:
    """The call's per-frame delay and SSIM and its sending rate, on one time axis."""
    records = read_jsonl(call.folder / RECEIVER_FILE)
    frames = []
    for r in records:
        captured, shown = _number(r.get("captured_at")), _number(r.get("shown_at"))
        if r.get("type") != "shown" or captured is None or shown is None:
            continue
        delay = _number(r.get("delay_ms"))
        frames.append((captured, (shown - captured) * 1000 if delay is None else delay,
                       _number(r.get("ssim_db"))))
    frames.sort(key=lambda f: f[0])
    net = read_jsonl(call.folder / NETEM_FILE)
    origin_wall_s = _first((r for r in net if r.get("event") == "origin"), "wall_s")
    connected = _first((r for r in records if r.get("event") == "connected"), "at")
    trace_zero_s = trace_zero_wall_s(net, connected)
    aligned = trace_zero_s is not None
    if trace_zero_s is not None:
        t0_wall_s = trace_zero_s
    else:
        t0_wall_s = connected if connected is not None else (frames[0][0] if frames else 0.0)
    packets = [
        (t, s) for t, s in ((_number(r.get("enqueued_ms")), _number(r.get("size"))) for r in net
                            if r.get("direction") == MEDIA_DIRECTION and not r.get("duplicate"))
        if t is not None and s is not None
    ]
    if packets:
        enq_ms = np.array([p[0] for p in packets])
        if origin_wall_s is not None:
            rate_t = origin_wall_s + enq_ms / 1000.0 - t0_wall_s
        else:  # no common clock: assume the first media packet left as the call connected
            rate_t = (enq_ms - enq_ms.min()) / 1000.0
        rate_s, rate_kbps = plots.rate_bins(rate_t, [p[1] for p in packets])
    else:
        rate_s, rate_kbps = np.zeros(0), np.zeros(0)
    quality = [(f[0], f[2]) for f in frames if f[2] is not None]
    return plots.CallSeries(
        label=call.label,
        controller=call.controller,
        capture_s=np.array([f[0] - t0_wall_s for f in frames]),
        delay_ms=np.array([f[1] for f in frames]),
        quality_s=np.array([q[0] - t0_wall_s for q in quality]),
        ssim_db=np.array([q[1] for q in quality]),
        rate_s=rate_s,
        rate_kbps=rate_kbps,
        trace_aligned=aligned,
    )


def capacity_series(settings: Mapping[str, Any], series: Sequence[plots.CallSeries]
                    ) -> plots.CapacitySeries | None:
    """The media trace's capacity over the plot's span, when the calls are on trace time."""
    if not any(s.trace_aligned for s in series):
        return None
    name = settings.get("media_trace") or settings.get("trace")
    if not name:
        return None
    try:
        trace = resolve_trace(str(name))
    except TraceError:
        return None
    ends = [float(s.capture_s.max()) for s in series if s.capture_s.size]
    ends += [float(s.rate_s.max()) + plots.RATE_BIN_MS / 1000 for s in series if s.rate_s.size]
    duration = _number(settings.get("duration_s")) or 0.0
    return plots.capacity_series(trace, max([duration, *ends]))
