"""A simulator sweep's table and plot, from the result files under its folder.

One row per (trace, controller, parameter values): runs ok and failed, and the chosen metric's
median, min and max over the seeds, beside mean SSIM and goodput. The plot draws the metric's
median (bars: min to max over seeds) over the first swept parameter, one line per trace and
controller; a sweep without --set puts the controllers along the x axis.
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from experiments.sim.sweep import SimRun

DEFAULT_METRIC = "signal_delay_ms_p95"  # Salsify's headline figure
COLUMNS = ("trace", "controller", "set", "ok", "failed", "median", "min", "max",
           "ssim_db_mean", "goodput_kbps")


def table_rows(runs: Sequence[SimRun], results: dict[SimRun, dict[str, Any] | None],
               metric: str) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[SimRun]] = {}
    for run in runs:
        groups.setdefault((run.trace, run.controller, run.params), []).append(run)
    rows = []
    for (trace, controller, params), members in groups.items():
        ok = [r for m in members if (r := results.get(m)) is not None]
        values = [float(r[metric]) for r in ok if isinstance(r.get(metric), int | float)]
        rows.append({
            "trace": trace, "controller": controller,
            "set": ",".join(f"{p}={v}" for p, v in params) or "-",
            "ok": len(ok), "failed": len(members) - len(ok),
            "median": _round(statistics.median(values)) if values else None,
            "min": _round(min(values)) if values else None,
            "max": _round(max(values)) if values else None,
            "ssim_db_mean": _mean(ok, "ssim_db_mean"), "goodput_kbps": _mean(ok, "goodput_kbps"),
        })
    return rows


def _mean(results: Sequence[dict[str, Any]], key: str) -> float | None:
    values = [float(r[key]) for r in results if isinstance(r.get(key), int | float)]
    return _round(statistics.fmean(values)) if values else None


def _round(value: float) -> float:
    return round(value, 2)


def write_table(rows: Sequence[dict[str, Any]], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def format_table(rows: Sequence[dict[str, Any]], metric: str) -> str:
    header = [c if c not in ("median", "min", "max") else f"{metric} {c}" for c in COLUMNS]
    cells = [header] + [["-" if row[c] is None else str(row[c]) for c in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
                     for line in cells)


def plot_metric(rows: Sequence[dict[str, Any]], metric: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    swept = any(row["set"] != "-" for row in rows)
    lines: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        if row["median"] is not None:
            rest = ",".join(row["set"].split(",")[1:])  # other swept parameters: own line
            key = (row["trace"], row["controller"] if swept else "", rest)
            lines.setdefault(key, []).append(row)
    xlabel = "controller"
    for (trace, controller, rest), members in lines.items():
        if swept:
            name, xs = _first_param(members)
            xlabel = name
        else:
            xs = [float(i) for i in range(len(members))]
            ax.set_xticks(xs, [m["controller"] for m in members])
        ys = [m["median"] for m in members]
        err = [[y - m["min"] for y, m in zip(ys, members, strict=True)],
               [m["max"] - y for y, m in zip(ys, members, strict=True)]]
        label = " ".join(filter(None, [controller, rest, "on" if controller else "", trace]))
        ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{metric} (median over seeds, bars min to max)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _first_param(rows: Sequence[dict[str, Any]]) -> tuple[str, list[float]]:
    """The first swept parameter's name and its value in each row (numbers, else positions)."""
    firsts = [row["set"].split(",")[0] for row in rows]
    name = firsts[0].partition("=")[0]
    try:
        return name, [float(f.partition("=")[2]) for f in firsts]
    except ValueError:
        return name, [float(i) for i in range(len(firsts))]
