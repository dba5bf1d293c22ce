from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from experiments.report import plots
from experiments.report.entries import Entry
from experiments.report.published import published_points
from netem import generate
from peer.metrics import CallSummary

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _series(controller: str, delay_ms: float, label: str = "") -> plots.CallSeries:
    t = np.arange(0.0, 5.0, 1 / 30)
    t = t[(t < 2.0) | (t > 2.5)]  # a 500 ms stall
    rate_s, rate_kbps = plots.rate_bins(t, np.full(t.size, 2500.0))
    return plots.CallSeries(
        label=label or controller, controller=controller, capture_s=t,
        delay_ms=delay_ms + 10 * np.sin(t), quality_s=t[::2], ssim_db=11 + np.cos(t[::2]),
        rate_s=rate_s, rate_kbps=rate_kbps, trace_aligned=True,
    )


def _is_png(path: Path) -> bool:
    return path.read_bytes()[:8] == PNG_MAGIC


def test_rate_bins_sum_bytes_per_bin() -> None:
    t_s, kbps = plots.rate_bins([0.1, 0.5, 1.2, 2.9, -0.3], [1000, 500, 250, 125, 9999])
    assert t_s.tolist() == [0.0, 1.0, 2.0]
    assert kbps.tolist() == pytest.approx([12.0, 2.0, 1.0])  # bytes * 8 / 1000 ms
    empty_t, empty_kbps = plots.rate_bins([], [])
    assert empty_t.size == 0 and empty_kbps.size == 0
    with pytest.raises(ValueError, match="one size per time"):
        plots.rate_bins([0.1], [1, 2])


def test_capacity_series_follows_the_trace() -> None:
    trace = generate.steps([(2.0, 1_200_000.0), (2.0, 240_000.0)])
    capacity = plots.capacity_series(trace, 4.0, bin_ms=1000.0)
    assert capacity.t_s.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert capacity.kbps[:2] == pytest.approx([1200.0, 1200.0], rel=0.02)
    assert capacity.kbps[2:] == pytest.approx([240.0, 240.0], rel=0.1)
    with pytest.raises(ValueError, match="bin_ms"):
        plots.capacity_series(trace, 4.0, bin_ms=0)


def test_stall_breaks_lines() -> None:
    t = np.array([0.0, 0.1, 0.5, 0.6])
    mids = plots.stall_midpoints(t)
    assert mids.tolist() == pytest.approx([0.3])
    x, y = plots._broken(t, np.ones(4), mids)
    assert x.tolist() == pytest.approx([0.0, 0.1, 0.3, 0.5, 0.6])
    assert np.isnan(y[2]) and not np.isnan(y[[0, 1, 3, 4]]).any()


def test_colors_are_stable_per_controller() -> None:
    assert plots.controller_colors(["ours", "gcc", "ours", "aiortc"]) == {
        "ours": "C0", "gcc": "C1", "aiortc": "C2"}


def test_all_plots_write_pngs(tmp_path: Path) -> None:
    calls = [_series("ours", 80, "ours-r1"), _series("ours", 90, "ours-r2"),
             _series("aiortc", 600)]
    capacity = plots.capacity_series(generate.constant(1_000_000.0, 10.0), 5.0)
    summary = {
        "ours": Entry("ok", CallSummary(signal_delay_ms_p95=90.0, ssim_db_mean=11.5), repeats=(
            Entry("ok", CallSummary(signal_delay_ms_p95=85.0, ssim_db_mean=11.4), label="r1"),
            Entry("ok", CallSummary(signal_delay_ms_p95=95.0, ssim_db_mean=11.6), label="r2"))),
        "aiortc": Entry("ok", CallSummary(signal_delay_ms_p95=610.0, ssim_db_mean=10.2)),
        "chrome": Entry("skipped", None, "no chromium"),
    }
    written = [
        plots.plot_delay_time(calls, capacity, tmp_path / "a.png", "t"),
        plots.plot_delay_cdf(calls, tmp_path / "b.png"),
        plots.plot_quality_time(calls, tmp_path / "c.png"),
        plots.plot_scatter(summary, tmp_path / "d.png", floor_ms=40.0,
                           published=published_points("ATT-LTE-driving")),
    ]
    assert all(_is_png(p) for p in written)


def test_plots_without_data_still_write_pngs(tmp_path: Path) -> None:
    written = [
        plots.plot_delay_time([], None, tmp_path / "a.png"),
        plots.plot_delay_cdf([], tmp_path / "b.png"),
        plots.plot_quality_time([], tmp_path / "c.png"),
        plots.plot_scatter({"gcc": Entry("failed", None, "x")}, tmp_path / "d.png"),
    ]
    assert all(_is_png(p) for p in written)
