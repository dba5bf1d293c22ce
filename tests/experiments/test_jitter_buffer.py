"""Jitter-buffer figures from two getStats samples of a page."""

from __future__ import annotations

from typing import Any

import pytest

from experiments.jitter_buffer import (
    JitterBufferSample,
    per_frame,
    read_jitter_buffer,
)


def test_the_window_between_two_samples_gives_ms_per_frame() -> None:
    before = JitterBufferSample(at_ms=1000.0, delay_s=2.0, target_s=1.0, minimum_s=0.5,
                                emitted=100, frames_decoded=100)
    after = JitterBufferSample(at_ms=21000.0, delay_s=14.0, target_s=11.0, minimum_s=5.5,
                               emitted=500, frames_decoded=499)
    figures = per_frame(before, after)
    assert (figures.window_s, figures.frames) == (20.0, 400)
    assert (figures.delay_ms, figures.target_ms, figures.minimum_ms) == (30.0, 25.0, 12.5)
    assert "30.0 ms/frame" in figures.describe()


def test_no_frame_in_the_window_is_refused() -> None:
    sample = JitterBufferSample(0.0, 1.0, 1.0, 1.0, 10, 10)
    with pytest.raises(ValueError, match="no frame left the jitter buffer"):
        per_frame(sample, sample)


class NoVideoPage:
    def evaluate(self, expression: str) -> Any:
        return None


def test_a_page_without_video_says_so() -> None:
    with pytest.raises(ValueError, match="no video inbound-rtp yet"):
        read_jitter_buffer(NoVideoPage())
