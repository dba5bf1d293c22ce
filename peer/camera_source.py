"""A camera as a source, through OpenCV; frames are read on a worker thread and stamped on
the call's clock when they reach the loop."""

from __future__ import annotations

import asyncio

import cv2
import numpy as np

from peer.clock import Clock
from peer.file_source import SourceError
from peer.source import VIDEO_CLOCK_HZ, CapturedFrame, SourceClock


class CameraSource:
    def __init__(self, clock: Clock, device: int | str = 0, width: int = 640,
                 height: int = 480, fps: float = 30.0) -> None:
        self._capture = cv2.VideoCapture(device)
        if not self._capture.isOpened():
            raise SourceError(f"cannot open camera {device!r}; check that it exists "
                              "(e.g. /dev/video0) and is not in use, or use --source testpattern")
        self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        self._capture.set(cv2.CAP_PROP_FPS, fps)
        self.width, self.height, self.fps = width, height, fps
        self.clock: SourceClock | None = None
        self.frames_captured = 0
        self._clock = clock
        self._t0 = clock.wall_s()

    def _read(self) -> tuple[bool, np.ndarray | None]:
        ok, bgr = self._capture.read()
        return ok, np.asarray(bgr) if ok else None

    async def capture(self) -> CapturedFrame:
        ok, bgr = await asyncio.get_running_loop().run_in_executor(None, self._read)
        captured_at = self._clock.wall_s()
        if not ok or bgr is None:
            raise SourceError("the camera stopped delivering frames")
        bgr = cv2.resize(bgr, (self.width, self.height))
        image = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
        self.frames_captured += 1
        pts = round((captured_at - self._t0) * VIDEO_CLOCK_HZ)
        return CapturedFrame(image, captured_at, pts)

    def close(self) -> None:
        self._capture.release()
