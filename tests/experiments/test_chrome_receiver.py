"""`--receiver chrome`: the demo page in headless Chromium receives through netem and measures."""

import json
from pathlib import Path

import pytest

from experiments.chrome_receiver import write_receiver_log
from experiments.chrome_sender import CHROMIUM
from experiments.link_spec import LinkSpec
from experiments.run import CallSpec, run_call

no_chromium = pytest.mark.skipif(not CHROMIUM.is_file(), reason="chromium is not installed")


def test_the_receiver_flag_reaches_every_call(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from experiments.__main__ import build_parser
    from experiments.sweep import parse_plan

    args = build_parser().parse_args(["run", "--trace", "const-2mbps", "--controllers",
                                      "ours,chrome", "--receiver", "chrome", "--out",
                                      str(tmp_path)])
    assert {spec.receiver for _, spec, _ in parse_plan(args).calls()} == {"chrome"}
    default = build_parser().parse_args(["run", "--trace", "const-2mbps", "--out", "x"])
    assert parse_plan(default).receiver == "python"
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["run", "--trace", "const-2mbps", "--out", "x",
                                   "--receiver", "firefox"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'firefox'" in capsys.readouterr().err


def recorded_page(audio: dict | None) -> dict:
    """What the receiving page gives the harness (page.json's shape) for a 10 s call from our
    sender, its frames shown 100 ms and its tone markers heard 80 ms after capture."""
    t0 = 1_700_000_000.0
    return {"log": [{"id": n, "wallShown": (t0 + n / 30 + 0.1) * 1000, "presentedFrames": n}
                    for n in range(300)],
            "state": {"connectedAtWall": t0 * 1000, "endedAtWall": (t0 + 10) * 1000,
                      "remoteSource": {"kind": "testpattern", "t0": t0, "fps": 30.0,
                                       "width": 640, "height": 480, "loop_frames": None}},
            "stats": {}, "audio": audio}


def summary_of(folder: Path, measured: dict) -> dict:
    t0 = measured["state"]["connectedAtWall"] / 1000
    status, reason = write_receiver_log(folder, measured, [], [(t0, t0 * 1000, t0)], {},
                                        "testpattern", None)
    assert status == "ok", reason
    summary: dict = json.loads((folder / "receiver.jsonl").read_text().splitlines()[-1])
    return summary


def test_the_page_markers_give_audio_delay_and_skew_in_the_summary(tmp_path: Path) -> None:
    t0 = 1_700_000_000.0
    heard = [{"code": n % 4, "wallHeard": (t0 + n + 0.08) * 1000, "contextTime": float(n),
              "outputMs": 40.0} for n in range(1, 10)]
    page = recorded_page({"heard": heard, "error": None})
    page["stats"] = {"audioJitterBufferMs": 30.5}
    summary = summary_of(tmp_path, page)
    assert (summary["audio_output_ms"], summary["audio_jitter_buffer_ms"]) == (40.0, 30.5)
    assert summary["audio_markers_heard"] == 9
    assert summary["audio_delay_ms_p95"] == pytest.approx(80.0)
    assert summary["av_skew_ms_p95"] == pytest.approx(20.0)


def test_a_page_without_the_tone_reports_audio_delay_unknown(tmp_path: Path) -> None:
    for audio in (None, {"heard": [], "error": "no AudioWorklet here"}):
        summary = summary_of(tmp_path, recorded_page(audio))
        assert summary["audio_markers_heard"] == 0
        assert summary["audio_delay_ms_p95"] is None and summary["av_skew_ms_p95"] is None
        assert summary["audio_output_ms"] is None and summary["audio_jitter_buffer_ms"] is None


def check_page_receiver(result: dict, folder: Path, call_s: float = 10.0) -> dict:
    assert result["status"] == "ok", result["reason"]
    assert result["receiver"] == "chrome"
    summary = result["summary"]
    assert summary["receiver"] == "chrome"
    assert summary["frames_shown"] > 150
    # The window is the whole call (once it began at a reconnection: an ATT outage cut it short).
    assert 0.9 * call_s <= summary["duration_s"] <= call_s + 5.0
    assert 20 < summary["signal_delay_ms_p50"] < 1000
    assert summary["signal_floor_ms_p95"] is not None  # netem's log tied to the page's window
    assert summary["media_trace"] == "const-2mbps"
    assert summary["ssim_sampled"] >= 4 and summary["ssim_db_mean"] > 8
    assert 0 < summary["jitter_buffer_ms_per_frame"] < 1000
    assert abs(summary["page_clock_offset_ms"]) < 100 and summary["page_clock_error_ms"] < 100
    lines = [json.loads(line) for line in (folder / "receiver.jsonl").read_text().splitlines()]
    assert lines[-1]["type"] == "summary"
    assert sum(1 for line in lines if line.get("type") == "shown") == summary["frames_shown"]
    return summary


@pytest.mark.browser
@pytest.mark.slow
@no_chromium
def test_chromium_receives_our_sender_through_netem(tmp_path: Path) -> None:
    folder = tmp_path / "ours"
    result = run_call(CallSpec("ours", LinkSpec("const-2mbps"), 10.0, "ours",
                               receiver="chrome"), folder)
    summary = check_page_receiver(result, folder)
    assert summary["capture_clock"] == "our sender's announced source clock"
    # our sender's bye said how many it sent (it skips frames on a loaded machine)
    assert summary["frames_shown"] <= summary["frames_sent"] <= 330
    # no sound sent: audio delay unknown, not zero
    assert summary["audio_markers_heard"] == 0
    assert summary["audio_delay_ms_p95"] is None and summary["av_skew_ms_p95"] is None


@pytest.mark.browser
@pytest.mark.slow
@no_chromium
def test_the_page_times_our_senders_tone(tmp_path: Path) -> None:
    folder = tmp_path / "tone"
    result = run_call(CallSpec("ours", LinkSpec("const-2mbps"), 12.0, "ours",
                               receiver="chrome", audio="tone"), folder)
    summary = check_page_receiver(result, folder, call_s=12.0)
    assert summary["audio_markers_heard"] >= 9  # one a second, the first few may be lost
    assert 0 < summary["audio_delay_ms_p95"] < 500
    assert summary["av_skew_ms_p95"] is not None
    markers = [json.loads(line) for line in (folder / "receiver.jsonl").read_text().splitlines()
               if '"audio-marker"' in line]
    assert len(markers) == summary["audio_markers_heard"]
    assert all(m["delay_ms"] is not None and m["delay_ms"] > 0 for m in markers)


@pytest.mark.browser
@pytest.mark.slow
@no_chromium
def test_chromium_calls_chromium_through_netem(tmp_path: Path) -> None:
    folder = tmp_path / "chrome"
    result = run_call(CallSpec("chrome", LinkSpec("const-2mbps"), 10.0, "chrome",
                               receiver="chrome"), folder)
    summary = check_page_receiver(result, folder)
    assert summary["capture_clock"].startswith("the sending page's preview")
    assert not (folder / "receiver.log").exists()  # no Python peer took part
