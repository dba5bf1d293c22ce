"""The link's limits, one definition for the simulator and for real calls alike.

- **Oracle delay** of a frame: the earliest it could have been shown. Its bytes (as sent on
  the wire) leave the sender at its capture time, with zero encode time, and cross an *empty*
  link alone: they take the first delivery opportunities strictly after the capture (a
  packet cannot leave in the millisecond it arrives, as in Mahimahi's link queue; the link
  model's own rule, `netem.link.oracle_delivery_ms`), 1500 bytes per opportunity, then the
  propagation delay; zero decode time. Nothing queued ahead, no pacing, no loss. It counts
  no encode or decode time because a real receiver cannot know them: so the figure is the
  same for every controller and for the simulator. Measured delay minus oracle delay is what
  the system added.
- **Signal floor**: the signal delay (peer.metrics.signal_delays_ms, Salsify's definition)
  of an ideal sender that captures at the call's frame rate and puts every frame, as one
  packet, through the first delivery opportunity after its capture. Frames that share an
  opportunity are covered by the newest of them (the receiver shows the newest), and a
  display after the call's end counts as the end, as for a measured call, so the floor is
  never above what any sender could measure on the same window of the trace.

Times are ms of trace time (the trace's time 0 is 0).
"""

from __future__ import annotations

import math

import numpy as np

from netem.link import oracle_delivery_ms
from netem.trace import MTU_BYTES, Trace
from peer.metrics import signal_delays_ms


def oracle_arrival_ms(trace: Trace, sent_ms: float, wire_bytes: int) -> float:
    """When the last byte of a `wire_bytes` burst sent at `sent_ms` leaves an empty link."""
    return float(oracle_delivery_ms(trace, int(wire_bytes), sent_ms))


def oracle_delay_ms(
    trace: Trace, *, captured_ms: float, wire_bytes: int, propagation_ms: float
) -> float:
    """Capture-to-display delay of a frame alone on the link (see the module docstring)."""
    if captured_ms < 0:
        raise ValueError(f"captured_ms {captured_ms} is before the trace's start; "
                         "give trace time (ms since the trace's time 0)")
    return oracle_arrival_ms(trace, captured_ms, wire_bytes) + propagation_ms - captured_ms


def floor_signal_delays_ms(
    trace: Trace, *, start_ms: float, end_ms: float, fps: float, propagation_ms: float
) -> np.ndarray:
    """Signal delay (ms) of each source frame of the ideal sender over [start_ms, end_ms)."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if start_ms < 0 or end_ms < start_ms:
        raise ValueError(f"the window {start_ms}..{end_ms} ms is not in the trace; "
                         "give 0 <= start_ms <= end_ms")
    count = max(1, math.ceil((end_ms - start_ms) * fps / 1000.0 - 1e-6))  # before the end
    captured = start_ms + np.arange(count) * 1000.0 / fps
    shown = np.array([oracle_arrival_ms(trace, float(t), MTU_BYTES) for t in captured])
    shown = np.minimum(shown + propagation_ms, end_ms)
    return signal_delays_ms(captured / 1000.0, shown / 1000.0, fps=fps, end_s=end_ms / 1000.0)


def signal_floor_ms_p95(
    trace: Trace, *, start_ms: float, end_ms: float, fps: float, propagation_ms: float
) -> float:
    """p95 of `floor_signal_delays_ms`: the floor every report shows beside the signal delay."""
    delays = floor_signal_delays_ms(trace, start_ms=start_ms, end_ms=end_ms, fps=fps,
                                    propagation_ms=propagation_ms)
    return float(np.percentile(delays, 95))
