"""The tone track: clocked on t0, a marker at every whole second, late frames come late."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from peer.audio_marker import MarkerDetector, marker_code
from peer.audio_tone import (
    FRAME_SAMPLES,
    MAX_BACKLOG_FRAMES,
    SAMPLE_RATE,
    ToneTrack,
    next_frame,
    tone_frame,
)


def test_the_first_frame_is_the_one_being_captured() -> None:
    assert next_frame(None, 1.0) == SAMPLE_RATE // FRAME_SAMPLES
    assert next_frame(None, -0.5) == 0


def test_a_late_reader_gets_missed_frames_up_to_the_backlog() -> None:
    assert next_frame(10, 11 * FRAME_SAMPLES / SAMPLE_RATE) == 10  # one frame late: no skip
    far = next_frame(10, 100 * FRAME_SAMPLES / SAMPLE_RATE)
    assert far == 100 - MAX_BACKLOG_FRAMES


def test_frame_samples_hold_the_marker_at_whole_seconds() -> None:
    per_second = SAMPLE_RATE // FRAME_SAMPLES
    detector = MarkerDetector(SAMPLE_RATE)
    heard = []
    for index in range(3 * per_second):
        frame = tone_frame(index * FRAME_SAMPLES)
        assert (frame.sample_rate, frame.samples, frame.format.name) == (SAMPLE_RATE,
                                                                        FRAME_SAMPLES, "s16")
        samples = frame.to_ndarray().reshape(-1) / 32768.0
        heard += detector.feed(samples, index * FRAME_SAMPLES / SAMPLE_RATE)
    assert [h.code for h in heard] == [marker_code(n) for n in range(3)]


def test_the_track_hands_over_a_frame_when_its_last_sample_is_captured() -> None:
    async def two_frames() -> tuple[float, list[int]]:
        track = ToneTrack(time.time())
        pts = [(await track.recv()).pts for _ in range(2)]
        return time.time() - track.t0, pts

    elapsed, pts = asyncio.run(two_frames())
    assert pts[1] - pts[0] == FRAME_SAMPLES
    assert elapsed >= (pts[1] + FRAME_SAMPLES) / SAMPLE_RATE - 1e-3


def test_tone_frames_are_the_same_whoever_renders_them() -> None:
    a, b = tone_frame(123 * FRAME_SAMPLES), tone_frame(123 * FRAME_SAMPLES)
    assert np.array_equal(a.to_ndarray(), b.to_ndarray())
