"""A receiving page's log (signaling/static/frame_age.js) as our receiver's JSONL.

Pure: the page's records (every frame #remote presented: its stamp, the wall time Chromium
expects it on screen, `expectedDisplayTime` on performance.timeOrigin's clock), the page's
clock against ours, and what the page's getStats said at the call's end go in; the same
per-frame records and summary a Python receiver writes (peer.metrics) come out, so the same
signal delay, freezes and frame rate are computed from them. The tone markers the page heard
(signaling/static/audio_marker.js) are timed by our receiver's own functions
(peer.audio_receiver), so audio delay and skew mean the same for both receivers.

The page's clock is tied to ours as the chrome sender's is (performance.timeOrigin + a
page time is wall time); `PageClock` measures how far that is from our time.time() at the
call's start and end, and every page time is moved by the mean offset; the error stated is
half the spread of the offsets plus half the longest round trip of a reading.
"""

from __future__ import annotations

import base64
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from peer import quality
from peer.audio_marker import HeardMarker
from peer.audio_receiver import AudioMarker, marker_delays_ms, marker_skews_ms, timed_marker
from peer.metrics import DEFAULT_SOURCE_FPS, ShownFrame, summarize

CaptureTime = Callable[[int, float], float | None]  # (stamp, shown at, ours) -> captured at


@dataclass(frozen=True)
class PageClock:
    """The page's wall clock against ours: page time - our time, and how sure we are of it."""

    offset_s: float
    error_s: float

    @classmethod
    def from_readings(cls, readings: Sequence[tuple[float, float, float]]) -> PageClock:
        """`readings`: (ours before, the page's ms, ours after), e.g. one at the call's start
        and one at its end."""
        if not readings:
            raise ValueError("no clock reading of the page: read it at least once")
        offsets = [page_ms / 1000 - (before + after) / 2 for before, page_ms, after in readings]
        half_trip = max((after - before) / 2 for before, _, after in readings)
        mean = sum(offsets) / len(offsets)
        return cls(mean, (max(offsets) - min(offsets)) / 2 + half_trip)

    def ours(self, page_ms: float) -> float:
        """A page time (ms, timeOrigin-based) in seconds on our clock."""
        return page_ms / 1000 - self.offset_s


def shown_frames(log: Sequence[Mapping[str, Any]], clock: PageClock,
                 capture_time: CaptureTime | None) -> list[ShownFrame]:
    """One ShownFrame per presented frame; unstamped frames (or no way to time a stamp) keep
    captured_at None: their delay is unknown, not zero."""
    frames = []
    for record in log:
        shown_at = clock.ours(float(record["wallShown"]))
        frame_id = record.get("id")
        captured = (capture_time(int(frame_id), shown_at)
                    if capture_time is not None and frame_id is not None else None)
        frames.append(ShownFrame(frame_id, captured, shown_at, None))
    return frames


def heard_markers(heard: Sequence[Mapping[str, Any]], clock: PageClock, t0: float | None,
                  frames: Sequence[ShownFrame]) -> list[AudioMarker]:
    """The tone markers the page heard (signaling/static/audio_marker.js: code, wall time heard
    in ms), on our clock, named and set against the frame on screen as our receiver does
    (peer.audio_receiver.timed_marker). `t0`: the tone's timeline (our sender's source clock);
    None (a browser sender, a camera): every delay is unknown."""
    shown = sorted(frames, key=lambda f: f.shown_at)
    return [timed_marker(HeardMarker(int(record["code"]), clock.ours(float(record["wallHeard"]))),
                         t0, shown)
            for record in heard]


def with_sampled_quality(frames: list[ShownFrame], samples: Sequence[Mapping[str, Any]],
                         clock: PageClock, source_luma: Callable[[int], np.ndarray] | None
                         ) -> tuple[list[ShownFrame], int]:
    """SSIM and PSNR of the sampled frames (the page's luma, from its RGB by BT.601) against
    their source frames; returns the frames and how many were scored."""
    if source_luma is None or not samples:
        return frames, 0
    index = {(f.frame_id, round(f.shown_at, 6)): k for k, f in enumerate(frames)}
    scored = 0
    for sample in samples:
        width, height = int(sample["width"]), int(sample["height"])
        luma = np.frombuffer(base64.b64decode(sample["luma"]), np.uint8)
        if luma.size != width * height:
            continue
        key = (sample["id"], round(clock.ours(float(sample["wallShown"])), 6))
        if key not in index:
            continue
        source = source_luma(int(sample["id"]))
        decoded = luma.reshape(height, width)
        k = index[key]
        frames[k] = replace(frames[k], ssim_db=quality.ssim_db(decoded, source),
                            psnr_db=quality.psnr_db(decoded, source))
        scored += 1
    return frames, scored


