"""The report of a run folder: summary.json, PNG plots, report.html and text tables.

A run folder (``python -m experiments run --out DIR``) holds ``settings.json`` and one folder
per call (``result.json``, ``receiver.jsonl``, ``sender.jsonl``, ``netem.jsonl``); a sweep over
several traces holds one such folder per trace instead. Entry points:

- `write_summary(DIR)`: DIR/summary.json keyed by controller (medians over repeats);
- `write_plots(DIR)`, `write_html(DIR)`: the four PNGs and a self-contained report.html;
- `format_table(summary)`, `aggregate_table(DIR)` (also writes DIR/aggregate.json);
- `finish_run(DIR)`: all of the above (per trace folder for sweeps); returns what to print.

``python -m experiments.report.build DIR`` rebuilds the report of an existing folder. Nothing here
needs the calls' processes: everything comes from the files, and an unreadable or missing file
turns into a ``failed`` status with its reason, never an exception out of the report.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from experiments.jsonl import read_jsonl
from experiments.netem_log import MEDIA_DIRECTION, trace_zero_wall_s
from experiments.report import plots
from experiments.summary import SUMMARY_KEYS
from netem.trace import TraceError
from netem.traces import resolve_trace

SETTINGS_FILE = "settings.json"
RESULT_FILE = "result.json"
SPEC_FILE = "spec.json"
RECEIVER_FILE = "receiver.jsonl"
NETEM_FILE = "netem.jsonl"
SUMMARY_FILE = "summary.json"
AGGREGATE_FILE = "aggregate.json"
REPORT_FILE = "report.html"
CALL_FILES = (RESULT_FILE, SPEC_FILE, RECEIVER_FILE)  # any of these makes a call folder
REFERENCE_CONTROLLER = "ours"  # ratios in the report are against this one when it ran
_REPEAT_LABEL = re.compile(r"(.+)-r(\d+)")

# (summary key, column header with unit, decimals)
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("frames_sent", "frames sent", 0),
    ("frames_shown", "frames shown", 0),
    ("delay_ms_p50", "delay p50 (ms)", 0),
    ("delay_ms_p95", "delay p95 (ms)", 0),
    ("delay_ms_p99", "delay p99 (ms)", 0),
    ("oracle_delay_ms_p95", "oracle p95 (ms)", 0),
    ("ssim_db_mean", "SSIM (dB)", 2),
    ("psnr_db_mean", "PSNR (dB)", 2),
    ("fps_shown", "fps shown", 1),
    ("stall_ms_total", "stalls (ms)", 0),
    ("goodput_kbps", "goodput (kbit/s)", 0),
    ("capacity_kbps", "capacity (kbit/s)", 0),
    ("keyframes", "keyframes", 0),
)

HOW_MEASURED = (
    "Frame delay is the time a frame was shown minus the time it was captured, per shown "
    "frame, on one wall clock: the receiver reads the frame's number from a stamp drawn into "
    "the picture and looks up its capture time. Quality is the SSIM (and PSNR) of the luma of "
    "each shown frame against the same source frame regenerated at the receiver, at the "
    "source resolution; SSIM in dB is −10·log10(1 − SSIM), measured off the display path on "
    "most frames. A stall is a gap of more than 200 ms between shown frames, counted at its "
    "full length (the call's start and end included). Goodput is the payload of shown frames "
    "over the call; capacity is what the trace offered the media direction over the call. "
    "The oracle delay is the earliest each frame could have arrived given its size, its send "
    "time and the trace with an empty queue; measured minus oracle is the delay the system "
    "added. Plots start at the media link's trace time 0 when the relay logged it; the "
    "sending rate is what reached the relay in the media direction, drops included."
)


@dataclass(frozen=True)
class CallRun:
    """One call as its folder recorded it. `summary` holds DESIGN's keys when status is ok."""

    folder: Path
    label: str
    controller: str
    status: str  # "ok" | "failed" | "skipped"
    reason: str
    summary: Mapping[str, Any]


# -- reading files ------------------------------------------------------------------------


def read_json(path: Path) -> tuple[Any, str]:
    """(value, "") or (None, why it could not be read)."""
    try:
        return json.loads(path.read_text(encoding="utf-8")), ""
    except FileNotFoundError:
        return None, f"{path.name} is missing"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"{path.name} is unreadable ({type(exc).__name__}: {exc})"


