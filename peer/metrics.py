"""Per-frame metrics of a receiver: the JSONL log and the summary (DESIGN.md's keys).

`summarize` is pure: the real call, the simulator and the experiments compute the summary the
same way from the same per-frame records.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

STALL_GAP_MS = 200.0  # a gap between shown frames longer than this is a stall

SUMMARY_KEYS = (
    "frames_sent", "frames_shown", "delay_ms_p50", "delay_ms_p95", "delay_ms_p99",
    "ssim_db_mean", "psnr_db_mean", "fps_shown", "stall_ms_total", "goodput_kbps",
    "capacity_kbps", "keyframes", "oracle_delay_ms_p95",
)


@dataclass(frozen=True)
class ShownFrame:
    """One frame put on the screen. Times in seconds on the clock both ends share."""

    frame_id: int | None
    captured_at: float | None
    shown_at: float
    bytes: int | None
    ssim_db: float | None = None
    psnr_db: float | None = None
    keyframe: bool = False

    @property
    def delay_ms(self) -> float | None:
        if self.captured_at is None:
            return None
        return (self.shown_at - self.captured_at) * 1000.0

    def to_json(self) -> dict[str, Any]:
        line: dict[str, Any] = {"type": "shown", **asdict(self), "delay_ms": self.delay_ms}
        if self.delay_ms is not None:
            line["delay_ms"] = round(self.delay_ms, 3)
        if not self.keyframe:
            del line["keyframe"]
        for key in ("ssim_db", "psnr_db"):
            if line[key] is None:
                del line[key]
            else:
                line[key] = round(line[key], 4)
        return line


def _percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def stall_ms_total(shown_at_s: Sequence[float], start_s: float | None = None,
                   end_s: float | None = None) -> float:
    """Sum of the gaps longer than STALL_GAP_MS between shown frames; with `start_s` and
    `end_s`, the call's start and end count as shown instants (a late first frame or a
    frozen ending is a stall too)."""
    instants = sorted(shown_at_s)
    if start_s is not None and end_s is not None:
        instants = [start_s, *(t for t in instants if start_s <= t <= end_s), end_s]
    gaps_ms = np.diff(np.asarray(instants, dtype=float)) * 1000.0
    return float(gaps_ms[gaps_ms > STALL_GAP_MS].sum())


def summarize(
    frames: Sequence[ShownFrame],
    *,
    duration_s: float,
    start_s: float | None = None,
    frames_sent: int | None = None,
    keyframes: int | None = None,
    capacity_kbps: float | None = None,
    oracle_delays_ms: Sequence[float] = (),
) -> dict[str, Any]:
    """The summary of one receiver over a call of `duration_s` seconds from `start_s`.

    fps_shown and goodput_kbps (the bits of the frames shown: what became pictures) are per
    second of call; stalls count from the call's start to its end when `start_s` is given.
    """
    if duration_s <= 0:
        raise ValueError(f"duration_s must be positive, got {duration_s}")
    delays = [f.delay_ms for f in frames if f.delay_ms is not None]
    shown_at = [f.shown_at for f in frames]
    end_s = None if start_s is None else start_s + duration_s
    summary: dict[str, Any] = {
        "frames_sent": frames_sent,
        "frames_shown": len(frames),
        "delay_ms_p50": _percentile(delays, 50),
        "delay_ms_p95": _percentile(delays, 95),
        "delay_ms_p99": _percentile(delays, 99),
        "ssim_db_mean": _mean([f.ssim_db for f in frames if f.ssim_db is not None]),
        "psnr_db_mean": _mean([f.psnr_db for f in frames if f.psnr_db is not None]),
        "fps_shown": len(frames) / duration_s,
        "stall_ms_total": stall_ms_total(shown_at, start_s, end_s),
        "goodput_kbps": sum(f.bytes or 0 for f in frames) * 8 / 1000 / duration_s,
        "capacity_kbps": capacity_kbps,
        "keyframes": keyframes,
        "oracle_delay_ms_p95": _percentile(oracle_delays_ms, 95),
    }
    return summary


def describe_summary(summary: dict[str, Any]) -> str:
    """One line for people: frames shown, fps, delay p50/p95, SSIM."""

    def number(key: str, digits: int = 0) -> str:
        value = summary.get(key)
        return "n/a" if value is None else f"{value:.{digits}f}"

    return (f"shown {summary.get('frames_shown')} frames, {number('fps_shown', 1)} fps, "
            f"delay p50 {number('delay_ms_p50')} ms p95 {number('delay_ms_p95')} ms, "
            f"SSIM {number('ssim_db_mean', 2)} dB")


class MetricsLog:
    """Writes one JSON object per line and flushes each, so a killed process loses nothing."""

    def __init__(self, path: str | Path | None) -> None:
        self._file: IO[str] | None = open(path, "w", encoding="utf-8") if path else None  # noqa: SIM115

    def write(self, record: dict[str, Any]) -> None:
        if self._file is None:
            return
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
