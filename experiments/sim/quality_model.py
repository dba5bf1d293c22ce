"""Picture quality of a modelled frame from its bits per pixel.

SSIM in dB (−10·log10(1 − SSIM), as Salsify reports it) and luma PSNR read off the points
measured on real VP8 encodes of the content (experiments.sim.content: the points, and how to
refit), straight between neighbours in ln(bpp) and flat beyond the measured range (below it
the encoder's coarsest quantizer is the floor; above it, little more is gained). Monotone
where the measured points are, so controllers are ranked by the bits they deliver.

A keyframe spends `keyframe_ratio` times the bits of a delta frame for the same quality, so
the simulator scores a keyframe by its size divided by that ratio.
"""

from __future__ import annotations

import math

import numpy as np

from experiments.sim.content import TEST_PATTERN, ContentProfile

FRAME_WIDTH_PX = TEST_PATTERN.width_px
FRAME_HEIGHT_PX = TEST_PATTERN.height_px

def bits_per_pixel(
    size_bytes: float, width_px: int = FRAME_WIDTH_PX, height_px: int = FRAME_HEIGHT_PX
) -> float:
    """Bits of one frame spread over its luma pixels."""
    if width_px <= 0 or height_px <= 0:
        raise ValueError("frame size must be positive: pass width_px and height_px > 0")
    return max(size_bytes, 0.0) * 8 / (width_px * height_px)


def ssim_db(bpp: float, content: ContentProfile = TEST_PATTERN) -> float:
    """Modelled SSIM in dB of a VP8 frame of `content` coded at `bpp` bits per pixel."""
    return _read(content, bpp, 1)


def psnr_db(bpp: float, content: ContentProfile = TEST_PATTERN) -> float:
    """Modelled luma PSNR in dB of a VP8 frame of `content` coded at `bpp` bits per pixel."""
    return _read(content, bpp, 2)


def _read(content: ContentProfile, bpp: float, column: int) -> float:
    curve = content.quality_curve
    if bpp <= curve[0][0]:
        return curve[0][column]
    x = math.log(bpp)
    return float(np.interp(x, [math.log(p[0]) for p in curve], [p[column] for p in curve]))
