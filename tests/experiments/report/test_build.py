"""The report of a synthetic run folder laid out as `python -m experiments run` writes it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from experiments.report import build as report
from experiments.report import plots
from experiments.report.plots import PLOT_FILES
from experiments.summary import SUMMARY_KEYS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WALL0_S = 1_795_000_000.0  # the relay's origin on the wall clock
LINK_START_MS = 500.0  # trace time 0, in ms since the origin
FPS = 30
FRAMES = 300  # 10 s


def _jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def write_call(
    folder: Path,
    controller: str,
    label: str,
    *,
    base_delay_ms: float,
    ssim_db: float,
    seed: int = 0,
    link_events: bool = True,
) -> dict[str, Any]:
    """One ok call: receiver/sender/netem logs and a result.json; returns its summary."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    t0 = WALL0_S + LINK_START_MS / 1000
    shown, delays, ssims = [], [], []
    for i in range(FRAMES):
        if 150 <= i < 160:  # a 330 ms stall: never shown
            continue
        captured = t0 + 0.2 + i / FPS
        delay = base_delay_ms + float(rng.exponential(base_delay_ms / 3))
        line: dict[str, Any] = {"type": "shown", "frame_id": i, "captured_at": captured,
                                "shown_at": captured + delay / 1000, "delay_ms": delay,
                                "bytes": 2000}
        if i % 4:  # SSIM on most frames, not all
            line["ssim_db"] = ssim_db + float(rng.normal(0, 0.3))
            line["psnr_db"] = 30.0 + float(rng.normal(0, 0.5))
            ssims.append(line["ssim_db"])
        shown.append(line)
        delays.append(delay)
    summary = {
        "frames_sent": FRAMES, "frames_shown": len(shown),
        "delay_ms_p50": float(np.percentile(delays, 50)),
        "delay_ms_p95": float(np.percentile(delays, 95)),
        "delay_ms_p99": float(np.percentile(delays, 99)),
        "ssim_db_mean": float(np.mean(ssims)), "psnr_db_mean": 30.0,
        "fps_shown": len(shown) / 10.0, "stall_ms_total": 333.3,
        "goodput_kbps": len(shown) * 2000 * 8 / 10 / 1000, "keyframes": 2,
    }
    _jsonl(folder / "receiver.jsonl", [
        {"type": "event", "event": "connected", "at": t0 + 0.1}, *shown,
        {"type": "summary", **summary, "capacity_kbps": None, "oracle_delay_ms_p95": None,
         "duration_s": 10.0, "frames_dropped": 0, "controller": controller,
         "ended": "duration reached", "ok": True},
    ])
    _jsonl(folder / "sender.jsonl", [{"type": "summary", "sent": {
        "frames_captured": FRAMES, "frames_encoded": FRAMES, "frames_skipped": 0,
        "keyframes": 2, "bytes_encoded": FRAMES * 2000, "packets_sent": FRAMES * 2,
        "bytes_sent": FRAMES * 2100, "feedback_received": 100, "target_kbps_final": 500}}])
    packets: list[dict[str, Any]] = []
    if link_events:
        packets += [{"event": "origin", "wall_s": WALL0_S},
                    {"event": "link", "direction": "up", "start_ms": LINK_START_MS},
                    {"event": "link", "direction": "down", "start_ms": LINK_START_MS}]
    for i in range(FRAMES * 2):
        enq = LINK_START_MS + 200 + i * 1000 / (2 * FPS)
        if i % 50 == 49:
            packets.append({"direction": "up", "size": 1100, "enqueued_ms": enq,
                            "dropped_ms": enq, "reason": "queue full"})
        else:
            packets.append({"direction": "up", "size": 1100, "enqueued_ms": enq,
                            "delivered_ms": enq + 25, "sent_ms": enq + 25.2})
        if i % 10 == 0:
            packets.append({"direction": "down", "size": 80, "enqueued_ms": enq,
                            "delivered_ms": enq + 21, "sent_ms": enq + 21.1})
    _jsonl(folder / "netem.jsonl", packets)
    completed = {**summary, "capacity_kbps": 1000.0, "oracle_delay_ms_p95": 40.0}
    (folder / "result.json").write_text(json.dumps({
        "controller": controller, "label": label, "status": "ok", "reason": "call completed",
        "summary": completed}))
    return completed


def write_settings(folder: Path, trace: str, controllers: list[str], repeat: int = 1) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.json").write_text(json.dumps({
        "trace": trace, "media_trace": trace, "feedback_trace": trace, "duration_s": 10.0,
        "delay_ms": 20.0, "loss": 0.0, "queue_packets": None, "repeat": repeat,
        "controllers": controllers, "machine": {"cpus": 2, "platform": "Linux-test"},
        "versions": {"aiortc": "1.16.0", "av": "18.1.0"},
        "started_at": "2026-11-24T04:00:00+00:00"}))


