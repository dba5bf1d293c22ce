"""report.html: a self-contained page (inline CSS, images as data URIs, nothing fetched) for
one trace folder, or for a sweep across traces."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from experiments.report import plots
from experiments.report.entries import Entry, Summary, collect_summary
from experiments.report.load import find_calls, load_settings, trace_folders, trace_name
from experiments.report.published import CAVEAT, published_points
from experiments.report.same_link import SameLink, check_same_link
from experiments.report.tables import COLUMNS, aggregate, fmt, value

REPORT_FILE = "report.html"
REFERENCE_CONTROLLER = "ours"  # ratios in the report are against this one when it ran
RATIO_KEY = "signal_delay_ms_p95"

HOW_MEASURED = (
    "Signal delay is Salsify's metric (excamera/salsify-results, compute_signal_delay): for "
    "every source frame the sender captured, from the first shown frame's capture to the "
    "call's end, the time the first frame at or after it in capture order was shown, minus "
    "its capture time; frames after the last one shown take the call's end. A frozen screen "
    "counts with growing delay and a skipped frame is paid for by the next one shown. The "
    "floor is the same metric for an ideal sender that puts a one-packet frame through the "
    "first delivery opportunity after each capture, on the call's own window of the trace "
    "with the same propagation delay: no sender can do better on that link. "
    "Shown-frame delay is the time a frame was shown minus the time it was captured, per "
    "shown frame, on one wall clock: the receiver reads the frame's number from a stamp "
    "drawn into the picture and looks up its capture time; it hides freezes, so it is never "
    "quoted alone. The oracle delay is the earliest each shown frame could have arrived "
    "given its size, leaving at its capture, with the trace and an empty queue. "
    "Quality is the SSIM (and PSNR) of the luma of each shown frame against the same source "
    "frame regenerated at the receiver, at the source resolution; SSIM in dB is "
    "−10·log10(1 − SSIM), measured off the display path on most frames. Freezes are "
    "webrtc-stats' (libwebrtc's video_quality_observer2.cc): a gap between shown frames of "
    "at least max(3 × the mean of the last 30 gaps, that mean + 150 ms), once 5 gaps are "
    "known; a frozen ending counts. A stall is a gap of more than 200 ms between shown "
    "frames (the call's start and end included). Goodput is the payload of shown frames "
    "over the call; capacity is what the trace offered the media direction over the call. "
    "Plots start at the media link's trace time 0 when the relay logged it; the sending "
    "rate is what reached the relay in the media direction, drops included. "
    "With Chromium as receiver (settings: receiver chrome) the demo page reads each stamp on "
    "the frames #remote presents, shown at requestVideoFrameCallback's expectedDisplayTime on "
    "the page's clock (offset to ours and its error in each call's reason); SSIM is then "
    "scored on a sample (every 30th stamped frame, from the page's RGB), goodput is unknown, "
    "and the jitter-buffer column is Chromium's getStats jitterBufferDelay over "
    "jitterBufferEmittedCount for the call."
)

CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1300px;color:#222}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f2f2f2}td.name,th.name{text-align:left}
tr.failed td,tr.skipped td{color:#a33}tr.repeat td{color:#666;font-size:.9em}
tr.published td{color:#555;font-style:italic}
img{max-width:100%;margin:.5em 0}
p.note{color:#555;font-size:.92em;max-width:60em}
p.same{color:#264}p.unknown{color:#850}
p.warning{background:#fdd;border:2px solid #c00;color:#900;font-weight:bold;padding:.6em}
"""

SETTING_KEYS = ("trace", "media_trace", "feedback_trace", "duration_s", "delay_ms", "loss",
                "queue_packets", "repeat", "controllers", "receiver", "started_at")


def _e(text: Any) -> str:
    return html.escape(str(text))


def _plain(item: Any) -> str:
    if isinstance(item, dict | list):
        return json.dumps(item)
    return "-" if item is None else str(item)


def kv_table(values: Mapping[str, Any]) -> str:
    rows = "".join(
        f'<tr><td class="name">{_e(k)}</td><td class="name">{_e(_plain(v))}</td></tr>'
        for k, v in values.items()
    )
    return f"<table>{rows}</table>"


def _reference(summary: Summary) -> str | None:
    ok = [c for c, e in summary.items() if value(e.summary, RATIO_KEY)]
    if REFERENCE_CONTROLLER in ok:
        return REFERENCE_CONTROLLER
    return ok[0] if ok else None


def summary_html(summary: Summary, first: str = "controller", trace: str | None = None) -> str:
    """The entries as an HTML table: one row per controller (the median over its repeats,
    each repeat on a row below), units in the headers, the p95 signal delay as a ratio to
    `REFERENCE_CONTROLLER` (or the first that ran); with `trace`, Salsify's published points
    for it as the last rows."""
    ref = _reference(summary)
    ref_p95 = value(summary[ref].summary, RATIO_KEY) if ref else None
    head = "".join(f"<th>{_e(c.header)}</th>" for c in COLUMNS)
    ratio_head = f"<th>signal p95 ÷ {_e(ref)}</th>" if ref else ""
    out = [f'<table><tr><th class="name">{_e(first)}</th>{head}{ratio_head}'
           '<th class="name">status</th></tr>']

    def row(name: str, entry: Entry, kind: str = "") -> str:
        cells = "".join(f"<td>{fmt(value(entry.summary, c.key), c.digits)}</td>"
                        for c in COLUMNS)
        if ref_p95:
            p95 = value(entry.summary, RATIO_KEY)
            cells += f"<td>{'-' if p95 is None else f'{p95 / ref_p95:.2f}'}</td>"
        return (f'<tr class="{_e(entry.status)}{kind}"><td class="name">{_e(name)}</td>'
                f'{cells}<td class="name">{_e(entry.status)}</td></tr>')

    for name, entry in summary.items():
        out.append(row(name, entry))
        for repeat in entry.repeats:
            out.append(row(f"↳ {repeat.label}", repeat, " repeat"))
    for paper in published_points(trace or ""):
        cells = "".join(
            f"<td>{fmt(paper.signal_delay_ms_p95)}</td>" if c.key == RATIO_KEY
            else f"<td>{fmt(paper.ssim_db_mean, 2)}</td>" if c.key == "ssim_db_mean"
            else "<td></td>" for c in COLUMNS)
        cells += "<td></td>" if ref_p95 else ""
        out.append(f'<tr class="published"><td class="name">{_e(paper.system)}</td>{cells}'
                   f'<td class="name">{_e(CAVEAT)}, whole trace</td></tr>')
    out.append("</table>")
    return "".join(out)


