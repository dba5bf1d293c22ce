"""Picture quality of a modelled frame from its bits per pixel.

SSIM in dB (−10·log10(1 − SSIM), as Salsify reports it) and luma PSNR grow about linearly
with the logarithm of bits per pixel. The constants below are a least-squares fit of
`a + b·ln(bpp)` to real VP8 at 640x480, 30 fps: libvpx through PyAV, realtime, speed 6,
quantizer 2..56 (as peer/vp8_encoder.py sets it), coding the project's own test pattern
(peer.testpattern, the source the real calls measure) at 0.1–6.4 Mbit/s, SSIM and PSNR by
peer.quality against the source frame, delta frames after 20 frames of settling:

    bitrate (kbit/s)   100   400   800  1600  3200  6400
    bpp              0.044 0.040 0.073 0.176 0.352 0.698
    SSIM dB           7.8   8.2   8.5   9.2   9.7  10.2
    PSNR dB          28.1  28.3  28.5  28.8  28.8  28.9

Reproduce with `python -m experiments.sim.fit_quality` (about a minute). The pattern's grain and
sensor noise make it hard to code, so the curve is flat: quality differences between
controllers are small but ranked correctly (the model is monotone). Values are clamped to the
range VP8 can reach.

A keyframe spends `keyframe_ratio` times the bits of a delta frame for the same quality, so
the simulator scores a keyframe by its size divided by that ratio.
"""

from __future__ import annotations

import math

FRAME_WIDTH_PX = 640
FRAME_HEIGHT_PX = 480

SSIM_DB_INTERCEPT = 10.52  # a: SSIM dB at 1 bit per pixel
SSIM_DB_PER_LN_BPP = 0.78  # b: SSIM dB gained per e-fold of bits per pixel
SSIM_DB_MIN = 3.0  # SSIM 0.5: an unrecognisable smear
SSIM_DB_MAX = 25.0  # SSIM 0.997: visually lossless

PSNR_DB_INTERCEPT = 29.06
PSNR_DB_PER_LN_BPP = 0.25
PSNR_DB_MIN = 20.0
PSNR_DB_MAX = 50.0


def bits_per_pixel(
    size_bytes: float, width_px: int = FRAME_WIDTH_PX, height_px: int = FRAME_HEIGHT_PX
) -> float:
    """Bits of one frame spread over its luma pixels."""
    if width_px <= 0 or height_px <= 0:
        raise ValueError("frame size must be positive: pass width_px and height_px > 0")
    return max(size_bytes, 0.0) * 8 / (width_px * height_px)


def ssim_db(bpp: float) -> float:
    """Modelled SSIM in dB of a VP8 frame coded at `bpp` bits per pixel."""
    if bpp <= 0:
        return SSIM_DB_MIN
    value = SSIM_DB_INTERCEPT + SSIM_DB_PER_LN_BPP * math.log(bpp)
    return min(max(value, SSIM_DB_MIN), SSIM_DB_MAX)


def psnr_db(bpp: float) -> float:
    """Modelled luma PSNR in dB of a VP8 frame coded at `bpp` bits per pixel."""
    if bpp <= 0:
        return PSNR_DB_MIN
    value = PSNR_DB_INTERCEPT + PSNR_DB_PER_LN_BPP * math.log(bpp)
    return min(max(value, PSNR_DB_MIN), PSNR_DB_MAX)
