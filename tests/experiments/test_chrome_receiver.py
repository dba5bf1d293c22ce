"""`--receiver chrome`: the demo page in headless Chromium receives through netem and measures."""

import json
from pathlib import Path

import pytest

from experiments.chrome_sender import CHROMIUM
from experiments.link_spec import LinkSpec
from experiments.run import CallSpec, run_call

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.is_file(), reason="chromium is not installed")]


def check_page_receiver(result: dict, folder: Path) -> dict:
    assert result["status"] == "ok", result["reason"]
    assert result["receiver"] == "chrome"
    summary = result["summary"]
    assert summary["receiver"] == "chrome"
    assert summary["frames_shown"] > 150
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


def test_chromium_receives_our_sender_through_netem(tmp_path: Path) -> None:
    folder = tmp_path / "ours"
    result = run_call(CallSpec("ours", LinkSpec("const-2mbps"), 10.0, "ours",
                               receiver="chrome"), folder)
    summary = check_page_receiver(result, folder)
    assert summary["capture_clock"] == "our sender's announced source clock"
    # our sender's bye said how many it sent (it skips frames on a loaded machine)
    assert summary["frames_shown"] <= summary["frames_sent"] <= 330


def test_chromium_calls_chromium_through_netem(tmp_path: Path) -> None:
    folder = tmp_path / "chrome"
    result = run_call(CallSpec("chrome", LinkSpec("const-2mbps"), 10.0, "chrome",
                               receiver="chrome"), folder)
    summary = check_page_receiver(result, folder)
    assert summary["capture_clock"].startswith("the sending page's preview")
    assert not (folder / "receiver.log").exists()  # no Python peer took part
