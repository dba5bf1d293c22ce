import statistics

import pytest

from experiments.sim.encoder_model import (
    MIN_FRAME_BYTES,
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
