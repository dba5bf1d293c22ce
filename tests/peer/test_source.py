import asyncio

from peer.clock import Clock
from peer.source import SourceClock, TestPatternSource
from peer.stamp import read_stamp


def test_clock_turns_stamps_into_capture_times() -> None:
    clock = SourceClock(t0=1000.0, fps=30, width=640, height=480)
    assert clock.captured_at(30) == 1001.0


def test_looping_source_picks_the_latest_capture_before_showing() -> None:
    clock = SourceClock(t0=1000.0, fps=30, width=640, height=480, loop_frames=300)  # 10 s loop
    assert clock.captured_at(15, shown_at=1000.6) == 1000.5
    assert clock.captured_at(15, shown_at=1020.6) == 1020.5
    assert clock.captured_at(299, shown_at=1020.1) == 1000.0 + 299 / 30 + 10  # last loop's


def test_announcements_round_trip_and_junk_is_refused() -> None:
    clock = SourceClock(5.0, 30.0, 640, 480, loop_frames=300)
    assert SourceClock.from_json(clock.to_json()) == clock
    browser = SourceClock.from_json({"fps": 30, "width": 640, "height": 480, "t0": None})
    assert browser is not None and browser.captured_at(3) is None
    for junk in (None, "x", {"t0": 1}, {"t0": "a", "fps": 30, "width": 1, "height": 1},
                 {"t0": 1, "fps": -1, "width": 640, "height": 480},
                 {"t0": float("nan"), "fps": 30, "width": 640, "height": 480}):
        assert SourceClock.from_json(junk) is None


def test_pattern_source_is_paced_on_the_calls_clock_and_skips_ids_when_late() -> None:
    async def grab() -> tuple[TestPatternSource, list, float]:
        clock = Clock()
        source = TestPatternSource(clock, fps=50)
        first = await source.capture()
        await asyncio.sleep(0.1)  # fall five frames behind
        frames = [first, await source.capture(), await source.capture()]
        return source, frames, clock.wall_s()

    source, frames, now = asyncio.run(grab())
    ids = [read_stamp(f.image[:480]) for f in frames]
    assert ids[1] - ids[0] >= 5 and ids[2] == ids[1] + 1
    # Capture is stamped on the clock it was given: not after its now, frame n at t0 + n/fps.
    assert frames[2].captured_at <= now
    assert source.clock is not None
    assert frames[1].captured_at == source.clock.captured_at(ids[1])


def test_capture_times_come_from_the_clock_given_not_the_system_clock() -> None:
    async def grab() -> tuple[float, float, list]:
        clock = Clock()
        clock.wall_offset_s = 1_000.0  # a mapping far from time.time(): only loop time counts
        source = TestPatternSource(clock, fps=50)
        before = asyncio.get_running_loop().time()
        frames = [await source.capture() for _ in range(3)]
        return before, asyncio.get_running_loop().time(), frames

    before, after, frames = asyncio.run(grab())
    assert all(before + 1_000.0 - 0.05 <= f.captured_at <= after + 1_000.0 for f in frames)
