"""`python -m experiments calibrate`: the simulator beside real calls, in one table.

Runs `--repeat` real calls per trace and controller (as `experiments run` does, into --out),
or reads those of an earlier run or calibration (`--real DIR`; without --controllers, every
controller of it the simulator models: chrome is left out, in one note), then simulates each
real call `--sim-seeds` times with its settings: the same trace files (netem.traces' one rule),
one-way delay, duration, source and queue, and the same window of the trace. A real call's
window begins when the receiver connects, some way into the media link's trace (netem's log
says where the trace's time 0 was); the simulation starts at that trace offset
(SimConfig.trace_offset_ms). The table (experiments.calibration) compares the median of the
real calls with the median of their simulations and is written as DIR/calibration.json and
DIR/calibration.txt (each simulation's summary beside its real call: sim.json for the call's
own seed, sim-K.json for the K-th further one).

Why several seeds: a call on a cellular trace is chaotic. Whether GCC's 1 s feedback timeout
fires in ATT-LTE-driving's outage, whose one packet a second brings feedback 0.98-1.03 s apart,
decides the next 20 s; the simulations of one real call's settings (the seed draws the encoder
model's frame sizes) gave `gcc` on `cellular` a p95 signal delay of 103-195 ms over ten seeds.
One simulation per real call measured that draw as much as the simulator.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments import sweep
from experiments.calibration import Pair, format_table, table
from experiments.duration import parse_duration
from experiments.jsonl import read_jsonl
from experiments.netem_log import records, trace_zero_wall_s
from netem.trace import TraceError
from peer.file_source import SourceError

DEFAULT_TRACES = "ATT-LTE-driving,TMobile-UMTS-driving,Verizon-LTE-short,cellular"
DEFAULT_CONTROLLERS = "ours,gcc"
SIM_SEEDS = 5  # simulations per real call
SEED_STRIDE = 1000  # the K-th further simulation of a call with seed S runs with S + K x this

class CalibrationError(ValueError):
    """A run folder that cannot be calibrated; the message says what to give instead."""


@dataclass(frozen=True)
class RealCall:
    """One finished real call of a run folder."""

    trace: str
    controller: str
    summary: dict[str, Any]
    seed: int
    trace_offset_ms: float | None  # where its window began on the media trace; None: unknown
    media_trace: str | None  # what netem says the media crossed
    folder: Path  # the call's folder; its simulations are written beside it (sim.json, sim-K.json)


@dataclass(frozen=True)
class RealRun:
    """The real calls of one trace folder and the settings they ran with."""

    settings: dict[str, Any]
    calls: list[RealCall]


def add_parser(commands: Any) -> None:
    cal = commands.add_parser("calibrate", help="the simulator beside real calls, in one table",
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    cal.add_argument("--trace", default=None,
                     help=f"comma-separated traces (default {DEFAULT_TRACES}; with --real: "
                     "those of the run)")
    cal.add_argument("--controllers", default=None,
                     help=f"comma-separated (default {DEFAULT_CONTROLLERS}; with --real: those "
                     "of the run the simulator models, chrome left out)")
    cal.add_argument("--repeat", type=int, default=3,
                     help="real calls per trace and controller; the real figure is their median")
    cal.add_argument("--duration", type=parse_duration, default=60.0, metavar="S|full",
                     help="seconds per call (default 60)")
    cal.add_argument("--delay-ms", type=float, default=20.0, help="one-way delay, each way")
    cal.add_argument("--source", default="testpattern", metavar="testpattern|clip:NAME")
    cal.add_argument("--out", type=Path, default=None,
                     help="folder for the real calls and the table (default with --real: that "
                     "folder)")
    cal.add_argument("--sim-seeds", type=int, default=SIM_SEEDS, metavar="N",
                     help=f"simulations per real call, with seeds S, S+{SEED_STRIDE}, ... "
                     f"(default {SIM_SEEDS}); the simulator's figure is the median of all")
    cal.add_argument("--real", type=Path, default=None, metavar="DIR",
                     help="reuse the real calls of an earlier `experiments run` or calibrate "
                     "(their delay, duration and source are used; only the simulator runs)")
    cal.set_defaults(handler=calibrate_command)


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


def trace_folders(run_dir: Path) -> list[Path]:
    """The folders of a run that hold a settings.json: the run itself (one trace) or one per
    trace (a sweep)."""
    if (run_dir / "settings.json").is_file():
        return [run_dir]
    return sorted(p.parent for p in run_dir.glob("*/settings.json"))


def window_offset_ms(call_dir: Path, summary: dict[str, Any]) -> float | None:
    """Trace time (ms) of the media link at the start of the call's window (the receiver's
    summary `start_s`), from netem's log; None when the logs do not say."""
    start_s = summary.get("start_s")
    netem_log, receiver_log = call_dir / "netem.jsonl", call_dir / "receiver.jsonl"
    if not isinstance(start_s, int | float) or not netem_log.is_file():
        return None
    connected = None
    if receiver_log.is_file():
        connected = next((r.get("at") for r in read_jsonl(receiver_log)
                          if r.get("event") == "connected"), None)
    zero_s = trace_zero_wall_s(records(netem_log),
                               connected if isinstance(connected, int | float) else None)
    return None if zero_s is None else (start_s - zero_s) * 1000.0