def write_skipped(folder: Path, controller: str, reason: str) -> None:
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps({
        "controller": controller, "label": controller, "status": "skipped", "reason": reason,
        "summary": None}))


CHROME_REASON = "chromium is not installed; apt-get install chromium"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """ours and aiortc once each, chrome skipped."""
    out = tmp_path / "run"
    write_settings(out, "const-1mbps", ["ours", "aiortc", "chrome"])
    write_call(out / "ours", "ours", "ours", base_delay_ms=60, ssim_db=12, seed=1)
    write_call(out / "aiortc", "aiortc", "aiortc", base_delay_ms=400, ssim_db=10, seed=2)
    write_skipped(out / "chrome", "chrome", CHROME_REASON)
    return out


def test_summary_has_design_keys_and_status(run_dir: Path) -> None:
    summary = report.write_summary(run_dir)
    assert json.loads((run_dir / "summary.json").read_text()) == summary
    assert list(summary) == ["ours", "aiortc", "chrome"]
    for name in ("ours", "aiortc"):
        assert set(SUMMARY_KEYS) <= set(summary[name])
        assert summary[name]["status"] == "ok"
        assert summary[name]["capacity_kbps"] == 1000.0
    assert summary["ours"]["delay_ms_p95"] < summary["aiortc"]["delay_ms_p95"]
    assert summary["chrome"] == {"status": "skipped", "reason": CHROME_REASON}


def test_repeats_give_medians_and_keep_each_repeat(tmp_path: Path) -> None:
    out = tmp_path / "run"
    write_settings(out, "const-1mbps", ["ours"], repeat=3)
    runs = [write_call(out / f"ours-r{k}", "ours", f"ours-r{k}", base_delay_ms=50 * k,
                       ssim_db=10 + k, seed=k) for k in (1, 2, 3)]
    (out / "ours-r4").mkdir()  # a repeat that died before writing anything but its spec
    (out / "ours-r4" / "spec.json").write_text(json.dumps({"controller": "ours",
                                                           "label": "ours-r4"}))
    entry = report.write_summary(out)["ours"]
    assert entry["status"] == "ok"
    assert [r["label"] for r in entry["repeats"]] == ["ours-r1", "ours-r2", "ours-r3", "ours-r4"]
    assert entry["repeats"][3]["status"] == "failed"
    assert "did not finish" in entry["repeats"][3]["reason"]
    assert "3 of 4" in entry["reason"]
    for key in ("delay_ms_p95", "ssim_db_mean", "frames_shown"):
        assert entry[key] == pytest.approx(float(np.median([r[key] for r in runs])), abs=1e-3)
    assert entry["delay_ms_p95"] == pytest.approx(runs[1]["delay_ms_p95"], abs=1e-3)


def test_controller_listed_but_never_run_is_failed(tmp_path: Path) -> None:
    out = tmp_path / "run"
    write_settings(out, "const-1mbps", ["ours", "gcc"])
    write_call(out / "ours", "ours", "ours", base_delay_ms=60, ssim_db=12)
    summary = report.write_summary(out)
    assert summary["gcc"]["status"] == "failed"
    assert "never ran" in summary["gcc"]["reason"]


def test_broken_files_become_failed_calls(tmp_path: Path) -> None:
    out = tmp_path / "run"
    write_settings(out, "const-1mbps", ["ours", "gcc"])
    (out / "ours").mkdir()
    (out / "ours" / "result.json").write_text("{not json")
    (out / "ours" / "receiver.jsonl").write_text('{"type":"shown","frame_id":1,"capt\n')
    (out / "gcc").mkdir()
    (out / "gcc" / "receiver.jsonl").write_text(
        '{"type":"summary","frames_shown":0,"ok":false,"ended":"ICE failed"}\n')
    summary = report.write_summary(out)
    assert summary["ours"]["status"] == "failed"
    assert "result.json is unreadable" in summary["ours"]["reason"]
    assert summary["gcc"] == {"status": "failed",
                              "reason": "result.json is missing; receiver: ICE failed"}


def test_receiver_summary_stands_in_for_a_missing_result(tmp_path: Path) -> None:
    out = tmp_path / "run"
    write_settings(out, "const-1mbps", ["fixed:500000"])
    write_call(out / "fixed_500000", "fixed:500000", "fixed:500000", base_delay_ms=80,
               ssim_db=11)
    (out / "fixed_500000" / "result.json").unlink()
    entry = report.write_summary(out)["fixed:500000"]
    assert entry["status"] == "ok"
    assert entry["frames_shown"] == FRAMES - 10
    assert entry["capacity_kbps"] is None  # only run.py knows it


