"""Real calls through a LocalCluster of two worker processes (experiments.cluster.calls)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from experiments.cluster.calls import check_workers, run_calls, write_files
from experiments.cluster.client import open_client
from experiments.link_spec import LinkSpec
from experiments.run import CallSpec


@pytest.mark.slow
def test_two_real_calls_run_through_the_cluster(tmp_path: Path) -> None:
    calls = [(CallSpec(controller, LinkSpec("cellular"), 5.0, controller), tmp_path / controller)
             for controller in ("ours", "fixed:400k")]
    results: list[dict[str, Any]] = []
    with open_client(None, workers=2, resources={"call": 1}) as client:
        run_calls(client, calls, results.append)
    assert sorted(r["label"] for r in results) == ["fixed:400k", "ours"]
    for result in results:
        assert result["status"] == "ok", result["reason"]
        assert result["summary"]["frames_shown"] > 30
    for _, folder in calls:
        names = {p.name for p in folder.iterdir()}
        assert {"receiver.jsonl", "sender.jsonl", "netem.jsonl", "result.json"} <= names
        spec = json.loads((folder / "spec.json").read_text())
        assert spec["link"]["trace"] == "cellular"  # the name given, not the worker's copy


def test_a_cluster_without_the_call_resource_is_refused() -> None:
    with open_client(None, workers=1) as client, \
            pytest.raises(ValueError, match=r"--resources call=1"):
        check_workers(client)


def test_returned_files_stay_inside_the_call_folder(tmp_path: Path) -> None:
    write_files(tmp_path, {"a/b.txt": b"x"})
    assert (tmp_path / "a" / "b.txt").read_bytes() == b"x"
    with pytest.raises(ValueError, match="outside its folder"):
        write_files(tmp_path / "call", {"../escape": b"x"})
