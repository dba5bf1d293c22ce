import math

import pytest

from experiments.sim.content import BIKES, TEST_PATTERN, ContentProfile, content_profile
from experiments.sim.quality_model import bits_per_pixel, psnr_db, ssim_db


def test_monotone_and_anchored() -> None:
    bpps = [0.001, 0.01, 0.033, 0.1, 0.33, 1.0, 3.0]
    ssims = [ssim_db(b) for b in bpps]
    psnrs = [psnr_db(b) for b in bpps]
    assert ssims == sorted(ssims) and psnrs == sorted(psnrs)
    assert ssims[0] < ssims[-1] and psnrs[0] < psnrs[-1]
    # Measured points (experiments/sim/content.py): 1600 kbit/s (0.1941 bpp) -> 18.39 dB SSIM,
    # 47.63 dB PSNR; 6400 kbit/s (0.3925 bpp) -> 19.27 dB SSIM, and flat beyond.
    assert ssim_db(0.1941) == pytest.approx(18.39)
    assert psnr_db(0.1941) == pytest.approx(47.63)
    assert ssim_db(0.3925) == pytest.approx(19.27) == ssim_db(1.0)
    # between points: straight in ln(bpp) (0.0965 bpp -> 17.53, 0.1941 -> 18.39)
    assert ssim_db(math.sqrt(0.0965 * 0.1941)) == pytest.approx((17.53 + 18.39) / 2)


def test_a_profile_needs_increasing_points() -> None:
    with pytest.raises(ValueError, match="increasing, positive bits per pixel"):
        ContentProfile("x", 64, 48, 30.0, ((0.2, 15.0, 40.0), (0.1, 14.0, 39.0)))


def test_bikes_profile_follows_its_own_encodes() -> None:
    # bikes at 1600 kbit/s: 0.456 bpp -> 22.80 dB SSIM, 50.14 dB PSNR
    assert ssim_db(0.456, BIKES) == pytest.approx(22.80)
    assert psnr_db(0.456, BIKES) == pytest.approx(50.14)
    assert ssim_db(0.2, BIKES) > ssim_db(0.2, TEST_PATTERN)  # no sensor noise to code
    assert (BIKES.width_px, BIKES.height_px, BIKES.fps) == (640, 272, 25.0)


def test_profiles_by_source_name() -> None:
    assert content_profile("clip:bikes") is BIKES
    assert content_profile("testpattern") is TEST_PATTERN
    with pytest.raises(ValueError, match="no content profile for clip:carphone_pristine"):
        content_profile("clip:carphone_pristine")
    with pytest.raises(ValueError, match="models testpattern, clip:bikes"):
        content_profile("camera")


def test_clamped() -> None:
    assert ssim_db(0) == ssim_db(1e-9)
    assert ssim_db(1e9) == ssim_db(1e12)
    assert math.isfinite(psnr_db(0))


def test_bpp() -> None:
    assert bits_per_pixel(38_400) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="positive"):
        bits_per_pixel(10, 0, 480)