def jitter_buffer_fields(stats: Mapping[str, Any] | None) -> dict[str, float | None]:
    """Chromium's inbound-rtp video jitter-buffer figures over the call, ms per frame
    emitted (None where getStats did not give them)."""
    stats = stats or {}
    emitted = stats.get("jitterBufferEmittedCount")

    def per_frame(key: str) -> float | None:
        value = stats.get(key)
        if not isinstance(value, int | float) or not isinstance(emitted, int | float) \
                or emitted <= 0 or not math.isfinite(value):
            return None
        return round(1000 * value / emitted, 2)

    return {"jitter_buffer_ms_per_frame": per_frame("jitterBufferDelay"),
            "jitter_buffer_target_ms_per_frame": per_frame("jitterBufferTargetDelay"),
            "jitter_buffer_minimum_ms_per_frame": per_frame("jitterBufferMinimumDelay"),
            "jitter_buffer_emitted": emitted if isinstance(emitted, int) else None}


def audio_path_fields(heard: Sequence[Mapping[str, Any]],
                      stats: Mapping[str, Any] | None) -> dict[str, float | None]:
    """Where the page's audio delay goes: the output latency WebAudio reported (included in
    each marker's time heard) and NetEq's jitter buffer per sample (getStats inbound-rtp audio
    over the call), ms; None where the page did not say."""
    output = [float(h["outputMs"]) for h in heard if isinstance(h.get("outputMs"), int | float)]
    buffer = (stats or {}).get("audioJitterBufferMs")
    return {"audio_output_ms": round(sum(output) / len(output), 2) if output else None,
            "audio_jitter_buffer_ms": (round(float(buffer), 2)
                                       if isinstance(buffer, int | float)
                                       and math.isfinite(buffer) else None)}


def missed_callbacks(log: Sequence[Mapping[str, Any]]) -> int:
    """Frames the page presented without a callback (presentedFrames jumped): rVFC is best
    effort under load, and a missed frame looks like a skipped one here."""
    counts = [r["presentedFrames"] for r in log if isinstance(r.get("presentedFrames"), int)]
    return sum(max(0, b - a - 1) for a, b in itertools.pairwise(counts))


def receiver_lines(frames: Sequence[ShownFrame], *, start_s: float, end_s: float,
                   fps: float = DEFAULT_SOURCE_FPS, frames_sent: int | None = None,
                   markers: Sequence[AudioMarker] = (),
                   extra: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The receiver JSONL of the call: the connection event, one line per frame and per tone
    marker heard in the call (as our receiver writes them), the summary."""
    duration_s = max(end_s - start_s, 1e-3)
    in_call = [f for f in frames if start_s <= f.shown_at <= end_s]
    heard = [m for m in markers if start_s <= m.heard_at <= end_s]
    summary = summarize(in_call, duration_s=duration_s, start_s=start_s, fps=fps,
                        frames_sent=frames_sent, audio_delays_ms=marker_delays_ms(heard),
                        av_skews_ms=marker_skews_ms(heard))
    return [{"type": "event", "event": "connected", "at": start_s},
            *(f.to_json() for f in in_call),
            *(m.to_json() for m in heard),
            {"type": "summary", **summary.to_json(),
             "goodput_kbps": None,  # the page cannot tell a frame's bytes: unknown, not 0
             "source_fps": fps,
             "start_s": round(start_s, 6), "duration_s": round(duration_s, 3),
             "frames_unstamped": sum(1 for f in in_call if f.frame_id is None),
             "audio_markers_heard": len(heard),
             "receiver": "chrome", **(extra or {})}]
