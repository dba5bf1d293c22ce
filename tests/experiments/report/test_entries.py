from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from experiments.report.entries import Entry, median_summary, write_summary
from experiments.summary import SUMMARY_KEYS
from peer.metrics import CallSummary
from tests.experiments.report.run_folder import (
    CHROME_REASON,
    standard_run,
    write_call,
    write_settings,
)


def test_summary_json_has_design_keys_and_status(tmp_path: Path) -> None:
    run_dir = standard_run(tmp_path / "run")
    summary = write_summary(run_dir)
    on_disk = json.loads((run_dir / "summary.json").read_text())
    assert on_disk == {c: e.to_json() for c, e in summary.items()}
    assert list(on_disk) == ["ours", "aiortc", "chrome"]
    for name in ("ours", "aiortc"):
        assert set(SUMMARY_KEYS) <= set(on_disk[name])
        assert on_disk[name]["status"] == "ok"
        assert on_disk[name]["capacity_kbps"] == 1000.0
    ours, aiortc = summary["ours"].summary, summary["aiortc"].summary
    assert ours is not None and aiortc is not None
    assert ours.signal_delay_ms_p95 < aiortc.signal_delay_ms_p95  # type: ignore[operator]
    assert on_disk["chrome"] == {"status": "skipped", "reason": CHROME_REASON}


def test_repeats_give_medians_and_keep_each_repeat(tmp_path: Path) -> None:
    out = tmp_path / "run"
    write_settings(out, "const-1mbps", ["ours"], repeat=3)
    runs = [write_call(out / f"ours-r{k}", "ours", f"ours-r{k}", base_delay_ms=50 * k,
                       ssim_db=10 + k, seed=k) for k in (1, 2, 3)]
    (out / "ours-r4").mkdir()  # a repeat that died before writing anything but its spec
    (out / "ours-r4" / "spec.json").write_text(json.dumps({"controller": "ours",
                                                           "label": "ours-r4"}))
    entry = json.loads(json.dumps(write_summary(out)["ours"].to_json()))
    assert entry["status"] == "ok"
    assert [r["label"] for r in entry["repeats"]] == ["ours-r1", "ours-r2", "ours-r3", "ours-r4"]
    assert entry["repeats"][3]["status"] == "failed"
    assert "did not finish" in entry["repeats"][3]["reason"]
    assert "3 of 4" in entry["reason"]
    for key in ("signal_delay_ms_p95", "delay_ms_p95", "ssim_db_mean", "frames_shown"):
        assert entry[key] == pytest.approx(float(np.median([r[key] for r in runs])), abs=1e-3)
    assert entry["signal_delay_ms_p95"] == pytest.approx(runs[1]["signal_delay_ms_p95"],
                                                         abs=1e-3)


def test_controller_listed_but_never_run_is_failed(tmp_path: Path) -> None:
    out = tmp_path / "run"
    write_settings(out, "const-1mbps", ["ours", "gcc"])
    write_call(out / "ours", "ours", "ours", base_delay_ms=60, ssim_db=12)
    gcc = write_summary(out)["gcc"]
    assert gcc.status == "failed" and "never ran" in gcc.reason


def test_median_of_counts_is_a_count_and_traces_must_agree() -> None:
    a = CallSummary(frames_shown=10, delay_ms_p95=100.0, media_trace="x.down")
    b = CallSummary(frames_shown=13, delay_ms_p95=200.0, media_trace="x.down")
    m = median_summary([a, b])
    assert m.frames_shown == 12 and type(m.frames_shown) is int  # 11.5, to a whole count
    assert m.delay_ms_p95 == 150.0 and m.media_trace == "x.down"
    other = median_summary([a, CallSummary(media_trace="x.up")])
    assert other.media_trace is None


def test_entry_json_of_a_failure_has_no_numbers() -> None:
    assert Entry("failed", None, "ICE failed").to_json() == {"status": "failed",
                                                             "reason": "ICE failed"}
