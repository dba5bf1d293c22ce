"""Picture quality of a shown frame against its source: SSIM and PSNR on luma, in dB.

SSIM follows Wang et al. (2004): 11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03.
In dB it is -10*log10(1 - SSIM), as Salsify reports it. Both are computed at the source
resolution: a decoded frame of another size is scaled to the source's first. Luma is the Y
plane as coded (`luma_plane`), never a conversion to gray: PyAV's `to_ndarray(format="gray")`
stretches video-range Y (16..235) to 0..255, which alone caps SSIM near 11 dB and PSNR near
29 dB for a perfect picture.
"""

from __future__ import annotations

import math

import av
import cv2
import numpy as np

_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2
MAX_DB = 60.0  # identical pictures would be infinite dB; cap so means stay meaningful


def luma_plane(frame: av.VideoFrame) -> np.ndarray:
    """The Y plane of a decoded frame, (H, W) uint8, values as coded."""
    if frame.format.name not in ("yuv420p", "yuvj420p"):
        frame = frame.reformat(format="yuv420p")
    plane = frame.planes[0]
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width].copy()


def _match_size(decoded: np.ndarray, source: np.ndarray) -> np.ndarray:
    if decoded.shape == source.shape:
        return decoded
    height, width = source.shape
    return cv2.resize(decoded, (width, height), interpolation=cv2.INTER_LINEAR)


def ssim(decoded: np.ndarray, source: np.ndarray) -> float:
    x = _match_size(decoded, source).astype(np.float32)
    y = source.astype(np.float32)

    def blur(image: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(image, (11, 11), 1.5)

    mu_x, mu_y = blur(x), blur(y)
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    sigma_xx = blur(x * x) - mu_xx
    sigma_yy = blur(y * y) - mu_yy
    sigma_xy = blur(x * y) - mu_xy
    numerator = (2 * mu_xy + _C1) * (2 * sigma_xy + _C2)
    denominator = (mu_xx + mu_yy + _C1) * (sigma_xx + sigma_yy + _C2)
    return float((numerator / denominator)[5:-5, 5:-5].mean())


def to_db(ssim_value: float) -> float:
    if ssim_value >= 1.0:
        return MAX_DB
    return min(MAX_DB, -10.0 * math.log10(1.0 - ssim_value))


def ssim_db(decoded: np.ndarray, source: np.ndarray) -> float:
    return to_db(ssim(decoded, source))


def psnr_db(decoded: np.ndarray, source: np.ndarray) -> float:
    diff = _match_size(decoded, source).astype(np.float32) - source.astype(np.float32)
    mse = float(np.mean(diff * diff))
    if mse == 0:
        return MAX_DB
    return min(MAX_DB, 10.0 * math.log10(255.0**2 / mse))
