"""The receiver's sound measurements: marker delay on the sender's t0, skew against video."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from peer.audio_receiver import AudioReceiver, mono, video_delay_at
from peer.audio_sinks import NullAudioSink
from peer.audio_tone import FRAME_SAMPLES, SAMPLE_RATE, tone_frame
from peer.metrics import MetricsLog, ShownFrame, summarize

T0 = 1_000.0
AUDIO_DELAY_S = 0.120


def hear_tone(receiver: AudioReceiver, seconds: float, delay_s: float) -> None:
    """Frames of the tone arriving `delay_s` after their last sample was captured."""
    for index in range(int(seconds * SAMPLE_RATE / FRAME_SAMPLES)):
        first = index * FRAME_SAMPLES
        # The frame leaves when its last sample is captured; its first sample is heard
        # `delay_s` after that, so a marker at the frame's start is heard 20 ms + delay late.
        receiver.on_frame(tone_frame(first),
                          T0 + (first + FRAME_SAMPLES) / SAMPLE_RATE + delay_s)


def test_markers_give_the_delay_and_the_skew_against_the_frame_on_screen(
        tmp_path: Path) -> None:
    # Video frames shown 50 ms after capture, 30 a second.
    video = [ShownFrame(i, T0 + i / 30, T0 + i / 30 + 0.050, 1000) for i in range(30 * 5)]
    metrics = MetricsLog(tmp_path / "m.jsonl")
    receiver = AudioReceiver(NullAudioSink(), metrics, lambda: 0.0, lambda: T0, video)
    hear_tone(receiver, 4.5, AUDIO_DELAY_S)
    metrics.close()
    expected_ms = (FRAME_SAMPLES / SAMPLE_RATE + AUDIO_DELAY_S) * 1000
    assert len(receiver.delays_ms()) == 5
    assert np.allclose(receiver.delays_ms(), expected_ms, atol=6)
    assert np.allclose(receiver.skews_ms(), expected_ms - 50, atol=6)
    lines = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert [line["code"] for line in lines] == [0, 1, 2, 3, 0]
    summary = summarize([], duration_s=5, audio_delays_ms=receiver.delays_ms(),
                        av_skews_ms=receiver.skews_ms())
    assert summary.audio_delay_ms_p95 is not None
    assert abs(summary.audio_delay_ms_p95 - expected_ms) < 6
    assert summary.av_skew_ms_p95 is not None and summary.av_skew_ms_p95 > 0


def test_without_the_senders_t0_the_delay_is_unknown_not_zero(tmp_path: Path) -> None:
    receiver = AudioReceiver(NullAudioSink(), MetricsLog(None), lambda: 0.0, lambda: None, [])
    hear_tone(receiver, 2.5, 0.05)
    assert len(receiver.markers) == 3 and receiver.delays_ms() == []
    summary = summarize([], duration_s=2.5, audio_delays_ms=receiver.delays_ms())
    assert summary.audio_delay_ms_p95 is None and summary.av_skew_ms_p95 is None


def test_video_delay_at_takes_the_newest_timed_frame_shown_by_then() -> None:
    frames = [ShownFrame(0, 10.0, 10.1, 1), ShownFrame(None, None, 10.2, 1),
              ShownFrame(2, 10.2, 10.5, 1)]
    assert video_delay_at(frames, 10.3) == pytest.approx(100.0)
    assert video_delay_at(frames, 10.6) == pytest.approx(300.0)
    assert video_delay_at(frames, 10.0) is None


def test_mono_averages_channels_to_full_scale_one() -> None:
    frame = tone_frame(0)
    samples = mono(frame)
    assert samples.shape == (FRAME_SAMPLES,) and np.max(np.abs(samples)) <= 0.31
