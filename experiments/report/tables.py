"""Tables of entries: the columns every report shows, text tables for stdout, and the
aggregate of a sweep (DIR/aggregate.json, one row per trace × controller plus medians).

Signal delay (Salsify's, per source frame) leads, always beside the floor of the link; the
shown-frame delay follows and is never quoted alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.report.entries import Entry, Summary, collect_summary, combine, write_json
from experiments.report.load import trace_folders, trace_name
from peer.metrics import CallSummary

AGGREGATE_FILE = "aggregate.json"


@dataclass(frozen=True)
class Column:
    key: str  # a CallSummary field
    header: str  # with its unit
    digits: int


COLUMNS: tuple[Column, ...] = (
    Column("signal_delay_ms_p50", "signal delay p50 (ms)", 0),
    Column("signal_delay_ms_p95", "signal delay p95 (ms)", 0),
    Column("signal_floor_ms_p95", "floor p95 (ms)", 0),
    Column("delay_ms_p95", "shown-frame delay p95 (ms)", 0),
    Column("oracle_delay_ms_p95", "oracle p95 (ms)", 0),
    Column("ssim_db_mean", "SSIM (dB)", 2),
    Column("freeze_count", "freezes", 0),
    Column("freeze_ms_total", "frozen (ms)", 0),
    Column("fps_shown", "fps shown", 1),
    Column("goodput_kbps", "goodput (kbit/s)", 0),
    Column("capacity_kbps", "capacity (kbit/s)", 0),
    Column("frames_sent", "frames sent", 0),
    Column("frames_shown", "frames shown", 0),
    Column("stall_ms_total", "stalls (ms)", 0),
    Column("keyframes", "keyframes", 0),
    Column("jitter_buffer_ms_per_frame", "Chromium jitter buffer (ms/frame)", 1),
    Column("audio_delay_ms_p95", "audio delay p95 (ms)", 0),
    Column("av_skew_ms_p95", "audio-video skew p95 (ms)", 0),
)


def value(summary: CallSummary | None, key: str) -> float | None:
    """A numeric field of `summary`, or None (no summary, not measured, not a number)."""
    if summary is None:
        return None
    got = getattr(summary, key)
    return float(got) if isinstance(got, int | float) else None


def fmt(number: float | None, digits: int = 0) -> str:
    return "-" if number is None else f"{number:.{digits}f}"


TEXT_HEADER = ("signal p50", "signal p95", "floor", "frame p95", "SSIM dB", "freezes",
               "frozen ms", "fps", "goodput/cap kbit/s", "jbuf ms", "audio p95")


def text_cells(entry: Entry) -> list[str]:
    s = entry.summary
    rate = f"{fmt(value(s, 'goodput_kbps'))}/{fmt(value(s, 'capacity_kbps'))}"
    return [
        fmt(value(s, "signal_delay_ms_p50")),
        fmt(value(s, "signal_delay_ms_p95")),
        fmt(value(s, "signal_floor_ms_p95")),
        fmt(value(s, "delay_ms_p95")),
        fmt(value(s, "ssim_db_mean"), 2),
        fmt(value(s, "freeze_count")),
        fmt(value(s, "freeze_ms_total")),
        fmt(value(s, "fps_shown"), 1),
        "-" if rate == "-/-" else rate,
        fmt(value(s, "jitter_buffer_ms_per_frame"), 1),
        fmt(value(s, "audio_delay_ms_p95")),
    ]


def status_text(entry: Entry, width: int = 60) -> str:
    text = f"{entry.status}: {entry.reason}" if entry.reason else entry.status
    return text if len(text) <= width else text[: width - 1] + "…"


def text_table(head: Sequence[str], rows: Sequence[Sequence[str]], left: int) -> str:
    """Fixed-width columns: the first `left` and the last left-aligned, the rest right."""
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = []
    for row in [head, *rows]:
        cells = [
            c.ljust(w) if i < left or i == len(row) - 1 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def format_table(summary: Summary) -> str:
    """A fixed-width table for stdout, one row per controller."""
    head = ["controller", *TEXT_HEADER, "status"]
    rows = [[name, *text_cells(e), status_text(e)] for name, e in summary.items()]
    return text_table(head, rows, left=1)


@dataclass(frozen=True)
class Aggregate:
    """A sweep's rows (trace, controller, entry) and each controller's median over traces."""

    traces: tuple[str, ...]
    rows: tuple[tuple[str, str, Entry], ...]
    medians: Summary


def aggregate(run_dir: Path) -> Aggregate:
    """One row per trace × controller (a plain run folder is one trace), and medians."""
    rows = []
    for folder in trace_folders(run_dir) or [run_dir]:
        trace = trace_name(folder)
        for controller, entry in collect_summary(folder).items():
            rows.append((trace, controller, entry))
    by_controller: dict[str, list[Entry]] = {}
    for trace, controller, entry in rows:
        by_controller.setdefault(controller, []).append(
            Entry(entry.status, entry.summary, entry.reason, label=trace))
    medians = {c: combine(entries, "traces") for c, entries in by_controller.items()}
    traces = tuple(dict.fromkeys(t for t, _, _ in rows))
    return Aggregate(traces, tuple(rows), medians)


def _row_json(trace: str, controller: str, entry: Entry) -> dict[str, Any]:
    plain = Entry(entry.status, entry.summary, entry.reason)  # repeats stay in summary.json
    return {"trace": trace, "controller": controller, **plain.to_json()}


def aggregate_table(run_dir: str | Path) -> str:
    """Rows trace × controller, then each controller's median over traces; writes
    DIR/aggregate.json with the same rows and medians."""
    run_dir = Path(run_dir)
    agg = aggregate(run_dir)
    write_json(run_dir / AGGREGATE_FILE, {
        "traces": list(agg.traces),
        "controllers": list(agg.medians),
        "rows": [_row_json(*row) for row in agg.rows],
        "median_over_traces": {c: e.to_json() for c, e in agg.medians.items()},
    })
    head = ["trace", "controller", *TEXT_HEADER, "status"]
    lines = [[t, c, *text_cells(e), status_text(e, 40)] for t, c, e in agg.rows]
    if len(agg.traces) > 1:
        lines += [["median", c, *text_cells(e), status_text(e, 40)]
                  for c, e in agg.medians.items()]
    return text_table(head, lines, left=2)
