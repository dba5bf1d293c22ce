"""YUV4MPEG2 (Y4M) files of I420 frames: what Chromium's --use-file-for-fake-video-capture
reads, so a browser can send our stamped test pattern or a stamped clip.
`python -m peer.y4m --out F.y4m [--source clip:bikes]`."""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path
from typing import IO

import numpy as np

from peer.source import Content


class Y4mWriter:
    def __init__(self, file: IO[bytes], width: int, height: int, fps: float) -> None:
        rate = Fraction(fps).limit_denominator(1001)
        file.write(f"YUV4MPEG2 W{width} H{height} F{rate.numerator}:{rate.denominator} "
                   "Ip A1:1 C420jpeg\n".encode("ascii"))
        self._file, self._shape = file, (height * 3 // 2, width)

    def write(self, i420: np.ndarray) -> None:
        if i420.shape != self._shape or i420.dtype != np.uint8:
            raise ValueError(f"Y4M frame must be uint8 {self._shape}, "
                             f"got {i420.dtype} {i420.shape}")
        self._file.write(b"FRAME\n")
        self._file.write(np.ascontiguousarray(i420).tobytes())


def export_content(path: Path, content: Content, frames: int, fps: float) -> None:
    """Stamped content's first `frames` frames, numbered 0.., as a Y4M file."""
    with open(path, "wb") as file:
        writer = Y4mWriter(file, content.width, content.height, fps)
        for frame_id in range(frames):
            writer.write(content.render_i420(frame_id))


def export_test_pattern(path: Path, frames: int, width: int = 640, height: int = 480,
                        fps: float = 30.0) -> None:
    """The stamped test pattern's first `frames` frames, numbered 0.., as a Y4M file."""
    from peer.testpattern import pattern

    export_content(path, pattern(width, height), frames, fps)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m peer.y4m", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="the .y4m file to write")
    parser.add_argument("--source", default="testpattern", metavar="testpattern|clip:NAME",
                        help="what to export (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="length (default 60; a clip: one loop of it)")
    parser.add_argument("--fps", type=float, default=30.0, help="test pattern only")
    parser.add_argument("--width", type=int, default=640, help="test pattern only")
    parser.add_argument("--height", type=int, default=480, help="test pattern only")
    args = parser.parse_args(argv)
    if not args.out.parent.is_dir():
        parser.error(f"--out: folder {args.out.parent} does not exist")
    if args.seconds <= 0 or args.fps <= 0:
        parser.error("--seconds and --fps must be positive")
    from peer.clip_source import clip_name, load_clip
    from peer.file_source import SourceError

    name = clip_name(args.source)
    if name is None and args.source != "testpattern":
        parser.error(f"--source: {args.source!r} is neither testpattern nor clip:NAME")
    if name is None:
        frames = round(args.seconds * args.fps)
        export_test_pattern(args.out, frames, args.width, args.height, args.fps)
    else:
        try:
            clip = load_clip(name)
        except SourceError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        frames = len(clip)
        export_content(args.out, clip, frames, clip.fps)
    print(f"wrote {frames} frames of the stamped {args.source} to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
