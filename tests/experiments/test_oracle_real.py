"""A real call's summary completed from its logs, by the one oracle and floor definition."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.jsonl import read_jsonl
from experiments.link_spec import LinkSpec
from experiments.oracle import signal_floor_ms_p95
from experiments.oracle_real import completed_summary
from netem.traces import resolve_trace
from tests.experiments.report.run_folder import write_call


def test_capacity_oracle_and_floor_from_the_logs(tmp_path: Path) -> None:
    folder = tmp_path / "ours"
    write_call(folder, "ours", "ours", base_delay_ms=60, ssim_db=12)
    line = [r for r in read_jsonl(folder / "receiver.jsonl") if r.get("type") == "summary"][-1]
    done = completed_summary(folder, LinkSpec(trace="const-1mbps", delay_ms=20.0), line)
    assert done["ok"] is True and done["controller"] == "ours"  # the call's facts stay
    assert done["capacity_kbps"] == pytest.approx(1000.0, rel=0.02)
    # 2,000-byte frames need two 1,500-byte opportunities, 12 ms apart on 1 Mbit/s.
    assert 20.0 + 12.0 < done["oracle_delay_ms_p95"] < 20.0 + 24.0 + 1.0
    # The call's window starts 200 ms after the trace's time 0 and lasts 10 s.
    expected = signal_floor_ms_p95(resolve_trace("const-1mbps"), start_ms=200.0,
                                   end_ms=10_200.0, fps=30.0, propagation_ms=20.0)
    assert done["signal_floor_ms_p95"] == pytest.approx(expected, abs=0.05)
    assert 20.0 < done["signal_floor_ms_p95"] <= 20.0 + 12.0
    assert done["signal_floor_ms_p95"] < done["signal_delay_ms_p95"]


def test_without_the_link_start_the_summary_is_kept(tmp_path: Path) -> None:
    folder = tmp_path / "ours"
    write_call(folder, "ours", "ours", base_delay_ms=60, ssim_db=12, link_events=False)
    line = {"type": "summary", "frames_shown": 3, "ok": True}
    assert completed_summary(folder, LinkSpec(trace="const-1mbps"), line) == line
