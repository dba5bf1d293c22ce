"""PNG plots of a run's calls (matplotlib, Agg backend): drawing only, from loaded series.

`experiments.report.series` reads a run folder into `CallSeries` (one per call) and a
`CapacitySeries` (the media link's trace); `experiments.report.build` calls the four drawers:

- `plot_delay_time`: frame delay over time per controller; below it, on the same time axis,
  the link capacity and every call's sending rate;
- `plot_delay_cdf`: CDF of frame delay per controller (log x);
- `plot_quality_time`: SSIM (dB) of shown frames over time per controller;
- `plot_scatter`: Salsify's Figure 1, p95 signal delay (log x) against mean SSIM (dB), one
  point per controller (with repeats: a small point per repeat, a big one for the median),
  the link's signal floor, and Salsify's published points where the paper has them.

Times on the x axes are seconds since the media link's trace time 0 when the relay logged it
(so capacity and delays line up), else since the call connected. A controller's repeats share
its colour; a plot without data still gets a PNG that says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after use(): the backend must be chosen first
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator

from experiments.report.entries import Entry
from experiments.report.published import CAVEAT as PUBLISHED_CAVEAT
from experiments.report.published import PublishedPoint
from netem.trace import Trace
from peer.metrics import STALL_GAP_MS, CallSummary

PLOT_FILES = ("delay_time.png", "delay_cdf.png", "quality_time.png", "scatter.png")
RATE_BIN_MS = 1000.0
DPI = 100
MIN_DELAY_FOR_LOG_MS = 1.0  # delays are clipped to this on log axes (a log axis has no 0)
SCATTER_MIN_DELAY_RATIO = 3.0  # the scatter's x axis spans at least this factor
SCATTER_MIN_SSIM_DB = 2.0  # and its y axis at least this many dB


@dataclass(frozen=True)
class CallSeries:
    """What one call's logs say over time; times in s on the plot's axis (see module doc)."""

    label: str
    controller: str
    capture_s: np.ndarray  # capture time of each shown frame, ascending
    delay_ms: np.ndarray
    quality_s: np.ndarray  # capture time of the shown frames that carry an SSIM
    ssim_db: np.ndarray
    rate_s: np.ndarray = field(default_factory=lambda: np.zeros(0))  # start of each rate bin
    rate_kbps: np.ndarray = field(default_factory=lambda: np.zeros(0))  # offered to the link
    trace_aligned: bool = False  # True: t = 0 is the media link's trace time 0


@dataclass(frozen=True)
class CapacitySeries:
    """The media link's capacity in bins: bin start times (s, trace time) and kbit/s."""

    name: str
    t_s: np.ndarray
    kbps: np.ndarray


def capacity_series(trace: Trace, end_s: float, bin_ms: float = RATE_BIN_MS) -> CapacitySeries:
    """Capacity of `trace` from its time 0 to `end_s`, averaged over `bin_ms` bins."""
    if bin_ms <= 0:
        raise ValueError(f"bin_ms must be positive, got {bin_ms}")
    end_ms = max(end_s * 1000.0, bin_ms)
    edges = np.arange(0.0, end_ms + bin_ms, bin_ms)
    counts = np.diff(trace.counts_before(edges))
    kbps = counts * 1500 * 8 / bin_ms  # bits per ms = kbit/s
    return CapacitySeries(trace.name, edges[:-1] / 1000.0, kbps.astype(float))


def rate_bins(
    t_s: Sequence[float] | np.ndarray,
    sizes_bytes: Sequence[float] | np.ndarray,
    bin_ms: float = RATE_BIN_MS,
) -> tuple[np.ndarray, np.ndarray]:
    """(bin start s, kbit/s): bytes at times `t_s` summed into `bin_ms` bins from t = 0."""
    t = np.asarray(t_s, dtype=float)
    sizes = np.asarray(sizes_bytes, dtype=float)
    if t.shape != sizes.shape:
        raise ValueError(f"{t.size} times but {sizes.size} sizes; give one size per time")
    keep = t >= 0
    t, sizes = t[keep], sizes[keep]
    if t.size == 0:
        return np.zeros(0), np.zeros(0)
    bin_s = bin_ms / 1000.0
    index = np.floor(t / bin_s).astype(np.int64)
    totals = np.bincount(index, weights=sizes)
    return np.arange(totals.size) * bin_s, totals * 8 / bin_ms


def controller_colors(names: Sequence[str]) -> dict[str, str]:
    """One colour per controller, in order of first appearance."""
    colors: dict[str, str] = {}
    for name in names:
        if name not in colors:
            colors[name] = f"C{len(colors) % 10}"
    return colors


def stall_midpoints(capture_s: np.ndarray) -> np.ndarray:
    """Midpoints of the gaps longer than a stall between consecutive shown frames (s)."""
    if capture_s.size < 2:
        return np.zeros(0)
    gaps = np.flatnonzero(np.diff(capture_s) * 1000.0 > STALL_GAP_MS)
    return (capture_s[gaps] + capture_s[gaps + 1]) / 2


