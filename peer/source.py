"""Video sources. The test pattern is clocked: frame n is captured at `t0 + n / fps` on the
wall clock, so a receiver that knows t0 and fps (sent in the offer or answer) knows every
frame's capture time from its stamp alone. When the process falls behind, frame numbers are
skipped, as a camera drops frames, never delayed.

A `FrameSource` yields raw I420 frames; `RawVideoTrack` turns one into an aiortc track for
aiortc's own encoder (controller `aiortc`), while `peer.encoded_track` encodes them itself.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

import av
import numpy as np
from aiortc import MediaStreamTrack

from peer.testpattern import DEFAULT_FPS, DEFAULT_HEIGHT, DEFAULT_WIDTH, pattern

VIDEO_CLOCK_HZ = 90_000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_HZ)


@dataclass(frozen=True)
class SourceClock:
    """What a receiver needs to turn a stamp into a capture time (seconds, wall clock)."""

    t0: float
    fps: float
    width: int
    height: int
    kind: str = "testpattern"

    def captured_at(self, frame_id: int) -> float:
        return self.t0 + frame_id / self.fps

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "t0": self.t0, "fps": self.fps,
                "width": self.width, "height": self.height}

    @classmethod
    def from_json(cls, data: object) -> SourceClock | None:
        """Parse a peer's announcement; None when absent or malformed (e.g. a browser)."""
        if not isinstance(data, dict):
            return None
        try:
            clock = cls(float(data["t0"]), float(data["fps"]), int(data["width"]),
                        int(data["height"]), str(data.get("kind", "testpattern")))
        except (KeyError, TypeError, ValueError):
            return None
        if not (math.isfinite(clock.t0) and 0 < clock.fps <= 240
                and 0 < clock.width <= 8192 and 0 < clock.height <= 8192):
            return None
        return clock


@dataclass(frozen=True)
class CapturedFrame:
    image: np.ndarray  # I420, shape (H*3/2, W), uint8
    captured_at: float  # wall clock, seconds
    pts: int  # in VIDEO_TIME_BASE

    def to_video_frame(self) -> av.VideoFrame:
        frame = av.VideoFrame.from_ndarray(self.image, format="yuv420p")
        frame.pts, frame.time_base = self.pts, VIDEO_TIME_BASE
        return frame


class FrameSource(Protocol):
    width: int
    height: int
    fps: float
    clock: SourceClock | None  # None when frames carry no stamp we generated
    frames_captured: int

    async def capture(self) -> CapturedFrame: ...

    def close(self) -> None: ...


class TestPatternSource:
    """The stamped test pattern, paced to the wall clock."""

    __test__ = False

    def __init__(self, width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT,
                 fps: float = DEFAULT_FPS) -> None:
        self._pattern = pattern(width, height)
        self.width, self.height, self.fps = width, height, fps
        self.clock: SourceClock | None = SourceClock(time.time(), fps, width, height)
        self._next_id = 0
        self.frames_captured = 0

    async def capture(self) -> CapturedFrame:
        assert self.clock is not None
        clock = self.clock
        now = time.time()
        frame_id = max(self._next_id, math.floor((now - clock.t0) * clock.fps))  # skip late ids
        wait = clock.captured_at(frame_id) - now
        if wait > 0:
            await asyncio.sleep(wait)
        self._next_id = frame_id + 1
        self.frames_captured += 1
        return CapturedFrame(self._pattern.render_i420(frame_id), clock.captured_at(frame_id),
                             round(frame_id * VIDEO_CLOCK_HZ / clock.fps))

    def close(self) -> None:
        pass


class RawVideoTrack(MediaStreamTrack):
    """Raw frames for aiortc's own encoder: the stock-aiortc way of sending."""

    kind = "video"

    def __init__(self, source: FrameSource) -> None:
        super().__init__()
        self.source = source

    async def recv(self) -> av.VideoFrame:
        return (await self.source.capture()).to_video_frame()
