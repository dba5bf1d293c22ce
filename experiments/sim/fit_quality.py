"""Fit the simulator's quality model to real VP8: `python -m experiments.sim.fit_quality`.

Encodes the project's test pattern (peer.testpattern: camera-like texture, motion and noise)
at 640x480, 30 fps with libvpx VP8 in realtime mode (PyAV) at several bitrates, decodes each
frame, measures luma SSIM/PSNR against the source (peer.quality) and the frame's bits per
pixel, and fits `a + b·ln(bpp)` by least squares over delta frames after rate control settled.
It prints the points and the fitted constants for experiments/quality_model.py.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from fractions import Fraction

import av
import numpy as np

from peer.quality import psnr_db, ssim_db
from peer.testpattern import TestPattern

WIDTH, HEIGHT, FPS = 640, 480, 30
BITRATES_BPS = (100_000, 200_000, 400_000, 800_000, 1_600_000, 3_200_000, 6_400_000)
SETTLE_FRAMES = 20  # rate control finds its level; these frames are not fitted


def measure(bitrate_bps: int, frames: int) -> list[tuple[float, float, float]]:
    """(bpp, SSIM dB, PSNR dB) of each delta frame after settling, at one target bitrate."""
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height = WIDTH, HEIGHT
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = Fraction(1, FPS)
    encoder.framerate = Fraction(FPS, 1)
    encoder.bit_rate = bitrate_bps
    # As peer/vp8_encoder.py configures libvpx: realtime, speed 6, quantizer 2..56.
    encoder.options = {"deadline": "realtime", "cpu-used": "6", "lag-in-frames": "0",
                       "qmin": "2", "qmax": "56", "kf-max-dist": "100000"}
    decoder = av.CodecContext.create("vp8", "r")
    pattern = TestPattern(WIDTH, HEIGHT)
    points = []
    for n in range(frames):
        planes = pattern.render_i420(n)
        frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        frame.pts = n
        for packet in encoder.encode(frame):
            size = packet.size
            key = packet.is_keyframe
            for decoded in decoder.decode(packet):
                luma = decoded.to_ndarray(format="gray")
                source = pattern.luma(int(decoded.pts if decoded.pts is not None else n))
                if n >= SETTLE_FRAMES and not key:
                    bpp = size * 8 / (WIDTH * HEIGHT)
                    points.append((bpp, ssim_db(luma, source), psnr_db(luma, source)))
    return points


def fit(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares (a, b) of y = a + b·ln(x)."""
    x = np.log([p[0] for p in points])
    y = np.array([p[1] for p in points])
    b, a = np.polyfit(x, y, 1)
    return float(a), float(b)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.sim.fit_quality")
    parser.add_argument("--frames", type=int, default=60, help="frames per bitrate")
    args = parser.parse_args(argv)
    all_points = []
    for bitrate in BITRATES_BPS:
        points = measure(bitrate, args.frames)
        if not points:
            continue
        all_points += points
        bpp = float(np.mean([p[0] for p in points]))
        print(f"{bitrate / 1000:6.0f} kbit/s: bpp {bpp:.4f}  "
              f"SSIM {np.mean([p[1] for p in points]):5.2f} dB  "
              f"PSNR {np.mean([p[2] for p in points]):5.2f} dB  ({len(points)} frames)")
    a, b = fit([(p[0], p[1]) for p in all_points])
    pa, pb = fit([(p[0], p[2]) for p in all_points])
    print(f"SSIM dB = {a:.2f} + {b:.2f}·ln(bpp)   PSNR dB = {pa:.2f} + {pb:.2f}·ln(bpp)")
    return 0 if math.isfinite(a + b + pa + pb) else 1


if __name__ == "__main__":
    sys.exit(main())
