"""Simulator sweeps: traces x controllers x parameter values x seeds, one virtual-time call each.

Every run is one Dask task (experiments.cluster.client); its summary object (the keys `experiments
sim` writes, plus `set`: the parameters it changed) is written to
DIR/<trace>/<controller>/<path=value,...>/seed-N.json the moment it arrives, so Ctrl-C keeps every
finished run and `--resume` skips them. A run that failed twice leaves seed-N.failed.json with
the error instead, and is tried again on resume.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from experiments.sim.call import QUEUE_PACKETS, trace_directions
from experiments.sim.controller_params import build_controller, default_config, with_value
from experiments.sim.output import sim_output
from experiments.sim.settings import SimSettings, sim_config, timed_simulate
from netem.trace import Trace

Params = tuple[tuple[str, str], ...]  # (dotted path, value as given) in --set order


@dataclass(frozen=True)
class SimRun:
    trace: str
    controller: str
    seed: int
    params: Params = ()
    duration_s: float = 30.0
    delay_ms: float = 30.0
    loss: float = 0.0
    queue_packets: int | None = QUEUE_PACKETS

    def settings(self) -> SimSettings:
        return SimSettings(controller=self.controller, duration_s=self.duration_s,
                           delay_ms=self.delay_ms, loss=self.loss,
                           queue_packets=self.queue_packets, seed=self.seed)

    def relpath(self) -> Path:
        label = ",".join(f"{p}={v}" for p, v in self.params) or "default"
        return Path(_safe(self.trace)) / _safe(self.controller) / _safe(label) / \
            f"seed-{self.seed}.json"


@dataclass(frozen=True)
class Grid:
    traces: list[str]
    controllers: list[str]
    seeds: list[int]
    sets: list[tuple[str, list[str]]] = field(default_factory=list)  # path, values
    duration_s: float = 30.0
    delay_ms: float = 30.0
    loss: float = 0.0
    queue_packets: int | None = QUEUE_PACKETS

    def runs(self) -> list[SimRun]:
        combos = list(itertools.product(*[[(p, v) for v in vs] for p, vs in self.sets]))
        return [SimRun(t, c, s, tuple(combo), self.duration_s, self.delay_ms, self.loss,
                       self.queue_packets)
                for t in self.traces for c in self.controllers for combo in combos
                for s in self.seeds]

    def check(self) -> None:
        """ValueError for a controller name or parameter path that would fail every run."""
        for controller in self.controllers:
            config = default_config(controller)
            for path, values in self.sets:
                for value in values:
                    config = with_value(config, path, value)


def _safe(name: str) -> str:
    """A path part: a trace path's file name, anything but [A-Za-z0-9-_.=,] as '_'."""
    return "".join(c if c.isalnum() or c in "-_.=," else "_" for c in Path(name).name)


def parse_seeds(text: str) -> list[int]:
    """'0-9', '3', '1,4,7' or a mix -> sorted distinct seeds."""
    seeds: set[int] = set()
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            low, _, high = part.partition("-")
            seeds.update(range(int(low), int(high or low) + 1))
    except ValueError:
        seeds.clear()
    if not seeds:
        raise ValueError(f"bad --seeds {text!r}: give e.g. 0-9, 3 or 1,4,7")
    return sorted(seeds)


def parse_set(text: str) -> tuple[str, list[str]]:
    """'coupler.target_delay_ms=5,10,20' -> ('coupler.target_delay_ms', ['5', '10', '20'])."""
    path, sep, values = text.partition("=")
    listed = [v.strip() for v in values.split(",") if v.strip()]
    if not sep or not path.strip() or not listed:
        raise ValueError(f"bad --set {text!r}: give PATH=V1,V2,..., e.g. "
                         "coupler.target_delay_ms=5,10,20")
    return path.strip(), listed


def run_one(run: SimRun, media: Trace, feedback: Trace) -> dict[str, Any]:
    """One virtual-time call -> its summary object; a Dask task, and what a local run does."""
    config = default_config(run.controller)
    for path, value in run.params:
        config = with_value(config, path, value)
    result, elapsed_s = timed_simulate(sim_config(run.settings(), media, feedback),
                                       build_controller(run.controller, config))
    return {**sim_output(result, run.trace, elapsed_s), "set": dict(run.params)}


def pending(runs: Sequence[SimRun], out: Path) -> list[SimRun]:
    """The runs without a result under `out` (what --resume still has to do)."""
    return [r for r in runs if not (out / r.relpath()).is_file()]


def write_json(path: Path, value: Any) -> None:
    """Whole file or none: a result is renamed into place, so Ctrl-C never leaves half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)


def run_grid(client: Any, runs: Sequence[SimRun], out: Path,
             progress: Callable[[SimRun, str | None], None] | None = None) -> dict[str, int]:
    """Run `runs` on the client's workers, writing each result as it arrives; counts by status."""
    from experiments.cluster.client import run_tasks

    traces: dict[str, Any] = {}
    for name in sorted({r.trace for r in runs}):
        media, feedback = trace_directions(name)
        # Sent to every worker once, not once per task.
        traces[name] = client.scatter([media, feedback], broadcast=True)
    by_key = {r.relpath().as_posix(): r for r in runs}
    counts = {"ok": 0, "failed": 0}

    def done(key: str, value: Any, error: str | None) -> None:
        run = by_key[key]
        target = out / run.relpath()
        if error is None:
            write_json(target, value)
            target.with_name(target.stem + ".failed.json").unlink(missing_ok=True)
            counts["ok"] += 1
        else:
            write_json(target.with_name(target.stem + ".failed.json"),
                       {"status": "failed", "error": error, "run": key})
            counts["failed"] += 1
        if progress is not None:
            progress(run, error)

    run_tasks(client, run_one, {k: (r, *traces[r.trace]) for k, r in by_key.items()}, done)
    return counts
