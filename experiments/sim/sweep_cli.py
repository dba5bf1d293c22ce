"""`python -m experiments sweep --sim ...`: a grid of virtual-time calls on a Dask cluster.

Runs on a LocalCluster over this machine's cores unless --cluster names a scheduler. Writes
one summary JSON per run under --out (see experiments.sim.sweep), then table.csv and
PLOT.png of the chosen metric over the swept parameter. Ctrl-C keeps every finished run;
--resume DIR fills in the runs DIR does not hold yet.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from experiments.link_spec import DEFAULT_DELAY_MS
from experiments.sim.call import QUEUE_PACKETS
from experiments.sim.sweep import Grid, SimRun, parse_seeds, parse_set, pending, run_grid
from experiments.sim.sweep_report import (
    DEFAULT_METRIC,
    format_table,
    plot_metric,
    table_rows,
    write_table,
)
from netem.trace import TraceError
from netem.traces import resolve_trace_pair


def add_parser(commands: Any) -> None:
    sweep = commands.add_parser("sweep", help="a grid of simulated calls on a Dask cluster",
                                description=__doc__)
    sweep.add_argument("--sim", action="store_true", required=True,
                       help="virtual-time calls (the only kind of sweep; real calls: run "
                            "--cluster)")
    sweep.add_argument("--trace", required=True, help="comma-separated trace names or files")
    sweep.add_argument("--controllers", default="ours", help="comma-separated: ours, gcc, ...")
    sweep.add_argument("--seeds", default="0", help="e.g. 0-9 or 1,4,7")
    sweep.add_argument("--duration", type=float, default=30.0, help="seconds per call")
    sweep.add_argument("--out", type=Path, help="folder for the results")
    sweep.add_argument("--resume", type=Path, metavar="DIR",
                       help="write into DIR and skip the runs whose result is there")
    sweep.add_argument("--set", action="append", default=[], metavar="PATH=V1,V2,...",
                       help="controller parameter by dotted path, e.g. "
                            "coupler.target_delay_ms=5,10,20 (repeat for a product)")
    sweep.add_argument("--metric", default=DEFAULT_METRIC,
                       help=f"summary key to tabulate and plot (default: {DEFAULT_METRIC})")
    sweep.add_argument("--cluster", metavar="tcp://HOST:PORT", help="a Dask scheduler")
    sweep.add_argument("--workers", type=int, help="LocalCluster processes (default: cores)")
    sweep.add_argument("--delay-ms", type=float, default=DEFAULT_DELAY_MS,
                       help="one-way delay, each way (default: as experiments run)")
    sweep.add_argument("--loss", type=float, default=0.0, help="random loss on the media path")
    sweep.add_argument("--queue-packets", type=int, default=QUEUE_PACKETS,
                       help="drop-tail limit (default: unlimited, as netem's)")
    sweep.set_defaults(handler=sweep_command)


def parse_grid(args: argparse.Namespace) -> Grid:
    traces = [t.strip() for t in args.trace.split(",") if t.strip()]
    controllers = [c.strip() for c in args.controllers.split(",") if c.strip()]
    if not traces or not controllers:
        raise ValueError("give at least one --trace and one of --controllers")
    if args.duration <= 0:
        raise ValueError(f"--duration must be positive, got {args.duration}")
    if args.workers is not None and args.workers < 1:
        raise ValueError("--workers must be at least 1")
    for trace in traces:
        resolve_trace_pair(trace)  # TraceError lists the available names
    grid = Grid(traces, controllers, parse_seeds(args.seeds), [parse_set(s) for s in args.set],
                args.duration, args.delay_ms, args.loss, args.queue_packets)
    grid.check()
    return grid


def sweep_command(args: argparse.Namespace) -> int:
    out = args.resume or args.out
    try:
        if out is None:
            raise ValueError("give --out DIR (or --resume DIR)")
        if args.resume and args.out and args.resume != args.out:
            raise ValueError("--resume DIR is also the output folder: drop --out or make it DIR")
        grid = parse_grid(args)
    except (ValueError, TraceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    runs = grid.runs()
    todo = pending(runs, out) if args.resume else runs
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps({"argv": sys.argv[1:], "runs": len(runs)},
                                               indent=1) + "\n")
    print(f"{len(todo)} of {len(runs)} runs to do", file=sys.stderr)
    started = time.monotonic()
    interrupted = False
    counts = {"ok": 0, "failed": 0}  # of this invocation, Ctrl-C or not
    if todo:
        from experiments.cluster.client import open_client

        try:
            with open_client(args.cluster, args.workers) as client:
                run_grid(client, todo, out, _progress(len(todo), counts))
        except (ConnectionError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            interrupted = True
            print("\ninterrupted: every finished run is kept; --resume "
                  f"{out} does the rest", file=sys.stderr)
    print(_finish(runs, out, args.metric), flush=True)
    print(f"{counts['ok']} ok, {counts['failed']} failed in {time.monotonic() - started:.1f} s",
          file=sys.stderr)
    if interrupted:
        return 130
    return 0 if counts["failed"] == 0 else 1


def _progress(total: int, counts: dict[str, int]) -> Any:
    def report(run: SimRun, error: str | None) -> None:
        counts["ok" if error is None else "failed"] += 1
        what = "ok" if error is None else f"FAILED: {error}"
        print(f"[{sum(counts.values())}/{total}] {run.relpath().with_suffix('')}: {what}",
              file=sys.stderr)

    return report


def load_results(runs: list[SimRun], out: Path) -> dict[SimRun, dict[str, Any] | None]:
    results: dict[SimRun, dict[str, Any] | None] = {}
    for run in runs:
        path = out / run.relpath()
        results[run] = json.loads(path.read_text()) if path.is_file() else None
    return results


def _finish(runs: list[SimRun], out: Path, metric: str) -> str:
    results = load_results(runs, out)
    rows = table_rows(runs, results, metric)
    write_table(rows, out / "table.csv")
    plot = out / f"{metric}.png"
    plot_metric(rows, metric, plot)
    return f"{format_table(rows, metric)}\ntable: {out / 'table.csv'}\nplot: {plot}"
