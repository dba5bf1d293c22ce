"""Dask plumbing: a client on a scheduler or on a LocalCluster, and tasks run to completion.

`open_client(None)` starts a `LocalCluster` of worker processes over this machine's cores (one
thread each: a simulated call is pure Python and holds the GIL); `open_client("tcp://H:8786")`
joins a scheduler started with `dask scheduler` (see the README). `run_tasks` submits one task
per key with `retries=1`, hands every outcome to a callback as it finishes (so a caller can
write it at once and Ctrl-C loses nothing finished), and never raises for a failed task: a
task that failed twice, or whose worker died twice, comes back as an error string.

A worker that dies mid-task makes the scheduler run the task again elsewhere; the
scheduler's `allowed-failures` says how often. Our LocalCluster sets it to 1 (one retry, as
for an exception); a scheduler started from the command line gets it from
DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=1 (the README says so).
"""

from __future__ import annotations

import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import dask
from distributed import Client, Future, LocalCluster, as_completed

ALLOWED_FAILURES = 1  # deaths of a task's worker before the task is reported as failed
RETRIES = 1  # re-runs of a task that raised
CONNECT_TIMEOUT_S = 10.0
CALL_RESOURCE = {"call": 1}  # a real call holds a worker's whole `call=1`

Outcome = Callable[[str, Any, str | None], None]  # (key, value or None, error or None)


@contextmanager
def open_client(address: str | None = None, workers: int | None = None,
                resources: Mapping[str, float] | None = None,
                threads: int = 1) -> Iterator[Client]:
    """A client on `address`, or on a LocalCluster of `workers` processes (default: cores)
    of `threads` threads each, every one declaring `resources`."""
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        if address:
            try:
                client = Client(address, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError) as exc:
                raise ConnectionError(f"no Dask scheduler at {address} ({exc}); start one with "
                                      "`dask scheduler` (see the README)") from None
            with client:
                check_code(client)
                yield client
            return
        n = workers or os.cpu_count() or 1
        with _sigint_ignored():  # the worker processes inherit it: Ctrl-C is the submitter's
            cluster = LocalCluster(n_workers=n, threads_per_worker=threads, processes=True,
                                   dashboard_address=":0", resources=dict(resources or {}))
        with cluster, Client(cluster) as client:
            yield client


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _project_root() -> str:
    import experiments

    return os.path.dirname(os.path.dirname(os.path.abspath(experiments.__file__)))


def check_code(client: Client) -> None:
    """ValueError naming the workers that cannot import this repository's code."""
    roots = client.run(_project_root, on_error="return")
    missing = sorted(w for w, root in roots.items() if not isinstance(root, str))
    if missing:
        raise ValueError(f"workers {', '.join(missing)} cannot import the repository's code: "
                         "start them from the repository folder with PYTHONPATH=$PWD "
                         "(see the README)")


def run_tasks(client: Client, fn: Callable[..., Any], tasks: Mapping[str, Sequence[Any]],
              on_outcome: Outcome, resources: Mapping[str, float] | None = None) -> None:
    """Run `fn(*args)` for every key's args; call `on_outcome` as each one ends.

    Ctrl-C cancels what has not finished and re-raises; outcomes already handed over stay.
    """
    run_id = uuid.uuid4().hex[:8]  # keys stay unique on a scheduler that outlives one sweep
    futures: dict[Future, str] = {}
    for key, args in tasks.items():
        future = client.submit(fn, *args, key=f"{fn.__name__}-{run_id}-{key}", pure=False,
                               retries=RETRIES, resources=dict(resources) if resources else None)
        futures[future] = key
    try:
        for future in as_completed(futures):
            key = futures[future]
            try:
                value = future.result()
            except Exception as exc:
                on_outcome(key, None, f"{type(exc).__name__}: {exc}".strip())
            else:
                on_outcome(key, value, None)
            future.release()
    except KeyboardInterrupt:
        client.cancel(list(futures), force=True)
        raise
