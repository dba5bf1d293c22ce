"""tools.bench_cluster on a tiny sweep: it runs, and the cluster's results equal the local ones."""

from __future__ import annotations

import pytest

from tools.bench_cluster import main


def test_a_tiny_benchmark_reports_identical_results(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--runs", "2", "--duration", "2", "--tasks", "5"]) == 0
    out = capsys.readouterr().out
    assert "overhead per task (5 trivial tasks" in out and "results identical: True" in out
