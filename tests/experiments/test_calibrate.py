"""The calibration table on made-up summaries, reading a run folder, and (slow) one real call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from experiments.__main__ import main
from experiments.calibrate import (
    CalibrationError,
    read_runs,
    window_offset_ms,
)
from experiments.calibration import Pair, format_table, rows_of, table


def _summary(delay: float, ssim: float, goodput: float) -> dict[str, Any]:
    return {"signal_delay_ms_p95": delay, "ssim_db_mean": ssim, "goodput_kbps": goodput}


def test_rows_take_the_median_of_the_real_calls_and_judge_each_limit() -> None:
    real = [_summary(100, 12.0, 1000), _summary(140, 12.4, 900), _summary(120, 11.0, 1100)]
    sim = [_summary(149, 11.6, 860)]  # +24 %, -0.4 dB, -14 %: all just inside
    delay, ssim, goodput = rows_of(Pair("T", "ours", real, sim))
    assert (delay.real_median, delay.real_min, delay.real_max) == (120, 100, 140)
    assert delay.real_calls == 3
    assert delay.error == pytest.approx(24.1667, abs=1e-3) and delay.within
    assert delay.noise == pytest.approx(40 / 120 * 100)
    assert ssim.error == pytest.approx(-0.4) and ssim.within and ssim.error_unit == "dB"
    assert ssim.noise == pytest.approx(1.4)
    assert goodput.error == pytest.approx(-14.0) and goodput.within
    # Just outside each limit.
    delay, ssim, goodput = rows_of(Pair("T", "ours", real, [_summary(151, 12.61, 1151)]))
    assert not delay.within and not ssim.within and not goodput.within


def test_a_missing_figure_is_not_judged_and_one_call_has_no_spread() -> None:
    real = [{"signal_delay_ms_p95": 200.0, "ssim_db_mean": None, "goodput_kbps": 500}]
    sim = [_summary(150, 10.0, 0)]
    delay, ssim, goodput = rows_of(Pair("T", "gcc", real, sim))
    assert delay.error == pytest.approx(-25.0) and delay.within and delay.noise is None
    assert ssim.real_median is None and ssim.within is None
    assert goodput.error == pytest.approx(-100.0) and goodput.within is False
    calibration = table([Pair("T", "gcc", real, sim, [None])], {"delay_ms": 20})
    assert (calibration["within"], calibration["judged"], calibration["rows_total"]) == (1, 2, 3)
    text = format_table(calibration)
    assert "1 of 2 figures within the limits" in text and "1 missing" in text
    assert "unknown" in text


def test_table_text_shows_spread_offsets_and_verdicts() -> None:
    pairs = [Pair("ATT", "ours", [_summary(100, 12, 1000), _summary(110, 12.2, 1050)],
                  [_summary(200, 12.1, 1000)], [251.0, 300.4])]
    calibration = table(pairs, {"delay_ms": 20})
    json.dumps(calibration)  # it is written as JSON
    text = format_table(calibration)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["trace", "ctrl", "metric"]
    delay_line = next(line for line in lines if "p95 signal delay" in line)
    assert "100-110 (2)" in delay_line and "+90.5 %" in delay_line and "NO" in delay_line
    assert "trace time 251-300 ms" in text
    assert "frames sent real - / sim -" in text
    assert "2 of 3 figures within the limits" in text


# -- a run folder as `experiments run` leaves it, made up (no real call) --------------------

ORIGIN_WALL_S = 1_000.0
LINK_START_MS = 5_000.0  # the media link's trace time 0: 5 s after netem's origin
CONNECTED_S = ORIGIN_WALL_S + 5.25  # the receiver's window starts 250 ms into the trace


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _made_up_run(folder: Path, trace: str = "const-1mbps") -> Path:
    folder.mkdir(parents=True)
    settings = {"trace": trace, "duration_s": 3.0, "delay_ms": 20.0, "loss": 0.0,
                "source": "testpattern", "queue_packets": None, "seed": 0}
    (folder / "settings.json").write_text(json.dumps(settings))
    for k, delay in enumerate((90.0, 110.0)):
        call = folder / f"fixed_400k-r{k + 1}"
        call.mkdir()
        (call / "spec.json").write_text(json.dumps({"controller": "fixed:400k",
                                                    "link": {"seed": k}}))
        summary = {**_summary(delay, 12.0, 390.0), "start_s": CONNECTED_S, "duration_s": 3.0}
        (call / "result.json").write_text(json.dumps(
            {"controller": "fixed:400k", "status": "ok", "summary": summary,
             "media_trace": trace}))
        _write_jsonl(call / "netem.jsonl", [
            {"event": "origin", "wall_s": ORIGIN_WALL_S},
            {"event": "link", "direction": "up", "start_ms": LINK_START_MS},
        ])
        _write_jsonl(call / "receiver.jsonl", [{"type": "event", "event": "connected",
                                                "at": CONNECTED_S}])
    failed = folder / "fixed_400k-r3"
    failed.mkdir()
    (failed / "spec.json").write_text(json.dumps({"controller": "fixed:400k", "link": {}}))
    (failed / "result.json").write_text(json.dumps({"controller": "fixed:400k",
                                                    "status": "failed", "summary": None}))
    return folder


def test_window_offset_comes_from_the_netem_log(tmp_path: Path) -> None:
    call = _made_up_run(tmp_path / "run") / "fixed_400k-r1"
    summary = json.loads((call / "result.json").read_text())["summary"]
    assert window_offset_ms(call, summary) == pytest.approx(250.0)
    (call / "netem.jsonl").unlink()
    assert window_offset_ms(call, summary) is None


def test_read_runs_keeps_finished_calls_with_their_seed_and_window(tmp_path: Path) -> None:
    [run] = read_runs(_made_up_run(tmp_path / "run"))
    assert run.settings["trace"] == "const-1mbps"
    assert [(c.controller, c.seed) for c in run.calls] == [("fixed:400k", 0), ("fixed:400k", 1)]
    assert all(c.trace_offset_ms == pytest.approx(250.0) for c in run.calls)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CalibrationError, match=r"settings\.json"):
        read_runs(tmp_path / "empty")


def test_calibrate_real_simulates_each_call_and_writes_the_table(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep_dir = tmp_path / "sweep"
    _made_up_run(sweep_dir / "const-1mbps")
    _made_up_run(sweep_dir / "const-2mbps", trace="const-2mbps")
    out = tmp_path / "table"
    assert main(["calibrate", "--real", str(sweep_dir), "--trace", "const-1mbps",
                 "--out", str(out), "--sim-seeds", "2"]) == 0
    printed = capsys.readouterr().out
    calibration = json.loads((out / "calibration.json").read_text())
    assert (out / "calibration.txt").read_text().strip() == printed.strip()
    assert {r["trace"] for r in calibration["rows"]} == {"const-1mbps"}
    assert calibration["settings"]["duration_s"] == 3.0
    assert calibration["settings"]["delay_ms"] == 20.0
    [window] = calibration["windows"]
    assert window["trace_offset_ms"] == [250.0, 250.0]
    assert window["sim_media_capacity_kbps"] == pytest.approx(1000, rel=0.02)
    assert window["sim_frames_sent"] == 90 and window["real_frames_sent"] is None
    goodput = next(r for r in calibration["rows"] if r["metric"] == "goodput_kbps")
    # A fixed 400 kbit/s sender on 1 Mbit/s: the simulator shows about what it sends.
    assert goodput["real_calls"] == 2 and 300 < goodput["sim"] < 450
    assert "fixed:400k" in printed and "within the limits" in printed
    sim = json.loads((sweep_dir / "const-1mbps" / "fixed_400k-r2" / "sim.json").read_text())
    assert sim["settings"]["trace_offset_ms"] == pytest.approx(250.0)
    assert sim["settings"]["seed"] == 1 and sim["settings"]["queue_packets"] is None
    # Each real call is simulated twice; the table's figure is the median of all four.
    again = json.loads((sweep_dir / "const-1mbps" / "fixed_400k-r2" / "sim-1.json").read_text())
    assert again["settings"]["seed"] == 1_001
    assert calibration["settings"]["sim_seeds"] == 2


def test_calibrate_refuses_what_it_cannot_do(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", "--trace", "cellular"]) == 2
    assert "--out" in capsys.readouterr().err
    assert main(["calibrate", "--real", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "settings.json" in err
    assert main(["calibrate", "--out", str(tmp_path / "x"), "--trace", "cellular",
                 "--controllers", "chrome", "--repeat", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "simulator cannot run 'chrome'" in err
    assert not (tmp_path / "x" / "chrome").exists()
    assert main(["calibrate", "--out", str(tmp_path / "y"), "--sim-seeds", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--sim-seeds 0: give 1 or more" in err
    assert not (tmp_path / "y").exists()  # refused before any real call


@pytest.mark.slow
def test_one_real_call_calibrates_end_to_end(tmp_path: Path) -> None:
    from experiments.link_spec import LinkSpec
    from experiments.run import CallSpec, run_call
    from experiments.sweep import Plan, settings

    plan = Plan(["cellular"], ["ours"], 1, 8.0, LinkSpec("", 20.0), tmp_path / "run")
    plan.out.mkdir(parents=True)
    (plan.out / "settings.json").write_text(json.dumps(settings(plan, "cellular")))
    result = run_call(CallSpec("ours", LinkSpec("cellular", 20.0), 8.0, "ours"),
                      plan.out / "ours")
    assert result["status"] == "ok", result["reason"]
    assert main(["calibrate", "--real", str(plan.out)]) == 0
    calibration = json.loads((plan.out / "calibration.json").read_text())
    [offset] = calibration["windows"][0]["trace_offset_ms"]
    assert offset is not None and 0 <= offset < 20_000
    assert all(r["sim"] is not None and r["real_median"] is not None
               for r in calibration["rows"])


def test_calibrate_real_leaves_out_chrome_in_one_note(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _made_up_run(tmp_path / "run")
    for k in (1, 2):  # chrome calls beside the fixed ones, as `experiments run` leaves them
        theirs, chrome = run / f"fixed_400k-r{k}", run / f"chrome-r{k}"
        chrome.mkdir()
        for name in ("netem.jsonl", "receiver.jsonl"):
            (chrome / name).write_bytes((theirs / name).read_bytes())
        (chrome / "spec.json").write_text(json.dumps({"controller": "chrome",
                                                      "link": {"seed": k}}))
        result = json.loads((theirs / "result.json").read_text())
        (chrome / "result.json").write_text(json.dumps({**result, "controller": "chrome"}))
    assert main(["calibrate", "--real", str(run)]) == 0
    printed = capsys.readouterr().out
    calibration = json.loads((run / "calibration.json").read_text())
    assert {r["controller"] for r in calibration["rows"]} == {"fixed:400k"}
    notes = [n for n in calibration["notes"] if "chrome" in n]
    assert notes == ["left out chrome: no model in the simulator (real calls only)"]
    assert printed.count("chrome") == 1
    assert not (run / "chrome-r1" / "sim.json").exists()
    # Named, it is refused in one line; a run of chrome alone says why nothing is left.
    assert main(["calibrate", "--real", str(run), "--controllers", "chrome"]) == 2
    assert "simulator cannot run 'chrome'" in capsys.readouterr().err
    for k in (1, 2):
        for name in ("result.json", "spec.json"):
            (run / f"fixed_400k-r{k}" / name).unlink()
    assert main(["calibrate", "--real", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no model of chrome" in err
