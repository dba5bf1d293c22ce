import math

import pytest

from experiments.sim.quality_model import bits_per_pixel, psnr_db, ssim_db


def test_monotone_and_anchored() -> None:
    bpps = [0.001, 0.01, 0.033, 0.1, 0.33, 1.0, 3.0]
    ssims = [ssim_db(b) for b in bpps]
    psnrs = [psnr_db(b) for b in bpps]
    assert ssims == sorted(ssims) and psnrs == sorted(psnrs)
    assert ssims[0] < ssims[-1] and psnrs[0] < psnrs[-1]
    # The fitted points: 800 kbit/s (0.073 bpp) -> 8.5 dB SSIM, 28.5 dB PSNR; 0.70 bpp -> 10.2.
    assert abs(ssim_db(0.073) - 8.5) < 0.3
    assert abs(psnr_db(0.073) - 28.5) < 0.3
    assert abs(ssim_db(0.70) - 10.2) < 0.3


def test_clamped() -> None:
    assert ssim_db(0) == ssim_db(1e-9)
    assert ssim_db(1e9) == ssim_db(1e12)
    assert math.isfinite(psnr_db(0))


def test_bpp() -> None:
    assert bits_per_pixel(38_400) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="positive"):
        bits_per_pixel(10, 0, 480)
