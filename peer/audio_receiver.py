"""The receiving side of a call's sound: play it at once, find the tone's markers, measure.

Each decoded frame goes to the sink as it arrives (aiortc's own audio jitter buffer is the
only buffer) and to the marker detector, timed by when it was received. A marker heard is
named by its code and the sender's tone timeline, which starts at the t0 the sender's video
announcement gives (peer.audio_tone): its delay is heard - captured, on the one clock both
ends share, and its skew is that delay minus the delay of the video frame on screen at that
moment (positive: the sound is behind the picture).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from peer.audio_marker import HeardMarker, MarkerDetector, captured_at
from peer.audio_sinks import AudioSink
from peer.metrics import MetricsLog, ShownFrame


@dataclass(frozen=True)
class AudioMarker:
    code: int
    heard_at: float
    captured_at: float | None
    av_skew_ms: float | None

    @property
    def delay_ms(self) -> float | None:
        return None if self.captured_at is None else (self.heard_at - self.captured_at) * 1e3

    def to_json(self) -> dict[str, object]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 3)

        return {"type": "audio-marker", "code": self.code, "heard_at": round(self.heard_at, 6),
                "captured_at": r(self.captured_at), "delay_ms": r(self.delay_ms),
                "av_skew_ms": r(self.av_skew_ms)}


def video_delay_at(frames: Sequence[ShownFrame], at: float) -> float | None:
    """Delay (ms) of the newest timed video frame shown by `at`, if one is."""
    for frame in reversed(frames):
        if frame.shown_at <= at and frame.delay_ms is not None:
            return frame.delay_ms
    return None


def timed_marker(heard: HeardMarker, t0: float | None,
                 video_frames: Sequence[ShownFrame]) -> AudioMarker:
    """A marker heard, named on the tone's timeline from `t0` (None: not known) and set against
    the video frame on screen then; `heard.heard_at` and `t0` on one clock. Our receiver and
    the page's (experiments.page_frames) both time their markers here."""
    captured = None if t0 is None else captured_at(heard.code, heard.heard_at, t0)
    skew = None
    if captured is not None:
        video = video_delay_at(video_frames, heard.heard_at)
        skew = None if video is None else (heard.heard_at - captured) * 1e3 - video
    return AudioMarker(heard.code, heard.heard_at, captured, skew)


def marker_delays_ms(markers: Sequence[AudioMarker]) -> list[float]:
    return [m.delay_ms for m in markers if m.delay_ms is not None]


def marker_skews_ms(markers: Sequence[AudioMarker]) -> list[float]:
    return [m.av_skew_ms for m in markers if m.av_skew_ms is not None]


class AudioReceiver:
    def __init__(self, sink: AudioSink, metrics: MetricsLog, wall_clock: Callable[[], float],
                 remote_t0: Callable[[], float | None],
                 video_frames: Sequence[ShownFrame]) -> None:
        self.sink = sink
        self.metrics = metrics
        self._wall_clock = wall_clock
        self._remote_t0 = remote_t0
        self._video_frames = video_frames
        self._detector: MarkerDetector | None = None
        self.markers: list[AudioMarker] = []
        self.frames_received = 0

    async def consume(self, track: MediaStreamTrack) -> None:
        """Play and measure frames from `track` until it ends."""
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            assert isinstance(frame, av.AudioFrame)
            self.on_frame(frame, self._wall_clock())

    def on_frame(self, frame: av.AudioFrame, heard_at: float) -> None:
        self.frames_received += 1
        self.sink.play(frame)
        if self._detector is None or self._detector.sample_rate != frame.sample_rate:
            self._detector = MarkerDetector(frame.sample_rate)
        for heard in self._detector.feed(mono(frame), heard_at):
            marker = timed_marker(heard, self._remote_t0(), self._video_frames)
            self.markers.append(marker)
            self.metrics.write(marker.to_json())

    def delays_ms(self) -> list[float]:
        return marker_delays_ms(self.markers)

    def skews_ms(self) -> list[float]:
        return marker_skews_ms(self.markers)

    def close(self) -> None:
        self.sink.close()


def mono(frame: av.AudioFrame) -> np.ndarray:
    """The frame's samples averaged over channels, float, full scale 1 (s16 or float in)."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if frame.format.is_planar:
        samples = data.astype(np.float64).mean(axis=0)
    else:
        samples = data.reshape(-1, channels).astype(np.float64).mean(axis=1)
    if data.dtype.kind == "i":
        return samples / 2.0 ** (8 * data.dtype.itemsize - 1)
    return samples
