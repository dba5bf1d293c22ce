import json
import math

import numpy as np
import pytest

from peer.metrics import (
    SUMMARY_KEYS,
    CallSummary,
    MetricsLog,
    ShownFrame,
    describe_summary,
    freezes_ms,
    signal_delays_ms,
    stall_ms_total,
    summarize,
)
from peer.source import SourceClock

FPS = 30.0


def frames(shown_at_ms: list[float], delay_ms: float = 50.0) -> list[ShownFrame]:
    return [ShownFrame(frame_id=i, captured_at=(t - delay_ms) / 1000, shown_at=t / 1000,
                       bytes=1000, ssim_db=12.0, psnr_db=35.0)
            for i, t in enumerate(shown_at_ms)]


def grid_frames(ids: list[int], delay_ms: float = 50.0, t0: float = 100.0) -> list[ShownFrame]:
    """Frames of a 30 fps source, those in `ids` shown `delay_ms` after their capture."""
    return [ShownFrame(i, t0 + i / FPS, t0 + i / FPS + delay_ms / 1000, 1000) for i in ids]


def salsify(sent: list[float], received: list[float | None]) -> list[float]:
    """excamera/salsify-results' compute_signal_delay, restated: source frames in order, each
    waiting for the next one received."""
    delays, waiting = [], []
    for s, r in zip(sent, received, strict=True):
        waiting.append(s)
        if r is not None:
            delays += [r - x for x in waiting]
            waiting = []
    return delays


def test_summary_has_every_design_key() -> None:
    summary = summarize(frames([0, 33, 66]), duration_s=1.0)
    assert tuple(summary.to_json()) == SUMMARY_KEYS
    for key in ("signal_delay_ms_p50", "signal_delay_ms_p95", "signal_delay_ms_p99",
                "freeze_count", "freeze_ms_total", "signal_floor_ms_p95", "media_trace",
                "media_capacity_kbps", "delay_ms_p95", "oracle_delay_ms_p95"):
        assert key in SUMMARY_KEYS


def test_delay_percentiles_and_rates() -> None:
    shown = [i * 33.3 for i in range(31)]
    summary = summarize(frames(shown, 80.0), duration_s=1.0, frames_sent=31)
    assert summary.delay_ms_p50 == pytest.approx(80.0)
    assert summary.delay_ms_p95 == pytest.approx(80.0)
    assert summary.fps_shown == 31.0  # frames shown per second of call
    assert summary.goodput_kbps == 31 * 1000 * 8 / 1000
    assert summary.ssim_db_mean == 12.0


def test_every_frame_shown_signal_delay_is_frame_delay() -> None:
    shown = grid_frames(list(range(300)), delay_ms=60.0)
    s = summarize(shown, duration_s=10.0, start_s=100.0 - 0.001, fps=FPS)
    assert s.signal_delay_ms_p50 == pytest.approx(60.0, abs=1e-6)
    assert s.signal_delay_ms_p95 == pytest.approx(60.0, abs=1e-6)
    assert s.freeze_count == 0 and s.freeze_ms_total == 0.0


def test_skipping_every_other_frame_costs_signal_delay() -> None:
    """The shown-frame metric rewards skipping; the signal delay makes the skip pay."""
    shown = grid_frames(list(range(0, 300, 2)), delay_ms=50.0)
    s = summarize(shown, duration_s=10.0, start_s=100.0, fps=FPS)
    assert s.delay_ms_p95 == pytest.approx(50.0)
    # Every odd frame waits for the next even one: 33.3 ms more.
    assert s.signal_delay_ms_p95 == pytest.approx(50.0 + 1000 / FPS, abs=1e-6)
    delays = signal_delays_ms([f.captured_at or 0 for f in shown], [f.shown_at for f in shown],
                              fps=FPS, end_s=110.0)
    assert float(np.mean(delays)) == pytest.approx(50.0 + 500 / FPS, abs=0.5)


def test_signal_delay_matches_salsify_on_a_random_call() -> None:
    rng = np.random.default_rng(7)
    n = 400
    sent = [k / FPS for k in range(n)]
    received: list[float | None] = []
    last = 0.0
    for k in range(n):
        if k == 0 or rng.random() < 0.6:  # shown in capture order, as Salsify's player
            last = max(last, sent[k] + rng.uniform(0.03, 0.5))
            received.append(last)
        else:
            received.append(None)
    received[-1] = max(last, sent[-1]) + 0.05  # so no frame is after the last one shown
    shown = [(sent[k], r) for k, r in enumerate(received) if r is not None]
    ours = signal_delays_ms([c for c, _ in shown], [r for _, r in shown], fps=FPS,
                            end_s=sent[-1] + 0.5 / FPS)
    expected = np.array(salsify(sent, received)) * 1000
    assert ours == pytest.approx(expected)


def test_a_later_frame_shown_first_covers_the_earlier_ones() -> None:
    # Frame 3 shown at 0.2 s, frame 1 only at 0.5 s: frames 1-3 were all on screen by 0.2 s.
    delays = signal_delays_ms([0.0, 3 / FPS, 1 / FPS], [0.05, 0.2, 0.5], fps=FPS,
                              end_s=3.5 / FPS)
    assert delays == pytest.approx([50.0, (0.2 - 1 / FPS) * 1000, (0.2 - 2 / FPS) * 1000,
                                    (0.2 - 3 / FPS) * 1000])


