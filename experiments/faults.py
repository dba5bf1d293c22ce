"""Faults on the media path, each in a real call through netem: what the call lost and how
fast it came back.

    python -m experiments.faults [--faults NAME,...] [--out DIR]

runs `ours` (sender) to our Python receiver, both on relayed candidates, one call per fault,
and prints a table: recovery time (fault over -> first frame captured after it shown), frames
lost, and each fault's own figures (floor rate, rate recovery, consent and restart, PLI and
keyframe, NACK/RTX repair). The tests in tests/experiments/test_faults.py run the same calls
and assert the targets.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.fault_analysis import FaultCost, FaultWindow, measure
from experiments.jsonl import read_jsonl
from experiments.link_spec import LinkSpec
from experiments.local_call import read_summary
from experiments.netem_log import trace_zero_wall_s
from experiments.run import CallSpec, run_call
from netem.traces import OUTAGE_AT_S
from ratecontrol.types import RateBounds

CONTROLLER = "ours"
STEADY_RATE = "const-2mbps"
AFTER_FAULT_S = 15.0  # long enough to see the rate come back (the target is within 10 s)
BURST_AT_S = 10.0
BURST_PACKETS = 20


@dataclass(frozen=True)
class Fault:
    name: str
    what: str
    link: LinkSpec
    start_s: float  # trace time the fault begins
    length_s: float  # 0 for a burst
    receiver_args: tuple[str, ...] = ()
    duration_s: float = 0.0  # 0: until AFTER_FAULT_S after the fault

    @property
    def whole_call(self) -> bool:
        """Loss, reordering: the fault lasts the whole call, so nothing recovers "after" it."""
        return self.start_s == 0.0 and self.length_s == 0.0

    @property
    def call_s(self) -> float:
        return self.duration_s or self.start_s + self.length_s + AFTER_FAULT_S


def _outage(seconds: int) -> Fault:
    return Fault(f"outage-{seconds}s", f"link down both ways for {seconds} s",
                 LinkSpec(f"outage-{seconds}s"), OUTAGE_AT_S, float(seconds))


def _burst(nack: bool) -> Fault:
    return Fault("burst-20" if nack else "burst-20-no-nack",
                 f"{BURST_PACKETS} media packets lost in a row"
                 + ("" if nack else ", receiver sends no NACK"),
                 LinkSpec(STEADY_RATE, burst_loss=((BURST_AT_S, BURST_PACKETS),)),
                 BURST_AT_S, 0.0, () if nack else ("--no-nack",))


FAULTS: dict[str, Fault] = {f.name: f for f in (
    _outage(5), _outage(10), _outage(35),
    Fault("loss-2pct", "2 % random loss each way, 50 ms round trip",
          LinkSpec(STEADY_RATE, delay_ms=25.0, loss=0.02), 0.0, 0.0, duration_s=30.0),
    _burst(nack=True), _burst(nack=False),
    Fault("reorder-dup", "5 % of packets reordered and 5 % duplicated",
          LinkSpec(STEADY_RATE, reorder=0.05, duplicate=0.05), 0.0, 0.0, duration_s=20.0),
)}


@dataclass(frozen=True)
class FaultRun:
    fault: Fault
    status: str
    reason: str
    cost: FaultCost | None
    summary: dict[str, Any] | None  # the receiver's


def run_fault(fault: Fault, folder: Path) -> FaultRun:
    spec = CallSpec(CONTROLLER, fault.link, fault.call_s, fault.name, fault.receiver_args)
    result = run_call(spec, folder)
    return analyze(fault, folder, result["status"], result["reason"])


def analyze(fault: Fault, folder: Path, status: str = "ok", reason: str = "") -> FaultRun:
    """The cost of `fault` in the call whose logs are in `folder`."""
    receiver = read_jsonl(folder / "receiver.jsonl")
    sender = read_jsonl(folder / "sender.jsonl")
    summary = read_summary(folder / "receiver.jsonl")
    connected = [r["at"] for r in receiver if r.get("event") == "connected"]
    zero = trace_zero_wall_s(read_jsonl(folder / "netem.jsonl"),
                             connected[0] if connected else None)
    if zero is None:
        return FaultRun(fault, "failed", "the netem log has no link start", None, summary)
    window = FaultWindow(zero + fault.start_s, zero + fault.start_s + fault.length_s)
    cost = measure(window, receiver, sender, floor_kbps=RateBounds().min_bps / 1000)
    return FaultRun(fault, status, reason, cost, summary)


def _cell(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def table(runs: list[FaultRun]) -> str:
    head = ("fault", "recovery s", "frames lost", "stale (s)", "floor s", "rate back s",
            "path lost s", "restart s", "PLIs", "keyframe s", "NACK repaired", "decode err")
    rows: list[tuple[str, ...]] = [head]
    for run in runs:
        cost, summary = run.cost, run.summary or {}
        missing = summary.get("packets_missing") or 0
        repaired = (f"{summary.get('packets_recovered', 0)}/{missing}"
                    f" ({100 * summary.get('packets_recovered', 0) / missing:.0f} %)"
                    if missing else "-")
        if cost is None:
            rows.append((run.fault.name, f"{run.status}: {run.reason}", *[""] * 10))
            continue
        if run.fault.whole_call:  # frames lost: those the receiver gave up on
            rows.append((run.fault.name, "-", _cell(summary.get("frames_abandoned")),
                         *["-"] * 5, _cell(summary.get("keyframe_requests")), "-", repaired,
                         _cell(summary.get("decode_errors"))))
            continue
        rows.append((run.fault.name, _cell(cost.recovery_s, 2), _cell(cost.frames_lost),
                     f"{cost.stale_frames} ({_cell(cost.stale_until_s, 2)})",
                     _cell(cost.floor_s), _cell(cost.rate_back_s),
                     _cell(cost.connection_lost_s), _cell(cost.restarted_s),
                     _cell(cost.keyframe_requests), _cell(cost.keyframe_s, 2), repaired,
                     _cell(summary.get("decode_errors"))))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(head))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True))
                     for row in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.faults", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faults", default=",".join(FAULTS),
                        help=f"comma-separated, from: {', '.join(FAULTS)} (default: all)")
    parser.add_argument("--out", type=Path, default=Path("runs/faults"))
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.faults.split(",") if n.strip()]
    unknown = [n for n in names if n not in FAULTS]
    if unknown or not names:
        parser.error(f"--faults: unknown {', '.join(unknown) or '(none given)'}; "
                     f"choose from {', '.join(FAULTS)}")
    runs: list[FaultRun] = []
    try:
        for name in names:
            fault = FAULTS[name]
            print(f"faults: {name} ({fault.what}), a {fault.call_s:.0f} s call ...",
                  file=sys.stderr, flush=True)
            runs.append(run_fault(fault, args.out / name))
    except KeyboardInterrupt:
        print("faults: interrupted; what finished:", file=sys.stderr)
    print(table(runs))
    print(f"logs in {args.out}/")
    return 0 if runs and all(r.status == "ok" for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
