"""A two-peer call on this machine: the signaling server and two `python -m peer` processes,
each sending the test pattern and measuring what it receives. Used by the demo and the tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.jsonl import read_jsonl
from experiments.processes import child_env, python_command, running, start_signaling
from peer.metrics import CallSummary, describe_summary

STARTUP_SLACK_S = 40.0  # connection set-up and teardown on a loaded 2-core machine


@dataclass(frozen=True)
class PeerOutcome:
    name: str
    exit_code: int
    summary: dict[str, Any] | None  # the receiver's whole summary line (call facts included)
    metrics_path: Path
    stderr: str

    @property
    def call_summary(self) -> CallSummary | None:
        """The measurements of the summary line, typed."""
        return None if self.summary is None else CallSummary.from_json(self.summary)


def read_summary(metrics_path: Path) -> dict[str, Any] | None:
    """The last summary line of a metrics file, or None if the call never wrote one. The
    line holds the call's facts (ok, ended, sent, ...) beside the measurements; read those
    with `read_call_summary`."""
    summaries = [r for r in read_jsonl(metrics_path) if r.get("type") == "summary"]
    return summaries[-1] if summaries else None


def read_call_summary(metrics_path: Path) -> CallSummary | None:
    """The measurements of the last summary line of a metrics file, typed."""
    line = read_summary(metrics_path)
    return None if line is None else CallSummary.from_json(line)


def run_local_call(out_dir: Path, duration_s: float = 10.0,
                   extra_args: tuple[str, ...] = ("--host-candidates", "loopback")
                   ) -> list[PeerOutcome]:
    """Run one call between two peers; returns what each peer measured of the other."""
    out_dir.mkdir(parents=True, exist_ok=True)
    signaling = start_signaling()
    room = f"local-{uuid.uuid4().hex[:8]}"
    processes = []
    with running(signaling):
        for name in ("a", "b"):
            metrics = out_dir / f"peer-{name}.jsonl"
            command = python_command(
                "peer", "--signaling", signaling.address, "--room", room,
                "--duration", str(duration_s), "--metrics", str(metrics), *extra_args)
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True, env=child_env())
            processes.append((name, process, metrics))
        outcomes = []
        for name, process, metrics in processes:
            try:
                output, _ = process.communicate(timeout=duration_s + STARTUP_SLACK_S)
            except subprocess.TimeoutExpired:
                process.terminate()
                output, _ = process.communicate(timeout=10)
            outcomes.append(PeerOutcome(name, process.returncode, read_summary(metrics),
                                        metrics, output))
    return outcomes


def main(argv: list[str] | None = None) -> int:
    """python -m experiments.local_call: one local call; prints each peer's summary as JSON."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m experiments.local_call")
    parser.add_argument("--out", type=Path, required=True, help="folder for the metrics files")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--host-candidates", default="loopback",
                        choices=["auto", "loopback", "all"])
    parser.add_argument("--json", action="store_true", help="print each summary as JSON")
    args = parser.parse_args(argv)
    print(f"a {args.duration:g} s call between two local peers ...", file=sys.stderr)
    outcomes = run_local_call(args.out, args.duration,
                              ("--host-candidates", args.host_candidates))
    for outcome in outcomes:
        if args.json:
            print(json.dumps({"peer": outcome.name, "exit_code": outcome.exit_code,
                              "summary": outcome.summary}))
        else:
            print(describe(outcome))
    if not args.json:
        print(f"per-frame metrics: {args.out}/peer-a.jsonl, {args.out}/peer-b.jsonl")
    return 0 if all(o.exit_code == 0 for o in outcomes) else 1


def describe(outcome: PeerOutcome) -> str:
    summary = outcome.call_summary
    if summary is None or outcome.exit_code != 0:
        last = outcome.stderr.strip().splitlines()[-1:] or ["no output"]
        return f"peer {outcome.name}: call failed: {last[0]}"
    return f"peer {outcome.name} received: {describe_summary(summary)}"


if __name__ == "__main__":
    raise SystemExit(main())
