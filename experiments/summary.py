"""The summary of a simulated call from its per-frame records (DESIGN.md's summary keys).

A thin wrapper: the simulator's `FrameRecord`s (ms, every captured frame) become the shown
frames `peer.metrics.summarize` takes (s), so a simulated call and a real one are summarised
by one definition. Definitions (see peer.metrics for signal delay and freezes):

- `frames_sent`: frames the encoder produced and sent (skipped frames excluded).
- `frames_shown`, `fps_shown` (shown frames / call duration).
- `delay_ms_p50/p95/p99`: shown − captured, over shown frames (linear-interpolated percentiles).
- `signal_delay_ms_p50/p95/p99`: per source frame (Salsify), the capture grid at `fps`.
- `freeze_count`, `freeze_ms_total`: webrtc-stats freezes, a frozen ending included.
- `ssim_db_mean`, `psnr_db_mean`: means over shown frames that carry the value, else None.
- `stall_ms_total`: every gap longer than `STALL_GAP_MS` between consecutive shown frames,
  counting the call's start (first capture) and end as shown instants, summed at full length.
- `goodput_kbps`: payload bytes of shown frames × 8 / duration — bits that became pictures.
- `capacity_kbps`: what the link could carry over the call (passed in; None if unknown).
- `keyframes`: keyframes sent.
- `oracle_delay_ms_p95`: p95 of the oracle delay over shown frames that have one.
- `signal_floor_ms_p95`: passed in (experiments.oracle.signal_floor_ms_p95).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from peer.metrics import (
    DEFAULT_SOURCE_FPS,
    STALL_GAP_MS,
    SUMMARY_KEYS,
    CallSummary,
    ShownFrame,
)
from peer.metrics import stall_ms_total as stall_ms_total_s
from peer.metrics import summarize as summarize_shown

__all__ = ["STALL_GAP_MS", "SUMMARY_KEYS", "CallSummary", "FrameRecord", "stall_ms_total",
           "summarize"]


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


def stall_ms_total(shown_ms: Sequence[float], start_ms: float, end_ms: float) -> float:
    """Sum of gaps > STALL_GAP_MS between shown instants, the call's start and end included."""
    return stall_ms_total_s([t / 1000 for t in shown_ms], start_ms / 1000, end_ms / 1000)


def summarize(
    frames: Sequence[FrameRecord],
    *,
    duration_s: float,
    capacity_kbps: float | None = None,
    start_ms: float | None = None,
    fps: float = DEFAULT_SOURCE_FPS,
    signal_floor_ms_p95: float | None = None,
    media_trace: str | None = None,
    media_capacity_kbps: float | None = None,
) -> CallSummary:
    """DESIGN.md's summary of a call of `duration_s` seconds from its frame records, by the
    same definitions as a real call's (peer.metrics.summarize).

    `start_ms` is when the call started on the frames' clock (default: the first capture).
    """
    shown = [f for f in frames if f.shown_ms is not None]
    if start_ms is None:
        start_ms = min((f.captured_ms for f in frames), default=0.0)
    return summarize_shown(
        [ShownFrame(f.frame_id, f.captured_ms / 1000, (f.shown_ms or 0.0) / 1000, f.size_bytes,
                    f.ssim_db, f.psnr_db) for f in shown],
        duration_s=duration_s, start_s=start_ms / 1000, fps=fps,
        frames_sent=sum(1 for f in frames if f.sent),
        keyframes=sum(1 for f in frames if f.sent and f.keyframe),
        capacity_kbps=capacity_kbps,
        oracle_delays_ms=[f.oracle_delay_ms for f in shown if f.oracle_delay_ms is not None],
        signal_floor_ms_p95=signal_floor_ms_p95,
        media_trace=media_trace,
        media_capacity_kbps=media_capacity_kbps,
    )
