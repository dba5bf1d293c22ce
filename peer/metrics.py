"""Per-frame metrics of a receiver: the JSONL log, the signal-delay and freeze metrics, and the
call's summary (DESIGN.md's keys) as one typed record.

Everything here is pure: the real call, the simulator and the report compute the summary the
same way from the same per-frame records. Two metrics follow published definitions:

- Signal delay (Salsify, NSDI 2018; excamera/salsify-results `compute_signal_delay`): per
  *source* frame, not per shown frame. Source frames are the sender's capture grid, one every
  1/fps from the first shown frame's capture to the call's end. Each gets the display time of
  the first frame shown at or after it in capture order (a frozen screen keeps adding delay,
  a skipped frame is paid for by the next one shown); frames after the last one shown take
  the call's end. Salsify's own script drops those last frames; counting them is stricter.
- Freezes (webrtc-stats `freezeCount`/`totalFreezesDuration`, libwebrtc's
  `VideoQualityObserver::OnRenderedFrame`): a gap between rendered frames is a freeze when it
  is at least max(3 × mean, mean + 150 ms), the mean taken over the last 30 gaps *including
  this one* (libwebrtc adds the sample before comparing) and rounded down to whole ms, once at
  least 5 gaps are known. A frozen ending (the call's end long after the last frame) is judged
  as one more gap, so a screen that stays frozen to the end counts.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import IO, Any

import numpy as np

STALL_GAP_MS = 200.0  # a gap between shown frames longer than this is a stall
DEFAULT_SOURCE_FPS = 30.0  # the test pattern's rate (peer.testpattern.DEFAULT_FPS)
FREEZE_MIN_GAPS = 5  # libwebrtc kMinFrameSamplesToDetectFreeze
FREEZE_WINDOW_GAPS = 30  # libwebrtc kAvgInterframeDelaysWindowSizeFrames
FREEZE_MIN_INCREASE_MS = 150.0  # libwebrtc kMinIncreaseForFreezeMs
FREEZE_MEAN_FACTOR = 3.0


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


@dataclass(frozen=True)
class CallSummary:
    """What one receiver saw of a call: DESIGN.md's summary keys, one field each.

    None means "not known" (not measured, or nothing to measure). `media_trace` and
    `media_capacity_kbps` are the trace file the media crossed and its capacity over the
    call's window, as netem's totals say (filled by the experiments; None in a bare call).
    """

    frames_sent: int | None = None
    frames_shown: int | None = None
    delay_ms_p50: float | None = None  # per shown frame: shown - captured
    delay_ms_p95: float | None = None
    delay_ms_p99: float | None = None
    ssim_db_mean: float | None = None
    psnr_db_mean: float | None = None
    fps_shown: float | None = None
    stall_ms_total: float | None = None
    goodput_kbps: float | None = None
    capacity_kbps: float | None = None
    keyframes: int | None = None
    oracle_delay_ms_p95: float | None = None
    signal_delay_ms_p50: float | None = None  # per source frame (Salsify)
    signal_delay_ms_p95: float | None = None
    signal_delay_ms_p99: float | None = None
    freeze_count: int | None = None
    freeze_ms_total: float | None = None
    signal_floor_ms_p95: float | None = None  # an ideal sender on the call's window
    media_trace: str | None = None
    media_capacity_kbps: float | None = None
    # Chromium as receiver: getStats jitterBufferDelay / jitterBufferEmittedCount over the
    # call, ms (experiments.page_frames); None for our receiver, which has no jitter buffer.
    jitter_buffer_ms_per_frame: float | None = None
    jitter_buffer_target_ms_per_frame: float | None = None  # what it aimed at (ms/frame)
    jitter_buffer_minimum_ms_per_frame: float | None = None  # its floor: A/V sync, playout
    # Sound (peer.audio_receiver): tone markers heard - captured, and that minus the delay
    # of the video frame on screen then (absolute); None without markers (no tone, no t0).
    audio_delay_ms_p95: float | None = None
    av_skew_ms_p95: float | None = None
    audio_markers_heard: int | None = None
    # Chromium as receiver, where its audio delay goes: NetEq's buffer per sample and the
    # output latency WebAudio reported (ms, means over the call); None for our receiver.
    audio_jitter_buffer_ms: float | None = None
    audio_output_ms: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON, one key per field, in SUMMARY_KEYS order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CallSummary:
        """Read a summary back (summary.json, result.json, a receiver.jsonl summary line).
        Keys it does not know are ignored; a value of the wrong kind (text where a number
        belongs, NaN, a bool) reads as None, so a damaged file cannot pass for a measurement."""
        values: dict[str, Any] = {}
        for name, kind in _FIELD_KINDS.items():
            value = data.get(name)
            if kind is str:
                values[name] = value if isinstance(value, str) else None
            elif kind is int:
                values[name] = value if type(value) is int else _finite(value, whole=True)
            else:
                values[name] = _finite(value)
        return cls(**values)


def _finite(value: Any, *, whole: bool = False) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    if whole:
        return int(value) if float(value).is_integer() else None
    return float(value)


def _kind(annotation: str) -> type:
    return str if "str" in annotation else int if "int" in annotation else float


_FIELD_KINDS: dict[str, type] = {f.name: _kind(str(f.type)) for f in fields(CallSummary)}
SUMMARY_KEYS: tuple[str, ...] = tuple(_FIELD_KINDS)


def _percentile(values: Sequence[float] | np.ndarray, q: float) -> float | None:
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


def signal_delays_ms(captured_s: Sequence[float] | np.ndarray,
                     shown_s: Sequence[float] | np.ndarray, *, fps: float,
                     end_s: float) -> np.ndarray:
    """Salsify's signal delay (ms) of every source frame (see the module docstring).

    `captured_s[i]`, `shown_s[i]`: capture and display time of shown frame i (any order;
    capture times unwrapped, as `SourceClock.captured_at` gives them). The source grid starts
    at the capture of the first frame shown and has one frame every 1/fps before `end_s`; a
    shown frame's place on it is its capture time rounded to the grid, so capture times read
    from a browser's log (not exactly on the grid) still find their frame.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    captured = np.asarray(captured_s, dtype=float)
    shown = np.asarray(shown_s, dtype=float)
    if captured.shape != shown.shape:
        raise ValueError(f"{captured.size} capture times but {shown.size} display times")
    if captured.size == 0:
        return np.zeros(0)
    start = captured[int(np.argmin(shown))]
    count = max(1, math.ceil((end_s - start) * fps - 1e-6))  # captured before the end
    index = np.rint((captured - start) * fps).astype(np.int64)
    keep = (index >= 0) & (index < count)
    display = np.full(count, np.inf)
    np.minimum.at(display, index[keep], shown[keep])
    display = np.minimum.accumulate(display[::-1])[::-1]  # first shown at or after each
    display[np.isinf(display)] = end_s  # after the last frame shown: the call's end
    return (display - (start + np.arange(count) / fps)) * 1000.0