def load_settings(folder: Path) -> dict[str, Any]:
    value, _ = read_json(folder / SETTINGS_FILE)
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _receiver_summary(folder: Path) -> dict[str, Any] | None:
    summaries = [r for r in read_jsonl(folder / RECEIVER_FILE) if r.get("type") == "summary"]
    return summaries[-1] if summaries else None


def _keys_only(summary: Mapping[str, Any]) -> dict[str, Any]:
    """DESIGN's keys only; anything but a finite number becomes None, ints stay ints."""
    out: dict[str, Any] = {}
    for key in SUMMARY_KEYS:
        value = summary.get(key)
        out[key] = value if type(value) is int else _number(value)
    return out


def load_call(folder: Path) -> CallRun:
    """Read one call folder: result.json first, else the receiver's own summary line."""
    result, problem = read_json(folder / RESULT_FILE)
    spec, _ = read_json(folder / SPEC_FILE)
    receiver = _receiver_summary(folder)
    sources = [d for d in (result, spec, receiver) if isinstance(d, dict)]
    label = next((str(d["label"]) for d in sources if d.get("label")), folder.name)
    match = _REPEAT_LABEL.fullmatch(label)
    guessed = match.group(1) if match else label
    controller = next((str(d["controller"]) for d in sources if d.get("controller")), guessed)
    if isinstance(result, dict):
        status = str(result.get("status") or "failed")
        reason = str(result.get("reason") or "")
        if status not in ("ok", "failed", "skipped"):
            status, reason = "failed", f"result.json has an unknown status {status!r}"
        given = result.get("summary")
        summary = dict(given) if isinstance(given, dict) else {}
        for key, value in (receiver or {}).items():
            if summary.get(key) is None:
                summary[key] = value
    elif receiver is not None:
        ok = receiver.get("ok") is True
        status = "ok" if ok else "failed"
        reason = f"{problem}; receiver: {receiver.get('ended') or 'no end reason'}"
        summary = dict(receiver)
    else:
        status, summary = "failed", {}
        reason = f"{problem} and the receiver wrote no summary: the call did not finish"
    if status == "ok":
        return CallRun(folder, label, controller, status, reason, _keys_only(summary))
    return CallRun(folder, label, controller, status, reason or "no reason given", {})


def is_sweep(run_dir: Path) -> bool:
    """True when `run_dir` holds one folder per trace (each with its settings.json)."""
    return bool(trace_folders(run_dir))


def trace_folders(run_dir: Path) -> list[Path]:
    if not run_dir.is_dir():
        return []
    return sorted(p for p in run_dir.iterdir() if p.is_dir() and (p / SETTINGS_FILE).is_file())


def find_calls(run_dir: Path) -> list[CallRun]:
    """The calls of one trace folder, ordered as settings.json lists the controllers."""
    if not run_dir.is_dir():
        return []
    folders = sorted(
        p for p in run_dir.iterdir() if p.is_dir() and any((p / f).exists() for f in CALL_FILES)
    )
    calls = [load_call(p) for p in folders]
    order = {c: i for i, c in enumerate(_listed_controllers(load_settings(run_dir)))}
    return sorted(calls, key=lambda c: (order.get(c.controller, len(order)), _repeat_key(c)))


def _listed_controllers(settings: Mapping[str, Any]) -> list[str]:
    listed = settings.get("controllers")
    return [str(c) for c in listed] if isinstance(listed, list) else []


def _repeat_key(call: CallRun) -> tuple[int, str]:
    match = _REPEAT_LABEL.fullmatch(call.label)
    return (int(match.group(2)) if match else 0, call.label)


# -- summary ------------------------------------------------------------------------------


def _median(values: Iterable[Any]) -> float | None:
    numbers = [v for v in (_number(x) for x in values) if v is not None]
    return float(np.median(numbers)) if numbers else None


