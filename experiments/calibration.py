"""The calibration table: the simulator's figures beside the median of real calls.

Pure: it takes the summaries (real calls' and the simulator's, as the JSON objects both write)
and returns rows; experiments.calibrate runs the calls. Issue 13's limits: p95 signal delay
within 25 %, mean SSIM within 0.5 dB, goodput within 15 % of the real median. The spread of
the real calls (min-max) is printed beside it, so a reader sees whether the simulator's error
is larger than run-to-run noise.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Metric:
    key: str  # the summary field
    label: str
    unit: str
    relative: bool  # error in % of the real figure; else the difference in the metric's unit
    limit: float  # |error| allowed


METRICS = (
    Metric("signal_delay_ms_p95", "p95 signal delay", "ms", relative=True, limit=25.0),
    Metric("ssim_db_mean", "mean SSIM", "dB", relative=False, limit=0.5),
    Metric("goodput_kbps", "goodput", "kbit/s", relative=True, limit=15.0),
)


@dataclass(frozen=True)
class Pair:
    """One trace x controller: its real calls' and its simulations' summaries, and where in
    the trace each real call's window began (ms of trace time; None: the logs do not say)."""

    trace: str
    controller: str
    real: Sequence[Mapping[str, Any]]
    sim: Sequence[Mapping[str, Any]]
    offsets_ms: Sequence[float | None] = ()

    def context(self) -> dict[str, Any]:
        """Medians of what explains a gap: the link's capacity over the window (equal when the
        windows match) and the frames the sender sent (a CPU-starved real sender sends fewer)."""
        out: dict[str, Any] = {}
        for key in ("media_capacity_kbps", "frames_sent"):
            for side, summaries in (("real", self.real), ("sim", self.sim)):
                values = [v for v in (_number(s, key) for s in summaries) if v is not None]
                out[f"{side}_{key}"] = round(statistics.median(values), 1) if values else None
        return out


@dataclass(frozen=True)
class Row:
    trace: str
    controller: str
    metric: str  # Metric.key
    real_median: float | None
    real_min: float | None
    real_max: float | None
    real_calls: int  # the real calls with this figure
    sim: float | None  # median over the simulations
    error: float | None  # % (relative metrics) or the metric's unit
    error_unit: str
    limit: float
    within: bool | None  # None: a figure is missing
    noise: float | None  # the real spread (max - min) in the error's unit

    def to_json(self) -> dict[str, Any]:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


def _number(summary: Mapping[str, Any], key: str) -> float | None:
    value = summary.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _error(metric: Metric, real: float, sim: float) -> float | None:
    if not metric.relative:
        return sim - real
    return None if real == 0 else (sim - real) / abs(real) * 100.0


def rows_of(pair: Pair) -> list[Row]:
    rows = []
    for metric in METRICS:
        real = [v for v in (_number(s, metric.key) for s in pair.real) if v is not None]
        sims = [v for v in (_number(s, metric.key) for s in pair.sim) if v is not None]
        median = statistics.median(real) if real else None
        sim = statistics.median(sims) if sims else None
        error = None if median is None or sim is None else _error(metric, median, sim)
        noise = None
        if median is not None and len(real) > 1:
            spread = max(real) - min(real)
            noise = spread if not metric.relative else (
                None if median == 0 else spread / abs(median) * 100.0)
        rows.append(Row(
            trace=pair.trace, controller=pair.controller, metric=metric.key,
            real_median=median, real_min=min(real) if real else None,
            real_max=max(real) if real else None, real_calls=len(real), sim=sim, error=error,
            error_unit="%" if metric.relative else metric.unit, limit=metric.limit,
            within=None if error is None else abs(error) <= metric.limit, noise=noise))
    return rows


def table(pairs: Sequence[Pair], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The calibration as JSON: settings, limits, one row per pair and metric, and per pair
    the real windows' trace offsets."""
    rows = [row for pair in pairs for row in rows_of(pair)]
    judged = [r for r in rows if r.within is not None]
    return {
        "settings": dict(settings),
        "limits": {m.key: {"limit": m.limit, "unit": "%" if m.relative else m.unit}
                   for m in METRICS},
        "rows": [r.to_json() for r in rows],
        "windows": [{"trace": p.trace, "controller": p.controller,
                     "trace_offset_ms": [None if o is None else round(o, 1)
                                         for o in p.offsets_ms], **p.context()}
                    for p in pairs],
        "within": sum(1 for r in judged if r.within),
        "judged": len(judged),
        "rows_total": len(rows),
    }


def _fmt(value: Any, digits: int) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:,.{digits}f}"


def format_table(calibration: Mapping[str, Any]) -> str:
    """The table as text: one line per trace, controller and metric."""
    digits = {m.key: 2 if m.key == "ssim_db_mean" else 0 for m in METRICS}
    labels = {m.key: f"{m.label} ({m.unit})" for m in METRICS}
    header = ("trace", "ctrl", "metric", "real median", "real min-max (K)", "sim",
              "error", "limit", "ok", "real spread")
    lines: list[tuple[str, ...]] = [header]
    for r in calibration["rows"]:
        d = digits[r["metric"]]
        unit = r["error_unit"]
        err_digits = 2 if unit == "dB" else 1
        error = "-" if r["error"] is None else f"{r['error']:+.{err_digits}f} {unit}"
        spread = "-" if r["noise"] is None else f"{r['noise']:.{err_digits}f} {unit}"
        ok = {True: "yes", False: "NO", None: "?"}[r["within"]]
        lines.append((
            r["trace"], r["controller"], labels[r["metric"]], _fmt(r["real_median"], d),
            f"{_fmt(r['real_min'], d)}-{_fmt(r['real_max'], d)} ({r['real_calls']})",
            _fmt(r["sim"], d), error, f"{r['limit']:g} {unit}", ok, spread))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
            for line in lines]
    for window in calibration.get("windows", []):
        offsets = [o for o in window["trace_offset_ms"] if o is not None]
        unknown = len(window["trace_offset_ms"]) - len(offsets)
        low, high = (min(offsets), max(offsets)) if offsets else (0.0, 0.0)
        where = f"{low:,.0f} ms" if round(low) == round(high) else f"{low:,.0f}-{high:,.0f} ms"
        if not offsets:
            text.append(f"{window['trace']} {window['controller']}: where the real windows "
                        "start in the trace is unknown; simulated from trace time 0")
            continue
        note = f"; {unknown} unknown, simulated from trace time 0" if unknown else ""
        text.append(f"{window['trace']} {window['controller']}: the real windows start at trace "
                    f"time {where}, and each is simulated from there{note}; capacity real "
                    f"{_fmt(window.get('real_media_capacity_kbps'), 0)} / sim "
                    f"{_fmt(window.get('sim_media_capacity_kbps'), 0)} kbit/s, frames sent real "
                    f"{_fmt(window.get('real_frames_sent'), 0)} / sim "
                    f"{_fmt(window.get('sim_frames_sent'), 0)}")
    text.append(f"{calibration['within']} of {calibration['judged']} figures within the limits "
                f"(p95 signal delay 25 %, SSIM 0.5 dB, goodput 15 %)"
                + ("" if calibration["judged"] == calibration["rows_total"] else
                   f"; {calibration['rows_total'] - calibration['judged']} missing"))
    return "\n".join(text)
