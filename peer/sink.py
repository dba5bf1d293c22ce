"""Where shown frames go: nowhere (measurements), a window, or a file (Y4M or MP4)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import IO

import av
import cv2
import numpy as np

from peer.y4m import Y4mWriter


class SinkError(Exception):
    """A sink that cannot be opened; the message says what to do."""


class NullSink:
    """Shows nothing: for measurements and tests."""

    def show(self, frame: av.VideoFrame) -> None:
        pass

    def close(self) -> None:
        pass


class WindowSink:
    """An OpenCV window. Needs OpenCV built with a GUI (opencv-python, not -headless)."""

    def __init__(self, title: str = "remote") -> None:
        self.title = title
        try:
            cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE)
        except cv2.error:
            raise SinkError("this OpenCV has no window support (opencv-python-headless); "
                            "use --sink FILE.y4m or install opencv-python") from None

    def show(self, frame: av.VideoFrame) -> None:
        cv2.imshow(self.title, frame.to_ndarray(format="bgr24"))
        cv2.waitKey(1)

    def close(self) -> None:
        cv2.destroyWindow(self.title)


class FileSink:
    """Writes every shown frame: .y4m raw (exact pictures), anything else encoded by PyAV."""

    def __init__(self, path: str | Path, fps: float = 30.0) -> None:
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise SinkError(f"folder {self.path.parent} does not exist; create it first")
        self.fps = fps
        self._y4m: Y4mWriter | None = None
        self._file: IO[bytes] | None = None
        self._container: av.container.OutputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None
        self._count = 0

    def show(self, frame: av.VideoFrame) -> None:
        image = frame.to_ndarray(format="yuv420p")
        if self.path.suffix.lower() == ".y4m":
            if self._y4m is None:
                self._file = open(self.path, "wb")  # noqa: SIM115
                self._y4m = Y4mWriter(self._file, frame.width, frame.height, self.fps)
            self._y4m.write(image)
            return
        if self._container is None:
            self._container = av.open(str(self.path), "w")
            self._stream = self._container.add_stream("libx264", rate=Fraction(self.fps))
            self._stream.width, self._stream.height = frame.width, frame.height
            self._stream.pix_fmt = "yuv420p"
        assert self._stream is not None
        out = av.VideoFrame.from_ndarray(np.ascontiguousarray(image, np.uint8), format="yuv420p")
        out.pts = self._count
        self._count += 1
        for packet in self._stream.encode(out):
            self._container.mux(packet)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._container is not None and self._stream is not None:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()


def open_sink(spec: str) -> NullSink | WindowSink | FileSink:
    if spec == "null":
        return NullSink()
    if spec == "window":
        return WindowSink()
    return FileSink(spec)
