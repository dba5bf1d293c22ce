from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from peer.stamp import FRAME_ID_MODULO, crc8, draw_stamp, read_stamp
from peer.testpattern import render_i420, render_luma


def test_round_trip_on_the_raw_pattern() -> None:
    for frame_id in (0, 1, 255, 4097, 123_456, FRAME_ID_MODULO - 1):
        assert read_stamp(render_luma(frame_id)) == frame_id


def test_frame_numbers_wrap_at_24_bits() -> None:
    luma = np.zeros((480, 640), np.uint8)
    draw_stamp(luma, FRAME_ID_MODULO + 5)
    assert read_stamp(luma) == 5


def test_no_stamp_reads_as_none() -> None:
    rng = np.random.default_rng(1)
    assert read_stamp(rng.integers(0, 256, (480, 640), dtype=np.uint8)) is None
    assert read_stamp(np.full((480, 640), 128, np.uint8)) is None


def test_a_flipped_bit_is_caught_by_the_checksum() -> None:
    luma = render_luma(777)
    cell = 24
    x, y = 5 * cell, 0  # a data cell in the first row
    luma[y : y + cell, x : x + cell] = 235 - luma[y : y + cell, x : x + cell] + 16
    assert read_stamp(luma) is None


def test_crc8_reference_value() -> None:
    assert crc8(b"123456789") == 0xF4  # CRC-8/ATM check value


def test_read_after_scaling_down() -> None:
    luma = render_luma(4242)
    half = cv2.resize(luma, (320, 240), interpolation=cv2.INTER_AREA)
    assert read_stamp(half) == 4242


def test_too_small_a_picture_is_an_error() -> None:
    with pytest.raises(ValueError, match="too small"):
        read_stamp(np.zeros((4, 8), np.uint8))


def _vp8_round_trip(bit_rate: int, qmin: int, qmax: int,
                    frames: int = 90) -> tuple[int, int, float]:
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 640, 480, "yuv420p"
    encoder.time_base = Fraction(1, 30)
    encoder.bit_rate = bit_rate
    encoder.qmin, encoder.qmax = qmin, qmax
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    decoder = av.CodecContext.create("vp8", "r")
    read = decoded = size = 0
    for n in range(frames):
        frame = av.VideoFrame.from_ndarray(render_i420(n), format="yuv420p")
        frame.pts = n
        for packet in encoder.encode(frame):
            size += packet.size
            for picture in decoder.decode(packet):
                decoded += 1
                if read_stamp(picture.to_ndarray(format="gray")) == n:
                    read += 1
    return read, decoded, size * 8 * 30 / frames


def test_stamp_survives_vp8_at_150_kbps() -> None:
    read, decoded, _ = _vp8_round_trip(150_000, 4, 63)
    assert decoded == 90
    assert read == decoded


def test_stamp_survives_the_coarsest_vp8_quantizer() -> None:
    """Quantizer pinned at its maximum: the worst picture VP8 can make of this content."""
    read, decoded, _ = _vp8_round_trip(50_000, 63, 63)
    assert read == decoded == 90