def reasons_html(summary: Summary, heading: str = "h2") -> str:
    """A list of the controllers that failed, were skipped or lost repeats, with reasons."""
    items = [f"<li><b>{_e(c)}</b> ({_e(e.status)}): {_e(e.reason)}</li>"
             for c, e in summary.items() if e.status != "ok" or e.reason]
    if not items:
        return ""
    title = f"<{heading}>Calls that failed or were skipped</{heading}>"
    return title + "<ul>" + "".join(items) + "</ul>"


def same_link_html(check: SameLink) -> str:
    """The verdict (a red box when the links differ) and what each call's media crossed."""
    kind = "warning" if check.same is False else "same" if check.same else "unknown"
    prefix = "⚠ WARNING: " if check.same is False else ""
    out = f'<p class="{kind}">{_e(prefix + check.message)}</p>'
    if len(check.calls) > 1:
        rows = "".join(f'<tr><td class="name">{_e(c.label)}</td>'
                       f'<td class="name">{_e(c.media_trace or "-")}</td>'
                       f"<td>{fmt(c.capacity_kbps)}</td></tr>" for c in check.calls)
        out += ('<table><tr><th class="name">call</th><th class="name">media trace</th>'
                f"<th>media capacity (kbit/s)</th></tr>{rows}</table>")
    return out


def image(path: Path, alt: str) -> str:
    try:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
    except OSError:
        return f"<p class='note'>{_e(path.name)} could not be read.</p>"
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def page(title: str, body: Sequence[str]) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{CSS}</style></head><body><h1>{_e(title)}</h1>" + "".join(body)
        + "</body></html>\n"
    )


def _machine(settings: Mapping[str, Any]) -> list[str]:
    body = []
    for key, title in (("machine", "Machine"), ("versions", "Versions")):
        found = settings.get(key)
        if isinstance(found, dict) and found:
            body += [f"<h2>{title}</h2>", kv_table(found)]
    return body


def write_html(run_dir: str | Path, summary: Summary | None = None) -> Path:
    """DIR/report.html for one trace folder, with the plots (as `build.write_plots` wrote
    them) embedded."""
    run_dir = Path(run_dir)
    settings = load_settings(run_dir)
    if summary is None:
        summary = collect_summary(run_dir)
    trace = str(settings.get("trace") or run_dir.name)
    shown = {k: settings[k] for k in SETTING_KEYS if k in settings}
    shown.update({k: v for k, v in settings.items()
                  if k not in shown and k not in ("machine", "versions")})
    body = [
        "<h2>Settings</h2>",
        kv_table(shown) if shown else "<p class='note'>settings.json is missing.</p>",
        "<h2>Same link</h2>",
        same_link_html(check_same_link(find_calls(run_dir))),
        "<h2>Summary</h2>",
        summary_html(summary, trace=trace),
        reasons_html(summary),
        "<h2>Plots</h2>",
    ]
    for name in plots.PLOT_FILES:
        path = run_dir / name
        if path.is_file():
            body.append(image(path, name.removesuffix(".png").replace("_", " ")))
    body += ["<h2>How this was measured</h2>", f"<p class='note'>{_e(HOW_MEASURED)}</p>"]
    body += _machine(settings)
    path = run_dir / REPORT_FILE
    path.write_text(page(f"Calls on {trace}", body), encoding="utf-8")
    return path


def write_sweep_html(run_dir: str | Path) -> Path:
    """DIR/report.html of a sweep: the medians over traces, then per trace its same-link
    verdict, rows, scatter plot and a relative link to its own report."""
    run_dir = Path(run_dir)
    agg = aggregate(run_dir)
    body = []
    if agg.medians:
        body += ["<h2>Median over traces</h2>", summary_html(agg.medians)]
    for folder in trace_folders(run_dir):
        summary = collect_summary(folder)
        trace = trace_name(folder)
        body += [f"<h2>{_e(trace)}</h2>",
                 f'<p><a href="{_e(folder.name)}/{REPORT_FILE}">full report</a></p>',
                 same_link_html(check_same_link(find_calls(folder))),
                 summary_html(summary, trace=trace), reasons_html(summary, "h3")]
        scatter = folder / plots.PLOT_FILES[3]
        if scatter.is_file():
            body.append(image(scatter, f"scatter on {trace}"))
    body += ["<h2>How this was measured</h2>", f"<p class='note'>{_e(HOW_MEASURED)}</p>"]
    first = next(iter(trace_folders(run_dir)), None)
    body += _machine(load_settings(first) if first else {})
    path = run_dir / REPORT_FILE
    path.write_text(page("Calls across traces", body), encoding="utf-8")
    return path
