"""The tone's markers survive a real Opus encode and decode (PyAV's libopus), and are named."""

from __future__ import annotations

import fractions

import av
import numpy as np
import pytest

from peer.audio_marker import (
    MARKER_HZ,
    MarkerDetector,
    captured_at,
    marker_code,
    tone_samples,
)

RATE = 48_000
FRAME = 960


def opus_round_trip(samples: np.ndarray, bit_rate: int) -> np.ndarray:
    """Mono float samples through libopus (as aiortc configures it: voip, 48 kHz stereo)."""
    encoder = av.CodecContext.create("libopus", "w")
    encoder.bit_rate, encoder.format, encoder.layout = bit_rate, "s16", "stereo"
    encoder.sample_rate, encoder.time_base = RATE, fractions.Fraction(1, RATE)
    encoder.options = {"application": "voip"}
    decoder = av.CodecContext.create("libopus", "r")
    decoder.format, decoder.layout, decoder.sample_rate = "s16", "stereo", RATE
    out = []
    for start in range(0, len(samples) - FRAME + 1, FRAME):
        pcm = np.round(samples[start:start + FRAME] * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(np.repeat(pcm, 2)[None, :], format="s16",
                                           layout="stereo")
        frame.sample_rate, frame.pts = RATE, start
        frame.time_base = fractions.Fraction(1, RATE)
        for packet in encoder.encode(frame):
            for decoded in decoder.decode(packet):
                out.append(decoded.to_ndarray().reshape(-1, 2).mean(axis=1) / 32768.0)
    return np.concatenate(out)


def detect(samples: np.ndarray, chunk: int = FRAME) -> list[tuple[int, float]]:
    detector = MarkerDetector(RATE)
    heard = []
    for start in range(0, len(samples), chunk):
        heard += detector.feed(samples[start:start + chunk], start / RATE)
    return [(h.code, h.heard_at) for h in heard]


@pytest.mark.parametrize("bit_rate", [16_000, 32_000, 96_000])  # 96 kbit/s: aiortc's own
def test_every_marker_is_found_after_opus_within_ten_ms(bit_rate: int) -> None:
    decoded = opus_round_trip(tone_samples(0, 6 * RATE, RATE), bit_rate)
    heard = detect(decoded)
    assert [code for code, _ in heard] == [marker_code(n) for n in range(6)]
    for n, (_, at) in enumerate(heard):
        assert 0.0 <= at - n < 0.010  # Opus's look-ahead and the window's share


def test_chunks_of_any_size_give_the_same_onsets() -> None:
    samples = tone_samples(0, 3 * RATE, RATE)
    small, large = detect(samples, 160), detect(samples, 2048)
    assert [c for c, _ in small] == [c for c, _ in large] == [0, 1, 2]
    assert [t for _, t in small] == pytest.approx([t for _, t in large], abs=1e-3)


def test_a_late_chunk_is_heard_late() -> None:
    detector = MarkerDetector(RATE)
    samples = tone_samples(RATE - 4 * FRAME, 8 * FRAME, RATE)
    heard = detector.feed(samples[:4 * FRAME], 10.0)  # the tone alone, up to the marker
    heard += detector.feed(samples[4 * FRAME:], 10.0 + 4 * FRAME / RATE + 0.25)  # 250 ms late
    assert len(heard) == 1 and heard[0].heard_at == pytest.approx(10.33, abs=0.005)


def test_silence_noise_and_the_bare_tone_hold_no_marker() -> None:
    rng = np.random.default_rng(1)
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(2 * RATE) / RATE)
    for samples in (np.zeros(RATE), 0.05 * rng.standard_normal(RATE), tone):
        assert detect(samples) == []


def test_a_marker_frequency_alone_is_a_marker_with_its_code() -> None:
    t = np.arange(RATE // 10) / RATE
    for code, hz in enumerate(MARKER_HZ):
        assert [c for c, _ in detect(0.3 * np.sin(2 * np.pi * hz * t))] == [code]


def test_captured_at_names_the_latest_second_with_the_code() -> None:
    t0 = 1000.0
    assert captured_at(marker_code(7), t0 + 7.12, t0) == t0 + 7
    assert captured_at(marker_code(7), t0 + 9.5, t0) == t0 + 7  # heard 2.5 s late
    assert captured_at(marker_code(3), t0 + 1.0, t0) is None  # before its first capture


def test_a_bad_sample_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        MarkerDetector(0)
