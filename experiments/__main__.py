"""`python -m experiments SUBCOMMAND ...`: calls over emulated links.

    sim        one call in virtual time with the encoder model (see experiments/sim/call.py)
    run        real calls through netem (experiments/sweep.py)
    calibrate  the simulator beside real calls, in one table (experiments/calibrate.py)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from experiments import calibrate, sweep
from experiments.duration import parse_duration
from experiments.link_spec import DEFAULT_DELAY_MS
from experiments.sim import sweep_cli as sim_sweep_cli
from experiments.sim.call import QUEUE_PACKETS, trace_directions
from experiments.sim.output import sim_output
from experiments.sim.settings import SimSettings, sim_config, timed_simulate
from netem.trace import TraceError
from peer.file_source import SourceError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m experiments", description="Calls over emulated links."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sim = commands.add_parser(
        "sim",
        help="one call in virtual time with an encoder model",
        description=(
            "Simulate one call in virtual time. For a trace pair (e.g. ATT-LTE-driving or "
            "ATT-LTE-driving.down) media crosses the .down file and feedback the .up file; "
            "a single trace carries both directions."
        ),
    )
    sim.add_argument("--trace", required=True, help="trace name or file (media direction)")
    sim.add_argument("--controller", default="ours", help="ours, gcc, aiortc or fixed:BPS")
    sim.add_argument("--duration", type=parse_duration, default=30.0, metavar="S|full",
                     help="call length in seconds, or full: the whole media trace (default 30)")
    sim.add_argument("--source", default="testpattern", metavar="testpattern|clip:NAME",
                     help="content modelled: its size, rate and quality per bit "
                     "(experiments/sim/content.py; default testpattern)")
    sim.add_argument("--json", required=True, type=Path, help="write the summary here")
    sim.add_argument("--delay-ms", type=float, default=DEFAULT_DELAY_MS,
                       help="one-way delay, each way (default: as experiments run)")
    sim.add_argument("--loss", type=float, default=0.0, help="random loss on the media path")
    sim.add_argument("--queue-packets", type=int, default=QUEUE_PACKETS,
                       help="drop-tail limit (default: unlimited, as netem's)")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--plot", type=Path, help="also draw rate and delay into this PNG")
    sim.set_defaults(handler=_run_sim)
    sweep.add_parser(commands)
    calibrate.add_parser(commands)
    sim_sweep_cli.add_parser(commands)
    return parser


def _run_sim(args: argparse.Namespace) -> int:
    try:
        media, feedback = trace_directions(args.trace)
    except TraceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    settings = SimSettings(controller=args.controller, duration_s=args.duration,
                           delay_ms=args.delay_ms, loss=args.loss,
                           queue_packets=args.queue_packets, seed=args.seed, source=args.source)
    try:
        config = sim_config(settings, media, feedback)
        from ratecontrol.controllers import make_controller

        controller = make_controller(args.controller)
    except (ValueError, SourceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result, elapsed_s = timed_simulate(config, controller)
    out = sim_output(result, args.trace, elapsed_s)
    try:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        if args.plot is not None:
            from experiments.sim.plot import plot_sim

            plot_sim(result, args.plot)
    except OSError as exc:
        print(f"error: cannot write output: {exc}", file=sys.stderr)
        return 1
    s = result.summary
    print(
        f"{args.controller} on {media.name}: p95 signal delay {_fmt(s.signal_delay_ms_p95)} ms "
        f"(floor {_fmt(s.signal_floor_ms_p95)}), p95 frame delay {_fmt(s.delay_ms_p95)} ms "
        f"(oracle {_fmt(s.oracle_delay_ms_p95)}), frozen {_fmt(s.freeze_ms_total)} ms, "
        f"goodput {_fmt(s.goodput_kbps)} of {_fmt(s.capacity_kbps)} kbit/s, "
        f"SSIM {_fmt(s.ssim_db_mean, 1)} dB, "
        f"{config.duration_s:g} s of {args.source} simulated in {elapsed_s:.1f} s"
    )
    return 0


def _fmt(value: object, digits: int = 0) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:.{digits}f}"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = args.handler
    return int(handler(args))


if __name__ == "__main__":
    sys.exit(main())
