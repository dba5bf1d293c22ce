"""The report of a run folder: summary.json, the same-link check, PNG plots, report.html and
text tables, each from its own module:

- `load`: reading a run folder into calls with typed summaries;
- `entries`: summary.json, one entry per controller (medians over repeats or traces);
- `same_link`: whether every controller's media crossed the same trace and capacity;
- `tables`: the columns, text tables and a sweep's aggregate.json;
- `series` and `plots`: the logs as time series, and the four PNGs;
- `published`: Salsify's published points; `html`: report.html.

`finish_run(DIR)` does all of it (per trace folder for sweeps) and returns what to print;
``python -m experiments.report DIR`` rebuilds the report of an existing folder. Nothing here
needs the calls' processes: everything comes from the files.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from experiments.report import plots
from experiments.report.entries import Summary, collect_summary, write_summary
from experiments.report.html import REPORT_FILE, write_html, write_sweep_html
from experiments.report.load import (
    RECEIVER_FILE,
    RESULT_FILE,
    find_calls,
    load_settings,
    trace_folders,
    trace_name,
)
from experiments.report.published import published_points
from experiments.report.same_link import check_same_link
from experiments.report.series import capacity_series, load_series
from experiments.report.tables import aggregate_table, format_table, value


def floor_of(summary: Summary) -> float | None:
    """The signal floor to draw: the median of the controllers' floors (their windows of the
    trace differ only by when each call began)."""
    floors = [f for f in (value(e.summary, "signal_floor_ms_p95") for e in summary.values())
              if f is not None]
    return float(np.median(floors)) if floors else None


def write_plots(run_dir: str | Path, summary: Summary | None = None) -> list[Path]:
    """The four PNGs of one trace folder (`plots.PLOT_FILES`), from its calls' logs."""
    run_dir = Path(run_dir)
    settings = load_settings(run_dir)
    if summary is None:
        summary = collect_summary(run_dir)
    calls = [c for c in find_calls(run_dir) if c.status == "ok"]
    series = [load_series(c) for c in calls]
    trace = str(settings.get("trace") or run_dir.name)
    delay_time, cdf, quality, scatter = (run_dir / name for name in plots.PLOT_FILES)
    return [
        plots.plot_delay_time(series, capacity_series(settings, series), delay_time,
                              f"Shown-frame delay over time on {trace}"),
        plots.plot_delay_cdf(series, cdf, f"Shown-frame delay CDF on {trace}"),
        plots.plot_quality_time(series, quality, f"SSIM of shown frames on {trace}"),
        plots.plot_scatter(summary, scatter, f"Signal delay against quality on {trace}",
                           floor_ms=floor_of(summary), published=published_points(trace)),
    ]


def _same_link_line(run_dir: Path) -> str:
    check = check_same_link(find_calls(run_dir))
    return f"WARNING: {check.message}" if check.same is False else check.message


def _one_trace(folder: Path) -> str:
    summary = write_summary(folder)
    write_plots(folder, summary)
    write_html(folder, summary)
    return f"{format_table(summary)}\n{_same_link_line(folder)}"


def finish_run(run_dir: str | Path) -> str:
    """Summary, plots and report for a run folder (each trace folder of a sweep, then the
    sweep's own); returns the text to print."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir}: no such run folder; give the --out folder of a run")
    folders = trace_folders(run_dir)
    if not folders:
        if not find_calls(run_dir):
            raise ReportError(f"{run_dir}: holds no call folders (with {RESULT_FILE} or "
                              f"{RECEIVER_FILE}); give the --out folder of a run")
        return _one_trace(run_dir) + f"\nreport: {run_dir / REPORT_FILE}"
    texts = [f"{trace_name(folder)}:\n{_one_trace(folder)}" for folder in folders]
    write_summary(run_dir)
    table = aggregate_table(run_dir)
    write_sweep_html(run_dir)
    return "\n\n".join([*texts, table]) + f"\nreport: {run_dir / REPORT_FILE}"


class ReportError(ValueError):
    """A folder that cannot be reported on; the message says what to give instead."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.report",
        description="Rebuild summary.json, the plots and report.html of a run folder.",
    )
    parser.add_argument("run_dir", type=Path, help="the --out folder of `experiments run`")
    args = parser.parse_args(argv)
    try:
        print(finish_run(args.run_dir))
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write the report: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
