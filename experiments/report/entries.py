"""summary.json: one entry per controller, the median over its repeats (or traces).

An `Entry` is one controller's line: a call's summary, or the median of each key over the ok
repeats (each repeat kept below it), or over traces in a sweep. Counts take the median
rounded to a whole count; the media trace is kept when every call agrees on it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from experiments.report.load import (
    CallRun,
    find_calls,
    listed_controllers,
    load_settings,
    trace_folders,
    trace_name,
)
from peer.metrics import CallSummary

SUMMARY_FILE = "summary.json"


@dataclass(frozen=True)
class Entry:
    """One controller's line of summary.json. `summary` is set when status is ok."""

    status: str  # "ok" | "failed" | "skipped"
    summary: CallSummary | None = None
    reason: str = ""
    label: str | None = None  # a repeat's (or a trace's) name
    repeats: tuple[Entry, ...] = ()
    traces: tuple[tuple[str, Entry], ...] = ()  # a sweep's entry: (trace, entry) per trace

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.summary is not None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {} if self.label is None else {"label": self.label}
        out["status"] = self.status
        if self.summary is not None:
            out.update({k: _rounded(v) for k, v in self.summary.to_json().items()})
        if self.reason:
            out["reason"] = self.reason
        if self.repeats:
            out["repeats"] = [r.to_json() for r in self.repeats]
        if self.traces:
            out["traces"] = {t: e.to_json() for t, e in self.traces}
        return out


Summary = dict[str, Entry]  # controller -> entry, in the order the run lists them


def _rounded(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else value


def call_entry(call: CallRun, label: str | None = None) -> Entry:
    if call.status == "ok" and call.summary is not None:
        return Entry("ok", call.summary, label=label)
    return Entry(call.status, None, call.reason, label=label)


def median_summary(summaries: Sequence[CallSummary]) -> CallSummary:
    """Each field's median over `summaries` (see the module docstring)."""
    values: dict[str, Any] = {}
    for f in fields(CallSummary):
        known = [getattr(s, f.name) for s in summaries if getattr(s, f.name) is not None]
        if not known:
            values[f.name] = None
        elif isinstance(known[0], str):
            values[f.name] = known[0] if len(set(known)) == 1 else None
        elif all(type(v) is int for v in known):
            values[f.name] = round(float(np.median(known)))
        else:
            values[f.name] = float(np.median(known))
    return CallSummary(**values)


def combine(entries: Sequence[Entry], what: str) -> Entry:
    """One controller's entry from several (repeats or traces): medians over the ok ones."""
    ok = [e for e in entries if e.ok]
    if ok:
        reason = ""
        if len(ok) < len(entries):
            bad = "; ".join(f"{e.label}: {e.reason}" for e in entries if not e.ok)
            reason = f"median of {len(ok)} of {len(entries)} {what}; {bad}"
        return Entry("ok", median_summary([e.summary for e in ok if e.summary]), reason)
    statuses = {e.status for e in entries}
    status = "skipped" if statuses == {"skipped"} else "failed"
    reasons = list(dict.fromkeys(e.reason for e in entries))
    return Entry(status, None, "; ".join(reasons))


def summarize_calls(calls: Sequence[CallRun], controllers: Sequence[str] = ()) -> Summary:
    """Entries keyed by controller: one call's, or with repeats the median over the ok
    repeats with each repeat kept. A controller in `controllers` without any call folder is
    "failed" with that reason."""
    by_controller: dict[str, list[CallRun]] = {c: [] for c in controllers}
    for call in calls:
        by_controller.setdefault(call.controller, []).append(call)
    summary: Summary = {}
    for controller, runs in by_controller.items():
        if not runs:
            summary[controller] = Entry(
                "failed", None, "no call folder: the call never ran (interrupted?)")
        elif len(runs) == 1:
            summary[controller] = call_entry(runs[0])
        else:
            repeats = tuple(call_entry(r, r.label) for r in runs)
            combined = combine(repeats, "repeats")
            summary[controller] = Entry(combined.status, combined.summary, combined.reason,
                                        repeats=repeats)
    return summary


def collect_summary(run_dir: Path) -> Summary:
    """The entries of one trace folder (see `summarize_calls`), without writing anything."""
    return summarize_calls(find_calls(run_dir), listed_controllers(load_settings(run_dir)))


def across_traces(per_trace: Mapping[str, Summary]) -> Summary:
    """A sweep's entries: each controller's median over traces, with every trace's entry."""
    controllers = list(dict.fromkeys(c for s in per_trace.values() for c in s))
    out: Summary = {}
    for controller in controllers:
        traces = tuple((t, s[controller]) for t, s in per_trace.items() if controller in s)
        labelled = [Entry(e.status, e.summary, e.reason, label=t) for t, e in traces]
        combined = combine(labelled, "traces")
        out[controller] = Entry(combined.status, combined.summary, combined.reason,
                                traces=traces)
    return out


def write_summary(run_dir: str | Path) -> Summary:
    """Write DIR/summary.json and return it. For a sweep, each trace folder gets its own and
    DIR's is keyed by controller with the median over traces plus "traces": {trace: entry}."""
    run_dir = Path(run_dir)
    folders = trace_folders(run_dir)
    if folders:
        summary = across_traces({trace_name(f): write_summary(f) for f in folders})
    else:
        summary = collect_summary(run_dir)
    write_json(run_dir / SUMMARY_FILE, {c: e.to_json() for c, e in summary.items()})
    return summary


def write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=1) + "\n", encoding="utf-8")