def _rounded(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else value


def _entry(call: CallRun) -> dict[str, Any]:
    entry: dict[str, Any] = {"label": call.label, "status": call.status}
    if call.status == "ok":
        entry.update({k: _rounded(v) for k, v in call.summary.items()})
    else:
        entry["reason"] = call.reason
    return entry


def combine(entries: Sequence[Mapping[str, Any]], what: str) -> dict[str, Any]:
    """One controller's entry from several (repeats or traces): medians over the ok ones."""
    ok = [e for e in entries if e.get("status") == "ok"]
    if ok:
        combined: dict[str, Any] = {
            key: _rounded(_median(e.get(key) for e in ok)) for key in SUMMARY_KEYS
        }
        combined["status"] = "ok"
        if len(ok) < len(entries):
            bad = "; ".join(f"{e.get('label')}: {e.get('reason')}" for e in entries
                            if e.get("status") != "ok")
            combined["reason"] = f"median of {len(ok)} of {len(entries)} {what}; {bad}"
        return combined
    statuses = {e.get("status") for e in entries}
    status = "skipped" if statuses == {"skipped"} else "failed"
    reasons = list(dict.fromkeys(str(e.get("reason")) for e in entries))
    return {"status": status, "reason": "; ".join(reasons)}


def summarize_calls(
    calls: Sequence[CallRun], controllers: Sequence[str] = ()
) -> dict[str, dict[str, Any]]:
    """Summary keyed by controller: one call's keys, or with repeats the median of each key
    over the ok repeats plus "repeats". A controller listed in `controllers` without any call
    folder is "failed" with that reason."""
    by_controller: dict[str, list[CallRun]] = {c: [] for c in controllers}
    for call in calls:
        by_controller.setdefault(call.controller, []).append(call)
    summary: dict[str, dict[str, Any]] = {}
    for controller, runs in by_controller.items():
        if not runs:
            summary[controller] = {
                "status": "failed",
                "reason": "no call folder: the call never ran (interrupted?)",
            }
        elif len(runs) == 1:
            entry = _entry(runs[0])
            entry.pop("label")
            summary[controller] = entry
        else:
            entries = [_entry(r) for r in runs]
            summary[controller] = {**combine(entries, "repeats"), "repeats": entries}
    return summary


def collect_summary(run_dir: Path) -> dict[str, dict[str, Any]]:
    """The summary of one trace folder (see `summarize_calls`), without writing anything."""
    return summarize_calls(find_calls(run_dir), _listed_controllers(load_settings(run_dir)))


def write_summary(run_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Write DIR/summary.json and return it. For a sweep, each trace folder gets its own and
    DIR's is keyed by controller with the median over traces plus "traces": {trace: entry}."""
    run_dir = Path(run_dir)
    folders = trace_folders(run_dir)
    if folders:
        per_trace = {_trace_name(f): write_summary(f) for f in folders}
        summary = _across_traces(per_trace)
    else:
        summary = collect_summary(run_dir)
    _write_json(run_dir / SUMMARY_FILE, summary)
    return summary


def _across_traces(per_trace: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> dict[str, Any]:
    controllers = list(dict.fromkeys(c for s in per_trace.values() for c in s))
    out: dict[str, Any] = {}
    for controller in controllers:
        traces = {t: dict(s[controller]) for t, s in per_trace.items() if controller in s}
        entries = [{**e, "label": t} for t, e in traces.items()]
        out[controller] = {**combine(entries, "traces"), "traces": traces}
    return out


def _trace_name(folder: Path) -> str:
    return str(load_settings(folder).get("trace") or folder.name)


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=1) + "\n", encoding="utf-8")


# -- text tables --------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 0) -> str:
    number = _number(value)
    return "-" if number is None else f"{number:.{digits}f}"


_TEXT_HEADER = ("p50 ms", "p95 ms", "SSIM dB", "fps", "stalls ms", "goodput/cap kbit/s", "kf")


def _text_cells(entry: Mapping[str, Any]) -> list[str]:
    rate = f"{_fmt(entry.get('goodput_kbps'))}/{_fmt(entry.get('capacity_kbps'))}"
    if rate == "-/-":
        rate = "-"
    return [
        _fmt(entry.get("delay_ms_p50")),
        _fmt(entry.get("delay_ms_p95")),
        _fmt(entry.get("ssim_db_mean"), 2),
        _fmt(entry.get("fps_shown"), 1),
        _fmt(entry.get("stall_ms_total")),
        rate,
        _fmt(entry.get("keyframes")),
    ]


def _status_text(entry: Mapping[str, Any], width: int = 60) -> str:
    status = str(entry.get("status", "?"))
    reason = entry.get("reason")
    text = f"{status}: {reason}" if reason else status
    return text if len(text) <= width else text[: width - 1] + "…"


def _text_table(head: Sequence[str], rows: Sequence[Sequence[str]], left: int) -> str:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = []
    for row in [head, *rows]:
        cells = [
            c.ljust(w) if i < left or i == len(row) - 1 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def format_table(summary: Mapping[str, Mapping[str, Any]]) -> str:
    """A fixed-width table for stdout, one row per controller."""
    head = ["controller", *_TEXT_HEADER, "status"]
    rows = [[name, *_text_cells(e), _status_text(e)] for name, e in summary.items()]
    return _text_table(head, rows, left=1)


def aggregate_rows(run_dir: Path) -> list[dict[str, Any]]:
    """One row per trace × controller (a plain run folder is one trace)."""
    folders = trace_folders(run_dir) or [run_dir]
    rows = []
    for folder in folders:
        trace = _trace_name(folder)
        for controller, entry in collect_summary(folder).items():
            row = {"trace": trace, "controller": controller}
            row.update({k: v for k, v in entry.items() if k != "repeats"})
            rows.append(row)
    return rows


def aggregate_table(run_dir: str | Path) -> str:
    """Rows trace × controller, then each controller's median over traces; writes
    DIR/aggregate.json with the same rows and medians."""
    run_dir = Path(run_dir)
    rows = aggregate_rows(run_dir)
    by_trace: dict[str, dict[str, Any]] = {}
    for row in rows:
        by_trace.setdefault(row["trace"], {})[row["controller"]] = row
    medians = {
        controller: combine([{**e, "label": t} for t, e in entries.items()], "traces")
        for controller, entries in _transpose(by_trace).items()
    }
    _write_json(run_dir / AGGREGATE_FILE, {
        "traces": list(by_trace),
        "controllers": list(medians),
        "rows": rows,
        "median_over_traces": medians,
    })
    head = ["trace", "controller", *_TEXT_HEADER, "status"]
    lines = [[r["trace"], r["controller"], *_text_cells(r), _status_text(r, 40)] for r in rows]
    if len(by_trace) > 1:
        lines += [["median", c, *_text_cells(e), _status_text(e, 40)] for c, e in medians.items()]
    return _text_table(head, lines, left=2)


def _transpose(
    by_trace: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for trace, entries in by_trace.items():
        for controller, entry in entries.items():
            out.setdefault(controller, {})[trace] = entry
    return out


# -- plots --------------------------------------------------------------------------------


def _first(records: Iterable[Mapping[str, Any]], key: str) -> float | None:
    return next((v for v in (_number(r.get(key)) for r in records) if v is not None), None)


def load_series(call: CallRun) -> plots.CallSeries:
    """The call's per-frame delay and SSIM and its sending rate, on one time axis: seconds
    since the media link's trace time 0 if netem.jsonl says when that was, else since the
    call connected (else its first capture)."""
    records = read_jsonl(call.folder / RECEIVER_FILE)
    frames = []
    for r in records:
        captured, shown = _number(r.get("captured_at")), _number(r.get("shown_at"))
        if r.get("type") != "shown" or captured is None or shown is None:
            continue
        delay = _number(r.get("delay_ms"))
        frames.append((captured, (shown - captured) * 1000 if delay is None else delay,
                       _number(r.get("ssim_db"))))
    frames.sort(key=lambda f: f[0])
    net = read_jsonl(call.folder / NETEM_FILE)
    origin_wall_s = _first((r for r in net if r.get("event") == "origin"), "wall_s")
    connected = _first((r for r in records if r.get("event") == "connected"), "at")
    trace_zero_s = trace_zero_wall_s(net, connected)
    aligned = trace_zero_s is not None
    if trace_zero_s is not None:
        t0_wall_s = trace_zero_s
    else:
        t0_wall_s = connected if connected is not None else (frames[0][0] if frames else 0.0)
    packets = [
        (t, s) for t, s in ((_number(r.get("enqueued_ms")), _number(r.get("size"))) for r in net
                            if r.get("direction") == MEDIA_DIRECTION and not r.get("duplicate"))
        if t is not None and s is not None
    ]
    if packets:
        enq_ms = np.array([p[0] for p in packets])
        if origin_wall_s is not None:
            rate_t = origin_wall_s + enq_ms / 1000.0 - t0_wall_s
        else:  # no common clock: assume the first media packet left as the call connected
            rate_t = (enq_ms - enq_ms.min()) / 1000.0
        rate_s, rate_kbps = plots.rate_bins(rate_t, [p[1] for p in packets])
    else:
        rate_s, rate_kbps = np.zeros(0), np.zeros(0)
    quality = [(f[0], f[2]) for f in frames if f[2] is not None]
    return plots.CallSeries(
        label=call.label,
        controller=call.controller,
        capture_s=np.array([f[0] - t0_wall_s for f in frames]),
        delay_ms=np.array([f[1] for f in frames]),
        quality_s=np.array([q[0] - t0_wall_s for q in quality]),
        ssim_db=np.array([q[1] for q in quality]),
        rate_s=rate_s,
        rate_kbps=rate_kbps,
        trace_aligned=aligned,
    )


def _capacity(settings: Mapping[str, Any], series: Sequence[plots.CallSeries]
              ) -> plots.CapacitySeries | None:
    if not any(s.trace_aligned for s in series):
        return None
    name = settings.get("media_trace") or settings.get("trace")
    if not name:
        return None
    try:
        trace = resolve_trace(str(name))
    except TraceError:
        return None
    ends = [float(s.capture_s.max()) for s in series if s.capture_s.size]
    ends += [float(s.rate_s.max()) + plots.RATE_BIN_MS / 1000 for s in series if s.rate_s.size]
    duration = _number(settings.get("duration_s")) or 0.0
    return plots.capacity_series(trace, max([duration, *ends]))


def write_plots(run_dir: str | Path, summary: Mapping[str, Mapping[str, Any]] | None = None
                ) -> list[Path]:
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
        plots.plot_delay_time(series, _capacity(settings, series), delay_time,
                              f"Frame delay over time on {trace}"),
        plots.plot_delay_cdf(series, cdf, f"Frame delay CDF on {trace}"),
        plots.plot_quality_time(series, quality, f"SSIM of shown frames on {trace}"),
        plots.plot_scatter(summary, scatter, f"Delay against quality on {trace}"),
    ]


# -- HTML ---------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1300px;color:#222}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f2f2f2}td.name,th.name{text-align:left}
tr.failed td,tr.skipped td{color:#a33}tr.repeat td{color:#666;font-size:.9em}
img{max-width:100%;margin:.5em 0}
p.note{color:#555;font-size:.92em;max-width:60em}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _kv_table(values: Mapping[str, Any]) -> str:
    rows = "".join(
        f'<tr><td class="name">{_e(k)}</td><td class="name">{_e(_plain(v))}</td></tr>'
        for k, v in values.items()
    )
    return f"<table>{rows}</table>"


def _plain(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value)
    return "-" if value is None else str(value)


def _reference(summary: Mapping[str, Mapping[str, Any]]) -> str | None:
    ok = [c for c, e in summary.items() if _number(e.get("delay_ms_p95"))]
    if REFERENCE_CONTROLLER in ok:
        return REFERENCE_CONTROLLER
    return ok[0] if ok else None


def summary_html(summary: Mapping[str, Mapping[str, Any]], first: str = "controller") -> str:
    """The summary as an HTML table: one row per controller (the median over its repeats, each
    repeat on a row below), units in the headers, the p95 delay as a ratio to
    `REFERENCE_CONTROLLER` (or the first that ran). Reasons are listed by `_reasons_html`."""
    ref = _reference(summary)
    ref_p95 = _number(summary[ref].get("delay_ms_p95")) if ref else None
    head = "".join(f"<th>{_e(h)}</th>" for _, h, _ in COLUMNS)
    ratio_head = f"<th>p95 ÷ {_e(ref)}</th>" if ref else ""
    out = [f'<table><tr><th class="name">{_e(first)}</th>{head}{ratio_head}'
           '<th class="name">status</th></tr>']

    def row(name: str, entry: Mapping[str, Any], kind: str = "") -> str:
        status = str(entry.get("status", "?"))
        cells = "".join(f"<td>{_fmt(entry.get(k), d)}</td>" for k, _, d in COLUMNS)
        if ref_p95:
            p95 = _number(entry.get("delay_ms_p95"))
            cells += f"<td>{'-' if p95 is None else f'{p95 / ref_p95:.2f}'}</td>"
        return (f'<tr class="{_e(status)}{kind}"><td class="name">{_e(name)}</td>{cells}'
                f'<td class="name">{_e(status)}</td></tr>')

    for name, entry in summary.items():
        out.append(row(name, entry))
        for repeat in entry.get("repeats") or []:
            out.append(row(f"↳ {repeat.get('label')}", repeat, " repeat"))
    out.append("</table>")
    return "".join(out)


def _reasons_html(summary: Mapping[str, Mapping[str, Any]], heading: str = "h2") -> str:
    """A list of the controllers that failed, were skipped or lost repeats, with reasons."""
    items = [f"<li><b>{_e(c)}</b> ({_e(e.get('status'))}): {_e(e.get('reason'))}</li>"
             for c, e in summary.items() if e.get("status") != "ok" or e.get("reason")]
    if not items:
        return ""
    title = f"<{heading}>Calls that failed or were skipped</{heading}>"
    return title + "<ul>" + "".join(items) + "</ul>"


def _image(path: Path, alt: str) -> str:
    try:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
    except OSError:
        return f"<p class='note'>{_e(path.name)} could not be read.</p>"
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _page(title: str, body: Sequence[str]) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{CSS}</style></head><body><h1>{_e(title)}</h1>" + "".join(body)
        + "</body></html>\n"
    )


SETTING_KEYS = ("trace", "media_trace", "feedback_trace", "duration_s", "delay_ms", "loss",
                "queue_packets", "repeat", "controllers", "started_at")


def write_html(run_dir: str | Path, summary: Mapping[str, Mapping[str, Any]] | None = None
               ) -> Path:
    """DIR/report.html for one trace folder, with the plots (as written by `write_plots`)
    embedded; self-contained: inline CSS, images as data URIs, nothing fetched."""
    run_dir = Path(run_dir)
    settings = load_settings(run_dir)
    if summary is None:
        summary = collect_summary(run_dir)
    shown = {k: settings[k] for k in SETTING_KEYS if k in settings}
    shown.update({k: v for k, v in settings.items()
                  if k not in shown and k not in ("machine", "versions")})
    body = [
        "<h2>Settings</h2>",
        _kv_table(shown) if shown else "<p class='note'>settings.json is missing.</p>",
        "<h2>Summary</h2>",
        summary_html(summary),
    ]
    body.append(_reasons_html(summary))
    body.append("<h2>Plots</h2>")
    for name in plots.PLOT_FILES:
        path = run_dir / name
        if path.is_file():
            body.append(_image(path, name.removesuffix(".png").replace("_", " ")))
    body += ["<h2>How this was measured</h2>", f"<p class='note'>{_e(HOW_MEASURED)}</p>"]
    for key, title in (("machine", "Machine"), ("versions", "Versions")):
        value = settings.get(key)
        if isinstance(value, dict) and value:
            body += [f"<h2>{title}</h2>", _kv_table(value)]
    trace = settings.get("trace") or run_dir.name
    path = run_dir / REPORT_FILE
    path.write_text(_page(f"Calls on {trace}", body), encoding="utf-8")
    return path


def write_sweep_html(run_dir: str | Path) -> Path:
    """DIR/report.html of a sweep: every trace × controller row, the medians over traces,
    each trace's scatter plot, and relative links to the per-trace reports."""
    run_dir = Path(run_dir)
    body = []
    for folder in trace_folders(run_dir):
        summary = collect_summary(folder)
        trace = _trace_name(folder)
        body += [f"<h2>{_e(trace)}</h2>",
                 f'<p><a href="{_e(folder.name)}/{REPORT_FILE}">full report</a></p>',
                 summary_html(summary), _reasons_html(summary, "h3")]
        scatter = folder / plots.PLOT_FILES[3]
        if scatter.is_file():
            body.append(_image(scatter, f"scatter on {trace}"))
    aggregate, _ = read_json(run_dir / AGGREGATE_FILE)
    medians = aggregate.get("median_over_traces") if isinstance(aggregate, dict) else None
    if isinstance(medians, dict) and medians:
        body[:0] = ["<h2>Median over traces</h2>", summary_html(medians)]
    body += ["<h2>How this was measured</h2>", f"<p class='note'>{_e(HOW_MEASURED)}</p>"]
    first = next(iter(trace_folders(run_dir)), None)
    settings = load_settings(first) if first else {}
    for key, title in (("machine", "Machine"), ("versions", "Versions")):
        value = settings.get(key)
        if isinstance(value, dict) and value:
            body += [f"<h2>{title}</h2>", _kv_table(value)]
    path = run_dir / REPORT_FILE
    path.write_text(_page("Calls across traces", body), encoding="utf-8")
    return path


# -- everything ---------------------------------------------------------------------------


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
        summary = write_summary(run_dir)
        write_plots(run_dir, summary)
        write_html(run_dir, summary)
        return format_table(summary) + f"\nreport: {run_dir / REPORT_FILE}"
    texts = []
    for folder in folders:
        summary = write_summary(folder)
        write_plots(folder, summary)
        write_html(folder, summary)
        texts.append(f"{_trace_name(folder)}:\n{format_table(summary)}")
    write_summary(run_dir)
    table = aggregate_table(run_dir)
    write_sweep_html(run_dir)
    return "\n\n".join([*texts, table]) + f"\nreport: {run_dir / REPORT_FILE}"


class ReportError(ValueError):
    """A folder that cannot be reported on; the message says what to give instead."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.report.build",
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
