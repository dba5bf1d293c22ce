"""A call's summary line: how its frames arrived (receiver), what it sent (sender, summed over
its sessions), and how it ended."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from peer.aiortc_glue import DecodeLog
from peer.audio_receiver import AudioReceiver
from peer.metrics import DEFAULT_SOURCE_FPS, summarize
from peer.receiver import FrameReceiver


class SentTotals:
    """Sender counters summed over a call's sessions: a restart must not lose what the closed
    sessions sent. Summed with Counter.update, which, unlike +, keeps the zero counts."""

    def __init__(self) -> None:
        self._closed: Counter[str] = Counter()

    def close_session(self, stats: Mapping[str, int]) -> None:
        self._closed.update(stats)

    def total(self, current: Mapping[str, int]) -> Counter[str]:
        total = Counter(self._closed)
        total.update(current)
        return total


@dataclass(frozen=True)
class CallEnd:
    reason: str
    ok: bool
    restarts: int
    controller: str
    start_s: float  # wall time the summary's frames are counted from (connection, or start)
    duration_s: float


def call_summary(receiver: FrameReceiver, decode_log: DecodeLog, sent: Mapping[str, Any],
                 end: CallEnd,
                 remote_frames_sent: int | None,
                 audio: AudioReceiver | None = None) -> dict[str, Any]:
    repair = receiver.assembler_stats
    duration_s = end.duration_s
    clock = receiver.remote_clock
    fps = clock.fps if clock is not None else DEFAULT_SOURCE_FPS  # signal delay's source grid
    return {
        "type": "summary",
        **summarize(receiver.frames, duration_s=duration_s, start_s=end.start_s, fps=fps,
                    frames_sent=remote_frames_sent, keyframes=decode_log.keyframes,
                    audio_delays_ms=audio.delays_ms() if audio else (),
                    av_skews_ms=audio.skews_ms() if audio else ()).to_json(),
        "audio_frames_received": audio.frames_received if audio else 0,
        "audio_markers_heard": len(audio.markers) if audio else 0,
        "source_fps": fps,
        "received_kbps": round(decode_log.received_bytes * 8 / 1000 / duration_s, 3),
        "start_s": round(end.start_s, 6),
        "duration_s": round(duration_s, 3),
        "frames_dropped": receiver.dropped,
        "frames_unstamped": receiver.unstamped,
        "decode_errors": decode_log.decode_errors,
        "controller": end.controller,
        "sent": dict(sent),
        "frames_abandoned": repair.frames_abandoned,
        "packets_missing": repair.packets_missing,
        "packets_recovered": repair.packets_recovered,
        "keyframe_requests": repair.keyframe_requests,
        "nack_retries": repair.nack_retries,
        "restarts": end.restarts,
        "ended": end.reason,
        "ok": end.ok,
    }
