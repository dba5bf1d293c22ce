"""experiments.cluster.client and the simulator sweep on a LocalCluster of two worker processes."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import Client

from experiments.cluster.client import CALL_RESOURCE, open_client, run_tasks
from experiments.sim.call import SimConfig, simulate, trace_directions
from experiments.sim.sweep import Grid, SimRun, run_grid, run_one
from ratecontrol.controllers import make_controller


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with open_client(None, workers=2) as client:
        yield client


def _without_wall(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "sim_wall_s"}


def test_a_sweep_on_the_cluster_equals_the_same_runs_made_locally(
        client: Client, tmp_path: Path) -> None:
    grid = Grid(["cellular"], ["ours", "gcc"], [0, 1], duration_s=8.0, loss=0.02)
    runs = grid.runs()
    assert run_grid(client, runs, tmp_path) == {"ok": 4, "failed": 0}
    media, feedback = trace_directions("cellular")
    for run in runs:
        remote = json.loads((tmp_path / run.relpath()).read_text())
        assert _without_wall(remote) == _without_wall(run_one(run, media, feedback))
        # ... and run_one is `experiments sim`'s call: the same summary from simulate itself.
        plain = simulate(SimConfig(media, feedback, run.controller, 8.0, loss=0.02,
                                   seed=run.seed), make_controller(run.controller))
        assert remote["frames_shown"] == plain.summary.frames_shown
        assert remote["delay_ms_p95"] == round(plain.summary.delay_ms_p95, 3)  # type: ignore[arg-type]
    seeds = {json.dumps(_without_wall(json.loads((tmp_path / r.relpath()).read_text())))
             for r in runs}
    assert len(seeds) == 4  # the loss draws differ by seed: the seeds did reach the runs


def test_a_run_that_fails_twice_is_reported_failed_and_the_sweep_completes(
        client: Client, tmp_path: Path) -> None:
    good = SimRun("cellular", "ours", 0, duration_s=2.0)
    bad = SimRun("cellular", "ours", 0, (("coupler.no_such_field", "1"),), duration_s=2.0)
    seen: list[tuple[SimRun, str | None]] = []
    counts = run_grid(client, [good, bad], tmp_path, lambda r, e: seen.append((r, e)))
    assert counts == {"ok": 1, "failed": 1}
    assert (tmp_path / good.relpath()).is_file() and not (tmp_path / bad.relpath()).exists()
    failed = json.loads((tmp_path / bad.relpath()).with_name("seed-0.failed.json").read_text())
    assert "coupler.no_such_field" in failed["error"] and "valid:" in failed["error"]
    assert sorted(e is None for _, e in seen) == [False, True]


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_task_whose_worker_dies_twice_is_reported_once_as_failed(client: Client) -> None:
    outcomes: list[tuple[str, Any, str | None]] = []
    run_tasks(client, _die, {"doomed": ()}, lambda *o: outcomes.append(o))
    assert len(outcomes) == 1
    key, value, error = outcomes[0]
    assert key == "doomed" and value is None and error is not None and "KilledWorker" in error
    client.wait_for_workers(2, timeout=60)  # the nannies bring the workers back


def test_a_worker_killed_during_a_call_has_the_call_retried(
        client: Client, tmp_path: Path) -> None:
    runs = [SimRun("cellular", "ours", seed, duration_s=240.0) for seed in (0, 1)]
    seen: list[tuple[SimRun, str | None]] = []
    counts: dict[str, int] = {}
    sweep = threading.Thread(target=lambda: counts.update(
        run_grid(client, runs, tmp_path, lambda r, e: seen.append((r, e)))))
    sweep.start()
    killed = None
    deadline = time.monotonic() + 60
    while killed is None and time.monotonic() < deadline:
        busy = [(w, keys[0]) for w, keys in client.processing().items() if keys]
        if busy:
            worker, key = busy[0]
            pid = client.run(os.getpid, workers=[worker])[worker]
            time.sleep(0.5)  # well inside the call (a few seconds of work)
            os.kill(pid, signal.SIGKILL)
            killed = next(r for r in runs if str(key).endswith(r.relpath().as_posix()))
        time.sleep(0.05)
    sweep.join(timeout=180)
    assert killed is not None and not sweep.is_alive()
    assert counts == {"ok": 2, "failed": 0}
    assert sorted(r.seed for r, e in seen if e is None) == [0, 1]  # each reported once
    media, feedback = trace_directions("cellular")
    remote = json.loads((tmp_path / killed.relpath()).read_text())
    # The re-run gave what a run on this machine gives.
    assert _without_wall(remote) == _without_wall(run_one(killed, media, feedback))
    client.wait_for_workers(2, timeout=60)


def _hold(seconds: float) -> tuple[float, float]:
    started = time.time()
    time.sleep(seconds)
    return started, time.time()


def test_a_worker_never_holds_two_calls_at_once() -> None:
    # One worker process with two threads: only the call=1 resource keeps the calls apart.
    with open_client(None, workers=1, resources={"call": 1}, threads=2) as client:
        spans: list[tuple[float, float]] = []
        run_tasks(client, _hold, {"a": (0.5,), "b": (0.5,)},
                  lambda _k, v, _e: spans.append(v), resources=CALL_RESOURCE)
    first, second = sorted(spans)
    assert first[1] <= second[0]
