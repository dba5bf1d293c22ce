from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from experiments.report.build import finish_run
from experiments.report.entries import write_summary
from experiments.report.tables import aggregate_table, format_table
from tests.experiments.report.run_folder import standard_run, write_call, write_settings


def test_format_table_leads_with_signal_delay_beside_the_floor(tmp_path: Path) -> None:
    summary = write_summary(standard_run(tmp_path / "run"))
    lines = format_table(summary).splitlines()
    assert len(lines) == 4
    assert lines[0].split()[:7] == ["controller", "signal", "p50", "signal", "p95", "floor",
                                    "frame"]
    ours = lines[1].split()
    s = summary["ours"].summary
    assert s is not None and s.signal_delay_ms_p95 is not None and s.delay_ms_p95 is not None
    assert ours[0] == "ours"
    assert ours[2] == f"{s.signal_delay_ms_p95:.0f}" and ours[3] == "21"
    assert ours[4] == f"{s.delay_ms_p95:.0f}"
    assert f"{s.goodput_kbps:.0f}/1000" in lines[1]
    assert lines[1].rstrip().endswith("ok")
    assert lines[3].startswith("chrome") and "skipped: chromium is not installed" in lines[3]


def test_sweep_aggregate(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    for k, trace in enumerate(("const-1mbps", "const-2mbps")):
        folder = out / trace
        write_settings(folder, trace, ["ours", "gcc"])
        write_call(folder / "ours", "ours", "ours", base_delay_ms=60 + 20 * k, ssim_db=12,
                   media_trace=trace)
        write_call(folder / "gcc", "gcc", "gcc", base_delay_ms=200, ssim_db=11, seed=k,
                   media_trace=trace)
    text = finish_run(out)
    table = aggregate_table(out)
    assert table in text
    rows = [line.split()[:2] for line in table.splitlines()[1:]]
    assert rows == [["const-1mbps", "ours"], ["const-1mbps", "gcc"], ["const-2mbps", "ours"],
                    ["const-2mbps", "gcc"], ["median", "ours"], ["median", "gcc"]]
    aggregate = json.loads((out / "aggregate.json").read_text())
    assert aggregate["traces"] == ["const-1mbps", "const-2mbps"]
    assert len(aggregate["rows"]) == 4
    top = json.loads((out / "summary.json").read_text())
    assert set(top["ours"]["traces"]) == {"const-1mbps", "const-2mbps"}
    p95s = [top["ours"]["traces"][t]["signal_delay_ms_p95"] for t in ("const-1mbps",
                                                                        "const-2mbps")]
    assert top["ours"]["signal_delay_ms_p95"] == pytest.approx(float(np.median(p95s)), abs=1e-3)
    assert top["ours"]["media_trace"] is None  # the traces differ
    for trace in ("const-1mbps", "const-2mbps"):
        assert (out / trace / "report.html").is_file()
        assert (out / trace / "summary.json").is_file()
    page = (out / "report.html").read_text()
    assert 'href="const-1mbps/report.html"' in page
    assert page.count("data:image/png;base64,") == 2
    assert "Median over traces" in page


def test_text_cells_show_the_page_jitter_buffer_and_the_audio_delay() -> None:
    from experiments.report.entries import Entry
    from experiments.report.tables import TEXT_HEADER, text_cells
    from peer.metrics import CallSummary

    fields = {f: None for f in CallSummary.__dataclass_fields__}
    summary = CallSummary(**{**fields, "jitter_buffer_ms_per_frame": 5.24,
                             "audio_delay_ms_p95": 109.4})
    cells = dict(zip(TEXT_HEADER, text_cells(Entry("ok", summary)), strict=True))
    assert cells["jbuf ms"] == "5.2" and cells["audio p95"] == "109"
    assert cells["signal p95"] == "-"  # not measured is a dash, never a zero
