import numpy as np
import pytest

from peer.testpattern import TestPattern, render_i420, render_luma


def test_pure_function_of_frame_number() -> None:
    assert np.array_equal(render_i420(37), render_i420(37))
    fresh = TestPattern(640, 480)
    assert np.array_equal(fresh.render_i420(37), render_i420(37))


def test_i420_layout() -> None:
    frame = render_i420(0)
    assert frame.shape == (720, 640) and frame.dtype == np.uint8


def test_content_is_textured_and_moving() -> None:
    a, b, later = render_luma(10), render_luma(11), render_luma(100)
    body = slice(60, None)  # below the stamp
    assert a[body].std() > 25  # texture, not flat colour
    assert 0 < np.abs(a[body].astype(int) - b[body]).mean() < 20  # small motion + noise
    assert np.abs(a[body].astype(int) - later[body]).mean() > 10  # it does move
    noise = a[body].astype(int) - render_luma(10 + 0)[body]
    assert not noise.any()


def test_sizes_are_checked() -> None:
    with pytest.raises(ValueError, match="even sizes"):
        TestPattern(641, 480)
