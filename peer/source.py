"""Video sources. The test pattern and the clips (peer.clip_source) are clocked: frame n is
captured at `t0 + n / fps` on the call's clock (peer.clock: loop time mapped to wall time), so
a receiver that knows t0, fps and the content (sent in the offer or answer) knows every frame's
capture time and picture from its stamp. When the process falls behind, frame numbers are
skipped, as a camera drops frames, never delayed. Every source stamps capture on the clock it
is given, the one the rest of the call reads, so a capture time and a show time of one process
are on one time line.

A `FrameSource` yields raw I420 frames; `RawVideoTrack` turns one into an aiortc track for
aiortc's own encoder (controller `aiortc`), while `peer.encoded_track` encodes them itself.
"""

from __future__ import annotations

import asyncio
import fractions
import math
from dataclasses import dataclass
from typing import Any, Protocol

import av
import numpy as np
from aiortc import MediaStreamTrack

from peer.clock import Clock
from peer.testpattern import DEFAULT_FPS, DEFAULT_HEIGHT, DEFAULT_WIDTH, pattern

VIDEO_CLOCK_HZ = 90_000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_HZ)


@dataclass(frozen=True)
class SourceClock:
    """What a receiver needs to know of the other side's stamped content: what it is (`kind`:
    testpattern or clip:NAME) and its size (to regenerate a source frame from its stamp) and,
    when known, its clock (to turn a stamp into a capture time, seconds on the wall clock). A
    browser playing an exported file (peer.y4m) knows the size but not t0, and its stamps
    repeat every `loop_frames` frames."""

    t0: float | None
    fps: float
    width: int
    height: int
    kind: str = "testpattern"
    loop_frames: int | None = None

    def captured_at(self, frame_id: int, shown_at: float | None = None) -> float | None:
        """Capture time of the frame with this stamp; with a looping source, the latest
        capture of it not after `shown_at`."""
        if self.t0 is None:
            return None
        if self.loop_frames is None or shown_at is None:
            return self.t0 + frame_id / self.fps
        period_s = self.loop_frames / self.fps
        loops = math.floor((shown_at - self.t0 - frame_id / self.fps) / period_s)
        return self.t0 + frame_id / self.fps + max(0, loops) * period_s

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "t0": self.t0, "fps": self.fps, "width": self.width,
                "height": self.height, "loop_frames": self.loop_frames}

    @classmethod
    def from_json(cls, data: object) -> SourceClock | None:
        """Parse a peer's announcement; None when absent or malformed (e.g. a browser)."""
        if not isinstance(data, dict):
            return None
        try:
            t0 = None if data.get("t0") is None else float(data["t0"])
            loop = None if data.get("loop_frames") is None else int(data["loop_frames"])
            clock = cls(t0, float(data["fps"]), int(data["width"]), int(data["height"]),
                        str(data.get("kind", "testpattern")), loop)
        except (KeyError, TypeError, ValueError):
            return None
        if not ((clock.t0 is None or math.isfinite(clock.t0)) and 0 < clock.fps <= 240
                and 0 < clock.width <= 8192 and 0 < clock.height <= 8192
                and (loop is None or loop > 0)):
            return None
        return clock


@dataclass(frozen=True)
class CapturedFrame:
    image: np.ndarray  # I420, shape (H*3/2, W), uint8
    captured_at: float  # the call's clock in wall time (Clock.wall_s), seconds
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


class Content(Protocol):
    """Stamped pictures as a pure function of frame number: the test pattern or a clip.
    `kind` names it in the source announcement, so a receiver can render the same frames."""

    @property
    def kind(self) -> str: ...

    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...

    def render_i420(self, frame_id: int) -> np.ndarray: ...

    def luma(self, frame_id: int) -> np.ndarray: ...


class ClockedSource:
    """Stamped content paced to the call's clock: frame n is due at t0 + n / fps."""

    def __init__(self, content: Content, fps: float, clock: Clock) -> None:
        self.content = content
        self.width, self.height, self.fps = content.width, content.height, fps
        self._clock = clock
        self._t0 = clock.wall_s()
        self.clock: SourceClock | None = SourceClock(self._t0, fps, self.width, self.height,
                                                     content.kind)
        self._next_id = 0
        self.frames_captured = 0

    async def capture(self) -> CapturedFrame:
        t0, fps = self._t0, self.fps
        now = self._clock.wall_s()
        frame_id = max(self._next_id, math.floor((now - t0) * fps))  # skip late ids
        captured_at = t0 + frame_id / fps
        if captured_at > now:
            await asyncio.sleep(captured_at - now)
        self._next_id = frame_id + 1
        self.frames_captured += 1
        return CapturedFrame(self.content.render_i420(frame_id), captured_at,
                             round(frame_id * VIDEO_CLOCK_HZ / fps))

    def close(self) -> None:
        pass


class TestPatternSource(ClockedSource):
    """The stamped test pattern, paced to the call's clock."""

    __test__ = False

    def __init__(self, clock: Clock, width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT,
                 fps: float = DEFAULT_FPS) -> None:
        super().__init__(pattern(width, height), fps, clock)


class RawVideoTrack(MediaStreamTrack):
    """Raw frames for aiortc's own encoder: the stock-aiortc way of sending."""

    kind = "video"

    def __init__(self, source: FrameSource) -> None:
        super().__init__()
        self.source = source

    async def recv(self) -> av.VideoFrame:
        return (await self.source.capture()).to_video_frame()
