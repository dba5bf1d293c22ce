from __future__ import annotations

from pathlib import Path

import pytest

from experiments.report import plots
from experiments.report.load import find_calls, load_settings
from experiments.report.series import capacity_series, load_series
from tests.experiments.report.run_folder import (
    FRAMES,
    PNG_MAGIC,
    standard_run,
    write_call,
    write_settings,
)


def test_plots_cope_without_link_events(tmp_path: Path) -> None:
    out = tmp_path / "run"
    write_settings(out, "const-1mbps", ["ours"])
    write_call(out / "ours", "ours", "ours", base_delay_ms=60, ssim_db=12, link_events=False)
    series = load_series(find_calls(out)[0])
    assert not series.trace_aligned
    assert series.capture_s[0] == pytest.approx(0.1, abs=1e-4)  # since "connected"
    assert series.rate_s[0] == 0.0  # the first media packet
    assert capacity_series(load_settings(out), [series]) is None
    path = plots.plot_delay_time([series], None, out / "delay_time.png")
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_series_are_aligned_to_the_link(tmp_path: Path) -> None:
    run_dir = standard_run(tmp_path / "run")
    call = next(c for c in find_calls(run_dir) if c.controller == "ours")
    series = load_series(call)
    assert series.trace_aligned
    assert series.capture_s[0] == pytest.approx(0.2, abs=1e-4)
    assert series.capture_s.size == FRAMES - 10
    assert series.ssim_db.size < series.capture_s.size
    # 60 packets/s of 1100 bytes from 0.2 s on: 528 kbit/s in full bins
    assert series.rate_kbps[3] == pytest.approx(60 * 1100 * 8 / 1000)
    capacity = capacity_series(load_settings(run_dir), [series])
    assert capacity is not None and capacity.kbps[2] == pytest.approx(1000, rel=0.02)
