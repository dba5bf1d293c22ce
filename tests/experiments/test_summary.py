import pytest

from experiments.summary import (
    SUMMARY_KEYS,
    CallSummary,
    FrameRecord,
    stall_ms_total,
    summarize,
)


def _frames() -> list[FrameRecord]:
    frames = []
    for i in range(30):
        captured = i * 100.0
        if i == 5:
            frames.append(FrameRecord(i, captured, sent=False))
        elif i in (10, 11, 12):  # sent, never shown: a 400 ms gap 900 -> 1300+delay
            frames.append(FrameRecord(i, captured, sent=True, size_bytes=1_000))
        else:
            frames.append(
                FrameRecord(
                    i,
                    captured,
                    sent=True,
                    size_bytes=1_000,
                    keyframe=i in (0, 13),
                    shown_ms=captured + 50.0 + i,
                    ssim_db=10.0,
                    oracle_delay_ms=40.0,
                )
            )
    return frames


def test_keys_and_values() -> None:
    s = summarize(_frames(), duration_s=3.0, capacity_kbps=500.0)
    assert tuple(s.to_json()) == SUMMARY_KEYS
    assert s.frames_sent == 29
    assert s.frames_shown == 26
    assert s.fps_shown == pytest.approx(26 / 3)
    assert s.keyframes == 2
    assert s.goodput_kbps == pytest.approx(26 * 1_000 * 8 / 3 / 1000)
    assert s.capacity_kbps == 500.0
    assert s.ssim_db_mean == 10.0
    assert s.psnr_db_mean is None
    assert s.oracle_delay_ms_p95 == 40.0
    delays = sorted(50.0 + i for i in range(30) if i not in (5, 10, 11, 12))
    assert s.delay_ms_p50 == pytest.approx((delays[12] + delays[13]) / 2)
    assert s.delay_ms_p99 is not None and s.delay_ms_p99 <= delays[-1]
    # Frame 4 shown at 454, 6 at 656 (5 skipped): 202 ms; frame 9 at 959, 13 at 1363: 404 ms;
    # the end (2979 -> 3000) is short.
    assert s.stall_ms_total == pytest.approx(606.0)


def test_empty_call() -> None:
    s = summarize([FrameRecord(0, 0.0, sent=True, size_bytes=10)], duration_s=2.0)
    assert s.frames_shown == 0
    assert s.delay_ms_p95 is None
    assert s.stall_ms_total == pytest.approx(2000.0)
    with pytest.raises(ValueError, match="duration_s"):
        summarize([], duration_s=0)


def test_stalls() -> None:
    assert stall_ms_total([100, 250, 700, 1000], 0, 1000) == pytest.approx(450.0 + 300.0)
    assert stall_ms_total([], 0, 150) == 0.0


def test_signal_delay_and_freezes_of_a_simulated_call() -> None:
    """Frames 10-12 sent and lost: source frames 10-12 wait for frame 13 (shown at 1363)."""
    s = summarize(_frames(), duration_s=3.0, fps=10.0)
    assert s.signal_delay_ms_p99 is not None and s.delay_ms_p99 is not None
    assert s.signal_delay_ms_p99 > s.delay_ms_p99
    # Frame 10 (captured 1000) waits until 1363.
    assert max(_signal(s)) == pytest.approx(363.0)
    # At 10 fps a 404 ms gap is no freeze: the mean of the gaps (itself included) is 145 ms,
    # and a freeze needs 3 x 145.
    assert s.freeze_count == 0 and s.freeze_ms_total == 0.0


def _signal(s: CallSummary) -> list[float]:
    from peer.metrics import signal_delays_ms

    shown = [f for f in _frames() if f.shown_ms is not None]
    return list(signal_delays_ms([f.captured_ms / 1000 for f in shown],
                                 [(f.shown_ms or 0) / 1000 for f in shown], fps=10.0,
                                 end_s=3.0))


def test_the_same_frames_summarised_as_a_real_call() -> None:
    """The simulator's wrapper and the real call's summarize agree on the same frames."""
    from peer.metrics import ShownFrame
    from peer.metrics import summarize as summarize_shown

    frames = _frames()
    shown = [ShownFrame(f.frame_id, f.captured_ms / 1000, (f.shown_ms or 0) / 1000,
                        f.size_bytes, f.ssim_db) for f in frames if f.shown_ms is not None]
    real = summarize_shown(shown, duration_s=3.0, start_s=0.0, fps=10.0)
    sim = summarize(frames, duration_s=3.0, fps=10.0)
    for key in ("signal_delay_ms_p95", "freeze_ms_total", "delay_ms_p95", "stall_ms_total"):
        assert getattr(sim, key) == pytest.approx(getattr(real, key))
