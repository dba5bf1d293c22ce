from __future__ import annotations

import json
from pathlib import Path

from experiments.report.load import find_calls, load_call
from tests.experiments.report.run_folder import FRAMES, write_call, write_settings


def test_result_json_and_receiver_line_make_one_typed_summary(tmp_path: Path) -> None:
    out = tmp_path / "run"
    write_settings(out, "const-1mbps", ["ours"])
    written = write_call(out / "ours", "ours", "ours", base_delay_ms=60, ssim_db=12)
    call = load_call(out / "ours")
    assert call.status == "ok" and call.controller == "ours" and call.summary is not None
    assert call.summary.signal_delay_ms_p95 == written["signal_delay_ms_p95"]
    assert call.summary.media_trace == "const-1mbps"
    assert call.summary.capacity_kbps == 1000.0


def test_broken_files_become_failed_calls(tmp_path: Path) -> None:
    out = tmp_path / "run"
    write_settings(out, "const-1mbps", ["ours", "gcc"])
    (out / "ours").mkdir()
    (out / "ours" / "result.json").write_text("{not json")
    (out / "ours" / "receiver.jsonl").write_text('{"type":"shown","frame_id":1,"capt\n')
    (out / "gcc").mkdir()
    (out / "gcc" / "receiver.jsonl").write_text(
        '{"type":"summary","frames_shown":0,"ok":false,"ended":"ICE failed"}\n')
    ours, gcc = find_calls(out)
    assert ours.status == "failed" and "result.json is unreadable" in ours.reason
    assert ours.summary is None
    assert (gcc.status, gcc.reason) == ("failed", "result.json is missing; receiver: ICE failed")


def test_receiver_summary_stands_in_for_a_missing_result(tmp_path: Path) -> None:
    out = tmp_path / "run"
    write_settings(out, "const-1mbps", ["fixed:500000"])
    write_call(out / "fixed_500000", "fixed:500000", "fixed:500000", base_delay_ms=80,
               ssim_db=11)
    (out / "fixed_500000" / "result.json").unlink()
    call = load_call(out / "fixed_500000")
    assert call.status == "ok" and call.controller == "fixed:500000"
    assert call.summary is not None and call.summary.frames_shown == FRAMES - 10
    assert call.summary.capacity_kbps is None  # only run.py knows it


def test_odd_values_in_result_json_are_not_numbers(tmp_path: Path) -> None:
    out = tmp_path / "run"
    write_settings(out, "const-1mbps", ["ours", "gcc"])
    (out / "ours").mkdir()
    (out / "ours" / "result.json").write_text(json.dumps({
        "controller": "ours", "status": "ok", "reason": "",
        "summary": {"frames_shown": 12, "delay_ms_p95": "fast", "ssim_db_mean": True}}))
    (out / "gcc").mkdir()
    (out / "gcc" / "result.json").write_text(json.dumps({
        "controller": "gcc", "status": "ok", "summary": ["not", "a", "dict"]}))
    (out / "odd").mkdir()
    (out / "odd" / "result.json").write_text(json.dumps({"controller": "odd", "status": "x"}))
    ours, gcc, odd = find_calls(out)
    assert ours.summary is not None and ours.summary.frames_shown == 12
    assert ours.summary.delay_ms_p95 is None and ours.summary.ssim_db_mean is None
    assert gcc.summary is not None and gcc.summary.frames_shown is None
    assert odd.status == "failed" and "unknown status" in odd.reason
