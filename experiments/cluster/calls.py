"""Real calls as Dask tasks: `python -m experiments run ... --cluster tcp://HOST:8786`.

Each call is one task that needs the `call` resource; every worker declares `call=1` (`dask
worker ADDR --resources call=1`), so no worker ever runs two calls at once, whatever its thread
count. No shared filesystem is assumed: the trace goes to the worker with the task, the call
runs in a temporary folder there, and its files (logs, JSONL, result.json) come back as bytes
and are written into the call's folder under --out on the submitting machine. The worker runs
the call with the code of the folder it was started from (see the README).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from distributed import get_worker

from experiments.cluster.client import CALL_RESOURCE, run_tasks
from experiments.run import CallSpec, run_call
from netem.trace import Trace, write_trace
from netem.traces import resolve_trace_pair

Files = dict[str, bytes]  # path inside the call's folder -> content


def call_task(spec: CallSpec, up: Trace, down: Trace | None) -> tuple[dict[str, Any], Files]:
    """Run one call on this worker; its result and every file it left (down None: one trace
    both ways)."""
    with tempfile.TemporaryDirectory(prefix="rtvc-call-") as tmp:
        here = Path(tmp)
        trace = _write_traces(here / "traces", spec.link.trace, up, down)
        folder = here / "call"
        started_at = time.time()
        result = run_call(replace(spec, link=replace(spec.link, trace=trace)), folder)
        result = {**result, "worker": get_worker().address, "started_at": started_at}
        (folder / "result.json").write_text(json.dumps(result, indent=1))
        # The spec as submitted: the trace's name, not the worker's temporary copy.
        (folder / "spec.json").write_text(json.dumps(asdict(spec), indent=1))
        files = {p.relative_to(folder).as_posix(): p.read_bytes()
                 for p in sorted(folder.rglob("*")) if p.is_file()}
    return result, files


def _write_traces(folder: Path, name: str, up: Trace, down: Trace | None) -> str:
    """Write the trace (pair) where netem finds it; the name to give it."""
    folder.mkdir(parents=True)
    base = folder / (Path(name).name or "trace")
    if down is None:
        write_trace(up, base)
    else:
        write_trace(up, base.with_name(base.name + ".up"))
        write_trace(down, base.with_name(base.name + ".down"))
    return str(base)


def write_files(folder: Path, files: Files) -> None:
    for relative, content in files.items():
        path = folder / relative
        if folder.resolve() not in path.resolve().parents:
            raise ValueError(f"a call returned a file outside its folder: {relative!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def check_workers(client: Any) -> None:
    """ValueError unless some worker can take a call (declares the `call` resource)."""
    workers = client.scheduler_info().get("workers", {})
    if not any(w.get("resources", {}).get("call", 0) >= 1 for w in workers.values()):
        raise ValueError(f"no worker of this scheduler declares call=1 ({len(workers)} "
                         "workers); start them with `dask worker ADDR --resources call=1`")


def run_calls(client: Any, calls: Sequence[tuple[CallSpec, Path]],
              on_result: Callable[[dict[str, Any]], None]) -> None:
    """Run every (spec, folder) as a task; write its files and report its result as it ends.

    A call whose task failed twice (or whose worker died twice) is reported as failed, with
    the error as its reason, and the others go on.
    """
    check_workers(client)
    traces: dict[str, Any] = {}
    for spec, _ in calls:
        if spec.link.trace not in traces:
            up, down = resolve_trace_pair(spec.link.trace)
            pair = [up] if up is down else [up, down]
            futures = client.scatter(pair, broadcast=True)
            traces[spec.link.trace] = [*futures, None] if up is down else futures
    by_key = {folder.as_posix(): (spec, folder) for spec, folder in calls}

    def done(key: str, value: Any, error: str | None) -> None:
        spec, folder = by_key[key]
        folder.mkdir(parents=True, exist_ok=True)
        if error is None:
            result, files = value
            write_files(folder, files)
        else:
            result = {"controller": spec.controller, "label": spec.label, "status": "failed",
                      "reason": f"on the cluster: {error}", "summary": None}
            (folder / "result.json").write_text(json.dumps(result, indent=1))
        on_result(result)

    tasks = {key: (spec, *traces[spec.link.trace]) for key, (spec, _) in by_key.items()}
    run_tasks(client, call_task, tasks, done, resources=CALL_RESOURCE)
