"""A receiving page's log as our receiver's JSONL: clock, frames, sampled quality, getStats."""

import base64

import numpy as np
import pytest

from experiments.page_frames import (
    PageClock,
    heard_markers,
    jitter_buffer_fields,
    missed_callbacks,
    receiver_lines,
    shown_frames,
    with_sampled_quality,
)
from peer.testpattern import pattern

T0 = 1_700_000_000.0
FPS = 30.0


def page_log(count: int, delay_s: float, offset_s: float = 0.0) -> list[dict]:
    """Frames presented `delay_s` after capture, on a page clock `offset_s` ahead of ours."""
    return [{"id": n, "wallShown": (T0 + n / FPS + delay_s + offset_s) * 1000,
             "presentedFrames": n + 1} for n in range(count)]


def capture_time(frame_id: int, shown_at: float) -> float:
    return T0 + frame_id / FPS


def test_the_page_clock_is_the_mean_offset_with_half_spread_and_half_trip_as_error() -> None:
    clock = PageClock.from_readings([(100.0, 100_010.0, 100.004), (200.0, 200_014.0, 200.002)])
    assert clock.offset_s == pytest.approx((0.008 + 0.013) / 2)
    assert clock.error_s == pytest.approx(0.0025 + 0.002)
    assert clock.ours(100_010.0) == pytest.approx(100.010 - clock.offset_s)
    with pytest.raises(ValueError, match="at least once"):
        PageClock.from_readings([])


def test_page_times_are_moved_onto_our_clock() -> None:
    clock = PageClock(offset_s=0.5, error_s=0.001)
    frames = shown_frames(page_log(3, 0.080, offset_s=0.5), clock, capture_time)
    assert [f.delay_ms for f in frames] == pytest.approx([80.0, 80.0, 80.0])


def test_an_unstamped_frame_or_an_untimed_call_has_unknown_delay_not_zero() -> None:
    log = [*page_log(2, 0.05), {"id": None, "wallShown": (T0 + 1) * 1000}]
    clock = PageClock(0.0, 0.0)
    frames = shown_frames(log, clock, capture_time)
    assert frames[2].frame_id is None and frames[2].delay_ms is None
    assert all(f.delay_ms is None for f in shown_frames(log, clock, None))
    lines = receiver_lines(shown_frames(log, clock, None), start_s=T0, end_s=T0 + 2)
    summary = lines[-1]
    assert summary["signal_delay_ms_p95"] is None and summary["delay_ms_p95"] is None
    assert summary["frames_shown"] == 3 and summary["frames_unstamped"] == 1


def test_the_receiver_lines_give_the_same_summary_as_our_receiver() -> None:
    clock = PageClock(0.0, 0.0)
    frames = shown_frames(page_log(300, 0.100), clock, capture_time)
    lines = receiver_lines(frames, start_s=T0, end_s=T0 + 10.0, frames_sent=300,
                           extra={"jitter_buffer_ms_per_frame": 12.0})
    assert lines[0] == {"type": "event", "event": "connected", "at": T0}
    # the last frames were shown after the call ended: not counted, as our receiver does
    assert [line["type"] for line in lines[1:-1]] == ["shown"] * 298
    summary = lines[-1]
    assert summary["type"] == "summary" and summary["receiver"] == "chrome"
    assert summary["delay_ms_p95"] == pytest.approx(100.0)
    assert summary["signal_delay_ms_p50"] == pytest.approx(100.0, abs=0.5)
    assert summary["fps_shown"] == pytest.approx(29.8)
    assert summary["goodput_kbps"] is None  # a page cannot tell a frame's bytes
    assert summary["jitter_buffer_ms_per_frame"] == 12.0
    assert (summary["start_s"], summary["duration_s"]) == (T0, 10.0)


def test_a_frozen_stretch_shows_as_a_freeze_and_in_signal_delay() -> None:
    log = [r for r in page_log(300, 0.05) if not 100 <= r["id"] < 130]  # a second frozen
    frames = shown_frames(log, PageClock(0.0, 0.0), capture_time)
    summary = receiver_lines(frames, start_s=T0, end_s=T0 + 10.0)[-1]
    assert summary["freeze_count"] == 1
    assert summary["signal_delay_ms_p99"] > 900


def test_jitter_buffer_figures_are_ms_per_frame_emitted() -> None:
    fields = jitter_buffer_fields({"jitterBufferDelay": 3.0, "jitterBufferEmittedCount": 100,
                                   "jitterBufferTargetDelay": 2.0})
    assert fields["jitter_buffer_ms_per_frame"] == 30.0
    assert fields["jitter_buffer_target_ms_per_frame"] == 20.0
    assert fields["jitter_buffer_minimum_ms_per_frame"] is None
    assert jitter_buffer_fields(None)["jitter_buffer_ms_per_frame"] is None
    nothing_emitted = jitter_buffer_fields({"jitterBufferDelay": 1.0,
                                            "jitterBufferEmittedCount": 0})
    assert nothing_emitted["jitter_buffer_ms_per_frame"] is None


