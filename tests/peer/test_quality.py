import numpy as np

from peer import quality
from peer.testpattern import render_luma


def test_identical_pictures_reach_the_cap() -> None:
    luma = render_luma(3)
    assert quality.ssim(luma, luma) > 0.9999
    assert quality.ssim_db(luma, luma) == quality.MAX_DB
    assert quality.psnr_db(luma, luma) == quality.MAX_DB


def test_more_noise_lower_quality() -> None:
    source = render_luma(3)
    rng = np.random.default_rng(0)
    mild = np.clip(source + rng.normal(0, 3, source.shape), 0, 255).astype(np.uint8)
    heavy = np.clip(source + rng.normal(0, 20, source.shape), 0, 255).astype(np.uint8)
    assert quality.ssim_db(mild, source) > quality.ssim_db(heavy, source) > 0
    assert 37 < quality.psnr_db(mild, source) < 40  # 20*log10(255/3) = 38.6
    assert quality.psnr_db(heavy, source) < 23


def test_db_scale_matches_salsify() -> None:
    assert abs(quality.to_db(0.9) - 10.0) < 1e-9
    assert abs(quality.to_db(0.99) - 20.0) < 1e-9


def test_other_resolution_is_compared_at_the_source_size() -> None:
    import cv2

    source = render_luma(5)
    small = cv2.resize(source, (320, 240), interpolation=cv2.INTER_AREA)
    assert 5 < quality.ssim_db(small, source) < quality.MAX_DB
