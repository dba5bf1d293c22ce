"""One PNG for a simulated call: target rate against capacity, and frame delay over time."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from experiments.sim.call import SimResult

CAPACITY_WINDOW_MS = 500.0


def plot_sim(result: SimResult, path: str | Path) -> None:
    """Draw `result` into `path` (PNG): rates on top, per-frame delay below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    config = result.config
    duration_ms = config.duration_s * 1000.0
    edges = np.arange(0.0, duration_ms + CAPACITY_WINDOW_MS, CAPACITY_WINDOW_MS)
    counts = np.diff(config.media_trace.counts_before(edges))
    capacity_kbps = counts * 1500 * 8 / CAPACITY_WINDOW_MS  # bits per ms = kbit/s

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    top.step(edges[:-1] / 1000, capacity_kbps, where="post", color="0.6", label="capacity")
    t = [s.t_ms / 1000 for s in result.samples]
    top.plot(t, [s.target_bps / 1000 for s in result.samples], label="target", color="C0")
    top.set_ylabel("kbit/s")
    top.set_title(f"{result.controller} on {config.media_trace.name}")
    top.legend(loc="upper right")

    shown = [f for f in result.frames if f.shown_ms is not None]
    bottom.plot(
        [f.captured_ms / 1000 for f in shown],
        [f.shown_ms - f.captured_ms for f in shown if f.shown_ms is not None],
        ".",
        markersize=2,
        label="frame delay",
        color="C1",
    )
    bottom.plot(
        [f.captured_ms / 1000 for f in shown],
        [f.oracle_delay_ms for f in shown],
        ".",
        markersize=1,
        label="oracle",
        color="0.5",
    )
    bottom.set_yscale("log")
    bottom.set_ylabel("delay (ms)")
    bottom.set_xlabel("time (s)")
    bottom.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