def _broken(x: np.ndarray, y: np.ndarray, breaks_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`x`, `y` with NaN points at `breaks_s`, so a line is not drawn across a stall."""
    xs = np.concatenate([x.astype(float), breaks_s])
    ys = np.concatenate([y.astype(float), np.full(breaks_s.size, np.nan)])
    order = np.argsort(xs, kind="stable")
    return xs[order], ys[order]


def _figure(rows: int = 1, height: float = 4.5) -> tuple[Figure, Any]:
    return plt.subplots(rows, 1, figsize=(10, height), sharex=True, squeeze=False)


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _plain_log(axis: Any, lo: float | None = None, hi: float | None = None) -> None:
    """Ticks of a log axis as plain numbers (50, 100, 200 rather than 5×10¹); denser when the
    data `lo`..`hi` span little more than a decade."""
    dense = lo is not None and hi is not None and 0 < lo < hi < lo * 30
    subs = (1.0, 1.5, 2.0, 3.0, 5.0, 7.0) if dense else (1.0, 2.0, 5.0)
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(FuncFormatter(lambda v, _: ""))


def _no_data(ax: Axes, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} recorded", ha="center", va="center", transform=ax.transAxes)


def _time_label(calls: Sequence[CallSeries]) -> str:
    if calls and all(c.trace_aligned for c in calls):
        return "time since the trace's start (s)"
    return "time since the call connected (s)"


def plot_delay_time(
    calls: Sequence[CallSeries],
    capacity: CapacitySeries | None,
    path: str | Path,
    title: str = "",
) -> Path:
    """Frame delay over time (top) and capacity with sending rates (bottom) into `path`."""
    fig, axes = _figure(2, 7.0)
    top, bottom = axes[0][0], axes[1][0]
    colors = controller_colors([c.controller for c in calls])
    labelled: set[str] = set()
    for call in calls:
        if call.delay_ms.size == 0:
            continue
        x, y = _broken(call.capture_s, np.maximum(call.delay_ms, MIN_DELAY_FOR_LOG_MS),
                       stall_midpoints(call.capture_s))
        name = call.controller if call.controller not in labelled else None
        labelled.add(call.controller)
        top.plot(x, y, lw=0.8, color=colors[call.controller], label=name)
    if labelled:
        top.set_yscale("log")
        low, high = top.get_ylim()
        _plain_log(top.yaxis, low, high)
        top.legend(loc="upper right", fontsize="small")
    else:
        _no_data(top, "shown frames")
    top.set_ylabel("frame delay (ms, log)")
    top.set_title(title or "Frame delay over time")
    top.grid(True, which="both", alpha=0.3)

    if capacity is not None and capacity.t_s.size:
        bottom.fill_between(capacity.t_s, capacity.kbps, step="post", color="0.85",
                            label=f"capacity ({capacity.name})")
    rate_labelled: set[str] = set()
    for call in calls:
        if call.rate_s.size == 0:
            continue
        name = None if call.controller in rate_labelled else f"{call.controller} sending"
        rate_labelled.add(call.controller)
        bottom.step(call.rate_s, call.rate_kbps, where="post", lw=0.9,
                    color=colors.get(call.controller, "C0"), label=name)
    if rate_labelled or capacity is not None:
        bottom.legend(loc="upper right", fontsize="small")
    else:
        _no_data(bottom, "link capacity or sending rate")
    bottom.set_ylabel("kbit/s")
    bottom.set_xlabel(_time_label(calls))
    bottom.set_title(f"Link capacity and sending rate ({RATE_BIN_MS / 1000:g} s bins)",
                     fontsize="medium")
    bottom.grid(True, alpha=0.3)
    return _save(fig, path)


def plot_delay_cdf(calls: Sequence[CallSeries], path: str | Path, title: str = "") -> Path:
    """CDF of frame delay per controller (all repeats pooled), log x, into `path`."""
    fig, axes = _figure(1)
    ax = axes[0][0]
    colors = controller_colors([c.controller for c in calls])
    drawn = False
    for controller, color in colors.items():
        parts = [c.delay_ms for c in calls if c.controller == controller and c.delay_ms.size]
        if not parts:
            continue
        delays = np.sort(np.maximum(np.concatenate(parts), MIN_DELAY_FOR_LOG_MS))
        share = np.arange(1, delays.size + 1) / delays.size
        ax.step(delays, share, where="post", color=color, label=f"{controller} (n={delays.size})")
        drawn = True
    if drawn:
        ax.set_xscale("log")
        low, high = ax.get_xlim()
        _plain_log(ax.xaxis, low, high)
        ax.axhline(0.95, color="0.6", lw=0.8, ls="--")
        ax.legend(loc="lower right", fontsize="small")
    else:
        _no_data(ax, "shown frames")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("frame delay (ms, log)")
    ax.set_ylabel("share of shown frames")
    ax.set_title(title or "Frame delay CDF")
    ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path)


def plot_quality_time(calls: Sequence[CallSeries], path: str | Path, title: str = "") -> Path:
    """SSIM (dB) of shown frames over time per controller into `path`."""
    fig, axes = _figure(1)
    ax = axes[0][0]
    colors = controller_colors([c.controller for c in calls])
    labelled: set[str] = set()
    for call in calls:
        if call.ssim_db.size == 0:
            continue
        name = call.controller if call.controller not in labelled else None
        labelled.add(call.controller)
        x, y = _broken(call.quality_s, call.ssim_db, stall_midpoints(call.capture_s))
        ax.plot(x, y, lw=0.8, color=colors[call.controller], label=name)
    if labelled:
        ax.legend(loc="lower right", fontsize="small")
    else:
        _no_data(ax, "SSIM")
    ax.set_xlabel(_time_label(calls))
    ax.set_ylabel("SSIM (dB)")
    ax.set_title(title or "Quality of shown frames over time")
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def _point(summary: CallSummary | None) -> tuple[float, float] | None:
    if summary is None:
        return None
    delay, ssim = summary.signal_delay_ms_p95, summary.ssim_db_mean
    if delay is not None and ssim is not None and delay > 0:
        return float(delay), float(ssim)
    return None


def _span(values: Sequence[float], least: float, *, log: bool) -> tuple[float, float]:
    """Axis limits around `values` with a margin, spanning at least `least` (a ratio on a log
    axis, a difference on a linear one) so that a tiny difference does not fill the plot."""
    lo, hi = min(values), max(values)
    if log:
        centre, half = np.sqrt(lo * hi), max(np.sqrt(hi / lo), np.sqrt(least)) * 1.25
        return float(centre / half), float(centre * half)
    centre, half = (lo + hi) / 2, max((hi - lo) / 2, least / 2) * 1.3
    return float(centre - half), float(centre + half)


def plot_scatter(summary: Mapping[str, Entry], path: str | Path, title: str = "", *,
                 floor_ms: float | None = None,
                 published: Sequence[PublishedPoint] = ()) -> Path:
    """Salsify's Figure 1: p95 signal delay (log x, drawn as the paper does: decreasing to
    the right, so better is up and right) against mean SSIM (dB), one labelled point per
    controller; the link's signal floor as a vertical line, and the paper's published points
    (hollow, grey) when given."""
    fig, axes = _figure(1, 5.5)
    ax = axes[0][0]
    colors = controller_colors(list(summary))
    points: list[tuple[float, float]] = []
    for controller, entry in summary.items():
        for repeat in entry.repeats:
            point = _point(repeat.summary)
            if point is not None:
                ax.plot(*point, "o", ms=4, alpha=0.5, color=colors[controller])
                points.append(point)
        point = _point(entry.summary)
        if point is None:
            continue
        ax.plot(*point, "o", ms=10, color=colors[controller], label=controller)
        ax.annotate(controller, point, xytext=(7, 7), textcoords="offset points")
        points.append(point)
    ours = list(points)
    for paper in published:
        point = (paper.signal_delay_ms_p95, paper.ssim_db_mean)
        ax.plot(*point, "s", ms=9, mfc="none", mec="0.35", mew=1.5)
        ax.annotate(f"{paper.system} ({PUBLISHED_CAVEAT})", point, xytext=(7, -12),
                    textcoords="offset points", fontsize="small", color="0.3")
        points.append(point)
    if ours:
        xs = [p[0] for p in points] + ([floor_ms] if floor_ms and floor_ms > 0 else [])
        ax.set_xscale("log")
        low, high = _span(xs, SCATTER_MIN_DELAY_RATIO, log=True)
        ax.set_xlim(high, low)  # decreasing delay to the right, as in Salsify's Figure 1
        ax.set_ylim(*_span([p[1] for p in points], SCATTER_MIN_SSIM_DB, log=False))
        _plain_log(ax.xaxis, low, high)
        if floor_ms and floor_ms > 0:
            ax.axvline(floor_ms, color="0.3", ls="--", lw=1.2,
                       label=f"signal floor {floor_ms:.0f} ms (ideal sender on this link)")
        ax.legend(loc="lower left", fontsize="small")
        # Outside the axes (in the x label's row), so it never hides a point.
        ax.text(1.0, -0.08, "better: lower delay, higher SSIM ↗", transform=ax.transAxes,
                ha="right", va="top", color="0.25",
                bbox={"boxstyle": "round", "fc": "white", "ec": "0.7"})
    else:
        _no_data(ax, "call with both signal delay and SSIM")
    with_repeats = any(entry.repeats for entry in summary.values())
    note = " (big: median; small: each repeat)" if with_repeats else ""
    ax.set_xlabel("p95 signal delay (ms, log; decreasing →)")
    ax.set_ylabel("mean SSIM (dB)")
    ax.set_title((title or "Signal delay against quality") + note)
    ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path)
