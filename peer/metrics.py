"""Per-frame metrics of a receiver: the JSONL log and the summary (DESIGN.md's keys).

`summarize` is pure: the real call, the simulator and the experiments compute the summary the
same way from the same per-frame records.
"""

from __future__ import annotations

import json
import math
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

    @property
    def delay_ms(self) -> float | None:
        if self.captured_at is None:
            return None
        return (self.shown_at - self.captured_at) * 1000.0

    def to_json(self) -> dict[str, Any]:
        line: dict[str, Any] = {"type": "shown", **asdict(self), "delay_ms": self.delay_ms}
        if self.delay_ms is not None:
            line["delay_ms"] = round(self.delay_ms, 3)
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


def stall_ms_total(shown_at_s: Sequence[float]) -> float:
    gaps_ms = np.diff(np.asarray(sorted(shown_at_s))) * 1000.0
    return float(gaps_ms[gaps_ms > STALL_GAP_MS].sum())


def summarize(
    frames: Sequence[ShownFrame],
    *,
    duration_s: float,
    frames_sent: int | None = None,
    received_bytes: int | None = None,
    keyframes: int | None = None,
    capacity_kbps: float | None = None,
    oracle_delays_ms: Sequence[float] = (),
) -> dict[str, Any]:
    """The summary object of one receiver over a call of `duration_s` seconds."""
    delays = [f.delay_ms for f in frames if f.delay_ms is not None]
    shown_at = [f.shown_at for f in frames]
    span_s = (max(shown_at) - min(shown_at)) if len(shown_at) > 1 else 0.0
    if received_bytes is None:
        received_bytes = sum(f.bytes or 0 for f in frames)
    summary: dict[str, Any] = {
        "frames_sent": frames_sent,
        "frames_shown": len(frames),
        "delay_ms_p50": _percentile(delays, 50),
        "delay_ms_p95": _percentile(delays, 95),
        "delay_ms_p99": _percentile(delays, 99),
        "ssim_db_mean": _mean([f.ssim_db for f in frames if f.ssim_db is not None]),
        "psnr_db_mean": _mean([f.psnr_db for f in frames if f.psnr_db is not None]),
        "fps_shown": (len(frames) - 1) / span_s if span_s > 0 else 0.0,
        "stall_ms_total": stall_ms_total(shown_at),
        "goodput_kbps": received_bytes * 8 / 1000 / duration_s if duration_s > 0 else None,
        "capacity_kbps": capacity_kbps,
        "keyframes": keyframes,
        "oracle_delay_ms_p95": _percentile(oracle_delays_ms, 95),
    }
    return {k: (round(v, 3) if isinstance(v, float) and math.isfinite(v) else v)
            for k, v in summary.items()}


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
