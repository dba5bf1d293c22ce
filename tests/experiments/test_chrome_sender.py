"""The `chrome` controller: capture times from the page's log, and a real Chromium call."""

from pathlib import Path

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