def read_run(folder: Path) -> RealRun:
    """The finished calls of one trace folder of a run (failed calls are left out)."""
    try:
        settings = json.loads((folder / "settings.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CalibrationError(f"{folder}/settings.json: {exc}; give the --out folder of "
                               "`experiments run` or calibrate") from exc
    calls = []
    for result_file in sorted(folder.glob("*/result.json")):
        try:
            result = json.loads(result_file.read_text(encoding="utf-8"))
            spec = json.loads((result_file.parent / "spec.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a call that did not get as far as writing its result
        summary = result.get("summary")
        if result.get("status") != "ok" or not isinstance(summary, dict):
            continue
        seed = spec.get("link", {}).get("seed", settings.get("seed", 0))
        calls.append(RealCall(settings["trace"], result["controller"], summary, int(seed),
                              window_offset_ms(result_file.parent, summary),
                              result.get("media_trace"), result_file.parent))
    return RealRun(settings, calls)


def read_runs(run_dir: Path) -> list[RealRun]:
    folders = trace_folders(run_dir)
    if not folders:
        raise CalibrationError(f"{run_dir}: no settings.json in it or its subfolders; give the "
                               "--out folder of `experiments run` or calibrate")
    return [read_run(folder) for folder in folders]


def simulate_call(settings: dict[str, Any], call: RealCall, seed: int) -> dict[str, Any]:
    """The simulator's summary (experiments.sim.output's JSON) of one real call's settings
    and window, with `seed`."""
    from experiments.sim.call import trace_directions
    from experiments.sim.output import sim_output
    from experiments.sim.settings import SimSettings, sim_config, timed_simulate
    from ratecontrol.controllers import make_controller

    media, feedback = trace_directions(settings["trace"])
    queue = settings.get("queue_packets")
    run = SimSettings(
        controller=call.controller, duration_s=float(settings["duration_s"]),
        delay_ms=float(settings["delay_ms"]), loss=float(settings.get("loss") or 0.0),
        queue_packets=int(queue) if isinstance(queue, int) else None,  # netem's: unlimited
        seed=seed, source=settings.get("source", "testpattern"),
        trace_offset_ms=max(0.0, call.trace_offset_ms or 0.0))
    result, wall_s = timed_simulate(sim_config(run, media, feedback),
                                    make_controller(call.controller))
    return sim_output(result, settings["trace"], wall_s)


def _write_sim(path: Path, out: dict[str, Any]) -> None:
    # A read-only earlier run: the table still has the figures.
    with contextlib.suppress(OSError):
        path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


def calibrate(runs: list[RealRun], traces: list[str] | None, controllers: list[str] | None,
              progress: Any = None, sim_seeds: int = SIM_SEEDS) -> dict[str, Any]:
    """Simulate every real call of `runs` `sim_seeds` times (only the traces and controllers
    named, when named; else every controller of the run the simulator can model) and build
    the table."""
    pairs = []
    sim_wall = []
    notes = []
    if controllers is not None:
        _check_simulable(controllers)
    left_out: dict[str, None] = {}  # controllers of the run without a model, in run order
    for run in runs:
        trace = run.settings["trace"]
        if traces is not None and trace not in traces:
            continue
        names = controllers
        if names is None:
            in_run = list(dict.fromkeys(c.controller for c in run.calls))
            names = [c for c in in_run if has_model(c)]
            left_out.update(dict.fromkeys(c for c in in_run if c not in names))
        for controller in names:
            calls = [c for c in run.calls if c.controller == controller]
            if not calls:
                notes.append(f"{trace} {controller}: no finished real call in the run")
                continue
            sims = []
            for call in calls:
                for k in range(sim_seeds):
                    out = simulate_call(run.settings, call, call.seed + SEED_STRIDE * k)
                    _write_sim(call.folder / (f"sim-{k}.json" if k else "sim.json"), out)
                    sim_wall.append(out["sim_wall_s"])
                    sims.append(out)
                if call.media_trace and call.media_trace != out["settings"]["media_trace"]:
                    notes.append(f"{trace} {controller}: the real media crossed "
                                 f"{call.media_trace}, the simulation's "
                                 f"{out['settings']['media_trace']}")
                if call.trace_offset_ms is not None and call.trace_offset_ms < 0:
                    notes.append(f"{trace} {controller}: a real window starts "
                                 f"{-call.trace_offset_ms:.0f} ms before the trace; "
                                 "simulated from trace time 0")
                if progress is not None:
                    walls = sim_wall[-sim_seeds:]
                    progress(f"simulated {trace} {controller} (seeds {call.seed} and "
                             f"{sim_seeds - 1} more) in {sum(walls):.1f} s")
            pairs.append(Pair(trace, controller, [c.summary for c in calls], sims,
                              [c.trace_offset_ms for c in calls]))
    if left_out:
        notes.append(f"left out {', '.join(left_out)}: no model in the simulator (real calls "
                     "only)")
    if not pairs:
        only = f" (the simulator has no model of {', '.join(left_out)})" if left_out else ""
        raise CalibrationError("no finished real call matches the traces and controllers "
                               f"given{only}")
    first = runs[0].settings
    settings = {k: first.get(k) for k in ("duration_s", "delay_ms", "source", "loss",
                                          "queue_packets")}
    settings["repeat"] = max(len(p.real) for p in pairs)
    settings["sim_seeds"] = sim_seeds
    calibration = table(pairs, settings)
    calibration["sim_wall_s_median"] = round(statistics.median(sim_wall), 2) if sim_wall else None
    calibration["notes"] = notes
    return calibration


def has_model(controller: str) -> bool:
    """Whether the simulator can run `controller` (chrome, a browser's own sender, it cannot)."""
    from ratecontrol.controllers import make_controller

    try:
        make_controller(controller)
    except ValueError:
        return False
    return True


def _check_simulable(controllers: list[str], source: str | None = None) -> None:
    """Refuse, before any simulation (or real call), a controller (e.g. chrome) or a source
    the simulator cannot run."""
    from experiments.sim.content import content_profile

    if source is not None:
        content_profile(source)  # ValueError: no fitted profile for it, and how to fit one
    for controller in controllers:
        if not has_model(controller):
            raise CalibrationError(f"the simulator cannot run {controller!r} (no model); "
                                   "calibrate ours, gcc, aiortc or fixed:BPS")


def _run_real(args: argparse.Namespace, out: Path) -> None:
    plan_args = argparse.Namespace(
        trace=args.trace or DEFAULT_TRACES, controllers=args.controllers or DEFAULT_CONTROLLERS,
        duration=args.duration, source=args.source, out=out, delay_ms=args.delay_ms, loss=0.0,
        queue_packets=None, repeat=args.repeat, jobs=1, seed=0, cluster=None,
        # what the simulator models: our receiver, video only, playout delay as by default
        receiver="python", audio="none", no_playout_delay=False)
    plan = sweep.parse_plan(plan_args)
    _check_simulable(plan.controllers, plan.source)
    sweep.run_plan(plan)


def calibrate_command(args: argparse.Namespace) -> int:
    out = args.out or args.real
    if out is None:
        print("error: give --out DIR for the real calls and the table, or --real DIR to reuse "
              "an earlier run", file=sys.stderr)
        return 2
    if args.sim_seeds < 1:  # before any real call
        print(f"error: --sim-seeds {args.sim_seeds}: give 1 or more simulations per real call",
              file=sys.stderr)
        return 2
    traces, controllers = _names(args.trace), _names(args.controllers)
    try:
        if args.real is None:
            _run_real(args, out)
            traces = traces or _names(DEFAULT_TRACES)
            controllers = controllers or _names(DEFAULT_CONTROLLERS)
        runs = read_runs(args.real or out)
        calibration = calibrate(runs, traces, controllers,
                                progress=lambda line: print(line, file=sys.stderr),
                                sim_seeds=args.sim_seeds)
    except (CalibrationError, TraceError, SourceError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    calibration["settings"]["real"] = str(args.real or out)
    text = format_table(calibration)
    if calibration["notes"]:
        text += "\n" + "\n".join(f"note: {n}" for n in calibration["notes"])
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "calibration.json").write_text(json.dumps(calibration, indent=1) + "\n",
                                              encoding="utf-8")
        (out / "calibration.txt").write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        print(f"error: cannot write the table: {exc}", file=sys.stderr)
        return 1
    print(text)
    return 0
