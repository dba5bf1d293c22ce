import statistics

import pytest

from experiments.sim.encoder_model import (
    MIN_FRAME_BYTES,
    QUANTIZER_FLOOR_BYTES,
    EncoderModel,
    EncoderModelConfig,
)


def test_first_frame_is_keyframe_then_deltas() -> None:
    enc = EncoderModel(seed=1)
    frames = [enc.encode(4_000) for _ in range(5)]
    assert [f.keyframe for f in frames] == [True, False, False, False, False]
    assert enc.keyframes == 1 and enc.frames_encoded == 5


def test_delta_sizes_follow_target_with_spread() -> None:
    enc = EncoderModel(EncoderModelConfig(delta_sigma=0.2), seed=3)
    enc.encode(5_000)  # the keyframe
    sizes = [enc.encode(5_000).size_bytes for _ in range(4_000)]
    mean = statistics.fmean(sizes)
    spread = statistics.pstdev(sizes) / mean
    assert 4_800 < mean < 5_200
    assert 0.15 < spread < 0.25


def test_keyframe_ratio_and_cap() -> None:
    enc = EncoderModel(EncoderModelConfig(keyframe_ratio=7.0, keyframe_sigma=0.0), seed=0)
    assert enc.encode(2_000).size_bytes == 14_000
    enc.request_keyframe()
    capped = enc.encode(2_000, max_keyframe_bytes=6_000)
    assert capped.keyframe and capped.size_bytes == 6_000
    forced = enc.encode(2_000, force_keyframe=True)
    assert forced.keyframe


def test_tiny_target_floors_and_seed_reproducible() -> None:
    a = EncoderModel(seed=9)
    b = EncoderModel(seed=9)
    sa = [a.encode(10).size_bytes for _ in range(20)]
    sb = [b.encode(10).size_bytes for _ in range(20)]
    assert sa == sb
    assert min(sa[1:]) >= MIN_FRAME_BYTES


def test_bad_config_rejected() -> None:
    with pytest.raises(ValueError, match="keyframe_ratio"):
        EncoderModelConfig(keyframe_ratio=0.5)


def test_delta_floor_grows_with_frames_since_last() -> None:
    """Below the floor a frame costs what the content's change since the previous encoded
    frame costs at quantizer 56 (QUANTIZER_FLOOR_BYTES); above it the target rules."""
    enc = EncoderModel(EncoderModelConfig(delta_sigma=0.0), seed=1)
    enc.encode(5_000)  # the keyframe
    floors = QUANTIZER_FLOOR_BYTES
    for gap in (1, 2, 3, 4, 30):
        sizes = [enc.encode(100, frames_since_last=gap).size_bytes for _ in range(200)]
        floor = floors[min(gap, len(floors)) - 1]
        assert 0.75 * floor <= statistics.median(sizes) <= 1.25 * floor, gap
    assert enc.encode(8_000, frames_since_last=3).size_bytes == 8_000
    bare = EncoderModel(EncoderModelConfig(delta_sigma=0.0, floor_bytes=()), seed=1)
    bare.encode(5_000)
    assert bare.encode(100, frames_since_last=5).size_bytes == MIN_FRAME_BYTES
