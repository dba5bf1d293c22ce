"""Picture quality of a modelled frame from its bits per pixel.

SSIM in dB (−10·log10(1 − SSIM), as Salsify reports it) and luma PSNR grow about linearly
with the logarithm of bits per pixel: `a + b·ln(bpp)`, with `a` and `b` fitted per content to
real VP8 (experiments.sim.content: the fitted points, and how to refit). Values are clamped
to the range VP8 can reach. The model is monotone, so controllers are ranked correctly even
where the fit is rough.

A keyframe spends `keyframe_ratio` times the bits of a delta frame for the same quality, so
the simulator scores a keyframe by its size divided by that ratio.
"""

from __future__ import annotations

import math

from experiments.sim.content import TEST_PATTERN, ContentProfile

FRAME_WIDTH_PX = TEST_PATTERN.width_px
FRAME_HEIGHT_PX = TEST_PATTERN.height_px

SSIM_DB_MIN = 3.0  # SSIM 0.5: an unrecognisable smear
SSIM_DB_MAX = 25.0  # SSIM 0.997: visually lossless
PSNR_DB_MIN = 20.0
PSNR_DB_MAX = 55.0


def bits_per_pixel(
    size_bytes: float, width_px: int = FRAME_WIDTH_PX, height_px: int = FRAME_HEIGHT_PX
) -> float:
    """Bits of one frame spread over its luma pixels."""
    if width_px <= 0 or height_px <= 0:
        raise ValueError("frame size must be positive: pass width_px and height_px > 0")
    return max(size_bytes, 0.0) * 8 / (width_px * height_px)


def ssim_db(bpp: float, content: ContentProfile = TEST_PATTERN) -> float:
    """Modelled SSIM in dB of a VP8 frame of `content` coded at `bpp` bits per pixel."""
    if bpp <= 0:
        return SSIM_DB_MIN
    value = content.ssim_db_intercept + content.ssim_db_per_ln_bpp * math.log(bpp)
    return min(max(value, SSIM_DB_MIN), SSIM_DB_MAX)


def psnr_db(bpp: float, content: ContentProfile = TEST_PATTERN) -> float:
    """Modelled luma PSNR in dB of a VP8 frame of `content` coded at `bpp` bits per pixel."""
    if bpp <= 0:
        return PSNR_DB_MIN
    value = content.psnr_db_intercept + content.psnr_db_per_ln_bpp * math.log(bpp)
    return min(max(value, PSNR_DB_MIN), PSNR_DB_MAX)
