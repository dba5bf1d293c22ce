"""A video file as a source: anything PyAV reads, decoded to I420, looped, paced in real time
on the call's clock."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from pathlib import Path

import av
import numpy as np

from peer.clock import Clock
from peer.source import VIDEO_CLOCK_HZ, CapturedFrame, SourceClock


class SourceError(Exception):
    """A source that cannot be opened; the message says what to do."""


class FileSource:
    def __init__(self, path: str | Path, clock: Clock) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(f"video file {self.path} does not exist; give a readable file")
        try:
            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                rate = stream.average_rate or stream.base_rate or 30
                self.width, self.height = stream.codec_context.width, stream.codec_context.height
        except (av.FFmpegError, IndexError) as exc:
            raise SourceError(f"cannot read video from {self.path}: {exc}") from None
        self.width -= self.width % 2
        self.height -= self.height % 2
        self.fps = float(rate)
        self.clock: SourceClock | None = None  # a file carries no stamp of ours
        self.frames_captured = 0
        self._clock = clock
        self._t0 = clock.wall_s()
        self._frames = self._decode_forever()

    def _decode_forever(self) -> Generator[np.ndarray, None, None]:
        while True:
            decoded = 0
            with av.open(str(self.path)) as container:
                for frame in container.decode(video=0):
                    image = frame.reformat(width=self.width, height=self.height,
                                           format="yuv420p").to_ndarray()
                    decoded += 1
                    yield image
            if decoded == 0:
                raise SourceError(f"{self.path} holds no decodable video frame")

    async def capture(self) -> CapturedFrame:
        due = self._t0 + self.frames_captured / self.fps
        wait = due - self._clock.wall_s()
        if wait > 0:
            await asyncio.sleep(wait)
        image = next(self._frames)
        pts = round(self.frames_captured * VIDEO_CLOCK_HZ / self.fps)
        self.frames_captured += 1
        return CapturedFrame(image, self._clock.wall_s(), pts)

    def close(self) -> None:
        self._frames.close()
