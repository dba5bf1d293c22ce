import pytest

from ratecontrol.headroom import AdaptiveHeadroom, HeadroomConfig
from ratecontrol.types import PacketResult

FRAME_MS = 1000.0 / 30.0
BASE_MS = 20.0


def _second(headroom: AdaptiveHeadroom, start_s: int, surprise_ms: float, *, late_every: int = 1,
            skip_every: int = 0, heard: bool = True) -> None:
    """One second of 30 frames from `start_s`: each frame's first packet (seq = frame index)
    expected a 5 ms wait; every `late_every`-th waited `surprise_ms` more, every
    `skip_every`-th frame was skipped (while feedback flowed)."""
    for k in range(30):
        index = start_s * 30 + k
        now = index * FRAME_MS
        skipped = skip_every > 0 and index % skip_every == 0
        headroom.on_decision(not skipped, True, now)
        if skipped:
            continue
        headroom.on_frame_start(index, 5.0)
        if heard:
            extra = surprise_ms if index % late_every == 0 else 0.0
            arrived = now + BASE_MS + 5.0 + extra
            headroom.on_feedback([PacketResult(index, 1200, now, arrived)], BASE_MS, now)


def test_frames_that_wait_longer_than_expected_cut_the_share_and_calm_seconds_restore_it() -> None:
    headroom = AdaptiveHeadroom()
    for s in range(3):
        _second(headroom, s, 40.0, late_every=5)  # a fifth of the frames met a dip
    _second(headroom, 3, 0.0)  # (the verdict on second 2 comes at its end)
    assert headroom.share == pytest.approx(0.85**3)
    for s in range(4, 12):
        _second(headroom, s, 0.0)
    assert headroom.share == pytest.approx(min(1.0, 0.85**3 + 8 * 0.05))


def test_a_surprise_within_the_tolerance_changes_nothing() -> None:
    headroom = AdaptiveHeadroom()
    for s in range(5):
        _second(headroom, s, 9.0)  # every frame, but under wait_ms
    assert headroom.share == 1.0
    _second(headroom, 5, 40.0, late_every=150)  # one frame of 30 is more than 2 %
    _second(headroom, 6, 0.0)
    assert headroom.share == pytest.approx(0.85)


def test_skips_while_feedback_flows_count_as_late() -> None:
    headroom = AdaptiveHeadroom()
    for s in range(3):
        _second(headroom, s, 0.0, skip_every=10)
    assert headroom.share == pytest.approx(0.85**2)  # (the third verdict is due at 3 s)


def test_silence_gives_no_verdict() -> None:
    # An outage: frames are decided, none is heard of; whatever the coupler skips is not ours.
    headroom = AdaptiveHeadroom()
    for s in range(5):
        _second(headroom, s, 0.0, skip_every=2, heard=False)
    assert headroom.share == 1.0


def test_the_share_stays_within_its_bounds_and_off_means_off() -> None:
    headroom = AdaptiveHeadroom()
    for s in range(30):
        _second(headroom, s, 100.0)
    assert headroom.share == pytest.approx(HeadroomConfig().min_share)
    off = AdaptiveHeadroom(HeadroomConfig(enabled=False))
    for s in range(5):
        _second(off, s, 100.0)
    assert off.share == 1.0


def test_lost_or_reordered_first_packets_give_no_verdict() -> None:
    headroom = AdaptiveHeadroom()
    headroom.on_frame_start(1, 0.0)
    headroom.on_frame_start(2, 0.0)
    headroom.on_feedback([PacketResult(2, 1200, 0.0, 100.0), PacketResult(1, 1200, 0.0, None)],
                         BASE_MS, 50.0)
    assert headroom._heard == 1 and headroom._waited == 1