def freezes_ms(shown_s: Sequence[float], end_s: float | None = None) -> list[float]:
    """Length (ms) of every freeze between rendered frames (see the module docstring); with
    `end_s`, the call's end counts as one more instant, so a frozen ending is judged too."""
    instants = sorted(shown_s)
    if end_s is not None and instants and end_s > instants[-1]:
        instants.append(end_s)
    window: deque[float] = deque(maxlen=FREEZE_WINDOW_GAPS)
    freezes = []
    for gap in np.diff(np.asarray(instants, dtype=float)) * 1000.0:
        window.append(float(gap))
        if len(window) < FREEZE_MIN_GAPS:
            continue
        mean = math.floor(sum(window) / len(window))
        if gap >= max(FREEZE_MEAN_FACTOR * mean, mean + FREEZE_MIN_INCREASE_MS):
            freezes.append(float(gap))
    return freezes


def summarize(
    frames: Sequence[ShownFrame],
    *,
    duration_s: float,
    start_s: float | None = None,
    fps: float = DEFAULT_SOURCE_FPS,
    frames_sent: int | None = None,
    keyframes: int | None = None,
    capacity_kbps: float | None = None,
    oracle_delays_ms: Sequence[float] = (),
    signal_floor_ms_p95: float | None = None,
    media_trace: str | None = None,
    media_capacity_kbps: float | None = None,
    audio_delays_ms: Sequence[float] = (),
    av_skews_ms: Sequence[float] = (),
) -> CallSummary:
    """The summary of one receiver over a call of `duration_s` seconds from `start_s`.

    fps_shown and goodput_kbps (the bits of the frames shown: what became pictures) are per
    second of call; stalls count from the call's start to its end when `start_s` is given.
    `fps` is the sender's capture rate (the source grid of the signal delay). The call ends
    at `start_s + duration_s`, or without `start_s` at the last frame shown.
    """
    if duration_s <= 0:
        raise ValueError(f"duration_s must be positive, got {duration_s}")
    delays = [f.delay_ms for f in frames if f.delay_ms is not None]
    shown_at = [f.shown_at for f in frames]
    end_s = None if start_s is None else start_s + duration_s
    timed = [f for f in frames if f.captured_at is not None]
    signal = signal_delays_ms(
        [f.captured_at for f in timed if f.captured_at is not None],
        [f.shown_at for f in timed], fps=fps,
        end_s=end_s if end_s is not None else max(shown_at, default=0.0))
    freezes = freezes_ms(shown_at, end_s)
    return CallSummary(
        frames_sent=frames_sent,
        frames_shown=len(frames),
        delay_ms_p50=_percentile(delays, 50),
        delay_ms_p95=_percentile(delays, 95),
        delay_ms_p99=_percentile(delays, 99),
        ssim_db_mean=_mean([f.ssim_db for f in frames if f.ssim_db is not None]),
        psnr_db_mean=_mean([f.psnr_db for f in frames if f.psnr_db is not None]),
        fps_shown=len(frames) / duration_s,
        stall_ms_total=stall_ms_total(shown_at, start_s, end_s),
        goodput_kbps=sum(f.bytes or 0 for f in frames) * 8 / 1000 / duration_s,
        capacity_kbps=capacity_kbps,
        keyframes=keyframes,
        oracle_delay_ms_p95=_percentile(oracle_delays_ms, 95),
        signal_delay_ms_p50=_percentile(signal, 50),
        signal_delay_ms_p95=_percentile(signal, 95),
        signal_delay_ms_p99=_percentile(signal, 99),
        freeze_count=len(freezes),
        freeze_ms_total=float(sum(freezes)),
        signal_floor_ms_p95=signal_floor_ms_p95,
        media_trace=media_trace,
        media_capacity_kbps=media_capacity_kbps,
        audio_delay_ms_p95=_percentile(audio_delays_ms, 95),
        av_skew_ms_p95=_percentile(np.abs(np.asarray(av_skews_ms, dtype=float)), 95),
    )


def describe_summary(summary: CallSummary | Mapping[str, Any]) -> str:
    """One line for people: frames shown, fps, signal delay p95, frame delay p50/p95, SSIM."""
    if not isinstance(summary, CallSummary):  # a summary line read from a metrics file
        summary = CallSummary.from_json(summary)

    def number(value: float | None, digits: int = 0) -> str:
        return "n/a" if value is None else f"{value:.{digits}f}"

    s = summary
    return (f"shown {s.frames_shown} frames, {number(s.fps_shown, 1)} fps, "
            f"signal delay p95 {number(s.signal_delay_ms_p95)} ms, "
            f"frame delay p50 {number(s.delay_ms_p50)} ms p95 {number(s.delay_ms_p95)} ms, "
            f"SSIM {number(s.ssim_db_mean, 2)} dB")


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