def test_main_writes_plots_and_self_contained_html(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert report.main([str(run_dir)]) == 0
    assert capsys.readouterr().out.startswith("controller")
    summary = json.loads((run_dir / "summary.json").read_text())
    for name in PLOT_FILES:
        assert (run_dir / name).read_bytes()[:8] == PNG_MAGIC
    page = (run_dir / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 4
    for target in re.findall(r'(?:src|href)="([^"]*)"', page):
        assert "http" not in target
    assert "<link" not in page and "<script" not in page
    rows = re.findall(r'<tr class="(\w+)"><td class="name">([^<]+)</td>', page)
    assert rows == [("ok", "ours"), ("ok", "aiortc"), ("skipped", "chrome")]
    assert CHROME_REASON in page
    for text in ("const-1mbps", "delay p95 (ms)", "SSIM (dB)", "Linux-test", "1.16.0",
                 "shown minus the time it was captured", "200 ms", "empty queue"):
        assert text in page
    ours_p95 = f"{summary['ours']['delay_ms_p95']:.0f}"
    assert f"<td>{ours_p95}</td>" in page


def test_plots_cope_without_link_events(tmp_path: Path) -> None:
    out = tmp_path / "run"
    write_settings(out, "const-1mbps", ["ours"])
    write_call(out / "ours", "ours", "ours", base_delay_ms=60, ssim_db=12, link_events=False)
    call = report.find_calls(out)[0]
    series = report.load_series(call)
    assert not series.trace_aligned
    assert series.capture_s[0] == pytest.approx(0.1, abs=1e-4)  # since "connected"
    assert series.rate_s[0] == 0.0  # the first media packet
    assert report._capacity(report.load_settings(out), [series]) is None
    path = plots.plot_delay_time([series], None, out / "delay_time.png")
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_series_are_aligned_to_the_link(run_dir: Path) -> None:
    call = next(c for c in report.find_calls(run_dir) if c.controller == "ours")
    series = report.load_series(call)
    assert series.trace_aligned
    assert series.capture_s[0] == pytest.approx(0.2, abs=1e-4)
    assert series.capture_s.size == FRAMES - 10
    assert series.ssim_db.size < series.capture_s.size
    # 60 packets/s of 1100 bytes from 0.2 s on: 528 kbit/s in full bins
    assert series.rate_kbps[3] == pytest.approx(60 * 1100 * 8 / 1000)


def test_format_table(run_dir: Path) -> None:
    summary = report.write_summary(run_dir)
    text = report.format_table(summary)
    lines = text.splitlines()
    assert len(lines) == 4
    assert lines[0].split()[:3] == ["controller", "p50", "ms"]
    ours = lines[1].split()
    assert ours[0] == "ours"
    assert ours[2] == f"{summary['ours']['delay_ms_p95']:.0f}"
    assert f"{summary['ours']['goodput_kbps']:.0f}/1000" in lines[1]
    assert lines[1].rstrip().endswith("ok")
    assert lines[3].startswith("chrome") and "skipped: chromium is not installed" in lines[3]


def test_sweep_aggregate(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    for k, trace in enumerate(("const-1mbps", "const-2mbps")):
        folder = out / trace
        write_settings(folder, trace, ["ours", "gcc"])
        write_call(folder / "ours", "ours", "ours", base_delay_ms=60 + 20 * k, ssim_db=12)
        write_call(folder / "gcc", "gcc", "gcc", base_delay_ms=200, ssim_db=11, seed=k)
    text = report.finish_run(out)
    table = report.aggregate_table(out)
    assert table in text
    rows = [line.split()[:2] for line in table.splitlines()[1:]]
    assert rows == [["const-1mbps", "ours"], ["const-1mbps", "gcc"], ["const-2mbps", "ours"],
                    ["const-2mbps", "gcc"], ["median", "ours"], ["median", "gcc"]]
    aggregate = json.loads((out / "aggregate.json").read_text())
    assert aggregate["traces"] == ["const-1mbps", "const-2mbps"]
    assert len(aggregate["rows"]) == 4
    top = json.loads((out / "summary.json").read_text())
    assert set(top["ours"]["traces"]) == {"const-1mbps", "const-2mbps"}
    p95s = [top["ours"]["traces"][t]["delay_ms_p95"] for t in ("const-1mbps", "const-2mbps")]
    assert top["ours"]["delay_ms_p95"] == pytest.approx(float(np.median(p95s)), abs=1e-3)
    for trace in ("const-1mbps", "const-2mbps"):
        assert (out / trace / "report.html").is_file()
        assert (out / trace / "summary.json").is_file()
    page = (out / "report.html").read_text()
    assert 'href="const-1mbps/report.html"' in page
    assert page.count("data:image/png;base64,") == 2


def test_main_reports_bad_folder_in_one_line(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert report.main([str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert report.main([str(tmp_path)]) == 2
    assert "no call folders" in capsys.readouterr().err


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
    summary = report.write_summary(out)
    assert summary["ours"]["frames_shown"] == 12
    assert summary["ours"]["delay_ms_p95"] is None and summary["ours"]["ssim_db_mean"] is None
    assert summary["gcc"]["frames_shown"] is None
    assert "ours" in report.format_table(summary)