def test_frames_presented_without_a_callback_are_counted() -> None:
    log = [{"presentedFrames": n} for n in (1, 2, 5, 6, 9)]
    assert missed_callbacks(log) == 4


def test_sampled_frames_are_scored_against_their_source() -> None:
    source = pattern()
    clock = PageClock(0.0, 0.0)
    log = page_log(5, 0.05)
    frames = shown_frames(log, clock, capture_time)
    exact = source.luma(3)
    noisy = np.clip(source.luma(4).astype(int) + np.random.default_rng(0).integers(
        -30, 30, exact.shape), 0, 255).astype(np.uint8)
    samples = [{"id": n, "wallShown": log[n]["wallShown"], "width": 640, "height": 480,
                "luma": base64.b64encode(image.tobytes()).decode()}
               for n, image in ((3, exact), (4, noisy))]
    samples.append({**samples[0], "width": 320})  # damaged: its size does not match
    scored_frames, scored = with_sampled_quality(frames, samples, clock, source.luma)
    assert scored == 2
    assert scored_frames[3].ssim_db is not None and scored_frames[4].ssim_db is not None
    assert scored_frames[3].ssim_db > scored_frames[4].ssim_db
    assert scored_frames[0].ssim_db is None
    assert with_sampled_quality(frames, samples, clock, None) == (frames, 0)


def page_markers(seconds: range, delay_s: float, offset_s: float = 0.0) -> list[dict]:
    """What audio_marker.js records: marker n (code n mod 4) heard `delay_s` after second n of
    a tone from T0, on a page clock `offset_s` ahead of ours."""
    return [{"code": n % 4, "wallHeard": (T0 + n + delay_s + offset_s) * 1000,
             "contextTime": 1.0 + n} for n in seconds]


def test_the_page_markers_are_timed_as_our_receiver_times_them() -> None:
    clock = PageClock(offset_s=0.5, error_s=0.001)
    frames = shown_frames(page_log(300, 0.100, offset_s=0.5), clock, capture_time)
    markers = heard_markers(page_markers(range(1, 9), 0.080, offset_s=0.5), clock, T0, frames)
    assert [m.captured_at for m in markers] == pytest.approx([T0 + n for n in range(1, 9)])
    assert [m.delay_ms for m in markers] == pytest.approx([80.0] * 8)
    assert [m.av_skew_ms for m in markers] == pytest.approx([-20.0] * 8)  # sound ahead
    lines = receiver_lines(frames, start_s=T0, end_s=T0 + 8.5, markers=markers)
    summary = lines[-1]
    assert summary["audio_delay_ms_p95"] == pytest.approx(80.0)
    assert summary["av_skew_ms_p95"] == pytest.approx(20.0)  # absolute, as our receiver's
    assert summary["audio_markers_heard"] == 8
    written = [line for line in lines if line["type"] == "audio-marker"]
    assert [line["delay_ms"] for line in written] == pytest.approx([80.0] * 8)


def test_a_marker_is_named_by_its_code_even_when_late_by_more_than_a_second() -> None:
    clock = PageClock(0.0, 0.0)
    markers = heard_markers(page_markers(range(2, 4), 1.7), clock, T0, [])
    assert [m.delay_ms for m in markers] == pytest.approx([1700.0, 1700.0])
    assert [m.av_skew_ms for m in markers] == [None, None]  # no video frame on screen


def test_no_tone_or_no_tone_clock_gives_unknown_audio_delay_not_zero() -> None:
    clock = PageClock(0.0, 0.0)
    frames = shown_frames(page_log(300, 0.1), clock, capture_time)
    silent = receiver_lines(frames, start_s=T0, end_s=T0 + 10.0)[-1]
    assert silent["audio_delay_ms_p95"] is None and silent["av_skew_ms_p95"] is None
    assert silent["audio_markers_heard"] == 0
    untimed = heard_markers(page_markers(range(1, 5), 0.08), clock, None, frames)
    summary = receiver_lines(frames, start_s=T0, end_s=T0 + 10.0, markers=untimed)[-1]
    assert summary["audio_markers_heard"] == 4
    assert summary["audio_delay_ms_p95"] is None and summary["av_skew_ms_p95"] is None


def test_markers_heard_outside_the_call_are_left_out() -> None:
    clock = PageClock(0.0, 0.0)
    markers = heard_markers(page_markers(range(1, 12), 0.05), clock, T0, [])
    summary = receiver_lines([], start_s=T0 + 0.5, end_s=T0 + 5.5, markers=markers)[-1]
    assert summary["audio_markers_heard"] == 5
