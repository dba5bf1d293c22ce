"""The `chrome` controller: capture times from the page's log, and a real Chromium call."""

from pathlib import Path

import numpy as np
import pytest

from experiments.chrome_sender import CHROMIUM, LOOP_FRAMES, CaptureLog
from experiments.link_spec import LinkSpec, trace_files
from experiments.run import CallSpec, run_call
from netem.traces import traces_dir

FPS = 30.0


def stamps(first_wall_ms: float, count: int, skip: set[int] = frozenset()) -> list[dict]:
    return [{"id": n % LOOP_FRAMES, "wallCapture": first_wall_ms + n * 1000 / FPS}
            for n in range(count) if n not in skip]


def test_each_frame_takes_its_own_logged_capture_time() -> None:
    log = CaptureLog(stamps(1_000_000.0, 400))
    captured, exact = log.captured_at(5, shown_at=1000.3)
    assert exact and captured == pytest.approx(1000.0 + 5 / FPS)
    # after the loop wrapped, the same stamp means the later capture
    captured, exact = log.captured_at(5, shown_at=1000.0 + 305 / FPS + 0.2)
    assert exact and captured == pytest.approx(1000.0 + 305 / FPS)


def test_a_frame_the_preview_skipped_is_timed_from_a_neighbour() -> None:
    log = CaptureLog(stamps(1_000_000.0, 100, skip={50}))
    captured, exact = log.captured_at(50, shown_at=1003.0)
    assert not exact and captured == pytest.approx(1000.0 + 50 / FPS)


def test_no_plausible_capture_gives_none() -> None:
    log = CaptureLog(stamps(1_000_000.0, 100))
    assert log.captured_at(50, shown_at=999.0) == (None, False)  # shown before captured
    assert log.captured_at(250, shown_at=1003.0) == (None, False)  # never logged nearby


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.is_file(), reason="chromium is not installed")
def test_chromium_sends_through_netem_to_our_receiver(tmp_path: Path) -> None:
    result = run_call(CallSpec("chrome", LinkSpec("const-2mbps"), 10.0, "chrome"),
                      tmp_path / "chrome")
    assert result["status"] == "ok", result["reason"]
    summary = result["summary"]
    assert summary["frames_shown"] > 150
    assert summary["ssim_db_mean"] > 8  # the receiver measured quality against the pattern
    assert 20 < summary["delay_ms_p50"] < 1000
    assert "matched exactly" in result["reason"]


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.is_file(), reason="chromium is not installed")
@pytest.mark.skipif(not (traces_dir() / "ATT-LTE-driving.down").is_file(),
                    reason="shared traces absent")
def test_chromium_and_our_sender_cross_the_same_link(tmp_path: Path) -> None:
    """Every sender on the same link: Chromium allocates its TURN relay in another order than
    our peer, yet its media must cross the same trace file, with the same capacity."""
    link = LinkSpec("ATT-LTE-driving")
    media_file = trace_files(link.trace)[0]
    results = {c: run_call(CallSpec(c, link, 12.0, c), tmp_path / c) for c in ("ours", "chrome")}
    for controller, result in results.items():
        assert result["status"] == "ok", (controller, result["reason"])
        assert result["media_trace"] == media_file == "ATT-LTE-driving.down", controller
        assert result["summary"]["media_trace"] == result["media_trace"]
    ours, chrome = (results[c]["media_capacity_kbps"] for c in ("ours", "chrome"))
    assert ours > 3000  # the .down file; its .up carries about 1,000 kbit/s here
    assert chrome == pytest.approx(ours, rel=0.02)


def test_a_clip_loops_at_its_own_length_and_rate() -> None:
    from experiments.chrome_sender import receiver_flags

    assert receiver_flags("clip:bikes") == ["--remote-pattern-loop", "250",
                                            "--remote-source", "clip:bikes"]
    assert receiver_flags() == ["--remote-pattern-loop", str(LOOP_FRAMES),
                                "--remote-source", "testpattern"]
    fps = 25.0
    samples = [{"id": n % 250, "wallCapture": 1_000_000.0 + n * 1000 / fps} for n in range(300)]
    log = CaptureLog(samples, 250, fps)
    captured, exact = log.captured_at(5, shown_at=1000.0 + 255 / fps + 0.1)
    assert exact and captured == pytest.approx(1000.0 + 255 / fps)  # the second loop's


def test_the_exported_clip_is_the_stamped_clip(tmp_path: Path) -> None:
    from experiments.chrome_sender import source_file
    from peer.clip_source import load_clip
    from peer.stamp import read_stamp

    exported = source_file(tmp_path, "clip:bikes")
    assert (exported.loop_frames, exported.fps) == (250, 25.0)
    with open(exported.path, "rb") as file:
        assert file.readline().startswith(b"YUV4MPEG2 W640 H272 F25:1 ")
        frame_bytes = 640 * 272 * 3 // 2
        file.seek(len(b"FRAME\n") * 11 + frame_bytes * 10, 1)  # to frame 10
        image = np.frombuffer(file.read(frame_bytes), np.uint8).reshape(408, 640)
    assert read_stamp(image[:272]) == 10
    assert np.array_equal(image, load_clip("bikes").render_i420(10))
    assert exported.path.stat().st_size == 250 * (6 + frame_bytes) + len(
        exported.path.open("rb").readline())
    assert source_file(tmp_path, "clip:bikes").path == exported.path  # made once


def test_a_chrome_call_whose_clip_is_unknown_fails_alone(tmp_path: Path) -> None:
    # Refused before netem or any peer starts: the sweep goes on with the other calls.
    result = run_call(CallSpec("chrome", LinkSpec("cellular"), 5.0, "chrome",
                               source="clip:nope"), tmp_path / "chrome")
    assert result["status"] == "failed" and "unknown clip 'nope'" in result["reason"]
    assert not (tmp_path / "chrome" / "netem.log").exists()


@pytest.mark.skipif(not CHROMIUM.is_file(), reason="chromium is not installed")
def test_a_clip_that_cannot_be_exported_fails_that_call_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from experiments.chrome_sender import run_chrome_sender

    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(not_a_folder))
    status, reason = run_chrome_sender(tmp_path, None, None, "room", 1.0, "u:p",  # type: ignore[arg-type]
                                       "clip:bikes")
    assert status == "failed" and "cannot export clip:bikes" in reason and "\n" not in reason
