"""The summary of one call from its per-frame records (DESIGN.md's summary keys).

Pure: the simulator feeds it modelled frames, and a real call can feed it the frames its
metrics file recorded. Definitions:

- `frames_sent`: frames the encoder produced and sent (skipped frames excluded).
- `frames_shown`, `fps_shown` (shown frames / call duration).
- `delay_ms_p50/p95/p99`: shown − captured, over shown frames (linear-interpolated percentiles).
- `ssim_db_mean`, `psnr_db_mean`: means over shown frames that carry the value, else None.
- `stall_ms_total`: every gap longer than `STALL_GAP_MS` between consecutive shown frames,
  counting the call's start (first capture) and end as shown instants, summed at full length.
- `goodput_kbps`: payload bytes of shown frames × 8 / duration — bits that became pictures.
- `capacity_kbps`: what the link could carry over the call (passed in; None if unknown).
- `keyframes`: keyframes sent.
- `oracle_delay_ms_p95`: p95 of the oracle delay over shown frames that have one.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

STALL_GAP_MS = 200.0

SUMMARY_KEYS = (
    "frames_sent",
    "frames_shown",
    "delay_ms_p50",
    "delay_ms_p95",
    "delay_ms_p99",
    "ssim_db_mean",
    "psnr_db_mean",
    "fps_shown",
    "stall_ms_total",
    "goodput_kbps",
    "capacity_kbps",
    "keyframes",
    "oracle_delay_ms_p95",
)


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """One captured frame's fate; times in ms on one clock."""

    frame_id: int
    captured_ms: float
    sent: bool  # False: the controller skipped it
    size_bytes: int = 0  # encoded payload bytes (0 when skipped)
    keyframe: bool = False
    shown_ms: float | None = None  # None: never shown (skipped, lost or undecodable)
    ssim_db: float | None = None
    psnr_db: float | None = None
    oracle_delay_ms: float | None = None

    @property
    def delay_ms(self) -> float | None:
        return None if self.shown_ms is None else self.shown_ms - self.captured_ms


def _percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else None


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(np.asarray(values, dtype=float))) if values else None


def stall_ms_total(shown_ms: Sequence[float], start_ms: float, end_ms: float) -> float:
    """Sum of gaps > STALL_GAP_MS between shown instants, the call's start and end included."""
    instants = [start_ms, *sorted(t for t in shown_ms if start_ms <= t <= end_ms), end_ms]
    return float(
        sum(b - a for a, b in itertools.pairwise(instants) if b - a > STALL_GAP_MS)
    )


def summarize(
    frames: Sequence[FrameRecord],
    *,
    duration_s: float,
    capacity_kbps: float | None = None,
    start_ms: float | None = None,
) -> dict[str, float | int | None]:
    """DESIGN.md's summary of a call of `duration_s` seconds from its frame records.

    `start_ms` is when the call started on the frames' clock (default: the first capture).
    """
    if duration_s <= 0:
        raise ValueError(f"duration_s must be positive, got {duration_s}")
    shown = [f for f in frames if f.shown_ms is not None]
    delays = [f.shown_ms - f.captured_ms for f in shown if f.shown_ms is not None]
    if start_ms is None:
        start_ms = min((f.captured_ms for f in frames), default=0.0)
    end_ms = start_ms + duration_s * 1000.0
    shown_at = [f.shown_ms for f in shown if f.shown_ms is not None]
    return {
        "frames_sent": sum(1 for f in frames if f.sent),
        "frames_shown": len(shown),
        "delay_ms_p50": _percentile(delays, 50),
        "delay_ms_p95": _percentile(delays, 95),
        "delay_ms_p99": _percentile(delays, 99),
        "ssim_db_mean": _mean([f.ssim_db for f in shown if f.ssim_db is not None]),
        "psnr_db_mean": _mean([f.psnr_db for f in shown if f.psnr_db is not None]),
        "fps_shown": len(shown) / duration_s,
        "stall_ms_total": stall_ms_total(shown_at, start_ms, end_ms),
        "goodput_kbps": sum(f.size_bytes for f in shown) * 8 / duration_s / 1000.0,
        "capacity_kbps": capacity_kbps,
        "keyframes": sum(1 for f in frames if f.sent and f.keyframe),
        "oracle_delay_ms_p95": _percentile(
            [f.oracle_delay_ms for f in shown if f.oracle_delay_ms is not None], 95
        ),
    }
