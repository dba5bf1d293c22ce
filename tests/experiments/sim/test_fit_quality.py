
import pytest

from experiments.sim.fit_quality import SETTLE_FRAMES, keyframe_ratio, measure, open_content


@pytest.mark.parametrize("source", ["testpattern", "clip:bikes"])
def test_real_vp8_more_bits_better_picture(source: str) -> None:
    content, fps = open_content(source)
    low = measure(content, fps, 150_000, SETTLE_FRAMES + 4)
    high = measure(content, fps, 3_000_000, SETTLE_FRAMES + 4)
    assert low and high
    mean = lambda pts, i: sum(p[i] for p in pts) / len(pts)  # noqa: E731
    assert mean(high, 0) > mean(low, 0)  # more bits per pixel
    assert mean(high, 1) > mean(low, 1)  # higher SSIM dB
    assert 8 < mean(low, 1) < 25 and 30 < mean(low, 2) < 55


def test_a_keyframe_costs_more_than_a_delta_frame_at_one_quantizer() -> None:
    content, fps = open_content("clip:bikes")
    assert 1.2 < keyframe_ratio(content, fps, 32, 61) < 10
