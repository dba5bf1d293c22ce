"""Dask overhead and a simulator sweep, one at a time vs a LocalCluster: `python -m
tools.bench_cluster [--runs N] [--duration S] [--workers W] [--tasks T]`.

Prints (1) the scheduling overhead per task: T trivial tasks through `run_tasks` at once
(wall time / T) and one at a time (submit, wait, next: the round trip); (2) N simulated calls
of S seconds (cellular, ours and gcc alternating, seeds 0, 1, ...) run in this process one
after the other, then on a LocalCluster of W worker processes; the ratio, and whether every
summary is identical (wall-time field aside). The machine is shared: quote ratios, run twice.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from experiments.cluster.client import open_client, run_tasks
from experiments.sim.call import trace_directions
from experiments.sim.sweep import SimRun, run_grid, run_one


def _noop(i: int) -> int:
    return i


def overhead_ms(client: Any, tasks: int) -> tuple[float, float]:
    """(ms per task when all are submitted at once, ms per task one at a time)."""
    outcomes: list[Any] = []
    started = time.perf_counter()
    run_tasks(client, _noop, {str(i): (i,) for i in range(tasks)}, lambda *o: outcomes.append(o))
    batch_ms = (time.perf_counter() - started) * 1000 / tasks
    assert len(outcomes) == tasks and all(e is None for _, _, e in outcomes)
    started = time.perf_counter()
    for i in range(tasks):
        client.submit(_noop, i, pure=False).result()
    single_ms = (time.perf_counter() - started) * 1000 / tasks
    return batch_ms, single_ms


def _strip(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "sim_wall_s"}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_cluster", description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=200)
    args = parser.parse_args(argv)
    controllers = ("ours", "gcc")
    runs = [SimRun("cellular", controllers[i % 2], i // 2, duration_s=args.duration)
            for i in range(args.runs)]
    with open_client(None, workers=args.workers) as client:
        client.wait_for_workers(args.workers)
        batch_ms, single_ms = overhead_ms(client, args.tasks)
        print(f"overhead per task ({args.tasks} trivial tasks, {args.workers} workers): "
              f"{batch_ms:.2f} ms submitted at once, {single_ms:.2f} ms one at a time")
        if not runs:
            return 0
        media, feedback = trace_directions("cellular")
        started = time.perf_counter()
        local = {r: run_one(r, media, feedback) for r in runs}
        serial_s = time.perf_counter() - started
        print(f"{args.runs} runs of {args.duration:g} s, one at a time: {serial_s:.1f} s")
        with TemporaryDirectory() as tmp:
            started = time.perf_counter()
            counts = run_grid(client, runs, Path(tmp))
            cluster_s = time.perf_counter() - started
            same = all(_strip(json.loads((Path(tmp) / r.relpath()).read_text()))
                       == _strip(local[r]) for r in runs)
    print(f"{args.runs} runs on LocalCluster({args.workers} workers): {cluster_s:.1f} s "
          f"({counts['ok']} ok, {counts['failed']} failed)")
    print(f"speed-up {serial_s / cluster_s:.2f}x; results identical: {same}")
    return 0 if same and counts["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