def test_frames_after_the_last_shown_take_the_calls_end() -> None:
    # 30 frames shown, then nothing for the call's last 2 s: those 60 frames count to the end.
    shown = grid_frames(list(range(30)), delay_ms=40.0, t0=0.0)
    delays = signal_delays_ms([f.captured_at or 0 for f in shown], [f.shown_at for f in shown],
                              fps=FPS, end_s=3.0)
    assert delays.size == 90  # frames 0..89 captured before the end at 3.0 s
    assert delays[:30] == pytest.approx(40.0)
    assert delays[30] == pytest.approx((3.0 - 1.0) * 1000)
    assert delays[-1] == pytest.approx(1000 / FPS)


def test_a_looping_pattern_is_unwrapped() -> None:
    """A browser's looping pattern: ids repeat every 10 frames, capture times go on."""
    clock = SourceClock(t0=50.0, fps=FPS, width=64, height=48, loop_frames=10)
    shown = []
    for k in range(0, 60, 3):  # every third source frame, 70 ms after capture
        shown_at = 50.0 + k / FPS + 0.07
        shown.append(ShownFrame(k % 10, clock.captured_at(k % 10, shown_at), shown_at, 500))
    s = summarize(shown, duration_s=59 / FPS, start_s=50.0, fps=FPS)
    assert s.delay_ms_p95 == pytest.approx(70.0)
    # The frames in between wait up to two frame intervals; never a whole loop.
    assert s.signal_delay_ms_p99 == pytest.approx(70.0 + 2000 / FPS, abs=1e-6)


def test_a_two_second_freeze_is_one_freeze_of_2000_ms() -> None:
    shown = [k / FPS for k in range(60)] + [59 / FPS + 2.0 + k / FPS for k in range(60)]
    freezes = freezes_ms(shown)
    assert freezes == [pytest.approx(2000.0)]
    s = summarize(grid_frames(list(range(60)) + list(range(120, 180))), duration_s=6.0,
                  start_s=100.0, fps=FPS)
    assert s.freeze_count == 1
    assert s.freeze_ms_total == pytest.approx(2000.0 + 1000 / FPS)


def test_freeze_rule_is_libwebrtcs() -> None:
    # Fewer than 5 gaps known: no freeze, however long the gap.
    assert freezes_ms([0.0, 0.033, 0.066, 0.1, 1.5]) == []
    # The fifth gap is judged against the mean of all five (itself included): 33 ms gaps and
    # one of G count when G >= max(3 * mean, mean + 150).
    base = [k * 0.033 for k in range(5)]
    assert freezes_ms([*base, base[-1] + 0.210]) == []  # mean 68: needs max(204, 218)
    assert freezes_ms([*base, base[-1] + 0.300]) == [pytest.approx(300.0)]  # needs 258
    # Slow but even video (5 fps) is not frozen: 200 ms gaps are its normal pace.
    assert freezes_ms([k * 0.2 for k in range(50)]) == []


def test_a_frozen_ending_counts() -> None:
    shown = grid_frames(list(range(90)), t0=0.0)  # 3 s of video, then nothing for 7 s
    s = summarize(shown, duration_s=10.0, start_s=0.0, fps=FPS)
    assert s.freeze_count == 1
    assert s.freeze_ms_total == pytest.approx(10_000 - (89 / FPS + 0.05) * 1000)


def test_stalls_count_gaps_over_200_ms() -> None:
    assert stall_ms_total([0, 0.1, 0.3, 0.8, 0.85]) == 500.0
    assert stall_ms_total([0, 0.2, 0.4]) == 0.0


def test_empty_call() -> None:
    summary = summarize([], duration_s=10.0)
    assert summary.frames_shown == 0 and summary.delay_ms_p95 is None
    assert summary.signal_delay_ms_p95 is None and summary.freeze_count == 0


def test_json_round_trip_and_bad_values() -> None:
    s = summarize(grid_frames(list(range(0, 90, 2))), duration_s=3.0, start_s=100.0,
                  media_trace="ATT-LTE-driving.down", media_capacity_kbps=5150.0)
    data = json.loads(json.dumps(s.to_json()))
    assert CallSummary.from_json(data) == s
    odd = CallSummary.from_json({"frames_shown": 12.0, "delay_ms_p95": "fast",
                                 "ssim_db_mean": True, "freeze_ms_total": math.nan,
                                 "media_trace": 5, "keyframes": 2.5, "extra": "ignored"})
    assert odd.frames_shown == 12 and type(odd.frames_shown) is int
    assert odd.delay_ms_p95 is None and odd.ssim_db_mean is None
    assert odd.freeze_ms_total is None and odd.media_trace is None and odd.keyframes is None


def test_describe_summary_names_the_signal_delay() -> None:
    s = summarize(grid_frames(list(range(0, 90, 2))), duration_s=3.0, start_s=100.0)
    line = describe_summary(s)
    assert "signal delay p95 83 ms" in line and "frame delay p50 50 ms" in line
    assert describe_summary(s.to_json()) == line  # a summary line read from a file
    assert "n/a" in describe_summary(CallSummary())


def test_log_is_flushed_line_by_line(tmp_path) -> None:
    path = tmp_path / "m.jsonl"
    log = MetricsLog(path)
    log.write(frames([0])[0].to_json())
    line = json.loads(path.read_text())  # readable before close
    assert line["type"] == "shown" and line["delay_ms"] == 50.0 and line["frame_id"] == 0
    log.close()
