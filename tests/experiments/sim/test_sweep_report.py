"""experiments.sim.sweep_report: the table over seeds and the metric's choice."""

from __future__ import annotations

from pathlib import Path

from experiments.sim.sweep import SimRun
from experiments.sim.sweep_report import format_table, plot_metric, table_rows


def test_rows_take_median_min_max_over_seeds_and_count_failures(tmp_path: Path) -> None:
    runs = [SimRun("cellular", "ours", s, (("coupler.target_delay_ms", v),))
            for v in ("5", "10") for s in (0, 1, 2)]
    results = {r: {"delay_ms_p95": 100.0 * (1 + r.seed) + int(r.params[0][1]),
                   "ssim_db_mean": 10.0, "goodput_kbps": 900.0} for r in runs}
    results[runs[2]] = None  # failed
    rows = table_rows(runs, results, "delay_ms_p95")
    assert [(r["set"], r["ok"], r["failed"], r["median"], r["min"], r["max"]) for r in rows] == [
        ("coupler.target_delay_ms=5", 2, 1, 155.0, 105.0, 205.0),
        ("coupler.target_delay_ms=10", 3, 0, 210.0, 110.0, 310.0)]
    assert "delay_ms_p95 median" in format_table(rows, "delay_ms_p95")
    plot_metric(rows, "delay_ms_p95", tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000
