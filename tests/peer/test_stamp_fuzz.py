"""Fuzzing the frame stamp reader: any picture gives None or a 24-bit id, never an exception
other than the documented ValueError for a picture too small to hold a stamp; a stamped
picture with bounded noise still reads its own id."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peer.stamp import FRAME_ID_MODULO, MIN_MARGIN_FRACTION, draw_stamp, read_stamp, stamp_box

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Noise a cell may take and still be read: under the margin the reader demands of every cell.
NOISE_BOUND = int(MIN_MARGIN_FRACTION * (235 - 16)) - 1


@FUZZ
@given(st.integers(1, 700), st.integers(1, 500), st.integers(0, 2**32 - 1),
       st.sampled_from(["random", "constant", "stripes", "stamped-then-noise"]))
def test_any_picture_reads_as_none_or_an_id(width: int, height: int, seed: int,
                                            kind: str) -> None:
    rng = np.random.default_rng(seed)
    if kind == "random":
        luma = rng.integers(0, 256, (height, width), dtype=np.uint8)
    elif kind == "constant":
        luma = np.full((height, width), seed % 256, np.uint8)
    elif kind == "stripes":
        luma = np.tile(np.where(np.arange(width) % 7 < 3, 235, 16).astype(np.uint8),
                       (height, 1))
    else:
        luma = np.zeros((height, width), np.uint8)
        draw_stamp(luma, seed)
        luma = (luma.astype(np.int16) + rng.integers(-120, 120, luma.shape)).clip(0, 255)
        luma = luma.astype(np.uint8)
    cell = width * 24 / 640
    try:
        value = read_stamp(luma)
    except ValueError as exc:
        assert "too small" in str(exc)
        assert cell < 2 or cell * 2 > height
        return
    assert value is None or 0 <= value < FRAME_ID_MODULO


@FUZZ
@given(st.integers(0, FRAME_ID_MODULO - 1), st.integers(0, 2**32 - 1),
       st.sampled_from([(640, 480), (320, 240), (1280, 720), (160, 120)]))
def test_bounded_noise_keeps_the_id(frame_id: int, seed: int, size: tuple[int, int]) -> None:
    width, height = size
    rng = np.random.default_rng(seed)
    luma = rng.integers(0, 256, (height, width), dtype=np.uint8)  # any picture around it
    draw_stamp(luma, frame_id)
    noise = rng.integers(-NOISE_BOUND, NOISE_BOUND + 1, luma.shape)
    noisy = (luma.astype(np.int16) + noise).clip(0, 255).astype(np.uint8)
    assert read_stamp(noisy) == frame_id


@FUZZ
@given(st.integers(0, FRAME_ID_MODULO - 1), st.integers(0, 2**32 - 1))
def test_noise_over_the_picture_but_not_the_stamp_changes_nothing(frame_id: int,
                                                                  seed: int) -> None:
    luma = np.random.default_rng(seed).integers(0, 256, (480, 640), dtype=np.uint8)
    draw_stamp(luma, frame_id)
    box_w, box_h = stamp_box(640)
    luma[box_h:, :] = 255 - luma[box_h:, :]
    luma[:box_h, box_w:] = 0
    assert read_stamp(luma) == frame_id


def test_wrong_shapes_and_types_are_the_documented_value_error() -> None:
    for bad in (np.zeros((480, 640, 3), np.uint8), np.zeros((480, 640), np.float32),
                np.zeros((0, 0), np.uint8), np.zeros((480, 10), np.uint8)):
        with pytest.raises(ValueError):
            read_stamp(bad)
