"""The whole report of a synthetic run folder laid out as `python -m experiments run` writes it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from experiments.report import build as report
from experiments.report.plots import PLOT_FILES
from tests.experiments.report.run_folder import (
    CHROME_REASON,
    PNG_MAGIC,
    standard_run,
    write_call,
    write_settings,
)


def test_main_writes_plots_and_self_contained_html(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = standard_run(tmp_path / "run")
    assert report.main([str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("controller") and "same link" in out and "WARNING" not in out
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
    for text in ("const-1mbps", "signal delay p95 (ms)", "floor p95 (ms)", "freezes",
                 "frozen (ms)", "shown-frame delay p95 (ms)", "SSIM (dB)", "Linux-test",
                 "1.16.0", "compute_signal_delay", "shown minus the time it was captured",
                 "200 ms", "empty queue", "same link"):
        assert text in page
    assert f"<td>{summary['ours']['signal_delay_ms_p95']:.0f}</td>" in page
    assert "Salsify-1c" not in page  # the paper has no point on const-1mbps


def test_different_links_warn_loudly(tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    write_settings(out, "ATT-LTE-driving", ["ours", "chrome"])
    write_call(out / "ours", "ours", "ours", base_delay_ms=60, ssim_db=12,
               media_trace="ATT-LTE-driving.down", media_capacity_kbps=5150.0)
    write_call(out / "chrome", "chrome", "chrome", base_delay_ms=300, ssim_db=11,
               media_trace="ATT-LTE-driving.up", media_capacity_kbps=930.0)
    assert report.main([str(out)]) == 0
    text = capsys.readouterr().out
    assert "WARNING: NOT the same link" in text
    page = (out / "report.html").read_text()
    assert '<p class="warning">⚠ WARNING: NOT the same link' in page
    # Salsify's published points for ATT, labelled as such.
    assert "Salsify-1c" in page and "449" in page and "4730" in page
    assert "published, other content and machine" in page


def test_scatter_draws_floor_and_published_points(tmp_path: Path) -> None:
    out = tmp_path / "run"
    write_settings(out, "TMobile-UMTS-driving", ["ours"])
    write_call(out / "ours", "ours", "ours", base_delay_ms=60, ssim_db=12, floor_ms=35.0)
    summary = report.write_summary(out)
    assert report.floor_of(summary) == 35.0
    paths = report.write_plots(out, summary)
    assert all(p.read_bytes()[:8] == PNG_MAGIC for p in paths)


def test_main_reports_bad_folder_in_one_line(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert report.main([str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert report.main([str(tmp_path)]) == 2
    assert "no call folders" in capsys.readouterr().err
